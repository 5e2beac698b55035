"""sync-SDE and Cycle-SDE as V3 nodes: thin schemas over ``..sampling`` and ``.bridge``.

Node ids are permanent (saved workflows refer to them): never rename one.
"""

from __future__ import annotations

import math

import torch
from comfy_api.latest import io

from ..sampling import (
    backward_increments,
    coupled_sample,
    cycle_sde_sample,
    forward_path,
    sync_sde_edit,
)
from . import bridge
from .common import (
    CATEGORY,
    TARGET_MODEL_BATCH,
    Branch,
    EditMap,
    IncrementsType,
    PathType,
    SourceIncrements,
    SourcePath,
    batch_branches_input,
    branch,
    cfg_input,
    edit_mask,
    edit_mask_output,
    latent_output,
    localize_input,
    localize_value,
    log_hint,
    mask_advice,
    mask_input,
    model_input,
    negative_input,
    output_latent,
    same_branch,
    seed_input,
    sigmas_input,
    solver_input,
    start_step_input,
    target_model_input,
    two_branch_edit,
)

# ---- nodes ---------------------------------------------------------------------------------

class ForwardNoising(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_ForwardNoising",
            display_name="Forward Noising (Coupled SDE)",
            category=CATEGORY,
            description="Noise the source latent along ONE Brownian path through every sigma from start_step "
                        "to 0. No model call. Feed it to Backward Brownian Increments.",
            inputs=[
                model_input(),
                io.Latent.Input("latent", tooltip="The source latent (VAE Encode of the image to edit)."),
                sigmas_input(),
                start_step_input(),
                seed_input(),
                io.Combo.Input("path", options=["brownian", "resample"], default="brownian", optional=True,
                               tooltip="brownian: one Brownian path (sync-SDE). resample: an independent noisy "
                                       "latent per step (edit-friendly DDPM / the reference's resample=True)."),
            ],
            outputs=[PathType.Output(display_name="PATH", tooltip="The noised source path (for the increments).")],
        )

    @classmethod
    def execute(cls, model, latent, sigmas, start_step, seed, path="brownian") -> io.NodeOutput:
        samples = bridge.latent_samples(model, latent)
        sig = bridge.slice_sigmas(sigmas, start_step)
        p = forward_path(bridge.to_model_space(model, samples), sig, bridge.noise_family(model), seed=seed, kind=path)
        return io.NodeOutput(SourcePath(p, dict(latent, samples=samples), bridge.signature(model), start_step))


class BackwardIncrements(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_BackwardIncrements",
            display_name="Backward Brownian Increments (Coupled SDE)",
            category=CATEGORY,
            description="Run the source prompt along the path (one model call per step) and record the "
                        "structured backward increments that make the reverse SDE retrace it. One output can "
                        "feed any number of Coupled Sampling nodes.",
            inputs=[
                model_input(),
                io.Conditioning.Input("positive", tooltip="The SOURCE prompt: what the image shows now."),
                PathType.Input("path", tooltip="From Forward Noising."),
                solver_input(),
                negative_input("negative", "source"),
                cfg_input("cfg"),
            ],
            outputs=[IncrementsType.Output(display_name="INCREMENTS",
                                           tooltip="Reusable: one inversion, many edits.")],
        )

    @classmethod
    def execute(cls, model, positive, path, solver="posterior", negative=None, cfg=1.0) -> io.NodeOutput:
        if not isinstance(path, SourcePath):
            raise ValueError("path: expected the PATH output of a Forward Noising node")
        bridge.check_same_model_kind(path.made_by, model, "path", float(path.path.sigmas[0]))
        src = branch(positive, negative, cfg, path.path.x0.shape[0], "positive")
        inc = bridge.run_guided(
            model, {"source": src}, path.source["samples"], torch.tensor(path.path.sigmas),
            lambda ctx: backward_increments(bridge.to_device(path.path, ctx.device), ctx.denoiser("source"),
                                            solver=solver, callback=ctx.step),
            seed=path.path.seed)
        return io.NodeOutput(SourceIncrements(bridge.to_device(inc, "cpu"), path.source, path.made_by, "sync-SDE",
                                              start=path.start, start_step=path.start_step, branch=src))


def _sample_from_increments(model, positive, increments, negative, cfg, mask, algorithm, name, node, localize=None):
    """Coupled Sampling / Cycle-SDE Sampling; ``localize`` (Coupled Sampling only): ``None`` keeps the
    one-output form, a widget value (0 = off) adds the edit_mask output."""
    if not isinstance(increments, SourceIncrements):
        raise ValueError(f"increments: expected the INCREMENTS output of a {name} node")
    with_map = localize is not None
    loc = localize_value(localize)
    inc = increments.increments
    bridge.check_same_model_kind(increments.made_by, model, "increments", float(inc.path.sigmas[0]))
    samples = increments.source["samples"]
    tgt = branch(positive, negative, cfg, samples.shape[0], "positive")
    m = edit_mask(mask, increments.source, samples, model)
    extra = {}
    if increments.start is not None:
        if algorithm is not coupled_sample:
            raise ValueError("increments: they start from a copy-pasted latent (Copy-Paste Latents); "
                             "continue them with Coupled Sampling")
        extra["start"] = increments.start
    if loc is not None:
        extra["localize"] = loc
    recorder = EditMap()
    y = bridge.run_guided(
        model, {"target": tgt}, samples, torch.tensor(inc.path.sigmas),
        lambda ctx: algorithm(bridge.to_device(inc, ctx.device), ctx.denoiser("target"),
                              mask=bridge.to_device(m, ctx.device), callback=recorder.wrap(ctx.step),
                              **{k: bridge.to_device(v, ctx.device) for k, v in extra.items()}),
        seed=inc.path.seed)
    out = bridge.from_model_space(model, y, inc.path.x0, samples)
    values = [output_latent(increments.source, out)]
    if with_map:
        values.append(bridge.mask_to_image(model, increments.source, recorder.combined(m, samples)))
    few, many = _increments_advice(increments, tgt, m)
    return log_hint(node, samples, io.NodeOutput(*values), m, localize_advice(loc, few), many,
                    same_prompt=increments.start is None and increments.branch is not None
                    and same_branch(increments.branch, tgt), start=(inc.path.sigmas[0], inc.path.family))


def localize_advice(loc, few: list) -> list:
    """The change hint's "too little changed" advice, with localize's own knob first when it is on."""
    return few if loc is None else [f"lower localize (now {loc:g}; 0 = off)", *few]


def _increments_advice(increments: SourceIncrements, target: Branch, mask):
    """What to change, for the log hint of an edit made from increments."""
    upstream = "Cycle-SDE Inversion" if increments.method == "Cycle-SDE" else "Forward Noising"
    source_node = "Cycle-SDE Inversion" if increments.method == "Cycle-SDE" else "Backward Brownian Increments"
    n, k = len(increments.increments.path.sigmas) - 1, increments.start_step
    now = f" (now {k} of {k + n})" if k is not None else ""
    few = [f"lower start_step on {upstream}{now}", f"make this prompt differ more from {source_node}'s",
           "raise the target's guidance (FluxGuidance) or cfg"]
    many = [f"raise start_step on {upstream}{now}", f"describe the image accurately in {source_node}'s prompt"]
    src = increments.branch
    if src is not None and not math.isclose(src.cfg, target.cfg):
        many.append(f"use {source_node}'s cfg here too (now {src.cfg:g} there, {target.cfg:g} here)")
    return mask_advice(mask, few, many)


class CoupledSampling(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_CoupledSampling",
            display_name="Coupled Sampling (sync-SDE)",
            category=CATEGORY,
            description="Drive the TARGET prompt's reverse SDE with the source's increments (difference form): "
                        "the edit follows the target prompt and keeps the source's detail. With the source "
                        "prompt it returns the source latent bit for bit.",
            inputs=[
                model_input(),
                io.Conditioning.Input("positive", tooltip="The TARGET prompt: what the image should show."),
                IncrementsType.Input("increments", tooltip="From Backward Brownian Increments (reusable)."),
                negative_input("negative", "target"),
                cfg_input("cfg"),
                mask_input(),
                localize_input(),
            ],
            outputs=[latent_output(), edit_mask_output()],
        )

    @classmethod
    def execute(cls, model, positive, increments, negative=None, cfg=1.0, mask=None, localize=0.0) -> io.NodeOutput:
        return _sample_from_increments(model, positive, increments, negative, cfg, mask, coupled_sample,
                                       "Backward Brownian Increments (or Cycle-SDE Inversion)", "Coupled Sampling",
                                       localize=localize)


class CycleSDEInversion(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_CycleSDEInversion",
            display_name="Cycle-SDE Inversion",
            category=CATEGORY,
            description="Cycle-SDE (The Blessing of Randomness): DDPM Markov-chain noising of the source and its "
                        "recovered noise under the source prompt (one model call per step).",
            inputs=[
                model_input(),
                io.Conditioning.Input("positive", tooltip="The SOURCE prompt."),
                io.Latent.Input("latent", tooltip="The source latent (VAE Encode of the image)."),
                sigmas_input(),
                start_step_input(default=0),
                seed_input(),
                negative_input("negative", "source"),
                cfg_input("cfg"),
            ],
            outputs=[IncrementsType.Output(display_name="INCREMENTS",
                                           tooltip="Recovered noise; feed Cycle-SDE Sampling (or Coupled Sampling).")],
        )

    @classmethod
    def execute(cls, model, positive, latent, sigmas, start_step, seed, negative=None, cfg=1.0) -> io.NodeOutput:
        samples = bridge.latent_samples(model, latent)
        sig = bridge.slice_sigmas(sigmas, start_step)
        src = branch(positive, negative, cfg, samples.shape[0], "positive")
        x0 = bridge.to_model_space(model, samples)
        family = bridge.noise_family(model)

        def work(ctx):
            path = forward_path(x0.to(ctx.device), sig, family, seed=seed, kind="markov")
            return backward_increments(path, ctx.denoiser("source"), solver="posterior", callback=ctx.step)

        inc = bridge.run_guided(model, {"source": src}, samples, sig, work, seed=seed)
        return io.NodeOutput(SourceIncrements(bridge.to_device(inc, "cpu"), dict(latent, samples=samples),
                                              bridge.signature(model), "Cycle-SDE", start_step=start_step, branch=src))


class CycleSDESampling(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_CycleSDESampling",
            display_name="Cycle-SDE Sampling",
            category=CATEGORY,
            description="Cycle-SDE sampling y_s = mu(y_t) + sigma_t w (recovered noise, float64 accumulation). "
                        "Same prompt: reconstructs the input; another prompt: edits it.",
            inputs=[
                model_input(),
                io.Conditioning.Input("positive", tooltip="The prompt to sample with (source = reconstruct)."),
                IncrementsType.Input("increments", tooltip="From Cycle-SDE Inversion."),
                negative_input("negative", "target"),
                cfg_input("cfg"),
                mask_input(),
            ],
            outputs=[latent_output("The reconstructed or edited latent.")],
        )

    @classmethod
    def execute(cls, model, positive, increments, negative=None, cfg=1.0, mask=None) -> io.NodeOutput:
        return _sample_from_increments(model, positive, increments, negative, cfg, mask, cycle_sde_sample,
                                       "Cycle-SDE Inversion", "Cycle-SDE Sampling")


class SyncSDEEdit(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_SyncSDEEdit",
            display_name="Sync-SDE Edit",
            category=CATEGORY,
            description="sync-SDE in one node: noise the source along one Brownian path, then step the source "
                        "prompt (on the path) and the target prompt (on the edit) together, both in one batched "
                        "model call when memory allows. 2 evaluations per step. Optional target_model: the target "
                        "branch runs on a second MODEL (an edit model), with the same Brownian increments.",
            inputs=[
                model_input(),
                io.Conditioning.Input("source_positive", tooltip="What the image shows now."),
                io.Conditioning.Input("target_positive", tooltip="What it should show."),
                io.Latent.Input("latent", tooltip="The source latent (VAE Encode of the image to edit)."),
                sigmas_input(),
                start_step_input(),
                seed_input(),
                solver_input(),
                negative_input("source_negative", "source"),
                negative_input("target_negative", "target"),
                cfg_input("source_cfg"),
                cfg_input("target_cfg"),
                mask_input(),
                batch_branches_input(extra=TARGET_MODEL_BATCH),
                localize_input(),
                target_model_input(),
            ],
            outputs=[latent_output(), edit_mask_output()],
        )

    @classmethod
    def execute(cls, model, source_positive, target_positive, latent, sigmas, start_step, seed, solver="posterior",
                source_negative=None, target_negative=None, source_cfg=1.0, target_cfg=1.0, mask=None,
                batch_branches=True, localize=0.0, target_model=None) -> io.NodeOutput:
        loc = localize_value(localize)
        samples = bridge.latent_samples(model, latent)
        m = edit_mask(mask, latent, samples, model)
        family = bridge.noise_family(model)
        recorder = EditMap()
        extra = {} if loc is None else {"localize": loc}

        def edit(ctx, x0, sig):
            return sync_sde_edit(x0, sig, family, ctx.denoiser("source"), ctx.denoiser("target"), seed=seed,
                                 solver=solver, mask=bridge.to_device(m, ctx.device),
                                 denoise_both=ctx.pair if batch_branches else None,
                                 callback=recorder.wrap(ctx.step), **extra)

        edited = two_branch_edit(model, latent, sigmas, start_step, seed, (source_positive, source_negative,
                                 source_cfg), (target_positive, target_negative, target_cfg), edit,
                                 target_model=target_model)
        out = io.NodeOutput(edited.result[0], bridge.mask_to_image(model, latent, recorder.combined(m, samples)))
        now = f" (now {start_step} of {sigmas.numel() - 1})"
        few = [f"lower start_step{now}", "make the target prompt differ more from the source prompt",
               "raise the target's guidance (FluxGuidance) or both cfg values"]
        many = [f"raise start_step{now}", "describe the image accurately in the source prompt"]
        if not math.isclose(source_cfg, target_cfg):
            many.append(f"use equal cfg on both branches (now {source_cfg:g} / {target_cfg:g})")
        same = same_branch(Branch(source_positive, source_negative, float(source_cfg)),
                           Branch(target_positive, target_negative, float(target_cfg)))
        same = same and (target_model is None or bridge.interchangeable(model, target_model))
        few, many = mask_advice(m, few, many)
        return log_hint("Sync-SDE Edit", samples, out, m, localize_advice(loc, few), many, same_prompt=same,
                        start=(float(sigmas[start_step]), family))


NODES = [ForwardNoising, BackwardIncrements, CoupledSampling, CycleSDEInversion, CycleSDESampling, SyncSDEEdit]
