"""SDE-Drag as V3 nodes: the point/mask editor node, one composable copy-paste step, and the
all-in-one multi-iteration SDE Drag. Node ids are permanent."""

from __future__ import annotations

import dataclasses
import math

import torch
from comfy_api.latest import io, ui

from ..sampling import arrow_transform, copy_paste_noisy, sde_drag
from . import bridge
from .common import (
    CATEGORY,
    DragPointsType,
    PathType,
    SourcePath,
    batch_branches_input,
    branch,
    edit_latent,
    edit_mask,
    log_hint,
    mask_advice,
    mask_input,
    model_input,
    seed_input,
    solver_input,
)
from .points import DragPoints, parse_drag_points, strokes_to_mask

EMPTY_POINTS = '{"sources": [], "targets": []}'


def _drag_points_input():
    return DragPointsType.Input("drag_points", tooltip=(
        "Source -> target pairs in image pixels, from Drag Points (the in-graph editor)."))


def _copy_paste_inputs():
    return [
        io.Float.Input("alpha", default=1.1, min=0.0, max=3.0, step=0.01, tooltip=(
            "Strength of the pasted window: target = alpha x source window (paper: 1.1).")),
        io.Float.Input("beta", default=0.3, min=0.0, max=1.0, step=0.01, tooltip=(
            "How much of the old content stays in the source window; the rest is fresh noise (paper: 0.3).")),
        io.Int.Input("r", default=5, min=0, max=64, tooltip=(
            "Half-width of the copied window in latent cells (a (2r+1)^2 window; 1 cell = 8 pixels; paper: 5).")),
    ]


MOVES = ("as drawn", "windows", "region")
FILL_OPTIONS = {"unit (paper)": "unit", "path level": "path"}


def _fill_input():
    return io.Combo.Input("fill", options=list(FILL_OPTIONS), default="unit (paper)", optional=True, tooltip=(
        "The fresh noise put where content leaves (the source window, or the area a region vacates). "
        "'unit (paper)': unit variance, the paper's; at a low t0 that is far more noise than the schedule has "
        "there (2.5x at t0 0.3) and can leave speckle. 'path level': the noise level the path has at t0, so the "
        "vacated area looks like the rest of the noisy image."))


def _move_inputs():
    return [
        io.Combo.Input("move", options=list(MOVES), default="as drawn", optional=True, tooltip=(
            "What moves. 'windows': SDE-Drag's (2r+1)-cell window around each arrow's start is pasted at its end "
            "(the paper). 'region': the MASK input is the region to move as a whole by the arrows' map (1 arrow "
            "moves it, 2 also rotate and scale it, 3 or more give an affine map); the edit is bounded to the "
            "region and where it lands, grown by region_margin, and is exact outside. 'as drawn': the mode set "
            "in Drag Points' editor (windows for points from other nodes).")),
        _fill_input(),
        io.Int.Input("region_margin", default=1, min=-1, max=64, optional=True, tooltip=(
            "Region move only: latent cells around the region and where it lands that may also change, so the "
            "edges blend (exact outside them). -1 = the whole image may change.")),
    ]


def resolve_move(move: str, points: DragPoints) -> str:
    if move not in MOVES:
        raise ValueError(f"move: expected one of {', '.join(MOVES)}, got {move!r}")
    return points.mode if move == "as drawn" else move


def resolve_fill(fill: str) -> str:
    if fill not in FILL_OPTIONS:
        raise ValueError(f"fill: expected one of {', '.join(FILL_OPTIONS)}, got {fill!r}")
    return FILL_OPTIONS[fill]


def _check_region_map(sources, targets) -> None:
    """The arrows' map for region drag, refused naming ``drag_points`` (the core names its own arguments)."""
    try:
        arrow_transform(sources, targets)
    except ValueError as e:
        raise ValueError("drag_points: " + str(e).split(": ", 1)[-1]) from None


def _check_image_plane(latent: torch.Tensor, name: str = "latent") -> None:
    """Refuse, naming ``name``, a latent without an image plane: a time latent ``(B, C, T)`` (audio)."""
    if latent.ndim < 4:
        raise ValueError(
            f"{name}: SDE-Drag needs an image or video latent, got shape {tuple(latent.shape)}, a time latent "
            "(B, C, T) such as audio (Stable Audio, ACE-Step 1.5). Drag points are 2-D positions on an image and "
            "the windows SDE-Drag copies are 2-D; an audio latent has no image plane to drag in.")


def _cells(points: DragPoints, latent: torch.Tensor):
    """Image-pixel points -> latent cells of ``latent`` (its last two dims)."""
    rows, cols = latent.shape[-2:]
    return points.cells(cols, rows)


class DragPointsEditor(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_DragPoints",
            display_name="Drag Points (SDE-Drag editor)",
            category=CATEGORY,
            description="Click source -> target arrows on the image and paint the editable region. The "
                        "points and strokes are stored in the workflow, so a shared workflow repeats the drag.",
            inputs=[
                io.Image.Input("image", tooltip="The image to drag in (shown in the editor; its size defines "
                                                "the pixel coordinates)."),
                io.String.Input("points", default=EMPTY_POINTS, multiline=True, tooltip=(
                    "Drag pairs as JSON, written by the editor: {\"sources\": [[x, y], ...], \"targets\": [[x, y], "
                    "...]} in image pixels. Also accepts [[sx, sy, tx, ty], ...] and KJNodes PointsEditor "
                    "coordinates (consecutive source, target).")),
                io.String.Input("mask_strokes", default="[]", multiline=True, tooltip=(
                    "The painted editable region as JSON discs [[x, y, radius, value], ...] (value 1 paints, 0 "
                    "erases), written by the editor. Empty = the whole image is editable.")),
                io.String.Input("target_points", optional=True, force_input=True, tooltip=(
                    "Optional: target points as a JSON point list; then 'points' holds the source list "
                    "(e.g. KJNodes PointsEditor positive -> points, negative -> target_points).")),
            ],
            outputs=[
                DragPointsType.Output(display_name="DRAG_POINTS", tooltip="The drag pairs, for SDE Drag."),
                io.Mask.Output(display_name="MASK", tooltip="The painted editable region (white = editable); "
                                                            "all white when nothing is painted."),
            ],
        )

    @classmethod
    def execute(cls, image, points, mask_strokes="[]", target_points=None) -> io.NodeOutput:
        height, width = int(image.shape[1]), int(image.shape[2])
        # no pair yet is fine here: the run still shows the picture in the editor; SDE Drag refuses it
        p = parse_drag_points(points, targets=target_points, name="points", allow_empty=True)
        p = dataclasses.replace(p, width=width, height=height)
        p.cells(width, height, name="points")  # every point inside the image
        mask = strokes_to_mask(mask_strokes, width, height)
        if mask is None:
            mask = torch.ones(1, height, width)
        # the image, for the editor (web/js/drag_editor.js reads this key when no Load Image is upstream);
        # not under "images", which the frontend would show again below the editor
        shown = ui.PreviewImage(image[:1], cls=cls).values
        return io.NodeOutput(p, mask, ui={"coupled_sde_drag_image": shown})


class CopyPasteLatents(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_CopyPasteLatents",
            display_name="Copy-Paste Latents (SDE-Drag step)",
            category=CATEGORY,
            description="One SDE-Drag step, composable: copy the noisy latent window around each source point "
                        "to its target at the path's first sigma (in unit-variance coordinates). Continue with "
                        "Backward Brownian Increments and Coupled Sampling using the SAME prompt.",
            inputs=[
                PathType.Input("path", tooltip="From Forward Noising, started at t0 (e.g. 60% of the schedule)."),
                _drag_points_input(),
                *_copy_paste_inputs(),
                seed_input(),
                _fill_input(),
            ],
            outputs=[PathType.Output(display_name="PATH", tooltip="The path with its pasted starting state.")],
        )

    @classmethod
    def execute(cls, path, drag_points, alpha=1.1, beta=0.3, r=5, seed=0, fill="unit (paper)") -> io.NodeOutput:
        if not isinstance(path, SourcePath):
            raise ValueError("path: expected the PATH output of a Forward Noising node")
        x = path.path.points[0] if path.start is None else path.start
        _check_image_plane(x, "path")
        p = parse_drag_points(drag_points)
        if p.mode == "region":
            raise ValueError("drag_points: drawn in the editor's region mode; Copy-Paste Latents moves windows. "
                             "Use SDE Drag (move: as drawn or region) to move a region, or switch the editor to "
                             "Points")
        src, tgt = _cells(p, x)
        start = copy_paste_noisy(x, path.path.sigmas[0], path.path.family, src, tgt, alpha=alpha, beta=beta,
                                 r=r, seed=seed, fill=resolve_fill(fill))
        return io.NodeOutput(dataclasses.replace(path, start=start))


class SDEDrag(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_SDEDrag",
            display_name="SDE Drag",
            category=CATEGORY,
            description="SDE-Drag (The Blessing of Randomness): drag content from source to target points. "
                        "Each of round(distance / drag_step) iterations noises the latent to t0 along a fresh "
                        "Brownian path, copy-pastes the windows, and reverses with the same prompt and the path's "
                        "increments (2 model evaluations per step, batched).",
            inputs=[
                model_input(),
                io.Conditioning.Input("positive", tooltip="A prompt describing the image (kept during the drag)."),
                io.Latent.Input("latent", tooltip="The image's latent (VAE Encode)."),
                _drag_points_input(),
                io.Conditioning.Input("negative", optional=True, tooltip=(
                    "Negative prompt for the CFG schedule (an empty prompt works); needed when cfg_max > 1.")),
                mask_input(),
                io.Float.Input("t0", default=0.5, min=0.01, max=1.0, step=0.01, tooltip=(
                    "Where each iteration starts, as a fraction of the noise schedule (paper: 0.6 on SD1.5). Higher = "
                    "more freedom to re-draw the seams and the vacated area, less precision. The drag benchmark "
                    "(docs/QUALITY.md): 0.3 is best when the window fits the object, 0.5 holds up for any window "
                    "size (the default).")),
                io.Int.Input("steps", default=100, min=2, max=1000, tooltip=(
                    "Steps of the whole schedule; each iteration runs round(t0 x steps) of them (paper GUI: 100).")),
                io.Float.Input("drag_step", default=64.0, min=0.1, max=64.0, step=0.1, tooltip=(
                    "Drag distance per iteration in latent cells (8 px); iterations = round(longest drag / this). "
                    "The default 64 is one paste for any drag up to 96 cells: in the drag benchmark one paste beats "
                    "several at the same cost (the paper: 2, with t0 0.6, on SD1.5).")),
                *_copy_paste_inputs(),
                io.Float.Input("cfg_max", default=1.0, min=1.0, max=20.0, step=0.1, tooltip=(
                    "CFG rises linearly from 1 at the end of each iteration to this at t0 (paper: 3 on SD1.5; the "
                    "drag benchmark's best is 1, where no negative prompt is needed).")),
                seed_input(),
                solver_input(),
                batch_branches_input("the path and the dragged latent (one prompt)", ""),
                *_move_inputs(),
            ],
            outputs=[io.Latent.Output(display_name="LATENT", tooltip="The dragged latent.")],
        )

    @classmethod
    def execute(cls, model, positive, latent, drag_points, negative=None, mask=None, t0=0.5, steps=100,
                drag_step=64.0, alpha=1.1, beta=0.3, r=5, cfg_max=1.0, seed=0, solver="posterior",
                batch_branches=True, move="as drawn", fill="unit (paper)", region_margin=1) -> io.NodeOutput:
        samples = bridge.latent_samples(model, latent)
        _check_image_plane(samples)
        p = parse_drag_points(drag_points)
        move = resolve_move(move, p)
        fill = resolve_fill(fill)
        src, tgt = _cells(p, samples)
        if move == "region" and mask is None and latent.get("noise_mask") is None:
            raise ValueError("mask: move 'region' moves the masked region; connect Drag Points' MASK (paint the "
                             "region in its editor) or another MASK, or set move to windows")
        if negative is None and cfg_max > 1.0:
            raise ValueError(f"negative: cfg_max {cfg_max:g} needs a negative prompt (an empty CLIP Text Encode "
                             "works), or set cfg_max to 1")
        prompt = branch(positive, negative, cfg_max, samples.shape[0], "positive")
        sig = bridge.drag_sigmas(model, steps, t0)
        n = sig.numel() - 1
        cfg_at = {float(s): 1.0 + (cfg_max - 1.0) * (n - i) / n for i, s in enumerate(sig[:-1].tolist())}
        m = edit_mask(mask, latent, samples, model)
        family = bridge.noise_family(model)

        if move == "region":  # continuous cells: rotation and scale need more than whole cells
            if not bool((m >= 0.5).any()):
                raise ValueError("mask: the region is empty at latent size (no latent cell is at least half white); "
                                 "paint the region to move (white = move)")
            arrows = p.cell_coords(samples.shape[-1], samples.shape[-2])
            _check_region_map(*arrows)
            where = dict(region=m, mask=None, margin=None if region_margin < 0 else region_margin)
        else:
            arrows, where = (src, tgt), dict(mask=m)

        def edit(ctx, x0, sig):
            placed = {k: bridge.to_device(v, ctx.device) if isinstance(v, torch.Tensor) else v
                      for k, v in where.items()}
            # the CFG schedule is set per call: both halves of a batched call share one branch
            return sde_drag(x0, sig, family, ctx.denoiser("source", cfg_at.__getitem__), *arrows, step=drag_step,
                            alpha=alpha, beta=beta, r=r, seed=seed, fill=fill, **placed,
                            solver=solver, callback=ctx.step,
                            denoise_both=(lambda x, y, sigma: ctx.pair(x, y, sigma, cfg_at[sigma]))
                            if batch_branches else None)

        # the same prompt on both halves of every batched call: the path and the dragged latent
        out = edit_latent(model, latent, samples, {"source": prompt, "target": prompt}, sig, seed, edit)
        longest = max(math.hypot(tx - sx, ty - sy) for (sx, sy), (tx, ty) in zip(src, tgt))
        few = [f"raise t0 (now {t0:g})", f"raise alpha (now {alpha:g})"]
        if longest == 0:
            few.insert(0, "every arrow starts and ends in the same latent cell, so nothing was dragged: draw "
                          "longer arrows")
        else:
            few.insert(0, f"drag farther (the longest arrow is {longest:.1f} latent cells)")
        many = [f"lower t0 (now {t0:g})", f"lower cfg_max (now {cfg_max:g})",
                "put a LoRA loader (trained on the image) before the model input to hold the identity"]
        few, many = mask_advice(m, few, many)
        if move == "region":
            few[-1] = "make sure the painted region covers what should move (the arrows only set the map)"
        elif m is not None:
            few[-1] = "make sure the mask's white area covers both ends of every arrow"
        # a region move changes its region through and through, by design: measure over the whole latent
        return log_hint("SDE Drag", samples, out, None if move == "region" else m, few, many)


NODES = [DragPointsEditor, CopyPasteLatents, SDEDrag]
