"""Minimal torchaudio stand-in for CPU-only ComfyUI tests (NOT the real torchaudio).

ComfyUI 0.33+ imports torchaudio at module level (comfy/sd.py via the LTX audio VAE, the audio
encoders, comfy_extras audio nodes) and no torchaudio build matches the CPU torch wheel. Every
name imports; using one raises NotImplementedError. No audio path is tested.
"""
from standin_missing import module_getattr

from . import functional, transforms  # noqa: F401

__version__ = "0.0.0+comfyui.test.stub"
__getattr__ = module_getattr(__name__)
