"""The scene benchmark's view of the demo scene model, which ships with the pack.

The network, tokenizer and weights live in ``comfyui_coupled_sde.demo`` (``demo/scene_net.py``,
``demo/weights/``) so ComfyUI can load them; the core-side denoiser is ``demo/denoiser.py``. This
module re-exports them for the benchmark and adds what only training needs.

``x = (1 - sigma) x0 + sigma eps`` (the Flux family, ``NoiseFamily.FLOW``); the network predicts
the velocity ``v = eps - x0`` and ``D(x, sigma) = x - sigma v``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from comfyui_coupled_sde.demo.denoiser import SceneDenoiser, generate, load, sigma_grid  # noqa: F401
from comfyui_coupled_sde.demo.scene_net import RECORD, WEIGHTS, SceneUNet  # noqa: F401


def training_loss(net: SceneUNet, x0: torch.Tensor, ids: torch.Tensor, gen: torch.Generator):
    """Velocity MSE at a logit-normal noise level (SD3's choice; the middle of the schedule matters most)."""
    n = len(x0)
    eps = torch.randn(x0.shape, generator=gen)
    sigma = torch.sigmoid(torch.randn(n, generator=gen, dtype=torch.float64))
    s = sigma.float()[:, None, None, None]
    pred = net((1 - s) * x0 + s * eps, 1000.0 * sigma, ids)
    return F.mse_loss(pred, eps - x0)
