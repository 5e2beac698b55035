"""Cycle-SDE (The Blessing of Randomness, ICLR 2024): the DDPM form of the coupled construction.

Forward: the bottom-up DDPM Markov chain ``x_t = sqrt(abar_t / abar_s) x_s + sqrt(1 - abar_t / abar_s) xi``
(in native coordinates of either family). Inversion: the recovered noise
``w_bar = (x_s - mu_src(x_t)) / sigma_t`` of every DDPM (eta = 1) step. Sampling:
``y_s = mu_tgt(y_t) + sigma_t * w_bar``. In VE coordinates ``mu`` is the posterior step
``Phi`` of :mod:`.coupled`, so this is the same machinery with the Markov-chain path and the
explicit-noise (not difference) update, accumulated in float64 by default (docs/ALGORITHMS.md
section 3.5). Both functions run under ``torch.no_grad()``.
"""

from __future__ import annotations

from typing import Optional

import torch

from ._util import Denoiser, StepCallback
from .coupled import Increments, backward_increments, reconstruct
from .path import forward_path

__all__ = ["cycle_sde_invert", "cycle_sde_sample"]


@torch.no_grad()
def cycle_sde_invert(
    x0: torch.Tensor,
    sigmas,
    family,
    denoise_src: Denoiser,
    *,
    seed: int = 0,
    callback: Optional[StepCallback] = None,
) -> Increments:
    """Cycle-SDE inversion: DDPM Markov-chain path and its recovered noise (``n`` source calls)."""
    path = forward_path(x0, sigmas, family, seed=seed, kind="markov")
    return backward_increments(path, denoise_src, solver="posterior", callback=callback)


@torch.no_grad()
def cycle_sde_sample(
    increments: Increments,
    denoise_tgt: Denoiser,
    *,
    mask: Optional[torch.Tensor] = None,
    accumulate_dtype: torch.dtype = torch.float64,
    callback: Optional[StepCallback] = None,
) -> torch.Tensor:
    """Cycle-SDE sampling ``y_s = mu_tgt(y_t) + sigma_t w_bar``; with the source condition it
    reconstructs the input (to float round-off; float64 accumulation by default)."""
    return reconstruct(increments, denoise_tgt, mask=mask, callback=callback, accumulate_dtype=accumulate_dtype)
