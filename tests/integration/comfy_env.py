"""Find and boot a real ComfyUI for the integration tests, and make small real-architecture models.

ComfyUI is found through ``COMFYUI_PATH``, or because this pack sits in
``<ComfyUI>/custom_nodes/<pack>``, or as a ``ComfyUI`` checkout next to this repository.
Nothing of ComfyUI is copied here; the models are ComfyUI's own classes with small configs and
seeded random weights (ComfyUI's ops skip weight initialisation, so every weight is filled).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
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
    "CoupledSDE_EditSettings",
    "CoupledSDE_DragSettings",
    "CoupledSDE_EditDifference",
    "CoupledSDE_EditBlend",
    "CoupledSDE_LoadDemoSceneModel",
)


def _is_comfyui(path: Path) -> bool:
    return (path / "comfy" / "samplers.py").is_file() and (path / "nodes.py").is_file()


def comfyui_version(path: Path) -> str:
    """The ``__version__`` of a checkout's ``comfyui_version.py`` (read, not imported)."""
    text = (path / "comfyui_version.py").read_text() if (path / "comfyui_version.py").is_file() else ""
    for line in text.splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"


def comfyui_candidates() -> list[Path]:
    """Every place a ComfyUI checkout is looked for, in order: each entry of ``COMFYUI_PATH``
    (``os.pathsep``-separated), the ComfyUI this pack sits in (``<ComfyUI>/custom_nodes/<pack>``),
    ``ComfyUI*`` folders next to this repository, and comfy-cli's default workspace
    ``~/comfy/ComfyUI`` with its ``~/comfy/ComfyUI*`` siblings."""
    out = [Path(p).expanduser() for p in os.environ.get("COMFYUI_PATH", "").split(os.pathsep) if p]
    if ROOT.parent.name == "custom_nodes":
        out.append(ROOT.parent.parent)
    out += sorted(ROOT.parent.glob("ComfyUI*"))
    out += sorted(Path("~/comfy").expanduser().glob("ComfyUI*"))
    return out


def find_comfyuis() -> list[Path]:
    """Every ComfyUI checkout found (see :func:`comfyui_candidates`), each once."""
    found: list[Path] = []
    for p in comfyui_candidates():
        p = p.resolve()
        if _is_comfyui(p) and p not in found:
            found.append(p)
    return found


def find_comfyui() -> tuple[Optional[Path], str]:
    """The ComfyUI this pytest process imports: ``(path, "")`` or ``(None, why)``.

    One ComfyUI per process (it is imported in-process): the first of :func:`find_comfyuis`.
    ``tests/run_suites.py`` runs the suite once per checkout, each with ``COMFYUI_PATH`` set to it.
    """
    env = os.environ.get("COMFYUI_PATH")
    if env:
        bad = [e for e in env.split(os.pathsep) if e and not _is_comfyui(Path(e).expanduser())]
        if bad:
            return None, f"COMFYUI_PATH entry {bad[0]} is not a ComfyUI checkout"
    found = find_comfyuis()
    if found:
        return found[0], ""
    return None, ("ComfyUI not found: set COMFYUI_PATH to a ComfyUI checkout (or put this pack in "
                  "ComfyUI/custom_nodes/, or use comfy-cli's ~/comfy/ComfyUI) to run the integration tests")


class Comfy:
    """The booted ComfyUI: its modules, and the node classes as ComfyUI registered them."""

    def __init__(self, path: Path):
        self.path = path
        sys.path.insert(0, str(path))
        # `python -m pytest` puts the repository root (which has a `nodes/` package) on sys.path
        stale = sys.modules.get("nodes")
        if stale is not None and not str(getattr(stale, "__file__", "")).startswith(str(path)):
            del sys.modules["nodes"]
        # torchvision / torchaudio stand-ins (tests/stubs) only for what is not installed: appended
        # after site-packages, so a real package always wins
        self.standins = [m for m in ("torchvision", "torchaudio") if importlib.util.find_spec(m) is None]
        if self.standins:
            sys.path.append(str(STUBS))
        self.torchvision = "installed" if "torchvision" not in self.standins else "stand-in (tests/stubs/torchvision)"
        from comfy.cli_args import args

        args.cpu = os.environ.get("COMFYUI_TEST_GPU", "") != "1"
        # ComfyUI's own `utils` package first, before nodes.py's imports shadow it: order matters here
        import utils.extra_config  # noqa: F401, I001
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

    def executor(self):
        """A ``PromptExecutor`` with the classic cache, built as each version's ``main.py`` builds one
        (0.33+ takes ``cache_args`` and reads its ``ram`` entry; 0.3.64 takes ``cache_size``)."""
        import inspect

        params = inspect.signature(self.execution.PromptExecutor).parameters
        extra = {"cache_args": {"lru": 0, "ram": 0, "ram_inactive": 0}} if "cache_args" in params else {}
        return self.execution.PromptExecutor(self.server.PromptServer.instance, cache_type=False, **extra)

    def execute_prompt(self, prompt: dict):
        """An API-format ``prompt`` through ``validate_prompt`` + ``PromptExecutor``, as the server's
        prompt worker runs a queued prompt. Returns the executor (``success``, ``status_messages``,
        ``history_result["outputs"]``: what each output node saved); an invalid prompt raises
        ``AssertionError`` with ComfyUI's errors."""
        import uuid

        if getattr(self.server.PromptServer, "instance", None) is None:
            self.server.PromptServer(asyncio.new_event_loop())
        pid = str(uuid.uuid4())
        valid, error, outputs, node_errors = asyncio.run(self.execution.validate_prompt(pid, prompt, None))
        assert valid and not node_errors, (error, node_errors)
        executor = self.executor()
        asyncio.run(executor.execute_async(prompt, pid, {}, outputs))
        return executor

    def saved_images(self, executor) -> dict:
        """``{node id: [Path, ...]}``: the files each output node of the last run wrote to the output folder."""
        out = {}
        for node_id, ui in executor.history_result["outputs"].items():
            files = [Path(self.folder_paths.get_output_directory()) / i.get("subfolder", "") / i["filename"]
                     for i in ui.get("images", []) if i.get("type") == "output"]
            if files:
                out[node_id] = files
        return out

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

def tiny_flux(comfy, **overrides) -> dict:
    """TINY_FLUX (with ``overrides``) plus the FluxParams fields this ComfyUI requires that older ones
    lack, set as its own Flux.1 detection sets them (0.33+: ``txt_ids_dims = []``)."""
    import dataclasses

    from comfy.ldm.flux.model import FluxParams

    cfg = dict(TINY_FLUX, **overrides)
    if "txt_ids_dims" in {f.name for f in dataclasses.fields(FluxParams)}:
        cfg.setdefault("txt_ids_dims", [])
    return cfg


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


def queue_and_wait(page, url: str, timeout_s: float = 300) -> tuple[dict, float]:
    """Queue the graph on the page as its Run button does; wait for its history entry. Returns
    the entry and the wall time from queueing to completion. The run must succeed."""
    before = set(get(url + "/history") or {})
    t = time.perf_counter()
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    deadline = time.time() + timeout_s
    entry = None
    while time.time() < deadline:
        new = {k: v for k, v in (get(url + "/history") or {}).items() if k not in before}
        if new:
            entry = next(iter(new.values()))
            status = entry.get("status", {})
            if status.get("completed") or status.get("status_str") == "error":
                break
        page.wait_for_timeout(500)  # (not time.sleep: the page's events keep flowing)
    seconds = time.perf_counter() - t
    assert entry is not None, "the prompt never reached the history"
    status = entry["status"]
    assert status["status_str"] == "success" and status["completed"], json.dumps(status)[:3000]
    return entry, seconds


@contextlib.contextmanager
def comfy_server(comfy: Comfy, model_dir: Path, tmp: Path):
    """``python main.py --cpu --listen 127.0.0.1`` with this pack (copied into a custom_nodes
    folder: aiohttp's static routes refuse symlinks leaving their root), the test models and
    throw-away input/output/user folders; yields the base URL and stops the process it started."""
    (tmp / "custom_nodes").mkdir()

    def not_shipped(folder, names):
        # the repository's own tests/benchmarks/docs, but not web/docs (the help pages it serves)
        top = Path(folder).resolve() == ROOT
        return [n for n in names if n in (".git", "__pycache__") or n.endswith(".egg-info")
                or (top and n in ("tests", "benchmarks", "docs"))]

    shutil.copytree(ROOT, tmp / "custom_nodes" / "ComfyUI-CoupledSDE", ignore=not_shipped)
    # workflows/ and subgraphs/ as a user who has saved once has them (else the frontend's listing 404s)
    for d in ("input", "output", "temp", "user/default/workflows", "user/default/subgraphs"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    # the input image a fresh ComfyUI has, which the example workflows' Load Image nodes name
    if (comfy.path / "input" / "example.png").is_file() and not (tmp / "input" / "example.png").exists():
        shutil.copy(comfy.path / "input" / "example.png", tmp / "input" / "example.png")
    # A returning user of the frontend this interpreter serves (the server runs on sys.executable):
    # no first-run tutorial template and no what's-new notice over the canvas, and the frontend's
    # defaults for an install of its own version. Read, not assumed: each ComfyUI pins its own.
    probe = subprocess.run([sys.executable, "-c", "import importlib.metadata as m; "
                            "print(m.version('comfyui-frontend-package'))"], capture_output=True, text=True)
    settings = {"Comfy.TutorialCompleted": True}
    if probe.returncode == 0 and probe.stdout.strip():
        settings["Comfy.InstalledVersion"] = probe.stdout.strip()
    # The two settings Comfy.Canvas.NavigationMode ("legacy", the default) sets, at their default
    # values: frontend 1.27.x's NavigationMode.onChange stores them while they are not registered
    # yet and throws `Cannot read properties of undefined (reading 'id')` on every page load
    # (fixed in later frontends); stored already, nothing changes and nothing throws.
    settings.update({"Comfy.Canvas.LeftMouseClickBehavior": "panning", "Comfy.Canvas.MouseWheelScroll": "zoom"})
    (tmp / "user" / "default" / "comfy.settings.json").write_text(json.dumps(settings))
    kinds = ("checkpoints", "diffusion_models", "text_encoders", "vae", "loras", "controlnet")
    (tmp / "extra_model_paths.yaml").write_text(
        "coupled_sde_test:\n" + f"  base_path: {model_dir}\n" + "".join(f"  {k}: {k}\n" for k in kinds)
        + f"  custom_nodes: {tmp / 'custom_nodes'}\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ)
    # main.py with the stand-ins appended to sys.path (after site-packages), as in-process
    standins = f"sys.path.append({str(STUBS)!r}); " if comfy.standins else ""
    boot = ["-c", f"import runpy, sys; sys.argv[0] = 'main.py'; {standins}"
            "runpy.run_path('main.py', run_name='__main__')"]
    log_path = tmp / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, *boot, "--cpu", "--listen", "127.0.0.1", "--port", str(port),
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


def open_page(pw, url: str, settings: Optional[dict] = None):
    """A headless Chromium page on the frontend, with the app loaded and idle.

    ``settings`` override the server's user settings for this page only: the frontend's
    ``GET /api/settings`` is answered with them merged in, nothing is stored on the server.
    The page collects ``page.errors`` (uncaught exceptions, with their stacks), ``page.console``
    (every console message, with the URL it names) and ``page.problems``: every console error,
    page error and HTTP response of status 400 or more, each with its URL, so that a test can tell
    which are its own.
    """
    browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.errors, page.console, page.problems = [], [], []

    def on_error(e):
        text = e.stack or str(e)
        page.errors.append(text)
        page.problems.append("pageerror: " + text)

    def on_console(m):
        where = (m.location or {}).get("url") or ""
        text = f"{m.type}: {m.text}" + (f" ({where})" if where and where not in m.text else "")
        page.console.append(text)
        if m.type == "error":
            page.problems.append(text)

    page.on("pageerror", on_error)
    page.on("console", on_console)
    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"HTTP {r.status}: {r.url}"))
    if settings:
        def merged(route):
            response = route.fetch()
            route.fulfill(response=response, json={**(response.json() or {}), **settings})

        # a URL pattern, not a predicate: Playwright's driver matches it, so no other request waits
        # for this (sync, only sometimes listening) Python side
        page.route("**/api/settings", merged)
    page.goto(url)
    page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60000)
    page.wait_for_timeout(1500)  # let the start-up workflow finish loading before a test replaces it
    return browser, page
