"""scikit-learn's handwritten digits (shipped with the package, no download), split and upsampled.

1797 real 8x8 digits with values 0..16. One seeded, stratified split is shared by everything:
``train`` (1397 images) trains the diffusion models and the judge, ``test`` (400 images, 40 per
class) is never seen by either and supplies the judge's accuracy and the benchmark's sources.
Images are upsampled bilinearly to 16x16 and scaled to [-1, 1] (the models' native range);
``to_unit`` maps them back to [0, 1] for the judge and the metrics.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SIZE = 16
N_CLASSES = 10
NULL_LABEL = N_CLASSES  # the "empty prompt" for classifier-free guidance
SPLIT_SEED = 0
N_TEST = 400


def upsample(images8: torch.Tensor) -> torch.Tensor:
    """``(N, 8, 8)`` values in [0, 16] -> ``(N, 1, 16, 16)`` float32 in [-1, 1] (bilinear)."""
    x = images8.to(torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return (x * 2.0 - 1.0).clamp(-1.0, 1.0)


def load_split(split: str):
    """``(images (N, 1, 16, 16) in [-1, 1], labels (N,) int64)`` for ``split`` in {"train", "test"}."""
    d = load_digits()
    idx = np.arange(len(d.target))
    train_idx, test_idx = train_test_split(idx, test_size=N_TEST, stratify=d.target, random_state=SPLIT_SEED)
    pick = {"train": train_idx, "test": np.sort(test_idx)}[split]
    return upsample(torch.from_numpy(d.images[pick])), torch.from_numpy(d.target[pick]).long()


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Model range [-1, 1] -> image range [0, 1], clamped (what the judge and the metrics see)."""
    return ((x.to(torch.float32) + 1.0) / 2.0).clamp(0.0, 1.0)
