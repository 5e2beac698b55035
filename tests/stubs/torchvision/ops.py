"""torchvision.ops names ComfyUI 0.33+ imports at module level (SAM3 roi_align, BiRefNet
deform_conv2d); each raises NotImplementedError when used."""
from standin_missing import missing, module_getattr

roi_align = missing(__name__, "roi_align")
deform_conv2d = missing(__name__, "deform_conv2d")
nms = missing(__name__, "nms")
__getattr__ = module_getattr(__name__)
