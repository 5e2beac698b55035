"""SDE-Drag's tensor operations (docs/ALGORITHMS.md section 4): copy-paste and the drag schedule.

Locations here are latent cells ``(x, y)`` (``pixel // 8`` for SD and Flux latents, see
:func:`pixels_to_cells`); latents are indexed ``[..., y, x]``.
"""

from __future__ import annotations

import math

import torch

from ._util import check_latent, seeded_normal
from .schedule import NoiseFamily

__all__ = ["pixels_to_cells", "drag_schedule", "copy_paste", "copy_paste_noisy", "FILLS", "arrow_transform",
           "warp_region", "region_move", "region_move_noisy", "dilate_cells", "path_noise_std"]

FILLS = ("unit", "path")  # the fresh noise of the vacated area: the paper's unit variance, or the path's level

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


def paste_count(moves, step: float) -> int:
    """``m = round(L / step)``, at least 1, where ``L`` is the longest of the ``(dx, dy)`` moves (cells):
    how many iterations a drag is split into (windows and regions alike)."""
    if not (step > 0):
        raise ValueError(f"step: the drag step size must be > 0 latent cells, got {step}")
    longest = max(math.hypot(dx, dy) for dx, dy in moves)
    return max(1, int(math.floor(longest / step + 0.5)))


def drag_schedule(sources, targets, step: float = 2.0) -> list[tuple[list[Cell], list[Cell]]]:
    """Split a multi-pair drag into ``m = round(L / step)`` (at least 1) small drags.

    ``L`` is the longest pair distance (latent cells). All pairs move together: pair ``j``'s
    iteration ``i`` goes from ``s_j + floor(i d_j / m)`` to ``s_j + floor((i + 1) d_j / m)``
    (exact integer arithmetic, so the last iteration ends on the target).
    """
    src, tgt = _pairs(sources, targets)
    d = [(tx - sx, ty - sy) for (sx, sy), (tx, ty) in zip(src, tgt)]
    m = paste_count(d, step)

    def at(k):
        return [(sx + (k * dx) // m, sy + (k * dy) // m) for (sx, sy), (dx, dy) in zip(src, d)]

    return [(at(i), at(i + 1)) for i in range(m)]


def copy_paste(latent: torch.Tensor, sources, targets, alpha: float = 1.1, beta: float = 0.3, r: int = 5,
               seed: int = 0, noise_std: float = 1.0) -> torch.Tensor:
    """Copy the window around each source cell to its target cell (a new tensor; input untouched).

    For each pair in order, with the window of half-width ``r`` clamped (the same extent for
    source and target) so both stay inside the latent:
    ``F = x[S]``; ``x[S] = beta F + sqrt(1 - beta^2) noise_std xi``; ``x[T] = alpha F``.
    Later pairs win overlaps. Meant for unit-variance (VP-normalised) noisy latents, where
    ``beta`` keeps the source window's variance at 1 (``noise_std`` 1, the paper's); see
    :func:`copy_paste_noisy`.
    Windows are ``2r + 1`` cells, centred on the point (the reference code's are ``2r`` cells).
    """
    check_latent(latent, "latent")
    if latent.dim() < 2:
        raise ValueError(f"latent: expected at least 2 dimensions (..., H, W), got shape {tuple(latent.shape)}")
    if not (0.0 <= beta <= 1.0):
        raise ValueError(f"beta: must lie in [0, 1], got {beta}")
    if r < 0:
        raise ValueError(f"r: the window half-width must be >= 0, got {r}")
    _check_noise_std(noise_std)
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
        out[s_win] = beta * feature + keep * (noise_std * noise[j][s_win])
        out[t_win] = alpha * feature
    return out


def copy_paste_noisy(x: torch.Tensor, sigma: float, family, sources, targets, alpha: float = 1.1,
                     beta: float = 0.3, r: int = 5, seed: int = 0, fill: str = "unit") -> torch.Tensor:
    """:func:`copy_paste` on a noisy latent at ``sigma``, done in VP-normalised coordinates.

    ``fill`` sets the fresh noise in the vacated source window: ``"unit"`` (the paper's: unit
    variance, which at a low ``sigma`` is far more than the path's own noise and leaves speckle)
    or ``"path"`` (the noise std the path has at ``sigma`` in those coordinates, see
    :func:`path_noise_std`).
    """
    family = NoiseFamily.parse(family)
    scale = family.vp_scale(float(sigma))
    return copy_paste(x * scale, sources, targets, alpha=alpha, beta=beta, r=r, seed=seed,
                      noise_std=_fill_std(fill, family, sigma)) / scale


def path_noise_std(family, sigma: float) -> float:
    """The noise std of a latent at ``sigma`` in VP-normalised coordinates: ``sigma * vp_scale(sigma)``
    (0.39 at flow sigma 0.3; 1 at the top of the schedule)."""
    family = NoiseFamily.parse(family)
    return float(sigma) * family.vp_scale(float(sigma))


def _fill_std(fill: str, family: NoiseFamily, sigma: float) -> float:
    if fill not in FILLS:
        raise ValueError(f"fill: expected one of {', '.join(FILLS)}, got {fill!r}")
    return 1.0 if fill == "unit" else path_noise_std(family, sigma)


def _check_noise_std(noise_std: float) -> None:
    if not (0.0 <= noise_std <= 1.0):
        raise ValueError(f"noise_std: the vacated area's fresh noise std must lie in [0, 1], got {noise_std}")


# --- region drag --------------------------------------------------------------------------------------
def arrow_transform(sources, targets) -> torch.Tensor:
    """The 2x3 map ``[A | b]`` (float64) that takes the ``sources`` points to the ``targets``.

    One pair: a translation. Two pairs: a similarity (translation, rotation, uniform scale) that
    maps both exactly. Three or more: the least-squares affine map (exact for three points not on
    one line). Points are ``(x, y)`` in any one unit (pixels or cells); the map is in that unit.
    """
    src = torch.tensor([_xy(p, "sources") for p in sources], dtype=torch.float64).reshape(-1, 2)
    tgt = torch.tensor([_xy(p, "targets") for p in targets], dtype=torch.float64).reshape(-1, 2)
    if len(src) == 0:
        raise ValueError("sources: at least one drag pair is needed")
    if len(src) != len(tgt):
        raise ValueError(f"targets: {len(tgt)} target points for {len(src)} source points; they must pair up")
    m = torch.zeros(2, 3, dtype=torch.float64)
    if len(src) == 1:
        m[0, 0] = m[1, 1] = 1.0
        m[:, 2] = tgt[0] - src[0]
        return m
    if len(src) == 2:
        s = complex(*(src[1] - src[0]).tolist())
        if abs(s) < 1e-9:
            raise ValueError("sources: the two arrows start at the same point; a rotation or scale needs two "
                             "different source points")
        z = complex(*(tgt[1] - tgt[0]).tolist()) / s  # rotation and scale as one complex factor
        m[0, 0], m[0, 1], m[1, 0], m[1, 1] = z.real, -z.imag, z.imag, z.real
        m[:, 2] = tgt[0] - m[:, :2] @ src[0]
        return _invertible(m)
    design = torch.cat([src, torch.ones(len(src), 1, dtype=torch.float64)], 1)
    if torch.linalg.matrix_rank(src - src.mean(0), atol=1e-9) < 2:
        raise ValueError("sources: the arrows start on one line, which does not fix an affine map; use two "
                         "arrows (move, rotate and scale) or start the third arrow off that line")
    return _invertible(torch.linalg.lstsq(design, tgt).solution.T.contiguous())


def _invertible(m: torch.Tensor) -> torch.Tensor:
    if abs(float(torch.linalg.det(m[:, :2]))) < 1e-9:
        raise ValueError("targets: the arrows' map squashes the region flat (two ends coincide); move the "
                         "arrows' ends apart")
    return m


def _xy(p, name):
    try:
        x, y = float(p[0]), float(p[1])
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"{name}: expected [x, y] points, got {p!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{name}: expected finite [x, y] points, got {p!r}")
    return (x, y)


def _source_cells(matrix: torch.Tensor, h: int, w: int, device):
    """For every cell ``(i, j)``: the cell whose centre the inverse map sends its centre nearest to
    (``floor`` of the mapped centre), and whether that lies inside the ``h x w`` plane."""
    m = torch.as_tensor(matrix, dtype=torch.float64)
    if m.shape != (2, 3) or not torch.isfinite(m).all():
        raise ValueError(f"matrix: expected a finite 2x3 map [A | b], got shape {tuple(m.shape)}")
    if abs(float(torch.linalg.det(m[:, :2]))) < 1e-9:
        raise ValueError("matrix: the map squashes the region flat (its 2x2 part is singular); move the arrows "
                         "apart")
    inv = torch.linalg.inv(m[:, :2])
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64) + 0.5, torch.arange(w, dtype=torch.float64) + 0.5,
                            indexing="ij")
    px, py = xs - m[0, 2], ys - m[1, 2]
    sx = torch.floor(inv[0, 0] * px + inv[0, 1] * py).long()
    sy = torch.floor(inv[1, 0] * px + inv[1, 1] * py).long()
    valid = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
    return sy.clamp(0, h - 1).to(device), sx.clamp(0, w - 1).to(device), valid.to(device)


def _region(region, like: torch.Tensor, name: str = "region") -> torch.Tensor:
    """The region as a boolean tensor of the latent's shape (a cell is inside where the mask >= 1/2)."""
    if not isinstance(region, torch.Tensor):
        raise ValueError(f"{name}: expected a mask tensor (1 = the region to move), got {type(region).__name__}")
    try:
        shape = torch.broadcast_shapes(region.shape, like.shape)
    except RuntimeError:
        shape = None
    if shape != like.shape:
        raise ValueError(f"{name}: shape {tuple(region.shape)} does not broadcast to the latent's shape "
                         f"{tuple(like.shape)} (resize it to the latent, e.g. (B, 1, H, W))")
    inside = (region.to(like.device) >= 0.5).expand(like.shape)
    if not bool(inside.any()):
        raise ValueError(f"{name}: the region is empty; paint the region to move (white = move)")
    return inside


def warp_region(latent: torch.Tensor, region, matrix) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest-cell warp of a latent and its region: ``(warped, moved)`` where ``warped[c] =
    latent[floor(T^-1(c))]`` and ``moved`` (bool) marks the cells of ``T(region)`` inside the plane.

    Values are copied, never interpolated, so a noisy latent keeps its noise statistics. ``matrix`` is
    ``[A | b]`` in cells (:func:`arrow_transform`); the last two dims are ``(H, W)`` and every leading
    dim (batch, channels, video frames) gets the same map.
    """
    check_latent(latent, "latent")
    if latent.dim() < 2:
        raise ValueError(f"latent: expected at least 2 dimensions (..., H, W), got shape {tuple(latent.shape)}")
    return _warp(latent, _region(region, latent), matrix)


def _warp(latent, inside, matrix):
    h, w = latent.shape[-2:]
    sy, sx, valid = _source_cells(matrix, h, w, latent.device)
    return latent[..., sy, sx], inside[..., sy, sx] & valid


def region_move(latent: torch.Tensor, region, matrix, alpha: float = 1.0, beta: float = 0.3, seed: int = 0,
                noise_std: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Move the region by the map: ``(moved latent, union of the region and its image)`` (a new tensor).

    Cells of ``T(region)`` take ``alpha`` times the warped latent (:func:`warp_region`); cells the
    region leaves take ``beta x + sqrt(1 - beta^2) noise_std xi`` (SDE-Drag's source window); every
    other cell is the input's, bit for bit. The identity map with ``alpha`` 1 changes nothing, and a
    translation by whole cells with ``alpha`` 1 moves the region's values exactly.
    """
    _check_noise_std(noise_std)
    check_latent(latent, "latent")
    out, inside, moved = moved_region(latent, region, matrix, alpha, beta, seed, noise_std)
    return out, inside | moved


def moved_region(latent, region, matrix, alpha, beta, seed, noise_std):
    """:func:`region_move`'s work, package-internal: ``(out, inside, moved)`` with the region and its
    image kept apart (region drag's next iteration starts from ``moved``). ``noise_std`` unchecked."""
    if not (0.0 <= beta <= 1.0):
        raise ValueError(f"beta: must lie in [0, 1], got {beta}")
    inside = _region(region, latent)
    warped, moved = _warp(latent, inside, matrix)
    vacated = inside & ~moved
    out = latent
    if bool(vacated.any()):
        xi = seeded_normal(latent.shape, seed, 1, latent.device, latent.dtype)[0]
        keep = math.sqrt(max(0.0, 1.0 - beta * beta)) * noise_std
        out = torch.where(vacated, beta * latent + keep * xi, out)
    return torch.where(moved, alpha * warped, out), inside, moved


def region_move_noisy(x: torch.Tensor, sigma: float, family, region, matrix, alpha: float = 1.0,
                      beta: float = 0.3, seed: int = 0, fill: str = "unit"):
    """:func:`region_move` on a noisy latent at ``sigma``, with the fresh noise of VP-normalised
    coordinates (``fill`` as in :func:`copy_paste_noisy`). The warp itself is a copy, so it runs in
    native coordinates: cells that do not change keep their bits."""
    out, inside, moved = moved_region_noisy(x, sigma, family, region, matrix, alpha, beta, seed, fill)
    return out, inside | moved


def moved_region_noisy(x, sigma, family, region, matrix, alpha, beta, seed, fill):
    """:func:`region_move_noisy` as :func:`moved_region`: ``(out, inside, moved)``."""
    family = NoiseFamily.parse(family)
    scale = family.vp_scale(float(sigma))
    return moved_region(x, region, matrix, alpha, beta, seed, _fill_std(fill, family, sigma) / scale)


def dilate_cells(mask: torch.Tensor, cells: int) -> torch.Tensor:
    """A boolean/float mask grown by ``cells`` in its last two dims (square neighbourhood), as float."""
    m = mask.to(torch.float32)
    if cells <= 0:
        return m
    shape = m.shape
    flat = m.reshape(-1, 1, *shape[-2:])
    out = torch.nn.functional.max_pool2d(flat, 2 * cells + 1, stride=1, padding=cells)
    return out.reshape(shape)

