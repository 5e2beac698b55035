"""Baselines as nodes, for side-by-side comparisons on the same inputs. Node ids are permanent."""

from __future__ import annotations

from comfy_api.latest import io

from ..sampling import NoiseFamily, flowedit
from . import bridge
from .common import (
    CATEGORY,
    TARGET_MODEL_BATCH,
    Branch,
    EditMap,
    batch_branches_input,
    cfg_input,
    edit_mask_output,
    latent_output,
    localize_input,
    localize_value,
    log_hint,
    model_input,
    negative_input,
    same_branch,
    seed_input,
    sigmas_input,
    start_step_input,
    target_model_input,
    two_branch_edit,
)


class FlowEdit(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_FlowEdit",
            display_name="FlowEdit (baseline)",
            category=CATEGORY,
            description="FlowEdit (Kulikov et al.), inversion-free editing for flow models (Flux, SD3), for comparing "
                        "with Sync-SDE Edit on the same inputs. Fresh noise every step; 2 evaluations per step "
                        "(x n_avg), batched when possible. Optional target_model: the target velocity comes from a "
                        "second MODEL (an edit model).",
            inputs=[
                model_input(),
                io.Conditioning.Input("source_positive", tooltip="What the image shows now."),
                io.Conditioning.Input("target_positive", tooltip="What it should show."),
                io.Latent.Input("latent", tooltip="The source latent."),
                sigmas_input(),
                start_step_input(),
                seed_input(),
                io.Int.Input("n_avg", default=1, min=1, max=16, tooltip="Noise samples averaged per step (paper: 1)."),
                io.Int.Input("n_min", default=0, min=0, max=1000, tooltip=(
                    "The last n_min steps are plain target sampling (paper: 0).")),
                negative_input("source_negative", "source"),
                negative_input("target_negative", "target"),
                cfg_input("source_cfg"),
                cfg_input("target_cfg"),
                localize_input(),
                batch_branches_input(extra=TARGET_MODEL_BATCH),
                target_model_input(),
            ],
            outputs=[latent_output(), edit_mask_output()],
        )

    @classmethod
    def execute(cls, model, source_positive, target_positive, latent, sigmas, start_step, seed, n_avg=1, n_min=0,
                source_negative=None, target_negative=None, source_cfg=1.0, target_cfg=1.0,
                localize=0.0, batch_branches=True, target_model=None) -> io.NodeOutput:
        if bridge.noise_family(model) is not NoiseFamily.FLOW:
            raise ValueError(f"model: FlowEdit needs a flow-family (CONST) model such as Flux or SD3; this is "
                             f"{bridge.signature(model).describe()}. Use Sync-SDE Edit or Cycle-SDE instead.")
        loc = localize_value(localize)
        if loc is not None and n_min > 0:
            raise ValueError(f"n_min: localize restricts FlowEdit's coupled steps, and the last n_min steps are plain "
                             f"target sampling with nothing to keep; set n_min to 0 or localize to 0 (got {n_min})")
        recorder = EditMap()
        extra = {} if loc is None else {"localize": loc}

        def edit(ctx, x0, sig):
            return flowedit(x0, sig, ctx.denoiser("source"), ctx.denoiser("target"), seed=seed, n_avg=n_avg,
                            n_min=n_min, callback=recorder.wrap(ctx.step),
                            denoise_both=ctx.pair if batch_branches else None, **extra)

        edited = two_branch_edit(model, latent, sigmas, start_step, seed, (source_positive, source_negative,
                                 source_cfg), (target_positive, target_negative, target_cfg), edit,
                                 target_model=target_model)
        samples = bridge.latent_samples(model, latent)
        out = io.NodeOutput(edited.result[0], bridge.mask_to_image(model, latent, recorder.combined(None, samples)))
        steps = sigmas.numel() - 1
        now = f" (now {start_step} of {steps}, i.e. n_max {steps - start_step})"
        few = [f"lower start_step{now}", "raise the target's guidance or target_cfg (paper: FluxGuidance 5.5 on Flux, "
               "cfg 13.5 on SD3)", "make the target prompt differ more from the source prompt"]
        if loc is not None:
            few.insert(0, f"lower localize (now {loc:g}; 0 = off)")
        many = [f"raise start_step{now}", "lower the target's guidance or target_cfg",
                "describe the image accurately in the source prompt"]
        same = same_branch(Branch(source_positive, source_negative, float(source_cfg)),
                           Branch(target_positive, target_negative, float(target_cfg)))
        same = same and (target_model is None or bridge.interchangeable(model, target_model))
        return log_hint("FlowEdit", samples, out, None, few, many, same_prompt=same,
                        start=(float(sigmas[start_step]), NoiseFamily.FLOW))


NODES = [FlowEdit]
