"""The judge and the preservation metrics: independent of the diffusion code.

Judge: a scikit-learn RBF support-vector classifier on the 16x16 training digits in [0, 1]
(deterministic; fitted in about a second, so it is refitted rather than shipped).
Metrics on [0, 1] images: mean absolute error (L1) and SSIM (Wang et al. 2004: Gaussian window
11x11, std 1.5, K1 = 0.01, K2 = 0.03, data range 1, valid convolution, mean over the map).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from digits_data import load_split, to_unit
from sklearn.svm import SVC


class Judge:
    """``Judge().predict(x)``: class of every image of ``x`` (``(N, 1, 16, 16)``, model range)."""

    def __init__(self):
        x, y = load_split("train")
        self.svc = SVC(C=10.0, gamma="scale").fit(_features(x), y.numpy())

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.svc.predict(_features(x))).long()

    def accuracy(self, x: torch.Tensor, labels: torch.Tensor) -> float:
        return float((self.predict(x) == labels).float().mean())


def _features(x: torch.Tensor) -> np.ndarray:
    return to_unit(x).reshape(len(x), -1).numpy().astype(np.float64)


def _gaussian_window(size: int = 11, std: float = 1.5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * std**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM of two ``(N, 1, H, W)`` batches in model range (mapped to [0, 1])."""
    a, b = to_unit(a).double(), to_unit(b).double()
    w = _gaussian_window()
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = F.conv2d(a, w), F.conv2d(b, w)
    var_a = F.conv2d(a * a, w) - mu_a**2
    var_b = F.conv2d(b * b, w) - mu_b**2
    cov = F.conv2d(a * b, w) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3)).float()


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image mean absolute difference in [0, 1] image range."""
    return (to_unit(a) - to_unit(b)).abs().mean(dim=(1, 2, 3))
