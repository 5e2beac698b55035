"""The package imports without ComfyUI and declares nothing that could make pip touch torch."""

import pathlib
import subprocess
import sys

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_sampling_imports_without_comfyui():
    code = (
        "import sys, comfyui_coupled_sde, comfyui_coupled_sde.sampling as s\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('comfy', 'comfy_api', 'nodes', 'folder_paths')]\n"
        "assert not bad, bad\n"
        "assert callable(comfyui_coupled_sde.comfy_entrypoint)\n"
        "print(len(s.__all__))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 20


def test_pyproject_has_no_runtime_dependencies_and_is_gpl():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = meta["project"]
    assert project["name"] == "coupled-sde"  # the registry id: permanent, no "ComfyUI" in it
    assert project["dependencies"] == []  # ComfyUI provides torch, numpy, einops, safetensors
    assert project["license"] == "GPL-3.0-only"
    assert "GNU GENERAL PUBLIC LICENSE" in (ROOT / "LICENSE").read_text()[:200]
    assert meta["tool"]["setuptools"]["package-dir"] == {"comfyui_coupled_sde": "."}


def test_only_the_bridge_knows_comfyui_internals():
    """Node schemas import comfy_api only; comfy.*, latent_preview and friends live in bridge.py, plus
    demo_bridge.py, which builds ComfyUI's own model objects (BaseModel, CLIP, VAE) around the demo
    network. The demo package (the network, the main-job command) never imports ComfyUI."""
    import ast

    internals = ("comfy", "comfy_extras", "latent_preview", "nodes", "folder_paths", "execution", "server")
    bridges = ("bridge.py", "demo_bridge.py")
    for path in sorted((ROOT / "nodes").glob("*.py")) + sorted((ROOT / "sampling").glob("*.py")) + \
            sorted((ROOT / "demo").glob("*.py")):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
        if not (path.parent.name == "nodes" and path.name in bridges):
            assert not imported & set(internals), (path.name, imported & set(internals))


def test_registry_metadata_is_complete():
    """[tool.comfy] as the Comfy Registry and ComfyUI's own comfy_config parser read it."""
    import re

    from PIL import Image

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta["project"]["version"])
    assert meta["project"]["version"] == __import__("comfyui_coupled_sde").__version__
    comfy = meta["tool"]["comfy"]
    assert comfy["PublisherId"] and comfy["DisplayName"]
    assert comfy["requires-comfyui"].startswith(">=")
    assert comfy["Icon"].endswith("/main/docs/images/icon.png")
    w, h = Image.open(ROOT / "docs" / "images" / "icon.png").size
    assert w <= 800 and h <= 400
    assert not (ROOT / "requirements.txt").exists()  # nothing for ComfyUI-Manager to pip install
