"""Plain samplers and the editing baselines the coupled methods are compared against.

All on the same step coefficients and conventions as the coupled samplers (docs/ALGORITHMS.md
section 5): ``sigmas`` strictly decreasing to 0, latents in native coordinates, seeded local
generators, options keyword-only, and every sampler runs under ``torch.no_grad()``.
"""

from __future__ import annotations

from typing import Optional

import torch

from ._util import (
    Denoiser,
    PairDenoiser,
    StepCallback,
    call_denoiser,
    check_latent,
    denoise_pair,
    emit,
    seeded_normal,
    work_dtype,
)
from .coupled import _check_localize, _editable_map, sync_sde_edit
from .schedule import NoiseFamily, as_sigma_list, step_coefficients

__all__ = ["sde_sample", "ode_sample", "ode_invert", "sdedit", "flowedit", "edit_friendly_ddpm"]


def _run(x, sig, family, denoise, solver, noise, callback, name="denoise"):
    for i, c in enumerate(step_coefficients(family, sig, solver)):
        d = call_denoiser(denoise, x, sig[i], name)
        emit(callback, i=i, total=len(sig) - 1, sigma=sig[i], x=x, denoised=d)
        x = c.A * x + c.B * d
        if c.C > 0:
            x = x + c.C * noise[i]
    return x


def _prepare(x, sigmas, family, name):
    family = NoiseFamily.parse(family)
    check_latent(x, name)
    return family, as_sigma_list(sigmas, family), x.to(work_dtype(x.dtype))


@torch.no_grad()
def sde_sample(x: torch.Tensor, sigmas, family, denoise: Denoiser, *, seed: int = 0, solver: str = "posterior",
               callback: Optional[StepCallback] = None) -> torch.Tensor:
    """Ancestral SDE sampling from a noisy latent ``x`` at ``sigmas[0]`` (``solver``: posterior / euler)."""
    family, sig, xw = _prepare(x, sigmas, family, "x")
    noise = seeded_normal(xw.shape, seed, len(sig) - 1, xw.device, xw.dtype)
    return _run(xw, sig, family, denoise, solver, noise, callback).to(x.dtype)


@torch.no_grad()
def ode_sample(x: torch.Tensor, sigmas, family, denoise: Denoiser, *,
               callback: Optional[StepCallback] = None) -> torch.Tensor:
    """Deterministic DDIM sampling (probability-flow ODE; Euler for the flow family)."""
    family, sig, xw = _prepare(x, sigmas, family, "x")
    return _run(xw, sig, family, denoise, "ode", None, callback).to(x.dtype)


@torch.no_grad()
def ode_invert(x0: torch.Tensor, sigmas, family, denoise: Denoiser, *,
               callback: Optional[StepCallback] = None) -> torch.Tensor:
    """DDIM / RF inversion: run the ODE upward from ``x0`` (sigma 0) to ``sigmas[0]``.

    Each step from ``sigma_lo`` up to ``sigma_hi`` evaluates the model at ``(x_lo, sigma_hi)``
    (the DDIMInverseScheduler convention, defined at ``sigma_lo = 0``), reads its noise
    prediction ``eps = (x_lo - a_hi D) / sigma_hi`` and moves along the DDIM line:
    ``x_hi = a_hi * x0_hat + sigma_hi * eps`` with ``x0_hat = (x_lo - sigma_lo * eps) / a_lo``.
    """
    family, sig, x = _prepare(x0, sigmas, family, "x0")
    n = len(sig) - 1
    for k, i in enumerate(range(n - 1, -1, -1)):
        s_hi, s_lo = sig[i], sig[i + 1]
        d = call_denoiser(denoise, x, s_hi, "denoise")
        emit(callback, i=k, total=n, sigma=s_hi, x=x, denoised=d)
        eps = (x - family.alpha(s_hi) * d) / s_hi
        x0_hat = (x - s_lo * eps) / family.alpha(s_lo)
        x = family.alpha(s_hi) * x0_hat + s_hi * eps
    return x.to(x0.dtype)


@torch.no_grad()
def sdedit(x0: torch.Tensor, sigmas, family, denoise_tgt: Denoiser, *, seed: int = 0, solver: str = "posterior",
           callback: Optional[StepCallback] = None) -> torch.Tensor:
    """SDEdit: noise ``x0`` to ``sigmas[0]`` once, then sample with the target condition.

    ``solver``: ``"posterior"`` (ancestral SDE, the original SDEdit), ``"euler"`` or ``"ode"``.
    """
    family, sig, x = _prepare(x0, sigmas, family, "x0")
    noise = seeded_normal(x.shape, seed, len(sig), x.device, x.dtype)
    start = family.alpha(sig[0]) * x + sig[0] * noise[0]
    return _run(start, sig, family, denoise_tgt, solver, noise[1:], callback, "denoise_tgt").to(x0.dtype)


@torch.no_grad()
def flowedit(x0: torch.Tensor, sigmas, denoise_src: Denoiser, denoise_tgt: Denoiser, *, seed: int = 0,
             n_avg: int = 1, n_min: int = 0, localize: Optional[float] = None,
             denoise_both: Optional[PairDenoiser] = None,
             callback: Optional[StepCallback] = None) -> torch.Tensor:
    """FlowEdit (Kulikov et al. 2024), flow family only; ``sigmas`` starts at the ``n_max`` step.

    Each step draws fresh noise ``eps``: ``Z_src = (1 - s) x_src + s eps``, ``Z_tar = Z + Z_src - x_src``,
    ``Z <- Z + (s_next - s) * mean[V(Z_tar; c_tgt) - V(Z_src; c_src)]`` with ``V = (z - D) / s``.
    The last ``n_min`` steps are plain target sampling from ``Z_tar`` (the reference's SDEdit phase).
    ``2 * n_avg`` model calls per FlowEdit step; ``denoise_both(z_src, z_tar, s) -> (D_src, D_tgt)``
    (optional) lets a caller batch each pair.

    ``localize`` (``None`` by default: the paper's method, untouched): sync-SDE's disagreement map
    (docs/ALGORITHMS.md 3.9) on FlowEdit. The velocity difference is multiplied by the running
    maximum ``E_i`` of the editable map of ``D_tgt - D_src`` (averaged over the ``n_avg`` samples), so
    ``Z`` keeps the source's bits wherever ``E`` stays 0; the callback then also gets ``"mask"``.
    It needs ``n_min = 0`` (the plain sampling phase has no source to keep).
    """
    family, sig, x_src = _prepare(x0, sigmas, NoiseFamily.FLOW, "x0")
    n = len(sig) - 1
    if n_avg < 1 or not (0 <= n_min <= n):
        raise ValueError(f"n_avg: must be >= 1 and n_min in [0, {n}], got n_avg={n_avg}, n_min={n_min}")
    loc = _check_localize(localize)
    if loc is not None and n_min > 0:
        raise ValueError(f"n_min: localize restricts FlowEdit's coupled steps; the last n_min steps are plain "
                         f"target sampling with nothing to keep, so use n_min 0 with localize (got {n_min})")
    noise = seeded_normal(x_src.shape, seed, n * n_avg + 1, x_src.device, x_src.dtype)
    z = x_src.clone()
    z_tar = None
    editable = None
    for i in range(n):
        s, s_next = sig[i], sig[i + 1]
        if i < n - n_min:
            v_delta = torch.zeros_like(z)
            d_diff = None
            for k in range(n_avg):
                z_src = (1 - s) * x_src + s * noise[i * n_avg + k]
                # with localize, in the form that is Z_src itself wherever Z is still the source
                z_t = z + z_src - x_src if loc is None else z_src + (z - x_src)
                d_src, d_tgt = denoise_pair(denoise_src, denoise_tgt, denoise_both, z_src, z_t, s)
                v_delta += ((z_t - d_tgt) - (z_src - d_src)) / s
                if loc is not None:
                    d_diff = d_tgt - d_src if d_diff is None else d_diff + (d_tgt - d_src)
            if loc is None:
                z = z + (s_next - s) * v_delta / n_avg
                emit(callback, i=i, total=n, sigma=s, x=z, denoised=d_tgt)
            else:
                step_map = _editable_map(d_diff / n_avg, loc)
                editable = step_map if editable is None else torch.maximum(editable, step_map)
                z = z + (s_next - s) * (editable * v_delta) / n_avg
                emit(callback, i=i, total=n, sigma=s, x=z, denoised=d_tgt, mask=editable)
        else:
            if z_tar is None:
                z_tar = z + ((1 - s) * x_src + s * noise[-1]) - x_src
            d_tgt = call_denoiser(denoise_tgt, z_tar, s, "denoise_tgt")
            emit(callback, i=i, total=n, sigma=s, x=z_tar, denoised=d_tgt)
            z_tar = z_tar + (s_next - s) * (z_tar - d_tgt) / s
    return (z if z_tar is None else z_tar).to(x0.dtype)


@torch.no_grad()
def edit_friendly_ddpm(x0: torch.Tensor, sigmas, family, denoise_src: Denoiser, denoise_tgt: Denoiser, *,
                       seed: int = 0, mask: Optional[torch.Tensor] = None,
                       callback: Optional[StepCallback] = None) -> torch.Tensor:
    """Edit-friendly DDPM inversion (Huberman-Spiegelglas et al. 2024).

    Independent ``x_t`` at every step, ``z_t = (x_{t-1} - mu_src(x_t)) / sigma_t``,
    ``y_{t-1} = mu_tgt(y_t) + sigma_t z_t``. Algebraically this is sync-SDE's difference form on a
    resampled path with the posterior step (the reference's ``resample=True``).  [derived]
    """
    return sync_sde_edit(x0, sigmas, family, denoise_src, denoise_tgt, seed=seed, solver="posterior",
                         mask=mask, kind="resample", callback=callback)
