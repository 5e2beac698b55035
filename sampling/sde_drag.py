"""SDE-Drag (The Blessing of Randomness, section 4; docs/ALGORITHMS.md section 4).

Each drag iteration noises the current latent to ``t0`` along a fresh Brownian path, copy-pastes
the windows (in VP-normalised coordinates), and runs the reverse SDE with the SAME prompt driven
by the path's structured increments, starting from the pasted state. In difference form
(``Delta = Y - X``) the start offset is the paste itself:

    Delta_0 = paste(X_0) - X_0,   Delta_{i+1} = M (A_i Delta_i + B_i (D(X_i + Delta_i) - D(X_i)))

so a mask ``M`` (1 = editable) keeps everything outside it equal to the current latent exactly,
and an iteration in which nothing moves costs nothing and changes nothing.

Region drag (beyond the paper, docs/ALGORITHMS.md section 4.3) replaces the windows by a whole
masked region moved by the map the arrows define (:func:`arrow_transform`), warped cell by cell in
the noisy latent; the same coupled reverse SDE fills the vacated area and blends the edges.
"""

from __future__ import annotations

from typing import Optional

import torch

from ._util import Denoiser, PairDenoiser, StepCallback, check_latent, denoise_pair
from .coupled import difference_form
from .drag import arrow_transform, copy_paste_noisy, dilate_cells, drag_schedule, moved_region_noisy, paste_count
from .path import forward_path
from .schedule import NoiseFamily, as_sigma_list, check_solver, step_coefficients

__all__ = ["sde_drag", "drag_iterations", "region_plan"]


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
    fill: str = "unit",
    region: Optional[torch.Tensor] = None,
    margin: Optional[int] = 1,
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
        fill: the vacated area's fresh noise, ``"unit"`` (the paper's) or ``"path"`` (the path's
            own noise level at ``t0``; no speckle at a low ``t0``), see :func:`copy_paste_noisy`.
        region: optional mask of the region to move as a whole (region drag; cells >= 1/2 are
            inside; ``r`` is then unused). The arrows give the map: one a translation, two a
            similarity (rotation and scale too), three or more an affine map, in latent cells
            (fractional cells allowed). ``round(L / step)`` iterations move it along the straight
            interpolation of the map.
        margin: region drag only: the edit is bounded to the region and its image grown by this
            many cells (times ``mask``), and is exact outside; ``None`` = unbounded.
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
    denoise_step = _same_prompt(denoise, denoise_both, sig)
    if region is not None:
        return _region_drag(x0, sig, family, coeffs, denoise_step, sources, targets, region, seed=seed, mask=mask,
                            step=step, alpha=alpha, beta=beta, fill=fill, margin=margin, callback=callback)
    plan = drag_iterations(sources, targets, step)
    current = x0
    for k, (src_k, tgt_k) in enumerate(plan):
        path = forward_path(current, sig, family, seed=seed + 2 * k)
        start = copy_paste_noisy(path.points[0], path.sigmas[0], family, src_k, tgt_k, alpha=alpha, beta=beta,
                                 r=r, seed=seed + 2 * k + 1, fill=fill)
        current = difference_form(path, coeffs, denoise_step, mask=mask, delta0=start - path.points[0],
                                  callback=_iteration_callback(callback, k, steps, len(plan)))
    return current


def region_plan(sources, targets, step: float = 2.0) -> list:
    """Region drag's per-iteration maps ``T_k`` (2x3, cells): ``m = round(L / step)`` (at least 1)
    steps along ``I + (k / m)(A - I)``, each ``T_{k+1} T_k^-1``; ``L`` = the longest arrow.

    With one iteration this is the arrows' map itself (:func:`arrow_transform`); with only
    zero-length arrows it is empty."""
    full = arrow_transform(sources, targets)
    moves = [(float(t[0]) - float(s[0]), float(t[1]) - float(s[1])) for s, t in zip(sources, targets)]
    m = paste_count(moves, step)
    if not any(dx or dy for dx, dy in moves):  # every arrow has zero length: nothing moves, nothing is evaluated
        return []
    if m == 1:
        return [full]
    eye = torch.eye(3, dtype=torch.float64)
    a = torch.cat([full, torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)])
    at = [eye + (k / m) * (a - eye) for k in range(m + 1)]
    return [(at[k + 1] @ torch.linalg.inv(at[k]))[:2] for k in range(m)]


def _region_drag(x0, sig, family, coeffs, denoise_step, sources, targets, region, *, seed, mask, step, alpha, beta,
                 fill, margin, callback):
    plan = region_plan(sources, targets, step)
    steps = len(sig) - 1
    inside = region
    current = x0
    for k, matrix in enumerate(plan):
        path = forward_path(current, sig, family, seed=seed + 2 * k)
        start, was, inside = moved_region_noisy(path.points[0], path.sigmas[0], family, inside, matrix, alpha, beta,
                                                seed + 2 * k + 1, fill)
        bound = None if margin is None else dilate_cells(was | inside, margin).to(x0.dtype)
        m = bound if mask is None else (mask if bound is None else bound * mask)
        current = difference_form(path, coeffs, denoise_step, mask=m, delta0=start - path.points[0],
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
