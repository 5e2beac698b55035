"""Helper nodes with no model evaluation: settings presets per model family (Edit Settings, SDE
Drag Settings) and Edit Difference (what an edit changed). Node ids and preset names are permanent.
"""

from __future__ import annotations

from comfy_api.latest import io, ui

from . import bridge, presets
from .common import CATEGORY
from .diagnostics import LOG, MODES, PREFIX, enlarged_for_display, image_difference
from .presets import DRAG_PRESETS, EDIT_PRESETS

_DESCRIPTION_TIP = ("Every value of the preset with its source (sync-SDE reference code, FlowEdit paper, SDE-Drag "
                    "paper) or 'unmeasured'. Wire it into a Preview Any node to read it; the node also logs it.")


def _wire(what: str) -> str:
    return f"{what} Drag this output onto the widget of the same name to drive it."


def _preset_tip(table: dict, nodes: str) -> str:
    return (f"The model family and the source of the numbers, for {nodes}. Presets marked '(unmeasured)' are starting "
            "points nobody has measured on real weights; the description output lists every value with its source. "
            "Presets: " + "; ".join(table) + ".")


class EditSettings(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_EditSettings",
            display_name="Edit Settings (Coupled SDE)",
            category=CATEGORY,
            description="Settings per model family for Sync-SDE Edit and FlowEdit (steps and start_step also fit "
                        "Forward Noising and Cycle-SDE Inversion), each with its source or marked unmeasured. "
                        "Wire the outputs into the widgets of the same names (and SIGMAS into sigmas); the "
                        "description output lists what the preset set.",
            inputs=[
                io.Model.Input("model", tooltip=(
                    "The MODEL you edit with (after LoRA and ModelSampling patches): SIGMAS is computed from its "
                    "own sampling settings, as BasicScheduler computes it.")),
                io.Combo.Input("preset", options=list(EDIT_PRESETS), default=next(iter(EDIT_PRESETS)),
                               tooltip=_preset_tip(EDIT_PRESETS, "Sync-SDE Edit, FlowEdit and Cycle-SDE")),
                io.Latent.Input("latent", optional=True, tooltip=(
                    "The LATENT you edit (VAE Encode's output). Needed only by presets that schedule with "
                    "Flux2Scheduler (Flux.2), whose sigmas depend on the image size; the others ignore it.")),
            ],
            outputs=[
                io.Sigmas.Output("sigmas", display_name="SIGMAS", tooltip=(
                    "The whole schedule (the preset's steps and scheduler on this MODEL; Flux2Scheduler presets: "
                    "on the latent's image size), for the sigmas input.")),
                io.Int.Output("steps", display_name="steps", tooltip=_wire(
                    "Steps of the schedule (for BasicScheduler, if you schedule yourself).")),
                io.Int.Output("start_step", display_name="start_step", tooltip=_wire(
                    "Where editing starts (FlowEdit: steps - n_max).")),
                io.Float.Output("source_guidance", display_name="source_guidance", tooltip=_wire(
                    "FluxGuidance of the source prompt (Flux only; 1.0 and unused for other families).")),
                io.Float.Output("target_guidance", display_name="target_guidance", tooltip=_wire(
                    "FluxGuidance of the target prompt (Flux only; 1.0 and unused for other families).")),
                io.Float.Output("source_cfg", display_name="source_cfg", tooltip=_wire("cfg of the source branch.")),
                io.Float.Output("target_cfg", display_name="target_cfg", tooltip=_wire("cfg of the target branch.")),
                io.Int.Output("n_avg", display_name="n_avg", tooltip=_wire("FlowEdit's n_avg (1 when unused).")),
                io.String.Output("description", display_name="description", tooltip=_DESCRIPTION_TIP),
                io.Float.Output("localize", display_name="localize", tooltip=_wire(
                    "Sync-SDE Edit's / Coupled Sampling's localize (0 = off; the '· localized' presets turn it "
                    "on).")),
            ],
        )

    @classmethod
    def execute(cls, model, preset, latent=None) -> io.NodeOutput:
        p = presets.get(EDIT_PRESETS, preset)
        if p.scheduler.value == presets.FLUX2_SCHEDULER:
            sigmas = bridge.flux2_schedule(model, p["steps"], latent, preset)
        else:
            sigmas = bridge.schedule(model, p.scheduler.value, p["steps"])
        extra = {"start_step": f"sigma {float(sigmas[p['start_step']]):.3f}"}
        LOG.info("%sEdit Settings %s", PREFIX, p.one_line(extra))
        return io.NodeOutput(sigmas, *(p[k] for k in presets.EDIT_KEYS), p.describe(extra),
                             *(p[k] for k in presets.EDIT_KEYS_AFTER_DESCRIPTION))


class DragSettings(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_DragSettings",
            display_name="SDE Drag Settings (Coupled SDE)",
            category=CATEGORY,
            description="Settings per model family for SDE Drag, each with its source (the SDE-Drag paper, on "
                        "SD1.5) or marked unmeasured. Wire the outputs into SDE Drag's widgets of the same names; "
                        "the description output lists what the preset set.",
            inputs=[io.Combo.Input("preset", options=list(DRAG_PRESETS), default=next(iter(DRAG_PRESETS)),
                                   tooltip=_preset_tip(DRAG_PRESETS, "SDE Drag"))],
            outputs=[
                io.Float.Output("t0", display_name="t0", tooltip=_wire("Where each iteration starts (a fraction).")),
                io.Int.Output("steps", display_name="steps", tooltip=_wire("Steps of the whole schedule.")),
                io.Float.Output("drag_step", display_name="drag_step", tooltip=_wire("Latent cells per iteration.")),
                io.Float.Output("alpha", display_name="alpha", tooltip=_wire("Strength of the pasted window.")),
                io.Float.Output("beta", display_name="beta", tooltip=_wire("Old content kept in the source window.")),
                io.Int.Output("r", display_name="r", tooltip=_wire("Half-width of the window in latent cells.")),
                io.Float.Output("cfg_max", display_name="cfg_max", tooltip=_wire("CFG at t0.")),
                io.Float.Output("guidance", display_name="guidance", tooltip=(
                    "FluxGuidance of the prompt (Flux only; 1.0 and unused for other families). Drag it onto the "
                    "FluxGuidance node's guidance widget.")),
                io.String.Output("description", display_name="description", tooltip=_DESCRIPTION_TIP),
                io.Combo.Output("fill", display_name="fill", tooltip=_wire(
                    "The vacated area's fresh noise (unit (paper) or path level).")),
            ],
        )

    @classmethod
    def execute(cls, preset) -> io.NodeOutput:
        p = presets.get(DRAG_PRESETS, preset)
        LOG.info("%sSDE Drag Settings %s", PREFIX, p.one_line())
        return io.NodeOutput(*(p[k] for k in presets.DRAG_KEYS), p.describe(),
                             *(p[k] for k in presets.DRAG_EXTRA_KEYS))


class EditDifference(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_EditDifference",
            display_name="Edit Difference (Coupled SDE)",
            category=CATEGORY,
            description="What an edit changed: |edited - source| as a heat map (shown on the node), the changed "
                        "pixels as a MASK, and a summary (mean |difference|, fraction of pixels changed).",
            is_output_node=True,
            inputs=[
                io.Image.Input("source", tooltip=(
                    "The image before the edit. Best: VAE Decode of the source LATENT, so that the VAE's own "
                    "round-trip error cancels and only the edit shows; the original image shows that error too. "
                    "One image for every edited image, or one per edited image.")),
                io.Image.Input("edited", tooltip=(
                    "The edited image (VAE Decode of the edit), same size as the source (VAE Encode's crop to a "
                    "multiple of 8/16/32/64 px is undone on the source).")),
                io.Combo.Input("mode", options=list(MODES), default=MODES[0], tooltip=(
                    "heat map: the largest channel change of each pixel, black (none) -> red -> yellow -> white. "
                    "amplified difference: gain x |difference| per colour channel. overlay: the heat in red to "
                    "yellow over the edited image in grey.")),
                io.Float.Input("gain", default=4.0, min=0.1, max=100.0, step=0.1, tooltip=(
                    "Amplification of the picture: 1 = true scale; 4 (default) shows a change of a quarter of the "
                    "full range at full strength. Does not affect the numbers.")),
                io.Float.Input("threshold", default=0.05, min=0.0, max=1.0, step=0.01, tooltip=(
                    "A pixel whose largest channel change exceeds this (pixel values 0 to 1; 0.05 = 13 of 255) "
                    "counts as changed: the MASK output and changed_fraction.")),
            ],
            outputs=[
                io.Image.Output("difference", display_name="IMAGE", tooltip="The difference picture (see mode)."),
                io.Mask.Output("changed", display_name="MASK", tooltip=(
                    "White where a pixel changed by more than threshold (e.g. to check a masked edit, or to mask a "
                    "new edit).")),
                io.String.Output("summary", display_name="summary", tooltip=(
                    "Mean |edited - source|, the largest change and the fraction of changed pixels, per image for a "
                    "batch. Wire it into a Preview Any node to read it; the node also logs it.")),
                io.Float.Output("mean_abs_difference", display_name="mean_abs_difference", tooltip=(
                    "Mean |edited - source| over every pixel and channel (pixel values 0 to 1).")),
                io.Float.Output("changed_fraction", display_name="changed_fraction", tooltip=(
                    "Fraction (0 to 1) of pixels changed by more than threshold.")),
            ],
        )

    @classmethod
    def execute(cls, source, edited, mode="heat map", gain=4.0, threshold=0.05) -> io.NodeOutput:
        d = image_difference(source, edited, mode=mode, gain=gain, threshold=threshold)
        LOG.info("%s%s", PREFIX, d.summary)
        return io.NodeOutput(d.image, d.mask, d.summary, d.mean_abs, d.changed_fraction,
                             ui=ui.PreviewImage(enlarged_for_display(d.image), cls=cls))


NODES = [EditSettings, DragSettings, EditDifference]
