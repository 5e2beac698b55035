"""SDE-Drag (The Blessing of Randomness, section 4; docs/ALGORITHMS.md section 4).

Each drag iteration noises the current latent to ``t0`` along a fresh Brownian path, copy-pastes
the windows (in VP-normalised coordinates), and runs the reverse SDE with the SAME prompt driven
by the path's structured increments, starting from the pasted state. In difference form
(``Delta = Y - X``) the start offset is the paste itself:

    Delta_0 = paste(X_0) - X_0,   Delta_{i+1} = M (A_i Delta_i + B_i (D(X_i + Delta_i) - D(X_i)))

so a mask ``M`` (1 = editable) keeps everything outside it equal to the current latent exactly,
and an iteration in which nothing moves costs nothing and changes nothing.
"""

from __future__ import annotations

from typing import Optional

import torch

from ._util import Denoiser, PairDenoiser, StepCallback, check_latent, denoise_pair
from .coupled import difference_form
from .drag import copy_paste_noisy, drag_schedule
from .path import forward_path
from .schedule import NoiseFamily, as_sigma_list, check_solver, step_coefficients

__all__ = ["sde_drag", "drag_iterations"]


def drag_iterations(sources, targets, step: float = 2.0):
    """The iterations that move something: ``[(sources_k, targets_k), ...]`` without still pairs."""
    out = []
    for src, tgt in drag_schedule(sources, targets, step):
        moving = [(s, t) for s, t in zip(src, tgt) if s != t]
        if moving:
            out.append(([s for s, _ in moving], [t for _, t in moving]))
    return out


@torch.no_grad()
def sde_drag(
    x0: torch.Tensor,
    sigmas,
    family,
    denoise: Denoiser,
    sources,
    targets,
    *,
    seed: int = 0,
    solver: str = "posterior",
    mask: Optional[torch.Tensor] = None,
    step: float = 2.0,
    alpha: float = 1.1,
    beta: float = 0.3,
    r: int = 5,
    denoise_both: Optional[PairDenoiser] = None,
    callback: Optional[StepCallback] = None,
) -> torch.Tensor:
    """Drag latent content from ``sources`` to ``targets`` (latent cells ``(x, y)``).

    Args:
        x0: the latent to edit (native coordinates).
        sigmas: the reverse schedule from ``t0`` (its first sigma) down to 0.
        denoise: ``denoise(x, sigma) -> x0_hat`` with the image's prompt (CFG schedules go here:
            the same sigma recurs in every iteration).
        seed: iteration ``k`` noises with seed ``seed + 2k`` and pastes with ``seed + 2k + 1``.
        solver: ``"posterior"`` (default) or ``"euler"``, as in :func:`backward_increments`.
        mask: optional, 1 = editable; outside it the result equals ``x0`` exactly.
        step: drag step size in latent cells: ``m = round(L / step)`` iterations (all pairs
            move together, see :func:`drag_schedule`).
        alpha, beta, r: copy-paste strength, source-window retention and window half-width.
        denoise_both: optional batched ``(x_path, y_drag, sigma) -> (D(x), D(y))``.
        callback: per reverse step, with ``i``/``total`` counted over all iterations and
            ``iteration`` / ``iterations`` added.

    Returns the dragged latent, same shape and dtype as ``x0``. ``2 n`` denoiser evaluations per
    iteration (``n`` batched pairs with ``denoise_both``).
    """
    check_latent(x0, "x0")
    check_solver(solver)
    family = NoiseFamily.parse(family)
    sig = as_sigma_list(sigmas, family)
    coeffs = step_coefficients(family, sig, solver)  # every iteration runs on the same grid
    steps = len(sig) - 1
    plan = drag_iterations(sources, targets, step)
    denoise_step = _same_prompt(denoise, denoise_both, sig)
    current = x0
    for k, (src_k, tgt_k) in enumerate(plan):
        path = forward_path(current, sig, family, seed=seed + 2 * k)
        start = copy_paste_noisy(path.points[0], path.sigmas[0], family, src_k, tgt_k, alpha=alpha, beta=beta,
                                 r=r, seed=seed + 2 * k + 1)
        current = difference_form(path, coeffs, denoise_step, mask=mask, delta0=start - path.points[0],
                                  callback=_iteration_callback(callback, k, steps, len(plan)))
    return current


def _same_prompt(denoise: Denoiser, denoise_both: Optional[PairDenoiser], sigmas):
    """:func:`difference_form`'s ``denoise_step``: the one prompt at the path point and the dragged state."""

    def denoise_step(i, x, y):
        return denoise_pair(denoise, denoise, denoise_both, x, y, sigmas[i])

    return denoise_step


def _iteration_callback(callback: Optional[StepCallback], k: int, steps: int, iterations: int):
    """``callback`` for iteration ``k``: step ``i`` reported as ``k * steps + i`` of ``steps * iterations``."""
    if callback is None:
        return None

    def report(info: dict) -> None:
        callback({**info, "i": k * steps + info["i"], "total": steps * iterations, "iteration": k,
                  "iterations": iterations})

    return report
