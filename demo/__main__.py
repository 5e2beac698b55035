"""The main job on the demo scene model, without ComfyUI and without downloads:

    python3 -m comfyui_coupled_sde.demo [--out coupled_sde_demo.png] [--seed 0] [--threads 1]

1. a source scene generated from :data:`CAPTION` (28 posterior SDE steps, seeded);
2. a **sync-SDE edit** of one word (the red circle turns green);
3. a **Cycle-SDE reconstruction** (the same caption: exact) and a **Cycle-SDE edit** (another word:
   the yellow triangle becomes a circle), both from one inversion;
4. an **SDE-Drag** of the blue square by 1-4 px;
5. a PNG grid, one row per job: source, result, ``|difference|`` heat map (:mod:`.png`, standard
   library only);
6. one line of numbers per job on stdout, and the wall time (about 1.5 s after the imports on one
   CPU thread; 148 network evaluations of one 32x32 image).

Every sample and edit is computed by the core (``comfyui_coupled_sde.sampling``); the numbers are
measured here on the images, from the scene world's palette (:data:`PALETTE`), with no judge.
Randomness: local generators seeded from ``--seed`` only.

Settings (:class:`Settings`), measured on seeds 0-5 with the scene benchmark's judge:

* The caption names a **noisy** background: this model draws a "striped" caption's background as
  the noisy texture too (6 of 6 samples), and the demo should show a scene that matches its caption.
* sync-SDE and Cycle-SDE start at step 8 of the 28-step grid (sigma 0.71), the scene benchmark's
  start with the highest edit accuracy, with cfg 1 on both prompts: every edit succeeded on all six
  seeds at cfg 1 and at cfg 2, and cfg 1 keeps the rest twice as close (mean |d| outside the edited
  object 0.004-0.008 against 0.009-0.021). A later start fails here (at step 10, 5 of 8 seeds turn
  the circle green; at 12, 1 of 8), so the edit redraws the object: on seeds 0-7 its centre moved
  0.8-3.1 px (seed 0: 1.8) and its area changed by a factor 0.42-1.07, while the other objects
  stayed within 0.2 px.
* SDE-Drag: window half-width r = 5 px (about the object's radius + 1), t0 = 0.3, 10 steps, one
  paste (the drag step is the drag's length), cfg 1. The drag is at most 4 px and keeps the
  object's centre within the training data's +-2 px jitter around its quadrant's centre (a target
  outside it is pulled back to where the caption puts the object); the centre moved 1.9-3.2 px for
  2-3 px asked on the six seeds.
* One CPU thread by default: the network runs one image at a time, and on two shared cores the
  whole job took 16-47 s with two threads against 1.3-2.6 s with one (after the imports).
"""

from __future__ import annotations

import argparse
import math
import pathlib
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..sampling import cycle_sde_invert, cycle_sde_sample, sde_drag, sync_sde_edit
from .denoiser import SceneDenoiser, generate, load, sigma_grid
from .png import draw_text, heat, text_width, to_uint8, write_png
from .scene_net import SIZE

CAPTION = ("a red circle top left and a yellow triangle top right and a blue square bottom right "
           "on a noisy grey background")

# The scene world's object colours and quadrant centres (the training data's, benchmarks/scenes/scene_data.py).
PALETTE = {"red": (0.86, 0.12, 0.12), "green": (0.10, 0.72, 0.18), "blue": (0.12, 0.25, 0.90),
           "yellow": (0.92, 0.84, 0.10)}
QUADRANTS = {"top left": (8.0, 8.0), "top right": (24.0, 8.0), "bottom left": (8.0, 24.0),
             "bottom right": (24.0, 24.0)}
JITTER = 2.0  # px: the training data's objects sit within this distance of their quadrant's centre, per axis


@dataclass(frozen=True)
class Settings:
    """What the command runs (the defaults are the measured choices; see the module docstring)."""

    steps: int = 28  # the uniform flow grid of the source sample and the edits
    source_cfg: float = 1.0
    # sync-SDE: one word of the caption, started at step `edit_start` of the grid (sigma 1 - 8/28 = 0.71)
    sync_words: tuple = ("red circle", "green circle")
    sync_object: tuple = ("red", "top left")  # the edited object's colour and quadrant in the source
    edit_start: int = 8
    edit_cfg: float = 1.0
    # Cycle-SDE: inversion with the source caption, then sampling with the same / an edited caption
    cycle_words: tuple = ("yellow triangle", "yellow circle")
    cycle_object: tuple = ("yellow", "top right")
    cycle_start: int = 8
    cycle_cfg: float = 1.0
    # SDE-Drag: one object, one paste (drag step = the drag length), window half-width r
    drag_object: tuple = ("blue", "bottom right")
    drag_max_px: int = 4
    drag_t0: float = 0.3
    drag_steps: int = 10
    drag_r: int = 5
    drag_cfg: float = 1.0


# --- measurements on the images (unit range [0, 1]) ---------------------------------------------------
def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x.detach().float().clamp(-1, 1) + 1) / 2


def _chroma(rgb: torch.Tensor) -> torch.Tensor:
    """Colour without brightness: ``rgb - mean(rgb)`` over the channel axis (-3)."""
    return rgb - rgb.mean(-3, keepdim=True)


_PALETTE_Q = _chroma(torch.tensor(list(PALETTE.values()))[:, :, None, None])[:, :, 0, 0]  # (4, 3)


def colour_coverage(x: torch.Tensor, colour: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(hard, soft)`` maps ``(N, H, W)`` of a palette colour in model-range images ``x``.

    The background texture is grey, added to R, G and B alike, so the background's chroma is its
    base colour's (taken as the median over the image). ``hard``: pixels whose chroma is nearer this
    colour's than the background's or another palette colour's. ``soft``: the projection of the
    chroma on the background-to-colour segment, in [0, 1], on ``hard`` dilated by 1 px (the rim)."""
    q = _chroma(_unit(x))  # (N, 3, H, W)
    bg = q.flatten(2).median(-1).values[:, :, None, None]  # (N, 3, 1, 1)
    refs = torch.cat([bg[:, None], _PALETTE_Q[None, :, :, None, None].expand(len(x), -1, -1, 1, 1)], 1)
    nearest = (q[:, None] - refs).norm(dim=2).argmin(1)  # (N, H, W): 0 background, 1 + palette index
    k = list(PALETTE).index(colour)
    hard = nearest == 1 + k
    seg = _PALETTE_Q[k][None, :, None, None] - bg
    soft = ((q - bg) * seg).sum(1) / (seg * seg).sum(1).clamp_min(1e-6)
    rim = F.max_pool2d(hard[:, None].float(), 3, 1, 1)[:, 0] > 0
    return hard, soft.clamp(0, 1) * rim


def quadrant_window(position: str, margin: int = 2) -> torch.Tensor:
    """``(H, W)`` bool: the quadrant, widened by ``margin`` px towards the image's middle."""
    cx, cy = QUADRANTS[position]
    xs = torch.arange(SIZE)
    inx = (xs < SIZE // 2 + margin) if cx < SIZE / 2 else (xs >= SIZE // 2 - margin)
    iny = (xs < SIZE // 2 + margin) if cy < SIZE / 2 else (xs >= SIZE // 2 - margin)
    return iny[:, None] & inx[None, :]


def object_mask(x: torch.Tensor, colour: str, position: str) -> torch.Tensor:
    """``(N, H, W)`` bool: the pixels of ``colour`` in the quadrant ``position``."""
    return colour_coverage(x, colour)[0] & quadrant_window(position)


def centroid(x: torch.Tensor, colour: str, position: str) -> tuple[float, float]:
    """Coverage-weighted centre ``(cx, cy)`` in px (pixel ``i`` spans ``[i, i + 1)``) of the one
    object of ``colour`` in the quadrant ``position`` (first image of ``x``)."""
    w = colour_coverage(x[:1], colour)[1][0] * quadrant_window(position)
    mass = float(w.sum())
    if mass <= 0:
        return float("nan"), float("nan")
    grid = torch.arange(SIZE, dtype=torch.float32) + 0.5
    return float((w * grid[None, :]).sum()) / mass, float((w * grid[:, None]).sum()) / mass


def colour_name(x: torch.Tensor, mask: torch.Tensor) -> str:
    """The palette colour nearest the mean chroma of ``x`` (first image) over ``mask`` (``(H, W)``)."""
    if not bool(mask.any()):
        return "none"
    q = _chroma(_unit(x[:1]))[0][:, mask].mean(1)
    return list(PALETTE)[int((_PALETTE_Q - q).norm(dim=1).argmin())]


def mean_abs(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean ``|a - b|`` in unit range over the channels and the pixels of ``mask`` (``(H, W)``; all if None)."""
    d = (_unit(a[:1]) - _unit(b[:1])).abs().mean(1)[0]
    return float(d.mean()) if mask is None else float(d[mask].mean()) if bool(mask.any()) else float("nan")


def dilate(mask: torch.Tensor, px: int) -> torch.Tensor:
    return F.max_pool2d(mask.float()[None, None], 2 * px + 1, 1, px)[0, 0] > 0


def edit_region(source: torch.Tensor, result: torch.Tensor, colours: tuple, position: str) -> torch.Tensor:
    """``(H, W)`` bool: the edited object in the source or the result (its colour in that quadrant), + 1 px."""
    a = object_mask(source, colours[0], position)[0]
    b = object_mask(result, colours[1], position)[0]
    return dilate(a | b, 1)


# --- the jobs ----------------------------------------------------------------------------------------------
@dataclass
class Job:
    key: str  # "sync", "cycle_reconstruction", "cycle_edit", "drag"
    name: str  # the row's label
    summary: str  # the row's numbers, short
    line: str  # the printed line
    source: torch.Tensor
    result: torch.Tensor
    numbers: dict


def _caption_edit(words: tuple) -> str:
    if words[0] not in CAPTION:
        raise ValueError(f"{words[0]!r} is not in the caption {CAPTION!r}")
    return CAPTION.replace(words[0], words[1])


def _edit_numbers(x0, y, object_colour, new_colour, position) -> dict:
    region = edit_region(x0, y, (object_colour, new_colour), position)
    obj = object_mask(y, new_colour, position)[0]
    src_obj = object_mask(x0, object_colour, position)[0]
    (ax, ay), (bx, by) = centroid(x0, object_colour, position), centroid(y, new_colour, position)
    return {"moved": math.hypot(bx - ax, by - ay), "area_before": int(src_obj.sum()), "area_after": int(obj.sum()),
            "inside": mean_abs(y, x0, region), "outside": mean_abs(y, x0, ~region),
            "outside_max": float((_unit(y[:1]) - _unit(x0[:1])).abs().amax(1)[0][~region].max()),
            "colour_before": colour_name(x0, src_obj), "colour_after": colour_name(y, obj if obj.any() else region),
            "fill_before": fill(x0, object_colour, position), "fill_after": fill(y, new_colour, position)}


def fill(x: torch.Tensor, colour: str, position: str) -> float:
    """Coverage over its bounding box of the object of ``colour`` in ``position``: ~0.5 for a
    triangle, ~pi/4 for a circle, ~1 for a square (soft coverage, so the rim counts in part)."""
    w = colour_coverage(x[:1], colour)[1][0] * quadrant_window(position)
    if float(w.sum()) <= 0:
        return float("nan")
    width, height = float(w.amax(0).sum()), float(w.amax(1).sum())
    return float(w.sum()) / max(width * height, 1e-6)


def sync_job(model: SceneDenoiser, x0: torch.Tensor, s: Settings, seed: int) -> Job:
    target = _caption_edit(s.sync_words)
    sig = sigma_grid(s.steps)[s.edit_start:]
    y = sync_sde_edit(x0, sig, model.family, model.bind(CAPTION, s.edit_cfg), model.bind(target, s.edit_cfg),
                      seed=seed)
    colour, position = s.sync_object
    n = _edit_numbers(x0, y, colour, s.sync_words[1].split()[0], position)
    n.update(start_sigma=float(sig[0]), cfg=s.edit_cfg, target=target)
    return Job(
        "sync",
        f"sync-SDE: {s.sync_words[0]} > {s.sync_words[1]}  (start {s.edit_start}/{s.steps}, cfg {s.edit_cfg:g})",
        f"{n['colour_before']} > {n['colour_after']}; mean |d| inside {n['inside']:.3f}, outside {n['outside']:.4f}",
        f"sync-SDE edit '{s.sync_words[0]}' -> '{s.sync_words[1]}' (start {s.edit_start}/{s.steps}, sigma "
        f"{float(sig[0]):.2f}, cfg {s.edit_cfg:g}): the object's colour {n['colour_before']} -> {n['colour_after']} "
        f"(redrawn: centre moved {n['moved']:.1f} px, area {n['area_before']} -> {n['area_after']} px); mean |d| "
        f"inside {n['inside']:.3f}, outside {n['outside']:.4f} (max {n['outside_max']:.3f})",
        x0, y, n)


def cycle_jobs(model: SceneDenoiser, x0: torch.Tensor, s: Settings, seed: int) -> list[Job]:
    sig = sigma_grid(s.steps)[s.cycle_start:]
    inc = cycle_sde_invert(x0, sig, model.family, model.bind(CAPTION, s.cycle_cfg), seed=seed)
    rec = cycle_sde_sample(inc, model.bind(CAPTION, s.cycle_cfg))
    err = float((rec - x0).abs().max())
    rec_job = Job(
        "cycle_reconstruction", f"Cycle-SDE reconstruction: the same caption  (start {s.cycle_start}/{s.steps})",
        f"max |error| {err:.3g}",
        f"Cycle-SDE reconstruction (start {s.cycle_start}/{s.steps}, sigma {float(sig[0]):.2f}, cfg {s.cycle_cfg:g}): "
        f"max |error| {err:.3g} (model range [-1, 1])",
        x0, rec, {"max_error": err, "start_sigma": float(sig[0])})
    target = _caption_edit(s.cycle_words)
    y = cycle_sde_sample(inc, model.bind(target, s.cycle_cfg))  # the same inversion, another caption
    colour, position = s.cycle_object
    n = _edit_numbers(x0, y, colour, s.cycle_words[1].split()[0], position)
    n.update(start_sigma=float(sig[0]), cfg=s.cycle_cfg, target=target)
    edit_job = Job(
        "cycle_edit", f"Cycle-SDE edit: {s.cycle_words[0]} > {s.cycle_words[1]}  (the same inversion)",
        f"fill {n['fill_before']:.2f} > {n['fill_after']:.2f}; mean |d| inside {n['inside']:.3f}, "
        f"outside {n['outside']:.4f}",
        f"Cycle-SDE edit '{s.cycle_words[0]}' -> '{s.cycle_words[1]}' (the same inversion): the object's fill of its "
        f"bounding box {n['fill_before']:.2f} -> {n['fill_after']:.2f} (triangle ~0.5, circle ~0.79, square ~1), "
        f"mean |d| inside {n['inside']:.3f}, outside {n['outside']:.4f} (max {n['outside_max']:.3f})",
        x0, y, n)
    return [rec_job, edit_job]


def drag_vector(cx: float, cy: float, position: str, max_px: int) -> tuple[int, int]:
    """The drag, in whole px along one axis, that keeps the object within the training data's
    jitter around its quadrant's centre (a target outside it is pulled back to where the caption
    puts the object): across the centre, along the axis where the object is farther from it."""
    qx, qy = QUADRANTS[position]
    ox, oy = cx - qx, cy - qy
    off = ox if abs(ox) >= abs(oy) else oy
    d = -int(math.copysign(1, off)) * max(1, min(max_px, int(math.floor(JITTER + abs(off)))))
    return (d, 0) if abs(ox) >= abs(oy) else (0, d)


def drag_job(model: SceneDenoiser, x0: torch.Tensor, s: Settings, seed: int) -> Job:
    colour, position = s.drag_object
    cx, cy = centroid(x0, colour, position)
    if not (math.isfinite(cx) and math.isfinite(cy)):
        raise RuntimeError(f"SDE-Drag: the source has no {colour} object {position}; try another --seed")
    dx, dy = drag_vector(cx, cy, position, s.drag_max_px)
    src = (int(cx), int(cy))  # the pixel cell holding the centre
    tgt = (src[0] + dx, src[1] + dy)
    sig = torch.linspace(s.drag_t0, 0.0, s.drag_steps + 1, dtype=torch.float64)
    y = sde_drag(x0, sig, model.family, model.bind(CAPTION, s.drag_cfg), [src], [tgt], seed=seed,
                 step=math.hypot(dx, dy), r=s.drag_r)  # a step as long as the drag: one paste
    mx, my = centroid(y, colour, position)
    keep = torch.ones(SIZE, SIZE, dtype=torch.bool)
    for (px, py) in (src, tgt):
        keep[max(0, py - s.drag_r): py + s.drag_r + 1, max(0, px - s.drag_r): px + s.drag_r + 1] = False
    n = {"source_point": src, "target_point": tgt, "requested": (dx, dy), "source_centre": (cx, cy),
         "result_centre": (mx, my), "moved": (mx - cx, my - cy), "outside": mean_abs(y, x0, keep)}
    return Job(
        "drag", f"SDE-Drag: the {colour} object by ({dx:+d}, {dy:+d}) px  (t0 {s.drag_t0:g}, r {s.drag_r}, one paste)",
        f"centre moved ({mx - cx:+.2f}, {my - cy:+.2f}) px; mean |d| outside the windows {n['outside']:.4f}",
        f"SDE-Drag of the {colour} object {src} -> {tgt} (t0 {s.drag_t0:g}, {s.drag_steps} steps, r {s.drag_r}, one "
        f"paste, cfg {s.drag_cfg:g}): its centre moved ({mx - cx:+.2f}, {my - cy:+.2f}) px for ({dx:+d}, {dy:+d}) "
        f"requested; mean |d| outside the windows {n['outside']:.4f}",
        x0, y, n)


# --- the grid ----------------------------------------------------------------------------------------------
HEAT_MAX = 0.25  # |difference| (unit range, channel mean) shown white


def grid_image(jobs: list[Job], scale: int = 8, gutter: int = 4, margin: int = 8) -> torch.Tensor:
    """``(H, W, 3)`` uint8: column titles, then per job two lines of text and source / result / |difference|."""
    tile = SIZE * scale
    text = 2  # font scale: 6x10 px glyphs
    line_h = 5 * text + 4
    width = 2 * margin + 3 * tile + 2 * gutter
    height = 2 * margin + line_h + len(jobs) * (gutter + 2 * line_h + tile)
    canvas = torch.full((height, width, 3), 255, dtype=torch.uint8)
    titles = ("source", "result", f"|difference|, white = {HEAT_MAX:g}")
    for c, t in enumerate(titles):
        draw_text(canvas, t, margin + c * (tile + gutter) + (tile - text_width(t, text)) // 2, margin, text,
                  (90, 90, 90))
    y = margin + line_h
    for job in jobs:
        y += gutter
        draw_text(canvas, job.name, margin, y, text, (0, 0, 0))
        draw_text(canvas, job.summary, margin, y + line_h, text, (40, 40, 160))
        y += 2 * line_h
        diff = (_unit(job.result[0]) - _unit(job.source[0])).abs().mean(0)
        panels = (to_uint8(job.source[0], scale), to_uint8(job.result[0], scale), heat(diff, HEAT_MAX, scale))
        for c, panel in enumerate(panels):
            x = margin + c * (tile + gutter)
            canvas[y:y + tile, x:x + tile] = panel
        y += tile
    return canvas


# --- the command -----------------------------------------------------------------------------------------
def run(out="coupled_sde_demo.png", seed: int = 0, settings: Settings = Settings(), model: SceneDenoiser | None = None,
        log=print) -> dict:
    """Runs the main job and writes the grid to ``out``; returns ``{"jobs", "seconds", "png", "source"}``."""
    t_start = time.perf_counter()
    model = load() if model is None else model
    x0 = generate(model, [CAPTION], steps=settings.steps, cfg=settings.source_cfg, seed=seed)
    log(f"source: '{CAPTION}' ({settings.steps} posterior steps, cfg {settings.source_cfg:g}, seed {seed})")
    jobs = [sync_job(model, x0, settings, seed + 1), *cycle_jobs(model, x0, settings, seed + 2),
            drag_job(model, x0, settings, seed + 3)]
    for job in jobs:
        log(job.line)
    png = write_png(out, grid_image(jobs))
    seconds = time.perf_counter() - t_start
    log(f"wrote {png} ({png.stat().st_size // 1024} KB); {model.net_evals} network evaluations, "
        f"wall time {seconds:.1f} s (the model's loading included, Python's and torch's start-up not)")
    return {"jobs": {j.key: j for j in jobs}, "seconds": seconds, "png": png, "source": x0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m comfyui_coupled_sde.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("coupled_sde_demo.png"), help="the PNG grid")
    p.add_argument("--seed", type=int, default=0, help="seeds the source sample and every edit (local generators)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: the network is small and runs one image at a time)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    run(args.out, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
