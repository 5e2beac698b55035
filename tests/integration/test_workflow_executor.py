"""A whole workflow through ComfyUI's executor: validate_prompt + PromptExecutor, stock loaders
(UNETLoader, CLIPLoader, VAELoader, LoraLoaderModelOnly), CLIPTextEncode, VAEEncode/Decode, our
nodes, SaveLatent and SaveImage. Any node_errors or execution error fails the test."""

import asyncio
import uuid

import pytest
import torch
from comfy_env import stock_sd15_graph
from safetensors.torch import load_file


def graph(files, start_step=1):
    empty = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0x336699}}
    return {
        **stock_sd15_graph(files, empty, {"6": "a photo of a cat", "7": "a photo of a dog", "8": "blurry"}),
        "9": {"class_type": "LoraLoaderModelOnly",
              "inputs": {"model": ["1", 0], "lora_name": files["lora"], "strength_model": 0.8}},
        "10": {"class_type": "BasicScheduler", "inputs": {"model": ["9", 0], "scheduler": "normal", "steps": 6,
                                                          "denoise": 1.0}},
        # all in one: the edit, and the identity edit (target = source prompt)
        "11": {"class_type": "CoupledSDE_SyncSDEEdit",
               "inputs": {"model": ["9", 0], "source_positive": ["6", 0], "target_positive": ["7", 0],
                          "latent": ["5", 0], "sigmas": ["10", 0], "start_step": start_step, "seed": 3,
                          "solver": "posterior", "source_negative": ["8", 0], "target_negative": ["8", 0],
                          "source_cfg": 3.0, "target_cfg": 3.0, "batch_branches": True}},
        "12": {"class_type": "CoupledSDE_SyncSDEEdit",
               "inputs": {"model": ["9", 0], "source_positive": ["6", 0], "target_positive": ["6", 0],
                          "latent": ["5", 0], "sigmas": ["10", 0], "start_step": start_step, "seed": 3,
                          "solver": "posterior", "source_cfg": 1.0, "target_cfg": 1.0}},
        # one inversion, two edits
        "13": {"class_type": "CoupledSDE_ForwardNoising",
               "inputs": {"model": ["9", 0], "latent": ["5", 0], "sigmas": ["10", 0], "start_step": start_step,
                          "seed": 3, "path": "brownian"}},
        "14": {"class_type": "CoupledSDE_BackwardIncrements",
               "inputs": {"model": ["9", 0], "positive": ["6", 0], "path": ["13", 0], "solver": "posterior",
                          "negative": ["8", 0], "cfg": 3.0}},
        "15": {"class_type": "CoupledSDE_CoupledSampling",
               "inputs": {"model": ["9", 0], "positive": ["7", 0], "increments": ["14", 0], "negative": ["8", 0],
                          "cfg": 3.0}},
        "16": {"class_type": "CoupledSDE_CoupledSampling",
               "inputs": {"model": ["9", 0], "positive": ["8", 0], "increments": ["14", 0], "negative": ["8", 0],
                          "cfg": 3.0}},
        "20": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": "t/source"}},
        "21": {"class_type": "SaveLatent", "inputs": {"samples": ["11", 0], "filename_prefix": "t/edit"}},
        "22": {"class_type": "SaveLatent", "inputs": {"samples": ["12", 0], "filename_prefix": "t/identity"}},
        "23": {"class_type": "SaveLatent", "inputs": {"samples": ["15", 0], "filename_prefix": "t/chain"}},
        "24": {"class_type": "SaveLatent", "inputs": {"samples": ["16", 0], "filename_prefix": "t/chain2"}},
        "25": {"class_type": "VAEDecode", "inputs": {"samples": ["11", 0], "vae": ["3", 0]}},
        "26": {"class_type": "SaveImage", "inputs": {"images": ["25", 0], "filename_prefix": "t/edit"}},
    }


def execute(comfy, prompt):
    """validate_prompt + PromptExecutor, as the server's prompt worker does."""
    pid = str(uuid.uuid4())
    valid, error, outputs, node_errors = asyncio.run(comfy.execution.validate_prompt(pid, prompt, None))
    assert valid and not node_errors, (error, node_errors)
    assert sorted(outputs) == sorted(k for k, v in prompt.items() if v["class_type"].startswith("Save"))
    executor = comfy.executor()
    asyncio.run(executor.execute_async(prompt, pid, {}, outputs))
    return executor


@pytest.fixture(scope="module")
def server(comfy, tmp_path_factory):
    if getattr(comfy.server.PromptServer, "instance", None) is None:
        comfy.server.PromptServer(asyncio.new_event_loop())
    out = tmp_path_factory.mktemp("output")
    comfy.folder_paths.set_output_directory(str(out))
    return out


def latent(out, name):
    (f,) = sorted((out / "t").glob(f"{name}_*.latent"))
    return load_file(str(f))["latent_tensor"]


def test_workflow_runs_through_the_executor(comfy, workflow_files, server):
    ex = execute(comfy, graph(workflow_files))
    errors = [m for m in ex.status_messages if m[0] == "execution_error"]
    assert ex.success and not errors, errors
    src = latent(server, "source")
    assert torch.equal(latent(server, "identity"), src)  # identity edit through the executor: bit for bit
    for name in ("edit", "chain", "chain2"):
        d = (latent(server, name) - src).abs().mean().item()
        assert d > 1e-5, (name, d)  # random CLIP + UNet: a small but real change
    assert not torch.equal(latent(server, "chain"), latent(server, "chain2"))
    assert len(list((server / "t").glob("edit_*.png"))) == 1


def test_node_error_surfaces_through_the_executor(comfy, workflow_files, server):
    prompt = graph(workflow_files, start_step=6)  # SIGMAS has 6 steps: 0..5 are valid
    ex = execute(comfy, prompt)
    errors = [m[1] for m in ex.status_messages if m[0] == "execution_error"]
    assert not ex.success and errors
    assert errors[0]["exception_message"].startswith("start_step: 6 is outside the schedule")
    assert errors[0]["node_type"].startswith("CoupledSDE_")


def test_sde_drag_workflow_through_the_executor(comfy, workflow_files, server):
    g = graph(workflow_files)
    keep = {"1", "2", "3", "4", "5", "6", "8", "9"}  # "9": the stock LoRA loader, for identity preservation
    prompt = {k: v for k, v in g.items() if k in keep}
    prompt["4"] = {"class_type": "EmptyImage", "inputs": {"width": 128, "height": 128, "batch_size": 1,
                                                          "color": 0x336699}}
    points = '{"sources": [[30, 30], [90, 20]], "targets": [[70, 60], [90, 100]]}'
    prompt["30"] = {"class_type": "CoupledSDE_DragPoints",
                    "inputs": {"image": ["4", 0], "points": points, "mask_strokes": "[[64, 64, 40, 1]]"}}
    prompt["31"] = {"class_type": "CoupledSDE_SDEDrag",
                    "inputs": {"model": ["9", 0], "positive": ["6", 0], "negative": ["8", 0], "latent": ["5", 0],
                               "drag_points": ["30", 0], "mask": ["30", 1], "t0": 0.6, "steps": 10,
                               "drag_step": 4.0, "alpha": 1.1, "beta": 0.3, "r": 3, "cfg_max": 3.0, "seed": 2,
                               "solver": "posterior"}}
    prompt["20"] = {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": "t/drag_source"}}
    prompt["32"] = {"class_type": "SaveLatent", "inputs": {"samples": ["31", 0], "filename_prefix": "t/dragged"}}
    ex = execute(comfy, prompt)
    errors = [m for m in ex.status_messages if m[0] == "execution_error"]
    assert ex.success and not errors, errors
    src, out = latent(server, "drag_source"), latent(server, "dragged")
    # the painted disc (centre 64 px, radius 40 px) covers latent cells 3..12: far outside it, exact
    assert torch.equal(out[..., :2, :], src[..., :2, :]) and torch.equal(out[..., :, 14:], src[..., :, 14:])
    assert (out - src).abs().mean().item() > 1e-4
