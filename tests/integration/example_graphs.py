"""The example workflows, written as API-format graphs (the source of example_workflows/*.json).

``build_example_workflows.py`` loads each graph into ComfyUI's real frontend, lays it out, adds
its note and saves what the frontend's "Save" writes (UI format), a thumbnail and the frontend's
own API conversion (the twin the converter test compares against). Only stock nodes and ours.
File names are the ones the ComfyUI docs and model cards use.
"""

FLUX_FILES = {"unet": "flux1-dev.safetensors", "clip_l": "clip_l.safetensors", "t5": "t5xxl_fp16.safetensors",
              "vae": "ae.safetensors"}
SD15_CKPT = "v1-5-pruned-emaonly-fp16.safetensors"
IMAGE = "example.png"


def _flux_front(prompts: dict, guidance: dict) -> dict:
    """Flux.1-dev loaders, the image and its latent ("5"), prompts with FluxGuidance, 28-step SIGMAS ("10")."""
    g = {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": FLUX_FILES["unet"], "weight_dtype": "default"}},
        "2": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": FLUX_FILES["clip_l"],
                                                         "clip_name2": FLUX_FILES["t5"],
                                                         "type": "flux"}},
        "3": {"class_type": "VAELoader", "inputs": {"vae_name": FLUX_FILES["vae"]}},
        "4": {"class_type": "LoadImage", "inputs": {"image": IMAGE}},
        "5": {"class_type": "VAEEncode", "inputs": {"pixels": ["4", 0], "vae": ["3", 0]}},
        "10": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "simple", "steps": 28,
                                                          "denoise": 1.0}},
    }
    for node_id, text in prompts.items():
        g[node_id] = {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["2", 0]}}
        g[node_id + "g"] = {"class_type": "FluxGuidance", "inputs": {"conditioning": [node_id, 0],
                                                                    "guidance": guidance[node_id]}}
    return g


def _sd15_front(prompts: dict, steps: int = 50) -> dict:
    """SD1.5 checkpoint, the image and its latent ("5"), prompts, SIGMAS ("10")."""
    g = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": SD15_CKPT}},
        "4": {"class_type": "LoadImage", "inputs": {"image": IMAGE}},
        "5": {"class_type": "VAEEncode", "inputs": {"pixels": ["4", 0], "vae": ["1", 2]}},
        "10": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "normal", "steps": steps,
                                                          "denoise": 1.0}},
    }
    for node_id, text in prompts.items():
        g[node_id] = {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["1", 1]}}
    return g


def _save(node_id: str, latent_ref, vae_ref, prefix: str) -> dict:
    return {node_id: {"class_type": "VAEDecode", "inputs": {"samples": latent_ref, "vae": vae_ref}},
            node_id + "s": {"class_type": "SaveImage", "inputs": {"images": [node_id, 0], "filename_prefix": prefix}}}


def _sync(model, src, tgt, sigmas, start, **extra) -> dict:
    inputs = {"model": model, "source_positive": src, "target_positive": tgt, "latent": ["5", 0], "sigmas": sigmas,
              "start_step": start, "seed": 0, "solver": "posterior", "source_cfg": 1.0, "target_cfg": 1.0,
              "batch_branches": True}
    inputs.update(extra)
    return {"class_type": "CoupledSDE_SyncSDEEdit", "inputs": inputs}


DRAG_POINTS = '{"sources": [[180, 260]], "targets": [[330, 260]]}'


def graphs() -> dict:
    """name -> (API graph, note text)."""
    out = {}

    g = _flux_front({"6": "a photo of a cat sitting on a sofa", "7": "a photo of a dog sitting on a sofa"},
                    {"6": 1.0, "7": 1.0})
    g["20"] = _sync(["1", 0], ["6g", 0], ["7g", 0], ["10", 0], 4)
    g.update(_save("30", ["20", 0], ["3", 0], "flux_sync_sde"))
    out["flux_sync_sde_edit"] = (g, (
        "sync-SDE edit on Flux.1-dev (reference settings): 28 steps, start_step 4 (sigma ~0.95), guidance 1.0 "
        "on both prompts (FluxGuidance), posterior solver. Describe the image in the source prompt; change only "
        "what should change in the target prompt. No effect? lower start_step. Too much change? raise it."))

    g = _sd15_front({"6": "a photo of a cat", "7": "a photo of a tiger", "8": ""})
    g["20"] = {"class_type": "CoupledSDE_CycleSDEInversion",
               "inputs": {"model": ["1", 0], "positive": ["6", 0], "latent": ["5", 0], "sigmas": ["10", 0],
                          "start_step": 20, "seed": 0, "negative": ["8", 0], "cfg": 1.0}}
    g["21"] = {"class_type": "CoupledSDE_CycleSDESampling",
               "inputs": {"model": ["1", 0], "positive": ["6", 0], "increments": ["20", 0], "negative": ["8", 0],
                          "cfg": 1.0}}
    g["22"] = {"class_type": "CoupledSDE_CycleSDESampling",
               "inputs": {"model": ["1", 0], "positive": ["7", 0], "increments": ["20", 0], "negative": ["8", 0],
                          "cfg": 1.0}}
    g.update(_save("30", ["21", 0], ["1", 2], "cycle_sde_reconstruction"))
    g.update(_save("31", ["22", 0], ["1", 2], "cycle_sde_edit"))
    out["sd15_cycle_sde_reconstruct_and_edit"] = (g, (
        "Cycle-SDE on SD1.5: one inversion (start_step 20 of 50, i.e. t0 = 0.6), then sampling with the SAME "
        "prompt (reconstruction: equals the input up to float round-off) and with an edited prompt. Keep "
        "inversion and sampling cfg equal; raise both (e.g. 3-5) for stronger edits."))

    g = _sd15_front({"6": "a photo of a cat", "7": "a photo of a tiger", "8": "a photo of a fox",
                     "9": "a watercolor painting of a cat", "11": ""})
    g["20"] = {"class_type": "CoupledSDE_ForwardNoising",
               "inputs": {"model": ["1", 0], "latent": ["5", 0], "sigmas": ["10", 0], "start_step": 20, "seed": 0,
                          "path": "brownian"}}
    g["21"] = {"class_type": "CoupledSDE_BackwardIncrements",
               "inputs": {"model": ["1", 0], "positive": ["6", 0], "path": ["20", 0], "solver": "posterior",
                          "negative": ["11", 0], "cfg": 4.0}}
    for k, (prompt, name) in enumerate((("7", "tiger"), ("8", "fox"), ("9", "watercolor"))):
        g[f"2{k + 2}"] = {"class_type": "CoupledSDE_CoupledSampling",
                          "inputs": {"model": ["1", 0], "positive": [prompt, 0], "increments": ["21", 0],
                                     "negative": ["11", 0], "cfg": 4.0}}
        g.update(_save(f"3{k}", [f"2{k + 2}", 0], ["1", 2], f"one_inversion_{name}"))
    out["sd15_one_inversion_three_edits"] = (g, (
        "One inversion, three edits: Forward Noising + Backward Brownian Increments run the source prompt once "
        "(30 model calls); each Coupled Sampling costs 30 more. Use the same cfg for source and targets."))

    g = _sd15_front({"6": "a photo of a cat on a sofa", "7": "a photo of a cat wearing a red hat on a sofa",
                     "8": ""})
    g["20"] = _sync(["1", 0], ["6", 0], ["7", 0], ["10", 0], 20, source_negative=["8", 0],
                    target_negative=["8", 0], source_cfg=4.0, target_cfg=4.0, mask=["4", 1])
    g.update(_save("30", ["20", 0], ["1", 2], "masked_edit"))
    out["sd15_masked_local_edit"] = (g, (
        "Masked local edit: right-click Load Image -> Open in MaskEditor and paint where the edit may happen. "
        "Outside the painted area the image is reproduced exactly (the source path is copied every step)."))

    for family in ("sd15", "flux"):
        if family == "sd15":
            g = _sd15_front({"6": "a photo of a cat on a sofa", "8": ""})
            model, vae, neg, cfg, steps = ["1", 0], ["1", 2], ["8", 0], 3.0, 100
        else:
            g = _flux_front({"6": "a photo of a cat on a sofa"}, {"6": 1.0})
            model, vae, neg, cfg, steps = ["1", 0], ["3", 0], None, 1.0, 50
        del g["10"]
        g["15"] = {"class_type": "CoupledSDE_DragPoints",
                   "inputs": {"image": ["4", 0], "points": DRAG_POINTS, "mask_strokes": "[]"}}
        inputs = {"model": model, "positive": ["6", 0] if family == "sd15" else ["6g", 0], "latent": ["5", 0],
                  "drag_points": ["15", 0], "mask": ["15", 1], "t0": 0.6, "steps": steps, "drag_step": 2.0,
                  "alpha": 1.1, "beta": 0.3, "r": 5, "cfg_max": cfg, "seed": 0, "solver": "posterior"}
        if neg is not None:
            inputs["negative"] = neg
        g["20"] = {"class_type": "CoupledSDE_SDEDrag", "inputs": inputs}
        g.update(_save("30", ["20", 0], vae, f"sde_drag_{family}"))
        out[f"{family}_sde_drag"] = (g, (
            "SDE-Drag: in Drag Points click a source, then its target (several pairs allowed); paint the region "
            "that may change with 'Paint mask'. Paper defaults: t0 0.6, alpha 1.1, beta 0.3, r 5, drag step 2 "
            "latent cells, CFG rising to 3 (SD1.5; Flux.1-dev uses its distilled guidance, cfg_max 1). Add a "
            "LoRA loader before the model input to hold the identity."))

    g = _sd15_front({"6": "a photo of a house", "7": "a photo of a house in winter, snow", "8": "blurry"})
    g["11"] = {"class_type": "LoraLoader", "inputs": {"model": ["1", 0], "clip": ["1", 1],
                                                      "lora_name": "your_style_lora.safetensors",
                                                      "strength_model": 0.8, "strength_clip": 0.8}}
    for node_id in ("6", "7", "8"):
        g[node_id]["inputs"]["clip"] = ["11", 1]
    g["10"]["inputs"]["model"] = ["11", 0]
    g["12"] = {"class_type": "ControlNetLoader",
               "inputs": {"control_net_name": "control_v11p_sd15_canny_fp16.safetensors"}}
    g["13"] = {"class_type": "Canny", "inputs": {"image": ["4", 0], "low_threshold": 0.4, "high_threshold": 0.8}}
    g["14"] = {"class_type": "ControlNetApplyAdvanced",
               "inputs": {"positive": ["7", 0], "negative": ["8", 0], "control_net": ["12", 0], "image": ["13", 0],
                          "strength": 0.6, "start_percent": 0.0, "end_percent": 1.0, "vae": ["1", 2]}}
    g["20"] = _sync(["11", 0], ["6", 0], ["14", 0], ["10", 0], 20, source_negative=["8", 0],
                    target_negative=["14", 1], source_cfg=4.0, target_cfg=4.0)
    g.update(_save("30", ["20", 0], ["1", 2], "sync_sde_lora_controlnet"))
    out["sd15_sync_sde_lora_controlnet"] = (g, (
        "sync-SDE chained with a LoRA loader (the model and CLIP of both branches) and a ControlNet (Canny edges "
        "of the source, on the target branch only). Every model call goes through ComfyUI's guider, so LoRA and "
        "ControlNet apply as in any sampler."))

    g = _flux_front({"6": "a photo of a cat sitting on a sofa", "7": "a photo of a dog sitting on a sofa"},
                    {"6": 1.5, "7": 5.5})
    g["6s"] = {"class_type": "FluxGuidance", "inputs": {"conditioning": ["6", 0], "guidance": 1.0}}
    g["7s"] = {"class_type": "FluxGuidance", "inputs": {"conditioning": ["7", 0], "guidance": 1.0}}
    g["20"] = {"class_type": "CoupledSDE_FlowEdit",
               "inputs": {"model": ["1", 0], "source_positive": ["6g", 0], "target_positive": ["7g", 0],
                          "latent": ["5", 0], "sigmas": ["10", 0], "start_step": 4, "seed": 0, "n_avg": 1,
                          "n_min": 0, "source_cfg": 1.0, "target_cfg": 1.0}}
    g["21"] = _sync(["1", 0], ["6s", 0], ["7s", 0], ["10", 0], 4)
    g.update(_save("30", ["20", 0], ["3", 0], "flowedit"))
    g.update(_save("31", ["21", 0], ["3", 0], "sync_sde"))
    out["flux_flowedit_vs_sync_sde"] = (g, (
        "FlowEdit and sync-SDE side by side on the same image and prompts, each at its paper settings for "
        "Flux.1-dev: FlowEdit guidance 1.5 source / 5.5 target, n_max 24 of 28 (start_step 4); sync-SDE guidance "
        "1.0 / 1.0, start_step 4. Same number of model calls (2 per step)."))
    return out


def renumber(graph: dict) -> dict:
    """Node ids 1..N in order (the frontend wants numeric ids), links rewritten."""
    ids = {old: str(i + 1) for i, old in enumerate(graph)}
    out = {}
    for old, node in graph.items():
        inputs = {k: ([ids[v[0]], v[1]] if isinstance(v, list) and len(v) == 2 and v[0] in ids else v)
                  for k, v in node["inputs"].items()}
        out[ids[old]] = {"class_type": node["class_type"], "inputs": inputs}
    return out
