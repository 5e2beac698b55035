"""Find and boot a real ComfyUI for the integration tests, and make small real-architecture models.

ComfyUI is found through ``COMFYUI_PATH``, or because this pack sits in
``<ComfyUI>/custom_nodes/<pack>``, or as a ``ComfyUI`` checkout next to this repository.
Nothing of ComfyUI is copied here; the models are ComfyUI's own classes with small configs and
seeded random weights (ComfyUI's ops skip weight initialisation, so every weight is filled).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
STUBS = ROOT / "tests" / "stubs"
PACK_IDS = (
    "CoupledSDE_ForwardNoising",
    "CoupledSDE_BackwardIncrements",
    "CoupledSDE_CoupledSampling",
    "CoupledSDE_CycleSDEInversion",
    "CoupledSDE_CycleSDESampling",
    "CoupledSDE_SyncSDEEdit",
    "CoupledSDE_DragPoints",
    "CoupledSDE_CopyPasteLatents",
    "CoupledSDE_SDEDrag",
    "CoupledSDE_FlowEdit",
)


def _is_comfyui(path: Path) -> bool:
    return (path / "comfy" / "samplers.py").is_file() and (path / "nodes.py").is_file()


def find_comfyui() -> tuple[Optional[Path], str]:
    """``(path, "")`` or ``(None, why)``."""
    env = os.environ.get("COMFYUI_PATH")
    if env:
        p = Path(env).expanduser().resolve()
        return (p, "") if _is_comfyui(p) else (None, f"COMFYUI_PATH={env} is not a ComfyUI checkout")
    candidates = [ROOT.parent.parent] if ROOT.parent.name == "custom_nodes" else []
    candidates.append(ROOT.parent / "ComfyUI")
    for p in candidates:
        if _is_comfyui(p):
            return p.resolve(), ""
    return None, ("ComfyUI not found: set COMFYUI_PATH to a ComfyUI checkout (or put this pack in "
                  "ComfyUI/custom_nodes/) to run the integration tests")


class Comfy:
    """The booted ComfyUI: its modules, and the node classes as ComfyUI registered them."""

    def __init__(self, path: Path):
        self.path = path
        sys.path.insert(0, str(path))
        # `python -m pytest` puts the repository root (which has a `nodes/` package) on sys.path
        stale = sys.modules.get("nodes")
        if stale is not None and not str(getattr(stale, "__file__", "")).startswith(str(path)):
            del sys.modules["nodes"]
        try:
            import torchvision  # noqa: F401
            self.torchvision = "installed"
        except ImportError:
            sys.path.insert(1, str(STUBS))
            self.torchvision = "stand-in (tests/stubs/torchvision)"
        from comfy.cli_args import args

        args.cpu = os.environ.get("COMFYUI_TEST_GPU", "") != "1"
        import utils.extra_config  # noqa: F401  (ComfyUI's own `utils` before nodes.py shadows it)
        import utils.install_util  # noqa: F401
        import comfy.model_management
        import comfy.model_patcher
        import comfy.sd
        import comfy.supported_models
        import comfy.utils
        import execution
        import folder_paths
        import nodes
        import server

        self.mm, self.model_patcher, self.sd, self.supported = (
            comfy.model_management, comfy.model_patcher, comfy.sd, comfy.supported_models)
        self.utils, self.execution, self.folder_paths, self.nodes, self.server = (
            comfy.utils, execution, folder_paths, nodes, server)
        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
        self.pack_loaded = asyncio.run(nodes.load_custom_node(str(ROOT), module_parent="custom_nodes"))
        self.N = nodes.NODE_CLASS_MAPPINGS

    def run(self, node_id: str, **inputs):
        """Execute one node the way the executor calls a V3 node; returns its outputs tuple."""
        import torch

        with torch.inference_mode():
            out = self.N[node_id].execute(**inputs)
        return out.result if hasattr(out, "result") else out

    def stock(self, node_id: str, method: str, *args):
        import torch

        with torch.inference_mode():
            out = getattr(self.N[node_id](), method)(*args)
        return out.result if hasattr(out, "result") else out


def fill_(module, seed: int, scale: float = 0.02):
    """Seeded random weights for every parameter (ComfyUI's ops leave them uninitialised)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return module


TINY_FLUX = dict(image_model="flux", in_channels=16, out_channels=16, vec_in_dim=768, context_in_dim=4096,
                 hidden_size=128, mlp_ratio=4.0, num_heads=1, depth=1, depth_single_blocks=1,
                 axes_dim=[16, 56, 56], theta=10000, patch_size=2, qkv_bias=True, guidance_embed=True)

# The smallest SD1.5 UNet ComfyUI's detection accepts (model_channels 320 and context 768 are
# fixed; depths and channel_mult are read from the keys): 44 M parameters.
SD15_UNET = dict(use_checkpoint=False, image_size=32, out_channels=4, use_spatial_transformer=True, legacy=False,
                 adm_in_channels=None, in_channels=4, model_channels=320, num_res_blocks=[1, 1],
                 transformer_depth=[1, 1], transformer_depth_output=[1, 1, 1, 1], channel_mult=[1, 1],
                 transformer_depth_middle=1, use_linear_in_transformer=False, context_dim=768, num_heads=8,
                 num_head_channels=-1, use_temporal_resblock=False, use_temporal_attention=False)


def build_model(comfy: Comfy, config_cls, unet_config: dict, seed: int, scale: float = 0.02):
    """A MODEL from ComfyUI's classes without checkpoint detection (what the loader builds)."""
    import torch

    cfg = config_cls(dict(unet_config))
    cfg.set_inference_dtype(torch.float32, None)
    model = cfg.get_model({}, "", device=None)
    fill_(model.diffusion_model, seed, scale)
    model = model.to(comfy.mm.unet_offload_device())
    return comfy.model_patcher.ModelPatcher(model, load_device=comfy.mm.get_torch_device(),
                                            offload_device=comfy.mm.unet_offload_device())


def stock_sd15_graph(files: dict, image: dict, prompts: dict) -> dict:
    """The stock front of an API-format SD1.5 graph: loaders ("1" UNETLoader, "2" CLIPLoader,
    "3" VAELoader), the image node "4", its VAEEncode "5", and one CLIPTextEncode per prompt
    (``{node id: text}``)."""
    g = {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": files["unet"], "weight_dtype": "default"}},
        "2": {"class_type": "CLIPLoader", "inputs": {"clip_name": files["clip"], "type": "stable_diffusion"}},
        "3": {"class_type": "VAELoader", "inputs": {"vae_name": files["vae"]}},
        "4": image,
        "5": {"class_type": "VAEEncode", "inputs": {"pixels": ["4", 0], "vae": ["3", 0]}},
    }
    for node_id, text in prompts.items():
        g[node_id] = {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["2", 0]}}
    return g


# ---- a real ComfyUI server on 127.0.0.1 with its real frontend ----------------------------------

def chromium() -> Optional[str]:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def get(url: str, timeout: float = 5):
    """GET ``url``: parsed JSON, or the raw bytes."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        body = r.read()
        return json.loads(body or b"null") if "json" in r.headers.get("Content-Type", "") else body


@contextlib.contextmanager
def comfy_server(comfy: Comfy, model_dir: Path, tmp: Path):
    """``python main.py --cpu --listen 127.0.0.1`` with this pack (copied into a custom_nodes
    folder: aiohttp's static routes refuse symlinks leaving their root), the test models and
    throw-away input/output/user folders; yields the base URL and stops the process it started."""
    (tmp / "custom_nodes").mkdir()
    shutil.copytree(ROOT, tmp / "custom_nodes" / "ComfyUI-CoupledSDE",
                    ignore=shutil.ignore_patterns(".git", "tests", "benchmarks", "docs", "__pycache__", "*.egg-info"))
    for d in ("input", "output", "temp", "user/default"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    # a returning user: no first-run tutorial template opening over the test's workflow
    (tmp / "user" / "default" / "comfy.settings.json").write_text(
        json.dumps({"Comfy.TutorialCompleted": True, "Comfy.InstalledVersion": "1.27.10"}))
    kinds = ("checkpoints", "diffusion_models", "text_encoders", "vae", "loras", "controlnet")
    (tmp / "extra_model_paths.yaml").write_text(
        "coupled_sde_test:\n" + f"  base_path: {model_dir}\n" + "".join(f"  {k}: {k}\n" for k in kinds)
        + f"  custom_nodes: {tmp / 'custom_nodes'}\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ)
    if comfy.torchvision.startswith("stand-in"):
        env["PYTHONPATH"] = os.pathsep.join([str(STUBS), env.get("PYTHONPATH", "")])
    log_path = tmp / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
             "--disable-auto-launch", "--extra-model-paths-config", str(tmp / "extra_model_paths.yaml"),
             "--input-directory", str(tmp / "input"), "--output-directory", str(tmp / "output"),
             "--temp-directory", str(tmp / "temp"), "--user-directory", str(tmp / "user")],
            cwd=str(comfy.path), env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(240):
                if proc.poll() is not None:
                    raise RuntimeError("ComfyUI exited: " + log_path.read_text()[-3000:])
                try:
                    get(url + "/system_stats")
                    break
                except OSError:
                    time.sleep(0.5)
            else:
                raise RuntimeError("ComfyUI did not start: " + log_path.read_text()[-3000:])
            missing = [i for i in PACK_IDS if i not in get(url + "/object_info")]
            assert not missing, f"server did not register {missing}: " + log_path.read_text()[-3000:]
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def open_page(pw, url: str):
    """A headless Chromium page on the frontend, with the app loaded and idle."""
    browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.errors, page.console = [], []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.console.append(f"{m.type}: {m.text}"))
    page.goto(url)
    page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60000)
    page.wait_for_timeout(1500)  # let the start-up workflow finish loading before a test replaces it
    return browser, page
