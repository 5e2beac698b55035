"""Bad input to the nodes: each a clear ValueError whose message starts with the input's name."""

import pytest
import torch

SYNC = "CoupledSDE_SyncSDEEdit"


@pytest.fixture
def base(comfy, flux, conds):
    (sig,) = comfy.stock("BasicScheduler", "get_sigmas", flux, "simple", 6, 1.0)
    return dict(model=flux, source_positive=conds.flux(), target_positive=conds.flux(),
                latent=conds.latent(1, 16, 16, 16), sigmas=sig, start_step=1, seed=0)


def fails(comfy, node_id, starts, **inputs):
    with pytest.raises(ValueError) as e:
        comfy.run(node_id, **inputs)
    msg = str(e.value)
    assert msg.startswith(starts), msg
    return msg


def test_latent_channels_must_match_the_model(comfy, base, conds):
    msg = fails(comfy, SYNC, "latent:", **{**base, "latent": conds.latent(1, 4, 16, 16)})
    assert "4 channels" in msg and "expects 16" in msg


def test_conditioning_batch_must_match_the_latent(comfy, base, conds):
    msg = fails(comfy, SYNC, "source_positive:", **{**base, "latent": conds.latent(2, 16, 16, 16),
                                                     "source_positive": conds.flux(batch=3)})
    assert "batch 3" in msg and "batch 2" in msg


def test_empty_conditioning(comfy, base):
    fails(comfy, SYNC, "target_positive:", **{**base, "target_positive": []})
    fails(comfy, "CoupledSDE_BackwardIncrements", "positive:", model=base["model"], positive=[],
          path=comfy.run("CoupledSDE_ForwardNoising", model=base["model"], latent=base["latent"],
                         sigmas=base["sigmas"], start_step=1, seed=0)[0])


def test_start_step_outside_the_schedule(comfy, base):
    msg = fails(comfy, SYNC, "start_step:", **{**base, "start_step": 6})
    assert "0 to 5" in msg
    fails(comfy, "CoupledSDE_ForwardNoising", "start_step:", model=base["model"], latent=base["latent"],
          sigmas=base["sigmas"], start_step=-1, seed=0)


def test_sigmas_not_decreasing(comfy, base):
    fails(comfy, SYNC, "sigmas:", **{**base, "sigmas": torch.tensor([1.0, 0.5, 0.7, 0.0])})


def test_mask_with_extra_channels_or_batch(comfy, base):
    fails(comfy, SYNC, "mask:", **{**base, "mask": torch.ones(1, 3, 128, 128)})
    fails(comfy, SYNC, "mask:", **{**base, "mask": torch.ones(3, 128, 128)})
    fails(comfy, SYNC, "mask:", **{**base, "mask": torch.full((1, 16, 16), 2.0)})
    # another size is resized, not refused (see test_flux_nodes.test_mask_keeps_the_source_outside)
    (out,) = comfy.run(SYNC, **{**base, "mask": torch.ones(1, 40, 52)})
    assert out["samples"].shape == base["latent"]["samples"].shape


def test_increments_from_another_family(comfy, base, sd15, conds):
    (sig,) = comfy.stock("BasicScheduler", "get_sigmas", sd15, "normal", 4, 1.0)
    (inc,) = comfy.run("CoupledSDE_CycleSDEInversion", model=sd15, positive=conds.sd(),
                       latent=conds.latent(1, 4, 8, 8), sigmas=sig, start_step=0, seed=0)
    msg = fails(comfy, "CoupledSDE_CoupledSampling", "increments:", model=base["model"],
                positive=base["target_positive"], increments=inc)
    assert "VE-family SD15" in msg and "flow-family" in msg
    (path,) = comfy.run("CoupledSDE_ForwardNoising", model=base["model"], latent=base["latent"],
                        sigmas=base["sigmas"], start_step=1, seed=0)
    fails(comfy, "CoupledSDE_BackwardIncrements", "path:", model=sd15, positive=conds.sd(), path=path)


def test_wrong_custom_type(comfy, base):
    fails(comfy, "CoupledSDE_CoupledSampling", "increments:", model=base["model"],
          positive=base["target_positive"], increments="not increments")


def test_euler_at_a_flow_sigma_of_one(comfy, base):
    fails(comfy, SYNC, "sigmas:", **{**base, "start_step": 0, "solver": "euler"})
