"""Every example workflow opens and runs.

For each ``example_workflows/*.json`` (UI format, as the frontend saves it):
* it uses only stock nodes and ours, and has a same-name thumbnail;
* the project's converter (ui_to_api.py) gives exactly the frontend's own API conversion (the
  twin saved by build_example_workflows.py);
* the converted graph is validated and executed by ComfyUI's executor with the small test models
  substituted: loader file names are swapped for generated files, steps are cut to 6, drag points
  are scaled to the 64 px test image, and -- the one structural change -- the Flux text encoders
  are replaced by a seeded conditioning node (T5-XXL has a fixed 4.7 B-parameter config);
* it opens in the real frontend (headless Chromium) with every node type known, no missing-node
  notice, the drag editor attached to every Drag Points node, and no console or page error that is
  ours or not known to be the stock frontend's (frontend_checks.py).

The demo workflows (``demo_*.json``) need no model file: they execute exactly as saved, with the
pack's demo scene model and every step (nothing substituted; test_demo_workflows.py judges their
outputs).
"""

import hashlib
import importlib.util
import json
import re

import pytest
import torch
from comfy_env import PACK_IDS, ROOT, build_model, fill_, open_page, tiny_flux
from example_graphs import LOADERS, LORA_PLACEHOLDER
from frontend_checks import check
from ui_to_api import convert
from zoo import TEXT_WIDTH

WORKFLOWS = sorted((ROOT / "example_workflows").glob("*.json"))
FAMILY_WORKFLOWS = ("z_image_turbo_sync_sde_edit", "flux2_klein_sync_sde_edit", "qwen_image_edit_2511_sync_sde_edit",
                    "wan22_5b_sync_sde_video_edit")
# base model on the source branch, an instruction-edit model as Sync-SDE Edit's target_model
TARGET_MODEL_WORKFLOWS = ("qwen_image_edit_2511_target_model", "flux2_klein_target_model",
                          "flux1_kontext_target_model")
DEMOS = [w for w in WORKFLOWS if w.stem.startswith("demo_")]
MODEL_FILE_WORKFLOWS = [w for w in WORKFLOWS if w not in DEMOS]  # Flux, SD1.5: run with the test models
TWINS = ROOT / "tests" / "integration" / "workflow_api"
FRONTEND_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
FLUX_MIN = dict(hidden_size=3072, num_heads=24, depth=1, depth_single_blocks=0)
STEPS = 6


def missing_family(comfy, stem: str) -> str:
    """Why this ComfyUI cannot run the workflow ``stem`` (its model family's classes or nodes are absent,
    so its widgets are not this ComfyUI's either), or ""."""
    sup = comfy.supported
    if stem == "z_image_turbo_sync_sde_edit" and not hasattr(sup, "ZImage"):
        return "this ComfyUI has no Z-Image (comfy.supported_models.ZImage; added after 0.3.64)"
    if stem in ("flux2_klein_sync_sde_edit", "flux2_klein_target_model") and not hasattr(sup, "Flux2"):
        return "this ComfyUI has no Flux.2 (comfy.supported_models.Flux2; added after 0.3.64)"
    if stem in ("qwen_image_edit_2511_sync_sde_edit", "qwen_image_edit_2511_target_model"):
        spec = comfy.N["FluxKontextMultiReferenceLatentMethod"].INPUT_TYPES()["required"]["reference_latents_method"]
        options = spec[0] if isinstance(spec[0], list) else spec[1].get("options", [])
        if "index_timestep_zero" not in options:
            return ("this ComfyUI's FluxKontextMultiReferenceLatentMethod has no index_timestep_zero (Qwen-Image-Edit "
                    "2511's reference method, added after 0.3.64)")
    if stem == "wan22_5b_sync_sde_video_edit" and importlib.util.find_spec("comfy.taesd.taehv") is None:
        return ("this ComfyUI's VAELoader loads no Wan 2.2 VAE smaller than the real 160-wide one (no TAEHV, "
                "comfy.taesd.taehv; added after 0.3.64)")
    return ""


def test_there_are_example_workflows():
    names = {w.stem for w in WORKFLOWS}
    assert set(FAMILY_WORKFLOWS) <= names
    assert set(TARGET_MODEL_WORKFLOWS) <= names
    assert {"flux_sync_sde_edit", "sd15_cycle_sde_reconstruct_and_edit", "sd15_one_inversion_three_edits",
            "sd15_masked_local_edit", "sd15_sde_drag", "flux_sde_drag", "sd15_sync_sde_lora_controlnet",
            "flux_flowedit_vs_sync_sde"} <= names
    assert {"demo_sync_sde_edit", "demo_one_inversion_three_edits", "demo_cycle_sde_reconstruct_and_edit",
            "demo_masked_edit", "demo_sde_drag", "demo_flowedit_vs_sync_sde", "demo_localized_edit",
            "demo_region_drag"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_stock_nodes_and_ours_only_and_converter_matches_the_frontend(comfy, path):
    why = missing_family(comfy, path.stem)
    if why:
        pytest.skip(why)
    ui = json.loads(path.read_text())
    assert path.with_suffix(".png").is_file(), "thumbnail missing"
    stock = {k for k in comfy.N if not k.startswith("CoupledSDE_")}
    for node in ui["nodes"]:
        assert node["type"] in stock | set(PACK_IDS) | FRONTEND_ONLY, node["type"]
    api = convert(ui, lambda t: comfy.N[t].INPUT_TYPES())
    twin = json.loads((TWINS / path.name).read_text())
    assert {k: (v["class_type"], v["inputs"]) for k, v in api.items()} == \
        {k: (v["class_type"], v["inputs"]) for k, v in twin.items()}


@pytest.mark.parametrize("path", MODEL_FILE_WORKFLOWS, ids=lambda p: p.stem)
def test_every_model_file_has_its_download(comfy, path):
    """Each file a loader names is in that node's properties.models (ComfyUI's template format:
    name, https URL, models folder), so the frontend's Missing Models panel offers its download;
    only the user's own LoRA (a placeholder name) has none."""
    why = missing_family(comfy, path.stem)
    if why:
        pytest.skip(why)
    ui = json.loads(path.read_text())
    api = convert(ui, lambda t: comfy.N[t].INPUT_TYPES())
    nodes = {str(n["id"]): n for n in ui["nodes"]}
    loaders = 0
    for node_id, node in api.items():
        for name, folder in LOADERS.get(node["class_type"], {}).items():
            value = node["inputs"][name]
            loaders += 1
            entries = [m for m in nodes[node_id].get("properties", {}).get("models", []) if m["name"] == value]
            if value == LORA_PLACEHOLDER:
                assert not entries, (node_id, value)
                continue
            assert len(entries) == 1, (node["class_type"], node_id, value, nodes[node_id].get("properties"))
            assert entries[0]["url"].startswith("https://") and entries[0]["url"].split("?")[0].endswith(
                "." + value.rsplit(".", 1)[-1]), entries[0]
            assert entries[0]["directory"] == folder, (value, entries[0])
    assert loaders, "no loader node"


# ---- execution with the test models ----------------------------------------------------------

class FluxTextForTests:
    """Stands in for CLIPTextEncode on Flux's DualCLIPLoader: seeded (1, 8, 4096) conditioning."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"multiline": True})}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "encode"
    CATEGORY = "testing"

    def encode(self, text):
        g = torch.Generator().manual_seed(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16))
        return ([[torch.randn(1, 8, 4096, generator=g), {"pooled_output": torch.randn(1, 768, generator=g)}]],)


def _seeded(text: str) -> torch.Generator:
    return torch.Generator().manual_seed(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16))


class TextStandIn:
    """Stands in for CLIPTextEncode on a CLIPLoader whose text encoder cannot be made small (Qwen3-4B,
    Qwen2.5-VL 7B, UMT5-XXL): seeded (1, 8, width) conditioning, width = the model's context width."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"multiline": True}), "width": ("INT", {"default": 4096})}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "encode"
    CATEGORY = "testing"

    def encode(self, text, width):
        return ([[torch.randn(1, 8, width, generator=_seeded(text)), {}]],)


class QwenEditTextStandIn:
    """Stands in for TextEncodeQwenImageEditPlus (Qwen2.5-VL 7B cannot be made small): seeded (1, 8, 3584)
    conditioning with the node's own reference latent, image1 encoded by the VAE, at the image's size
    (the real node encodes it at 1 megapixel)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"prompt": ("STRING", {"multiline": True})},
                "optional": {"vae": ("VAE",), "image1": ("IMAGE",)}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "encode"
    CATEGORY = "testing"

    def encode(self, prompt, vae=None, image1=None):
        extra = {"reference_latents": [vae.encode(image1[:, :, :, :3])]} if vae is not None else {}
        return ([[torch.randn(1, 8, 3584, generator=_seeded(prompt)), extra]],)


STAND_IN_MODELS = {}  # name -> MODEL: the families built from ComfyUI's classes (zoo.py)


class ModelStandIn:
    """Stands in for UNETLoader where detection fixes a width too big for the tests (zoo.py): the tiny
    model of that family, built from ComfyUI's own classes."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"name": (sorted(STAND_IN_MODELS) or [""],)}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "load"
    CATEGORY = "testing"

    def load(self, name):
        return (STAND_IN_MODELS[name],)


# the workflows' model files -> the test file, or the stand-in model (zoo.py), of the same family; a base
# model and an edit model of one family (the target_model workflows) are two tiny models of it, seeded apart
UNET_STAND_INS = {"z_image_turbo_bf16.safetensors": "z_image", "flux-2-klein-4b-fp8.safetensors": "flux2_klein",
                  "qwen_image_edit_2511_fp8mixed.safetensors": "qwen_image",
                  "qwen_image_2512_fp8_e4m3fn.safetensors": "qwen_image_base",
                  "flux-2-klein-base-4b-fp8.safetensors": "flux2_klein_base"}


@pytest.fixture(scope="module")
def files(comfy, model_dir, sd15, sd15_file, sd15_lora, sd15_controlnet, workflow_files, tmp_path_factory):
    """Checkpoint, Flux and VAE files for the substitution, and the test image."""
    from comfy.taesd.taesd import TAESD
    from PIL import Image, ImageDraw
    from safetensors.torch import load_file, save_file

    (model_dir / "checkpoints").mkdir(exist_ok=True)
    comfy.folder_paths.add_model_folder_path("checkpoints", str(model_dir / "checkpoints"), is_default=True)
    # SD1.5 checkpoint: the UNet, CLIP-L and a TAESD VAE under the checkpoint prefixes
    ckpt = {"model.diffusion_model." + k: v.to(torch.float16) for k, v in
            sd15.model.diffusion_model.state_dict().items()}
    for k, v in load_file(str(model_dir / "text_encoders" / workflow_files["clip"])).items():
        ckpt["cond_stage_model.transformer." + k] = v
    for k, v in load_file(str(model_dir / "vae" / workflow_files["vae"])).items():
        ckpt["first_stage_model." + k] = v
    save_file({k: v.contiguous() for k, v in ckpt.items()}, str(model_dir / "checkpoints" / "tiny_sd15.safetensors"))
    del ckpt
    save_file({k: v.contiguous() for k, v in fill_(TAESD(latent_channels=16), 6, 0.05).state_dict().items()},
              str(model_dir / "vae" / "tiny_taef1.safetensors"))
    net = build_model(comfy, comfy.supported.Flux, tiny_flux(comfy, **FLUX_MIN), seed=8).model.diffusion_model
    save_file({k: v.to(torch.bfloat16).contiguous() for k, v in net.state_dict().items()},
              str(model_dir / "diffusion_models" / "flux_min.safetensors"))
    del net
    # Flux.1 Kontext dev: the same architecture (ComfyUI detects it as Flux), seeded apart from flux_min
    net = build_model(comfy, comfy.supported.Flux, tiny_flux(comfy, **FLUX_MIN), seed=9).model.diffusion_model
    save_file({k: v.to(torch.bfloat16).contiguous() for k, v in net.state_dict().items()},
              str(model_dir / "diffusion_models" / "flux_min_kontext.safetensors"))
    del net
    inp = tmp_path_factory.mktemp("input")
    img = Image.new("RGBA", (64, 64), (40, 60, 90, 255))
    ImageDraw.Draw(img).ellipse((10, 10, 34, 34), fill=(230, 180, 40, 255))
    ImageDraw.Draw(img).rectangle((36, 36, 60, 60), fill=(0, 0, 0, 0))  # painted (transparent) = mask 1
    img.save(inp / "coupled_test.png")
    comfy.folder_paths.set_input_directory(str(inp))
    comfy.folder_paths.set_output_directory(str(tmp_path_factory.mktemp("output")))
    comfy.nodes.NODE_CLASS_MAPPINGS.setdefault("CoupledSDETest_FluxText", FluxTextForTests)
    # the families of late 2026 (zoo.py), where this ComfyUI has them
    import zoo

    for name, build in (("z_image", zoo.z_image), ("flux2_klein", zoo.flux2_klein), ("qwen_image", zoo.qwen_image),
                        ("qwen_image_base", lambda c: zoo.qwen_image(c, seed=26)),
                        ("flux2_klein_base", lambda c: zoo.flux2_klein(c, seed=51))):
        model = build(comfy)
        if model is not None:
            STAND_IN_MODELS[name] = model
    comfy.nodes.NODE_CLASS_MAPPINGS.setdefault("CoupledSDETest_Text", TextStandIn)
    comfy.nodes.NODE_CLASS_MAPPINGS.setdefault("CoupledSDETest_QwenEditText", QwenEditTextStandIn)
    comfy.nodes.NODE_CLASS_MAPPINGS.setdefault("CoupledSDETest_Model", ModelStandIn)
    vaes = {"ae.safetensors": "tiny_taef1.safetensors", "qwen_image_vae.safetensors": zoo.wan21_vae_file(model_dir)}
    if "Flux2" in dir(comfy.supported):
        vaes["flux2-vae.safetensors"] = zoo.flux2_vae_file(model_dir)
    taew22 = zoo.taew22_file(model_dir)
    if taew22 is not None:
        vaes["wan2.2_vae.safetensors"] = taew22
    unets = {"flux1-dev.safetensors": "flux_min.safetensors",
             "flux1-dev-kontext_fp8_scaled.safetensors": "flux_min_kontext.safetensors",
             "wan2.2_ti2v_5B_fp16.safetensors": zoo.wan22_5b_file(comfy, model_dir)}
    # a 5-frame 64x64 video (1 + 4 frames: Wan's VAEs encode 1 + 4k)
    import av

    with av.open(str(inp / "coupled_test.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for k in range(5):
            frame = Image.new("RGB", (64, 64), (40, 60, 90))
            ImageDraw.Draw(frame).ellipse((10 + 4 * k, 10, 34 + 4 * k, 34), fill=(230, 180, 40))
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return {"ckpt": "tiny_sd15.safetensors", "unets": unets, "vaes": vaes,
            "lora": workflow_files["lora"], "cn": "tiny_sd15_cn.safetensors", "image": "coupled_test.png",
            "video": "coupled_test.mp4"}


def substitute(api: dict, f: dict) -> dict:
    g = json.loads(json.dumps(api))
    dual = {k for k, v in g.items() if v["class_type"] == "DualCLIPLoader"}
    # CLIPLoader's text encoders (Qwen3-4B, Qwen2.5-VL 7B, UMT5-XXL) have fixed configs: seeded stand-ins
    single = {k: v["inputs"]["type"] for k, v in g.items() if v["class_type"] == "CLIPLoader"}
    for k in (*dual, *single):
        del g[k]
    for node in g.values():
        t, i = node["class_type"], node["inputs"]
        clip = i["clip"][0] if isinstance(i.get("clip"), list) else None
        if t == "CLIPTextEncode" and clip in dual:
            node["class_type"], node["inputs"] = "CoupledSDETest_FluxText", {"text": i["text"]}
        elif t == "CLIPTextEncode" and clip in single:
            node["class_type"] = "CoupledSDETest_Text"
            node["inputs"] = {"text": i["text"], "width": TEXT_WIDTH[single[clip]]}
        elif t == "TextEncodeQwenImageEditPlus":
            node["class_type"] = "CoupledSDETest_QwenEditText"
            node["inputs"] = {k: v for k, v in i.items() if k in ("prompt", "vae", "image1")}
        elif t == "UNETLoader" and i["unet_name"] in UNET_STAND_INS:
            node["class_type"], node["inputs"] = "CoupledSDETest_Model", {"name": UNET_STAND_INS[i["unet_name"]]}
        elif t == "UNETLoader":
            i["unet_name"] = f["unets"][i["unet_name"]]
        elif t == "CheckpointLoaderSimple":
            i["ckpt_name"] = f["ckpt"]
        elif t == "VAELoader":
            i["vae_name"] = f["vaes"][i["vae_name"]]
        elif t == "LoadVideo":
            i["file"] = f["video"]
        elif t in ("LoraLoader", "LoraLoaderModelOnly"):
            i["lora_name"] = f["lora"]
        elif t == "ControlNetLoader":
            i["control_net_name"] = f["cn"]
        elif t == "LoadImage":
            i["image"] = f["image"]
        elif t == "BasicScheduler":
            i["steps"] = STEPS
        elif t == "CoupledSDE_SDEDrag":
            i["steps"] = STEPS
        elif t == "CoupledSDE_DragPoints":
            p = json.loads(i["points"])
            i["points"] = json.dumps({k: [[x * 64 // 512, y * 64 // 512] for x, y in v] for k, v in p.items()})
        if isinstance(i.get("start_step"), int):  # (wired from Edit Settings: the preset's own, 1 to 6)
            i["start_step"] = min(i["start_step"], 2)
    return g


@pytest.mark.parametrize("path", MODEL_FILE_WORKFLOWS, ids=lambda p: p.stem)
def test_example_workflow_executes(comfy, files, path):
    why = missing_family(comfy, path.stem)
    if why:
        pytest.skip(why)
    api = substitute(convert(json.loads(path.read_text()), lambda t: comfy.N[t].INPUT_TYPES()), files)
    ex = comfy.execute_prompt(api)
    errors = [m[1] for m in ex.status_messages if m[0] == "execution_error"]
    assert ex.success and not errors, errors[:1]
    assert sorted(comfy.saved_images(ex)) == sorted(k for k, v in api.items()
                                                   if v["class_type"] in ("SaveImage", "SaveWEBM"))


@pytest.mark.parametrize("path", DEMOS, ids=lambda p: p.stem)
def test_demo_workflow_executes_as_saved(comfy, tmp_path, path):
    """No substitution: the demo scene model, the saved steps, the saved drag points."""
    comfy.folder_paths.set_output_directory(str(tmp_path))
    api = convert(json.loads(path.read_text()), lambda t: comfy.N[t].INPUT_TYPES())
    assert "CoupledSDE_LoadDemoSceneModel" in {v["class_type"] for v in api.values()}
    ex = comfy.execute_prompt(api)
    errors = [m[1] for m in ex.status_messages if m[0] == "execution_error"]
    assert ex.success and not errors, errors[:1]
    saved = comfy.saved_images(ex)
    assert sorted(saved) == sorted(k for k, v in api.items() if v["class_type"] == "SaveImage")
    for files in saved.values():
        assert len(files) == 1 and files[0].is_file()


# the frontend's own missing-node notice: 1.27's dialog ("Some Nodes Are Missing ... the following
# node types were not found"), 1.49's errors panel ("Missing Node Packs") and toast ("Missing node: X")
MISSING_NODES = re.compile(r"Some Nodes Are Missing|node types were not found|Missing Node Packs|Missing nodes?\b",
                           re.I)


def missing_node_notice(page) -> list[str]:
    """What the frontend shows about missing nodes for the workflow just loaded. 1.49 lists a
    workflow's errors in a panel opened by its "N errors found" toast: opened here to read it."""
    details = page.get_by_text("View details", exact=True)
    if details.count() and details.first.is_visible():
        details.first.click()
        page.wait_for_timeout(500)
    return MISSING_NODES.findall(page.evaluate("() => document.body.innerText"))


def load(page, ui: dict) -> dict:
    page.evaluate("(wf) => window.app.loadGraphData(wf)", ui)
    page.wait_for_timeout(1500)
    state = page.evaluate("""() => ({
        unknown: window.app.graph._nodes.filter(n => !LiteGraph.registered_node_types[n.type]).map(n => n.type),
        n: window.app.graph._nodes.length,
        editors: window.app.graph._nodes.filter(n => n.comfyClass === 'CoupledSDE_DragPoints')
            .map(n => !!n.coupledSdeDragEditor),
        // warnings and errors the frontend shows as toasts, e.g. 1.27's "Invalid workflow against
        // zod schema" alert for a file that is not what its "Save" writes
        toasts: [...document.querySelectorAll('.p-toast-message-warn, .p-toast-message-error')]
            .map(e => e.innerText.slice(0, 2000))})""")
    page.evaluate("() => document.querySelectorAll('.p-toast-message .p-toast-close-button').forEach(b => b.click())")
    state["notice"] = missing_node_notice(page)
    page.keyboard.press("Escape")  # close the missing-models notice (the real checkpoints are absent)
    page.wait_for_timeout(300)
    return state


def test_example_workflows_open_in_the_frontend_without_missing_nodes(frontend):
    from playwright.sync_api import sync_playwright

    url, _ = frontend
    with sync_playwright() as pw:
        browser, page = open_page(pw, url)
        version = page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__")
        startup = list(page.problems)
        # the probe sees a missing node on this frontend (else its silence below would mean nothing)
        bogus = json.loads(WORKFLOWS[0].read_text())
        bogus["nodes"][0]["type"] = "NoSuchNodeForTheProbe"
        control = load(page, bogus)
        assert control["unknown"] == ["NoSuchNodeForTheProbe"] and control["notice"], (version, control)
        for path in WORKFLOWS:
            ui = json.loads(path.read_text())
            start = len(page.problems)
            state = load(page, ui)
            assert state["n"] == len(ui["nodes"]) and not state["unknown"] and not state["notice"], (path.name, state)
            assert not state["toasts"], (path.name, state["toasts"])
            assert all(state["editors"]), (path.name, "the drag editor did not attach", state)
            check(page.problems[start:], f"frontend {version}, {path.name}")
        (ROOT / "benchmarks" / "out").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ROOT / "benchmarks" / "out" / f"example_workflow_{version}.png"))
        browser.close()
    check(startup, f"frontend {version}, start-up")
