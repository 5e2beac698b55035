"""Structured backward Brownian increments and coupled (sync-SDE) sampling.

docs/ALGORITHMS.md section 3. A reverse step is ``x_{i+1} = Phi(x_i) + C_i w_i`` with the linear
deterministic part ``Phi(x) = A_i x + B_i D(x, sigma_i)``. Given the stored source path ``X``,
the increments ``r_i = X_{i+1} - Phi(X_i; c_src)`` make the reverse SDE retrace it. Driving the
target reverse SDE with the same increments, in difference form ``Delta = Y - X``:

    Delta_{i+1} = A_i Delta_i + B_i (D_tgt(X_i + Delta_i) - D_src(X_i))

which is exactly 0 at every step of an identity edit. :func:`difference_form` is that loop, shared
with SDE-Drag and the edit-friendly DDPM baseline.

Every function here that takes a denoiser runs under ``torch.no_grad()``: no autograd graph is
built across steps, whatever the denoiser is (an ``nn.Module`` with trainable parameters included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ._util import Denoiser, PairDenoiser, StepCallback, apply_mask, call_denoiser, check_mask, denoise_pair, emit
from .path import BrownianPath, forward_path
from .schedule import check_solver, step_coefficients

__all__ = [
    "Increments",
    "backward_increments",
    "coupled_sample",
    "reconstruct",
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
    mask: Optional[torch.Tensor] = None,
    start: Optional[torch.Tensor] = None,
    callback: Optional[StepCallback] = None,
) -> torch.Tensor:
    """sync-SDE: the target reverse SDE driven by the source's increments (difference form).

    Args:
        increments: from :func:`backward_increments` (reusable).
        denoise_tgt: ``denoise(x, sigma) -> x0_hat`` with the target condition.
        mask: optional, broadcastable to the latent, values in [0, 1], 1 = editable. After every
            step ``Y <- M Y + (1 - M) X``; where ``M = 0`` the source path is reproduced exactly.
        start: optional starting state ``Y_0`` instead of ``X_0`` (SDE-Drag's copy-pasted latent,
            same shape as the path's points); the difference form then starts at ``Y_0 - X_0``.
        callback: called after every step with ``{"i", "total", "sigma", "x", "denoised"}``
            (``x`` is the current target state ``Y_i``, ``denoised`` its ``D_tgt``).

    Returns the edited latent ``Y_n``, same shape and dtype as the source latent. ``n`` target
    calls. If ``denoise_tgt`` computes exactly what the source denoiser computed (same
    condition, same guidance), the result is the source latent bit for bit.
    """
    inc = _check_increments(increments)
    delta0 = None
    if start is not None:
        if not isinstance(start, torch.Tensor) or start.shape != inc.path.points[0].shape:
            raise ValueError(f"start: expected a tensor of the path's shape {tuple(inc.path.points[0].shape)}")
        delta0 = start.to(inc.path.points.dtype) - inc.path.points[0]

    def denoise_step(i, x, y):
        return inc.denoised[i], call_denoiser(denoise_tgt, y, inc.path.sigmas[i], "denoise_tgt")

    return difference_form(inc.path, inc.coefficients, denoise_step, mask=mask, callback=callback, delta0=delta0)


@torch.no_grad()
def difference_form(
    path: BrownianPath,
    coeffs,
    denoise_step,
    *,
    mask: Optional[torch.Tensor] = None,
    callback: Optional[StepCallback] = None,
    delta0: Optional[torch.Tensor] = None,
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
            ``{"i", "total", "sigma", "x", "denoised"}`` (``x = Y_i``, ``denoised = D_tgt``).
        delta0: the start offset ``Y_0 - X_0`` (SDE-Drag's copy-paste), not masked itself.

    Returns ``Y_n`` in the source latent's dtype. Used by :func:`coupled_sample`,
    :func:`sync_sde_edit` (hence edit-friendly DDPM) and SDE-Drag; see docs/ALGORITHMS.md
    section 3.3.
    """
    mask = check_mask(mask, path.points[0])
    delta = torch.zeros_like(path.points[0]) if delta0 is None else delta0.to(path.points.dtype)
    for i, c in enumerate(coeffs):
        y = path.points[i] + delta
        d_src, d_tgt = denoise_step(i, path.points[i], y)
        emit(callback, i=i, total=len(coeffs), sigma=path.sigmas[i], x=y, denoised=d_tgt)
        delta = apply_mask(mask, c.A * delta + c.B * (d_tgt - d_src))
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
    denoise_both: Optional[PairDenoiser] = None,
    callback: Optional[StepCallback] = None,
) -> torch.Tensor:
    """One-call sync-SDE edit: forward path, then source and target together, step by step.

    Same result as ``coupled_sample(backward_increments(forward_path(...), denoise_src), denoise_tgt)``
    but evaluates the source at ``X_i`` and the target at ``Y_i`` in the same step, so a caller
    can batch them: ``denoise_both(x_src, y_tgt, sigma) -> (D_src, D_tgt)`` (optional; when
    given it replaces the two single calls). ``2 n`` model evaluations.
    """
    check_solver(solver)
    path = forward_path(x0, sigmas, family, seed=seed, kind=kind)
    coeffs = step_coefficients(path.family, path.sigmas, solver)

    def denoise_step(i, x, y):
        return denoise_pair(denoise_src, denoise_tgt, denoise_both, x, y, path.sigmas[i])

    return difference_form(path, coeffs, denoise_step, mask=mask, callback=callback)

