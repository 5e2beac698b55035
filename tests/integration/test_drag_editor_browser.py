"""The drag editor as a person uses it: a real ComfyUI server on 127.0.0.1 with the real frontend
(the comfyui-frontend-package its requirements pin), driven by headless Chromium.

Load a workflow, place two arrows and paint a mask with the mouse, type a points text that does
not parse (shown as an error, left as typed), resize the node with ``widget.width`` set from
outside, queue it, and check the serialized points, that the run succeeded and showed no preview
below the editor (which keeps its image); open the node's help page; copy/paste the node and
convert it to a subgraph. Nothing on the page may
be an error of ours, nor an error not known to be the stock frontend's (frontend_checks.py).
Both renderers: the classic canvas one and, where the frontend offers it, "Nodes 2.0" (Vue
nodes, setting ``Comfy.VueNodes.Enabled``), set for the test's page only. The screenshots are
written to ``benchmarks/out/drag_editor_<frontend version>_<renderer>.png`` (look at them).
Skipped when Playwright or Chromium is missing.
"""

import json

import pytest
from comfy_env import ROOT, open_page, queue_and_wait, stock_sd15_graph
from frontend_checks import check

OUT = ROOT / "benchmarks" / "out"
NODES2 = "Comfy.VueNodes.Enabled"


def workflow(files, prefix="drag"):
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
        "11": {"class_type": "SaveImage", "inputs": {"images": ["10", 0], "filename_prefix": prefix}},
    }


@pytest.mark.parametrize("renderer", ["classic", "nodes2"])
def test_drag_editor_in_the_real_frontend(frontend, workflow_files, renderer):
    from playwright.sync_api import sync_playwright

    url, tmp = frontend
    with sync_playwright() as pw:
        browser, page = open_page(pw, url, settings={NODES2: renderer == "nodes2"})
        version = page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__")
        offered = page.evaluate(f"() => window.app.ui.settings.settingsLookup?.['{NODES2}']?.type ?? null")
        if renderer == "nodes2" and offered in (None, "hidden"):
            browser.close()
            pytest.skip(f"frontend {version} does not offer the Nodes 2.0 renderer: "
                        + (f"{NODES2} is not a setting there" if offered is None else
                           f"{NODES2} is a hidden experiment there (no setting a user can turn on)"))
        assert page.evaluate("() => !!LiteGraph.vueNodesMode") == (renderer == "nodes2"), renderer
        shot = OUT / f"drag_editor_{version}_{renderer}.png"
        OUT.mkdir(parents=True, exist_ok=True)

        page.evaluate("(wf) => window.app.loadApiJson(wf, 'drag.json')", workflow(workflow_files, f"drag_{renderer}"))
        node_id = page.evaluate(
            "() => window.app.graph._nodes.find(n => n.comfyClass === 'CoupledSDE_DragPoints').id")
        page.wait_for_timeout(2000)  # the frontend fits the new graph into view after loading it
        # bring the editor node to the middle of the screen at zoom 1, as a person would
        page.evaluate("""(id) => { const c = window.app.canvas, n = window.app.graph.getNodeById(id);
            c.ds.scale = 1; c.centerOnNode(n); c.setDirty(true, true); }""", node_id)
        page.wait_for_timeout(1000)
        editor = page.locator(".coupled-sde-drag")
        canvas = page.locator(".coupled-sde-drag-canvas")
        try:
            canvas.wait_for(state="visible", timeout=30000)
        except Exception as e:
            page.screenshot(path=str(shot.with_name(shot.stem + "_failure.png")))
            raise AssertionError("editor not visible; console:\n" + "\n".join(page.console[-40:])
                                 + "\nerrors: " + str(page.errors)) from e
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
        editor.get_by_role("button", name="Paint mask").click(timeout=10000)
        page.mouse.move(*at(0.25, 0.3))
        page.mouse.down()
        for k in range(12):
            page.mouse.move(*at(0.25 + 0.04 * k, 0.3 + 0.025 * k))
        page.mouse.up()
        editor.get_by_role("button", name="Arrows").click()

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

        # a points text typed that does not parse: shown as an error in the editor, left as typed
        typed_points_error(page, node_id, state["points"], pts)
        # the editor follows the node's width whatever sets widget.width (the 1.49 side panel's
        # Parameters tab does), and is not listed in that panel
        follows_node_width(page, node_id)

        entry, _ = queue_and_wait(page, url)
        # the run sends the editor its image under our key, not as a preview ("images") that the
        # frontend would show again below the editor, squeezing the text boxes
        ui = entry["outputs"].get(str(node_id), {})
        assert "images" not in ui and ui.get("coupled_sde_drag_image"), ui
        page.wait_for_timeout(1500)  # the "executed" message has reached the node
        after = page.evaluate(f"""() => {{ window.app.canvas.setDirty(true, true);
            const n = window.app.graph.getNodeById({node_id}), e = n.coupledSdeDragEditor;
            return {{imgs: n.imgs?.length ?? 0, img: !!document.querySelector('[data-node-id="{node_id}"] img'),
                     width: e.image.naturalWidth, src: e.imageSrc}}; }}""")
        page.wait_for_timeout(500)
        assert after["imgs"] == 0 and not after["img"], after
        assert after["width"] == 256 and after["src"], after
        page.screenshot(path=str(shot))

        # the node's help page, as the selection toolbox's info button opens it
        page.evaluate("""(id) => { const c = window.app.canvas; c.deselectAll?.();
            c.selectNode(window.app.graph.getNodeById(id)); c.setDirty(true, true); }""", node_id)
        page.get_by_test_id("info-button").first.click(timeout=10000)
        page.get_by_text("The in-graph editor for SDE-Drag").first.wait_for(state="visible", timeout=15000)
        page.keyboard.press("Escape")

        # copy/paste keeps the values; Convert to Subgraph configures clones that have no graph yet
        copy_paste_and_subgraph(page, node_id, state["points"], state["strokes"])
        browser.close()
    assert list((tmp / "output").glob(f"drag_{renderer}_*.png")), "SaveImage wrote nothing"
    check(page.problems, f"frontend {version}, {renderer}")


def typed_points_error(page, node_id, points, pts):
    """Type a points text that does not parse into the node's points box: the editor's status
    line shows the error (in red) and nothing rewrites the text; typing it right clears it."""
    bad = '{"sources": [[10, 10]], "targets": [[20'
    # the points text box as the renderer shows it (a textarea holding the widget's value)
    marked = page.evaluate("""(v) => { const t = [...document.querySelectorAll('textarea')].find(t => t.value === v);
        if (t) t.setAttribute('data-test-points', '1'); return !!t; }""", points)
    assert marked, "no textarea shows the points value"
    box = page.locator("textarea[data-test-points]")
    box.fill(bad)
    status = page.locator(".coupled-sde-drag-status")
    page.wait_for_function("""() => document.querySelector('.coupled-sde-drag-status')
        .classList.contains('coupled-sde-drag-error')""", timeout=5000)
    text = status.text_content()
    assert "points: not valid JSON" in text, text
    color = status.evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(255, 107, 107)", color
    # the pointer over the editor (a refresh), time passing: the text stays as typed
    page.locator(".coupled-sde-drag-canvas").hover()
    page.wait_for_timeout(1500)
    value = page.evaluate(f"() => window.app.graph.getNodeById({node_id}).widgets.find(w => w.name === 'points').value")
    assert value == bad, value
    # another form nodes/points.py reads ([[sx, sy, tx, ty], ...]) is shown, not an error
    box.fill(json.dumps([s + t for s, t in zip(pts["sources"], pts["targets"])]))
    page.wait_for_function("""() => { const s = document.querySelector('.coupled-sde-drag-status');
        return !s.classList.contains('coupled-sde-drag-error') && s.textContent.startsWith('2 pair(s)'); }""",
                           timeout=5000)
    box.fill(points)
    page.wait_for_function("""() => document.querySelector('.coupled-sde-drag-status').textContent
        .startsWith('2 pair(s), painted mask')""", timeout=5000)
    assert page.evaluate(f"""() => window.app.graph.getNodeById({node_id})
        .widgets.find(w => w.name === 'points').value""") == points


def follows_node_width(page, node_id):
    """widget.width set from outside (as 1.49's Parameters tab does) does not freeze the editor."""
    info = page.evaluate("""async (id) => { const n = window.app.graph.getNodeById(id);
        const w = n.widgets.find(x => x.name === 'drag_editor'), before = [...n.size];
        w.width = 120;
        n.setSize([before[0] + 200, before[1]]); window.app.canvas.setDirty(true, true);
        await new Promise(r => setTimeout(r, 800));
        const wide = document.querySelector('.coupled-sde-drag').getBoundingClientRect().width;
        n.setSize(before); window.app.canvas.setDirty(true, true);
        await new Promise(r => setTimeout(r, 800));
        const back = document.querySelector('.coupled-sde-drag').getBoundingClientRect().width;
        return {wide, back, scale: window.app.canvas.ds.scale, nodeWidth: before[0],
                 hideInPanel: !!w.options?.hideInPanel, width: w.width ?? null}; }""", node_id)
    assert info["hideInPanel"] and info["width"] is None, info
    assert info["wide"] - info["back"] > 150 * info["scale"], info
    assert info["back"] > (info["nodeWidth"] - 40) * info["scale"], info


def copy_paste_and_subgraph(page, node_id, points, strokes):
    pasted = page.evaluate("""async (id) => { const c = window.app.canvas, n = window.app.graph.getNodeById(id);
        const before = new Set(window.app.graph._nodes.map(x => x.id));
        c.deselectAll?.(); c.selectNode(n); c.copyToClipboard();
        c.graph_mouse[0] = n.pos[0] + n.size[0] + 60; c.graph_mouse[1] = n.pos[1];
        c.pasteFromClipboard();
        await new Promise(r => setTimeout(r, 1000));
        const copy = window.app.graph._nodes.find(x => !before.has(x.id) && x.comfyClass === 'CoupledSDE_DragPoints');
        if (!copy) return null;
        const v = (name) => copy.widgets.find(w => w.name === name).value;
        return {points: v('points'), strokes: v('mask_strokes'), editor: !!copy.coupledSdeDragEditor}; }""",
        node_id)
    assert pasted == {"points": points, "strokes": strokes, "editor": True}, pasted
    # both frontends tested (1.27.10, 1.49.6) have subgraphs and this command
    inner = page.evaluate("""async (id) => { const c = window.app.canvas, n = window.app.graph.getNodeById(id);
        c.deselectAll?.(); c.selectNode(n);
        await window.app.extensionManager.command.execute('Comfy.Graph.ConvertToSubgraph');
        await new Promise(r => setTimeout(r, 1500));
        const sg = window.app.graph._nodes.find(x => x.isSubgraphNode?.());
        const d = sg?.subgraph?._nodes?.find(x => x.comfyClass === 'CoupledSDE_DragPoints');
        if (!d) return null;
        const v = (name) => d.widgets.find(w => w.name === name).value;
        return {points: v('points'), strokes: v('mask_strokes'),
                 gone: !window.app.graph._nodes.some(x => x.id === id && x.comfyClass === d.comfyClass)}; }""",
        node_id)
    assert inner == {"points": points, "strokes": strokes, "gone": True}, inner
