"""Regenerate example_workflows/*.json, their .png thumbnails, and the frontend's API twins
(tests/integration/workflow_api/*.json) from example_graphs.py, through ComfyUI's real frontend:

    COMFYUI_PATH=<ComfyUI checkout> python3 tests/integration/build_example_workflows.py [NAME ...]

Each graph (or only the NAMEs given) is loaded with the frontend's own API loader, its loader nodes
given ``properties.models`` (file, download URL, folder: example_graphs.MODEL_URLS, the format of
ComfyUI's templates), laid out, given its note, with seeds set to "fixed", and saved exactly as the
frontend's "Save" writes it (app.graph.serialize()). Needs Playwright and a Chromium.

Thumbnails: a screenshot of the graph, except for the demo workflows (``demo_*``, which need no
model file): those are executed here as saved (the frontend's API conversion, through
``validate_prompt`` + ``PromptExecutor``) and their thumbnail is their real output, the saved
images side by side (``demo_workflows.thumbnail``); the scene judge's verdict is printed, and the
exit status is 1 if a check failed.
"""

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from comfy_env import ROOT, Comfy, comfy_server, find_comfyui, open_page  # noqa: E402
from demo_workflows import judge, run_workflow, thumbnail  # noqa: E402
from example_graphs import all_graphs, model_entries, renumber  # noqa: E402

OUT = ROOT / "example_workflows"
TWINS = HERE / "workflow_api"

# properties.models on each loader node, as ComfyUI's templates carry them (the "Missing Models" downloads)
MODELS_JS = """(entries) => {
  for (const [id, models] of Object.entries(entries)) {
    const node = window.app.graph.getNodeById(Number(id));
    node.properties = {...(node.properties ?? {}), models};
  }
}"""

LAYOUT_JS = """([name, note]) => {
  const app = window.app, graph = app.graph;
  for (const n of graph._nodes)
    for (const w of n.widgets ?? []) if (w.name === "control_after_generate") w.value = "fixed";
  // image nodes grow to show their image after a run: give them that size before the layout, so
  // they do not cover their neighbours then
  for (const n of graph._nodes)
    if (n.type === "SaveImage" || n.type === "PreviewImage") n.setSize([270, 330]);
    // the pack's nodes that show their output image under their widgets
    else if (n.type === "CoupledSDE_EditBlend" || n.type === "CoupledSDE_EditDifference")
      n.setSize([Math.max(n.size[0], 270), n.size[1] + 270]);
  graph.arrange(40);
  const nodes = graph._nodes;
  const minX = Math.min(...nodes.map(n => n.pos[0])), minY = Math.min(...nodes.map(n => n.pos[1]));
  const noteNode = LiteGraph.createNode("Note");
  noteNode.pos = [minX, minY - 230];
  noteNode.size = [520, 190];
  noteNode.title = "How to use: " + name.replaceAll("_", " ");
  noteNode.widgets[0].value = note;
  graph.add(noteNode);
  const all = graph._nodes;
  const x0 = Math.min(...all.map(n => n.pos[0])), y0 = Math.min(...all.map(n => n.pos[1] - 30));
  const x1 = Math.max(...all.map(n => n.pos[0] + n.size[0])), y1 = Math.max(...all.map(n => n.pos[1] + n.size[1]));
  const rect = app.canvas.canvas.getBoundingClientRect(), ds = app.canvas.ds;
  ds.scale = Math.min(rect.width / (x1 - x0 + 80), rect.height / (y1 - y0 + 80), 1);
  ds.offset[0] = (rect.width / ds.scale - (x1 - x0)) / 2 - x0;
  ds.offset[1] = (rect.height / ds.scale - (y1 - y0)) / 2 - y0;
  app.canvas.setDirty(true, true);
}"""


def main():
    import torch
    from PIL import Image
    from playwright.sync_api import sync_playwright

    path, why = find_comfyui()
    if path is None:
        sys.exit(why)
    chosen = {name: v for name, v in all_graphs().items() if len(sys.argv) < 2 or name in sys.argv[1:]}
    unknown = set(sys.argv[1:]) - set(all_graphs())
    if unknown:
        sys.exit(f"no example graph named {', '.join(sorted(unknown))}")
    torch.set_num_threads(1)  # the demo workflows run here: tiny, more threads mostly wait on each other
    comfy = Comfy(path)
    OUT.mkdir(exist_ok=True)
    TWINS.mkdir(exist_ok=True)
    failed, demos = [], {}
    with tempfile.TemporaryDirectory() as tmp, comfy_server(comfy, Path(tmp) / "models", Path(tmp)) as url:
        comfy.folder_paths.set_output_directory(str(Path(tmp) / "demo_output"))
        with sync_playwright() as pw:
            for name, (graph, note) in chosen.items():
                browser, page = open_page(pw, url)
                api_graph = renumber(graph)
                page.evaluate("([wf, name]) => window.app.loadApiJson(wf, name)", [api_graph, name])
                page.wait_for_timeout(1500)
                page.evaluate(MODELS_JS, model_entries(api_graph))
                page.evaluate(LAYOUT_JS, [name, note])
                page.wait_for_timeout(800)
                # through JSON.stringify, as "Save" writes it: keys the graph leaves undefined are
                # omitted (handed over as objects they would come back as nulls, which older
                # frontends' workflow schema rejects)
                ui = json.loads(page.evaluate("() => JSON.stringify(window.app.graph.serialize())"))
                api = page.evaluate("async () => (await window.app.graphToPrompt()).output")
                shot = Path(tmp) / f"{name}.png"
                page.locator("canvas#graph-canvas").screenshot(path=str(shot))
                browser.close()
                (OUT / f"{name}.json").write_text(json.dumps(ui, indent=1) + "\n")
                (TWINS / f"{name}.json").write_text(json.dumps(api, indent=1, sort_keys=True) + "\n")
                print(f"{name}: {len(ui['nodes'])} nodes, {len(api)} executable")
                if name.startswith("demo_"):
                    demos[name] = api
                    continue
                img = Image.open(shot).convert("RGB")
                img.thumbnail((640, 400))
                img.save(OUT / f"{name}.png", optimize=True)
        # the demo workflows' thumbnails: the real output of what was just saved, run as the server runs a
        # queued prompt (after the browser: Playwright's sync API holds this thread's event loop)
        for name, api in demos.items():
            run = run_workflow(comfy, OUT / f"{name}.json", api=api)
            j = judge(run)
            print("\n".join(j.lines()))
            if j.failed:
                failed.append(name)
            thumbnail(run).save(OUT / f"{name}.png", optimize=True)
    if failed:
        sys.exit(f"the scene judge failed {', '.join(failed)} (see above)")


if __name__ == "__main__":
    main()
