"""The nodes on an SD1.5 UNet loaded by the stock UNETLoader (VE family), chained with stock
LoRA and ControlNet nodes."""

import pytest
import torch

SYNC, CINV, CSAM = "CoupledSDE_SyncSDEEdit", "CoupledSDE_CycleSDEInversion", "CoupledSDE_CycleSDESampling"


@pytest.fixture
def setup(comfy, sd15, conds):
    (sig,) = comfy.stock("BasicScheduler", "get_sigmas", sd15, "normal", 6, 1.0)
    return sig, conds.sd(), conds.sd(), conds.sd(), conds.latent(1, 4, 8, 8)


def edit(comfy, model, src, tgt, lat, sig, **kw):
    kw.setdefault("start_step", 1)
    kw.setdefault("seed", 5)
    (out, _) = comfy.run(SYNC, model=model, source_positive=src, target_positive=tgt, latent=lat, sigmas=sig, **kw)
    return out["samples"]


def test_family_is_ve_and_identity_is_bit_exact(comfy, sd15, setup):
    sig, src, tgt, neg, lat = setup
    assert float(sig[0]) > 10  # VE sigmas (x = x0 + sigma eps), not flow
    for solver in ("posterior", "euler"):
        out = edit(comfy, sd15, src, src, lat, sig, solver=solver, source_negative=neg, target_negative=neg,
                   source_cfg=4.0, target_cfg=4.0)
        assert torch.equal(out, lat["samples"]), solver
    changed = edit(comfy, sd15, src, tgt, lat, sig, source_negative=neg, target_negative=neg, source_cfg=4.0,
                   target_cfg=4.0)
    assert (changed - lat["samples"]).abs().mean().item() > 1e-3


def test_cycle_sde_reconstructs_and_edits(comfy, sd15, setup):
    sig, src, tgt, neg, lat = setup
    (inc,) = comfy.run(CINV, model=sd15, positive=src, latent=lat, sigmas=sig, start_step=0, seed=2,
                       negative=neg, cfg=3.0)
    (rec,) = comfy.run(CSAM, model=sd15, positive=src, increments=inc, negative=neg, cfg=3.0)
    err = (rec["samples"] - lat["samples"]).abs().max().item()
    print(f"Cycle-SDE reconstruction max |err| = {err:.2e} (|x0| max {lat['samples'].abs().max():.2f})")
    assert err <= 1e-5
    (ed,) = comfy.run(CSAM, model=sd15, positive=tgt, increments=inc, negative=neg, cfg=3.0)
    assert (ed["samples"] - lat["samples"]).abs().mean().item() > 1e-3
    # the same increments drive sync-SDE's Coupled Sampling too (difference form: bit-exact identity)
    (same, _) = comfy.run("CoupledSDE_CoupledSampling", model=sd15, positive=src, increments=inc, negative=neg,
                        cfg=3.0)
    assert torch.equal(same["samples"], lat["samples"])


def test_stock_lora_reaches_the_model_calls(comfy, sd15, sd15_lora, setup):
    sig, src, tgt, _, lat = setup
    base = edit(comfy, sd15, src, tgt, lat, sig)
    (lora,) = comfy.stock("LoraLoaderModelOnly", "load_lora_model_only", sd15, sd15_lora, 1.0)
    (half,) = comfy.stock("LoraLoaderModelOnly", "load_lora_model_only", sd15, sd15_lora, 0.5)
    assert len(lora.patches) > 0 and len(sd15.patches) == 0
    with_lora = edit(comfy, lora, src, tgt, lat, sig)
    with_half = edit(comfy, half, src, tgt, lat, sig)
    d1 = (with_lora - base).abs().mean().item()
    d05 = (with_half - base).abs().mean().item()
    print(f"LoRA effect on the edit: strength 1.0 -> {d1:.4f}, 0.5 -> {d05:.4f}")
    assert d1 > 1e-3 and 0 < d05 < d1
    assert torch.equal(edit(comfy, lora, src, src, lat, sig), lat["samples"])  # identity still exact
    # the base MODEL is untouched: same bits as before the LoRA runs
    assert len(sd15.patches) == 0
    assert torch.equal(edit(comfy, sd15, src, tgt, lat, sig), base)


def test_stock_controlnet_reaches_the_model_calls(comfy, sd15, sd15_controlnet, setup):
    sig, src, tgt, neg, lat = setup
    hint = torch.linspace(0, 1, 64 * 64 * 3).reshape(1, 64, 64, 3)

    def control(strength):
        return comfy.stock("ControlNetApplyAdvanced", "apply_controlnet", tgt, neg, sd15_controlnet, hint,
                           strength, 0.0, 1.0)

    tgt0, _ = control(0.0)
    tgt1, neg1 = control(1.0)
    plain = edit(comfy, sd15, src, tgt, lat, sig)
    off = edit(comfy, sd15, src, tgt0, lat, sig)
    on = edit(comfy, sd15, src, tgt1, lat, sig, target_negative=neg1, source_negative=neg, source_cfg=2.0,
              target_cfg=2.0)
    on_nocfg = edit(comfy, sd15, src, tgt1, lat, sig)
    d = (on_nocfg - plain).abs().mean().item()
    print(f"ControlNet effect on the edit: {d:.4f}")
    assert torch.equal(off, plain)  # strength 0 is a no-op
    assert d > 1e-3
    assert (on - plain).abs().mean().item() > 1e-3
    # ControlNet on both branches with the same prompt: still an exact identity edit
    assert torch.equal(edit(comfy, sd15, tgt1, tgt1, lat, sig), lat["samples"])
