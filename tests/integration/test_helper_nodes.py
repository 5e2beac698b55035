"""The helper nodes in a real ComfyUI (Edit Settings, SDE Drag Settings, Edit Difference), wired
into the edit nodes through the executor, and the edit nodes' one-line change hint."""

import asyncio
import json
import logging
from pathlib import Path

import pytest
import torch
from comfy_env import stock_sd15_graph

from comfyui_coupled_sde.nodes import presets as P

SETTINGS, DRAG_SETTINGS, DIFF = "CoupledSDE_EditSettings", "CoupledSDE_DragSettings", "CoupledSDE_EditDifference"
SYNC = "CoupledSDE_SyncSDEEdit"
LOGGER = "comfyui_coupled_sde"


def pack_records(caplog, level=logging.INFO):
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= level]


@pytest.mark.parametrize("name", list(P.EDIT_PRESETS))
def test_edit_settings_outputs_every_preset_value_and_basic_scheduler_sigmas(comfy, flux, sd15, name, caplog):
    p = P.EDIT_PRESETS[name]
    info = comfy.N[SETTINGS].GET_NODE_INFO_V1()
    assert info["output_name"] == ["SIGMAS", *P.EDIT_KEYS, "description", *P.EDIT_KEYS_AFTER_DESCRIPTION]
    assert info["output"] == ["SIGMAS", "INT", "INT", "FLOAT", "FLOAT", "FLOAT", "FLOAT", "INT", "STRING", "FLOAT"]
    flux2 = p.scheduler.value == P.FLUX2_SCHEDULER
    has_flux2 = "Flux2Scheduler" in comfy.N
    if flux2 and not has_flux2:  # a ComfyUI from before Flux.2: refused by name, never a wrong schedule
        with pytest.raises(ValueError, match="^preset: .*Flux2Scheduler, which this ComfyUI does not have"):
            comfy.run(SETTINGS, model=flux, preset=name, latent={"samples": torch.zeros(1, 16, 96, 64)})
        return
    if flux2:
        with pytest.raises(ValueError, match="^latent: the preset .*connect the LATENT you edit"):
            comfy.run(SETTINGS, model=flux, preset=name)
    for model in (flux, sd15):
        latent = {"samples": torch.zeros(1, model.model.latent_format.latent_channels, 96, 64)}
        with caplog.at_level(logging.INFO, logger=LOGGER):
            caplog.clear()
            sigmas, *numbers, text, localize = comfy.run(SETTINGS, model=model, preset=name, latent=latent)
        if flux2:  # the stock Flux2Scheduler at the latent's image size (8 px per cell for these two models)
            (stock,) = comfy.stock("Flux2Scheduler", "execute", p["steps"], 64 * 8, 96 * 8)
        else:
            (stock,) = comfy.stock("BasicScheduler", "get_sigmas", model, p.scheduler.value, p["steps"], 1.0)
        assert torch.equal(sigmas, torch.as_tensor(stock, dtype=sigmas.dtype))  # what the stock node gives
        assert numbers == [p[k] for k in P.EDIT_KEYS] and localize == p["localize"]
        assert text.startswith(name + "\n") and f"sigma {float(sigmas[p['start_step']]):.3f}" in text
        assert ("unmeasured" in text) == bool(p.unmeasured())
        (record,) = pack_records(caplog)
        assert record.getMessage().startswith(f"[Coupled SDE] Edit Settings '{name}': steps {p['steps']}")


def _template(name: str):
    """A workflow template of the installed comfyui-workflow-templates, as JSON, or None."""
    import importlib.util

    spec = importlib.util.find_spec("comfyui_workflow_templates_json")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "templates" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _template_nodes(wf: dict) -> list:
    nodes = list(wf.get("nodes", []))
    for sub in wf.get("definitions", {}).get("subgraphs", []):
        nodes += sub.get("nodes", [])
    return [n for n in nodes if n.get("mode", 0) == 0]  # not muted or bypassed


def test_template_sourced_presets_match_comfyui_templates():
    """The presets sourced to ComfyUI's workflow templates hold the template's steps, scheduler, cfg and
    shift (the note names the template, the shift note the node and value)."""
    checked = 0
    for name, p in P.EDIT_PRESETS.items():
        if p.values["steps"].source != P.TEMPLATE:
            continue
        wf = _template(p.values["steps"].note)
        if wf is None:
            continue  # this ComfyUI's templates package lacks it (or is not installed)
        samplers = set()  # (steps, scheduler, cfg) as the template samples
        shifts, schedulers, guiders = set(), set(), set()
        for n in _template_nodes(wf):
            w = n.get("widgets_values") or []
            if n["type"] == "KSampler":
                samplers.add((w[2], w[5], float(w[3])))
            elif n["type"] == "KSamplerAdvanced":
                samplers.add((w[3], w[6], float(w[4])))
            elif n["type"] in ("ModelSamplingAuraFlow", "ModelSamplingSD3"):
                shifts.add((n["type"], round(float(w[0]), 3)))
            elif n["type"] == "Flux2Scheduler":
                schedulers.add((w[0], P.FLUX2_SCHEDULER))
            elif n["type"] == "BasicScheduler":
                schedulers.add((w[1], w[0]))
            elif n["type"] == "CFGGuider":
                guiders.add(float(w[0]))
        ours = (p["steps"], p.scheduler.value, p["target_cfg"])
        assert ours in samplers or (ours[:2] in schedulers and ours[2] in guiders), (name, samplers, schedulers,
                                                                                     guiders)
        for note in p.notes:
            if " shift " in note and "on the MODEL" in note:
                node, value = note.split(" shift ")[0], float(note.split(" shift ")[1].split()[0])
                assert (node, round(value, 3)) in shifts, (name, note, shifts)
        checked += 1
    if checked == 0:
        pytest.skip("comfyui-workflow-templates is not installed with this ComfyUI")
    assert checked >= 10


def test_drag_settings_and_unknown_presets(comfy):
    info = comfy.N[DRAG_SETTINGS].GET_NODE_INFO_V1()
    assert info["output_name"] == [*P.DRAG_KEYS, "description", *P.DRAG_EXTRA_KEYS]
    fills = comfy.N["CoupledSDE_SDEDrag"].INPUT_TYPES()["optional"]["fill"]
    fills = fills[1]["options"] if fills[0] == "COMBO" else fills[0]  # V3 type name + options, or the V1 list
    for name, p in P.DRAG_PRESETS.items():
        *numbers, text, fill = comfy.run(DRAG_SETTINGS, preset=name)
        assert numbers == [p[k] for k in P.DRAG_KEYS] and text.startswith(name)
        assert fill == p["fill"] and fill in fills, (name, fill, fills)  # a value SDE Drag's combo takes
    paper = comfy.run(DRAG_SETTINGS, preset="SD1.5 · SDE-Drag (paper)")
    assert paper[:7] == (0.6, 100, 2.0, 1.1, 0.3, 5, 3.0)
    with pytest.raises(ValueError, match="^preset: unknown preset"):
        comfy.run(DRAG_SETTINGS, preset="SD4")


def test_edit_difference_node(comfy, caplog):
    g = torch.Generator().manual_seed(0)
    src = torch.rand(1, 36, 40, 3, generator=g)
    edited = src[:, 2:34, 4:36].clone().repeat(2, 1, 1, 1)  # VAE Encode's crop to 32 x 32, a batch of two
    edited[1, :16] = 1 - edited[1, :16]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        image, mask, summary, mean_abs, frac = comfy.run(DIFF, source=src, edited=edited, mode="heat map", gain=4.0,
                                                         threshold=0.05)
    assert image.shape == (2, 32, 32, 3) and mask.shape == (2, 32, 32)
    assert torch.equal(mask[0], torch.zeros(32, 32)) and mask[1, 16:].sum() == 0 and mask[1, :16].mean() > 0.8
    assert 0 < mean_abs < 0.25 and 0.2 < frac < 0.5 and "2 images of 32x32" in summary
    (record,) = pack_records(caplog)
    assert record.getMessage() == "[Coupled SDE] " + summary
    # the node shows the picture (an output node: it runs without a consumer)
    out = comfy.N[DIFF].execute(source=src, edited=edited)
    assert comfy.N[DIFF].GET_NODE_INFO_V1()["output_node"] is True
    assert len(out.ui.as_dict()["images"]) == 2
    with pytest.raises(ValueError, match=r"^edited: is 30x32 pixels \(width x height\), but source is 40x36"):
        comfy.run(DIFF, source=src, edited=edited[:, :, :30])
    with pytest.raises(ValueError, match="^edited: has 2 images, but source has 3"):
        comfy.run(DIFF, source=torch.rand(3, 32, 32, 3), edited=edited)


# ---- the settings wired into the edit nodes, through the executor ----------------------------------

@pytest.fixture(scope="module")
def server(comfy, tmp_path_factory):
    if getattr(comfy.server.PromptServer, "instance", None) is None:
        comfy.server.PromptServer(asyncio.new_event_loop())
    out = tmp_path_factory.mktemp("output")
    comfy.folder_paths.set_output_directory(str(out))
    comfy.folder_paths.set_temp_directory(str(tmp_path_factory.mktemp("temp")))
    return out


def settings_graph(files):
    """Edit Settings -> Sync-SDE Edit (SIGMAS, start_step, both cfg, FluxGuidance on both prompts),
    SDE Drag Settings -> SDE Drag (every value), Edit Difference of each, Preview Any of the texts."""
    sd15_preset = "SD1.5 · sync-SDE, Cycle-SDE (t0 paper; rest unmeasured)"
    empty = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0x336699}}
    g = stock_sd15_graph(files, empty, {"6": "a photo of a cat", "7": "a photo of a dog", "8": ""})
    g.update({
        "40": {"class_type": SETTINGS, "inputs": {"model": ["1", 0], "preset": sd15_preset}},
        "41": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["6", 0], "guidance": ["40", 3]}},
        "42": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["7", 0], "guidance": ["40", 4]}},
        "43": {"class_type": SYNC, "inputs": {
            "model": ["1", 0], "source_positive": ["41", 0], "target_positive": ["42", 0], "latent": ["5", 0],
            "sigmas": ["40", 0], "start_step": ["40", 2], "seed": 3, "solver": "posterior",
            "source_negative": ["8", 0], "target_negative": ["8", 0], "source_cfg": ["40", 5],
            "target_cfg": ["40", 6], "batch_branches": True}},
        "44": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["3", 0]}},
        "45": {"class_type": "VAEDecode", "inputs": {"samples": ["43", 0], "vae": ["3", 0]}},
        "46": {"class_type": DIFF, "inputs": {"source": ["44", 0], "edited": ["45", 0], "mode": "overlay",
                                              "gain": 4.0, "threshold": 0.05}},
        "47": {"class_type": "SaveImage", "inputs": {"images": ["46", 0], "filename_prefix": "t/difference"}},
        "48": {"class_type": "PreviewAny", "inputs": {"source": ["40", 8]}},
        "49": {"class_type": "PreviewAny", "inputs": {"source": ["40", 2]}},
        "50": {"class_type": "PreviewAny", "inputs": {"source": ["46", 2]}},
        "60": {"class_type": DRAG_SETTINGS, "inputs": {"preset": "SD1.5 · SDE-Drag (paper)"}},
        "61": {"class_type": "CoupledSDE_DragPoints", "inputs": {
            "image": ["4", 0], "points": '{"sources": [[20, 20]], "targets": [[36, 20]]}', "mask_strokes": "[]"}},
        "62": {"class_type": "CoupledSDE_SDEDrag", "inputs": {
            "model": ["1", 0], "positive": ["6", 0], "negative": ["8", 0], "latent": ["5", 0],
            "drag_points": ["61", 0], "mask": ["61", 1], "t0": ["60", 0], "steps": ["60", 1],
            "drag_step": ["60", 2], "alpha": ["60", 3], "beta": ["60", 4], "r": ["60", 5], "cfg_max": ["60", 6],
            "seed": 2, "solver": "posterior"}},
        "63": {"class_type": "SaveLatent", "inputs": {"samples": ["62", 0], "filename_prefix": "t/settings_drag"}},
        "64": {"class_type": "PreviewAny", "inputs": {"source": ["60", 8]}},
    })
    return g


def test_settings_drive_the_edit_nodes_through_the_executor(comfy, workflow_files, server, caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER):
        ex = execute_all(comfy, settings_graph(workflow_files))
    errors = [m[1] for m in ex.status_messages if m[0] == "execution_error"]
    assert ex.success and not errors, errors[:1]
    ui = ex.history_result["outputs"]
    description = ui["48"]["text"][0]
    assert description.startswith("SD1.5 · sync-SDE, Cycle-SDE") and "start_step = 20" in description
    assert ui["49"]["text"][0] == "20"  # the INT that drove Sync-SDE Edit's start_step widget
    assert ui["50"]["text"][0].startswith("Edit Difference, 1 image of 64x64")
    assert ui["64"]["text"][0].startswith("SD1.5 · SDE-Drag (paper)\nfor SDE Drag on SD1.5\nt0 = 0.6")
    assert len(ui["46"]["images"]) == 1  # the heat map on the node
    assert len(list((server / "t").glob("difference_*.png"))) == 1
    messages = [r.getMessage() for r in pack_records(caplog)]
    assert sum(m.startswith("[Coupled SDE] Edit Settings 'SD1.5") for m in messages) == 1
    assert sum(m.startswith("[Coupled SDE] SDE Drag Settings 'SD1.5 · SDE-Drag (paper)'") for m in messages) == 1
    # any hint of the two edits names the settings they ran with
    for m in messages:
        if m.startswith("[Coupled SDE] Sync-SDE Edit"):
            assert "(now 20 of 50)" in m, m
        if m.startswith("[Coupled SDE] SDE Drag changed"):
            assert "t0 (now 0.6)" in m, m


def execute_all(comfy, prompt):
    """``execute`` for a graph whose outputs include Preview Any and Edit Difference nodes."""
    import uuid

    pid = str(uuid.uuid4())
    valid, error, outputs, node_errors = asyncio.run(comfy.execution.validate_prompt(pid, prompt, None))
    assert valid and not node_errors, (error, node_errors)
    ex = comfy.executor()
    asyncio.run(ex.execute_async(prompt, pid, {}, outputs))
    return ex


# ---- the change hint of each edit node ----------------------------------------------------------

def sigmas(comfy, model, steps=6, scheduler="simple"):
    (s,) = comfy.stock("BasicScheduler", "get_sigmas", model, scheduler, steps, 1.0)
    return s


def run_logged(comfy, caplog, node_id, **inputs):
    """Run a node; return its outputs and the pack's log lines of that run."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        out = comfy.run(node_id, **inputs)
    return out, [(r.levelno, r.getMessage()) for r in pack_records(caplog)]


def test_hint_for_a_no_op_and_an_identity_edit(comfy, flux, conds, caplog):
    src, tgt, lat = conds.flux(), conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    base = dict(model=flux, source_positive=src, latent=lat, sigmas=sig, seed=3)
    # the same prompt on both branches: a reconstruction, said at INFO
    (out, _), lines = run_logged(comfy, caplog, SYNC, **base, target_positive=src, start_step=1)
    assert torch.equal(out["samples"], lat["samples"])
    ((level, msg),) = lines
    assert level == logging.INFO and msg.startswith("[Coupled SDE] Sync-SDE Edit: the target is the source prompt")
    # another prompt from the last step: almost no change, and what to change
    (out, _), lines = run_logged(comfy, caplog, SYNC, **base, target_positive=tgt, start_step=5)
    ((level, msg),) = lines
    assert level == logging.WARNING, msg
    assert msg.startswith("[Coupled SDE] Sync-SDE Edit changed the latent by only")
    assert "lower start_step (now 5 of 6)" in msg and "mask" not in msg  # none connected
    # a normal edit from the start: whatever it logs is one line at most
    _, lines = run_logged(comfy, caplog, SYNC, **base, target_positive=tgt, start_step=0)
    assert len(lines) <= 1
    # FlowEdit: the same prompt, and the last step
    _, lines = run_logged(comfy, caplog, "CoupledSDE_FlowEdit", **base, target_positive=src, start_step=1)
    assert [lv for lv, _ in lines] == [logging.INFO] and "FlowEdit: the target is the source prompt" in lines[0][1]
    _, lines = run_logged(comfy, caplog, "CoupledSDE_FlowEdit", **base, target_positive=tgt, start_step=5)
    ((level, msg),) = lines
    assert level == logging.WARNING and "lower start_step (now 5 of 6, i.e. n_max 1)" in msg


def test_hint_for_increments_nodes_and_drag(comfy, flux, sd15, conds, caplog):
    src, tgt, lat = conds.flux(), conds.flux(), conds.latent(1, 16, 16, 16)
    sig = sigmas(comfy, flux)
    (path,) = comfy.run("CoupledSDE_ForwardNoising", model=flux, latent=lat, sigmas=sig, start_step=5, seed=3)
    (inc,) = comfy.run("CoupledSDE_BackwardIncrements", model=flux, positive=src, path=path)
    _, lines = run_logged(comfy, caplog, "CoupledSDE_CoupledSampling", model=flux, positive=src, increments=inc)
    assert [lv for lv, _ in lines] == [logging.INFO] and "reconstruction" in lines[0][1]
    mask = torch.ones(1, 128, 128)
    _, lines = run_logged(comfy, caplog, "CoupledSDE_CoupledSampling", model=flux, positive=tgt, increments=inc,
                          mask=mask)
    ((level, msg),) = lines
    assert level == logging.WARNING and "lower start_step on Forward Noising (now 5 of 6)" in msg
    assert "over the mask's white area" in msg and "widen the mask" in msg
    # Cycle-SDE: the reconstruction with the inversion's prompt and cfg
    sd_src, sd_neg, sd_lat = conds.sd(), conds.sd(), conds.latent(1, 4, 8, 8)
    sd_sig = sigmas(comfy, sd15, scheduler="normal")
    (cinc,) = comfy.run("CoupledSDE_CycleSDEInversion", model=sd15, positive=sd_src, latent=sd_lat, sigmas=sd_sig,
                        start_step=2, seed=2, negative=sd_neg, cfg=3.0)
    _, lines = run_logged(comfy, caplog, "CoupledSDE_CycleSDESampling", model=sd15, positive=sd_src, increments=cinc,
                          negative=sd_neg, cfg=3.0)
    assert [lv for lv, _ in lines] == [logging.INFO] and "Cycle-SDE Sampling: the target is the source" in lines[0][1]
    _, lines = run_logged(comfy, caplog, "CoupledSDE_CycleSDESampling", model=sd15, positive=sd_src, increments=cinc,
                          negative=sd_neg, cfg=1.0)  # another cfg: no longer the inversion's branch
    assert all("the target is the source" not in m for _, m in lines) and len(lines) <= 1
    if lines:
        assert "use Cycle-SDE Inversion's cfg here too (now 3 there, 1 here)" in lines[0][1] \
            or "lower start_step on Cycle-SDE Inversion (now 2 of 6)" in lines[0][1]
    # SDE Drag: arrows inside one latent cell drag nothing
    p = json.dumps({"sources": [[40, 40]], "targets": [[44, 43]], "width": 128, "height": 128})
    (out,), lines = run_logged(comfy, caplog, "CoupledSDE_SDEDrag", model=flux, positive=src, latent=lat,
                               drag_points=p, steps=10, cfg_max=1.0)
    assert torch.equal(out["samples"], lat["samples"])
    ((level, msg),) = lines
    assert level == logging.WARNING and "same latent cell, so nothing was dragged" in msg
