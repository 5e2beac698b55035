"""How the test command finds ComfyUI checkouts (tests/integration/comfy_env.py), without one."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "integration"))
import comfy_env  # noqa: E402


def fake_comfyui(path: Path, version: str) -> Path:
    (path / "comfy").mkdir(parents=True)
    (path / "comfy" / "samplers.py").write_text("")
    (path / "nodes.py").write_text("")
    (path / "comfyui_version.py").write_text(f'# generated\n__version__ = "{version}"\n')
    return path


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """No ComfyUI next to the repository or in ~/comfy: only what a test sets up counts."""
    monkeypatch.setattr(comfy_env, "ROOT", tmp_path / "repo" / "ComfyUI-CoupledSDE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COMFYUI_PATH", raising=False)
    return tmp_path


def test_no_checkout_gives_one_reason(nowhere):
    assert comfy_env.find_comfyuis() == []
    path, why = comfy_env.find_comfyui()
    assert path is None and why.startswith("ComfyUI not found: set COMFYUI_PATH")


def test_several_paths_in_comfyui_path_and_comfy_cli_workspaces(nowhere, monkeypatch):
    old = fake_comfyui(nowhere / "a" / "ComfyUI", "0.3.64")
    new = fake_comfyui(nowhere / "home" / "comfy" / "ComfyUI", "0.33.0")
    beside = fake_comfyui(nowhere / "home" / "comfy" / "ComfyUI-0.3.64", "0.3.64")
    monkeypatch.setenv("COMFYUI_PATH", f"{old}{os.pathsep}{new}")
    found = comfy_env.find_comfyuis()
    assert found == [old.resolve(), new.resolve(), beside.resolve()]  # COMFYUI_PATH order first, each once
    assert [comfy_env.comfyui_version(p) for p in found] == ["0.3.64", "0.33.0", "0.3.64"]
    assert comfy_env.find_comfyui() == (old.resolve(), "")  # one ComfyUI per pytest process: the first


def test_pack_inside_custom_nodes_and_sibling_checkout(nowhere, monkeypatch):
    host = fake_comfyui(nowhere / "host" / "ComfyUI", "0.33.0")
    monkeypatch.setattr(comfy_env, "ROOT", host / "custom_nodes" / "ComfyUI-CoupledSDE")
    sibling = fake_comfyui(host / "custom_nodes" / "ComfyUI-old", "0.3.64")
    assert comfy_env.find_comfyuis() == [host.resolve(), sibling.resolve()]


def test_a_bad_comfyui_path_entry_is_named(nowhere, monkeypatch):
    monkeypatch.setenv("COMFYUI_PATH", str(nowhere / "missing"))
    path, why = comfy_env.find_comfyui()
    assert path is None and why == f"COMFYUI_PATH entry {nowhere / 'missing'} is not a ComfyUI checkout"
