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
    (out, _) = comfy.run(SYNC, **{**base, "mask": torch.ones(1, 40, 52)})
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


# ---- model families of current ComfyUI (issue: run on the ComfyUI our users have) -----------------

def with_sampling(comfy, model, mixin, **attrs):
    """A clone whose model_sampling is ``(its own sampling class, mixin)``, the way ComfyUI's
    ``model_base.model_sampling`` composes one, with ``attrs`` set on it."""
    ms = model.get_model_object("model_sampling")
    base = [c for c in type(ms).__mro__ if issubclass(c, torch.nn.Module)][0] if mixin else type(ms)
    cls = type("ModelSampling", (base, mixin), {}) if mixin else type(ms)
    new = cls(model.model.model_config)
    for k, v in attrs.items():
        setattr(new, k, v)
    m = model.clone()
    m.add_object_patch("model_sampling", new)
    return m


def test_image_to_image_models_are_refused(comfy, base, flux, sd15, conds):
    import comfy.model_sampling as ms

    names = [n for n in ("IMG_TO_IMG", "IMG_TO_IMG_FLOW", "IMG_TO_IMG_VELOCITY") if hasattr(ms, n)]
    assert "IMG_TO_IMG" in names  # 0.3.64 has IMG_TO_IMG (Lotus); 0.33+ adds the flow ones
    for name in names:
        flow = issubclass(getattr(ms, name), ms.CONST)
        model = with_sampling(comfy, flux if flow else sd15, getattr(ms, name))
        lat = base["latent"] if flow else conds.latent(1, 4, 16, 16)
        pos = base["source_positive"] if flow else conds.sd()
        msg = fails(comfy, SYNC, "model:", **{**base, "model": model, "latent": lat, "source_positive": pos,
                                              "target_positive": pos})
        assert name in msg and "does not sample from noise" in msg, msg
        fails(comfy, "CoupledSDE_ForwardNoising", "model:", model=model, latent=lat, sigmas=base["sigmas"],
              start_step=1, seed=0)


def test_nested_audio_video_latents_are_refused(comfy, base):
    try:
        from comfy.nested_tensor import NestedTensor
    except ImportError:  # ComfyUIs before nested latents (0.3.64) cannot hand one to a node
        NestedTensor = None
    if NestedTensor is not None:
        nested = {"samples": NestedTensor([base["latent"]["samples"], torch.zeros(1, 8, 4)])}
        msg = fails(comfy, SYNC, "latent:", **{**base, "latent": nested})
        assert "nested" in msg


def test_latent_rank_must_match_the_model(comfy, base):
    msg = fails(comfy, SYNC, "latent:", **{**base, "latent": {"samples": torch.zeros(1, 16, 2, 16, 16)}})
    assert "(B, C, H, W)" in msg and "(1, 16, 2, 16, 16)" in msg


def test_downscale_ratio_hints_are_dropped_as_stock_samplers_do(comfy, base):
    lat = dict(base["latent"], downscale_ratio_spacial=8, noise_mask=torch.ones(1, 16, 16))
    (out, _) = comfy.run(SYNC, **{**base, "latent": lat})
    assert "downscale_ratio_spacial" not in out and "noise_mask" in out


def test_flow_noise_scale_is_exact(comfy, base, flux, conds):
    """``x = (1 - sigma) x0 + sigma s eps`` (model_sampling.noise_scale, HiDream-O1: 8): the model sees
    noise of std ``s sigma``; identity stays bit-exact, Cycle-SDE reconstructs, increments made at
    one scale are refused at another."""
    scaled = with_sampling(comfy, flux, None, noise_scale=8.0)
    seen = []

    def wrapper(apply_model, args):
        seen.append((args["input"].clone(), float(args["timestep"][0])))
        return apply_model(args["input"], args["timestep"], **args["c"])

    scaled.set_model_unet_function_wrapper(wrapper)
    lat = conds.latent(1, 16, 32, 32)
    args = {**base, "model": scaled, "latent": lat, "start_step": 0}
    (same, _) = comfy.run(SYNC, **{**args, "target_positive": args["source_positive"]})
    assert torch.equal(same["samples"], lat["samples"])
    # the first model input is X_0 at sigma_0 = 1 (pure noise): std s * sigma_0 in model space
    x_first, sigma0 = seen[0]
    assert sigma0 == pytest.approx(1.0, abs=1e-3)
    assert x_first.std().item() == pytest.approx(8.0, rel=0.05)
    # a later input at sigma_i has noise std s * sigma_i around (1 - sigma_i) x0
    x0 = scaled.model.process_latent_in(lat["samples"])
    x_i, sig_i = seen[2]
    assert ((x_i[:1] - (1 - sig_i) * x0) / sig_i).std().item() == pytest.approx(8.0, rel=0.06)
    # the edit differs from the same edit on the unscaled model: the scale is used, not ignored
    (edited, _) = comfy.run(SYNC, **args)
    (plain, _) = comfy.run(SYNC, **{**args, "model": flux})
    assert (edited["samples"] - plain["samples"]).abs().max().item() > 1e-2
    # Cycle-SDE reconstruction at s = 8
    (inc,) = comfy.run("CoupledSDE_CycleSDEInversion", model=scaled, positive=base["source_positive"],
                       latent=lat, sigmas=base["sigmas"], start_step=1, seed=0)
    (rec,) = comfy.run("CoupledSDE_CycleSDESampling", model=scaled, positive=base["source_positive"],
                       increments=inc)
    assert (rec["samples"] - lat["samples"]).abs().max().item() < 1e-4
    msg = fails(comfy, "CoupledSDE_CoupledSampling", "increments:", model=flux,
                positive=base["target_positive"], increments=inc)
    assert "noise scale 8" in msg


@pytest.mark.parametrize("where", ["diffusion_model", "model", "unet_config"])
def test_piflow_distilled_models_are_refused(comfy, base, conds, where):
    """Kandinsky 6's distilled release (core 0.38, ``comfy/ldm/kandinsky6/piflow.py``) emits ``n_grid``
    velocity grids per evaluation for a policy to integrate, not a denoised sample. No ComfyUI here has
    the class, so a tiny Flux built for this test stands in, with ``n_grid`` where 0.38's Kandinsky 6
    versions keep it (its DiT, its BaseModel, its detected unet config). Every node that evaluates the
    model refuses it by name, before the latent (Kandinsky 6's is nested) is looked at; ``n_grid = 1``
    (the base model) is inert."""
    from comfy_env import build_model, tiny_flux

    def stand_in(grids):
        model = build_model(comfy, comfy.supported.Flux, tiny_flux(comfy), seed=0)  # the one in base
        target = {"diffusion_model": model.model.diffusion_model, "model": model.model}.get(where)
        if target is None:
            model.model.model_config.unet_config["n_grid"] = grids
        else:
            target.n_grid = grids
        return model

    model = stand_in(4)
    msg = fails(comfy, SYNC, "model:", **{**base, "model": model})
    assert "PiFlow-distilled" in msg and "4 velocity grids" in msg and "Kandinsky 6" in msg, msg
    fails(comfy, "CoupledSDE_FlowEdit", "model:", **{**base, "model": model})
    fails(comfy, "CoupledSDE_ForwardNoising", "model:", model=model, latent=base["latent"], sigmas=base["sigmas"],
          start_step=1, seed=0)
    fails(comfy, "CoupledSDE_CycleSDEInversion", "model:", model=model, positive=base["source_positive"],
          latent=base["latent"], sigmas=base["sigmas"], start_step=0, seed=0)
    fails(comfy, "CoupledSDE_SDEDrag", "model:", model=model, positive=base["source_positive"], latent=base["latent"],
          drag_points='{"sources": [[4, 4]], "targets": [[20, 4]]}', cfg_max=1.0, steps=4)
    try:
        from comfy.nested_tensor import NestedTensor
    except ImportError:  # no nested latents before 0.33
        NestedTensor = None
    if NestedTensor is not None:  # the model is named first, not its (nested) latent
        nested = {"samples": NestedTensor([base["latent"]["samples"], torch.zeros(1, 40, 8)])}
        fails(comfy, SYNC, "model:", **{**base, "model": model, "latent": nested})
    (same, _) = comfy.run(SYNC, **{**base, "model": stand_in(1), "target_positive": base["source_positive"]})
    assert torch.equal(same["samples"], base["latent"]["samples"])
