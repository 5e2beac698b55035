"""The nodes on five more model families (tests/integration/zoo.py): SDXL and SD2.x-v (VE family,
EPS and V_PREDICTION), SD3.5, Qwen-Image with 5-D image latents (B, C, 1, H, W) and Wan 2.1 with
video latents (B, C, T, H, W) (flow family). Four are loaded by the stock UNETLoader through
ComfyUI's own detection; Qwen-Image is built from ComfyUI's classes at a small width, and its
loader path is checked once at the width detection fixes. Each runs the same checks: exact
identity, a real edit, the three-node chain, exact masks, Cycle-SDE reconstruction and SDE Drag."""

import json

import pytest
import torch
import torch.nn.functional as F
import zoo
from test_flux_nodes import edit, sigmas

SYNC, FWD, INC, CPL = ("CoupledSDE_SyncSDEEdit", "CoupledSDE_ForwardNoising", "CoupledSDE_BackwardIncrements",
                       "CoupledSDE_CoupledSampling")
CINV, CSAM, DRAG, PTS = ("CoupledSDE_CycleSDEInversion", "CoupledSDE_CycleSDESampling", "CoupledSDE_SDEDrag",
                         "CoupledSDE_DragPoints")
NAMES = list(zoo.SPECS)
CELL = 8  # pixels per latent cell (every VAE here downscales 8x)


@pytest.fixture(params=NAMES)
def zm(request, comfy):
    """(spec, MODEL, generator) for one zoo model."""
    spec = zoo.SPECS[request.param]
    return spec, request.getfixturevalue(spec.fixture), torch.Generator().manual_seed(21)


def pixel_rect(batch, size, frames=1, rects=((0.5, 1.0, 0.5, 1.0),)):
    """A MASK at image size (``size`` latent cells x 8 pixels): 1 inside ``rects[b]`` (fractions
    y0, y1, x0, x1 of the image), 0 outside; ``frames`` > 1 gives a per-frame (F, H, W) MASK."""
    p = size * CELL
    m = torch.zeros(max(batch, frames), p, p)
    for b in range(m.shape[0]):
        y0, y1, x0, x1 = rects[b % len(rects)]
        m[b, int(y0 * p):int(y1 * p), int(x0 * p):int(x1 * p)] = 1.0
    return m


def frame_support(t: int, frames: int, pixel_frames: int) -> range:
    """The pixel frames latent frame ``t`` may depend on, generously: Wan's causal VAE grouping
    (frame 0 alone, then 4 a frame) and an even split, both widened by one frame."""
    causal = (0, 0) if t == 0 else (4 * t - 3, 4 * t)
    even = (t * pixel_frames // frames, -(-(t + 1) * pixel_frames // frames) - 1)
    lo, hi = min(causal[0], even[0]) - 1, max(causal[1], even[1]) + 1
    return range(max(lo, 0), min(hi, pixel_frames - 1) + 1)


def latent_regions(mask: torch.Tensor, samples: torch.Tensor, pixel_frames: int = 1):
    """Conservative latent regions of an image-size MASK: ``(outside, inside)`` boolean tensors
    broadcastable to ``samples``. A cell is outside if the mask is 0 on every pixel of its 8x8 block
    and of the 8 neighbouring blocks (and, for video, on every frame it may depend on); inside if
    it is 1 on all of them. Any sensible resize (bilinear, area, nearest) keeps these exact."""
    video = samples.ndim == 5 and samples.shape[2] > 1
    m = mask[:, None].float()
    hi = F.max_pool2d(F.max_pool2d(m, CELL), 3, stride=1, padding=1)
    lo = -F.max_pool2d(F.max_pool2d(-m, CELL), 3, stride=1, padding=1)
    if video:
        frames = samples.shape[2]
        if m.shape[0] == 1:  # one mask for every frame
            hi, lo = hi.expand(pixel_frames, -1, -1, -1), lo.expand(pixel_frames, -1, -1, -1)
        sup = [list(frame_support(t, frames, pixel_frames)) for t in range(frames)]
        hi = torch.stack([hi[s].amax(0) for s in sup], dim=1)[None]  # (1, 1, T, h, w)
        lo = torch.stack([lo[s].amin(0) for s in sup], dim=1)[None]
    elif samples.ndim == 5:
        hi, lo = hi[:, :, None], lo[:, :, None]
    return hi == 0, lo == 1


def assert_kept_outside(out, x, outside, what):
    o = outside.expand_as(x)
    assert o.any(), f"{what}: the test's mask has no cell surely outside"
    assert torch.equal(out[o], x[o]), f"{what}: changed outside the mask (max |diff| {(out - x)[o].abs().max():.3g})"


def mean_change(out, x, region):
    r = region.expand_as(x)
    assert r.any()
    return (out - x)[r].abs().mean().item()


# ---- the models are what ComfyUI's detection says they are --------------------------------------

@pytest.mark.parametrize("name,cls,sampling", [
    ("sdxl", "SDXL", "EPS"), ("sd2_v", "SD20", "V_PREDICTION"), ("sd35", "SD3", "CONST"),
    ("qwen_image", "QwenImage", "CONST"), ("wan21", "WAN21_T2V", "CONST")])
def test_model_class_and_sampling(comfy, request, name, cls, sampling):
    import comfy.model_sampling as ms

    spec = zoo.SPECS[name]
    model = request.getfixturevalue(spec.fixture)
    assert type(model.model.model_config).__name__ == cls
    assert isinstance(model.get_model_object("model_sampling"), getattr(ms, sampling))
    assert isinstance(model.get_model_object("model_sampling"), ms.CONST) is spec.flow
    dims = 3 if spec.frames is not None else 2
    assert getattr(model.model.latent_format, "latent_dimensions", 2) == dims
    assert model.model.latent_format.latent_channels == spec.channels


# ---- a. identity edit: the input's bits -------------------------------------------------------------

def test_identity_edit_is_bit_exact(comfy, zm):
    spec, model, g = zm
    src, lat = spec.cond(g), spec.latent(g)
    sig = sigmas(comfy, model)
    out = edit(comfy, model, src, src, lat, sig)
    assert out.shape == lat["samples"].shape and torch.equal(out, lat["samples"])
    if spec.frames == 1:
        # a 4-D (B, C, H, W) latent gets its frame axis, as stock samplers give it: (B, C, 1, H, W)
        flat = {"samples": lat["samples"][:, :, 0].clone()}
        out4 = edit(comfy, model, src, src, flat, sig)
        assert out4.shape == (1, spec.channels, 1, spec.size, spec.size)
        assert torch.equal(out4, flat["samples"].unsqueeze(2))


# ---- b. a target edit changes the latent, same shape ---------------------------------------------------

def test_target_edit_changes_the_latent(comfy, zm):
    spec, model, g = zm
    src, tgt, lat = spec.cond(g), spec.cond(g), spec.latent(g)
    out = edit(comfy, model, src, tgt, lat, sigmas(comfy, model))
    assert out.shape == lat["samples"].shape
    d = (out - lat["samples"]).abs()
    print(f"{spec.name}: target edit mean |change| {d.mean():.4f}, max {d.max():.4f}")
    assert d.max().item() > 1e-2 and d.mean().item() > 1e-3
    assert torch.isfinite(out).all()
    if spec.frames == 1:  # the 4-D form of the same latent: the same edit, 5-D out
        out4 = edit(comfy, model, src, tgt, {"samples": lat["samples"][:, :, 0].clone()}, sigmas(comfy, model))
        assert out4.shape == lat["samples"].shape and torch.equal(out4, out)


# ---- c. the three-node chain is the all-in-one node ----------------------------------------------------

def test_three_node_chain_equals_sync_sde_edit(comfy, zm):
    spec, model, g = zm
    src, tgt, lat = spec.cond(g), spec.cond(g), spec.latent(g)
    sig = sigmas(comfy, model)
    (path,) = comfy.run(FWD, model=model, latent=lat, sigmas=sig, start_step=1, seed=3)
    (inc,) = comfy.run(INC, model=model, positive=src, path=path)
    (same, _) = comfy.run(CPL, model=model, positive=src, increments=inc)
    assert torch.equal(same["samples"], lat["samples"])
    (y, _) = comfy.run(CPL, model=model, positive=tgt, increments=inc)
    ref = edit(comfy, model, src, tgt, lat, sig, batch_branches=False)
    assert y["samples"].shape == lat["samples"].shape
    assert torch.equal(y["samples"], ref)
    assert not torch.equal(ref, lat["samples"])


# ---- d. masks: exact outside ----------------------------------------------------------------------

def test_mask_keeps_the_source_outside(comfy, zm):
    spec, model, g = zm
    src, tgt, lat = spec.cond(g), spec.cond(g), spec.latent(g)
    x = lat["samples"]
    mask = pixel_rect(1, spec.size)  # the bottom-right quarter is editable
    out = edit(comfy, model, src, tgt, lat, sigmas(comfy, model), mask=mask)
    outside, inside = latent_regions(mask, x, spec.pixel_frames)
    assert_kept_outside(out, x, outside, spec.name)
    change = mean_change(out, x, inside)
    print(f"{spec.name}: masked edit mean |change| inside {change:.4f}")
    assert change > 1e-3


def test_localize_and_its_edit_mask_on_every_family(comfy, zm):
    """localize with a painted mask, through Sync-SDE Edit and the staged path (bit-identical, two calls
    a step), and the edit_mask output at the image's size (8 px a cell; video: one mask per latent
    frame): wherever a cell's whole 8x8 block of it is 0, the latent keeps the source's bits. (On these
    random weights the two prompts disagree everywhere; the map itself is checked on the demo model,
    test_localize_nodes.py.)"""
    spec, model, g = zm
    src, tgt, lat = spec.cond(g), spec.cond(g), spec.latent(g)
    x, sig = lat["samples"], sigmas(comfy, model)
    painted = pixel_rect(1, spec.size)
    (y, m) = comfy.run(SYNC, model=model, source_positive=src, target_positive=tgt, latent=lat, sigmas=sig,
                       start_step=1, seed=3, batch_branches=False, localize=1.0, mask=painted)
    frames = spec.frames if spec.frames and spec.frames > 1 else 1
    assert m.shape == (frames, spec.size * CELL, spec.size * CELL) and 0 <= float(m.min()) <= float(m.max()) <= 1
    (path,) = comfy.run(FWD, model=model, latent=lat, sigmas=sig, start_step=1, seed=3)
    (inc,) = comfy.run(INC, model=model, positive=src, path=path)
    (staged, staged_map) = comfy.run(CPL, model=model, positive=tgt, increments=inc, localize=1.0, mask=painted)
    assert torch.equal(staged["samples"], y["samples"]) and torch.equal(staged_map, m)
    zero = F.max_pool2d(m[:, None], CELL)[:, 0] == 0  # (frames, h, w): the map is 0 on the whole block
    kept = zero[None, None] if x.ndim == 5 else zero[:, None]
    if x.ndim == 5 and frames == 1:
        kept = zero[:, None, None]
    k = kept.expand_as(x)
    assert bool(k.any()) and torch.equal(y["samples"][k], x[k])
    assert float(m[:, : m.shape[1] // 2 - CELL].max()) == 0.0  # black where the painted mask is
    print(f"{spec.name}: localize 1.0, edit_mask {tuple(m.shape)}, white {float(m.mean()):.2f}; "
          f"{float(zero.float().mean()):.2f} of the cells kept bit for bit")
    assert not torch.equal(y["samples"], x)


def test_qwen_image_batch_masks_per_latent(comfy, zoo_qwen_image):
    spec, model = zoo.SPECS["qwen_image"], zoo_qwen_image
    g = torch.Generator().manual_seed(22)
    src, tgt, lat = spec.cond(g, batch=2), spec.cond(g), spec.latent(g, batch=2)
    x = lat["samples"]
    assert x.shape == (2, 16, 1, spec.size, spec.size)
    # a different editable rectangle for each latent of the batch
    mask = pixel_rect(2, spec.size, rects=((0.0, 0.5, 0.0, 0.5), (0.5, 1.0, 0.25, 1.0)))
    out = edit(comfy, model, src, tgt, lat, sigmas(comfy, model), mask=mask)
    assert out.shape == x.shape
    outside, inside = latent_regions(mask, x)
    assert outside.shape[0] == 2 and not torch.equal(outside[0], outside[1])
    for b in range(2):
        assert_kept_outside(out[b:b + 1], x[b:b + 1], outside[b:b + 1], f"qwen_image latent {b}")
        assert mean_change(out[b:b + 1], x[b:b + 1], inside[b:b + 1]) > 1e-3


def test_wan_per_frame_mask(comfy, zoo_wan21):
    spec, model = zoo.SPECS["wan21"], zoo_wan21
    g = torch.Generator().manual_seed(23)
    src, tgt, lat = spec.cond(g), spec.cond(g), spec.latent(g)
    x = lat["samples"]
    # a (9, H, W) MASK for the 9 pixel frames of 3 latent frames: only the last two are editable
    mask = pixel_rect(1, spec.size, frames=spec.pixel_frames, rects=((0.25, 1.0, 0.25, 1.0),))
    mask[:7] = 0.0
    out = edit(comfy, model, src, tgt, lat, sigmas(comfy, model), mask=mask)
    assert out.shape == x.shape
    outside, _ = latent_regions(mask, x, spec.pixel_frames)
    assert outside[:, :, :2].all(), "latent frames 0 and 1 see only masked-out pixel frames"
    assert_kept_outside(out, x, outside, "wan21 per-frame mask")
    assert torch.equal(out[:, :, :2], x[:, :, :2])
    assert (out - x)[:, :, 2].abs().mean().item() > 1e-4  # the editable frame is edited


# ---- e. Cycle-SDE reconstruction ---------------------------------------------------------------------

def test_cycle_sde_reconstructs(comfy, zm):
    spec, model, g = zm
    src, tgt, lat = spec.cond(g), spec.cond(g), spec.latent(g)
    sig = sigmas(comfy, model)
    (inc,) = comfy.run(CINV, model=model, positive=src, latent=lat, sigmas=sig, start_step=0, seed=2)
    (rec,) = comfy.run(CSAM, model=model, positive=src, increments=inc)
    assert rec["samples"].shape == lat["samples"].shape
    err = (rec["samples"] - lat["samples"]).abs().max().item()
    print(f"{spec.name}: Cycle-SDE reconstruction max |err| = {err:.2e}")
    assert err <= 1e-5
    (ed,) = comfy.run(CSAM, model=model, positive=tgt, increments=inc)
    assert (ed["samples"] - lat["samples"]).abs().mean().item() > 1e-3


# ---- f. SDE Drag ------------------------------------------------------------------------------------

def test_sde_drag_keeps_outside_and_moves_the_target(comfy, zm):
    spec, model, g = zm
    pos, lat = spec.cond(g), spec.latent(g)
    x = lat["samples"]
    n, p = spec.size, spec.size * CELL
    image = torch.rand(1, p, p, 3, generator=g)
    # drag from cell (n/4, n/4) to (5n/8, 5n/8) (2 iterations of 6 steps) inside a painted disc around
    # the target (and a small one on the source)
    src_px, tgt_px = [p // 4 + 4, p // 4 + 4], [5 * p // 8 + 4, 5 * p // 8 + 4]
    strokes = [[tgt_px[0], tgt_px[1], 3 * p // 8, 1], [src_px[0], src_px[1], p // 8, 1]]
    points, mask = comfy.run(PTS, image=image, points=json.dumps({"sources": [src_px], "targets": [tgt_px]}),
                             mask_strokes=json.dumps(strokes))
    (out,) = comfy.run(DRAG, model=model, positive=pos, latent=lat, drag_points=points, mask=mask, steps=10,
                       t0=0.6, drag_step=n / 4, r=1, cfg_max=1.0, seed=4)
    y = out["samples"]
    assert y.shape == x.shape and torch.isfinite(y).all()
    outside, _ = latent_regions(mask, x, spec.pixel_frames)
    assert_kept_outside(y, x, outside, f"{spec.name} SDE Drag")
    t = 5 * n // 8
    window = (y - x)[..., t - 1:t + 2, t - 1:t + 2].abs().mean().item()
    print(f"{spec.name}: SDE Drag mean |change| in the target window {window:.4f}")
    assert window > 1e-3


def test_qwen_image_stock_loaded_full_width(comfy, model_dir):
    """The Qwen-Image loader path: the smallest file detection accepts (3072 wide), a 4-D latent."""
    model = zoo.qwen_image_stock(comfy, model_dir)
    spec, g = zoo.SPECS["qwen_image"], torch.Generator().manual_seed(24)
    src, tgt = spec.cond(g), spec.cond(g)
    lat = {"samples": torch.randn(1, 16, 8, 8, generator=g)}
    sig = sigmas(comfy, model, steps=4)
    same = edit(comfy, model, src, src, lat, sig)
    assert same.shape == (1, 16, 1, 8, 8) and torch.equal(same, lat["samples"].unsqueeze(2))
    out = edit(comfy, model, src, tgt, lat, sig)
    assert out.shape == (1, 16, 1, 8, 8)
    d = (out - lat["samples"].unsqueeze(2)).abs()
    print(f"qwen_image (3072 wide, stock-loaded): target edit mean |change| {d.mean():.4f}, max {d.max():.4f}")
    assert d.max().item() > 1e-2 and d.mean().item() > 1e-3


def test_bad_masks_and_latents_on_5d_models_name_the_input(comfy, zoo_qwen_image, zoo_wan21):
    """Refusals on 5-D models start with the input's name: a mask batch that matches neither 1 nor
    the latents' (Qwen-Image), a latent of the wrong rank (a 6-D latent, a 3-D one)."""
    spec, model = zoo.SPECS["qwen_image"], zoo_qwen_image
    g = torch.Generator().manual_seed(24)
    src, lat = spec.cond(g, batch=2), spec.latent(g, batch=2)
    sig = sigmas(comfy, model)
    with pytest.raises(ValueError, match=r"^mask: has batch 3, but the latent has batch 2"):
        edit(comfy, model, src, src, lat, sig, mask=torch.ones(3, 16 * CELL, 16 * CELL))
    bad = {"samples": torch.zeros(1, 16, 1, 1, 16, 16)}
    with pytest.raises(ValueError, match=r"^latent: this QwenImage MODEL takes latents of shape \(B, C, T, H, W\)"):
        edit(comfy, model, spec.cond(g), spec.cond(g), bad, sig)
    with pytest.raises(ValueError, match=r"^latent: this WAN21_T2V MODEL takes latents of shape"):
        edit(comfy, zoo_wan21, zoo.SPECS["wan21"].cond(g), zoo.SPECS["wan21"].cond(g),
             {"samples": torch.zeros(16, 16, 16)}, sig)


def test_region_drag_moves_the_region_on_every_frame_and_is_exact_outside(comfy, zm):
    """Region drag (move 'region', or 'as drawn' from the editor's region mode): the painted square
    moves by whole cells on every latent frame; outside the region, its image and one cell of margin
    the latent keeps its bits."""
    spec, model, g = zm
    pos, lat = spec.cond(g), spec.latent(g)
    x = lat["samples"]
    n, p = spec.size, spec.size * CELL
    image = torch.rand(1, p, p, 3, generator=g)
    q = n // 4  # a q x q square of cells at (1, 1) moves q cells right and down
    region = torch.zeros(1, p, p)
    region[:, CELL:(1 + q) * CELL, CELL:(1 + q) * CELL] = 1.0
    arrows = {"sources": [[CELL * 2, CELL * 2]], "targets": [[CELL * (2 + q), CELL * (2 + q)]], "mode": "region"}
    points, _ = comfy.run(PTS, image=image, points=json.dumps(arrows))
    assert points.mode == "region"
    (out,) = comfy.run(DRAG, model=model, positive=pos, latent=lat, drag_points=points, mask=region, steps=10,
                       t0=0.6, drag_step=64.0, cfg_max=1.0, seed=4, region_margin=1, fill="path level")
    y = out["samples"]
    assert y.shape == x.shape and torch.isfinite(y).all()
    cells = torch.zeros(n, n, dtype=torch.bool)
    cells[1:1 + q, 1:1 + q] = True
    cells[1 + q:1 + 2 * q, 1 + q:1 + 2 * q] = True
    bound = torch.nn.functional.max_pool2d(cells[None, None].float(), 3, stride=1, padding=1)[0, 0].bool()
    assert torch.equal(y[..., ~bound], x[..., ~bound]), f"{spec.name}: changed outside the region's bound"
    landed = (y - x)[..., 1 + q:1 + 2 * q, 1 + q:1 + 2 * q].abs().mean().item()
    print(f"{spec.name}: region drag mean |change| where the region landed {landed:.4f}")
    assert landed > 1e-3
    if x.ndim == 5 and x.shape[2] > 1:  # video: every latent frame moved
        for t in range(x.shape[2]):
            assert (y - x)[:, :, t, 1 + q:1 + 2 * q, 1 + q:1 + 2 * q].abs().mean().item() > 1e-3, f"frame {t}"


def test_region_drag_on_the_frames_a_per_frame_mask_selects(comfy, zoo_wan21):
    """A (frames, H, W) region MASK on Wan 2.1 (3 latent frames from 9 pixel frames): painted only on
    the last two pixel frames, the region moves on the last latent frame only; the first two latent
    frames (which see only unpainted pixel frames) keep their bits."""
    spec, model = zoo.SPECS["wan21"], zoo_wan21
    g = torch.Generator().manual_seed(25)
    pos, lat = spec.cond(g), spec.latent(g)
    x = lat["samples"]
    n, p = spec.size, spec.size * CELL
    q = n // 4
    region = torch.zeros(spec.pixel_frames, p, p)
    region[-2:, CELL:(1 + q) * CELL, CELL:(1 + q) * CELL] = 1.0
    image = torch.rand(1, p, p, 3, generator=g)
    arrows = {"sources": [[CELL * 2, CELL * 2]], "targets": [[CELL * (2 + q), CELL * (2 + q)]], "mode": "region"}
    points, _ = comfy.run(PTS, image=image, points=json.dumps(arrows))
    (out,) = comfy.run(DRAG, model=model, positive=pos, latent=lat, drag_points=points, mask=region, steps=10,
                       t0=0.6, drag_step=64.0, cfg_max=1.0, seed=4, region_margin=1)
    y = out["samples"]
    assert torch.equal(y[:, :, :2], x[:, :, :2])
    assert (y - x)[:, :, 2, 1 + q:1 + 2 * q, 1 + q:1 + 2 * q].abs().mean().item() > 1e-3
