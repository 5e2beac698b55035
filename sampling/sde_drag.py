"""SDE-Drag (The Blessing of Randomness, section 4; ALGORITHMS.md section 4).

Each drag iteration noises the current latent to ``t0`` along a fresh Brownian path, copy-pastes
the windows (in VP-normalised coordinates), and runs the reverse SDE with the SAME prompt driven
by the path's structured increments, starting from the pasted state. In difference form
(``Delta = Y - X``) the start offset is the paste itself:

    Delta_0 = paste(X_0) - X_0,   Delta_{i+1} = M (A_i Delta_i + B_i (D(X_i + Delta_i) - D(X_i)))

so a mask ``M`` (1 = editable) keeps everything outside it equal to the current latent exactly,
and an iteration in which nothing moves costs nothing and changes nothing.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

from ._util import Denoiser, StepCallback, check_latent
from .coupled import _denoise_pair, _difference_form
from .drag import copy_paste_noisy, drag_schedule
from .path import forward_path
from .schedule import check_solver, step_coefficients

__all__ = ["sde_drag", "drag_iterations"]


def drag_iterations(sources, targets, step: float = 2.0):
    """The iterations that move something: ``[(sources_k, targets_k), ...]`` without still pairs."""
    out = []
    for src, tgt in drag_schedule(sources, targets, step):
        moving = [(s, t) for s, t in zip(src, tgt) if s != t]
        if moving:
            out.append(([s for s, _ in moving], [t for _, t in moving]))
    return out


def sde_drag(
    x0: torch.Tensor,
    sigmas,
    family,
    denoise: Denoiser,
    sources,
    targets,
    step: float = 2.0,
    alpha: float = 1.1,
    beta: float = 0.3,
    r: int = 5,
    seed: int = 0,
    mask: Optional[torch.Tensor] = None,
    solver: str = "posterior",
    denoise_both: Optional[Callable[[torch.Tensor, torch.Tensor, float], tuple]] = None,
    callback: Optional[StepCallback] = None,
) -> torch.Tensor:
    """Drag latent content from ``sources`` to ``targets`` (latent cells ``(x, y)``).

    Args:
        x0: the latent to edit (native coordinates).
        sigmas: the reverse schedule from ``t0`` (its first sigma) down to 0.
        denoise: ``denoise(x, sigma) -> x0_hat`` with the image's prompt (CFG schedules go here:
            the same sigma recurs in every iteration).
        step: drag step size in latent cells: ``m = round(L / step)`` iterations (all pairs
            move together, see :func:`drag_schedule`).
        alpha, beta, r: copy-paste strength, source-window retention and window half-width.
        seed: iteration ``k`` noises with seed ``seed + 2k`` and pastes with ``seed + 2k + 1``.
        mask: optional, 1 = editable; outside it the result equals ``x0`` exactly.
        denoise_both: optional batched ``(x_path, y_drag, sigma) -> (D(x), D(y))``.
        callback: per reverse step, with ``i``/``total`` counted over all iterations and
            ``iteration`` / ``iterations`` added.

    Returns the dragged latent, same shape and dtype as ``x0``. ``2 n`` denoiser evaluations per
    iteration (``n`` batched pairs with ``denoise_both``).
    """
    check_latent(x0, "x0")
    check_solver(solver)
    plan = drag_iterations(sources, targets, step)
    current = x0
    n_total = None
    for k, (src_k, tgt_k) in enumerate(plan):
        path = forward_path(current, sigmas, family, seed=seed + 2 * k)
        n_total = n_total or path.steps * len(plan)
        start = copy_paste_noisy(path.points[0], path.sigmas[0], family, src_k, tgt_k, alpha=alpha, beta=beta,
                                 r=r, seed=seed + 2 * k + 1)
        coeffs = step_coefficients(path.family, path.sigmas, solver)

        def denoise_step(i, x, y, _path=path):
            return _denoise_pair(denoise, denoise, denoise_both, x, y, _path.sigmas[i])

        def emit(info, _k=k, _n=path.steps):
            if callback is not None:
                callback({**info, "i": _k * _n + info["i"], "total": n_total, "iteration": _k,
                          "iterations": len(plan)})

        current = _difference_form(path, coeffs, denoise_step, mask, emit, delta0=start - path.points[0])
    return current
