"""Edit Blend in a real ComfyUI, on the demo scene model: a generated scene, edited by Sync-SDE Edit
without a mask (so the edit touches pixels everywhere), VAE Decode, then Edit Blend with a painted
MASK. Outside the mask every pixel is the decoded source's, bit for bit; inside, the edit shows.
Also through the executor as a graph (SaveImage of the result, the picture on the node), and bad
input refused by name."""

import asyncio
import logging

import numpy as np
import pytest
import torch
from PIL import Image
from test_demo_model import CAPTION, EDITED, LOADER, SYNC, encode, latent, schedule, source_scene

BLEND = "CoupledSDE_EditBlend"
LOGGER = "comfyui_coupled_sde"


@pytest.fixture(scope="module")
def demo(comfy):
    return comfy.run(LOADER)


@pytest.fixture(scope="module")
def folders(comfy, tmp_path_factory):
    """Output and temp folders of this module (the picture on the node is written to temp)."""
    if getattr(comfy.server.PromptServer, "instance", None) is None:
        comfy.server.PromptServer(asyncio.new_event_loop())
    out = tmp_path_factory.mktemp("output")
    comfy.folder_paths.set_output_directory(str(out))
    comfy.folder_paths.set_temp_directory(str(tmp_path_factory.mktemp("temp")))
    return out


@pytest.fixture(scope="module")
def scene(comfy, demo):
    """(decoded source, decoded unmasked edit): "red circle" -> "yellow circle", start step 4 of 28."""
    model, clip, vae = demo
    x = source_scene(comfy, demo)
    (img,) = comfy.stock("VAEDecode", "decode", vae, x)
    y = comfy.run(SYNC, model=model, source_positive=encode(comfy, clip, CAPTION),
                  target_positive=encode(comfy, clip, EDITED), latent=latent(x["samples"]),
                  sigmas=schedule(comfy, model), start_step=4, seed=3)[0]
    (edited,) = comfy.stock("VAEDecode", "decode", vae, y)
    return img, edited


def quadrant_mask(comfy):
    """The top-left quadrant, white, from stock nodes (as a user builds it)."""
    (solid,) = comfy.stock("SolidMask", "solid", 0.0, 32, 32)
    (box,) = comfy.stock("SolidMask", "solid", 1.0, 16, 16)
    (mask,) = comfy.stock("MaskComposite", "combine", solid, box, 0, 0, "add")
    return mask


@pytest.mark.parametrize("colour_match", ["off", "mean", "mean and std"])
@pytest.mark.parametrize("feather", [0, 3])
def test_outside_a_painted_mask_the_blend_is_the_decoded_source_bit_for_bit(comfy, scene, feather, colour_match):
    img, edited = scene
    mask = quadrant_mask(comfy)
    outside = mask[0] == 0
    # the unmasked edit changed pixels outside the quadrant too: what Edit Blend is for
    assert float((edited[0][outside] - img[0][outside]).abs().max()) > 0
    blended, alpha = comfy.run(BLEND, source=img, edited=edited, mask=mask, feather=feather,
                               colour_match=colour_match, ring=4)
    assert blended.shape == (1, 32, 32, 3) and alpha.shape == (1, 32, 32)
    assert torch.equal(blended[0][outside], img[0][outside])
    assert torch.equal(alpha[0][outside], torch.zeros(int(outside.sum())))
    inside = float((blended[0][~outside] - img[0][~outside]).abs().max())
    assert inside > 0.3, inside  # the circle changed colour
    if feather == 0 and colour_match == "off":
        assert torch.equal(alpha, mask) and torch.equal(blended[0][~outside], edited[0][~outside])
    else:
        assert torch.equal(alpha[0, 4:12, 4:12], torch.ones(8, 8))  # full weight away from the edge


def test_a_latent_size_mask_and_a_batch(comfy, scene):
    img, edited = scene
    small = torch.zeros(1, 8, 8)
    small[:, :4, :4] = 1.0  # the quadrant at a quarter of the size
    blended, alpha = comfy.run(BLEND, source=img, edited=edited.repeat(2, 1, 1, 1), mask=small, feather=2,
                               colour_match="off", ring=8)
    assert blended.shape == (2, 32, 32, 3) and alpha.shape == (2, 32, 32)
    zero = alpha[0] == 0
    assert bool(zero[20:].all()) and bool(zero[:, 20:].all()) and torch.equal(alpha[0], alpha[1])
    for i in range(2):
        assert torch.equal(blended[i][zero], img[0][zero])
    assert float((blended[0, :12, :12] - img[0, :12, :12]).abs().max()) > 0.3


def test_the_automatic_edit_mask_of_localize_drives_the_blend(comfy, demo):
    """Sync-SDE Edit with localize 0.5 (no painted mask) -> its edit_mask -> Edit Blend: wherever the map
    is 0 the blend is the decoded source, and the recoloured circle comes through."""
    model, clip, vae = demo
    x = source_scene(comfy, demo)
    (img,) = comfy.stock("VAEDecode", "decode", vae, x)
    y, edit_mask = comfy.run(SYNC, model=model, source_positive=encode(comfy, clip, CAPTION),
                             target_positive=encode(comfy, clip, EDITED), latent=latent(x["samples"]),
                             sigmas=schedule(comfy, model), start_step=4, seed=3, localize=0.5)
    (edited,) = comfy.stock("VAEDecode", "decode", vae, y)
    assert edit_mask.shape == (1, 32, 32) and 0 < float(edit_mask.mean()) < 0.5  # a local map, not everything
    blended, alpha = comfy.run(BLEND, source=img, edited=edited, mask=edit_mask, feather=2, colour_match="off",
                               ring=8)
    zero = edit_mask[0] == 0
    assert torch.equal(blended[0][zero], img[0][zero]) and torch.equal(alpha[0][zero], torch.zeros(int(zero.sum())))
    assert float((blended[0, :16, :16] - img[0, :16, :16]).abs().max()) > 0.3


def test_the_node_logs_one_line_and_shows_the_blend(comfy, scene, folders, caplog):
    img, edited = scene
    info = comfy.N[BLEND].GET_NODE_INFO_V1()
    assert info["output"] == ["IMAGE", "MASK"] and info["output_name"] == ["IMAGE", "MASK"]
    assert info["output_node"] is True and info["category"] == "sampling/coupled_sde"
    with caplog.at_level(logging.INFO, logger=LOGGER):
        out = comfy.N[BLEND].execute(source=img, edited=edited, mask=quadrant_mask(comfy), feather=3,
                                     colour_match="mean", ring=4)
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    message = record.getMessage()
    assert record.levelno == logging.INFO and message.startswith("[Coupled SDE] Edit Blend, 1 image of 32x32: ")
    assert "colour match (mean, 4 px ring), shift per channel: R " in message and "\n" not in message
    assert len(out.ui.as_dict()["images"]) == 1


def test_a_graph_with_edit_blend_runs_and_saves_the_source_outside_the_mask(comfy, folders):
    """Stock nodes around Sync-SDE Edit (no mask) and Edit Blend (a SolidMask quadrant), through
    validate_prompt and the executor; the saved PNGs agree outside the mask."""
    g = {
        "1": {"class_type": LOADER, "inputs": {}},
        "2": {"class_type": "EmptyChromaRadianceLatentImage", "inputs": {"width": 32, "height": 32, "batch_size": 1}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": CAPTION, "clip": ["1", 1]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": EDITED, "clip": ["1", 1]}},
        "5": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
        "6": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "seed": 7, "steps": 28, "cfg": 2.0, "sampler_name": "euler", "scheduler": "simple",
            "positive": ["3", 0], "negative": ["5", 0], "latent_image": ["2", 0], "denoise": 1.0}},
        "7": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "simple", "steps": 28,
                                                         "denoise": 1.0}},
        "8": {"class_type": SYNC, "inputs": {
            "model": ["1", 0], "source_positive": ["3", 0], "target_positive": ["4", 0], "latent": ["6", 0],
            "sigmas": ["7", 0], "start_step": 4, "seed": 3, "solver": "posterior", "source_cfg": 1.0,
            "target_cfg": 1.0}},
        "9": {"class_type": "VAEDecode", "inputs": {"samples": ["6", 0], "vae": ["1", 2]}},
        "10": {"class_type": "VAEDecode", "inputs": {"samples": ["8", 0], "vae": ["1", 2]}},
        "11": {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": 32, "height": 32}},
        "12": {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 16, "height": 16}},
        "13": {"class_type": "MaskComposite", "inputs": {"destination": ["11", 0], "source": ["12", 0], "x": 0,
                                                         "y": 0, "operation": "add"}},
        "14": {"class_type": BLEND, "inputs": {"source": ["9", 0], "edited": ["10", 0], "mask": ["13", 0],
                                               "feather": 3, "colour_match": "mean", "ring": 4}},
        "15": {"class_type": "SaveImage", "inputs": {"images": ["9", 0], "filename_prefix": "blend/source"}},
        "16": {"class_type": "SaveImage", "inputs": {"images": ["14", 0], "filename_prefix": "blend/blended"}},
        "17": {"class_type": "SaveImage", "inputs": {"images": ["10", 0], "filename_prefix": "blend/edit"}},
    }
    ex = comfy.execute_prompt(g)
    errors = [m[1] for m in ex.status_messages if m[0] == "execution_error"]
    assert ex.success and not errors, errors[:1]
    ui = ex.history_result["outputs"]
    assert len(ui["14"]["images"]) == 1  # the blend shown on the node
    saved = comfy.saved_images(ex)
    src, blended, edit = (np.array(Image.open(saved[k][0]).convert("RGB")).astype(int) for k in ("15", "16", "17"))
    outside = np.ones((32, 32), bool)
    outside[:16, :16] = False
    assert (blended[outside] == src[outside]).all()
    assert (edit[outside] != src[outside]).any()  # the plain edit differs there
    assert np.abs(blended[~outside] - src[~outside]).max() > 60  # 8-bit levels: the recoloured circle


def test_bad_input_is_refused_by_name(comfy, scene):
    img, edited = scene
    mask = quadrant_mask(comfy)
    base = dict(source=img, edited=edited, mask=mask, feather=0, colour_match="off", ring=8)
    cases = [
        ({"edited": edited[:, :, :30]}, r"^edited: is 30x32 pixels \(width x height\), but source is 32x32"),
        ({"source": img.repeat(2, 1, 1, 1), "edited": edited.repeat(3, 1, 1, 1)}, "^source: has 2 images"),
        ({"edited": edited[..., :2]}, r"^edited: expected an IMAGE of shape \(B, H, W, 3\)"),
        ({"mask": mask * 2}, r"^mask: values must lie in \[0, 1\]"),
        ({"mask": mask.repeat(2, 1, 1)}, "^mask: has batch 2, but there is 1 edited image"),
        ({"mask": img}, r"^mask: expected a MASK of shape"),
        ({"colour_match": "median"}, "^colour_match: "),
    ]
    for change, starts in cases:
        with pytest.raises(ValueError, match=starts):
            comfy.run(BLEND, **{**base, **change})
