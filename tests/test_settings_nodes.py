"""The helper nodes' pure parts (no ComfyUI needed): the settings presets and their sources, the
edit nodes' change hint, and Edit Difference's math."""

import logging
import pathlib
import re

import pytest
import torch

from comfyui_coupled_sde.nodes import diagnostics as D
from comfyui_coupled_sde.nodes import presets as P

ROOT = pathlib.Path(__file__).resolve().parents[1]
ALL = {**P.EDIT_PRESETS, **P.DRAG_PRESETS}


def values(preset):
    return {k: (s.value, s.source) for k, s in preset.values.items()}


# ---- presets --------------------------------------------------------------------------------------

def test_sourced_values_are_the_references():
    ref, fe = P.SYNC_REFERENCE, P.FLOWEDIT_PAPER
    flux = P.EDIT_PRESETS["Flux.1-dev · sync-SDE (reference code)"]
    assert values(flux) == {"steps": (28, ref), "start_step": (4, ref), "source_guidance": (1.0, ref),
                            "target_guidance": (1.0, ref), "source_cfg": (1.0, ref), "target_cfg": (1.0, ref),
                            "n_avg": (1, P.UNUSED), "localize": (0.0, P.UNUSED)}
    assert (flux.scheduler.value, flux.scheduler.source) == ("simple", ref)
    flux2 = values(P.EDIT_PRESETS["Flux.2 · sync-SDE (reference guidance; steps unmeasured)"])
    assert flux2["source_guidance"] == flux2["target_guidance"] == (4.0, ref)
    assert {k: v[1] for k, v in flux2.items() if "guidance" not in k and k not in ("n_avg", "localize")} == \
        {"steps": P.UNMEASURED, "start_step": P.UNMEASURED, "source_cfg": P.UNMEASURED, "target_cfg": P.UNMEASURED}
    flux2_ref = P.EDIT_PRESETS["Flux.2 dev · sync-SDE (reference code, Flux2Scheduler)"]
    assert values(flux2_ref) == {"steps": (28, ref), "start_step": (4, ref), "source_guidance": (4.0, ref),
                                 "target_guidance": (4.0, ref), "source_cfg": (1.0, ref), "target_cfg": (1.0, ref),
                                 "n_avg": (1, P.UNUSED), "localize": (0.0, P.UNUSED)}
    assert (flux2_ref.scheduler.value, flux2_ref.scheduler.source) == (P.FLUX2_SCHEDULER, ref)
    # template-sourced presets: the template is named (tests/integration/test_helper_nodes.py checks the values
    # against the installed comfyui-workflow-templates); only the start is unmeasured
    templated = [p for p in P.EDIT_PRESETS.values() if p.values["steps"].source == P.TEMPLATE]
    assert len(templated) == 12
    for p in templated:
        assert p.values["steps"].note and p.unmeasured() == ["start_step"], p.name
        assert p.scheduler.source == P.TEMPLATE and p.values["target_cfg"].source == P.TEMPLATE, p.name
    assert values(P.EDIT_PRESETS["Flux.1-dev · FlowEdit (paper)"]) == {
        "steps": (28, fe), "start_step": (4, fe), "source_guidance": (1.5, fe), "target_guidance": (5.5, fe),
        "source_cfg": (1.0, fe), "target_cfg": (1.0, fe), "n_avg": (1, fe), "localize": (0.0, P.UNUSED)}
    localized = values(P.EDIT_PRESETS["Flux.1-dev · sync-SDE, localized (reference code; localize unmeasured)"])
    assert localized == {**values(flux), "localize": (0.5, P.UNMEASURED)}
    for kind in ("colour edits", "shape and background edits"):  # the measured demo presets, plus localize 0.5
        plain = values(P.EDIT_PRESETS[f"Demo scene model · {kind} (measured)"])
        loc = values(P.EDIT_PRESETS[f"Demo scene model · {kind}, localized (measured)"])
        assert loc["localize"] == (0.5, P.DEMO_MEASURED) and plain["localize"] == (0.0, P.UNUSED)
        assert {k: v[0] for k, v in loc.items() if k != "localize"} == {k: v[0] for k, v in plain.items()
                                                                         if k != "localize"}
    sd3 = values(P.EDIT_PRESETS["SD3, SD3.5 · FlowEdit (paper)"])
    assert (sd3["steps"], sd3["start_step"], sd3["source_cfg"], sd3["target_cfg"], sd3["n_avg"]) == \
        ((50, fe), (17, fe), (3.5, fe), (13.5, fe), (1, fe))  # n_max 33 of 50
    sd15 = values(P.EDIT_PRESETS["SD1.5 · sync-SDE, Cycle-SDE (t0 paper; rest unmeasured)"])
    assert sd15["start_step"] == (20, P.T0_PAPER) and sd15["steps"][0] == 50  # t0 = 0.6 of 50 steps
    drag = P.DRAG_PRESETS["SD1.5 · SDE-Drag (paper)"]
    assert {k: v for k, v in values(drag).items() if k != "guidance"} == {
        k: (v, P.DRAG_PAPER) for k, v in dict(t0=0.6, steps=100, drag_step=2.0, alpha=1.1, beta=0.3, r=5,
                                              cfg_max=3.0, fill="unit (paper)").items()}


def test_a_preset_says_unmeasured_exactly_when_it_holds_an_unmeasured_value():
    for name, p in ALL.items():
        unmeasured = [k for k, s in p.values.items() if s.source == P.UNMEASURED]
        assert ("unmeasured" in name) == bool(unmeasured), (name, unmeasured)
        text = p.describe()
        for key in unmeasured:
            (line,) = [li for li in text.splitlines() if li.startswith(f"{key} = ")]
            assert "(unmeasured" in line, line
        if p.unmeasured():
            assert text.splitlines()[-1].startswith("unmeasured: " + ", ".join(p.unmeasured()))
        assert "[unmeasured]" in p.one_line() or not p.unmeasured()


def test_edit_presets_are_consistent():
    for name, p in P.EDIT_PRESETS.items():
        assert 0 <= p["start_step"] < p["steps"], name
        assert p.scheduler.value in ("simple", "normal", P.FLUX2_SCHEDULER), name
        assert all(p[k] >= 1.0 for k in ("source_guidance", "target_guidance", "source_cfg", "target_cfg")), name
        if p.method != "FlowEdit":  # sync-SDE / Cycle-SDE: the two branches differ only in the prompt
            assert p["source_cfg"] == p["target_cfg"] and p["source_guidance"] == p["target_guidance"], name
        flux = p.family.startswith("Flux") and "klein" not in p.family  # klein has no guidance embedding
        assert (p.values["source_guidance"].source != P.UNUSED) == flux, name
        assert isinstance(p["steps"], int) and isinstance(p["start_step"], int) and isinstance(p["n_avg"], int)
    for name, p in P.DRAG_PRESETS.items():
        assert 0 < p["t0"] <= 1 and p["steps"] >= 2 and isinstance(p["r"], int) and p["cfg_max"] >= 1, name
        assert p["fill"] in ("unit (paper)", "path level"), name
        assert (p.values["guidance"].source != P.UNUSED) == p.family.startswith("Flux"), name


def test_readme_and_help_pages_list_every_preset():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Presets"):readme.index("## Troubleshooting")]
    for node_id, table in (("CoupledSDE_EditSettings", P.EDIT_PRESETS), ("CoupledSDE_DragSettings", P.DRAG_PRESETS)):
        page = (ROOT / "web" / "docs" / node_id / "en.md").read_text()
        for name in table:
            assert name in section, name
            assert name in page, (node_id, name)


def test_unknown_preset_is_refused_naming_the_input():
    with pytest.raises(ValueError, match="^preset: unknown preset 'SD4'"):
        P.get(P.EDIT_PRESETS, "SD4")
    with pytest.raises(ValueError, match="^source: "):
        P.Setting(1, "a blog post")


# ---- the change hint --------------------------------------------------------------------------------

def latents(b=1, seed=0, scale=2.0):
    return torch.randn(b, 4, 8, 8, generator=torch.Generator().manual_seed(seed)) * scale


def test_relative_change_is_rms_over_the_source_std():
    x = latents()
    std = x.std(unbiased=False).item()
    assert D.relative_change(x, x) == [0.0]
    assert D.relative_change(x, x + 0.1)[0] == pytest.approx(0.1 / std, rel=1e-5)
    # over the mask's editable area only: a change confined to it counts in full
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 4:] = 1
    y = x.clone()
    y[..., 4:] += 0.3
    assert D.relative_change(x, y, mask)[0] == pytest.approx(0.3 / std, rel=1e-5)
    assert D.relative_change(x, y)[0] == pytest.approx(0.3 / std / 2 ** 0.5, rel=1e-5)
    # per latent of a batch; an unrelated latent of the same spread is at about sqrt(2)
    xs = latents(2)
    other = latents(2, seed=1)
    rel = D.relative_change(xs, torch.stack([xs[0], other[1]]))
    assert rel[0] == 0.0 and 1.2 < rel[1] < 1.6
    assert D.relative_change(torch.ones(1, 4, 2, 2), torch.ones(1, 4, 2, 2) * 1.5) == [0.5]  # constant: vs 1
    # masks as bridge.latent_mask gives them for 5-D latents: per latent (Qwen-Image), per frame (video)
    video = torch.randn(2, 16, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    for m in (torch.ones(2, 1, 1, 4, 4), torch.ones(1, 1, 3, 4, 4)):
        assert D.relative_change(video, video + 0.01, m) == pytest.approx(
            [0.01 / video[i].std(unbiased=False).item() for i in range(2)], rel=1e-4)


def test_hint_for_almost_nothing_almost_everything_and_a_reconstruction():
    x = latents()
    few, many = ["lower start_step (now 20 of 28)"], ["raise start_step (now 0 of 28)"]
    level, msg = D.change_hint("Sync-SDE Edit", x, x + 0.001, few=few, many=many)
    assert level == logging.WARNING
    assert msg.startswith("Sync-SDE Edit changed the latent by only 0.1 %") and msg.endswith(few[0] + ".")
    assert "below 2 %" in msg
    assert D.change_hint("Sync-SDE Edit", x, x + 0.5, few=few, many=many) is None  # 25 %: a normal edit
    level, msg = D.change_hint("Sync-SDE Edit", x, latents(seed=3), few=few, many=many)
    assert level == logging.WARNING and "above 100 %" in msg and msg.endswith(many[0] + ".")
    level, msg = D.change_hint("Cycle-SDE Sampling", x, x, few=few, many=many, same_prompt=True)
    assert level == logging.INFO and "reconstruction" in msg and "0.0 % change" in msg
    # a batch: only the latents outside the range are named, in one line
    xs = latents(3)
    ys = torch.stack([xs[0], xs[1] + 0.5, latents(seed=4)[0]])
    level, msg = D.change_hint("Coupled Sampling", xs, ys, few=few, many=many)
    assert "latent 1 of 3 by only 0.0 %" in msg and "latent 3 of 3 by" in msg and "\n" not in msg
    level, msg = D.change_hint("SDE Drag", x, x, mask=torch.zeros(1, 1, 8, 8))
    assert level == logging.WARNING and "mask is black everywhere" in msg


def test_log_change_logs_one_line_on_the_pack_logger_and_never_raises(caplog):
    x = latents()
    with caplog.at_level(logging.INFO, logger="comfyui_coupled_sde"):
        D.log_change("FlowEdit", x, x, few=["lower start_step"])
        D.log_change("FlowEdit", x, x + 0.5)  # nothing to say
        D.log_change("FlowEdit", x, torch.zeros(3))  # wrong shape: logged at debug, not raised
    records = [r for r in caplog.records if r.name == "comfyui_coupled_sde" and r.levelno >= logging.INFO]
    assert len(records) == 1 and records[0].getMessage().startswith("[Coupled SDE] FlowEdit changed the latent")


def test_same_conditioning():
    t, p = torch.randn(1, 8, 16), torch.randn(1, 4)
    a = [[t, {"pooled_output": p, "guidance": 1.0}]]
    assert D.same_conditioning(a, a)
    assert D.same_conditioning(a, [[t.clone(), {"pooled_output": p.clone(), "guidance": 1.0}]])
    assert not D.same_conditioning(a, [[t, {"pooled_output": p, "guidance": 5.5}]])
    assert not D.same_conditioning(a, [[t + 1, {"pooled_output": p, "guidance": 1.0}]])
    assert not D.same_conditioning(a, [[t, {"pooled_output": p}]])
    assert not D.same_conditioning(a, a + a)
    control = object()
    assert D.same_conditioning([[t, {"control": control}]], [[t, {"control": control}]])
    assert not D.same_conditioning([[t, {"control": control}]], [[t, {"control": object()}]])
    assert D.same_conditioning(None, None) and not D.same_conditioning(a, None)


# ---- Edit Difference ------------------------------------------------------------------------------

def test_difference_numbers_mask_and_pictures():
    src = torch.zeros(1, 4, 5, 3)
    out = src.clone()
    out[0, 1, 2] = torch.tensor([0.5, 0.1, 0.0])  # one pixel: largest channel change 0.5
    out[0, 3, 4, 1] = 0.02  # below the threshold
    d = D.image_difference(src, out, gain=1.0, threshold=0.05)
    assert d.mean_abs == pytest.approx(0.62 / 60)
    assert d.changed_fraction == pytest.approx(1 / 20)
    assert d.mask.shape == (1, 4, 5) and d.mask.sum() == 1 and d.mask[0, 1, 2] == 1
    assert d.image.shape == (1, 4, 5, 3) and 0 <= d.image.min() and d.image.max() <= 1
    assert torch.allclose(d.image[0, 1, 2], torch.tensor([1.0, 0.5, 0.0]))  # heat ramp at 0.5
    assert torch.equal(d.image[0, 0, 0], torch.zeros(3))  # unchanged: black
    amp = D.image_difference(src, out, mode="amplified difference", gain=4.0)
    assert torch.allclose(amp.image[0, 1, 2], torch.tensor([1.0, 0.4, 0.0]))
    assert amp.mean_abs == d.mean_abs  # gain changes the picture, not the numbers
    over = D.image_difference(src + 0.5, out + 0.5, mode="overlay", gain=2.0)
    assert torch.allclose(over.image[0, 1, 2], torch.tensor([1.0, 1.0, 0.0]))  # saturated: yellow
    assert torch.allclose(over.image[0, 0, 0], torch.full((3,), 0.3))  # unchanged: the image in grey
    assert "5.0 % of the pixels changed by more than 0.05" in d.summary and "1 image of 5x4" in d.summary
    same = D.image_difference(src, src)
    assert same.mean_abs == 0 and same.changed_fraction == 0 and "no pixel changed" in same.summary


def test_difference_batches():
    g = torch.Generator().manual_seed(0)
    src = torch.rand(1, 8, 8, 3, generator=g)
    edits = torch.stack([src[0], (src[0] + 0.2).clamp(0, 1), 1 - src[0]])
    d = D.image_difference(src, edits)  # one source for every edit
    assert d.image.shape == (3, 8, 8, 3) and d.mask.shape == (3, 8, 8)
    assert d.per_image[0] == (0.0, 0.0, 0.0) and d.per_image[1][0] < d.per_image[2][0]
    assert "3 images" in d.summary and "Per image" in d.summary
    pairs = D.image_difference(edits, edits.flip(0))  # one source per edit
    assert pairs.per_image[1] == (0.0, 0.0, 0.0)
    assert D.image_difference(edits, src).image.shape == (3, 8, 8, 3)  # one edit against several sources
    with pytest.raises(ValueError, match="^edited: has 3 images, but source has 2"):
        D.image_difference(edits[:2], edits)


def test_difference_sizes_channels_and_bad_input():
    g = torch.Generator().manual_seed(1)
    src = torch.rand(1, 21, 35, 3, generator=g)  # not a multiple of 8
    # VAE Encode crops centred to 16 x 32 (offsets (21 % 8) // 2 = 2 and (35 % 8) // 2 = 1); undone here
    crop = src[:, 2:18, 1:33]
    d = D.image_difference(src, crop)
    assert d.mean_abs == 0 and "centre-cropped from 35x21 to 32x16" in d.summary
    with pytest.raises(ValueError, match=r"^edited: is 32x24 pixels \(width x height\), but source is 35x21"):
        D.image_difference(src, torch.rand(1, 24, 32, 3))
    rgba = torch.cat([src, torch.ones(1, 21, 35, 1)], dim=-1)
    assert D.image_difference(rgba, src).mean_abs == 0  # alpha ignored
    grey = torch.rand(1, 4, 4, 1, generator=g)
    assert D.image_difference(grey, grey.expand(1, 4, 4, 3)).mean_abs == 0
    assert D.image_difference(src[0], src).mean_abs == 0  # an (H, W, C) image is one image
    for kwargs, name in (({"mode": "diff"}, "mode"), ({"gain": 0.0}, "gain"), ({"threshold": 2.0}, "threshold")):
        with pytest.raises(ValueError, match=f"^{name}: "):
            D.image_difference(src, src, **kwargs)
    with pytest.raises(ValueError, match=r"^source: expected an IMAGE of shape \(B, H, W, 3\)"):
        D.image_difference(torch.zeros(1, 4, 8, 8, 8), src)
    with pytest.raises(ValueError, match="^edited: contains NaN"):
        D.image_difference(src, torch.full_like(src, float("nan")))
    with pytest.raises(ValueError, match="^edited: expected an IMAGE tensor"):
        D.image_difference(src, {"samples": src})


def test_difference_summary_is_one_paragraph():
    d = D.image_difference(torch.zeros(20, 2, 2, 3), torch.rand(20, 2, 2, 3))
    assert "\n" not in d.summary and "; ..." in d.summary and re.search(r"16: [0-9.]+, [0-9.]+ %", d.summary)


def test_a_late_start_with_a_small_change_is_a_hint_too():
    """Below 10 % noise at the start, a change under 10 % means the target could only tint the image (on the
    demo scene model a colour edit from step 27 of 28 changes 5 % and keeps the old colour)."""
    x = latents()
    y = x + 0.05 * x.std(unbiased=False).item()  # a 5 % change
    assert D.change_hint("Sync-SDE Edit", x, y) is None
    assert D.change_hint("Sync-SDE Edit", x, y, start_noise=0.5) is None
    level, message = D.change_hint("Sync-SDE Edit", x, y, few=["lower start_step (now 27 of 28)"], start_noise=0.036)
    assert level == logging.WARNING
    assert "started where the latent holds only 4 % noise" in message and "lower start_step (now 27 of 28)" in message
    assert D.change_hint("Sync-SDE Edit", x, x + 0.2 * x.std(unbiased=False).item(), start_noise=0.036) is None
    assert D.noise_fraction(0.3, flow=True) == 0.3
    assert abs(D.noise_fraction(14.6, flow=False) - 14.6 / (1 + 14.6 ** 2) ** 0.5) < 1e-12


def test_small_pictures_are_enlarged_in_whole_pixels_for_display():
    img = torch.rand(2, 32, 48, 3)
    big = D.enlarged_for_display(img)
    assert big.shape == (2, 128, 192, 3)
    assert torch.equal(big[:, ::4, ::4], img) and torch.equal(big[:, 3::4, 3::4], img)  # 4x4 blocks
    large = torch.rand(1, 128, 300, 3)
    assert D.enlarged_for_display(large) is large
