"""sync-SDE and Cycle-SDE as V3 nodes: thin schemas over ``..sampling`` and ``.bridge``.

Node ids are permanent (saved workflows refer to them): never rename one.
"""

from __future__ import annotations

import torch
from comfy_api.latest import io

from ..sampling import (
    SOLVERS,
    backward_increments,
    coupled_sample,
    cycle_sde_sample,
    forward_path,
    sync_sde_edit,
)
from . import bridge
from .bridge import Branch, SourceIncrements, SourcePath

CATEGORY = "sampling/coupled_sde"
PathType = io.Custom("COUPLED_SDE_PATH")
IncrementsType = io.Custom("COUPLED_SDE_INCREMENTS")
SEED_MAX = 0xFFFFFFFFFFFFFFFF

# ---- shared inputs -------------------------------------------------------------------------

def _model():
    return io.Model.Input("model", tooltip="The diffusion model (any loader: checkpoint, UNET/diffusion model, "
                          "GGUF, with LoRAs). Its sampling type decides the noise family (flow for Flux/SD3, "
                          "VE for SD1.5/SDXL).")


def _sigmas():
    return io.Sigmas.Input("sigmas", tooltip="The full noise schedule, e.g. from BasicScheduler (strictly "
                           "decreasing, ending at 0). Editing starts at start_step.")


def _start_step(default=4):
    return io.Int.Input("start_step", default=default, min=0, max=10000, tooltip=(
        "Index into SIGMAS where editing starts. 0 = from the noisiest sigma (largest change); higher = "
        "later start = closer to the source. Flux.1-dev reference: 4 of 28."))


def _seed():
    return io.Int.Input("seed", default=0, min=0, max=SEED_MAX, control_after_generate=True,
                        tooltip="Seed of the Brownian path (local generator; same seed = same result).")


def _solver():
    return io.Combo.Input("solver", options=list(SOLVERS), default="posterior", tooltip=(
        "posterior: exact DDPM-posterior step, stable at sigma = 1 (default). euler: the sync-SDE reference "
        "code's Euler-Maruyama step (paper replication; not allowed at a flow sigma of 1)."))


def _cfg(name, default=1.0):
    return io.Float.Input(name, default=default, min=0.0, max=100.0, step=0.1, round=0.01, tooltip=(
        "Classifier-free guidance scale for this branch (needs a negative; 1.0 = no CFG, one call per step). "
        "Flux.1-dev uses its distilled guidance instead (set it with FluxGuidance on the conditioning)."))


def _negative(name, branch):
    return io.Conditioning.Input(name, optional=True, tooltip=(
        f"Optional negative prompt of the {branch} branch (used when its cfg is not 1)."))


def _mask():
    return io.Mask.Input("mask", optional=True, tooltip=(
        "Optional MASK, white = editable. Outside it the source is reproduced exactly. Resized to the latent; "
        "if absent, the latent's own noise mask (Set Latent Noise Mask) is used."))


def _latent_out(tooltip="The edited latent (same shape and batch as the source).", name="LATENT"):
    return io.Latent.Output(display_name=name, tooltip=tooltip)


def _branch(positive, negative, cfg, batch, name):
    bridge.check_conditioning(positive, batch, name)
    if negative is not None:
        bridge.check_conditioning(negative, batch, name.replace("positive", "negative"))
    return Branch(positive, negative, float(cfg))


def _edit_mask(mask, source_latent: dict, samples: torch.Tensor):
    if mask is None:
        mask = source_latent.get("noise_mask")
    return bridge.latent_mask(mask, samples)


def _output_latent(source_latent: dict, samples: torch.Tensor) -> dict:
    """The input LATENT with new samples, as stock samplers return it: other keys (noise_mask included)
    kept, the empty-latent size hints ``downscale_ratio_spacial`` / ``_temporal`` dropped (the
    samples are now at the model's own scale)."""
    out = dict(source_latent)
    out.pop("downscale_ratio_spacial", None)
    out.pop("downscale_ratio_temporal", None)
    out["samples"] = samples
    return out


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
                _model(),
                io.Latent.Input("latent", tooltip="The source latent (VAE Encode of the image to edit)."),
                _sigmas(),
                _start_step(),
                _seed(),
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
                _model(),
                io.Conditioning.Input("positive", tooltip="The SOURCE prompt: what the image shows now."),
                PathType.Input("path", tooltip="From Forward Noising."),
                _solver(),
                _negative("negative", "source"),
                _cfg("cfg"),
            ],
            outputs=[IncrementsType.Output(display_name="INCREMENTS",
                                           tooltip="Reusable: one inversion, many edits.")],
        )

    @classmethod
    def execute(cls, model, positive, path, solver="posterior", negative=None, cfg=1.0) -> io.NodeOutput:
        if not isinstance(path, SourcePath):
            raise ValueError("path: expected the PATH output of a Forward Noising node")
        bridge.check_same_model_kind(path.made_by, model, "path")
        src = _branch(positive, negative, cfg, path.path.x0.shape[0], "positive")
        inc, _ = bridge.run_guided(
            model, {"source": src}, path.source["samples"], torch.tensor(path.path.sigmas),
            lambda ctx: backward_increments(bridge.to_device(path.path, ctx.device), ctx.denoiser("source"),
                                            solver=solver, callback=ctx.step),
            seed=path.path.seed)
        return io.NodeOutput(SourceIncrements(bridge.to_device(inc, "cpu"), path.source, path.made_by, "sync-SDE",
                                              start=path.start))


def _sample_from_increments(model, positive, increments, negative, cfg, mask, algorithm, name):
    if not isinstance(increments, SourceIncrements):
        raise ValueError(f"increments: expected the INCREMENTS output of a {name} node")
    bridge.check_same_model_kind(increments.made_by, model, "increments")
    inc = increments.increments
    samples = increments.source["samples"]
    tgt = _branch(positive, negative, cfg, samples.shape[0], "positive")
    m = _edit_mask(mask, increments.source, samples)
    extra = {}
    if increments.start is not None:
        if algorithm is not coupled_sample:
            raise ValueError("increments: they start from a copy-pasted latent (Copy-Paste Latents); "
                             "continue them with Coupled Sampling")
        extra["start"] = increments.start
    y, _ = bridge.run_guided(
        model, {"target": tgt}, samples, torch.tensor(inc.path.sigmas),
        lambda ctx: algorithm(bridge.to_device(inc, ctx.device), ctx.denoiser("target"),
                              mask=bridge.to_device(m, ctx.device), callback=ctx.step,
                              **{k: bridge.to_device(v, ctx.device) for k, v in extra.items()}),
        seed=inc.path.seed)
    out = bridge.from_model_space(model, y, inc.path.x0, samples)
    return io.NodeOutput(_output_latent(increments.source, out))


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
                _model(),
                io.Conditioning.Input("positive", tooltip="The TARGET prompt: what the image should show."),
                IncrementsType.Input("increments", tooltip="From Backward Brownian Increments (reusable)."),
                _negative("negative", "target"),
                _cfg("cfg"),
                _mask(),
            ],
            outputs=[_latent_out()],
        )

    @classmethod
    def execute(cls, model, positive, increments, negative=None, cfg=1.0, mask=None) -> io.NodeOutput:
        return _sample_from_increments(model, positive, increments, negative, cfg, mask, coupled_sample,
                                       "Backward Brownian Increments (or Cycle-SDE Inversion)")


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
                _model(),
                io.Conditioning.Input("positive", tooltip="The SOURCE prompt."),
                io.Latent.Input("latent", tooltip="The source latent (VAE Encode of the image)."),
                _sigmas(),
                _start_step(default=0),
                _seed(),
                _negative("negative", "source"),
                _cfg("cfg"),
            ],
            outputs=[IncrementsType.Output(display_name="INCREMENTS",
                                           tooltip="Recovered noise; feed Cycle-SDE Sampling (or Coupled Sampling).")],
        )

    @classmethod
    def execute(cls, model, positive, latent, sigmas, start_step, seed, negative=None, cfg=1.0) -> io.NodeOutput:
        samples = bridge.latent_samples(model, latent)
        sig = bridge.slice_sigmas(sigmas, start_step)
        src = _branch(positive, negative, cfg, samples.shape[0], "positive")
        x0 = bridge.to_model_space(model, samples)
        family = bridge.noise_family(model)

        def work(ctx):
            path = forward_path(x0.to(ctx.device), sig, family, seed=seed, kind="markov")
            return backward_increments(path, ctx.denoiser("source"), solver="posterior", callback=ctx.step)

        inc, _ = bridge.run_guided(model, {"source": src}, samples, sig, work, seed=seed)
        return io.NodeOutput(SourceIncrements(bridge.to_device(inc, "cpu"), dict(latent, samples=samples),
                                              bridge.signature(model), "Cycle-SDE"))


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
                _model(),
                io.Conditioning.Input("positive", tooltip="The prompt to sample with (source = reconstruct)."),
                IncrementsType.Input("increments", tooltip="From Cycle-SDE Inversion."),
                _negative("negative", "target"),
                _cfg("cfg"),
                _mask(),
            ],
            outputs=[_latent_out("The reconstructed or edited latent.")],
        )

    @classmethod
    def execute(cls, model, positive, increments, negative=None, cfg=1.0, mask=None) -> io.NodeOutput:
        return _sample_from_increments(model, positive, increments, negative, cfg, mask, cycle_sde_sample,
                                       "Cycle-SDE Inversion")


class SyncSDEEdit(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_SyncSDEEdit",
            display_name="Sync-SDE Edit",
            category=CATEGORY,
            description="sync-SDE in one node: noise the source along one Brownian path, then step the source "
                        "prompt (on the path) and the target prompt (on the edit) together, both in one batched "
                        "model call when memory allows. 2 evaluations per step.",
            inputs=[
                _model(),
                io.Conditioning.Input("source_positive", tooltip="What the image shows now."),
                io.Conditioning.Input("target_positive", tooltip="What it should show."),
                io.Latent.Input("latent", tooltip="The source latent (VAE Encode of the image to edit)."),
                _sigmas(),
                _start_step(),
                _seed(),
                _solver(),
                _negative("source_negative", "source"),
                _negative("target_negative", "target"),
                _cfg("source_cfg"),
                _cfg("target_cfg"),
                _mask(),
                io.Boolean.Input("batch_branches", default=True, optional=True, tooltip=(
                    "Evaluate source and target in one batched call when both use the same cfg and memory "
                    "allows (faster on GPUs); off = always two calls (less memory).")),
            ],
            outputs=[_latent_out()],
        )

    @classmethod
    def execute(cls, model, source_positive, target_positive, latent, sigmas, start_step, seed, solver="posterior",
                source_negative=None, target_negative=None, source_cfg=1.0, target_cfg=1.0, mask=None,
                batch_branches=True) -> io.NodeOutput:
        m = _edit_mask(mask, latent, bridge.latent_samples(model, latent))
        family = bridge.noise_family(model)

        def edit(ctx, x0, sig):
            return sync_sde_edit(x0, sig, family, ctx.denoiser("source"), ctx.denoiser("target"), seed=seed,
                                 solver=solver, mask=bridge.to_device(m, ctx.device),
                                 denoise_both=ctx.pair if batch_branches else None, callback=ctx.step)

        return two_branch_edit(model, latent, sigmas, start_step, seed, (source_positive, source_negative, source_cfg),
                               (target_positive, target_negative, target_cfg), edit)


def two_branch_edit(model, latent, sigmas, start_step, seed, source, target, edit) -> io.NodeOutput:
    """The frame of every source -> target edit node: check the inputs, run
    ``edit(ctx, x0_model_space, sigmas) -> y`` inside the guider, map back to a LATENT.
    ``source`` / ``target``: ``(positive, negative, cfg)``."""
    samples = bridge.latent_samples(model, latent)
    sig = bridge.slice_sigmas(sigmas, start_step)
    b = samples.shape[0]
    branches = {"source": _branch(*source, b, "source_positive"), "target": _branch(*target, b, "target_positive")}
    return edit_latent(model, latent, samples, branches, sig, seed, edit)


def edit_latent(model, latent, samples, branches, sig, seed, edit) -> io.NodeOutput:
    """Run ``edit(ctx, x0_model_space, sigmas) -> y`` inside the guider and return the edited LATENT
    (the input's exact bits wherever nothing changed)."""
    x0 = bridge.to_model_space(model, samples)
    y, _ = bridge.run_guided(model, branches, samples, sig, lambda ctx: edit(ctx, x0.to(ctx.device), sig), seed=seed)
    return io.NodeOutput(_output_latent(latent, bridge.from_model_space(model, y, x0, samples)))


NODES = [ForwardNoising, BackwardIncrements, CoupledSampling, CycleSDEInversion, CycleSDESampling, SyncSDEEdit]
