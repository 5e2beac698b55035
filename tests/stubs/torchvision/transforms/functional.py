"""Tensor-only subset of torchvision.transforms.functional."""
from enum import Enum

import torch
import torch.nn.functional as F


class InterpolationMode(Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def normalize(tensor, mean, std, inplace=False):
    mean = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device)
    std = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device)
    if mean.ndim == 1:
        mean = mean.view(-1, 1, 1)
    if std.ndim == 1:
        std = std.view(-1, 1, 1)
    if inplace:
        return tensor.sub_(mean).div_(std)
    return (tensor - mean) / std


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    if not isinstance(img, torch.Tensor):
        raise NotImplementedError("torchvision stand-in: resize supports tensors only")
    if isinstance(interpolation, str):
        interpolation = InterpolationMode(interpolation)
    h, w = img.shape[-2:]
    if isinstance(size, int) or len(size) == 1:  # match the shorter edge
        s = size if isinstance(size, int) else size[0]
        if h <= w:
            size = [s, int(s * w / h)]
        else:
            size = [int(s * h / w), s]
    mode = interpolation.value
    if mode not in ("nearest", "nearest-exact", "bilinear", "bicubic"):
        raise NotImplementedError(f"torchvision stand-in: resize mode {mode}")
    shape = img.shape
    x = img.reshape(-1, 1, h, w) if img.ndim != 4 else img
    dtype = x.dtype
    if not x.is_floating_point():
        x = x.float()
    kw = {} if mode.startswith("nearest") else {"align_corners": False, "antialias": bool(antialias)}
    x = F.interpolate(x, size=list(size), mode=mode, **kw)
    if dtype != x.dtype:
        x = x.round().to(dtype) if not dtype == torch.bool else (x > 0.5)
    return x.reshape(*shape[:-2], *size)


def rotate(*args, **kwargs):
    raise NotImplementedError("torchvision stand-in: rotate (spandrel LaMa) needs the real torchvision")
