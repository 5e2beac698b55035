"""The drag editor's region mode as a person uses it, in the real frontend (headless Chromium, a
real ComfyUI server; see test_drag_editor_browser.py for the set-up it shares).

Switch the editor to Region, paint a region, draw one arrow: the points text gains
``"mode": "region"`` (and keeps its other keys), the strokes hold the painted discs, and the
editor's canvas shows the region's tint where the arrow moves it (read back from the canvas,
compared with the canvas before the arrow). A second arrow: the status line says rotate/scale and
the overlay follows the similarity map. Three arrows typed on one line: the status line warns. The
run in region mode succeeds (the Python side reads what the editor wrote). Back to Points: the
``"mode"`` key is gone. A workflow whose text says region opens in region mode. Classic renderer
only (the existing editor test covers Nodes 2.0). The screenshot is written to
``benchmarks/out/drag_editor_region_<frontend version>.png`` (look at it).
"""

import base64
import io
import json

from comfy_env import ROOT, open_page, queue_and_wait
from frontend_checks import check
from test_drag_editor_browser import workflow

OUT = ROOT / "benchmarks" / "out"
SIZE = 256  # the test image (conftest.frontend's drag_test.png)


def widget_values(page, node_id):
    return page.evaluate(f"""() => {{ const n = window.app.graph.getNodeById({node_id});
        const w = (name) => n.widgets.find(x => x.name === name).value;
        return {{points: w("points"), strokes: w("mask_strokes")}}; }}""")


def canvas_pixels(page):
    """The editor canvas's pixels (RGB), read as a PNG (toDataURL: no getImageData read-back
    on the page's canvas) after the editor has drawn what it holds."""
    from PIL import Image

    page.wait_for_timeout(300)  # the redraw runs at the next animation frame
    url = page.evaluate("() => document.querySelector('.coupled-sde-drag-canvas').toDataURL('image/png')")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")


def tint(before, after, x, y):
    """How far the canvas pixel (x, y) moved toward the region's orange between two read-backs
    (red up, blue down): 0 where nothing changed, ~90 or more for the tint on the background."""
    (r0, _, b0), (r1, _, b1) = before.getpixel((x, y)), after.getpixel((x, y))
    return (r1 - r0) - (b1 - b0)


def tinted(before, after, box):
    """How many pixels in ``box`` (canvas pixels: x0, y0, x1, y1) moved toward the tint."""
    return sum(tint(before, after, x, y) > 40
               for y in range(int(box[1]), int(box[3])) for x in range(int(box[0]), int(box[2])))


def outline_pixels(img):
    """How many pixels show the moved region's outline colour (#ff8c00)."""
    d = img.tobytes()
    return sum(abs(r - 255) < 12 and abs(g - 140) < 12 and b < 12 for r, g, b in zip(d[0::3], d[1::3], d[2::3]))


def overlay_follows_map(before, after, strokes, pts, origin, scale):
    """Every canvas pixel (a grid of them) that the arrows' map (1 arrow: translation, 2: the
    similarity z = (t1 - t0) / (s1 - s0)) sends the painted region onto is tinted, and none outside
    both the region and its image is (away from the edges, the outline and the arrows)."""
    s0, t0 = complex(*pts["sources"][0]), complex(*pts["targets"][0])
    z = 1 if len(pts["sources"]) == 1 else (complex(*pts["targets"][1]) - t0) / (complex(*pts["sources"][1]) - s0)
    discs = [(complex(x, y), r) for x, y, r, v in strokes if v > 0]
    arrows = [(complex(*a) * scale, complex(*b) * scale) for a, b in zip(pts["sources"], pts["targets"])]

    def near_arrow(c):
        for a, b in arrows:
            u = max(0.0, min(1.0, ((c - a) * (b - a).conjugate()).real / abs(b - a) ** 2))
            if abs(c - (a + u * (b - a))) < 10:
                return True
        return False

    inside = outside = 0
    bad = []
    margin_src = 4 / scale + 1
    margin = 4 / (scale * abs(z)) + 1
    for j in range(2, int(SIZE * scale) - 2, 3):
        for i in range(2, int(SIZE * scale) - 2, 3):
            c = complex(i + 0.5, j + 0.5)
            p = c / scale  # image pixels
            if near_arrow(c):
                continue
            q = (p - t0) / z + s0  # where the map takes it from
            d_src = min(abs(p - m) - r for m, r in discs)
            d_moved = min(abs(q - m) - r for m, r in discs)
            k = tint(before, after, origin[0] + i, origin[1] + j)
            if d_moved < -margin:
                inside += 1
                if k <= 25:
                    bad.append(("not tinted", i, j, k))
            elif d_src > margin_src and d_moved > margin:
                outside += 1
                if k > 10:
                    bad.append(("tinted", i, j, k))
    assert inside > 30, inside
    assert outside > 100 and len(bad) <= (inside + outside) // 200, (z, inside, outside, bad[:20])


def test_region_mode_in_the_real_frontend(frontend, workflow_files):
    from playwright.sync_api import sync_playwright

    url, tmp = frontend
    with sync_playwright() as pw:
        browser, page = open_page(pw, url, settings={"Comfy.VueNodes.Enabled": False})
        version = page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__")
        shot = OUT / f"drag_editor_region_{version}.png"
        OUT.mkdir(parents=True, exist_ok=True)
        page.evaluate("(wf) => window.app.loadApiJson(wf, 'drag_region.json')", workflow(workflow_files, "drag_region"))
        node_id = page.evaluate(
            "() => window.app.graph._nodes.find(n => n.comfyClass === 'CoupledSDE_DragPoints').id")
        page.wait_for_timeout(2000)  # the frontend fits the new graph into view after loading it
        page.evaluate("""(id) => { const c = window.app.canvas, n = window.app.graph.getNodeById(id);
            c.ds.scale = 1; c.centerOnNode(n); c.setDirty(true, true); }""", node_id)
        page.wait_for_timeout(1000)
        editor = page.locator(".coupled-sde-drag")
        canvas = page.locator(".coupled-sde-drag-canvas")
        status = page.locator(".coupled-sde-drag-status")
        try:
            canvas.wait_for(state="visible", timeout=30000)
            page.wait_for_function(
                f"() => window.app.graph.getNodeById({node_id}).coupledSdeDragEditor.image.naturalWidth === {SIZE}",
                timeout=30000)
        except Exception as e:
            page.screenshot(path=str(shot.with_name(shot.stem + "_failure.png")))
            raise AssertionError("editor not ready; console:\n" + "\n".join(page.console[-40:])
                                 + "\nerrors: " + str(page.errors)) from e
        page.wait_for_timeout(500)

        def measure():
            box = canvas.bounding_box()
            side = min(box["width"], box["height"])  # the 256x256 image is drawn centred, fitted
            # the canvas's own pixels: its size is its CSS size (the editor sets it so), so the
            # image sits at the same offsets inside it
            cx0, cy0 = (box["width"] - side) / 2, (box["height"] - side) / 2
            return box, side, box["x"] + cx0, box["y"] + cy0, cx0, cy0

        box, side, x0, y0, cx0, cy0 = measure()

        def at(u, v):
            return x0 + u * side, y0 + v * side

        def cbox(u, v, half=0.06):
            return (cx0 + (u - half) * side, cy0 + (v - half) * side,
                    cx0 + (u + half) * side, cy0 + (v + half) * side)

        button = lambda name: editor.get_by_role("button", name=name, exact=True)  # noqa: E731
        pressed = lambda name: button(name).get_attribute("aria-pressed")  # noqa: E731
        assert (pressed("Points"), pressed("Region")) == ("true", "false")
        tip = button("Region").get_attribute("title")
        assert "1 arrow moves it, 2 also rotate and scale it, 3 give any affine map" in tip, tip

        # Region: the text gains "mode" and keeps its keys; nothing painted yet is a warning
        button("Region").click(timeout=10000)
        page.wait_for_timeout(300)
        assert json.loads(widget_values(page, node_id)["points"]) == {"sources": [], "targets": [], "mode": "region"}
        assert (pressed("Points"), pressed("Region")) == ("false", "true")
        assert button("Paint region").count() == 1 and button("Paint mask").count() == 0
        text = status.text_content()
        assert text.startswith("region mode: draw arrows") and "paint the region to move" in text, text
        assert status.evaluate("e => e.classList.contains('coupled-sde-drag-warning')"), text
        # (the region status keeps two lines: the canvas shrinks once, here, and then keeps its place
        # under the pointer while hints and warnings come and go)
        box, side, x0, y0, cx0, cy0 = measure()
        bare = canvas_pixels(page)

        # paint the region: a stroke from the ball's middle out onto the background (the paint button
        # says what it paints in this mode)
        button("Paint region").click()
        page.mouse.move(*at(0.25, 0.28))
        page.mouse.down()
        for k in range(11):
            page.mouse.move(*at(0.25 + 0.025 * k, 0.28))
        page.mouse.up()
        button("Arrows").click()
        painted = canvas_pixels(page)
        assert canvas.bounding_box() == box, "the canvas moved"
        src_box, moved_at = cbox(0.45, 0.28, 0.04), (0.45 + 0.3, 0.28 + 0.42)
        control = cbox(0.88, 0.12, 0.05)
        assert tinted(bare, painted, src_box) > 20, "the painted region is not tinted"
        assert tinted(bare, painted, cbox(*moved_at, 0.04)) == 0
        text = status.text_content()
        assert "paint the region" not in text, text

        # one arrow: a translation by (0.3, 0.42) of the image
        page.mouse.click(*at(0.35, 0.28))
        page.mouse.click(*at(0.65, 0.70))
        values = widget_values(page, node_id)
        pts, strokes = json.loads(values["points"]), json.loads(values["strokes"])
        assert pts["mode"] == "region" and len(pts["sources"]) == len(pts["targets"]) == 1, pts
        for got, want in zip(pts["sources"] + pts["targets"], [(0.35, 0.28), (0.65, 0.70)]):
            assert abs(got[0] - want[0] * SIZE) <= 3 and abs(got[1] - want[1] * SIZE) <= 3, (got, want)
        assert len(strokes) >= 3 and all(s[3] == 1 for s in strokes), strokes
        assert status.text_content().startswith("region mode: 1 arrow = move"), status.text_content()
        moved = canvas_pixels(page)
        # the tint is drawn where the arrow moves the region, and still where it is
        origin, scale = (round(cx0), round(cy0)), side / SIZE
        overlay_follows_map(bare, moved, strokes, pts, origin, scale)
        assert tinted(painted, moved, cbox(*moved_at, 0.04)) > 20, "no overlay at the target"
        assert tinted(bare, moved, src_box) > 20
        assert tinted(bare, moved, control) == 0

        # a second arrow: move, rotate and scale (the similarity mapping both arrows exactly)
        page.mouse.click(*at(0.48, 0.20))
        page.mouse.click(*at(0.80, 0.50))
        pts = json.loads(widget_values(page, node_id)["points"])
        assert pts["mode"] == "region" and len(pts["sources"]) == 2, pts
        text = status.text_content()
        assert text.startswith("region mode: 2 arrows") and "rotate" in text and "scale" in text, text
        assert not status.evaluate("e => e.classList.contains('coupled-sde-drag-warning')"), text
        rotated = canvas_pixels(page)
        overlay_follows_map(bare, rotated, strokes, pts, origin, scale)

        # the run reads what the editor wrote (the region drag, 2 arrows)
        queue_and_wait(page, url)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(shot))

        # three arrows typed that start on one line: a warning; off the line: an affine map
        region_text = widget_values(page, node_id)["points"]
        marked = page.evaluate("""(v) => {
            const t = [...document.querySelectorAll('textarea')].find(t => t.value === v);
            if (t) t.setAttribute('data-test-points', '1'); return !!t; }""", region_text)
        assert marked, "no textarea shows the points value"
        textbox = page.locator("textarea[data-test-points]")
        line = {"sources": [[60, 60], [100, 100], [140, 140]], "targets": [[70, 60], [110, 100], [150, 150]],
                "mode": "region"}
        textbox.fill(json.dumps(line))
        page.wait_for_function("""() => document.querySelector('.coupled-sde-drag-status').textContent
            .includes('one line')""", timeout=5000)
        assert status.text_content().startswith("region mode: 3 arrows = affine"), status.text_content()
        line["sources"][2] = [140, 60]
        textbox.fill(json.dumps(line))
        page.wait_for_function("""() => !document.querySelector('.coupled-sde-drag-status').textContent
            .includes('one line')""", timeout=5000)
        assert not status.evaluate("e => e.classList.contains('coupled-sde-drag-warning')"), status.text_content()
        textbox.fill(region_text)
        page.wait_for_timeout(300)

        # back to Points: the "mode" key is gone, the rest as it was; the mask is the blue
        # editable region again and no overlay is drawn
        button("Points").click()
        page.wait_for_timeout(300)
        back = json.loads(widget_values(page, node_id)["points"])
        assert "mode" not in back and back == {k: v for k, v in json.loads(region_text).items() if k != "mode"}, back
        assert (pressed("Points"), pressed("Region")) == ("true", "false")
        assert button("Paint mask").count() == 1 and button("Paint region").count() == 0
        assert status.text_content().startswith("2 pair(s), painted mask"), status.text_content()
        # no overlay: none of its outline's orange (counted in region mode as a check of the count)
        assert outline_pixels(rotated) > 50 and outline_pixels(canvas_pixels(page)) == 0
        # points mode draws arrows as before and keeps no "mode" key
        page.mouse.click(*at(0.1, 0.9))
        page.mouse.click(*at(0.2, 0.9))
        assert "mode" not in json.loads(widget_values(page, node_id)["points"])

        # a workflow whose points text says region opens in region mode
        wf = workflow(workflow_files, "drag_region")
        wf["8"]["inputs"]["points"] = json.dumps({"sources": [[74, 74]], "targets": [[160, 150]], "mode": "region"})
        wf["8"]["inputs"]["mask_strokes"] = "[[74, 74, 30, 1]]"
        page.evaluate("(wf) => window.app.loadApiJson(wf, 'drag_region2.json')", wf)
        page.wait_for_timeout(1500)
        assert (pressed("Points"), pressed("Region")) == ("false", "true")
        assert status.text_content().startswith("region mode: 1 arrow = move"), status.text_content()
        browser.close()
    check(page.problems, f"frontend {version}, region mode")
