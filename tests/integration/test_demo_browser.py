"""The demo scene model in the real frontend, as a person uses it: open, queue, look at the result.

A real ComfyUI server on 127.0.0.1 with its real frontend (the ``frontend`` fixture), driven by
headless Chromium:

* every ``example_workflows/demo_*.json`` is opened the way the frontend opens a workflow file
  (``app.loadGraphData`` of the UI JSON), queued (``app.queuePrompt``), and every image its
  SaveImage nodes wrote is fetched back through the server's ``/view`` endpoint (file names from
  ``/history``), reduced to its 32x32 pixels (the workflows enlarge 8x, nearest) and judged by the
  scene judge with the rules of ``demo_workflows.py`` (the edit happened, the rest is kept, ...);
* the drag editor on a generated scene: Load Demo Scene Model -> KSampler -> VAE Decode -> Drag
  Points -> SDE Drag (the measured demo preset). The graph arrives with an arrow (Drag Points needs
  one before its first run, which sends the editor its image); after that run the editor shows the
  scene, the arrow is cleared with the toolbar and a new one placed with the mouse from the red
  circle's centre 4 px down, the graph is queued again and the circle must have moved by that.

Nothing on the page may be an error of ours or one not known to be the stock frontend's
(frontend_checks.py). Screenshots: ``docs/images/demo_workflow_<frontend version>.png`` (the
Sync-SDE demo after its run) and ``docs/images/demo_drag_editor_<frontend version>.png``; every
other workflow's canvas goes to ``benchmarks/out/``. ``pytest -s`` prints the judge's numbers,
and no two nodes may overlap once the Save Image nodes show their images. Skipped (one line) when
Playwright or Chromium is missing.
"""

import io
import json
import re
import urllib.parse

import pytest
import torch
from comfy_env import ROOT, get, open_page, queue_and_wait
from demo_workflows import SPECS, Run, judge, judge_modules
from frontend_checks import check
from test_example_workflows import load

WORKFLOWS = sorted((ROOT / "example_workflows").glob("demo_*.json"))
IMAGES = ROOT / "docs" / "images"
OUT = ROOT / "benchmarks" / "out"
SHOT_MAX_BYTES = 400_000
RUN_TIMEOUT_S = 600
README_SHOT = "demo_sync_sde_edit"  # its screenshot goes to docs/images/demo_workflow_<frontend version>.png
# for the screenshots, on the test's page only: no minimap over the canvas (1.49 shows one)
QUIET = {"Comfy.Minimap.Visible": False}

# ---- helpers ----------------------------------------------------------------------------------------


def small_pixels(png: bytes, size: int = 32) -> torch.Tensor:
    """A saved PNG as its ``size`` x ``size`` pixels, ``(size, size, 3)`` uint8: taken back by
    nearest-neighbour when the workflow enlarged it (each block must be uniform: a nearest enlargement)."""
    import numpy as np
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.width % size == 0 and img.height == img.width, img.size
    small = img.resize((size, size), Image.NEAREST)
    assert np.array_equal(np.array(small.resize(img.size, Image.NEAREST)), np.array(img)), \
        f"a {img.size} image that is not a nearest-neighbour enlargement of {size}x{size} pixels"
    return torch.from_numpy(np.array(small))


def fetch_outputs(url: str, entry: dict) -> dict:
    """``{label: (32, 32, 3) uint8}`` for every image the run saved, read through ``/view``; the
    label is the file name without SaveImage's counter (the last part of its filename_prefix)."""
    out = {}
    for ui in entry["outputs"].values():
        for im in ui.get("images", []):
            if im.get("type") != "output":
                continue
            query = urllib.parse.urlencode({"filename": im["filename"], "subfolder": im.get("subfolder", ""),
                                            "type": "output"})
            label = re.sub(r"_\d{5}_\.png$", "", im["filename"])
            assert label not in out, f"two images labelled {label}"
            out[label] = small_pixels(get(f"{url}/view?{query}", timeout=30))
    return out


def as_run(name: str, seconds: float, api: dict, pixels: dict) -> Run:
    """What ``demo_workflows.judge`` reads: the pixels in model range (1, 3, 32, 32), and the graph that ran."""
    images = {k: (p.permute(2, 0, 1)[None].double() / 255.0 * 2 - 1).float() for k, p in pixels.items()}
    return Run(name, seconds, True, [], api=api, images=images, pixels=pixels)


def sent_prompt(page) -> dict:
    """The API graph the frontend sends for the graph on the canvas (its own conversion)."""
    return page.evaluate("async () => (await window.app.graphToPrompt()).output")


def images_shown(page, entry: dict) -> list[int]:
    """Wait until every node that saved images in the run ``entry`` (a history entry) shows the image
    of this run on the canvas, loaded; returns their ids."""
    shown = {int(k): ui["images"][0]["filename"] for k, ui in entry["outputs"].items() if ui.get("images")}
    page.wait_for_function("""(shown) => Object.entries(shown).every(([id, file]) => {
        const n = window.app.graph.getNodeById(+id);
        window.app.canvas.setDirty(true, true);
        return n?.imgs?.length && n.imgs.every(i => i.complete && i.naturalWidth > 0)
            && decodeURIComponent(n.imgs[0].src).includes(file); })""", arg=shown, timeout=30000)
    page.wait_for_timeout(500)
    return list(shown)


def frame(page, node_ids, margin: int = 30, top: int = 170, bottom: int = 110, left: int = 100) -> dict:
    """Zoom and pan the canvas so that the nodes ``node_ids`` fill the window but its top ``top``,
    bottom ``bottom`` and left ``left`` pixels (the frontend's tab bar, Run button, notices, side bar
    and canvas tools float there), nothing selected; returns the page rectangle they occupy, with
    ``margin`` around (for a clipped screenshot)."""
    return page.evaluate("""([ids, margin, top, bottom, left]) => {
        const c = window.app.canvas, el = c.canvas.getBoundingClientRect();
        c.deselectAll?.();
        const nodes = ids.map(id => window.app.graph.getNodeById(id));
        const title = LiteGraph.NODE_TITLE_HEIGHT;
        const x0 = Math.min(...nodes.map(n => n.pos[0])), y0 = Math.min(...nodes.map(n => n.pos[1] - title));
        const x1 = Math.max(...nodes.map(n => n.pos[0] + n.size[0]));
        const y1 = Math.max(...nodes.map(n => n.pos[1] + n.size[1]));
        const W = el.width - left - margin, H = el.height - top - bottom;
        const scale = Math.min(W / (x1 - x0), H / (y1 - y0), 2);
        c.ds.scale = scale;
        c.ds.offset[0] = (left + (W - (x1 - x0) * scale) / 2) / scale - x0;
        c.ds.offset[1] = (top + (H - (y1 - y0) * scale) / 2) / scale - y0;
        c.setDirty(true, true);
        const sx = (x) => el.left + (x + c.ds.offset[0]) * scale, sy = (y) => el.top + (y + c.ds.offset[1]) * scale;
        const x = Math.max(0, sx(x0) - margin), y = Math.max(0, sy(y0) - margin);
        return {x, y, width: Math.min(window.innerWidth - x, (x1 - x0) * scale + 2 * margin),
                height: Math.min(window.innerHeight - y, (y1 - y0) * scale + 2 * margin)};
    }""", [list(node_ids), margin, top, bottom, left])


def screenshot(page, path, clip=None):
    """A PNG of the page (or ``clip`` of it), written below 400 KB (palette PNG if needed)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(800)  # the canvas has redrawn at the new zoom
    png = page.screenshot(clip=clip) if clip else page.screenshot()
    img = Image.open(io.BytesIO(png)).convert("RGB")
    img.save(path, optimize=True)
    if path.stat().st_size > SHOT_MAX_BYTES:
        img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    assert path.stat().st_size <= SHOT_MAX_BYTES, (path, path.stat().st_size)
    print(f"screenshot: {path.relative_to(ROOT)} ({img.width}x{img.height}, {path.stat().st_size // 1000} KB)")


def overlaps(page) -> list[str]:
    """Pairs of nodes whose boxes (title included) overlap on the canvas: e.g. a Save Image that grew
    to show its image over the node laid out below it."""
    return page.evaluate("""() => {
        const t = LiteGraph.NODE_TITLE_HEIGHT, ns = window.app.graph._nodes, out = [];
        const box = (n) => [n.pos[0], n.pos[1] - t, n.pos[0] + n.size[0], n.pos[1] + n.size[1]];
        for (let i = 0; i < ns.length; i++) for (let j = i + 1; j < ns.length; j++) {
            const a = box(ns[i]), b = box(ns[j]);
            if (a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3])
                out.push(`${ns[i].type} #${ns[i].id} / ${ns[j].type} #${ns[j].id}`);
        }
        return out; }""")


# ---- every demo workflow, opened and run in the frontend -----------------------------------------


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_demo_workflow_runs_in_the_frontend_and_makes_its_edit(frontend, path):
    open_run_and_judge(frontend, path.stem, json.loads(path.read_text()))


def open_run_and_judge(frontend, name: str, ui: dict):
    """Open the UI-format workflow ``ui`` in the frontend, queue it, judge what it saved
    (``demo_workflows.judge`` with the rules for ``name``) and take the screenshot."""
    from playwright.sync_api import sync_playwright

    url, _ = frontend
    with sync_playwright() as pw:
        browser, page = open_page(pw, url, settings=QUIET)
        version = page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__")
        state = load(page, ui)  # as test_example_workflows opens it: no unknown node, no notice, no warning
        assert state["n"] == len(ui["nodes"]) and not state["unknown"] and not state["notice"], state
        assert not state["toasts"], state["toasts"]
        api = sent_prompt(page)
        entry, seconds = queue_and_wait(page, url, RUN_TIMEOUT_S)
        pixels = fetch_outputs(url, entry)
        saves = [int(k) for k, v in api.items() if v["class_type"] == "SaveImage"]
        assert len(pixels) == len(saves), (sorted(pixels), saves)
        assert set(saves) <= set(images_shown(page, entry))
        covered = overlaps(page)  # image nodes are laid out at their after-run size (build_example_workflows.py)
        assert not covered, f"frontend {version}, {name}: nodes overlap after the run: " + "; ".join(covered)
        # the pack's nodes (not the loader) and what they saved, zoomed in from the whole graph
        box = frame(page, [n["id"] for n in ui["nodes"] if n["type"] == "SaveImage"
                           or n["type"].startswith("CoupledSDE_") and n["type"] != "CoupledSDE_LoadDemoSceneModel"])
        shot = IMAGES / f"demo_workflow_{version}.png" if name == README_SHOT else OUT / f"{name}_{version}.png"
        screenshot(page, shot, clip=box)
        page.screenshot(path=str(OUT / f"{name}_{version}_page.png"))  # the whole window, to look at
        browser.close()
    j = judge(as_run(name, seconds, api, pixels))
    print(f"\n[frontend {version}] " + "\n".join(j.lines()))
    assert not j.failed, "\n".join(j.lines())
    check(page.problems, f"frontend {version}, {name}")


# ---- the drag editor on a generated scene -----------------------------------------------------------

CAPTION = "a red circle top left and a blue square bottom right on a noisy grey background"
DRAG_NAME = "demo_drag_editor"
SHIPPED_ARROW = {"sources": [[9, 7]], "targets": [[12, 7]]}  # the arrow the graph arrives with: 3 px right
DRAG_PX = 4  # the arrow placed with the mouse: 4 px down (up if that would leave the quadrant)
# the demo model's measured SDE Drag preset (nodes/presets.py, "Demo scene model · SDE-Drag (measured)")
DRAG_PRESET = {"t0": 0.3, "steps": 60, "drag_step": 8.0, "alpha": 1.1, "beta": 0.3, "r": 6, "cfg_max": 1.0}
EDITOR, DRAG_SAVE, SOURCE_SAVE = 15, 23, 10


def drag_graph() -> dict:
    """Load Demo Scene Model -> KSampler (seed 7, 28 euler steps, cfg 2) -> VAE Decode -> Drag Points
    -> SDE Drag -> VAE Decode; source and result saved 8x enlarged (nearest)."""
    def show(image, prefix):
        return ({"class_type": "ImageScale", "inputs": {"image": image, "upscale_method": "nearest-exact",
                                                        "width": 256, "height": 256, "crop": "disabled"}},
                {"class_type": "SaveImage", "inputs": {"images": None, "filename_prefix": f"{DRAG_NAME}/{prefix}"}})

    g = {
        "1": {"class_type": "CoupledSDE_LoadDemoSceneModel", "inputs": {}},
        "2": {"class_type": "EmptyChromaRadianceLatentImage", "inputs": {"width": 32, "height": 32, "batch_size": 1}},
        "3": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 7, "steps": 28, "cfg": 2.0,
                                                   "sampler_name": "euler", "scheduler": "simple",
                                                   "positive": ["6", 0], "negative": ["8", 0],
                                                   "latent_image": ["2", 0], "denoise": 1.0}},
        "4": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["1", 2]}},
        "5": {"class_type": "VAEEncode", "inputs": {"pixels": ["4", 0], "vae": ["1", 2]}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": CAPTION, "clip": ["1", 1]}},
        "8": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
        str(EDITOR): {"class_type": "CoupledSDE_DragPoints",
                      "inputs": {"image": ["4", 0], "points": json.dumps(SHIPPED_ARROW), "mask_strokes": "[]"}},
        "20": {"class_type": "CoupledSDE_SDEDrag",
               "inputs": {"model": ["1", 0], "positive": ["6", 0], "latent": ["5", 0], "drag_points": [str(EDITOR), 0],
                          "negative": ["8", 0], "mask": [str(EDITOR), 1], **DRAG_PRESET, "seed": 0,
                          "solver": "posterior"}},
        "21": {"class_type": "VAEDecode", "inputs": {"samples": ["20", 0], "vae": ["1", 2]}},
    }
    for scale_id, image, prefix in (("9", ["4", 0], "source"), ("22", ["21", 0], "dragged")):
        scale, save = show(image, prefix)
        save["inputs"]["images"] = [scale_id, 0]
        g[scale_id], g[str(int(scale_id) + 1)] = scale, save
    return g


# where each node goes (graph units): the scene's nodes on the left, the editor and the result on the right
DRAG_LAYOUT = {1: (0, 0), 6: (0, 180), 8: (0, 420), 2: (0, 560), 3: (420, 0), 4: (420, 330), 5: (420, 430),
               9: (420, 540), SOURCE_SAVE: (720, 330), EDITOR: (1100, 0), 20: (1100, 760), 21: (1560, 760),
               22: (1560, 860), DRAG_SAVE: (1560, 0)}
DRAG_SIZES = {EDITOR: (440, 580), DRAG_SAVE: (320, 380), SOURCE_SAVE: (280, 340)}


def drag_spec(dx: int, dy: int) -> dict:
    """``demo_workflows.judge``'s rules for this graph: the source parses as the caption, the red circle
    moved by ``(dx, dy)`` within 1.5 px, the rest kept (SSIM / L1 outside the drag's windows)."""
    return {"source": CAPTION, "drag": {"dragged": ("top left", (float(dx), float(dy)))}}


def test_drag_editor_on_the_demo_scene(frontend, monkeypatch):
    from playwright.sync_api import sync_playwright

    _, sj = judge_modules()
    url, _ = frontend
    with sync_playwright() as pw:
        browser, page = open_page(pw, url, settings=QUIET)
        version = page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__")
        page.evaluate("(wf) => window.app.loadApiJson(wf, 'demo_drag_editor.json')", drag_graph())
        page.wait_for_timeout(1500)
        # a person's layout; seeds fixed (the frontend's default would draw a new scene every run)
        page.evaluate("""([layout, sizes]) => { const g = window.app.graph;
            for (const [id, pos] of Object.entries(layout)) g.getNodeById(+id).pos = [...pos];
            for (const [id, size] of Object.entries(sizes)) g.getNodeById(+id).setSize([...size]);
            for (const n of g._nodes) for (const w of n.widgets ?? [])
                if (w.name === 'control_after_generate') w.value = 'fixed';
            window.app.canvas.setDirty(true, true); }""", [DRAG_LAYOUT, DRAG_SIZES])

        # run 1, with the arrow the graph came with: the editor gets its image
        api1 = sent_prompt(page)
        entry1, seconds1 = queue_and_wait(page, url, RUN_TIMEOUT_S)
        pixels1 = fetch_outputs(url, entry1)
        monkeypatch.setitem(SPECS, DRAG_NAME, drag_spec(*(t - s for s, t in zip(SHIPPED_ARROW["sources"][0],
                                                                                SHIPPED_ARROW["targets"][0]))))
        j1 = judge(as_run(DRAG_NAME, seconds1, api1, pixels1))
        print(f"\n[frontend {version}] the shipped arrow (run 1)\n" + "\n".join(j1.lines()))
        assert not j1.failed, "\n".join(j1.lines())
        page.wait_for_function(
            f"() => window.app.graph.getNodeById({EDITOR}).coupledSdeDragEditor.image.naturalWidth === 32",
            timeout=30000)

        # the red circle as the judge sees it in the source: the arrow starts at its centroid
        circle = next(o for o in sj.parse(as_run(DRAG_NAME, 0, api1, pixels1).images["source"])[0]["objects"]
                      if o["pos"] == "top left")
        sx, sy = round(circle["mx"]), round(circle["my"])
        dy = DRAG_PX if sy + DRAG_PX < 14 else -DRAG_PX
        tx, ty = sx, sy + dy
        frame(page, [EDITOR, DRAG_SAVE], margin=40)
        page.wait_for_timeout(800)
        canvas = page.locator(".coupled-sde-drag-canvas")
        editor = page.locator(".coupled-sde-drag")
        box = canvas.bounding_box()
        side = min(box["width"], box["height"])  # the 32x32 image is drawn centred, fitted
        x0, y0 = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2

        def at(x, y):  # image pixel -> page position
            return x0 + x * side / 32, y0 + y * side / 32

        editor.get_by_role("button", name="Clear points").click()
        page.mouse.click(*at(sx, sy))
        page.mouse.click(*at(tx, ty))
        points = json.loads(page.evaluate(
            f"() => window.app.graph.getNodeById({EDITOR}).widgets.find(w => w.name === 'points').value"))
        # with the size of the picture they were placed on (a saved workflow then draws them right at once)
        assert points == {"sources": [[sx, sy]], "targets": [[tx, ty]], "width": 32, "height": 32}, points
        api2 = sent_prompt(page)
        assert json.loads(api2[str(EDITOR)]["inputs"]["points"]) == points

        # run 2, with the arrow placed by hand
        entry2, seconds2 = queue_and_wait(page, url, RUN_TIMEOUT_S)
        pixels2 = fetch_outputs(url, entry2)
        if "source" in pixels2:  # (a cached node may not report its image again)
            assert torch.equal(pixels2["source"], pixels1["source"]), "the scene changed between the runs"
        pixels2 = {"source": pixels1["source"], **pixels2}
        monkeypatch.setitem(SPECS, DRAG_NAME, drag_spec(tx - sx, ty - sy))
        j2 = judge(as_run(DRAG_NAME, seconds2, api2, pixels2))
        print(f"[frontend {version}] the arrow placed with the mouse, ({sx}, {sy}) -> ({tx}, {ty}) (run 2)\n"
              + "\n".join(j2.lines()))
        assert not j2.failed, "\n".join(j2.lines())
        assert DRAG_SAVE in images_shown(page, entry2)
        box = frame(page, [EDITOR, DRAG_SAVE], margin=40)
        screenshot(page, IMAGES / f"demo_drag_editor_{version}.png", clip=box)
        page.screenshot(path=str(OUT / f"{DRAG_NAME}_{version}_page.png"))  # the whole window, to look at
        browser.close()
    check(page.problems, f"frontend {version}, drag editor on the demo scene")
