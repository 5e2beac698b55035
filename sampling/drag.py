"""SDE-Drag's tensor operations (docs/ALGORITHMS.md section 4): copy-paste and the drag schedule.

Locations here are latent cells ``(x, y)`` (``pixel // 8`` for SD and Flux latents, see
:func:`pixels_to_cells`); latents are indexed ``[..., y, x]``.
"""

from __future__ import annotations

import math

import torch

from ._util import check_latent, seeded_normal
from .schedule import NoiseFamily

__all__ = ["pixels_to_cells", "drag_schedule", "copy_paste", "copy_paste_noisy"]

Cell = tuple  # (x, y) integer latent cell; image pixels are nodes/points.py's Point


def _cells(points, name: str) -> list[Cell]:
    try:
        out = [(int(p[0]), int(p[1])) for p in points]
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"{name}: expected a list of [x, y] integer pairs, got {points!r}") from None
    if any(len(p) != 2 for p in points):
        raise ValueError(f"{name}: every point must be [x, y], got {points!r}")
    return out


def _pairs(sources, targets) -> tuple[list[Cell], list[Cell]]:
    src, tgt = _cells(sources, "sources"), _cells(targets, "targets")
    if not src:
        raise ValueError("sources: at least one drag pair is needed")
    if len(src) != len(tgt):
        raise ValueError(f"targets: {len(tgt)} target points for {len(src)} source points; they must pair up")
    return src, tgt


def pixels_to_cells(points, factor: int = 8) -> list[Cell]:
    """Image pixel ``[x, y]`` to latent cell ``[x // factor, y // factor]``."""
    return [(x // factor, y // factor) for x, y in _cells(points, "points")]


def drag_schedule(sources, targets, step: float = 2.0) -> list[tuple[list[Cell], list[Cell]]]:
    """Split a multi-pair drag into ``m = round(L / step)`` (at least 1) small drags.

    ``L`` is the longest pair distance (latent cells). All pairs move together: pair ``j``'s
    iteration ``i`` goes from ``s_j + floor(i d_j / m)`` to ``s_j + floor((i + 1) d_j / m)``
    (exact integer arithmetic, so the last iteration ends on the target).
    """
    src, tgt = _pairs(sources, targets)
    if not (step > 0):
        raise ValueError(f"step: the drag step size must be > 0 latent cells, got {step}")
    d = [(tx - sx, ty - sy) for (sx, sy), (tx, ty) in zip(src, tgt)]
    longest = max(math.hypot(dx, dy) for dx, dy in d)
    m = max(1, int(math.floor(longest / step + 0.5)))

    def at(k):
        return [(sx + (k * dx) // m, sy + (k * dy) // m) for (sx, sy), (dx, dy) in zip(src, d)]

    return [(at(i), at(i + 1)) for i in range(m)]


def copy_paste(latent: torch.Tensor, sources, targets, alpha: float = 1.1, beta: float = 0.3, r: int = 5,
               seed: int = 0) -> torch.Tensor:
    """Copy the window around each source cell to its target cell (a new tensor; input untouched).

    For each pair in order, with the window of half-width ``r`` clamped (the same extent for
    source and target) so both stay inside the latent:
    ``F = x[S]``; ``x[S] = beta F + sqrt(1 - beta^2) xi``; ``x[T] = alpha F``.
    Later pairs win overlaps. Meant for unit-variance (VP-normalised) noisy latents, where
    ``beta`` keeps the source window's variance at 1; see :func:`copy_paste_noisy`.
    Windows are ``2r + 1`` cells, centred on the point (the reference code's are ``2r`` cells).
    """
    check_latent(latent, "latent")
    if latent.dim() < 2:
        raise ValueError(f"latent: expected at least 2 dimensions (..., H, W), got shape {tuple(latent.shape)}")
    if not (0.0 <= beta <= 1.0):
        raise ValueError(f"beta: must lie in [0, 1], got {beta}")
    if r < 0:
        raise ValueError(f"r: the window half-width must be >= 0, got {r}")
    src, tgt = _pairs(sources, targets)
    h, w = latent.shape[-2:]
    for name, pts in (("sources", src), ("targets", tgt)):
        for x, y in pts:
            if not (0 <= x < w and 0 <= y < h):
                raise ValueError(f"{name}: point ({x}, {y}) lies outside the {w}x{h} latent")
    out = latent.clone()
    noise = seeded_normal(latent.shape, seed, len(src), latent.device, latent.dtype)
    keep = math.sqrt(max(0.0, 1.0 - beta * beta))
    for j, ((sx, sy), (tx, ty)) in enumerate(zip(src, tgt)):
        left, right = min(r, sx, tx), min(r, w - 1 - sx, w - 1 - tx)
        up, down = min(r, sy, ty), min(r, h - 1 - sy, h - 1 - ty)
        s_win = (..., slice(sy - up, sy + down + 1), slice(sx - left, sx + right + 1))
        t_win = (..., slice(ty - up, ty + down + 1), slice(tx - left, tx + right + 1))
        feature = out[s_win].clone()
        out[s_win] = beta * feature + keep * noise[j][s_win]
        out[t_win] = alpha * feature
    return out


def copy_paste_noisy(x: torch.Tensor, sigma: float, family, sources, targets, alpha: float = 1.1,
                     beta: float = 0.3, r: int = 5, seed: int = 0) -> torch.Tensor:
    """:func:`copy_paste` on a noisy latent at ``sigma``, done in VP-normalised coordinates."""
    scale = NoiseFamily.parse(family).vp_scale(float(sigma))
    return copy_paste(x * scale, sources, targets, alpha=alpha, beta=beta, r=r, seed=seed) / scale
