"""SDE-Drag nodes on the Flux-architecture and the stock-loaded SD1.5 models."""

import json

import pytest
import torch
from test_flux_nodes import count_calls

DRAG, PTS, CP = "CoupledSDE_SDEDrag", "CoupledSDE_DragPoints", "CoupledSDE_CopyPasteLatents"


def drag(comfy, model, pos, lat, points, **kw):
    kw = {"steps": 10, "t0": 0.6, "drag_step": 1.0, "r": 2, "cfg_max": 1.0, "seed": 4, **kw}
    (out,) = comfy.run(DRAG, model=model, positive=pos, latent=lat, drag_points=points, **kw)
    return out["samples"]


def points(comfy, image, pts, strokes=()):
    return comfy.run(PTS, image=image, points=json.dumps(pts), mask_strokes=json.dumps(list(strokes)))


def test_drag_points_node(comfy):
    image = torch.rand(1, 64, 96, 3)
    p, mask = points(comfy, image, {"sources": [[10, 12]], "targets": [[40, 30]]}, [[48, 32, 10, 1]])
    assert (p.sources, p.targets, p.width, p.height) == (((10.0, 12.0),), ((40.0, 30.0),), 96, 64)
    assert mask.shape == (1, 64, 96) and 0 < mask.mean().item() < 0.2 and mask[0, 32, 48].item() == 1.0
    _, full = points(comfy, image, {"sources": [[10, 12]], "targets": [[40, 30]]})
    assert torch.equal(full, torch.ones(1, 64, 96))  # nothing painted: everything editable
    # KJNodes PointsEditor: positive coordinates -> sources, negative -> targets
    (kj, _) = comfy.run(PTS, image=image, points='[{"x": 10, "y": 12}]', mask_strokes="[]",
                        target_points='[{"x": 40, "y": 30}]')
    assert (kj.sources, kj.targets) == (p.sources, p.targets)
    with pytest.raises(ValueError, match=r"^points: target point 1 \(96, 30\) lies outside the 96x64 image"):
        points(comfy, image, {"sources": [[10, 12]], "targets": [[96, 30]]})
    # no pair yet: Drag Points still runs (its editor gets the picture); the drag itself refuses it
    (empty, _) = points(comfy, image, {"sources": [], "targets": []})
    assert (empty.sources, empty.targets, empty.width, empty.height) == ((), (), 96, 64)


def test_the_drag_refuses_points_without_a_pair(comfy, flux, conds):
    with pytest.raises(ValueError, match="^drag_points: no drag pairs; place at least one source -> target pair"):
        drag(comfy, flux, conds.flux(), conds.latent(1, 16, 16, 16), json.dumps({"sources": [], "targets": []}))


def test_zero_length_drag_returns_the_source(comfy, flux, conds):
    lat = conds.latent(1, 16, 16, 16)
    p = {"sources": [[40, 40]], "targets": [[44, 43]], "width": 128, "height": 128}  # same latent cell
    m, batches = count_calls(flux)
    assert torch.equal(drag(comfy, m, conds.flux(), lat, json.dumps(p)), lat["samples"])
    assert batches == []  # nothing moves: no model call


def test_drag_moves_content_and_keeps_outside_the_mask(comfy, flux, conds):
    lat, pos = conds.latent(1, 16, 16, 16), conds.flux()
    p = {"sources": [[36, 36]], "targets": [[84, 84]], "width": 128, "height": 128}  # cells (4,4) -> (10,10)
    m, batches = count_calls(flux)
    out = drag(comfy, m, pos, lat, json.dumps(p), drag_step=3.0)
    # round(6 sqrt(2) / 3) = 3 iterations x 6 steps, path + drag in one forward each
    assert batches == [2] * 18
    # a random-weight model has no image prior to complete the content with, so measure where the
    # change lands: in the target window (cells 8..12) much more than far from both windows
    change = (out - lat["samples"]).abs().mean(dim=(0, 1))
    at_target, far = change[8:13, 8:13].mean().item(), change[13:, :3].mean().item()
    print(f"Flux SDE Drag: mean |change| at the target window {at_target:.4f}, far away {far:.4f}")
    assert at_target > 5 * far
    mask = torch.zeros(1, 128, 128)
    mask[:, 48:, 48:] = 1.0
    masked = drag(comfy, flux, pos, lat, json.dumps(p), drag_step=3.0, mask=mask)
    assert torch.equal(masked[..., :6, :], lat["samples"][..., :6, :])
    assert torch.equal(masked[..., :, :6], lat["samples"][..., :, :6])
    assert not torch.equal(masked, lat["samples"])


def test_copy_paste_chain_equals_one_drag_iteration(comfy, flux, conds):
    lat, pos = conds.latent(1, 16, 16, 16), conds.flux()
    p = json.dumps({"sources": [[36, 36]], "targets": [[60, 52]], "width": 128, "height": 128})
    from comfy.samplers import calculate_sigmas

    # SDE Drag's schedule: "normal" over 10 steps, from t0 = 0.6 (the last 6 steps)
    sig = calculate_sigmas(flux.get_model_object("model_sampling"), "normal", 10)[4:]
    (path,) = comfy.run("CoupledSDE_ForwardNoising", model=flux, latent=lat, sigmas=sig, start_step=0, seed=4)
    (pasted,) = comfy.run(CP, path=path, drag_points=p, alpha=1.1, beta=0.3, r=2, seed=5)
    (inc,) = comfy.run("CoupledSDE_BackwardIncrements", model=flux, positive=pos, path=pasted)
    (chain, _) = comfy.run("CoupledSDE_CoupledSampling", model=flux, positive=pos, increments=inc)
    direct = drag(comfy, flux, pos, lat, p, drag_step=100.0, seed=4)
    err = (chain["samples"] - direct).abs().max().item()
    print(f"composable chain vs SDE Drag (1 iteration): max |diff| {err:.2e} (batched vs single calls)")
    assert err < 1e-4 and (direct - lat["samples"]).abs().mean().item() > 1e-3
    with pytest.raises(ValueError, match="^increments: they start from a copy-pasted latent"):
        comfy.run("CoupledSDE_CycleSDESampling", model=flux, positive=pos, increments=inc)


def test_sd15_drag_with_cfg_schedule(comfy, sd15, conds):
    lat, pos, neg = conds.latent(1, 4, 8, 8), conds.sd(), conds.sd()
    p = json.dumps({"sources": [[12, 12]], "targets": [[44, 36]]})  # 64x64 image: cells (1,1) -> (5,4)
    m, batches = count_calls(sd15)
    out = drag(comfy, m, pos, lat, p, negative=neg, cfg_max=3.0, drag_step=2.0)
    # round(5 / 2) = 3 iterations (half up) x 6 steps; cond + uncond of path and drag in one forward
    # (cfg runs from 3 at t0 down to 1 + 2/6 at the last step, always > 1)
    assert batches == [4] * 18
    assert (out - lat["samples"]).abs().mean().item() > 1e-3
    # the schedule reaches every call: cfg 1 + (cfg_max - 1)(n - i)/n at step i of each iteration
    scales = []

    def cfg_function(args):  # the stock formula, recording the scale it is given
        scales.append(float(args["cond_scale"]))
        return args["uncond"] + (args["cond"] - args["uncond"]) * args["cond_scale"]

    m2 = sd15.clone()
    m2.set_model_sampler_cfg_function(cfg_function)
    # (the same result to float round-off: the formula runs on x - D rather than on D)
    assert torch.allclose(drag(comfy, m2, pos, lat, p, negative=neg, cfg_max=3.0, drag_step=2.0), out, atol=1e-3)
    assert scales == pytest.approx([1 + 2.0 * (6 - i) / 6 for i in range(6)] * 3)
    with pytest.raises(ValueError, match="^negative: cfg_max 3 needs a negative prompt"):
        drag(comfy, sd15, pos, lat, p, cfg_max=3.0)
    with pytest.raises(ValueError, match=r"^drag_points: source point 1 \(64, 12\) lies outside the 64x64 image"):
        drag(comfy, sd15, pos, lat, json.dumps({"sources": [[64, 12]], "targets": [[4, 4]]}))


# ---- region drag and the vacated area's fill -----------------------------------------------------------

def square(size, x0, x1, y0=None, y1=None):
    m = torch.zeros(1, size, size)
    m[:, (x0 if y0 is None else y0):(x1 if y1 is None else y1), x0:x1] = 1.0
    return m


def test_region_drag_on_flux_matches_the_core_and_is_bounded(comfy, flux, conds):
    from comfy.samplers import calculate_sigmas

    from comfyui_coupled_sde.sampling import dilate_cells, sde_drag

    lat, pos = conds.latent(1, 16, 16, 16), conds.flux()
    x = lat["samples"]
    image = torch.rand(1, 128, 128, 3)
    region = square(128, 16, 48)  # cells 2..5
    arrows = {"sources": [[32, 32]], "targets": [[72, 56]], "mode": "region"}  # +5, +3 cells
    p, painted = points(comfy, image, arrows, [[32, 32, 12, 1]])
    m, batches = count_calls(flux)
    out = drag(comfy, m, pos, lat, p, mask=region, drag_step=64.0, fill="path level")
    assert batches == [2] * 6  # one paste: t0 0.6 of 10 steps, path and drag batched
    cells = torch.zeros(16, 16, dtype=torch.bool)
    cells[2:6, 2:6] = True
    cells[5:9, 7:11] = True
    bound = dilate_cells(cells[None, None], 1)[0, 0].bool()
    assert torch.equal(out[..., ~bound], x[..., ~bound]) and not torch.equal(out, x)
    # the same through the core (the node's only additions: cells, schedule, guider)
    sig = calculate_sigmas(flux.get_model_object("model_sampling"), "normal", 10)[4:].double()
    from comfyui_coupled_sde.nodes import bridge  # noqa: F401  (the node's denoiser is the guider's)
    # 'windows' with the same arrows gives the paper's drag: a different result
    windows = drag(comfy, flux, pos, lat, json.dumps({k: v for k, v in arrows.items() if k != "mode"}),
                   drag_step=64.0, fill="path level")
    assert not torch.equal(windows, out)
    # 'as drawn' follows the points' mode; 'windows' overrides it
    assert torch.equal(drag(comfy, flux, pos, lat, p, mask=region, drag_step=64.0, fill="path level",
                            move="region"), out)
    assert torch.equal(drag(comfy, flux, pos, lat, p, drag_step=64.0, fill="path level", move="windows"), windows)
    # the unbounded region drag changes outside the bound too
    free = drag(comfy, flux, pos, lat, p, mask=region, drag_step=64.0, fill="path level", region_margin=-1)
    assert not torch.equal(free[..., ~bound], x[..., ~bound])
    del sig, sde_drag, painted


def test_region_drag_rotates_and_scales_with_two_arrows(comfy, flux, conds):
    lat, pos = conds.latent(1, 16, 16, 16), conds.flux()
    x = lat["samples"]
    image = torch.rand(1, 128, 128, 3)
    # a bar of cells 4..11 x 7..8 turned a quarter about the centre of the latent
    region = torch.zeros(1, 128, 128)
    region[:, 56:72, 32:96] = 1.0
    arrows = {"sources": [[64, 64], [96, 64]], "targets": [[64, 64], [64, 96]], "mode": "region"}
    p, _ = points(comfy, image, arrows)
    out = drag(comfy, flux, pos, lat, p, mask=region, drag_step=64.0, region_margin=0)
    changed = (out - x).abs().amax(dim=(0, 1)) > 0
    # the turned bar is vertical: cells 7..8 x 4..11; nothing changes outside the bar and its image
    allowed = torch.zeros(16, 16, dtype=torch.bool)
    allowed[7:9, 4:12] = True
    allowed[4:12, 7:9] = True
    assert changed[allowed].any() and not changed[~allowed].any()
    assert changed[4:7, 7:9].all() and changed[9:12, 7:9].all()  # the arms of the vertical bar


def test_region_drag_refusals_and_the_copy_paste_step(comfy, flux, conds):
    lat, pos = conds.latent(1, 16, 16, 16), conds.flux()
    image = torch.rand(1, 128, 128, 3)
    p, _ = points(comfy, image, {"sources": [[32, 32]], "targets": [[72, 56]], "mode": "region"})
    with pytest.raises(ValueError, match="^mask: move 'region' moves the masked region"):
        drag(comfy, flux, pos, lat, p)
    with pytest.raises(ValueError, match="^mask: the region is empty"):
        drag(comfy, flux, pos, lat, p, mask=torch.zeros(1, 128, 128))
    with pytest.raises(ValueError, match="^points: \"mode\" must be one of windows, region"):
        points(comfy, image, {"sources": [[32, 32]], "targets": [[72, 56]], "mode": "lasso"})
    with pytest.raises(ValueError, match="^move: expected one of as drawn, windows, region"):
        drag(comfy, flux, pos, lat, p, mask=square(128, 16, 48), move="warp")
    line, _ = points(comfy, image, {"sources": [[10, 10], [20, 20], [30, 30]],
                                    "targets": [[12, 10], [22, 20], [35, 30]], "mode": "region"})
    with pytest.raises(ValueError, match="^drag_points: the arrows start on one line"):
        drag(comfy, flux, pos, lat, line, mask=square(128, 16, 48))
    flat, _ = points(comfy, image, {"sources": [[10, 10], [40, 20]], "targets": [[50, 50], [50, 50]],
                                    "mode": "region"})
    with pytest.raises(ValueError, match="^drag_points: the arrows' map squashes the region flat"):
        drag(comfy, flux, pos, lat, flat, mask=square(128, 16, 48))
    from comfy.samplers import calculate_sigmas

    sig = calculate_sigmas(flux.get_model_object("model_sampling"), "normal", 10)[4:]
    (path,) = comfy.run("CoupledSDE_ForwardNoising", model=flux, latent=lat, sigmas=sig, start_step=0, seed=4)
    with pytest.raises(ValueError, match="^drag_points: drawn in the editor's region mode"):
        comfy.run(CP, path=path, drag_points=p, alpha=1.1, beta=0.3, r=2, seed=5)


def test_fill_path_level_changes_only_the_vacated_noise(comfy, flux, conds):
    """'unit (paper)' (the default) is the old drag bit for bit; 'path level' puts the path's own noise
    level in the source window, measured in the pasted start."""
    from comfy.samplers import calculate_sigmas

    from comfyui_coupled_sde.sampling import NoiseFamily, path_noise_std

    lat = conds.latent(1, 16, 16, 16)
    p = json.dumps({"sources": [[36, 36]], "targets": [[100, 100]], "width": 128, "height": 128})
    sig = calculate_sigmas(flux.get_model_object("model_sampling"), "normal", 10)[7:]  # t0 0.3
    (path,) = comfy.run("CoupledSDE_ForwardNoising", model=flux, latent=lat, sigmas=sig, start_step=0, seed=4)
    stds = {}
    for fill in ("unit (paper)", "path level"):
        (pasted,) = comfy.run(CP, path=path, drag_points=p, alpha=1.1, beta=0.0, r=3, seed=5, fill=fill)
        scale = NoiseFamily.FLOW.vp_scale(float(sig[0]))
        stds[fill] = float(pasted.start[..., 1:8, 1:8].std()) * scale
    (default,) = comfy.run(CP, path=path, drag_points=p, alpha=1.1, beta=0.0, r=3, seed=5)
    (unit,) = comfy.run(CP, path=path, drag_points=p, alpha=1.1, beta=0.0, r=3, seed=5, fill="unit (paper)")
    assert torch.equal(default.start, unit.start)
    level = path_noise_std("flow", float(sig[0]))
    print(f"vacated window noise std (unit-variance coordinates): unit {stds['unit (paper)']:.3f}, "
          f"path level {stds['path level']:.3f} (the path's {level:.3f})")
    assert abs(stds["unit (paper)"] - 1.0) < 0.1 and abs(stds["path level"] - level) < 0.1
