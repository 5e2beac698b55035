"""``target_model`` on Sync-SDE Edit and FlowEdit (issue 19): the target branch on a second MODEL (an edit
model), driven by the same Brownian increments; and the staged path with an edit model on Coupled Sampling.

Calls are counted per model with a stock ``model_function_wrapper`` on a CLONE of each model (the input
MODELs are never touched). Two tiny Flux models with different weights stand in for a base model and its
edit model (same latent format, separate weights, as Flux.1-dev and Flux.1 Kontext)."""

import pytest
import torch
from comfy_env import build_model, tiny_flux

SYNC, FLOWEDIT = "CoupledSDE_SyncSDEEdit", "CoupledSDE_FlowEdit"
FWD, INC, CPL = "CoupledSDE_ForwardNoising", "CoupledSDE_BackwardIncrements", "CoupledSDE_CoupledSampling"


@pytest.fixture(scope="session")
def flux_edit(comfy):
    """A second Flux MODEL with its own weights (the edit model of these tests)."""
    return build_model(comfy, comfy.supported.Flux, tiny_flux(comfy), seed=1)


@pytest.fixture(scope="session")
def flux_copy(comfy):
    """A second Flux MODEL with the same weights as ``flux``, loaded separately (not a clone)."""
    return build_model(comfy, comfy.supported.Flux, tiny_flux(comfy), seed=0)


def sigmas(comfy, model, steps=6, scheduler="simple"):
    (s,) = comfy.stock("BasicScheduler", "get_sigmas", model, scheduler, steps, 1.0)
    return s


def tagged(model, tag, log, outputs=None):
    """A clone whose every forward appends ``(tag, batch, sigma, has reference latents, has control)`` to
    ``log`` (and its output to ``outputs[tag]``): a stock model_function_wrapper, on a clone."""
    m = model.clone()

    def wrapper(apply_model, args):
        c = args["c"]
        log.append((tag, args["input"].shape[0], float(args["timestep"][0]), "ref_latents" in c,
                    c.get("control") is not None))
        out = apply_model(args["input"], args["timestep"], **c)
        if outputs is not None:
            outputs.setdefault(tag, []).append((args["input"].clone(), out.clone(), c.get("ref_latents")))
        return out

    m.set_model_unet_function_wrapper(wrapper)
    return m


def run(comfy, node, model, src, tgt, lat, sig, start=1, seed=3, **kw):
    (out, _) = comfy.run(node, model=model, source_positive=src, target_positive=tgt, latent=lat, sigmas=sig,
                         start_step=start, seed=seed, **kw)
    return out["samples"]


def fails(comfy, node, starts, **inputs):
    with pytest.raises(ValueError) as e:
        comfy.run(node, **inputs)
    msg = str(e.value)
    assert msg.startswith(starts), msg
    return msg


# ---- (a) every call goes to its model ----------------------------------------------------------------

@pytest.mark.parametrize("node", [SYNC, FLOWEDIT])
@pytest.mark.parametrize("batch_branches", [True, False])
def test_source_calls_on_model_target_calls_on_target_model(comfy, flux, flux_edit, conds, node, batch_branches):
    src, tgt, lat = conds.flux(), conds.flux(guidance=5.0), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    log = []
    source, target = tagged(flux, "source", log), tagged(flux_edit, "target", log)
    out = run(comfy, node, source, src, tgt, lat, sig, batch_branches=batch_branches, target_model=target)
    # 5 steps; each step: the source on model, then the target on target_model, one latent each, never batched
    assert [(t, b) for t, b, *_ in log] == [("source", 1), ("target", 1)] * 5
    # at the same sigma: the one grid of the Brownian path and its increments
    assert [s for _, _, s, *_ in log[0::2]] == [s for _, _, s, *_ in log[1::2]]
    assert [s for _, _, s, *_ in log[0::2]] == pytest.approx([float(x) for x in sig[1:-1]])
    # the edit model made a difference: not what one model gives for the same prompts
    one = run(comfy, node, flux, src, tgt, lat, sig, batch_branches=batch_branches)
    assert (out - one).abs().mean().item() > 1e-4
    # cfg on both branches: each call is that branch's cond + uncond, on its own model
    log.clear()
    neg = conds.flux()
    run(comfy, node, source, src, tgt, lat, sig, batch_branches=batch_branches, target_model=target,
        source_negative=neg, target_negative=neg, source_cfg=2.0, target_cfg=2.0)
    assert [(t, b) for t, b, *_ in log] == [("source", 2), ("target", 2)] * 5
    # the MODEL inputs are untouched (the wrappers live on clones, and so does the run's patching)
    assert all("model_function_wrapper" not in m.model_options for m in (flux, flux_edit))


def test_both_models_are_loaded_together_and_cleaned_up(comfy, flux, flux_edit, conds, monkeypatch):
    src, tgt, lat = conds.flux(), conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    loads = []
    stock_load = comfy.mm.load_models_gpu

    def load_models_gpu(models, *args, **kwargs):
        loads.append(list(models))
        return stock_load(models, *args, **kwargs)

    monkeypatch.setattr(comfy.mm, "load_models_gpu", load_models_gpu)
    loaded = []
    target = flux_edit.clone()

    def wrapper(apply_model, args):
        loaded.append([m for m in comfy.mm.loaded_models()])
        return apply_model(args["input"], args["timestep"], **args["c"])

    target.set_model_unet_function_wrapper(wrapper)
    snapshot = [(dict(m.model_options), dict(m.patches), dict(m.object_patches), dict(m.additional_models))
                for m in (flux, flux_edit)]
    run(comfy, SYNC, flux, src, tgt, lat, sig, target_model=target)
    # two model-management loads (one per guider); the last, made before the algorithm runs, holds both
    # models, so neither is unloaded to make room for the other
    assert len(loads) == 2 and any(m is flux for m in loads[0]) and not any(m.is_clone(flux_edit) for m in loads[0])
    assert any(m is flux for m in loads[1]) and any(m.is_clone(flux_edit) for m in loads[1])
    assert len(loaded) == 5
    for models in loaded:  # during every target call, model management holds both models
        assert any(m is flux for m in models)
        assert any(m.is_clone(flux_edit) for m in models)
    assert [(dict(m.model_options), dict(m.patches), dict(m.object_patches), dict(m.additional_models))
            for m in (flux, flux_edit)] == snapshot
    assert flux.model.current_patcher is None and flux_edit.model.current_patcher is None


def test_interrupt_leaves_both_models_clean(comfy, flux, flux_edit, conds, monkeypatch):
    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_INTERVAL", 0.0, raising=False)
    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_PERCENT", 0.0, raising=False)
    src, tgt, lat = conds.flux(), conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    before = run(comfy, SYNC, flux, src, tgt, lat, sig, target_model=flux_edit)
    seen = []

    def interrupting(value, total, preview, prompt_id=None, node_id=None):
        seen.append((value, total))
        if value == 2:
            comfy.mm.interrupt_current_processing(True)

    comfy.utils.set_progress_bar_global_hook(interrupting)
    try:
        with pytest.raises(comfy.mm.InterruptProcessingException):
            run(comfy, SYNC, flux, src, tgt, lat, sig, target_model=flux_edit)
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
        comfy.mm.interrupt_current_processing(False)
    assert seen == [(1, 5), (2, 5)]  # one progress bar, one tick per step
    assert flux.model.current_patcher is None and flux_edit.model.current_patcher is None
    assert not flux.additional_models and not flux_edit.additional_models
    assert torch.equal(run(comfy, SYNC, flux, src, tgt, lat, sig, target_model=flux_edit), before)


# ---- (b) identity edits ------------------------------------------------------------------------------

def test_identity_is_bit_exact_with_the_same_model_a_clone_or_a_copy(comfy, flux, flux_copy, conds):
    src, lat = conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    for target in (flux, flux.clone(), flux_copy):
        out = run(comfy, SYNC, flux, src, src, lat, sig, target_model=target)
        assert torch.equal(out, lat["samples"])
        out = run(comfy, FLOWEDIT, flux, src, src, lat, sig, target_model=target, localize=0.5)
        assert torch.equal(out, lat["samples"])
    # a separately loaded copy of the weights runs as a second model and gives what one model gives
    tgt = conds.flux(guidance=5.0)
    one = run(comfy, SYNC, flux, src, tgt, lat, sig, batch_branches=False)
    assert torch.equal(run(comfy, SYNC, flux, src, tgt, lat, sig, target_model=flux_copy), one)
    assert torch.equal(run(comfy, SYNC, flux, src, tgt, lat, sig, target_model=flux.clone()), one)


def test_the_same_model_as_target_is_never_batched(comfy, flux, conds):
    src, tgt, lat = conds.flux(), conds.flux(guidance=5.0), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    log = []
    m = tagged(flux, "model", log)
    run(comfy, SYNC, m, src, tgt, lat, sig)
    assert [b for _, b, *_ in log] == [2] * 5  # not connected: batched, as before
    for target in (m, m.clone()):  # the same MODEL, or an unchanged clone: one model, two calls a step
        log.clear()
        run(comfy, SYNC, m, src, tgt, lat, sig, target_model=target)
        assert [b for _, b, *_ in log] == [1] * 10


def test_a_clone_with_other_patches_is_refused(comfy, flux, conds):
    src, lat = conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    wrapped = tagged(flux, "x", [])
    (shifted,) = comfy.stock("ModelSamplingFlux", "patch", flux, 1.5, 0.5, 128, 128)
    for target in (wrapped, shifted):
        msg = fails(comfy, SYNC, "target_model:", model=flux, source_positive=src, target_positive=src, latent=lat,
                    sigmas=sig, start_step=1, seed=0, target_model=target)
        assert "same loaded Flux model" in msg and "hook" in msg
    assert "model_function_wrapper" not in flux.model_options


# ---- (c) latent formats must match -------------------------------------------------------------------

def test_latent_format_mismatch_is_refused(comfy, flux, sd15, conds):
    src, lat = conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    for node in (SYNC, FLOWEDIT):
        msg = fails(comfy, node, "target_model:", model=flux, source_positive=src, target_positive=src, latent=lat,
                    sigmas=sig, start_step=1, seed=0, target_model=sd15)
        assert "VE-family SD15 model (SD15 latents)" in msg and "flow-family (CONST) Flux model (Flux latents)" in msg
    sd_sig = sigmas(comfy, sd15, scheduler="normal")
    msg = fails(comfy, SYNC, "target_model:", model=sd15, source_positive=conds.sd(), target_positive=conds.sd(),
                latent=conds.latent(1, 4, 8, 8), sigmas=sd_sig, start_step=1, seed=0, target_model=flux)
    assert "Flux latents" in msg and "SD15 latents" in msg
    # another flow noise scale (HiDream-O1: 8) is another coordinate system
    ms = flux.get_model_object("model_sampling")
    scaled_sampling = type(ms)(flux.model.model_config)
    scaled_sampling.noise_scale = 8.0
    scaled = flux.clone()
    scaled.add_object_patch("model_sampling", scaled_sampling)
    msg = fails(comfy, SYNC, "target_model:", model=flux, source_positive=src, target_positive=src, latent=lat,
                sigmas=sig, start_step=1, seed=0, target_model=scaled)
    assert "noise scale 8" in msg
    # a model that cannot be edited at all is named as target_model (here an image-to-image model)
    (img2img,) = comfy.stock("ModelSamplingDiscrete", "patch", sd15, "img_to_img", False)
    msg = fails(comfy, SYNC, "target_model:", model=sd15, source_positive=conds.sd(), target_positive=conds.sd(),
                latent=conds.latent(1, 4, 8, 8), sigmas=sd_sig, start_step=1, seed=0, target_model=img2img)
    assert "image-to-image" in msg


@pytest.fixture(scope="session")
def sd15_zsnr(comfy, sd15_file):
    """A second SD1.5 UNet (loaded again: its own weights in memory) with zero-terminal-SNR sampling, whose
    schedule reaches sigma ~4500 (SD1.5's: 14.6)."""
    (model,) = comfy.stock("UNETLoader", "load_unet", sd15_file, "default")
    (model,) = comfy.stock("ModelSamplingDiscrete", "patch", model, "eps", True)
    return model


def test_ve_sigma_range_must_cover_the_edit(comfy, sd15, sd15_zsnr, conds):
    sig = sigmas(comfy, sd15_zsnr, scheduler="normal")
    top = float(sd15.get_model_object("model_sampling").sigma_max)
    assert float(sig[0]) > 1000 and top < 20
    base = dict(model=sd15_zsnr, source_positive=conds.sd(), target_positive=conds.sd(),
                latent=conds.latent(1, 4, 8, 8), sigmas=sig, seed=0, target_model=sd15)
    msg = fails(comfy, SYNC, "target_model:", **base, start_step=0)
    assert f"{top:.4g}" in msg and "raise start_step" in msg
    start = next(i for i, s in enumerate(sig.tolist()) if s <= top)
    (out, _) = comfy.run(SYNC, **base, start_step=start)  # below SD1.5's top: runs
    assert out["samples"].shape == (1, 4, 8, 8)
    # the other way round (the target covers more than the source) always runs
    (out, _) = comfy.run(SYNC, **{**base, "model": sd15, "target_model": sd15_zsnr,
                                  "sigmas": sigmas(comfy, sd15, scheduler="normal")}, start_step=1)
    # the staged path: increments from the zsnr model continued by SD1.5 from above its range
    (path,) = comfy.run(FWD, model=sd15_zsnr, latent=base["latent"], sigmas=sig, start_step=0, seed=0)
    (inc,) = comfy.run(INC, model=sd15_zsnr, positive=base["source_positive"], path=path)
    fails(comfy, CPL, "increments:", model=sd15, positive=base["target_positive"], increments=inc)


# ---- (d) the staged path with an edit model on Coupled Sampling --------------------------------------

def test_staged_path_with_edit_model_equals_sync_sde_edit(comfy, flux, flux_edit, conds):
    src, tgt, lat = conds.flux(), conds.flux(guidance=5.0), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    log = []
    source, target = tagged(flux, "source", log), tagged(flux_edit, "target", log)
    (path,) = comfy.run(FWD, model=source, latent=lat, sigmas=sig, start_step=1, seed=3)
    (inc,) = comfy.run(INC, model=source, positive=src, path=path)
    (staged, _) = comfy.run(CPL, model=target, positive=tgt, increments=inc)
    assert [t for t, *_ in log] == ["source"] * 5 + ["target"] * 5
    one = run(comfy, SYNC, flux, src, tgt, lat, sig, target_model=flux_edit)
    err = (staged["samples"] - one).abs().max().item()
    print(f"staged (edit model on Coupled Sampling) vs Sync-SDE Edit with target_model: max |diff| = {err:.2e}")
    assert err <= 1e-5
    assert (one - lat["samples"]).abs().mean().item() > 1e-3
    # the same increments with the base model on Coupled Sampling: another edit
    (base, _) = comfy.run(CPL, model=flux, positive=tgt, increments=inc)
    assert (base["samples"] - staged["samples"]).abs().mean().item() > 1e-4


# ---- (e) reference latents ride on the target branch only --------------------------------------------

def test_reference_latent_reaches_only_the_target_model(comfy, flux, flux_edit, conds):
    src, tgt, lat = conds.flux(), conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    (tgt_ref,) = comfy.run("ReferenceLatent", conditioning=tgt, latent=lat)  # the source image as reference
    seen = {}
    runs = {}
    for name, target_cond in (("plain", tgt), ("ref", tgt_ref)):
        log, outputs = [], {}
        source, target = tagged(flux, "source", log, outputs), tagged(flux_edit, "target", log, outputs)
        runs[name] = run(comfy, SYNC, source, src, target_cond, lat, sig, target_model=target)
        seen[name] = (log, outputs)
    log, outputs = seen["ref"]
    assert [(t, r) for t, _, _, r, _ in log] == [("source", False), ("target", True)] * 5
    want = flux_edit.model.process_latent_in(lat["samples"])  # processed by the model that evaluates it
    for _, _, refs in outputs["target"]:
        assert len(refs) == 1 and torch.equal(refs[0], want)
    # the source branch computed exactly the same thing with or without the target's reference latent
    plain_src, ref_src = seen["plain"][1]["source"], seen["ref"][1]["source"]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(plain_src, ref_src))
    assert not torch.equal(seen["plain"][1]["target"][0][1], seen["ref"][1]["target"][0][1])
    assert (runs["ref"] - runs["plain"]).abs().mean().item() > 1e-4
    # on one model (target_model not connected) too: the reference latent is never batched with the source
    log = []
    m = tagged(flux, "model", log)
    run(comfy, SYNC, m, src, tgt_ref, lat, sig)
    assert [(b, r) for _, b, _, r, _ in log] == [(1, False), (1, True)] * 5
    # and on the staged path, only Coupled Sampling's calls carry it
    log = []
    source, target = tagged(flux, "source", log), tagged(flux_edit, "target", log)
    (path,) = comfy.run(FWD, model=source, latent=lat, sigmas=sig, start_step=1, seed=3)
    (inc,) = comfy.run(INC, model=source, positive=src, path=path)
    (staged, _) = comfy.run(CPL, model=target, positive=tgt_ref, increments=inc)
    assert [(t, r) for t, _, _, r, _ in log] == [("source", False)] * 5 + [("target", True)] * 5
    assert (staged["samples"] - runs["ref"]).abs().max().item() <= 1e-5


def test_controlnet_on_the_target_runs_on_the_target_model(comfy, sd15, sd15_file, sd15_controlnet, conds):
    """A ControlNet on the target conditioning is loaded, run and cleaned up with the target's model."""
    (other,) = comfy.stock("UNETLoader", "load_unet", sd15_file, "default")
    (sig,) = comfy.stock("BasicScheduler", "get_sigmas", sd15, "normal", 4, 1.0)
    src, tgt, neg, lat = conds.sd(), conds.sd(), conds.sd(), conds.latent(1, 4, 8, 8)
    hint = torch.linspace(0, 1, 64 * 64 * 3).reshape(1, 64, 64, 3)
    tgt_cn, _ = comfy.stock("ControlNetApplyAdvanced", "apply_controlnet", tgt, neg, sd15_controlnet, hint, 1.0,
                            0.0, 1.0)
    log = []
    source, target = tagged(sd15, "source", log), tagged(other, "target", log)
    out = run(comfy, SYNC, source, src, tgt_cn, lat, sig, target_model=target)
    assert [(t, c) for t, _, _, _, c in log] == [("source", False), ("target", True)] * 3
    plain = run(comfy, SYNC, sd15, src, tgt, lat, sig, target_model=other)
    assert (out - plain).abs().mean().item() > 1e-4
    # same weights, same prompt, the ControlNet on both branches: still the source, bit for bit
    (src_cn, _) = comfy.stock("ControlNetApplyAdvanced", "apply_controlnet", src, neg, sd15_controlnet, hint, 1.0,
                              0.0, 1.0)
    assert torch.equal(run(comfy, SYNC, sd15, src_cn, src_cn, lat, sig, target_model=other), lat["samples"])
