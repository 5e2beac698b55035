from . import functional  # noqa: F401
from .functional import InterpolationMode


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class Normalize:
    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        return functional.normalize(tensor, self.mean, self.std, self.inplace)


__all__ = ["Compose", "Normalize", "InterpolationMode", "functional"]

from standin_missing import module_getattr  # noqa: E402

__getattr__ = module_getattr(__name__)  # ToPILImage, ToTensor, ... (ComfyUI 0.33 nodes_rtdetr): unusable
