"""Integration fixtures: a real ComfyUI (skipped with one line when none is found) and small
real-architecture models. See comfy_env.py for how ComfyUI is found."""

from pathlib import Path

import pytest
import torch
from comfy_env import PACK_IDS, SD15_UNET, Comfy, build_model, chromium, comfy_server, fill_, find_comfyui, tiny_flux

COMFYUI_PATH, WHY_NOT = find_comfyui()
if COMFYUI_PATH is None:
    # only test_environment.py is collected; its test reports the one skip line
    collect_ignore = [p.name for p in Path(__file__).parent.glob("test_*.py") if p.name != "test_environment.py"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def comfy():
    if COMFYUI_PATH is None:
        pytest.skip(WHY_NOT)
    c = Comfy(COMFYUI_PATH)
    missing = [i for i in PACK_IDS if i not in c.N]
    assert c.pack_loaded and not missing, f"ComfyUI did not register {missing} (see IMPORT FAILED in the log)"
    return c


@pytest.fixture(scope="session")
def model_dir(comfy, tmp_path_factory):
    """A models folder registered with ComfyUI's folder_paths (the stock loaders read it)."""
    root = tmp_path_factory.mktemp("models")
    for kind in ("diffusion_models", "loras", "controlnet", "text_encoders", "vae"):
        (root / kind).mkdir()
        comfy.folder_paths.add_model_folder_path(kind, str(root / kind), is_default=True)
    return root


@pytest.fixture(scope="session")
def flux(comfy):
    """A Flux-architecture MODEL (comfy.model_base.Flux, hidden 128, 1.6 M params)."""
    return build_model(comfy, comfy.supported.Flux, tiny_flux(comfy), seed=0)


class Conds:
    """Seeded conditioning tensors (text encoders cannot be made small)."""

    def __init__(self, seed=1):
        self.g = torch.Generator().manual_seed(seed)

    def flux(self, batch=1, guidance=3.5, tokens=8):
        return [[torch.randn(batch, tokens, 4096, generator=self.g),
                 {"pooled_output": torch.randn(batch, 768, generator=self.g), "guidance": guidance}]]

    def sd(self, batch=1):
        return [[torch.randn(batch, 77, 768, generator=self.g), {}]]

    def latent(self, *shape):
        return {"samples": torch.randn(*shape, generator=self.g)}


@pytest.fixture
def conds():
    return Conds()


@pytest.fixture(scope="session")
def sd15_file(comfy, model_dir):
    """An SD1.5 UNet written as a diffusion-model safetensors file (fp16)."""
    from safetensors.torch import save_file

    net = build_model(comfy, comfy.supported.SD15, SD15_UNET, seed=5).model.diffusion_model
    save_file({k: v.to(torch.float16).contiguous() for k, v in net.state_dict().items()},
              str(model_dir / "diffusion_models" / "tiny_sd15_unet.safetensors"))
    return "tiny_sd15_unet.safetensors"


@pytest.fixture(scope="session")
def sd15(comfy, sd15_file):
    """The SD1.5 UNet loaded by the stock UNETLoader (detected as SD15, EPS => VE family)."""
    (model,) = comfy.stock("UNETLoader", "load_unet", sd15_file, "default")
    assert type(model.model.model_config).__name__ == "SD15"
    return model


@pytest.fixture(scope="session")
def sd15_lora(comfy, model_dir, sd15):
    """A LoRA (diffusion_model.*.lora_up/down) on every attention q/k projection of the UNet."""
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(7)
    lora = {}
    for k, w in sd15.model.diffusion_model.state_dict().items():
        if k.endswith(("attn1.to_q.weight", "attn2.to_k.weight", "attn1.to_v.weight")):
            base = "diffusion_model." + k[: -len(".weight")]
            lora[base + ".lora_up.weight"] = torch.randn(w.shape[0], 4, generator=g) * 0.5
            lora[base + ".lora_down.weight"] = torch.randn(4, w.shape[1], generator=g) * 0.5
    save_file(lora, str(model_dir / "loras" / "tiny_sd15_lora.safetensors"))
    return "tiny_sd15_lora.safetensors"


@pytest.fixture(scope="session")
def sd15_controlnet(comfy, model_dir):
    """An SD1.5 ControlNet (control_model.* keys) matching the UNet, loaded by ControlNetLoader."""
    from comfy.cldm.cldm import ControlNet
    from comfy.ops import disable_weight_init
    from safetensors.torch import save_file

    cfg = dict(SD15_UNET)
    cfg.pop("out_channels")
    cn = fill_(ControlNet(hint_channels=3, operations=disable_weight_init,
                                          dtype=torch.float32, device="cpu", **cfg), seed=9, scale=0.05)
    save_file({"control_model." + k: v.to(torch.float16).contiguous() for k, v in cn.state_dict().items()},
              str(model_dir / "controlnet" / "tiny_sd15_cn.safetensors"))
    (cnet,) = comfy.stock("ControlNetLoader", "load_controlnet", "tiny_sd15_cn.safetensors")
    return cnet


@pytest.fixture(scope="session")
def workflow_files(comfy, model_dir, sd15_file, sd15_lora):
    """Text encoder and VAE files for a stock SD1.5 graph: a random full-size CLIP-L (its config is
    fixed; 124 M params) and a random TAESD-format VAE (VAELoader detects taesd_* keys)."""
    from comfy.sd1_clip import SDClipModel
    from comfy.taesd.taesd import TAESD
    from safetensors.torch import save_file

    clip = fill_(SDClipModel(device="cpu", dtype=torch.float32).transformer, seed=3)
    save_file({k: v.to(torch.float16).contiguous() for k, v in clip.state_dict().items()},
              str(model_dir / "text_encoders" / "tiny_clip_l.safetensors"))
    del clip
    vae = fill_(TAESD(), seed=4, scale=0.05)
    save_file({k: v.contiguous() for k, v in vae.state_dict().items()},
              str(model_dir / "vae" / "tiny_taesd.safetensors"))
    return {"unet": sd15_file, "lora": sd15_lora, "clip": "tiny_clip_l.safetensors", "vae": "tiny_taesd.safetensors"}


@pytest.fixture(scope="session")
def frontend(comfy, model_dir, workflow_files, tmp_path_factory):
    """A real ComfyUI server with its real frontend, for headless Chromium; yields (url, folder)."""
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[browser]')")
    if chromium() is None:
        pytest.skip("no Chromium found (apt install chromium)")
    from PIL import Image, ImageDraw

    tmp = tmp_path_factory.mktemp("server")
    (tmp / "input").mkdir()
    img = Image.new("RGB", (256, 256), (40, 60, 90))
    ImageDraw.Draw(img).ellipse((40, 40, 110, 110), fill=(230, 180, 40))
    img.save(tmp / "input" / "drag_test.png")
    with comfy_server(comfy, model_dir, tmp) as url:
        yield url, tmp


# ---- the model zoo (tests/integration/zoo.py): SDXL, SD2.x-v, SD3.5, Qwen-Image, Wan 2.1 ----------

def _zoo_model(builder: str, doc: str, needs_files: bool = True):
    """A session fixture returning ``zoo.<builder>(comfy[, model_dir])``."""

    @pytest.fixture(scope="session")
    def fixture(comfy, model_dir):
        import zoo

        build = getattr(zoo, builder)
        return build(comfy, model_dir) if needs_files else build(comfy)

    fixture.__doc__ = doc
    return fixture


zoo_sdxl = _zoo_model("sdxl", "An SDXL UNet file through the stock UNETLoader (detected as SDXL; EPS => VE family).")
zoo_sd2_v = _zoo_model("sd2_v", "An SD2.x UNet file through the stock UNETLoader, detected as SD20 with V_PREDICTION.")
zoo_sd35 = _zoo_model("sd35", "An SD3.5 MMDiT file through the stock UNETLoader (detected as SD3; CONST => flow).")
zoo_wan21 = _zoo_model("wan21", "A Wan 2.1 T2V file through the stock UNETLoader (WAN21_T2V; video latents "
                                "(B, 16, T, H, W)).")
zoo_qwen_image = _zoo_model("qwen_image", "A Qwen-Image MODEL built from ComfyUI's classes (its width cannot be "
                                          "small through detection); latents (B, 16, 1, H, W).", needs_files=False)
