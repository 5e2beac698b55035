"""Small shared helpers: working dtype, checked denoiser calls, masks and seeded noise.

Package-internal (the module is private), but shared by every sampler here: nothing in it has a
leading underscore.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

Denoiser = Callable[[torch.Tensor, float], torch.Tensor]
PairDenoiser = Callable[[torch.Tensor, torch.Tensor, float], tuple]
StepCallback = Callable[[dict], None]


def work_dtype(dtype: torch.dtype) -> torch.dtype:
    """Path and increment arithmetic runs in float32, or float64 if the input already is."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def check_latent(x0, name: str = "x0") -> torch.Tensor:
    if not isinstance(x0, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor latent, got {type(x0).__name__}")
    if not x0.is_floating_point():
        raise ValueError(f"{name}: expected a floating-point latent, got dtype {x0.dtype}")
    if x0.numel() == 0:
        raise ValueError(f"{name}: the latent is empty (shape {tuple(x0.shape)})")
    if not torch.isfinite(x0).all():
        raise ValueError(f"{name}: the latent contains NaN or inf")
    return x0


def call_denoiser(denoise: Denoiser, x: torch.Tensor, sigma: float, name: str) -> torch.Tensor:
    """Call ``denoise(x, sigma)`` and check its answer (see :func:`check_denoised`)."""
    if not callable(denoise):
        raise ValueError(f"{name}: expected a callable denoise(x, sigma) -> x0_hat, got {type(denoise).__name__}")
    return check_denoised(denoise(x, sigma), x, sigma, name)


def denoise_pair(denoise_src: Denoiser, denoise_tgt: Denoiser, denoise_both: Optional[PairDenoiser],
                 x: torch.Tensor, y: torch.Tensor, sigma: float) -> tuple:
    """One step's two checked denoiser answers: ``(D_src(x, sigma), D_tgt(y, sigma))``.

    Without ``denoise_both`` these are two single calls (:func:`call_denoiser`, errors naming
    ``denoise_src`` / ``denoise_tgt``). With it, the pair comes from one call
    ``denoise_both(x, y, sigma) -> (D_src, D_tgt)``, which lets a caller batch the two halves; it
    must return a pair, and each half is checked against its own input (:func:`check_denoised`).
    Used by the sync-SDE edit, FlowEdit and SDE-Drag (there with the same denoiser twice).
    """
    if denoise_both is None:
        return (call_denoiser(denoise_src, x, sigma, "denoise_src"),
                call_denoiser(denoise_tgt, y, sigma, "denoise_tgt"))
    pair = denoise_both(x, y, sigma)
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        raise ValueError("denoise_both: must return a pair (D_src, D_tgt)")
    return (check_denoised(pair[0], x, sigma, "denoise_both (source half)"),
            check_denoised(pair[1], y, sigma, "denoise_both (target half)"))


def check_denoised(out, x: torch.Tensor, sigma: float, name: str) -> torch.Tensor:
    """A denoiser's answer for ``x``: a finite tensor of x's shape, returned in x's dtype."""
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"{name}: must return a torch.Tensor, returned {type(out).__name__} at sigma={sigma:.6g}")
    if out.shape != x.shape:
        raise ValueError(
            f"{name}: returned shape {tuple(out.shape)} for an input of shape {tuple(x.shape)} at sigma={sigma:.6g}"
        )
    out = out.to(dtype=x.dtype, device=x.device)
    if not torch.isfinite(out).all():
        raise ValueError(f"{name}: returned NaN or inf at sigma={sigma:.6g}")
    return out


def check_mask(mask: Optional[torch.Tensor], like: torch.Tensor, name: str = "mask") -> Optional[torch.Tensor]:
    """A mask (1 = editable, 0 = keep the source) broadcastable to the latent, as the latent's dtype."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    try:
        shape = torch.broadcast_shapes(mask.shape, like.shape)
    except RuntimeError:
        shape = None
    if shape != like.shape:
        raise ValueError(
            f"{name}: shape {tuple(mask.shape)} does not broadcast to the latent's shape {tuple(like.shape)} "
            "(resize it to the latent, e.g. (B, 1, H, W) for a (B, C, H, W) latent)"
        )
    mask = mask.to(dtype=like.dtype, device=like.device)
    if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise ValueError(f"{name}: values must lie in [0, 1] (1 = editable), got range "
                         f"[{float(mask.min()):.4g}, {float(mask.max()):.4g}]")
    return mask


def apply_mask(mask: Optional[torch.Tensor], delta: torch.Tensor) -> torch.Tensor:
    """Mask a difference state: ``Y <- M Y + (1 - M) X`` is ``D <- M D`` for ``D = Y - X``."""
    return delta if mask is None else delta * mask


def seeded_normal(shape, seed: int, count: int, device, dtype) -> torch.Tensor:
    """``count`` standard normal draws of ``shape`` from a local CPU generator.

    Drawn on the CPU so that a seed gives the same bits on every device, and never from (nor
    touching) the global RNG.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed: expected an int, got {type(seed).__name__}")
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    draw_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    noise = torch.randn((count, *shape), generator=gen, dtype=draw_dtype)
    return noise.to(device=device, dtype=dtype)


def emit(callback: Optional[StepCallback], **info) -> None:
    if callback is not None:
        callback(info)
