"""The drag editor as a person uses it: a real ComfyUI server on 127.0.0.1 with the real frontend
(the comfyui-frontend-package its requirements pin), driven by headless Chromium.

Load a workflow, place two arrows and paint a mask with the mouse, queue it, and check the
serialized points and that the run succeeded. The screenshot is written to
``benchmarks/out/drag_editor.png`` (look at it). Skipped when Playwright or Chromium is missing.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from comfy_env import ROOT, STUBS, stock_sd15_graph

SCREENSHOT = ROOT / "benchmarks" / "out" / "drag_editor.png"


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read() or b"null") if "json" in r.headers.get("Content-Type", "") else r.read()


@pytest.fixture(scope="module")
def server(comfy, model_dir, workflow_files, tmp_path_factory):
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
    if _chromium() is None:
        pytest.skip("no Chromium found (apt install chromium)")
    from PIL import Image, ImageDraw

    tmp = tmp_path_factory.mktemp("server")
    (tmp / "custom_nodes").mkdir()
    # a copy, not a symlink: aiohttp's static routes refuse files whose real path leaves the root
    shutil.copytree(ROOT, tmp / "custom_nodes" / "ComfyUI-CoupledSDE",
                    ignore=shutil.ignore_patterns(".git", "tests", "benchmarks", "docs", "__pycache__", "*.egg-info"))
    for d in ("input", "output", "temp", "user/default"):
        (tmp / d).mkdir(parents=True)
    # a returning user: no first-run tutorial template opening over the test's workflow
    (tmp / "user" / "default" / "comfy.settings.json").write_text(
        json.dumps({"Comfy.TutorialCompleted": True, "Comfy.InstalledVersion": "1.27.10"}))
    img = Image.new("RGB", (256, 256), (40, 60, 90))
    ImageDraw.Draw(img).ellipse((40, 40, 110, 110), fill=(230, 180, 40))
    img.save(tmp / "input" / "drag_test.png")
    (tmp / "extra_model_paths.yaml").write_text(
        "coupled_sde_test:\n"
        f"  base_path: {model_dir}\n"
        "  diffusion_models: diffusion_models\n  text_encoders: text_encoders\n  vae: vae\n  loras: loras\n"
        f"  custom_nodes: {tmp / 'custom_nodes'}\n")
    port = _free_port()
    env = dict(os.environ)
    if comfy.torchvision.startswith("stand-in"):
        env["PYTHONPATH"] = os.pathsep.join([str(STUBS), env.get("PYTHONPATH", "")])
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port), "--disable-auto-launch",
         "--extra-model-paths-config", str(tmp / "extra_model_paths.yaml"), "--input-directory", str(tmp / "input"),
         "--output-directory", str(tmp / "output"), "--temp-directory", str(tmp / "temp"),
         "--user-directory", str(tmp / "user")],
        cwd=str(comfy.path), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                raise RuntimeError("ComfyUI exited: " + (tmp / "server.log").read_text()[-3000:])
            try:
                _get(url + "/system_stats")
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("ComfyUI did not start: " + (tmp / "server.log").read_text()[-3000:])
        info = _get(url + "/object_info/CoupledSDE_DragPoints")
        assert "CoupledSDE_DragPoints" in info, (tmp / "server.log").read_text()[-3000:]
        yield url, tmp
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def workflow(files):
    return {
        **stock_sd15_graph(files, {"class_type": "LoadImage", "inputs": {"image": "drag_test.png"}},
                           {"6": "a yellow ball", "7": ""}),
        "8": {"class_type": "CoupledSDE_DragPoints",
              "inputs": {"image": ["4", 0], "points": '{"sources": [], "targets": []}', "mask_strokes": "[]"}},
        "9": {"class_type": "CoupledSDE_SDEDrag",
              "inputs": {"model": ["1", 0], "positive": ["6", 0], "negative": ["7", 0], "latent": ["5", 0],
                         "drag_points": ["8", 0], "mask": ["8", 1], "t0": 0.6, "steps": 10, "drag_step": 6.0,
                         "alpha": 1.1, "beta": 0.3, "r": 3, "cfg_max": 2.0, "seed": 1, "solver": "posterior"}},
        "10": {"class_type": "VAEDecode", "inputs": {"samples": ["9", 0], "vae": ["3", 0]}},
        "11": {"class_type": "SaveImage", "inputs": {"images": ["10", 0], "filename_prefix": "drag"}},
    }


def test_drag_editor_in_the_real_frontend(server, workflow_files):
    from playwright.sync_api import sync_playwright

    url, tmp = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors, console = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.goto(url)
        page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60000)
        page.wait_for_timeout(1500)  # let the start-up workflow finish loading before ours replaces it
        page.evaluate("(wf) => window.app.loadApiJson(wf, 'drag.json')", workflow(workflow_files))
        node_id = page.evaluate(
            "() => window.app.graph._nodes.find(n => n.comfyClass === 'CoupledSDE_DragPoints').id")
        page.wait_for_timeout(2000)  # the frontend fits the new graph into view after loading it
        # bring the editor node to the middle of the screen at zoom 1, as a person would
        page.evaluate("""(id) => { const c = window.app.canvas, n = window.app.graph.getNodeById(id);
            c.ds.scale = 1; c.centerOnNode(n); c.setDirty(true, true); }""", node_id)
        page.wait_for_timeout(1000)
        canvas = page.locator(".coupled-sde-drag-canvas")
        try:
            canvas.wait_for(state="visible", timeout=30000)
        except Exception:
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT.with_name("drag_editor_failure.png")))
            raise AssertionError("editor not visible; console:\n" + "\n".join(console[-40:]) + "\nerrors: " + str(errors))
        page.wait_for_function(
            f"() => window.app.graph.getNodeById({node_id}).coupledSdeDragEditor.image.naturalWidth === 256",
            timeout=30000)
        page.wait_for_timeout(500)
        box = canvas.bounding_box()
        side = min(box["width"], box["height"])  # the 256x256 image is drawn centred, fitted
        x0, y0 = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2

        def at(u, v):
            return x0 + u * side, y0 + v * side

        # two arrows: click source, click target
        for (su, sv), (tu, tv) in (((0.29, 0.29), (0.62, 0.55)), ((0.2, 0.7), (0.3, 0.8))):
            page.mouse.click(*at(su, sv))
            page.mouse.click(*at(tu, tv))
        # paint the editable region around the first arrow
        page.get_by_role("button", name="Paint mask").click(timeout=10000)
        page.mouse.move(*at(0.25, 0.3))
        page.mouse.down()
        for k in range(12):
            page.mouse.move(*at(0.25 + 0.04 * k, 0.3 + 0.025 * k))
        page.mouse.up()
        page.get_by_role("button", name="Arrows").click()

        state = page.evaluate(f"""() => {{ const n = window.app.graph.getNodeById({node_id});
            const w = (name) => n.widgets.find(x => x.name === name).value;
            return {{points: w("points"), strokes: w("mask_strokes"), size: n.size}}; }}""")
        pts = json.loads(state["points"])
        strokes = json.loads(state["strokes"])
        assert len(pts["sources"]) == len(pts["targets"]) == 2, pts
        for got, want in zip(pts["sources"] + pts["targets"], [(0.29, 0.29), (0.2, 0.7), (0.62, 0.55), (0.3, 0.8)]):
            assert abs(got[0] - want[0] * 256) <= 3 and abs(got[1] - want[1] * 256) <= 3, (got, want)
        assert len(strokes) >= 3 and all(s[3] == 1 for s in strokes)
        # the values travel in the prompt the frontend sends (and in the saved workflow)
        prompt = page.evaluate("async () => (await window.app.graphToPrompt()).output")
        sent = prompt[str(node_id)]["inputs"]
        assert json.loads(sent["points"]) == pts and json.loads(sent["mask_strokes"]) == strokes
        saved = page.evaluate(f"() => window.app.graph.serialize().nodes.find(n => n.id === {node_id}).widgets_values")
        assert saved[:2] == [state["points"], state["strokes"]]

        history_before = set(_get(url + "/history") or {})
        page.evaluate("() => window.app.queuePrompt(0, 1)")
        deadline = time.time() + 300
        entry = None
        while time.time() < deadline:
            new = {k: v for k, v in (_get(url + "/history") or {}).items() if k not in history_before}
            if new:
                entry = next(iter(new.values()))
                if entry.get("status", {}).get("completed") or entry.get("status", {}).get("status_str") == "error":
                    break
            time.sleep(1)
        page.wait_for_timeout(1500)  # let the preview arrive
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
        browser.close()
    assert entry is not None, "the prompt never reached the history"
    status = entry["status"]
    assert status["status_str"] == "success" and status["completed"], json.dumps(status)[:2000]
    assert list((tmp / "output").glob("drag_*.png")), "SaveImage wrote nothing"
    assert not [e for e in errors if "coupled" in e.lower() or "drag" in e.lower()], errors
