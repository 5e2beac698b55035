"""Minimal torchvision stand-in for CPU-only ComfyUI tests (NOT the real torchvision).

The registry's torchvision wheels are CUDA builds whose C extension cannot load with the CPU
torch (`operator torchvision::nms does not exist`). ComfyUI (and spandrel) only need a few
pure-tensor helpers at import time; everything else raises NotImplementedError loudly.
Importers that check package metadata (transformers) still see torchvision as absent,
because this stand-in has no dist-info.
"""
__version__ = "0.0.0+comfyui.test.stub"
from . import models, ops, transforms  # noqa: E402,F401
