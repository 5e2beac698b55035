"""What the node modules share: the category, the custom IO types and the values they carry, the
input builders (names, defaults and tooltips in one place) and the edit frames.

Public inside the package; node modules hold only their nodes. No ComfyUI internals here (those
live in ``bridge.py``): only ``comfy_api``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from comfy_api.latest import io

from ..sampling import SOLVERS, BrownianPath, Increments, NoiseFamily
from . import bridge, diagnostics
from .bridge import Branch, ModelSignature

CATEGORY = "sampling/coupled_sde"
PathType = io.Custom("COUPLED_SDE_PATH")
IncrementsType = io.Custom("COUPLED_SDE_INCREMENTS")
DragPointsType = io.Custom("DRAG_POINTS")
SEED_MAX = 0xFFFFFFFFFFFFFFFF

# ---- inputs and outputs -------------------------------------------------------------------------

def model_input():
    return io.Model.Input("model", tooltip="The diffusion model (any loader: checkpoint, UNET/diffusion model, "
                          "GGUF, with LoRAs). Its sampling type decides the noise family (flow for Flux/SD3, "
                          "VE for SD1.5/SDXL).")


def sigmas_input():
    return io.Sigmas.Input("sigmas", tooltip="The full noise schedule, e.g. from BasicScheduler (strictly "
                           "decreasing, ending at 0). Editing starts at start_step.")


def start_step_input(default=4):
    return io.Int.Input("start_step", default=default, min=0, max=10000, tooltip=(
        "Index into SIGMAS where editing starts. 0 = from the noisiest sigma (largest change); higher = "
        "later start = closer to the source. Flux.1-dev reference: 4 of 28."))


def seed_input():
    return io.Int.Input("seed", default=0, min=0, max=SEED_MAX, control_after_generate=True,
                        tooltip="Seed of the Brownian path (local generator; same seed = same result).")


def solver_input():
    return io.Combo.Input("solver", options=list(SOLVERS), default="posterior", tooltip=(
        "posterior: exact DDPM-posterior step, stable at sigma = 1 (default). euler: the sync-SDE reference "
        "code's Euler-Maruyama step (paper replication; not allowed at a flow sigma of 1)."))


def cfg_input(name, default=1.0):
    return io.Float.Input(name, default=default, min=0.0, max=100.0, step=0.1, round=0.01, tooltip=(
        "Classifier-free guidance scale for this branch (needs a negative; 1.0 = no CFG, one call per step). "
        "Flux.1-dev uses its distilled guidance instead (set it with FluxGuidance on the conditioning)."))


def negative_input(name, branch):
    return io.Conditioning.Input(name, optional=True, tooltip=(
        f"Optional negative prompt of the {branch} branch (used when its cfg is not 1)."))


def mask_input():
    return io.Mask.Input("mask", optional=True, tooltip=(
        "Optional MASK, white = editable. Outside it the source is reproduced exactly. Resized to the latent; "
        "if absent, the latent's own noise mask (Set Latent Noise Mask) is used. Audio latents: a time mask "
        "(T,), (N, T) or (N, 1, T)."))


def latent_output(tooltip="The edited latent (same shape and batch as the source).", name="LATENT"):
    return io.Latent.Output(display_name=name, tooltip=tooltip)


def batch_branches_input(pair="source and target", when="both use the same cfg and ", extra=""):
    return io.Boolean.Input("batch_branches", default=True, optional=True, tooltip=(
        f"Evaluate {pair} in one batched call when {when}memory allows (faster on GPUs); off = always two "
        f"calls (less memory, and exact for models whose core mixes the rows of a batch, e.g. ACE-Step 1.5).{extra}"))


TARGET_MODEL_BATCH = (" With target_model connected the branches run on two models and are never batched into "
                      "one forward.")


def target_model_input():
    return io.Model.Input("target_model", optional=True, tooltip=(
        "Optional: a second MODEL for the TARGET branch only, driven by the same Brownian increments as the "
        "source branch, which runs on model. For instruction-edit models (Qwen-Image-Edit, Flux.1 Kontext, Flux.2 "
        "klein edit): base model + source prompt on the source branch, edit model + instruction (with a "
        "ReferenceLatent of the source image on target_positive) on the target branch. It must have model's latent "
        "format and noise family (refused otherwise). Not connected: both branches run on model, as before. "
        "Connected: the two branches are never batched into one forward."))


def localize_input():
    return io.Float.Input("localize", default=0.0, min=0.0, max=1.0, step=0.05, round=0.01, optional=True, tooltip=(
        "Change only what the prompts disagree on, without painting a mask. 0 = off: the plain method (saved "
        "workflows reproduce exactly). A number t in (0, 1]: the edit (the difference of the two prompts' "
        "predictions) is allowed only where the source and target predictions disagree. A position becomes "
        "editable once its (blurred) disagreement reaches t times the image's largest, and stays editable; below "
        "t/2 the source is kept bit for bit. Lower = a wider edit; 0.5 measured best on the demo scene model. "
        "With a mask, the edit happens only inside both. The map used is the edit_mask output."))


def localize_value(value) -> Optional[float]:
    """The node's ``localize`` widget as the core takes it: 0 (off) -> None, else t in (0, 1]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0.0 <= value <= 1.0:
        raise ValueError(f"localize: expected 0 (off) or a number in (0, 1] (the disagreement, relative to the "
                         f"largest, at which a position becomes editable), got {value!r}")
    return None if value == 0 else float(value)


def edit_mask_output():
    return io.Mask.Output(display_name="edit_mask", tooltip=(
        "Where the edit was allowed, at the image's size, white = edited: the automatic map of localize (where "
        "the two prompts disagree) times the mask, if one is connected. With localize 0 it is the mask (all "
        "white without one). Feed it to Edit Blend to composite the source back outside it in pixels, to Edit "
        "Difference, or threshold and paint over it as any MASK. Video: one mask per latent frame. Audio: a time "
        "mask (N, 1, T), one value per latent frame, which a mask input reads back."))


class EditMap:
    """Records the core's editable map (the step callback's ``"mask"``, docs/ALGORITHMS.md 3.9) on its
    way to the node's step callback (progress bar, preview, cancel)."""

    def __init__(self):
        self.latest: Optional[torch.Tensor] = None

    def wrap(self, step):
        def callback(info: dict) -> None:
            if info.get("mask") is not None:
                self.latest = info["mask"]
            step(info)
        return callback

    def combined(self, painted: Optional[torch.Tensor], samples: torch.Tensor) -> torch.Tensor:
        """The map the edit used, at latent size ``(N, 1, *spatial)``, float32 on the CPU: the recorded
        map (ones if none) times the painted mask (if any)."""
        shape = (samples.shape[0], 1, *samples.shape[2:])
        m = torch.ones(shape) if self.latest is None else self.latest.detach().to("cpu", torch.float32)
        if painted is not None:
            m = m * painted.detach().to("cpu", torch.float32)
        return m.expand(shape).clone()


def branch(positive, negative, cfg, batch, name):
    bridge.check_conditioning(positive, batch, name)
    if negative is not None:
        bridge.check_conditioning(negative, batch, name.replace("positive", "negative"))
    return Branch(positive, negative, float(cfg))


def same_branch(a: Branch, b: Branch) -> bool:
    """Whether two branches compute the same thing: the same prompt and cfg, and the same negative
    where cfg uses one (at cfg 1 the negative is never evaluated)."""
    if not math.isclose(a.cfg, b.cfg) or not diagnostics.same_conditioning(a.positive, b.positive):
        return False
    return math.isclose(a.cfg, 1.0) or diagnostics.same_conditioning(a.negative, b.negative)


def log_hint(node: str, source: torch.Tensor, output: io.NodeOutput, mask, few: Sequence[str], many: Sequence[str],
             same_prompt: bool = False, start: Optional[tuple] = None) -> io.NodeOutput:
    """Log the edit's one-line change hint (``diagnostics.change_hint``: when it changed almost nothing
    or almost everything) and return ``output`` (a NodeOutput whose first value is the LATENT).
    ``start``: ``(sigma, family)`` where the edit started, for the late-start hint."""
    noise = None if start is None else diagnostics.noise_fraction(start[0], start[1] == NoiseFamily.FLOW)
    diagnostics.log_change(node, source, output.result[0]["samples"], mask=mask, few=few, many=many,
                           same_prompt=same_prompt, start_noise=noise)
    return output


def mask_advice(mask, few: list, many: list) -> tuple[list, list]:
    if mask is not None:
        return few + ["widen the mask (white = editable)"], many + ["shrink the mask"]
    return few, many + ["paint a mask to restrict the edit (everything outside it stays exact)"]


def edit_mask(mask, source_latent: dict, samples: torch.Tensor, model=None):
    """The node's mask (else the LATENT's noise mask) at latent size; ``model`` tells layered latents
    (Qwen-Image-Layered: one mask per layer) from video."""
    if mask is None:
        mask = source_latent.get("noise_mask")
    return bridge.latent_mask(mask, samples, layers=model is not None and bridge.layered(model))


def output_latent(source_latent: dict, samples: torch.Tensor) -> dict:
    """The input LATENT with new samples, as stock samplers return it: other keys (noise_mask included)
    kept, the empty-latent size hints ``downscale_ratio_spacial`` / ``_temporal`` dropped (the
    samples are now at the model's own scale)."""
    out = dict(source_latent)
    out.pop("downscale_ratio_spacial", None)
    out.pop("downscale_ratio_temporal", None)
    out["samples"] = samples
    return out


# ---- what travels between the nodes (the custom IO types' values) ----------------------------

@dataclass(frozen=True)
class SourcePath:
    """``COUPLED_SDE_PATH``: the source latent noised along one Brownian path (model space, CPU)."""

    path: BrownianPath
    source: dict
    made_by: ModelSignature
    start_step: int
    start: Optional[torch.Tensor] = None  # a copy-pasted Y_0 (Copy-Paste Latents), model space


@dataclass(frozen=True)
class SourceIncrements:
    """``COUPLED_SDE_INCREMENTS``: the structured backward increments of a source path (CPU)."""

    increments: Increments
    source: dict
    made_by: ModelSignature
    method: str
    start: Optional[torch.Tensor] = None
    start_step: Optional[int] = None  # where the path starts in the full schedule (for the log hint)
    branch: Optional[Branch] = None  # the source prompt (the log hint tells a reconstruction from an edit)


# ---- edit frames ----------------------------------------------------------------------------

def two_branch_edit(model, latent, sigmas, start_step, seed, source, target, edit, target_model=None) -> io.NodeOutput:
    """The frame of every source -> target edit node: check the inputs, run
    ``edit(ctx, x0_model_space, sigmas) -> y`` inside the guider, map back to a LATENT.
    ``source`` / ``target``: ``(positive, negative, cfg)``. ``target_model`` (optional): the target branch
    runs on it (:func:`bridge.target_lane`), and the branches are never batched."""
    samples = bridge.latent_samples(model, latent)
    sig = bridge.slice_sigmas(sigmas, start_step)
    b = samples.shape[0]
    branches = {"source": branch(*source, b, "source_positive"), "target": branch(*target, b, "target_positive")}
    lane = bridge.target_lane(model, target_model, float(sig[0]))
    return edit_latent(model, latent, samples, branches, sig, seed, edit, target_model=lane,
                       batch=target_model is None)


def edit_latent(model, latent, samples, branches, sig, seed, edit, target_model=None, batch=True) -> io.NodeOutput:
    """Run ``edit(ctx, x0_model_space, sigmas) -> y`` inside the guider and return the edited LATENT
    (the input's exact bits wherever nothing changed)."""
    x0 = bridge.to_model_space(model, samples)
    y = bridge.run_guided(model, branches, samples, sig, lambda ctx: edit(ctx, x0.to(ctx.device), sig), seed=seed,
                          target_model=target_model, batch=batch)
    return io.NodeOutput(output_latent(latent, bridge.from_model_space(model, y, x0, samples)))
