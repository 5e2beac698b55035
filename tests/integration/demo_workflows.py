"""The demo workflows (``example_workflows/demo_*.json``): run through ComfyUI's executor, read back
and judged by the scene judge.

Shared by ``test_demo_workflows.py`` (the quality test), ``run_demo_workflows.py`` (the command
that writes their outputs) and ``build_example_workflows.py`` (their thumbnails are their real
outputs). A workflow runs exactly as saved (UI format, converted by ``ui_to_api.py``): the pack's
demo scene model, no substitution, no steps cut.

Reading back: every image of a demo workflow is a 32x32 image enlarged 8x by ImageScale
(nearest-exact) before SaveImage, so every 8x8 block of the PNG is one pixel; the block's pixel is
taken (and the block checked to be uniform). Images are keyed by the last part of their
SaveImage ``filename_prefix`` ("source", "edit", ...).

Judging (``benchmarks/scenes/scene_judge.py``, kept out of the pack and imported from there):
the source scene must parse as its caption; an edited object must parse with the wanted colour
and shape in its quadrant, every other object and the background as in the source; preservation
is SSIM / L1 against the source outside the edited object (its footprint in the source and in the
edit, rebuilt from the parse, dilated by :data:`DILATE` px), and SSIM on that region eroded by 3 px
(where the SSIM window sees no edited pixel: 1 for a perfect edit). The masked edit must be
bit-exact outside its mask, the reconstruction within :data:`RECON_MAX_LEVELS` of 255 of the
source, the drag must move the object's centroid by the requested offset.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from comfy_env import ROOT
from ui_to_api import convert

SCENES = ROOT / "benchmarks" / "scenes"
WORKFLOWS = sorted((ROOT / "example_workflows").glob("demo_*.json"))
SCALE = 8  # ImageScale 32 -> 256, nearest-exact
DILATE = 2  # px around the edited object's footprints (its anti-aliased rim and a little drift)

# ---- thresholds: from the measured values, with margins. Measured through the nodes: the saved graphs on
# ComfyUI 0.3.64 and 0.33.0 (identical numbers), and the edit nodes with seeds 0-4 on 0.33.0:
SSIM_OUTSIDE_MIN = 0.92  # SSIM outside the edited object: 0.934-0.999 (0.94-0.95 on the smooth scenes)
SSIM_FAR_MIN = 0.98  # SSIM on that region eroded by 3 px (1 for a perfect edit): saved graphs 0.993-1.0
L1_OUTSIDE_MAX = 0.015  # mean |edit - source| outside, pixel values 0..1: 0.0003-0.010
RECON_MAX_LEVELS = 1  # Cycle-SDE reconstruction, largest |difference| in 8-bit levels: 0
DRAG_TOL_PX = 1.5  # |centroid shift - requested shift| for a 4 px drag: 0.21-1.23 (shift 2.8-3.8 px)
DIFF_CONTRAST_MIN = 4.0  # Edit Difference, mean heat inside the edited object / outside: 7.0

def judge_modules():
    """``(scene_data, scene_judge)`` from ``benchmarks/scenes`` (not part of the pack)."""
    if str(SCENES) not in sys.path:
        sys.path.insert(0, str(SCENES))
    import scene_data
    import scene_judge

    return scene_data, scene_judge


# What each workflow must show. Captions are the graphs' own (the source caption must describe the
# generated scene); the expectations are written here, independently of the graph, so that a
# graph that edits the wrong way fails.
SPECS = {
    "demo_sync_sde_edit": {
        "source": "a red circle top left and a green square bottom right on a noisy grey background",
        "edits": {"edit": ("top left", "blue", "circle")},
        "difference": ("difference", "edit")},
    "demo_one_inversion_three_edits": {
        "source": "a red circle top left and a blue triangle bottom right on a noisy beige background",
        "edits": {"blue": ("top left", "blue", "circle"), "green": ("top left", "green", "circle"),
                  "yellow": ("top left", "yellow", "circle")}},
    "demo_cycle_sde_reconstruct_and_edit": {
        "source": "a green square top right and a red circle bottom left on a noisy beige background",
        "edits": {"edit": ("top right", "yellow", "square")},
        "reconstruction": "reconstruction"},
    "demo_masked_edit": {
        "source": "a red circle top left and a red circle bottom right on a noisy grey background",
        "edits": {"edit": ("top left", "blue", "circle")},
        "mask": ("mask", "edit")},
    "demo_localized_edit": {
        "source": "a red circle top left and a blue square bottom right on a noisy grey background",
        "edits": {"edit": ("top left", "yellow", "circle"), "blended": ("top left", "yellow", "circle")},
        "mask": ("edit_mask", "edit"), "mask_level": 0,  # the map is soft: black (0) = kept
        "difference": ("difference", "blended")},
    "demo_sde_drag": {
        "source": "a yellow circle top left and a blue square bottom right on a smooth grey background",
        "drag": {"dragged": ("top left", (4.0, 0.0))}},
    "demo_region_drag": {
        "source": "a green triangle top left and a yellow square bottom right on a smooth grey background",
        "drag": {"dragged": ("bottom right", (-3.0, -3.0))}, "region": "region"},
    "demo_flowedit_vs_sync_sde": {
        "source": "a blue triangle top right and a red square bottom left on a smooth grey background",
        "edits": {"flowedit": ("bottom left", "green", "square"), "sync_sde": ("bottom left", "green", "square")}},
}


# ---- running ---------------------------------------------------------------------------------------

def api_graph(comfy, path: Path) -> dict:
    """The workflow file (UI format) as the API graph the frontend would queue."""
    return convert(json.loads(Path(path).read_text()), lambda t: comfy.N[t].INPUT_TYPES())


@dataclass
class Run:
    name: str
    seconds: float
    success: bool
    errors: list
    api: dict = field(default_factory=dict)  # the graph that ran
    files: dict = field(default_factory=dict)  # label -> Path of the PNG
    images: dict = field(default_factory=dict)  # label -> (1, 3, 32, 32) in model range [-1, 1]
    pixels: dict = field(default_factory=dict)  # label -> (32, 32, 3) uint8, as saved


def read_png(path: Path) -> torch.Tensor:
    """A saved 256x256 PNG back to its 32x32 uint8 pixels ``(32, 32, 3)`` (each 8x8 block must be uniform)."""
    import numpy as np
    from PIL import Image

    a = torch.from_numpy(np.array(Image.open(path).convert("RGB")))
    h, w = a.shape[0] // SCALE, a.shape[1] // SCALE
    blocks = a.reshape(h, SCALE, w, SCALE, 3)
    small = blocks[:, SCALE // 2, :, SCALE // 2]
    if not torch.equal(blocks, small[:, None, :, None].expand_as(blocks)):
        raise AssertionError(f"{path.name}: not a {SCALE}x nearest-neighbour enlargement")
    return small


def run_workflow(comfy, path: Path, api: dict | None = None) -> Run:
    """Execute a demo workflow (or ``api``, its graph changed by the caller) through the executor and
    read back what its SaveImage nodes wrote to the output folder."""
    api = api_graph(comfy, path) if api is None else api
    t = time.perf_counter()
    ex = comfy.execute_prompt(api)
    seconds = time.perf_counter() - t
    errors = [m[1] for m in ex.status_messages if m[0] == "execution_error"]
    run = Run(Path(path).stem, seconds, bool(ex.success) and not errors, errors, api)
    for node_id, files in comfy.saved_images(ex).items():
        label = api[node_id]["inputs"]["filename_prefix"].rsplit("/", 1)[-1]
        run.files[label] = files[-1]
    order = [k for k in api if api[k]["class_type"] == "SaveImage"]  # graph order: source first
    run.files = dict(sorted(run.files.items(), key=lambda kv: order.index(
        next(k for k in order if api[k]["inputs"]["filename_prefix"].endswith("/" + kv[0])))))
    for label, f in run.files.items():
        run.pixels[label] = read_png(f)
        run.images[label] = (run.pixels[label].permute(2, 0, 1)[None].double() / 255.0 * 2 - 1).float()
    return run


# ---- judging ---------------------------------------------------------------------------------------

def _r_per_area(sd) -> dict:
    """Pixels covered (> 1/2) per r^2, per shape, from the world's own footprints (r = 5.5)."""
    return {s: float((sd.footprint({"shape": s, "cx": 16.0, "cy": 16.0, "r": 5.5}) > 0.5).sum()) / 5.5 ** 2
            for s in sd.SHAPES}


def footprint_object(obj: dict) -> dict:
    """A parsed object as a scene-graph object (shape, reference centre, radius from its area)."""
    sd, _ = judge_modules()
    k = _r_per_area(sd)[obj["shape"]]
    return {"shape": obj["shape"], "cx": obj["cx"], "cy": obj["cy"], "r": math.sqrt(obj["area"] / k),
            "color": obj["color"], "pos": obj["pos"]}


def _in_quadrant(parsed: dict, pos: str) -> dict | None:
    cands = [o for o in parsed["objects"] if o["pos"] == pos]
    return max(cands, key=lambda o: o["area"]) if cands else None


def _describe(o: dict | None) -> str:
    return "nothing" if o is None else f"a {o['color']} {o['shape']} {o['pos']}"


@dataclass
class Check:
    what: str
    ok: bool
    detail: str


@dataclass
class Judgement:
    name: str
    numbers: dict = field(default_factory=dict)
    checks: list = field(default_factory=list)

    def check(self, what: str, ok: bool, detail: str = ""):
        self.checks.append(Check(what, bool(ok), detail))

    @property
    def failed(self) -> list:
        return [c for c in self.checks if not c.ok]

    def lines(self) -> list[str]:
        nums = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.numbers.items())
        return [f"{self.name}: {nums}"] + [
            f"  {'ok  ' if c.ok else 'FAIL'} {c.what}" + (f": {c.detail}" if c.detail else "") for c in self.checks]


def _preservation(j: Judgement, key: str, out: torch.Tensor, src: torch.Tensor, keep: torch.Tensor):
    _, sj = judge_modules()
    far = sj.erode(keep, 3)
    ssim = float(sj.masked_ssim(out, src, keep)[0])
    ssim_far = float(sj.masked_ssim(out, src, far)[0]) if float(far.sum()) > 0 else float("nan")
    l1 = float(sj.masked_l1(out, src, keep)[0])
    j.numbers[f"{key}.ssim_outside"] = ssim
    j.numbers[f"{key}.ssim_far"] = ssim_far
    j.numbers[f"{key}.l1_outside"] = l1
    j.check(f"{key}: SSIM outside the edited object >= {SSIM_OUTSIDE_MIN}", ssim >= SSIM_OUTSIDE_MIN, f"{ssim:.4f}")
    j.check(f"{key}: SSIM 3 px away from it >= {SSIM_FAR_MIN}", ssim_far >= SSIM_FAR_MIN, f"{ssim_far:.4f}")
    j.check(f"{key}: L1 outside the edited object <= {L1_OUTSIDE_MAX}", l1 <= L1_OUTSIDE_MAX, f"{l1:.4f}")


def _rest_kept(j: Judgement, key: str, p_out: dict, p_src: dict, skip_pos: str):
    """Every other object (by quadrant) and the background parse as in the source."""
    for o in p_src["objects"]:
        if o["pos"] == skip_pos:
            continue
        m = _in_quadrant(p_out, o["pos"])
        j.check(f"{key}: keeps {_describe(o)}", m is not None and (m["color"], m["shape"]) == (o["color"], o["shape"]),
                f"found {_describe(m)}")
    j.check(f"{key}: keeps the background", p_out["bg"] == p_src["bg"],
            f"{p_out['bg']['kind']} {p_out['bg']['color']}")
    j.check(f"{key}: no object added or lost", len(p_out["objects"]) == len(p_src["objects"]),
            f"{len(p_out['objects'])} objects")


def judge(run: Run) -> Judgement:
    """Judge a demo workflow's outputs against :data:`SPECS`."""
    sd, sj = judge_modules()
    spec = SPECS[run.name]
    j = Judgement(run.name)
    j.numbers["seconds"] = run.seconds
    j.check("runs without an error", run.success, str(run.errors[:1]) if run.errors else "")
    if "source" not in run.images:
        j.check("saves the source scene", False)
        return j
    src = run.images["source"]
    p_src = sj.parse(src)[0]
    j.check("the source scene parses as its caption", sj.parsed_caption(p_src) == spec["source"],
            sj.parsed_caption(p_src))

    for key, (pos, colour, shape) in spec.get("edits", {}).items():
        if key not in run.images:
            j.check(f"saves '{key}'", False)
            continue
        out = run.images[key]
        p_out = sj.parse(out)[0]
        m, o = _in_quadrant(p_out, pos), _in_quadrant(p_src, pos)
        j.check(f"{key}: the {pos} object is a {colour} {shape}",
                m is not None and (m["color"], m["shape"]) == (colour, shape), f"found {_describe(m)}")
        _rest_kept(j, key, p_out, p_src, pos)
        if m is not None and o is not None:
            keep = sj.region_masks({"objects": [footprint_object(o)]}, {"objects": [footprint_object(m)]}, [0],
                                   dilate=DILATE)["outside"]
            _preservation(j, key, out, src, keep)

    if "mask" in spec:
        mask_key, edit_key = spec["mask"]
        mask = run.pixels[mask_key][..., 0] > spec.get("mask_level", 127)  # MaskToImage: white = may change
        outside = ~mask
        diff = (run.pixels[edit_key].int() - run.pixels["source"].int()).abs().amax(-1)
        n_out = int((diff[outside] > 0).sum())
        j.numbers["mask.pixels"] = int(mask.sum())
        j.numbers["mask.changed_outside"] = n_out
        j.numbers["mask.changed_inside"] = int((diff[mask] > 0).sum())
        j.check("outside the mask the edit equals the source bit for bit (8-bit pixels)", n_out == 0,
                f"{n_out} of {int(outside.sum())} pixels differ")

    if "reconstruction" in spec:
        rec = run.pixels[spec["reconstruction"]].int()
        diff = (rec - run.pixels["source"].int()).abs()
        j.numbers["reconstruction.max_levels"] = int(diff.max())
        j.numbers["reconstruction.l1"] = float(diff.double().mean() / 255)
        j.check(f"the reconstruction is within {RECON_MAX_LEVELS}/255 of the source",
                int(diff.max()) <= RECON_MAX_LEVELS, f"largest difference {int(diff.max())}/255")

    if "difference" in spec:
        diff_key, edit_key = spec["difference"]
        pos = spec["edits"][edit_key][0]
        heat = run.images[diff_key]  # heat map: black = unchanged
        heat = ((heat + 1) / 2).amax(1)[0]
        o, m = _in_quadrant(p_src, pos), _in_quadrant(sj.parse(run.images[edit_key])[0], pos)
        if o is not None and m is not None:
            keep = sj.region_masks({"objects": [footprint_object(o)]}, {"objects": [footprint_object(m)]}, [0],
                                   dilate=DILATE)["outside"]
            inside, outside = float(heat[keep == 0].mean()), float(heat[keep > 0].mean())
            ratio = inside / max(outside, 1e-3)
            j.numbers["difference.inside"] = inside
            j.numbers["difference.outside"] = outside
            j.check(f"Edit Difference lights up the edited object (inside / outside >= {DIFF_CONTRAST_MIN})",
                    ratio >= DIFF_CONTRAST_MIN, f"{inside:.3f} / {outside:.3f}")

    for key, (pos, (dx, dy)) in spec.get("drag", {}).items():
        out = run.images[key]
        p_out = sj.parse(out)[0]
        o, m = _in_quadrant(p_src, pos), _in_quadrant(p_out, pos)
        j.check(f"{key}: the {pos} object is still {_describe(o)}",
                o is not None and m is not None and (m["color"], m["shape"]) == (o["color"], o["shape"]),
                f"found {_describe(m)}")
        _rest_kept(j, key, p_out, p_src, pos)
        if o is None or m is None:
            continue
        mx, my = m["mx"] - o["mx"], m["my"] - o["my"]
        err = math.hypot(mx - dx, my - dy)
        j.numbers[f"{key}.shift_x"], j.numbers[f"{key}.shift_y"] = mx, my
        j.numbers[f"{key}.shift_error_px"] = err
        j.check(f"{key}: the centroid moved by ({dx:g}, {dy:g}) px within {DRAG_TOL_PX} px", err <= DRAG_TOL_PX,
                f"moved ({mx:.2f}, {my:.2f})")
        # preserved: outside the object's footprints before and after, and outside what the drag may change
        keep = sj.region_masks({"objects": [footprint_object(o)]}, {"objects": [footprint_object(m)]}, [0],
                               dilate=DILATE)["outside"]
        if "region" in spec:  # a region drag: the painted region, where it lands, grown by region_margin
            bound = _region_bound(run, spec["region"], dx, dy)
            keep[bound] = 0
            diff = (run.pixels[key].int() - run.pixels["source"].int()).abs().amax(-1)
            n_out = int((diff[~bound] > 0).sum())
            j.numbers[f"{key}.region_pixels"] = int((run.pixels[spec["region"]][..., 0] > 127).sum())
            j.numbers[f"{key}.changed_outside_region"] = n_out
            j.check(f"{key}: outside the region, where it lands and its margin the image equals the source bit "
                    "for bit (8-bit pixels)", n_out == 0, f"{n_out} of {int((~bound).sum())} pixels differ")
        else:  # window drag: the windows (half-width r + 1 around every point, as the scene benchmark)
            (points,) = [v["inputs"]["points"] for v in run.api.values()
                         if v["class_type"] == "CoupledSDE_DragPoints"]
            (r,) = [v["inputs"]["r"] for v in run.api.values() if v["class_type"] == "CoupledSDE_SDEDrag"]
            points = json.loads(points)
            for x, y in points["sources"] + points["targets"]:
                x, y = int(x), int(y)
                keep[max(0, y - r - 1): y + r + 2, max(0, x - r - 1): x + r + 2] = 0
        _preservation(j, key, out, src, keep)
    return j


def _region_bound(run: Run, region_key: str, dx: float, dy: float) -> torch.Tensor:
    """What a region drag by the translation (dx, dy) may change: the painted region (its saved image,
    MaskToImage: white = region), the region moved, grown by SDE Drag's region_margin cells (a cell is
    a pixel on the demo model), as a bool (32, 32)."""
    region = run.pixels[region_key][..., 0] > 127
    h, w = region.shape
    moved = torch.zeros_like(region)
    ys, xs = torch.nonzero(region, as_tuple=True)
    ty, tx = ys + round(dy), xs + round(dx)
    inside = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
    moved[ty[inside], tx[inside]] = True
    (margin,) = [v["inputs"].get("region_margin", 1) for v in run.api.values()
                 if v["class_type"] == "CoupledSDE_SDEDrag"]
    k = 2 * max(int(margin), 0) + 1
    grown = torch.nn.functional.max_pool2d((region | moved)[None, None].float(), k, stride=1, padding=k // 2)
    return grown[0, 0] > 0


# ---- thumbnail -------------------------------------------------------------------------------------

THUMB_TILE = 5  # each 32x32 image at 5x (160 px), nearest neighbour: big pixels
THUMB_GAP = 10
THUMB_LABEL = 24


def thumbnail(run: Run):
    """The workflow's saved images side by side (source first), each labelled: a PIL image."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=16)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        font = ImageFont.load_default()
    tiles = [(label, Image.fromarray(px.numpy()).resize((px.shape[1] * THUMB_TILE, px.shape[0] * THUMB_TILE),
                                                           Image.NEAREST)) for label, px in run.pixels.items()]
    size = max(t.width for _, t in tiles)
    sheet = Image.new("RGB", (len(tiles) * (size + THUMB_GAP) + THUMB_GAP, size + THUMB_LABEL + 2 * THUMB_GAP),
                      (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    for i, (label, tile) in enumerate(tiles):
        x = THUMB_GAP + i * (size + THUMB_GAP)
        sheet.paste(tile, (x, THUMB_GAP))
        text = label.replace("_", " ")
        width = draw.textlength(text, font=font)
        draw.text((x + (size - width) / 2, THUMB_GAP + size + 4), text, fill=(230, 230, 230), font=font)
    return sheet
