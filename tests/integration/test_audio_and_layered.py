"""Audio latents and Qwen-Image-Layered (issue 19, "no silent result on any family"), on tiny models built
from ComfyUI's own classes (tests/integration/zoo.py): Stable Audio 1.0 and ACE-Step 1.5 with time
latents (B, C, T), ACE-Step 1.0 with (B, 8, 16, T), and Qwen-Image-Layered with its layers on the frame
axis (B, 16, L + 1, H, W). A model this ComfyUI lacks is skipped with the reason.

Checked: identity edits bit for bit with batch_branches off (Sync-SDE Edit; FlowEdit with localize, whose
plain paper form rounds once a step); a time mask
is read as core reads one (its last axis is time, resized linearly to the latent's T, shared by the
channels) in every accepted form, and the source is kept bit for bit outside it; edit_mask is a time
mask that reads back; bad masks and SDE Drag on audio are refused by input name; batch_branches on
FlowEdit and SDE Drag (one forward a step, or two); per-layer masks on layered latents, never
interpolated across layers.
"""

import json

import pytest
import torch
import zoo
from test_flux_nodes import count_calls, sigmas

SYNC, FLOWEDIT, FWD, INC, CPL = ("CoupledSDE_SyncSDEEdit", "CoupledSDE_FlowEdit", "CoupledSDE_ForwardNoising",
                                 "CoupledSDE_BackwardIncrements", "CoupledSDE_CoupledSampling")
DRAG, CP = "CoupledSDE_SDEDrag", "CoupledSDE_CopyPasteLatents"


@pytest.fixture(scope="module")
def built(comfy):
    """The audio models, each built once per module (``None`` where this ComfyUI lacks the class)."""
    return {}


def audio_model(comfy, built, name):
    spec = zoo.AUDIO[name]
    if name not in built:
        built[name] = spec.build(comfy)
    if built[name] is None:
        pytest.skip(spec.why_absent)
    return built[name]


@pytest.fixture(params=list(zoo.AUDIO))
def am(request, comfy, built):
    """(spec, MODEL, generator) for one audio model."""
    spec = zoo.AUDIO[request.param]
    return spec, audio_model(comfy, built, spec.name), torch.Generator().manual_seed(41)


@pytest.fixture
def sa(comfy, built):
    return audio_model(comfy, built, "stable_audio")


def sync(comfy, model, src, tgt, lat, sig, **kw):
    kw.setdefault("batch_branches", False)
    (out, edit_mask) = comfy.run(SYNC, model=model, source_positive=src, target_positive=tgt, latent=lat, sigmas=sig,
                                 start_step=1, seed=3, **kw)
    return out["samples"], edit_mask


def flowedit(comfy, model, src, tgt, lat, sig, **kw):
    (out, edit_mask) = comfy.run(FLOWEDIT, model=model, source_positive=src, target_positive=tgt, latent=lat,
                                 sigmas=sig, start_step=1, seed=3, **kw)
    return out["samples"], edit_mask


def core_mask(mask, shape):
    """The noise mask core's samplers make of ``mask`` for a latent of ``shape`` (``prepare_mask``)."""
    import comfy.sampler_helpers

    return comfy.sampler_helpers.prepare_mask(mask, shape, "cpu")


# ---- the models -------------------------------------------------------------------------------------

def test_audio_model_class_and_latent(comfy, am):
    import comfy.model_sampling as ms

    spec, model, _ = am
    assert type(model.model).__name__ == spec.cls
    assert isinstance(model.get_model_object("model_sampling"), ms.CONST) is spec.flow
    assert getattr(model.model.latent_format, "latent_dimensions", 2) == len(spec.shape) - 2
    assert model.model.latent_format.latent_channels == spec.shape[1]


# ---- identity: the input's bits ----------------------------------------------------------------------

def test_identity_is_bit_exact_with_batch_branches_off(comfy, am):
    spec, model, g = am
    src, lat = spec.cond(g), spec.latent(g)
    x, sig = lat["samples"], sigmas(comfy, model)
    out, edit_mask = sync(comfy, model, src, src, lat, sig)
    assert torch.equal(out, x), f"{spec.name}: max |diff| {(out - x).abs().max():.3g}"
    if x.ndim == 3:  # a time mask at the latent's time resolution, all white (no mask, no localize)
        assert edit_mask.shape == (1, 1, x.shape[-1]) and bool((edit_mask == 1).all())
    else:  # ACE-Step 1.0: an image to ComfyUI (16 x T cells of 8 px)
        assert edit_mask.shape == (1, 8 * x.shape[-2], 8 * x.shape[-1])
    batched, _ = sync(comfy, model, src, src, lat, sig, batch_branches=True)
    diff = (batched - x).abs().max().item()
    print(f"{spec.name}: identity with batch_branches on: max |diff| {diff:.3g}"
          + (" (core mixes the rows of a batch)" if spec.mixes_rows else ""))
    assert diff == 0.0 or spec.mixes_rows
    if spec.flow:
        # FlowEdit with localize: Z_tar = Z_src + (Z - x_src) is Z_src itself, so the identity is bit-exact
        out, _ = flowedit(comfy, model, src, src, lat, sig, batch_branches=False, localize=0.5)
        assert torch.equal(out, x), f"{spec.name} FlowEdit: max |diff| {(out - x).abs().max():.3g}"
        batched, _ = flowedit(comfy, model, src, src, lat, sig, localize=0.5)
        assert torch.equal(batched, x) or spec.mixes_rows
        # the paper's form, Z_tar = Z + Z_src - x_src, rounds once a step (by design: it is left untouched)
        plain, _ = flowedit(comfy, model, src, src, lat, sig, batch_branches=False)
        err = (plain - x).abs().max().item()
        print(f"{spec.name}: FlowEdit identity, batched with localize: max |diff| {(batched - x).abs().max():.3g}; "
              f"plain (localize 0): {err:.3g}")
        assert err < 1e-3
    else:
        with pytest.raises(ValueError, match="^model: FlowEdit needs a flow-family"):
            flowedit(comfy, model, src, src, lat, sig)


def test_target_edit_and_the_staged_chain(comfy, am):
    spec, model, g = am
    src, tgt, lat = spec.cond(g), spec.cond(g), spec.latent(g)
    x, sig = lat["samples"], sigmas(comfy, model)
    out, _ = sync(comfy, model, src, tgt, lat, sig)
    change = (out - x).abs().mean().item()
    print(f"{spec.name}: target edit mean |change| {change:.4f}")
    assert out.shape == x.shape and torch.isfinite(out).all() and change > 1e-3
    (path,) = comfy.run(FWD, model=model, latent=lat, sigmas=sig, start_step=1, seed=3)
    (inc,) = comfy.run(INC, model=model, positive=src, path=path)
    (staged, _) = comfy.run(CPL, model=model, positive=tgt, increments=inc)
    assert torch.equal(staged["samples"], out)
    if spec.flow:
        out, _ = flowedit(comfy, model, src, tgt, lat, sig, batch_branches=False)
        assert (out - x).abs().mean().item() > 1e-3


# ---- time masks ---------------------------------------------------------------------------------------

def test_time_mask_keeps_the_source_outside(comfy, am):
    """A time range at 4x the latent's time resolution (the last three quarters editable): the forms
    (L,), (1, L), (1, 1, L) and Set Latent Noise Mask's (1, 1, 1, L) give the same edit; the mask used
    is core's (prepare_mask, linear along time, shared by the channels and, ACE-Step 1.0, the 16 rows);
    outside it the source's bits."""
    spec, model, g = am
    src, tgt, lat = spec.cond(g), spec.cond(g), spec.latent(g)
    x, sig = lat["samples"], sigmas(comfy, model)
    length = 4 * x.shape[-1]
    mask = torch.zeros(1, 1, length)
    mask[..., length // 4:] = 1.0
    ref = core_mask(mask, x.shape)  # (1, C, T) or, ACE-Step 1.0, (1, 8, 16, T)
    assert ref.shape == x.shape
    out, edit_mask = sync(comfy, model, src, tgt, lat, sig, mask=mask)
    outside, inside = (ref == 0), (ref == 1)
    assert outside.any() and inside.any()
    assert torch.equal(out[outside], x[outside]), f"{spec.name}: changed outside the time mask"
    change = (out - x)[inside].abs().mean().item()
    kept = int(outside[0, 0].reshape(-1, x.shape[-1])[0].sum())
    print(f"{spec.name}: time mask, {kept} of {x.shape[-1]} latent frames kept, mean |change| inside {change:.4f}")
    assert change > 1e-3
    if x.ndim == 3:
        assert torch.equal(edit_mask, ref[:, :1])  # the mask the edit used is core's
        forms = [mask[0, 0], mask[0], mask[:, :, None]]  # (L,), (1, L), (1, 1, 1, L)
        for form in forms:
            again, _ = sync(comfy, model, src, tgt, lat, sig, mask=form)
            assert torch.equal(again, out), f"{spec.name}: mask of shape {tuple(form.shape)} differs"
        (noise_masked,) = comfy.stock("SetLatentNoiseMask", "set_mask", lat, mask)
        again, _ = sync(comfy, model, src, tgt, noise_masked, sig)
        assert torch.equal(again, out)
        back, _ = sync(comfy, model, src, tgt, lat, sig, mask=edit_mask)  # edit_mask reads back
        assert torch.equal(back, out)
    else:  # ACE-Step 1.0 reads a MASK as an image (16 x T): one pixel high, the 16 rows share it
        assert bool((ref == ref[:, :, :1]).all())


def test_time_masks_per_latent(comfy, sa):
    spec, g = zoo.AUDIO["stable_audio"], torch.Generator().manual_seed(42)
    src, tgt, lat = spec.cond(g), spec.cond(g), spec.latent(g, batch=2)
    x, sig = lat["samples"], sigmas(comfy, sa)
    mask = torch.zeros(2, x.shape[-1])
    mask[0, :10], mask[1, 20:] = 1.0, 1.0
    out, edit_mask = sync(comfy, sa, src, tgt, lat, sig, mask=mask)
    assert edit_mask.shape == (2, 1, x.shape[-1]) and torch.equal(edit_mask[:, 0], mask)
    keep = (mask == 0)[:, None].expand_as(x)
    assert torch.equal(out[keep], x[keep])
    assert (out - x)[~keep].abs().mean().item() > 1e-3


def test_bad_masks_and_latents_on_audio_name_the_input(comfy, sa):
    spec, g = zoo.AUDIO["stable_audio"], torch.Generator().manual_seed(43)
    src, lat = spec.cond(g), spec.latent(g)
    sig = sigmas(comfy, sa)
    with pytest.raises(ValueError) as e:  # an image's mask (the case, once broadcast to (1, 1, 64, 32))
        sync(comfy, sa, src, src, lat, sig, mask=torch.ones(1, 64, 32))
    msg = str(e.value)
    assert msg.startswith("mask: shape (1, 64, 32) is not a time mask") and "(T,), (N, T) or (N, 1, T)" in msg, msg
    assert "audio latent (B, C, T)" in msg
    for bad in (torch.ones(1, 2, 8, 32), torch.ones(1, 1, 1, 1, 32), torch.ones(2, 3, 32)):
        with pytest.raises(ValueError, match=r"^mask: shape .* is not a time mask"):
            sync(comfy, sa, src, src, lat, sig, mask=bad)
    with pytest.raises(ValueError, match="^mask: has 3 time masks, but the latent has batch 1"):
        sync(comfy, sa, src, src, lat, sig, mask=torch.ones(3, 32))
    with pytest.raises(ValueError, match=r"^mask: values must lie in \[0, 1\]"):
        sync(comfy, sa, src, src, lat, sig, mask=torch.full((32,), 2.0))
    with pytest.raises(ValueError, match=r"^latent: this StableAudio MODEL takes latents of shape \(B, C, T\)"):
        sync(comfy, sa, src, src, {"samples": torch.zeros(1, 64, 4, 8)}, sig)
    (path,) = comfy.run(FWD, model=sa, latent=lat, sigmas=sig, start_step=1, seed=3)
    (inc,) = comfy.run(INC, model=sa, positive=src, path=path)
    with pytest.raises(ValueError, match="^mask: has 16 time masks"):  # an image's (H, W) mask
        comfy.run(CPL, model=sa, positive=src, increments=inc, mask=torch.ones(16, 16))


def test_sde_drag_refuses_audio_latents(comfy, sa):
    spec, g = zoo.AUDIO["stable_audio"], torch.Generator().manual_seed(44)
    pos, lat = spec.cond(g), spec.latent(g)
    points = json.dumps({"sources": [[4, 4]], "targets": [[20, 4]]})
    with pytest.raises(ValueError) as e:
        comfy.run(DRAG, model=sa, positive=pos, latent=lat, drag_points=points, steps=4, cfg_max=1.0)
    msg = str(e.value)
    assert msg.startswith("latent: SDE-Drag needs an image or video latent, got shape (1, 64, 32)"), msg
    assert "no image plane" in msg
    (path,) = comfy.run(FWD, model=sa, latent=lat, sigmas=sigmas(comfy, sa), start_step=1, seed=3)
    with pytest.raises(ValueError, match="^path: SDE-Drag needs an image or video latent"):
        comfy.run(CP, path=path, drag_points=points)


# ---- batch_branches on FlowEdit and SDE Drag ----------------------------------------------------------

def test_batch_branches_on_flowedit_and_sde_drag(comfy, flux, conds):
    """On: source and target (SDE Drag: path and dragged latent) in one forward a step, the default
    bit for bit; off: two forwards a step."""
    src, tgt, lat = conds.flux(), conds.flux(guidance=5.5), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    runs = {}
    for bb in (None, True, False):
        m, batches = count_calls(flux)
        kw = {} if bb is None else {"batch_branches": bb}
        runs[bb] = (flowedit(comfy, m, src, tgt, lat, sig, **kw)[0], batches)
    assert runs[None][1] == runs[True][1] == [2] * 5 and runs[False][1] == [1] * 10
    assert torch.equal(runs[None][0], runs[True][0])
    diff = (runs[False][0] - runs[True][0]).abs().max().item()
    print(f"FlowEdit: batched vs two calls a step: max |diff| {diff:.2e}")
    assert diff < 1e-4
    same, _ = flowedit(comfy, flux, src, src, lat, sig, batch_branches=False, localize=0.5)
    assert torch.equal(same, lat["samples"])

    p = json.dumps({"sources": [[36, 36]], "targets": [[60, 52]], "width": 128, "height": 128})
    drags = {}
    for bb in (None, True, False):
        m, batches = count_calls(flux)
        kw = {} if bb is None else {"batch_branches": bb}
        (out,) = comfy.run(DRAG, model=m, positive=src, latent=lat, drag_points=p, steps=10, t0=0.6, cfg_max=1.0,
                           r=2, seed=4, drag_step=64.0, **kw)
        drags[bb] = (out["samples"], batches)
    assert drags[None][1] == drags[True][1] == [2] * 6 and drags[False][1] == [1] * 12
    assert torch.equal(drags[None][0], drags[True][0])
    diff = (drags[False][0] - drags[True][0]).abs().max().item()
    print(f"SDE Drag: batched vs two calls a step: max |diff| {diff:.2e}")
    assert diff < 1e-4 and (drags[False][0] - lat["samples"]).abs().mean().item() > 1e-3


# ---- Qwen-Image-Layered: layers on the frame axis -----------------------------------------------------

@pytest.fixture(scope="module")
def layered(comfy):
    model = zoo.qwen_image_layered(comfy)
    if model is None:
        pytest.skip("this ComfyUI's Qwen-Image has no layer embedding (QwenImageTransformer2DModel's "
                    "use_additional_t_cond, by which core marks Qwen-Image-Layered; added after 0.3.64)")
    return model


def layer_mask(n, size):
    """``n`` masks at image size (8 px a cell): mask 0 black, mask 1 white on its right half, the rest white."""
    m = torch.ones(n, 8 * size, 8 * size)
    m[0] = 0.0
    m[1, :, : 4 * size] = 0.0
    return m


def test_layered_latents_take_one_mask_per_layer(comfy, layered, zoo_qwen_image):
    from comfyui_coupled_sde.nodes import bridge

    assert bridge.layered(layered) and not bridge.layered(zoo_qwen_image)
    spec, g = zoo.SPECS["qwen_image"], torch.Generator().manual_seed(45)
    src, tgt, lat = spec.cond(g), spec.cond(g), spec.latent(g, frames=3)  # 2 layers + the composite
    x, sig = lat["samples"], sigmas(comfy, layered)
    same, _ = sync(comfy, layered, src, src, lat, sig)
    assert torch.equal(same, x)
    out, edit_mask = sync(comfy, layered, src, tgt, lat, sig, mask=layer_mask(3, spec.size))
    assert torch.equal(out[:, :, 0], x[:, :, 0])  # layer 0: black
    half = spec.size // 2 - 1  # cells whose 8x8 block and neighbours are black
    assert torch.equal(out[:, :, 1, :, :half], x[:, :, 1, :, :half])
    assert (out - x)[:, :, 1, :, half + 2:].abs().mean().item() > 1e-3
    assert (out - x)[:, :, 2].abs().mean().item() > 1e-3  # layer 2: white
    assert edit_mask.shape == (3, 8 * spec.size, 8 * spec.size)  # one per layer, at the image's size
    assert float(edit_mask[0].max()) == 0.0 and float(edit_mask[2].min()) == 1.0
    # one mask for every layer: each layer as layer 1 above
    out1, _ = sync(comfy, layered, src, tgt, lat, sig, mask=layer_mask(2, spec.size)[1:])
    assert torch.equal(out1[..., :half], x[..., :half])


def test_layered_masks_are_never_interpolated_across_layers(comfy, layered):
    spec, g = zoo.SPECS["qwen_image"], torch.Generator().manual_seed(46)
    src, tgt = spec.cond(g), spec.cond(g)
    sig = sigmas(comfy, layered)
    lat = spec.latent(g, frames=3)
    with pytest.raises(ValueError) as e:  # a video's per-frame mask would be resampled from 2 to 3 frames
        sync(comfy, layered, src, tgt, lat, sig, mask=torch.ones(2, 128, 128))
    msg = str(e.value)
    assert msg.startswith("mask: has 2 masks, but this layered latent (Qwen-Image-Layered) has 3 layers"), msg
    # two latents: one mask per layer of each, latent by latent (as edit_mask lists them)
    lat2 = spec.latent(g, batch=2, frames=3)
    x = lat2["samples"]
    masks = torch.cat([layer_mask(3, spec.size), layer_mask(3, spec.size).flip(0)])  # latent 1: layer 2 black
    out, edit_mask = sync(comfy, layered, src, tgt, lat2, sig, mask=masks)
    assert torch.equal(out[0, :, 0], x[0, :, 0]) and torch.equal(out[1, :, 2], x[1, :, 2])
    assert (out[1, :, 0] - x[1, :, 0]).abs().mean().item() > 1e-3 and (out[0, :, 2] - x[0, :, 2]).abs().mean() > 1e-3
    assert edit_mask.shape == (6, 128, 128)  # latent 0's layers, then latent 1's
    assert [float(edit_mask[i].max()) for i in (0, 5)] == [0.0, 0.0] and float(edit_mask[3].min()) == 1.0
    with pytest.raises(ValueError, match=r"one per layer of each latent \(6, latent by latent\)"):
        sync(comfy, layered, src, tgt, lat2, sig, mask=torch.ones(4, 128, 128))
