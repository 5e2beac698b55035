"""The nodes on a Flux-architecture MODEL (flow family), through ComfyUI's guider path."""

import pytest
import torch

SYNC, FWD, INC, CPL = ("CoupledSDE_SyncSDEEdit", "CoupledSDE_ForwardNoising", "CoupledSDE_BackwardIncrements",
                       "CoupledSDE_CoupledSampling")


def sigmas(comfy, model, steps=6):
    (s,) = comfy.stock("BasicScheduler", "get_sigmas", model, "simple", steps, 1.0)
    return s


def edit(comfy, model, src, tgt, lat, sig, start=1, seed=3, **kw):
    (out, _) = comfy.run(SYNC, model=model, source_positive=src, target_positive=tgt, latent=lat, sigmas=sig,
                       start_step=start, seed=seed, **kw)
    return out["samples"]


def count_calls(model):
    """A clone whose every forward records its batch size (a stock model_function_wrapper)."""
    m = model.clone()
    batches = []

    def wrapper(apply_model, args):
        batches.append(args["input"].shape[0])
        return apply_model(args["input"], args["timestep"], **args["c"])

    m.set_model_unet_function_wrapper(wrapper)
    return m, batches


@pytest.mark.parametrize("solver,start", [("posterior", 0), ("posterior", 2), ("euler", 1)])
@pytest.mark.parametrize("batch_branches", [True, False])
def test_identity_edit_is_bit_exact(comfy, flux, conds, solver, start, batch_branches):
    src, lat = conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    out = edit(comfy, flux, src, src, lat, sig, start=start, solver=solver, batch_branches=batch_branches)
    assert torch.equal(out, lat["samples"])


def test_three_node_chain_identity_and_equivalence(comfy, flux, conds):
    src, tgt, lat = conds.flux(), conds.flux(guidance=5.0), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    (path,) = comfy.run(FWD, model=flux, latent=lat, sigmas=sig, start_step=1, seed=3)
    (inc,) = comfy.run(INC, model=flux, positive=src, path=path)
    (same, _) = comfy.run(CPL, model=flux, positive=src, increments=inc)
    assert torch.equal(same["samples"], lat["samples"])
    # one inversion, several targets: each equals the all-in-one node (sequential calls)
    for target in (tgt, conds.flux()):
        (y, _) = comfy.run(CPL, model=flux, positive=target, increments=inc)
        ref = edit(comfy, flux, src, target, lat, sig, batch_branches=False)
        assert torch.equal(y["samples"], ref)


def test_target_changes_result_and_seed_is_deterministic(comfy, flux, conds):
    src, tgt, lat = conds.flux(), conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    a = edit(comfy, flux, src, tgt, lat, sig, seed=11)
    b = edit(comfy, flux, src, tgt, lat, sig, seed=11)
    c = edit(comfy, flux, src, tgt, lat, sig, seed=12)
    torch.manual_seed(123)  # the global RNG plays no part
    d = edit(comfy, flux, src, tgt, lat, sig, seed=11)
    assert torch.equal(a, b) and torch.equal(a, d)
    change = (a - lat["samples"]).abs().mean().item()
    assert change > 1e-3, change
    assert (a - c).abs().mean().item() > 1e-4
    # guidance alone (FluxGuidance on the target) is a different target too
    g = edit(comfy, flux, src, [[src[0][0], {**src[0][1], "guidance": 7.0}]], lat, sig, seed=11)
    assert (g - lat["samples"]).abs().mean().item() > 1e-4


def test_batched_branches_are_one_forward_per_step(comfy, flux, conds):
    # source: one prompt per latent; target: one prompt for both, with its own guidance
    src, tgt, lat = conds.flux(batch=2), conds.flux(guidance=5.0), conds.latent(2, 16, 16, 16)
    sig = sigmas(comfy, flux)
    m, batches = count_calls(flux)
    paired = edit(comfy, m, src, tgt, lat, sig, start=1)
    assert batches == [4] * 5  # 5 steps, source (2) + target (2) in one forward each
    batches.clear()
    single = edit(comfy, m, src, tgt, lat, sig, start=1, batch_branches=False)
    assert batches == [2] * 10
    batches.clear()
    # Flux's text cond is a plain CONDRegular: other token counts cannot share a forward (as in
    # ComfyUI's own cond/uncond batching), so the node falls back to two calls per step
    edit(comfy, m, src, conds.flux(tokens=16), lat, sig, start=1)
    assert batches == [2] * 10
    assert paired.shape == lat["samples"].shape
    err = (paired - single).abs().max().item()
    print(f"batched vs sequential max |diff| = {err:.2e}")
    assert err < 1e-4


def test_true_cfg_with_negative(comfy, flux, conds):
    src, tgt, neg, lat = conds.flux(), conds.flux(), conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    m, batches = count_calls(flux)
    a = edit(comfy, m, src, tgt, lat, sig, source_negative=neg, target_negative=neg, source_cfg=2.0, target_cfg=2.0)
    assert batches == [4] * 5  # cond + uncond of both branches in one forward
    batches.clear()
    b = edit(comfy, m, src, tgt, lat, sig, target_negative=neg, target_cfg=2.0)
    assert batches == [1, 2] * 5  # cfg differs: source alone, then target cond + uncond
    batches.clear()
    edit(comfy, m, src, tgt, lat, sig, target_negative=neg)  # cfg 1 on both: the negative is unused
    assert batches == [2] * 5
    base = edit(comfy, flux, src, tgt, lat, sig)
    assert (a - base).abs().mean().item() > 1e-4 and (b - base).abs().mean().item() > 1e-4
    same = edit(comfy, flux, src, src, lat, sig, source_negative=neg, target_negative=neg, source_cfg=2.0,
                target_cfg=2.0)
    assert torch.equal(same, lat["samples"])


def test_mask_keeps_the_source_outside(comfy, flux, conds):
    src, tgt, lat = conds.flux(), conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    mask = torch.zeros(1, 128, 128)  # image-size MASK, resized to the 16x16 latent
    mask[:, :, 64:] = 1.0
    out = edit(comfy, flux, src, tgt, lat, sig, mask=mask)
    assert torch.equal(out[..., :7], lat["samples"][..., :7])
    assert (out[..., 9:] - lat["samples"][..., 9:]).abs().mean().item() > 1e-3
    # the latent's own noise mask is used when no mask is connected
    out2 = edit(comfy, flux, src, tgt, {**lat, "noise_mask": mask}, sig)
    assert torch.equal(out, out2)


def test_progress_every_step_and_interrupt_leaves_model_clean(comfy, flux, conds, monkeypatch):
    # ComfyUI 0.33+ throttles the hook (ProgressBar sends the first, the last and then at most every
    # PROGRESS_THROTTLE_MIN_INTERVAL s / _PERCENT %): switch the throttle off to see every step
    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_INTERVAL", 0.0, raising=False)
    monkeypatch.setattr(comfy.utils, "PROGRESS_THROTTLE_MIN_PERCENT", 0.0, raising=False)
    src, tgt, lat = conds.flux(), conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    before = edit(comfy, flux, src, tgt, lat, sig)
    snapshot = (dict(flux.model_options), dict(flux.patches), dict(flux.object_patches))
    seen = []

    def hook(value, total, preview, prompt_id=None, node_id=None):
        seen.append((value, total))

    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        edit(comfy, flux, src, tgt, lat, sig)
        assert seen == [(i, 5) for i in range(1, 6)]

        def interrupting(value, total, preview, prompt_id=None, node_id=None):
            if value == 2:
                comfy.mm.interrupt_current_processing(True)

        comfy.utils.set_progress_bar_global_hook(interrupting)
        with pytest.raises(comfy.mm.InterruptProcessingException):
            edit(comfy, flux, src, tgt, lat, sig)
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
        comfy.mm.interrupt_current_processing(False)
    assert (dict(flux.model_options), dict(flux.patches), dict(flux.object_patches)) == snapshot
    assert torch.equal(edit(comfy, flux, src, tgt, lat, sig), before)


def test_batch_of_latents_is_preserved(comfy, flux, conds):
    src, lat = conds.flux(batch=2), conds.latent(2, 16, 16, 16)
    tgt = conds.flux()  # one target prompt for both latents
    sig = sigmas(comfy, flux)
    out = edit(comfy, flux, src, tgt, lat, sig)
    assert out.shape == (2, 16, 16, 16)
    assert all((out[i] - lat["samples"][i]).abs().mean().item() > 1e-3 for i in range(2))
    same = edit(comfy, flux, src, src, lat, sig)
    assert torch.equal(same, lat["samples"])


def test_flowedit_node(comfy, flux, sd15, conds):
    src, tgt, lat = conds.flux(), conds.flux(guidance=5.5), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    m, batches = count_calls(flux)
    (out, _) = comfy.run("CoupledSDE_FlowEdit", model=m, source_positive=src, target_positive=tgt, latent=lat,
                       sigmas=sig, start_step=1, seed=0)
    assert batches == [2] * 5  # source and target velocities in one forward per step
    assert (out["samples"] - lat["samples"]).abs().mean().item() > 1e-3
    (again, _) = comfy.run("CoupledSDE_FlowEdit", model=flux, source_positive=src, target_positive=tgt, latent=lat,
                         sigmas=sig, start_step=1, seed=0, n_avg=2, n_min=1)
    assert not torch.equal(again["samples"], out["samples"])
    with pytest.raises(ValueError, match="^model: FlowEdit needs a flow-family"):
        comfy.run("CoupledSDE_FlowEdit", model=sd15, source_positive=conds.sd(), target_positive=conds.sd(),
                  latent=conds.latent(1, 4, 8, 8), sigmas=sig, start_step=1, seed=0)
