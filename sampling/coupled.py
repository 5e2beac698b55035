"""Structured backward Brownian increments and coupled (sync-SDE) sampling.

docs/ALGORITHMS.md section 3. A reverse step is ``x_{i+1} = Phi(x_i) + C_i w_i`` with the linear
deterministic part ``Phi(x) = A_i x + B_i D(x, sigma_i)``. Given the stored source path ``X``,
the increments ``r_i = X_{i+1} - Phi(X_i; c_src)`` make the reverse SDE retrace it. Driving the
target reverse SDE with the same increments, in difference form ``Delta = Y - X``:

    Delta_{i+1} = A_i Delta_i + B_i (D_tgt(X_i + Delta_i) - D_src(X_i))

which is exactly 0 at every step of an identity edit. :func:`difference_form` is that loop, shared
with SDE-Drag and the edit-friendly DDPM baseline.

Two opt-in variants of the coupling (docs/ALGORITHMS.md section 3.9), both free of extra model
calls: ``coupling`` (partial noise coupling: the target's noise is ``rho w + sqrt(1 - rho^2) z``,
``z`` fresh; :func:`release_schedule` makes a per-step ``rho`` that releases the coupling below a
sigma) and ``localize`` (the drift difference is restricted to where the two denoisers disagree,
so the source is kept bit for bit elsewhere). Their defaults leave the loop exactly as it was.

Every function here that takes a denoiser runs under ``torch.no_grad()``: no autograd graph is
built across steps, whatever the denoiser is (an ``nn.Module`` with trainable parameters included).
"""

from __future__ import annotations

import math
import numbers
from collections import abc
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch

from ._util import (
    Denoiser,
    PairDenoiser,
    StepCallback,
    apply_mask,
    call_denoiser,
    check_mask,
    denoise_pair,
    emit,
    seeded_normal,
)
from .path import BrownianPath, forward_path
from .schedule import NoiseFamily, as_sigma_list, check_solver, step_coefficients

Coupling = Union[float, Sequence[float], torch.Tensor]

__all__ = [
    "Increments",
    "backward_increments",
    "coupled_sample",
    "reconstruct",
    "release_schedule",
    "sync_sde_edit",
]


@dataclass(frozen=True)
class Increments:
    """Everything a coupled sampler needs from the source side, for any number of targets.

    Attributes:
        path: the source's :class:`BrownianPath` (``X_0 .. X_n``).
        denoised: ``(n, *shape)``: ``D_src(X_i, sigma_i)`` for every step, working dtype.
        solver: ``"posterior"`` or ``"euler"``.
        coefficients: the solver's per-step coefficients on ``path.sigmas``.
    """

    path: BrownianPath
    denoised: torch.Tensor
    solver: str
    coefficients: tuple

    @property
    def steps(self) -> int:
        return self.path.steps

    def source_step(self, i: int, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """``Phi(X_i; c_src)``: the deterministic part of the source's reverse step ``i``."""
        c = self.coefficients[i]
        dtype = dtype or self.path.points.dtype
        return c.A * self.path.points[i].to(dtype) + c.B * self.denoised[i].to(dtype)

    @property
    def residuals(self) -> torch.Tensor:
        """``(n, *shape)``: the structured increments ``g_i dW_i = X_{i+1} - Phi(X_i; c_src)``."""
        return torch.stack([self.path.points[i + 1] - self.source_step(i) for i in range(self.steps)])

    @property
    def noise(self) -> torch.Tensor:
        """Increments divided by the solver's noise scale ``C_i`` (Cycle-SDE's recovered noise).

        Steps with ``C_i = 0`` (the last step of the posterior solver, which lands on ``D``
        exactly) carry no noise: their entry is the raw residual.
        """
        res = self.residuals
        for i, c in enumerate(self.coefficients):
            if c.C > 0:
                res[i] = res[i] / c.C
        return res


@torch.no_grad()
def backward_increments(
    path: BrownianPath,
    denoise_src: Denoiser,
    *,
    solver: str = "posterior",
    callback: Optional[StepCallback] = None,
) -> Increments:
    """Evaluate the source denoiser along the path: ``n`` calls for ``n`` steps.

    Args:
        path: from :func:`forward_path`.
        denoise_src: ``denoise(x, sigma) -> x0_hat`` with the source condition (and its
            guidance); receives ``x`` in the path's working dtype.
        solver: ``"posterior"`` (default; exact DDPM-posterior step, stable at sigma = 1) or
            ``"euler"`` (the sync-SDE reference code's Euler-Maruyama step).
        callback: called after every step with ``{"i", "total", "sigma", "x", "denoised"}``.

    The result can drive any number of :func:`coupled_sample` calls with different targets.
    """
    if not isinstance(path, BrownianPath):
        raise ValueError(f"path: expected a BrownianPath from forward_path(), got {type(path).__name__}")
    check_solver(solver)
    coeffs = tuple(step_coefficients(path.family, path.sigmas, solver))
    n = path.steps
    denoised = torch.empty_like(path.points[:n])
    for i in range(n):
        denoised[i] = call_denoiser(denoise_src, path.points[i], path.sigmas[i], "denoise_src")
        emit(callback, i=i, total=n, sigma=path.sigmas[i], x=path.points[i], denoised=denoised[i])
    return Increments(path=path, denoised=denoised, solver=solver, coefficients=coeffs)


def _check_increments(increments) -> Increments:
    if not isinstance(increments, Increments):
        raise ValueError(
            f"increments: expected Increments from backward_increments(), got {type(increments).__name__}"
        )
    return increments


@torch.no_grad()
def coupled_sample(
    increments: Increments,
    denoise_tgt: Denoiser,
    *,
    seed: Optional[int] = None,
    mask: Optional[torch.Tensor] = None,
    start: Optional[torch.Tensor] = None,
    coupling: Coupling = 1.0,
    localize: Optional[float] = None,
    callback: Optional[StepCallback] = None,
) -> torch.Tensor:
    """sync-SDE: the target reverse SDE driven by the source's increments (difference form).

    Args:
        increments: from :func:`backward_increments` (reusable).
        denoise_tgt: ``denoise(x, sigma) -> x0_hat`` with the target condition.
        seed: only used when ``coupling`` < 1 somewhere: the fresh noise ``z`` is drawn from a
            local generator seeded with ``seed + 1`` (default: the path's own seed, so that the
            result equals :func:`sync_sde_edit` with the same ``seed``; the ``+ 1`` keeps ``z``
            clear of the path's own draws).
        mask: optional, broadcastable to the latent, values in [0, 1], 1 = editable. After every
            step ``Y <- M Y + (1 - M) X``; where ``M = 0`` the source path is reproduced exactly.
        start: optional starting state ``Y_0`` instead of ``X_0`` (SDE-Drag's copy-pasted latent,
            same shape as the path's points); the difference form then starts at ``Y_0 - X_0``.
        coupling: ``rho`` in [0, 1], one number or one per step (e.g. :func:`release_schedule`).
            The target's noise is ``rho w + sqrt(1 - rho^2) z`` with ``w`` the source's recovered
            noise (``Increments.noise``) and ``z`` fresh: 1 (default) is sync-SDE, 0 a plain SDE
            sample of the target from ``X_0``. docs/ALGORITHMS.md section 3.9.
        localize: ``None`` (default) or a number in (0, 1]: restrict the drift difference (and
            any released noise) to where ``D_tgt`` and ``D_src`` disagree; a position whose
            blurred, channel-averaged disagreement reaches ``localize`` times the item's largest
            becomes fully editable (and stays so), below half of that it is kept exactly.
        callback: called after every step with ``{"i", "total", "sigma", "x", "denoised"}``
            (``x`` is the current target state ``Y_i``, ``denoised`` its ``D_tgt``); with
            ``localize`` also ``"mask"``, the editable map so far (``(N, 1, *spatial)``).

    Returns the edited latent ``Y_n``, same shape and dtype as the source latent. ``n`` target
    calls. If ``denoise_tgt`` computes exactly what the source denoiser computed (same
    condition, same guidance), the result is the source latent bit for bit (for any
    ``localize``; ``coupling`` < 1 draws fresh noise and is not an identity then).
    """
    inc = _check_increments(increments)
    if seed is not None:
        _check_seed(seed)
    rhos = _check_coupling(coupling, inc.steps)
    loc = _check_localize(localize)
    delta0 = None
    if start is not None:
        if not isinstance(start, torch.Tensor) or start.shape != inc.path.points[0].shape:
            raise ValueError(f"start: expected a tensor of the path's shape {tuple(inc.path.points[0].shape)}")
        delta0 = start.to(inc.path.points.dtype) - inc.path.points[0]

    def denoise_step(i, x, y):
        return inc.denoised[i], call_denoiser(denoise_tgt, y, inc.path.sigmas[i], "denoise_tgt")

    return difference_form(inc.path, inc.coefficients, denoise_step, mask=mask, callback=callback, delta0=delta0,
                           coupling=rhos, localize=loc,
                           noise_seed=_noise_seed(inc.path.seed if seed is None else seed))


@torch.no_grad()
def difference_form(
    path: BrownianPath,
    coeffs,
    denoise_step,
    *,
    mask: Optional[torch.Tensor] = None,
    callback: Optional[StepCallback] = None,
    delta0: Optional[torch.Tensor] = None,
    coupling: Optional[Coupling] = None,
    localize: Optional[float] = None,
    noise_seed: int = 0,
) -> torch.Tensor:
    """The sync-SDE loop on ``Delta = Y - X``: the one reverse loop of every coupled method here.

    ``Delta_{i+1} = M (A_i Delta_i + B_i (D_tgt - D_src))`` from ``Delta_0 = delta0`` (zero by
    default), and the result ``X_n + Delta_n`` keeps the source's bits wherever ``Delta_n`` is 0.

    Args:
        path: the source path ``X_0 .. X_n``.
        coeffs: the solver's per-step coefficients on ``path.sigmas`` (``step_coefficients``).
        denoise_step: ``denoise_step(i, X_i, Y_i) -> (D_src, D_tgt)``, checked answers for step
            ``i`` (e.g. stored source values and a target call, or :func:`denoise_pair`).
        mask: optional (1 = editable), checked against the latent; applied after every step.
        callback: called after every step's denoiser calls with
            ``{"i", "total", "sigma", "x", "denoised"}`` (``x = Y_i``, ``denoised = D_tgt``;
            with ``localize`` also ``"mask"``).
        delta0: the start offset ``Y_0 - X_0`` (SDE-Drag's copy-paste), not masked itself.
        coupling: ``None`` (sync-SDE, rho = 1) or ``rho`` per step / one ``rho``; adds
            ``(rho_i - 1) r_i + sqrt(1 - rho_i^2) C_i z_i`` on every step with ``rho_i < 1``.
        localize: ``None`` or the disagreement threshold of section 3.9 (editable map ``E_i``,
            update ``A_i Delta_i + E_i B_i (D_tgt - D_src)``; the released noise uses the
            per-position coupling ``1 - E_i (1 - rho_i)``; the map is updated up to and including
            the first step with ``rho_i < 1``, then kept).
        noise_seed: the seed of the fresh noise ``z`` (``n`` draws, :func:`seeded_normal` on the
            CPU), drawn only if some step with ``C_i > 0`` has ``rho_i < 1``.

    Returns ``Y_n`` in the source latent's dtype. Used by :func:`coupled_sample`,
    :func:`sync_sde_edit` (hence edit-friendly DDPM) and SDE-Drag; see docs/ALGORITHMS.md
    sections 3.3 and 3.9.
    """
    mask = check_mask(mask, path.points[0])
    n = len(coeffs)
    rhos = None if coupling is None else _check_coupling(coupling, n)
    loc = _check_localize(localize)
    like = path.points[0]
    delta = torch.zeros_like(like) if delta0 is None else delta0.to(path.points.dtype)
    fresh = None
    if rhos is not None and any(r < 1.0 and c.C > 0 for r, c in zip(rhos, coeffs)):
        fresh = seeded_normal(like.shape, noise_seed, n, "cpu", like.dtype)  # moved per step
    editable = None if loc is None else torch.zeros(_map_shape(like), dtype=like.dtype, device=like.device)
    # the map follows the disagreement while Delta holds no released noise, then stays as it is
    first_release = n if rhos is None else next((i for i, r in enumerate(rhos) if r < 1.0), n)
    for i, c in enumerate(coeffs):
        y = path.points[i] + delta
        d_src, d_tgt = denoise_step(i, path.points[i], y)
        if rhos is None and loc is None:  # sync-SDE itself, untouched
            emit(callback, i=i, total=n, sigma=path.sigmas[i], x=y, denoised=d_tgt)
            delta = apply_mask(mask, c.A * delta + c.B * (d_tgt - d_src))
            continue
        diff = d_tgt - d_src
        if loc is None:
            emit(callback, i=i, total=n, sigma=path.sigmas[i], x=y, denoised=d_tgt)
            step = c.A * delta + c.B * diff
        else:
            if i <= first_release:
                editable = torch.maximum(editable, _editable_map(diff, loc))
            emit(callback, i=i, total=n, sigma=path.sigmas[i], x=y, denoised=d_tgt, mask=editable)
            step = c.A * delta + editable * (c.B * diff)
        rho = 1.0 if rhos is None else rhos[i]
        if rho < 1.0:
            # C_i (w_tgt - w) with w_tgt = rho w + sqrt(1 - rho^2) z and C_i w = r_i (no division)
            residual = path.points[i + 1] - (c.A * path.points[i] + c.B * d_src)
            z = fresh[i].to(like.device) if c.C > 0 else None
            if loc is None:
                step = step + (rho - 1.0) * residual
                if z is not None:
                    step = step + (c.C * math.sqrt((1.0 - rho) * (1.0 + rho))) * z
            else:
                release = (1.0 - rho) * editable  # 1 - (per-position coupling)
                step = step - release * residual
                if z is not None:
                    step = step + c.C * torch.sqrt(release * (2.0 - release)) * z
        delta = apply_mask(mask, step)
    return _add_exact(path.points[-1], delta).to(path.x0.dtype)


def _add_exact(x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``x + delta``, keeping ``x``'s bits where ``delta`` is 0 (so -0.0 stays -0.0)."""
    return torch.where(delta == 0, x, x + delta)


@torch.no_grad()
def reconstruct(
    increments: Increments,
    denoise: Denoiser,
    *,
    mask: Optional[torch.Tensor] = None,
    accumulate_dtype: torch.dtype = torch.float64,
    return_trajectory: bool = False,
    callback: Optional[StepCallback] = None,
):
    """Reverse-sample with explicit increments: ``Y_{i+1} = Phi(Y_i; c) + r_i``, ``Y_0 = X_0``.

    The noise form of :func:`coupled_sample` (mathematically the same; numerically it
    reconstructs to float tolerance rather than bit for bit). With the source denoiser it
    retraces the stored path; this is Cycle-SDE's sampling step.

    Args:
        accumulate_dtype: dtype of the increments and the running state (default float64,
            O(latent) work per step: the state then rounds back onto the stored path exactly,
            so the source denoiser sees the very points it saw during inversion).
        return_trajectory: also return the ``(n + 1, *shape)`` states ``Y_0 .. Y_n``.
    """
    inc = _check_increments(increments)
    path = inc.path
    mask = check_mask(mask, path.points[0])
    acc = accumulate_dtype
    m = None if mask is None else mask.to(acc)
    y = path.points[0].to(acc)
    traj = [y] if return_trajectory else None
    for i, c in enumerate(inc.coefficients):
        x_in = y.to(path.points.dtype)
        d = call_denoiser(denoise, x_in, path.sigmas[i], "denoise").to(acc)
        emit(callback, i=i, total=inc.steps, sigma=path.sigmas[i], x=x_in, denoised=d)
        residual = path.points[i + 1].to(acc) - inc.source_step(i, acc)
        y = c.A * y + c.B * d + residual
        if m is not None:
            y = m * y + (1 - m) * path.points[i + 1].to(acc)
        if traj is not None:
            traj.append(y)
    out = y.to(path.x0.dtype)
    return (out, torch.stack(traj).to(path.points.dtype)) if return_trajectory else out


@torch.no_grad()
def sync_sde_edit(
    x0: torch.Tensor,
    sigmas,
    family,
    denoise_src: Denoiser,
    denoise_tgt: Denoiser,
    *,
    seed: int = 0,
    solver: str = "posterior",
    mask: Optional[torch.Tensor] = None,
    kind: str = "brownian",
    coupling: Coupling = 1.0,
    localize: Optional[float] = None,
    denoise_both: Optional[PairDenoiser] = None,
    callback: Optional[StepCallback] = None,
) -> torch.Tensor:
    """One-call sync-SDE edit: forward path, then source and target together, step by step.

    Same result as ``coupled_sample(backward_increments(forward_path(...), denoise_src), denoise_tgt)``
    but evaluates the source at ``X_i`` and the target at ``Y_i`` in the same step, so a caller
    can batch them: ``denoise_both(x_src, y_tgt, sigma) -> (D_src, D_tgt)`` (optional; when
    given it replaces the two single calls). ``2 n`` model evaluations.

    ``coupling`` and ``localize`` are :func:`coupled_sample`'s (docs/ALGORITHMS.md section 3.9);
    ``seed`` seeds the path, and the fresh noise of a ``coupling`` < 1 comes from ``seed + 1``.
    """
    check_solver(solver)
    path = forward_path(x0, sigmas, family, seed=seed, kind=kind)
    coeffs = step_coefficients(path.family, path.sigmas, solver)
    rhos = _check_coupling(coupling, len(coeffs))
    loc = _check_localize(localize)

    def denoise_step(i, x, y):
        return denoise_pair(denoise_src, denoise_tgt, denoise_both, x, y, path.sigmas[i])

    return difference_form(path, coeffs, denoise_step, mask=mask, callback=callback, coupling=rhos, localize=loc,
                           noise_seed=_noise_seed(seed))


def release_schedule(sigmas, sigma_release: float, rho_after: float = 0.0) -> list:
    """A per-step ``coupling``: 1 (sync-SDE) on the steps from ``sigma_i > sigma_release``,
    ``rho_after`` on the steps that start at or below ``sigma_release``.

    ``release_schedule(sigmas, sigmas[k], rho)`` therefore releases steps ``k .. n - 1``;
    ``sigma_release = 0`` releases nothing. Returns ``n = len(sigmas) - 1`` floats, for the
    ``coupling`` option of :func:`coupled_sample` / :func:`sync_sde_edit` (docs/ALGORITHMS.md
    section 3.9).
    """
    sig = as_sigma_list(sigmas, NoiseFamily.VE)
    if not _is_real(sigma_release) or not math.isfinite(float(sigma_release)) or float(sigma_release) < 0:
        raise ValueError(f"sigma_release: expected a finite number >= 0, got {sigma_release!r}")
    if not _is_real(rho_after) or not 0.0 <= float(rho_after) <= 1.0:
        raise ValueError(f"rho_after: expected a number in [0, 1], got {rho_after!r}")
    return [1.0 if s > float(sigma_release) else float(rho_after) for s in sig[:-1]]


# --- coupling variants: checks and the editable map (docs/ALGORITHMS.md section 3.9) ---------------

def _is_real(value) -> bool:
    if isinstance(value, torch.Tensor) and value.dim() == 0 and not value.dtype.is_complex:
        return value.dtype != torch.bool
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed: expected an int or None, got {type(seed).__name__}")
    return seed


def _noise_seed(seed: int) -> int:
    """The fresh coupling noise's seed: one past the path's (a generator seed is 64-bit)."""
    return (seed + 1) % (1 << 64)


def _check_coupling(coupling, steps: int) -> Optional[tuple]:
    """``rho`` per step as floats in [0, 1], or ``None`` when every step is fully coupled."""
    if _is_real(coupling):
        values = [float(coupling)] * steps
    elif isinstance(coupling, torch.Tensor) and coupling.dim() == 1 and _is_real(coupling.new_zeros(())):
        values = [float(v) for v in coupling.detach().to("cpu", torch.float64)]
    elif (isinstance(coupling, abc.Sequence) and not isinstance(coupling, (str, bytes))
          and all(_is_real(v) for v in coupling)):
        values = [float(v) for v in coupling]
    else:
        raise ValueError(f"coupling: expected a number in [0, 1] or a sequence of {steps} of them "
                         f"(one per step), got {type(coupling).__name__}")
    if len(values) != steps:
        raise ValueError(f"coupling: expected {steps} values (one per step), got {len(values)}")
    bad = [v for v in values if not 0.0 <= v <= 1.0]  # NaN fails too
    if bad:
        raise ValueError(f"coupling: values must lie in [0, 1], got {bad[0]!r}")
    return None if all(v == 1.0 for v in values) else tuple(values)


def _check_localize(localize) -> Optional[float]:
    if localize is None:
        return None
    if not _is_real(localize) or not 0.0 < float(localize) <= 1.0:
        raise ValueError(f"localize: expected None or a number in (0, 1] (the disagreement, relative to "
                         f"the item's largest, at which a position becomes editable), got {localize!r}")
    return float(localize)


def _map_shape(like: torch.Tensor) -> tuple:
    """Shape of the editable map: ``(N, 1, *spatial)``, or the latent's own for rank < 2."""
    return (like.shape[0], 1, *like.shape[2:]) if like.dim() >= 2 else tuple(like.shape)


# std-1 Gaussian, radius 2 (5 taps), normalised: the disagreement map's smoothing over (H, W)
_BLUR = tuple(math.exp(-0.5 * k * k) for k in range(-2, 3))
_BLUR = tuple(w / sum(_BLUR) for w in _BLUR)


def _blur_plane(d: torch.Tensor) -> torch.Tensor:
    """Separable 5x5 Gaussian over the last two dims, replicated borders; exactly 0 stays 0."""
    r = len(_BLUR) // 2
    for dim in (-1, -2):
        size = d.shape[dim]
        idx = torch.arange(-r, size + r, device=d.device).clamp(0, size - 1)
        padded = d.index_select(dim, idx)
        out = _BLUR[0] * padded.narrow(dim, 0, size)
        for k in range(1, len(_BLUR)):
            out = out + _BLUR[k] * padded.narrow(dim, k, size)
        d = out
    return d


def _editable_map(diff: torch.Tensor, localize: float) -> torch.Tensor:
    """This step's editable map from ``D_tgt - D_src`` (section 3.9), in ``diff``'s dtype.

    ``|diff|`` averaged over channels (dim 1), blurred over the last two dims when there are at
    least two spatial dims, divided by its maximum per item (dim 0), then the ramp
    ``clamp(2 d / localize - 1, 0, 1)``: 1 from ``localize``, 0 below ``localize / 2``.
    """
    d = diff.abs()
    if d.dim() >= 2:
        d = d.mean(dim=1, keepdim=True)
    if d.dim() >= 4:
        d = _blur_plane(d)
    peak = d.amax(dim=tuple(range(1, d.dim())), keepdim=True) if d.dim() >= 2 else d
    d = d / peak.clamp_min(torch.finfo(d.dtype).tiny)
    return (d * (2.0 / localize) - 1.0).clamp(0.0, 1.0)
