"""Only referenced by Stable Cascade's StageC_coder / cascade ControlNet constructors."""


def efficientnet_v2_s(*args, **kwargs):
    raise NotImplementedError(
        "torchvision stand-in: efficientnet_v2_s (Stable Cascade stage C coder / cascade "
        "ControlNet) needs the real torchvision")

from standin_missing import module_getattr  # noqa: E402

from . import optical_flow  # noqa: E402,F401

__getattr__ = module_getattr(__name__)
