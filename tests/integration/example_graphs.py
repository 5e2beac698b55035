"""The example workflows, written as API-format graphs (the source of example_workflows/*.json).

``build_example_workflows.py`` loads each graph into ComfyUI's real frontend, lays it out, adds
its note and saves what the frontend's "Save" writes (UI format), a thumbnail and the frontend's
own API conversion (the twin the converter test compares against). Only stock nodes and ours.
File names are the ones the ComfyUI docs and model cards use. The ``demo_*`` graphs need no file at
all: they run the pack's own demo scene model (Load Demo Scene Model), generate their source scene
with KSampler from its caption, and show every image 8x enlarged with nearest-neighbour pixels.
"""

FLUX_FILES = {"unet": "flux1-dev.safetensors", "clip_l": "clip_l.safetensors", "t5": "t5xxl_fp16.safetensors",
              "vae": "ae.safetensors"}
SD15_CKPT = "v1-5-pruned-emaonly-fp16.safetensors"
IMAGE = "example.png"
LORA_PLACEHOLDER = "your_style_lora.safetensors"  # the user's own LoRA: nothing to download

# Where each model file the workflows name comes from, as ComfyUI's own templates say it: file name ->
# (download URL, models folder). build_example_workflows.py writes them on each loader node as
# properties.models, the templates' format, so the frontend's "Missing Models" panel offers the
# downloads. URLs copied from comfyui-workflow-templates (flux_dev_full_text_to_image, image_z_image_turbo,
# image_flux2_klein_image_edit_4b_distilled, image_qwen_image_edit_2511, video_wan2_2_5B_ti2v) and, for
# SD1.5, from the frontend's default graph; the SD1.5 Canny ControlNet (in no template) from
# comfyanonymous/ControlNet-v1-1_fp16_safetensors, the ControlNet ComfyUI's examples use.
MODEL_URLS = {
    "flux1-dev.safetensors": ("https://huggingface.co/Comfy-Org/flux1-dev/resolve/main/flux1-dev.safetensors",
                              "diffusion_models"),
    "clip_l.safetensors": ("https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/clip_l.safetensors",
                           "text_encoders"),
    "t5xxl_fp16.safetensors": ("https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/"
                               "t5xxl_fp16.safetensors", "text_encoders"),
    "ae.safetensors": ("https://huggingface.co/Comfy-Org/Lumina_Image_2.0_Repackaged/resolve/main/split_files/vae/"
                       "ae.safetensors", "vae"),
    SD15_CKPT: ("https://huggingface.co/Comfy-Org/stable-diffusion-v1-5-archive/resolve/main/"
                "v1-5-pruned-emaonly-fp16.safetensors", "checkpoints"),
    "control_v11p_sd15_canny_fp16.safetensors": ("https://huggingface.co/comfyanonymous/ControlNet-v1-1_fp16_safetensors/"
                                                 "resolve/main/control_v11p_sd15_canny_fp16.safetensors", "controlnet"),
    # Z-Image-Turbo (template image_z_image_turbo)
    "z_image_turbo_bf16.safetensors": ("https://huggingface.co/Comfy-Org/z_image_turbo/resolve/main/split_files/"
                                       "diffusion_models/z_image_turbo_bf16.safetensors", "diffusion_models"),
    "qwen_3_4b.safetensors": ("https://huggingface.co/Comfy-Org/z_image_turbo/resolve/main/split_files/text_encoders/"
                              "qwen_3_4b.safetensors", "text_encoders"),
    # (its VAE is Flux.1's ae.safetensors, above: the same file, which the Z-Image template fetches from
    # Comfy-Org/z_image_turbo)
    # Flux.2 klein 4B distilled (template image_flux2_klein_image_edit_4b_distilled)
    "flux-2-klein-4b-fp8.safetensors": ("https://huggingface.co/black-forest-labs/FLUX.2-klein-4b-fp8/resolve/main/"
                                        "flux-2-klein-4b-fp8.safetensors", "diffusion_models"),
    "flux2-vae.safetensors": ("https://huggingface.co/Comfy-Org/flux2-dev/resolve/main/split_files/vae/"
                              "flux2-vae.safetensors", "vae"),
    # Qwen-Image-Edit 2511 (template image_qwen_image_edit_2511)
    "qwen_image_edit_2511_fp8mixed.safetensors": ("https://huggingface.co/Comfy-Org/Qwen-Image-Edit_ComfyUI/resolve/main/"
                                                  "split_files/diffusion_models/qwen_image_edit_2511_fp8mixed.safetensors",
                                                  "diffusion_models"),
    "qwen_2.5_vl_7b_fp8_scaled.safetensors": ("https://huggingface.co/Comfy-Org/HunyuanVideo_1.5_repackaged/resolve/main/"
                                              "split_files/text_encoders/qwen_2.5_vl_7b_fp8_scaled.safetensors",
                                              "text_encoders"),
    "qwen_image_vae.safetensors": ("https://huggingface.co/Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/vae/"
                                   "qwen_image_vae.safetensors", "vae"),
    # Wan 2.2 5B TI2V (template video_wan2_2_5B_ti2v)
    "wan2.2_ti2v_5B_fp16.safetensors": ("https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/"
                                        "split_files/diffusion_models/wan2.2_ti2v_5B_fp16.safetensors",
                                        "diffusion_models"),
    "umt5_xxl_fp8_e4m3fn_scaled.safetensors": ("https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/"
                                               "split_files/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                                               "text_encoders"),
    "wan2.2_vae.safetensors": ("https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files/"
                               "vae/wan2.2_vae.safetensors", "vae"),
    # the base models of the target_model workflows: Qwen-Image 2512 (template image_qwen_Image_2512), Flux.2
    # klein 4B base (image_flux2_klein_image_edit_4b_base); the edit model Flux.1 Kontext dev
    # (flux_kontext_dev_basic)
    "qwen_image_2512_fp8_e4m3fn.safetensors": ("https://huggingface.co/Comfy-Org/Qwen-Image_ComfyUI/resolve/main/"
                                               "split_files/diffusion_models/qwen_image_2512_fp8_e4m3fn.safetensors",
                                               "diffusion_models"),
    "flux-2-klein-base-4b-fp8.safetensors": ("https://huggingface.co/black-forest-labs/FLUX.2-klein-base-4b-fp8/resolve/"
                                             "main/flux-2-klein-base-4b-fp8.safetensors", "diffusion_models"),
    "flux1-dev-kontext_fp8_scaled.safetensors": ("https://huggingface.co/Comfy-Org/flux1-kontext-dev_ComfyUI/resolve/"
                                                 "main/split_files/diffusion_models/"
                                                 "flux1-dev-kontext_fp8_scaled.safetensors", "diffusion_models"),
}
# loader node -> its file-name inputs and the models folder each reads
LOADERS = {
    "UNETLoader": {"unet_name": "diffusion_models"},
    "CheckpointLoaderSimple": {"ckpt_name": "checkpoints"},
    "VAELoader": {"vae_name": "vae"},
    "CLIPLoader": {"clip_name": "text_encoders"},
    "DualCLIPLoader": {"clip_name1": "text_encoders", "clip_name2": "text_encoders"},
    "LoraLoader": {"lora_name": "loras"},
    "LoraLoaderModelOnly": {"lora_name": "loras"},
    "ControlNetLoader": {"control_net_name": "controlnet"},
}


def model_entries(graph: dict) -> dict:
    """node id -> the properties.models list of each loader node of an API graph (in input order);
    a file without a download (LORA_PLACEHOLDER) gets none."""
    out = {}
    for node_id, node in graph.items():
        for name, folder in LOADERS.get(node["class_type"], {}).items():
            value = node["inputs"].get(name)
            if value in MODEL_URLS:
                url, directory = MODEL_URLS[value]
                assert directory == folder, (value, directory, folder)
                out.setdefault(node_id, []).append({"name": value, "url": url, "directory": directory})
    return out


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


# ---- the demo scene model (no download: the pack ships it) ----------------------------------------

DEMO_STEPS = 28  # KSampler and BasicScheduler, "simple" schedule
# Edit Settings' "Demo scene model · colour edits (measured)" preset: start_step 4 (sigma 0.86), cfg 1; FlowEdit
# cfg 2 / 2. A colour is settled early: later starts keep it or ERASE the object (start 8: 14/24, 12: 6/24 right)
DEMO_START = 4
DEMO_FLOWEDIT_CFG = 2.0
DEMO_LOCALIZE = 0.5  # the localized presets
# SDE Drag Settings' "Demo scene model · SDE-Drag (measured)" preset: window r 6, t0 0.3, 60 steps, one paste
# (drag_step 8 >= the drag's length in pixels: the latent is the image), cfg_max 1
DEMO_DRAG = {"t0": 0.3, "steps": 60, "drag_step": 8.0, "r": 6}
# the yellow circle of the drag scene (seed 2) is centred near (8.8, 8.7): 4 px to the right
DEMO_DRAG_POINTS = '{"sources": [[9, 9]], "targets": [[13, 9]], "width": 32, "height": 32}'
SHOW = 256  # the 32x32 images are shown 8x enlarged (nearest-exact: big pixels)


def _demo_front(prompts: dict, seed: int, name: str) -> dict:
    """The demo scene model ("1"), the source scene generated by KSampler ("3") from the caption in
    "6" (seed fixed, 28 euler steps, cfg 2, negative "8" = the empty caption), decoded to the source
    IMAGE ("4"), shown ("4x"/"4s") and encoded again to the LATENT the edits start from ("5"), the
    28-step SIGMAS ("10"). ``prompts``: ``{node id: caption}``, "6" the source caption."""
    g = {
        "1": {"class_type": "CoupledSDE_LoadDemoSceneModel", "inputs": {}},
        "2": {"class_type": "EmptyChromaRadianceLatentImage", "inputs": {"width": 32, "height": 32,
                                                                         "batch_size": 1}},
        "3": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": seed, "steps": DEMO_STEPS, "cfg": 2.0,
                                                   "sampler_name": "euler", "scheduler": "simple",
                                                   "positive": ["6", 0], "negative": ["8", 0],
                                                   "latent_image": ["2", 0], "denoise": 1.0}},
        "4": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["1", 2]}},
        "5": {"class_type": "VAEEncode", "inputs": {"pixels": ["4", 0], "vae": ["1", 2]}},
        "10": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "simple",
                                                          "steps": DEMO_STEPS, "denoise": 1.0}},
    }
    for node_id, text in dict(prompts, **{"8": ""}).items():
        g[node_id] = {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["1", 1]}}
    g.update(_show("4", ["4", 0], f"{name}/source"))
    return g


def _show(node_id: str, image_ref, prefix: str) -> dict:
    """ImageScale (nearest-exact, 256x256) + SaveImage of an IMAGE."""
    return {node_id + "x": {"class_type": "ImageScale", "inputs": {"image": image_ref,
                                                                   "upscale_method": "nearest-exact",
                                                                   "width": SHOW, "height": SHOW,
                                                                   "crop": "disabled"}},
            node_id + "s": {"class_type": "SaveImage", "inputs": {"images": [node_id + "x", 0],
                                                                  "filename_prefix": prefix}}}


def _demo_drag(g: dict, points: str, strokes: str, v: dict, **more) -> None:
    """The demo front's drag, in place of its scheduler (node "10"): Drag Points "15" on the generated
    scene (points and strokes saved) -> SDE Drag "20" with the values ``v`` (t0, steps, drag_step, alpha,
    beta, r, cfg_max), its MASK and the empty negative; ``more``: further SDE Drag inputs."""
    del g["10"]
    g["15"] = {"class_type": "CoupledSDE_DragPoints",
               "inputs": {"image": ["4", 0], "points": points, "mask_strokes": strokes}}
    g["20"] = {"class_type": "CoupledSDE_SDEDrag",
               "inputs": {"model": ["1", 0], "positive": ["6", 0], "latent": ["5", 0], "drag_points": ["15", 0],
                          "negative": ["8", 0], "mask": ["15", 1], "t0": v["t0"], "steps": v["steps"],
                          "drag_step": v["drag_step"], "alpha": v["alpha"], "beta": v["beta"], "r": v["r"],
                          "cfg_max": v["cfg_max"], "seed": 0, "solver": "posterior", **more}}


def _demo_save(node_id: str, latent_ref, prefix: str) -> dict:
    """VAEDecode of a LATENT with the demo model's VAE, shown (see :func:`_show`)."""
    return {node_id: {"class_type": "VAEDecode", "inputs": {"samples": latent_ref, "vae": ["1", 2]}},
            **_show(node_id, [node_id, 0], prefix)}


def _demo_sync(src, tgt, **extra) -> dict:
    return _sync(["1", 0], src, tgt, ["10", 0], DEMO_START, source_negative=["8", 0], target_negative=["8", 0],
                 **extra)


DEMO_SCENE_TIP = ("Captions: 1-3 objects '<red|green|blue|yellow> <circle|square|triangle> <top|bottom> <left|right>' "
                  "joined by 'and', then 'on a <noisy|smooth|striped> <grey|beige> background'. The source scene is "
                  "generated by KSampler from the source caption (seed fixed); to edit your own 32x32 image, replace "
                  "KSampler + VAE Decode with Load Image.")


# SDE Drag Settings' "Demo scene model · SDE-Drag, path fill (measured)" preset, the region drag's values: read
# from the preset itself (t0, steps, drag_step, alpha, beta, r (a region drag does not use it), cfg_max, fill)
DEMO_REGION_PRESET = "Demo scene model · SDE-Drag, path fill (measured)"
# the yellow square of the region drag scene (seed 2) is centred near (25.2, 25.85), 10 px wide: the painted
# disc covers its corners (7.1 px from the centre) by 1.5 px; the arrow moves it 3 px left and 3 px up, into
# +-2 px of its quadrant's centre (24, 24)
DEMO_REGION_POINTS = '{"sources": [[25, 25]], "targets": [[22, 22]], "mode": "region", "width": 32, "height": 32}'
DEMO_REGION_STROKES = "[[25.2, 25.85, 8.5, 1]]"


def demo_region_preset() -> dict:
    """The path-fill preset's values: key -> value (t0, steps, drag_step, alpha, beta, r, cfg_max, fill)."""
    from comfyui_coupled_sde.nodes.presets import DRAG_PRESETS

    p = DRAG_PRESETS[DEMO_REGION_PRESET]
    return {k: p[k] for k in ("t0", "steps", "drag_step", "alpha", "beta", "r", "cfg_max", "fill")}


def demo_graphs() -> dict:
    """name -> (API graph, note text): the workflows of the pack's demo scene model."""
    out = {}

    name = "demo_sync_sde_edit"
    g = _demo_front({"6": "a red circle top left and a green square bottom right on a noisy grey background",
                     "7": "a blue circle top left and a green square bottom right on a noisy grey background"},
                    seed=2, name=name)
    g["20"] = _demo_sync(["6", 0], ["7", 0])
    g.update(_demo_save("30", ["20", 0], f"{name}/edit"))
    g["40"] = {"class_type": "CoupledSDE_EditDifference",
               "inputs": {"source": ["4", 0], "edited": ["30", 0], "mode": "heat map", "gain": 4.0,
                          "threshold": 0.05}}
    g.update(_show("40", ["40", 0], f"{name}/difference"))
    out[name] = (g, (
        "Sync-SDE Edit on the pack's demo scene model (no download; seconds on a CPU): the red circle turns blue, "
        f"the green square and the noisy background stay. {DEMO_STEPS} steps, start_step {DEMO_START}, cfg 1 on both "
        "prompts, posterior solver (Edit Settings' 'Demo scene model · colour edits (measured)' preset). Edit "
        "Difference shows what changed (black = unchanged). Change only the words that should change in the target "
        "caption. A colour is settled early in sampling: a later start keeps the old colour or ERASES the object, "
        "so lower start_step if that happens; shape edits work from start_step 12. " + DEMO_SCENE_TIP))

    name = "demo_one_inversion_three_edits"
    g = _demo_front({"6": "a red circle top left and a blue triangle bottom right on a noisy beige background",
                     "7": "a blue circle top left and a blue triangle bottom right on a noisy beige background",
                     "9": "a green circle top left and a blue triangle bottom right on a noisy beige background",
                     "11": "a yellow circle top left and a blue triangle bottom right on a noisy beige background"},
                    seed=1, name=name)
    g["20"] = {"class_type": "CoupledSDE_ForwardNoising",
               "inputs": {"model": ["1", 0], "latent": ["5", 0], "sigmas": ["10", 0], "start_step": DEMO_START,
                          "seed": 0, "path": "brownian"}}
    g["21"] = {"class_type": "CoupledSDE_BackwardIncrements",
               "inputs": {"model": ["1", 0], "positive": ["6", 0], "path": ["20", 0], "solver": "posterior",
                          "negative": ["8", 0], "cfg": 1.0}}
    for k, (prompt, colour) in enumerate((("7", "blue"), ("9", "green"), ("11", "yellow"))):
        g[f"2{k + 2}"] = {"class_type": "CoupledSDE_CoupledSampling",
                          "inputs": {"model": ["1", 0], "positive": [prompt, 0], "increments": ["21", 0],
                                     "negative": ["8", 0], "cfg": 1.0}}
        g.update(_demo_save(f"3{k}", [f"2{k + 2}", 0], f"{name}/{colour}"))
    out[name] = (g, (
        "One inversion, three edits, on the demo scene model: Forward Noising + Backward Brownian Increments run "
        f"the source caption once ({DEMO_STEPS - DEMO_START} model calls from start_step {DEMO_START} of "
        f"{DEMO_STEPS}); each Coupled Sampling costs {DEMO_STEPS - DEMO_START} more and recolours the red circle "
        "(blue, green, yellow). Use the same cfg on the increments and every sampling node. " + DEMO_SCENE_TIP))

    name = "demo_cycle_sde_reconstruct_and_edit"
    g = _demo_front({"6": "a green square top right and a red circle bottom left on a noisy beige background",
                     "7": "a yellow square top right and a red circle bottom left on a noisy beige background"},
                    seed=0, name=name)
    g["20"] = {"class_type": "CoupledSDE_CycleSDEInversion",
               "inputs": {"model": ["1", 0], "positive": ["6", 0], "latent": ["5", 0], "sigmas": ["10", 0],
                          "start_step": DEMO_START, "seed": 0, "negative": ["8", 0], "cfg": 1.0}}
    for k, (prompt, what) in enumerate((("6", "reconstruction"), ("7", "edit"))):
        g[f"2{k + 1}"] = {"class_type": "CoupledSDE_CycleSDESampling",
                          "inputs": {"model": ["1", 0], "positive": [prompt, 0], "increments": ["20", 0],
                                     "negative": ["8", 0], "cfg": 1.0}}
        g.update(_demo_save(f"3{k}", [f"2{k + 1}", 0], f"{name}/{what}"))
    out[name] = (g, (
        f"Cycle-SDE on the demo scene model: one inversion (start_step {DEMO_START} of {DEMO_STEPS}, cfg 1), then "
        "sampling with the SAME "
        "caption (reconstruction: the source scene again, up to float round-off) and with the square's colour "
        "changed (edit: the green square turns yellow). Keep inversion and sampling cfg equal. " + DEMO_SCENE_TIP))

    name = "demo_masked_edit"
    g = _demo_front({"6": "a red circle top left and a red circle bottom right on a noisy grey background",
                     "7": "a blue circle top left and a blue circle bottom right on a noisy grey background"},
                    seed=1, name=name)
    g["12"] = {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": 32, "height": 32}}
    g["13"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 16, "height": 16}}
    g["14"] = {"class_type": "MaskComposite", "inputs": {"destination": ["12", 0], "source": ["13", 0], "x": 0,
                                                         "y": 0, "operation": "add"}}
    g["15"] = {"class_type": "MaskToImage", "inputs": {"mask": ["14", 0]}}
    g.update(_show("15", ["15", 0], f"{name}/mask"))
    g["20"] = _demo_sync(["6", 0], ["7", 0], mask=["14", 0])
    g.update(_demo_save("30", ["20", 0], f"{name}/edit"))
    out[name] = (g, (
        "Masked edit on the demo scene model: the target caption turns BOTH red circles blue, but the MASK (white = "
        "may change) covers only the top-left quadrant, so only that circle changes; outside the mask every pixel "
        "equals the source (the source path is copied every step). The mask is built from stock nodes: a black "
        "32x32 SolidMask with a white 16x16 SolidMask added at x 0, y 0 (MaskComposite); move it with x / y. "
        f"Sync-SDE Edit: {DEMO_STEPS} steps, start_step {DEMO_START}, cfg 1. " + DEMO_SCENE_TIP))

    name = "demo_localized_edit"
    g = _demo_front({"6": "a red circle top left and a blue square bottom right on a noisy grey background",
                     "7": "a yellow circle top left and a blue square bottom right on a noisy grey background"},
                    seed=7, name=name)
    g["20"] = _demo_sync(["6", 0], ["7", 0], localize=DEMO_LOCALIZE)
    g.update(_demo_save("30", ["20", 0], f"{name}/edit"))
    g["15"] = {"class_type": "MaskToImage", "inputs": {"mask": ["20", 1]}}
    g.update(_show("15", ["15", 0], f"{name}/edit_mask"))
    g["40"] = {"class_type": "CoupledSDE_EditBlend",
               "inputs": {"source": ["4", 0], "edited": ["30", 0], "mask": ["20", 1], "feather": 0,
                          "colour_match": "mean", "ring": 2}}
    g.update(_show("40", ["40", 0], f"{name}/blended"))
    g["41"] = {"class_type": "CoupledSDE_EditDifference",
               "inputs": {"source": ["4", 0], "edited": ["40", 0], "mode": "heat map", "gain": 4.0,
                          "threshold": 0.05}}
    g.update(_show("41", ["41", 0], f"{name}/difference"))
    out[name] = (g, (
        f"Change only what the prompts disagree on, without painting a mask: Sync-SDE Edit with localize "
        f"{DEMO_LOCALIZE:g} (the 'Demo scene model · colour edits, localized (measured)' preset) turns the red "
        "circle yellow and keeps every other pixel of the scene: its edit_mask output (second image) is the map "
        "it found, white where the two captions disagree. Edit Blend puts the source's own pixels back outside "
        "that map after VAE Decode (feather 0 for these 32 px scenes; 8 suits 1024 px images) and matches the "
        "edit's colours on a 2 px ring (against a tint); Edit Difference shows that only the circle changed. "
        "localize 0 = off (the plain edit, as saved workflows had it). " + DEMO_SCENE_TIP))

    name = "demo_sde_drag"
    g = _demo_front({"6": "a yellow circle top left and a blue square bottom right on a smooth grey background"},
                    seed=2, name=name)
    _demo_drag(g, DEMO_DRAG_POINTS, "[]", {**DEMO_DRAG, "alpha": 1.1, "beta": 0.3, "cfg_max": 1.0})
    g.update(_demo_save("30", ["20", 0], f"{name}/dragged"))
    out[name] = (g, (
        "SDE-Drag on the demo scene model: the arrow in Drag Points moves the yellow circle 4 px to the right. "
        "Settings: the 'Demo scene model · SDE-Drag (measured)' preset of SDE Drag Settings: window r "
        f"{DEMO_DRAG['r']}, t0 {DEMO_DRAG['t0']:g}, {DEMO_DRAG['steps']} steps, one paste (drag_step "
        f"{DEMO_DRAG['drag_step']:g} >= the arrow's length; this model's latent is the 32x32 image, so a latent cell "
        "is a pixel), cfg_max 1. Keep the target inside the object's quadrant: the caption says where the object "
        "is, and a target beyond is pulled back. Click a source, then its target, in Drag Points to draw your own "
        "arrow (after the first run the editor shows the scene). " + DEMO_SCENE_TIP))

    name = "demo_region_drag"
    v = demo_region_preset()
    g = _demo_front({"6": "a green triangle top left and a yellow square bottom right on a smooth grey background"},
                    seed=2, name=name)
    _demo_drag(g, DEMO_REGION_POINTS, DEMO_REGION_STROKES, v, batch_branches=True, move="as drawn",
               fill=v["fill"], region_margin=1)
    g.update(_demo_save("30", ["20", 0], f"{name}/dragged"))
    g["40"] = {"class_type": "MaskToImage", "inputs": {"mask": ["15", 1]}}  # the painted region, to see
    g.update(_show("40", ["40", 0], f"{name}/region"))
    out[name] = (g, (
        "Region drag on the demo scene model: the painted region (the yellow square) moves as a whole, 3 px left "
        "and 3 px up. To make your own: in Drag Points switch the editor to Region, paint the object (a little "
        "wider than it: the region image shows what you painted), then click a source and its target: one arrow "
        "moves it; two arrows also rotate and scale it (three or more: an affine map). SDE Drag's move 'as drawn' "
        "follows the editor ('windows' drags the paper's squares around each arrow instead); Drag Points' MASK "
        "is the region. Settings: the 'Demo scene model · SDE-Drag, path fill (measured)' preset of SDE Drag "
        f"Settings: t0 {v['t0']:g}, {v['steps']} steps, one paste (drag_step {v['drag_step']:g}), cfg_max "
        f"{v['cfg_max']:g}, fill '{v['fill']}' (the vacated area gets the noise level the path has, not the "
        "paper's unit noise; r is unused by a region). The coupled reverse SDE redraws only the region, where it "
        "lands and region_margin cells around them (a cell is a pixel here); every other pixel equals the source "
        "exactly. Keep the object inside its quadrant: the caption says where it is. " + DEMO_SCENE_TIP))

    name = "demo_flowedit_vs_sync_sde"
    g = _demo_front({"6": "a blue triangle top right and a red square bottom left on a smooth grey background",
                     "7": "a blue triangle top right and a green square bottom left on a smooth grey background"},
                    seed=3, name=name)
    g["20"] = {"class_type": "CoupledSDE_FlowEdit",
               "inputs": {"model": ["1", 0], "source_positive": ["6", 0], "target_positive": ["7", 0],
                          "latent": ["5", 0], "sigmas": ["10", 0], "start_step": DEMO_START, "seed": 0, "n_avg": 1,
                          "n_min": 0, "source_negative": ["8", 0], "target_negative": ["8", 0],
                          "source_cfg": DEMO_FLOWEDIT_CFG, "target_cfg": DEMO_FLOWEDIT_CFG}}
    g["21"] = _demo_sync(["6", 0], ["7", 0])
    g.update(_demo_save("30", ["20", 0], f"{name}/flowedit"))
    g.update(_demo_save("31", ["21", 0], f"{name}/sync_sde"))
    out[name] = (g, (
        "FlowEdit and Sync-SDE Edit side by side on the demo scene model, same caption pair, each at the 'Demo "
        f"scene model · colour edits (measured)' preset: {DEMO_STEPS} steps, start_step {DEMO_START} (FlowEdit's "
        f"n_max {DEMO_STEPS - DEMO_START}); sync-SDE cfg 1 on both prompts (2 model calls per step), FlowEdit cfg "
        f"{DEMO_FLOWEDIT_CFG:g} on both (it misses some colour edits at cfg 1; 4 calls per step). The red square "
        "turns green in both. FlowEdit draws fresh noise every step; sync-SDE couples both prompts to one "
        "Brownian path. " + DEMO_SCENE_TIP))
    return out


DRAG_POINTS = '{"sources": [[180, 260]], "targets": [[330, 260]]}'


def _qwen_edit_prompts(g: dict, prompts: dict) -> None:
    """Qwen-Image-Edit 2511 prompts as its template conditions them: TextEncodeQwenImageEditPlus with the
    scaled image (node "12") per ``{node_id: text}``, then the index_timestep_zero reference method as
    ``node_id + "m"``."""
    for node_id, text in prompts.items():
        g[node_id] = {"class_type": "TextEncodeQwenImageEditPlus",
                      "inputs": {"clip": ["2", 0], "prompt": text, "vae": ["3", 0], "image1": ["12", 0]}}
        g[node_id + "m"] = {"class_type": "FluxKontextMultiReferenceLatentMethod",
                            "inputs": {"conditioning": [node_id, 0], "reference_latents_method": "index_timestep_zero"}}


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
                                                      "lora_name": LORA_PLACEHOLDER,
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


# ---- the families of late 2026, each loaded and conditioned as ComfyUI's own template for it does ----------
#
# Edit Settings ("9") holds the template's sampling values (its preset); its SIGMAS, start_step and cfg
# outputs are wired into Sync-SDE Edit. The shift node of the template sits on the MODEL before both.

# Edit Settings' outputs: SIGMAS, steps, start_step, source_guidance, target_guidance, source_cfg, target_cfg,
# n_avg, description, localize
_SIGMAS, _START, _SRC_CFG, _TGT_CFG = 0, 2, 5, 6


def _settings(model, preset: str, latent=None) -> dict:
    inputs = {"model": model, "preset": preset}
    if latent is not None:
        inputs["latent"] = latent
    return {"class_type": "CoupledSDE_EditSettings", "inputs": inputs}


def _sync_from_settings(model, src, tgt, **extra) -> dict:
    node = _sync(model, src, tgt, ["9", _SIGMAS], ["9", _START], source_cfg=["9", _SRC_CFG],
                 target_cfg=["9", _TGT_CFG], **extra)
    return node


def _loaders(unet: str, clip: str, clip_type: str, vae: str) -> dict:
    return {"1": {"class_type": "UNETLoader", "inputs": {"unet_name": unet, "weight_dtype": "default"}},
            "2": {"class_type": "CLIPLoader", "inputs": {"clip_name": clip, "type": clip_type, "device": "default"}},
            "3": {"class_type": "VAELoader", "inputs": {"vae_name": vae}}}


Z_IMAGE_PRESET = "Z-Image-Turbo (8 steps) · sync-SDE (start unmeasured)"
KLEIN_PRESET = "Flux.2 klein, distilled (4 steps) · sync-SDE (start unmeasured)"
QWEN_EDIT_PRESET = "Qwen-Image-Edit 2509 / 2511 · sync-SDE (start unmeasured)"
WAN22_PRESET = "Wan 2.2 5B (TI2V) video · sync-SDE (start unmeasured)"
VIDEO = "example.mp4"
# the negative prompt of ComfyUI's Wan 2.2 5B template (video_wan2_2_5B_ti2v), as it is there
WAN_NEGATIVE = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，"
                "最差质量，低质量，JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，"
                "画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
                "杂乱的背景，三条腿，背景人很多，倒着走")


def family_graphs() -> dict:
    """name -> (API graph, note text): Z-Image-Turbo, Flux.2 klein, Qwen-Image-Edit 2511, Wan 2.2 5B."""
    out = {}

    name = "z_image_turbo_sync_sde_edit"
    g = _loaders("z_image_turbo_bf16.safetensors", "qwen_3_4b.safetensors", "lumina2", "ae.safetensors")
    g["11"] = {"class_type": "ModelSamplingAuraFlow", "inputs": {"model": ["1", 0], "shift": 3.0}}
    g["4"] = {"class_type": "LoadImage", "inputs": {"image": IMAGE}}
    g["5"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["4", 0], "vae": ["3", 0]}}
    g["6"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a photo of a cat sitting on a sofa",
                                                         "clip": ["2", 0]}}
    g["7"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a photo of a dog sitting on a sofa",
                                                         "clip": ["2", 0]}}
    g["9"] = _settings(["11", 0], Z_IMAGE_PRESET)
    g["20"] = _sync_from_settings(["11", 0], ["6", 0], ["7", 0])
    g.update(_save("30", ["20", 0], ["3", 0], "z_image_turbo_sync_sde"))
    out[name] = (g, (
        f"Sync-SDE Edit on Z-Image-Turbo, loaded as ComfyUI's Z-Image-Turbo template loads it (Qwen3-4B text "
        "encoder as lumina2, the Flux VAE, ModelSamplingAuraFlow shift 3). Edit Settings' preset "
        f"'{Z_IMAGE_PRESET}' gives the template's 8 steps (simple) and cfg 1, and start_step 1 (unmeasured: "
        "raise it to keep more of the image, lower it for bigger changes). Describe the image in the source "
        "prompt; change only what should change in the target prompt. cfg 1 needs no negative prompt."))

    name = "flux2_klein_sync_sde_edit"
    g = _loaders("flux-2-klein-4b-fp8.safetensors", "qwen_3_4b.safetensors", "flux2", "flux2-vae.safetensors")
    g["4"] = {"class_type": "LoadImage", "inputs": {"image": IMAGE}}
    g["12"] = {"class_type": "ImageScaleToTotalPixels", "inputs": {"image": ["4", 0], "upscale_method": "nearest-exact",
                                                                   "megapixels": 1.0, "resolution_steps": 1}}
    g["5"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["12", 0], "vae": ["3", 0]}}
    g["6"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["2", 0]}}
    g["7"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "Change the cat into a dog.", "clip": ["2", 0]}}
    g["6r"] = {"class_type": "ReferenceLatent", "inputs": {"conditioning": ["6", 0], "latent": ["5", 0]}}
    g["7r"] = {"class_type": "ReferenceLatent", "inputs": {"conditioning": ["7", 0], "latent": ["5", 0]}}
    g["9"] = _settings(["1", 0], KLEIN_PRESET, latent=["5", 0])
    g["20"] = _sync_from_settings(["1", 0], ["6r", 0], ["7r", 0])
    g.update(_save("30", ["20", 0], ["3", 0], "flux2_klein_sync_sde"))
    out[name] = (g, (
        "Sync-SDE Edit on Flux.2 klein 4B (distilled), loaded and conditioned as ComfyUI's klein image-edit "
        "template: Qwen3-4B as flux2, the Flux.2 VAE, the image scaled to 1 megapixel, and the source image as a "
        "ReferenceLatent on BOTH prompts (the two branches differ only in text). The source prompt is empty, the "
        f"target is the instruction. Edit Settings' preset '{KLEIN_PRESET}' gives the template's 4 steps "
        "(Flux2Scheduler: connect the latent, its sigmas depend on the image size) and cfg 1 (no FluxGuidance: "
        "klein has none); start_step 1 is unmeasured."))

    name = "qwen_image_edit_2511_sync_sde_edit"
    g = _loaders("qwen_image_edit_2511_fp8mixed.safetensors", "qwen_2.5_vl_7b_fp8_scaled.safetensors", "qwen_image",
                 "qwen_image_vae.safetensors")
    g["11"] = {"class_type": "ModelSamplingAuraFlow", "inputs": {"model": ["1", 0], "shift": 3.1}}
    g["13"] = {"class_type": "CFGNorm", "inputs": {"model": ["11", 0], "strength": 1.0}}
    g["4"] = {"class_type": "LoadImage", "inputs": {"image": IMAGE}}
    g["12"] = {"class_type": "FluxKontextImageScale", "inputs": {"image": ["4", 0]}}
    g["5"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["12", 0], "vae": ["3", 0]}}
    _qwen_edit_prompts(g, {"6": "", "7": "Change the cat into a dog."})
    g["9"] = _settings(["13", 0], QWEN_EDIT_PRESET)
    g["20"] = _sync_from_settings(["13", 0], ["6m", 0], ["7m", 0], source_negative=["6m", 0],
                                  target_negative=["6m", 0])
    g.update(_save("30", ["20", 0], ["3", 0], "qwen_image_edit_2511_sync_sde"))
    out[name] = (g, (
        "Sync-SDE Edit on Qwen-Image-Edit 2511, loaded and conditioned as ComfyUI's 2511 template: Qwen2.5-VL 7B "
        "as qwen_image, the Qwen-Image VAE, ModelSamplingAuraFlow 3.1 + CFGNorm 1, the image scaled by "
        "FluxKontextImageScale, TextEncodeQwenImageEditPlus with the source image on BOTH prompts (the two "
        "branches differ only in text) and the template's index_timestep_zero reference method. The source "
        "prompt is empty, the target is the instruction; the empty-prompt encoding is also each branch's "
        f"negative (cfg 3, as the template's). Edit Settings' preset '{QWEN_EDIT_PRESET}': the template's 40 "
        "steps (simple); start_step 6 is unmeasured."))

    name = "wan22_5b_sync_sde_video_edit"
    g = _loaders("wan2.2_ti2v_5B_fp16.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "wan",
                 "wan2.2_vae.safetensors")
    g["11"] = {"class_type": "ModelSamplingSD3", "inputs": {"model": ["1", 0], "shift": 8.0}}
    g["4"] = {"class_type": "LoadVideo", "inputs": {"file": VIDEO}}
    g["12"] = {"class_type": "GetVideoComponents", "inputs": {"video": ["4", 0]}}
    g["5"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["12", 0], "vae": ["3", 0]}}
    g["6"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat walking on a beach", "clip": ["2", 0]}}
    g["7"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a fox walking on a beach", "clip": ["2", 0]}}
    g["8"] = {"class_type": "CLIPTextEncode", "inputs": {"text": WAN_NEGATIVE, "clip": ["2", 0]}}
    g["9"] = _settings(["11", 0], WAN22_PRESET)
    g["20"] = _sync_from_settings(["11", 0], ["6", 0], ["7", 0], source_negative=["8", 0], target_negative=["8", 0])
    g["30"] = {"class_type": "VAEDecode", "inputs": {"samples": ["20", 0], "vae": ["3", 0]}}
    g["31"] = {"class_type": "SaveWEBM", "inputs": {"images": ["30", 0], "filename_prefix": "video/wan22_sync_sde",
                                                    "codec": "vp9", "fps": ["12", 2], "crf": 32.0}}
    out[name] = (g, (
        "Sync-SDE Edit of a video on Wan 2.2 5B (TI2V), loaded as ComfyUI's Wan 2.2 5B template: UMT5-XXL as wan, "
        "the Wan 2.2 VAE, ModelSamplingSD3 shift 8, the template's negative prompt on both branches. Load Video "
        "-> Get Video Components gives the frames (use 1 + 4k frames, sides a multiple of 32) and their fps for "
        f"Save WEBM. Edit Settings' preset '{WAN22_PRESET}': the template's 20 steps (simple) and cfg 5; "
        "start_step 6 is unmeasured. Describe the video in the source prompt; change only what should change in "
        "the target prompt."))
    return out


# ---- an instruction-edit model on the target branch (Sync-SDE Edit's target_model; issue 19) ----------------
#
# "model" = the base model with the source caption (what the image shows), "target_model" = the edit model
# with the instruction and the source image as its reference (on the target prompt only), both driven by
# the same Brownian increments. Each model loaded and conditioned as ComfyUI's template for it.

KLEIN_BASE_PRESET = "Flux.2 klein base · sync-SDE (start unmeasured)"
UNMEASURED_PAIR = ("This base + edit model pair is NOT measured on real weights (it runs in the tests on tiny "
                   "random models only): start_step and cfg are starting points.")


def target_model_graphs() -> dict:
    """name -> (API graph, note text): base model on the source branch, edit model as target_model."""
    out = {}

    name = "qwen_image_edit_2511_target_model"
    g = _loaders("qwen_image_2512_fp8_e4m3fn.safetensors", "qwen_2.5_vl_7b_fp8_scaled.safetensors", "qwen_image",
                 "qwen_image_vae.safetensors")
    g["1e"] = {"class_type": "UNETLoader", "inputs": {"unet_name": "qwen_image_edit_2511_fp8mixed.safetensors",
                                                      "weight_dtype": "default"}}
    g["11"] = {"class_type": "ModelSamplingAuraFlow", "inputs": {"model": ["1", 0], "shift": 3.1}}
    g["11e"] = {"class_type": "ModelSamplingAuraFlow", "inputs": {"model": ["1e", 0], "shift": 3.1}}
    g["13e"] = {"class_type": "CFGNorm", "inputs": {"model": ["11e", 0], "strength": 1.0}}
    g["4"] = {"class_type": "LoadImage", "inputs": {"image": IMAGE}}
    g["12"] = {"class_type": "FluxKontextImageScale", "inputs": {"image": ["4", 0]}}
    g["5"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["12", 0], "vae": ["3", 0]}}
    g["6"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a photo of a cat sitting on a sofa",
                                                         "clip": ["2", 0]}}
    g["8"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["2", 0]}}
    _qwen_edit_prompts(g, {"7": "Change the cat into a dog.", "7n": ""})
    g["9"] = _settings(["11", 0], QWEN_EDIT_PRESET)
    g["20"] = _sync_from_settings(["11", 0], ["6", 0], ["7m", 0], source_negative=["8", 0],
                                  target_negative=["7nm", 0], target_model=["13e", 0])
    g.update(_save("30", ["20", 0], ["3", 0], "qwen_image_edit_2511_target_model"))
    out[name] = (g, (
        "Sync-SDE Edit with an edit model on the target branch: model = Qwen-Image 2512 (the base model, loaded as "
        "ComfyUI's Qwen-Image 2512 template: ModelSamplingAuraFlow 3.1) with the source CAPTION (describe the "
        "image); target_model = Qwen-Image-Edit 2511 (as its template: shift 3.1 + CFGNorm 1, "
        "TextEncodeQwenImageEditPlus with the source image and index_timestep_zero) with the INSTRUCTION. The "
        "reference image reaches only the edit model. Both share the Qwen-Image latent and one Brownian path; the "
        "edit is the difference of the two models' predictions. Negatives: the empty prompt of each model. "
        f"Edit Settings' preset '{QWEN_EDIT_PRESET}': 40 steps, cfg 3, start_step 6. " + UNMEASURED_PAIR))

    name = "flux2_klein_target_model"
    g = _loaders("flux-2-klein-base-4b-fp8.safetensors", "qwen_3_4b.safetensors", "flux2", "flux2-vae.safetensors")
    g["1e"] = {"class_type": "UNETLoader", "inputs": {"unet_name": "flux-2-klein-4b-fp8.safetensors",
                                                      "weight_dtype": "default"}}
    g["4"] = {"class_type": "LoadImage", "inputs": {"image": IMAGE}}
    g["12"] = {"class_type": "ImageScaleToTotalPixels", "inputs": {"image": ["4", 0], "upscale_method": "nearest-exact",
                                                                   "megapixels": 1.0, "resolution_steps": 1}}
    g["5"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["12", 0], "vae": ["3", 0]}}
    g["6"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a photo of a cat sitting on a sofa",
                                                         "clip": ["2", 0]}}
    g["7"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "Change the cat into a dog.", "clip": ["2", 0]}}
    g["7r"] = {"class_type": "ReferenceLatent", "inputs": {"conditioning": ["7", 0], "latent": ["5", 0]}}
    g["9"] = _settings(["1", 0], KLEIN_BASE_PRESET, latent=["5", 0])
    g["20"] = _sync(["1", 0], ["6", 0], ["7r", 0], ["9", _SIGMAS], ["9", _START], target_model=["1e", 0])
    g.update(_save("30", ["20", 0], ["3", 0], "flux2_klein_target_model"))
    out[name] = (g, (
        "Sync-SDE Edit with an edit model on the target branch: model = Flux.2 klein 4B BASE with the source "
        "CAPTION (describe the image; no reference); target_model = Flux.2 klein 4B DISTILLED with the INSTRUCTION "
        "and the source image as a ReferenceLatent (target prompt only). Both are Flux.2: one latent format, one "
        "Brownian path; the edit is the difference of the two models' predictions. Loaded as ComfyUI's klein "
        "templates (Qwen3-4B as flux2, the Flux.2 VAE, the image at 1 megapixel). Edit Settings' preset "
        f"'{KLEIN_BASE_PRESET}' gives 20 steps (Flux2Scheduler: connect the latent) and start_step 3; cfg is 1 "
        "on both (the distilled model takes no CFG, so no negatives). " + UNMEASURED_PAIR))

    name = "flux1_kontext_target_model"
    g = _flux_front({"6": "a photo of a cat sitting on a sofa"}, {"6": 2.5})
    g["1e"] = {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev-kontext_fp8_scaled.safetensors",
                                                      "weight_dtype": "default"}}
    g["12"] = {"class_type": "FluxKontextImageScale", "inputs": {"image": ["4", 0]}}
    g["5"]["inputs"]["pixels"] = ["12", 0]
    g["7"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "Change the cat into a dog.", "clip": ["2", 0]}}
    g["7r"] = {"class_type": "ReferenceLatent", "inputs": {"conditioning": ["7", 0], "latent": ["5", 0]}}
    g["7g"] = {"class_type": "FluxGuidance", "inputs": {"conditioning": ["7r", 0], "guidance": 2.5}}
    g["20"] = _sync(["1", 0], ["6g", 0], ["7g", 0], ["10", 0], 4, target_model=["1e", 0])
    g.update(_save("30", ["20", 0], ["3", 0], "flux1_kontext_target_model"))
    out[name] = (g, (
        "Sync-SDE Edit with an edit model on the target branch: model = Flux.1-dev with the source CAPTION "
        "(describe the image); target_model = Flux.1 Kontext dev with the INSTRUCTION, conditioned as ComfyUI's "
        "flux_kontext_dev_basic template: the image scaled by FluxKontextImageScale, a ReferenceLatent of it "
        "(target prompt only), FluxGuidance 2.5 (the source prompt gets the same 2.5). One text encoder and VAE for "
        "both; the edit is the difference of the two models' predictions. 28 steps (simple), start_step 4, cfg 1 "
        "(the Flux.1-dev reference settings). " + UNMEASURED_PAIR))
    return out


def all_graphs() -> dict:
    """Every example workflow: :func:`graphs` (Flux, SD1.5), :func:`family_graphs`, :func:`target_model_graphs`
    and :func:`demo_graphs`."""
    return {**graphs(), **family_graphs(), **target_model_graphs(), **demo_graphs()}


def renumber(graph: dict) -> dict:
    """Node ids 1..N in order (the frontend wants numeric ids), links rewritten."""
    ids = {old: str(i + 1) for i, old in enumerate(graph)}
    out = {}
    for old, node in graph.items():
        inputs = {k: ([ids[v[0]], v[1]] if isinstance(v, list) and len(v) == 2 and v[0] in ids else v)
                  for k, v in node["inputs"].items()}
        out[ids[old]] = {"class_type": node["class_type"], "inputs": inputs}
    return out
