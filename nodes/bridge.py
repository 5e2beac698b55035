"""The one module that knows ComfyUI internals.

Everything the nodes need from ComfyUI goes through here:

* the noise family of a MODEL (``model_sampling`` is ``CONST`` => rectified flow, else VE);
* latents in and out of the model's internal space (``process_latent_in`` / ``_out``);
* input checks that name the offending input (latent channels, conditioning, masks, steps);
* :func:`run_guided`: runs one of the core's algorithms inside ComfyUI's own sampling
  machinery. A :class:`BranchGuider` (a ``comfy.samplers.CFGGuider``) owns the source and target
  conditionings; ``guider.sample`` loads the models through model management, processes the
  conds (ControlNet, areas, hooks) and calls our :class:`_AlgorithmSampler`, whose every model
  evaluation is ``guider(x, sigma)`` -> ``predict_noise`` -> ``comfy.samplers.sampling_function``
  -> ``calc_cond_batch``. The MODEL is never mutated, ``apply_model`` is never called directly,
  and the sampler callback (progress bar, preview, cancel) fires every step. With a ``target_model``
  (:func:`target_lane`), the target branch runs on a second MODEL through a guider of its own.
"""

from __future__ import annotations

import inspect
import math
import uuid
from dataclasses import dataclass, replace
from typing import Callable, Optional

import comfy.model_management
import comfy.model_patcher
import comfy.model_sampling
import comfy.patcher_extension
import comfy.samplers
import comfy.utils
import latent_preview
import torch

from ..sampling import BrownianPath, Increments, NoiseFamily

# ---------------------------------------------------------------------------------------------
# Model facts
# ---------------------------------------------------------------------------------------------

# model_sampling types that map an input image to an output instead of sampling from noise
# (Lotus, WAN21_FlowRVS, ...). Looked up by name: older ComfyUIs lack some of them.
_IMG_TO_IMG_SAMPLING = ("IMG_TO_IMG", "IMG_TO_IMG_FLOW", "IMG_TO_IMG_VELOCITY")


def velocity_grids(model) -> int:
    """How many velocity grids the network emits per evaluation: ``n_grid`` where core sets one (on the
    model, its diffusion model or its unet config; Kandinsky 6's PiFlow-distilled release, core 0.38:
    ``comfy/ldm/kandinsky6/piflow.py``), else 1, the plain denoiser of every other model."""
    base = model.model
    config = getattr(getattr(base, "model_config", None), "unet_config", None)
    found = [getattr(base, "n_grid", None), getattr(getattr(base, "diffusion_model", None), "n_grid", None),
             config.get("n_grid") if isinstance(config, dict) else None]
    grids = [int(n) for n in found if isinstance(n, (int, float)) and not isinstance(n, bool)]
    return max(grids, default=1)


def check_model(model, name: str = "model") -> None:
    """Refuse the models whose evaluation is not a denoised sample, naming ``name``: image-to-image
    sampling types and PiFlow-distilled models (velocity grids). Found by feature (a class, an
    attribute), so the checks are inert on ComfyUIs without such models."""
    grids = velocity_grids(model)
    if grids > 1:
        raise ValueError(
            f"{name}: {model_name(model)} is a PiFlow-distilled model (e.g. Kandinsky 6's distilled release): each "
            f"evaluation outputs {grids} velocity grids that a policy integrates over a segment, not a denoised "
            "sample, so coupled-SDE editing cannot run on it (core runs it only with its own PiFlow guider). "
            "Use the base (non-distilled) model.")
    _model_sampling(model, name)


def _model_sampling(model, input_name: str = "model"):
    ms = model.get_model_object("model_sampling")
    for name in _IMG_TO_IMG_SAMPLING:
        cls = getattr(comfy.model_sampling, name, None)
        if cls is not None and isinstance(ms, cls):
            raise ValueError(
                f"{input_name}: {model_name(model)} is an image-to-image model (model_sampling {name}): it maps "
                "an input image to an output and does not sample from noise, so coupled-SDE editing cannot run on it. "
                "Use a text-to-image or text-to-video model (Flux, SD, SD3.5, Qwen-Image, Wan, ...).")
    return ms


def noise_family(model) -> NoiseFamily:
    """FLOW for every ``CONST`` model (Flux, SD3, ...), VE for the rest (SD1.5, SDXL, v-pred).

    Image-to-image models (``IMG_TO_IMG*`` sampling) and PiFlow-distilled models are refused with an
    error naming ``model`` (:func:`check_model`).
    """
    check_model(model)
    ms = _model_sampling(model)
    return NoiseFamily.FLOW if isinstance(ms, comfy.model_sampling.CONST) else NoiseFamily.VE


def noise_scale(model) -> float:
    """The flow noise scale ``s`` of ``x = (1 - sigma) x0 + sigma s eps`` (``model_sampling.noise_scale``,
    1 where the ComfyUI or the model has none; HiDream-O1 uses 8).

    The pack works in the coordinates ``x / s``, where the model is an ordinary flow model
    (``x / s = (1 - sigma) (x0 / s) + sigma eps``) with the denoiser ``D(s x, sigma) / s``: exact for
    every algorithm (paths, increments, FlowEdit, SDE-Drag), not an approximation.
    """
    ms = _model_sampling(model)
    if not isinstance(ms, comfy.model_sampling.CONST):
        return 1.0
    s = float(getattr(ms, "noise_scale", 1.0))
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"model: its model_sampling has noise_scale {s}; expected a positive number")
    return s


def model_name(model) -> str:
    return type(model.model.model_config).__name__


@dataclass(frozen=True)
class ModelSignature:
    """What a path or increments must share with the MODEL that continues them."""

    family: NoiseFamily
    latent_format: str
    model: str
    noise_scale: float = 1.0
    sigma_max: float = math.inf  # the top of the model's noise schedule (model_sampling.sigma_max)

    def describe(self) -> str:
        kind = "flow-family (CONST)" if self.family is NoiseFamily.FLOW else "VE-family"
        scale = f", noise scale {self.noise_scale:g}" if self.noise_scale != 1.0 else ""
        return f"a {kind} {self.model} model ({self.latent_format} latents{scale})"


def sigma_max(model) -> float:
    """The largest sigma the model's ``model_sampling`` covers (1 for every flow model, whatever its shift;
    about 14.6 for SD1.5 / SDXL; larger for zero-terminal-SNR and EDM models)."""
    top = getattr(_model_sampling(model), "sigma_max", None)
    try:
        top = float(top)
    except (TypeError, ValueError):
        return math.inf
    return top if math.isfinite(top) and top > 0 else math.inf


def signature(model) -> ModelSignature:
    return ModelSignature(noise_family(model), type(model.model.latent_format).__name__, model_name(model),
                          noise_scale(model), sigma_max(model))


def _uncovered(made_by: ModelSignature, here: ModelSignature, top_sigma: Optional[float]) -> bool:
    """Whether a model covering sigmas up to ``here.sigma_max`` is asked to denoise at ``top_sigma``, which
    the model of ``made_by`` covers but it does not (a VE pair with different ranges). Never for one model,
    nor for flow models (every one reaches sigma 1)."""
    return (top_sigma is not None and here.sigma_max < made_by.sigma_max * (1 - 1e-5)
            and top_sigma > here.sigma_max * (1 + 1e-5))


def check_same_model_kind(made_by: ModelSignature, model, name: str, top_sigma: Optional[float] = None) -> None:
    """A path or increments continued by ``model``: the same noise family, latent format and noise scale
    (the same MODEL, one with LoRAs or patches, or another model of that format, e.g. an edit model).
    ``top_sigma``: the path's first sigma, which ``model`` must cover where the two models' ranges differ."""
    here = signature(model)
    if (made_by.family is not here.family or made_by.latent_format != here.latent_format
            or made_by.noise_scale != here.noise_scale):
        raise ValueError(
            f"{name}: made with {made_by.describe()}, but the MODEL here is {here.describe()}. "
            "Invert and edit with the same latent format and noise family (the same MODEL, one with LoRAs/patches "
            "on it, or an edit model of that format)."
        )
    if _uncovered(made_by, here, top_sigma):
        raise ValueError(
            f"{name}: start at sigma {top_sigma:.4g}, above the top of this MODEL's noise schedule "
            f"({here.sigma_max:.4g}; the model they were made with reaches {made_by.sigma_max:.4g}). This MODEL "
            f"would denoise at sigmas it was not trained on: start the path at sigma {here.sigma_max:.4g} or below "
            "(a higher start_step on Forward Noising)."
        )


def interchangeable(model, other) -> bool:
    """Whether ``other`` computes exactly what ``model`` computes with the same loaded weights: the same
    MODEL, or a clone of it with nothing changed (the same weight patches, object patches, model options,
    wrappers and callbacks)."""
    if other is model:
        return True
    if not model.is_clone(other):
        return False
    try:
        return bool(model.clone_has_same_weights(other) and model.object_patches == other.object_patches
                    and model.model_options == other.model_options
                    and getattr(model, "wrappers", None) == getattr(other, "wrappers", None)
                    and getattr(model, "callbacks", None) == getattr(other, "callbacks", None))
    except (RuntimeError, TypeError, ValueError):  # options holding tensors cannot be compared: not the same
        return False


def target_lane(model, target_model, top_sigma: float):
    """The MODEL the target branch runs on (``target_model`` of Sync-SDE Edit and FlowEdit): ``None`` when the
    branches share ``model`` (not connected, the same MODEL, or an unchanged clone of it), else ``target_model``.

    Refused, naming ``target_model``, unless it shares ``model``'s latent format, noise family and noise scale
    (the branches share one Brownian path and its increments, in one latent space) and covers the sigmas the
    edit runs (``top_sigma`` = SIGMAS[start_step]; only VE pairs can differ there: each model maps a sigma to
    its own timestep, and every flow model reaches sigma 1, whatever its shift). A clone of ``model`` with
    other patches is refused too: ComfyUI holds one set of patches on a loaded model at a time.
    """
    if target_model is None:
        return None
    check_model(target_model, "target_model")
    src, tgt = signature(model), signature(target_model)
    if (src.family is not tgt.family or src.latent_format != tgt.latent_format
            or src.noise_scale != tgt.noise_scale or layered(model) != layered(target_model)):
        def what(sig, m):
            return sig.describe() + (" with image layers on the frame axis (Qwen-Image-Layered)" if layered(m) else "")
        raise ValueError(
            f"target_model: is {what(tgt, target_model)}, but model is {what(src, model)}. The two branches share "
            "one Brownian path and its increments in one latent space, so target_model needs model's latent format "
            "and noise family: e.g. Flux.1-dev with Flux.1 Kontext, Qwen-Image with Qwen-Image-Edit, Flux.2 klein "
            "with Flux.2 klein (edit)."
        )
    if _uncovered(src, tgt, top_sigma):
        raise ValueError(
            f"target_model: its noise schedule reaches sigma {tgt.sigma_max:.4g} ({tgt.describe()}), but this edit "
            f"starts at sigma {top_sigma:.4g} (model reaches {src.sigma_max:.4g}). The target branch denoises at the "
            f"source branch's sigmas: raise start_step until SIGMAS[start_step] is at most {tgt.sigma_max:.4g}."
        )
    if interchangeable(model, target_model):
        return None
    if model.is_clone(target_model):
        raise ValueError(
            f"target_model: is the same loaded {model_name(model)} model as model with other patches (a LoRA or "
            "other weight patch, a model sampling or CFG patch, a wrapper). ComfyUI holds one set of patches on a "
            "loaded model at a time, so the two branches cannot run on both at once. Connect an edit model loaded "
            "by its own loader; for a LoRA on the target branch only, leave target_model unconnected and put the "
            "LoRA on target_positive as a hook (Create Hook LoRA (MO) -> Cond Set Props)."
        )
    return target_model


# ---------------------------------------------------------------------------------------------
# Input checks (each error starts with the input's name)
# ---------------------------------------------------------------------------------------------

def latent_dimensions(model) -> int:
    """2 for image latents ``(B, C, H, W)``, 3 for ``(B, C, T, H, W)`` (video models, Qwen-Image, Cosmos),
    1 for time latents ``(B, C, T)`` (Stable Audio, ACE-Step 1.5)."""
    return int(getattr(model.model.latent_format, "latent_dimensions", 2))


def layered(model) -> bool:
    """Whether the MODEL puts image layers on the frame axis, ``(B, 16, L + 1, H, W)``: Qwen-Image-Layered,
    which core's detection marks with ``use_additional_t_cond`` (its layer embedding) in the unet config
    (ComfyUI 0.33 to 0.38; absent from older ones). Its layers are separate images, not time."""
    config = getattr(model.model.model_config, "unet_config", None)
    return isinstance(config, dict) and bool(config.get("use_additional_t_cond")) and latent_dimensions(model) == 3


_LATENT_SHAPES = {1: "(B, C, T) (an audio latent: channels, time)", 2: "(B, C, H, W)",
                  3: "(B, C, T, H, W) (or (B, C, H, W) for one frame)"}


def latent_samples(model, latent, name: str = "latent") -> torch.Tensor:
    """The LATENT's samples as this MODEL takes them; errors name ``name``.

    A 4-D latent given to a model with 3-D latents gets its frame axis (``(B, C, 1, H, W)``), as
    stock samplers do (``comfy.sample.fix_empty_latent_channels``). Nested (audio + video) latents
    are refused.
    """
    check_model(model)  # a model that cannot be edited is named first, whatever its latent
    if not isinstance(latent, dict) or "samples" not in latent:
        raise ValueError(f"{name}: expected a LATENT (a dict with a 'samples' tensor)")
    x = latent["samples"]
    if getattr(x, "is_nested", False):
        raise ValueError(
            f"{name}: is a nested audio+video latent (e.g. LTX-2); coupled-SDE editing does not support "
            "nested latents yet. Edit the video latent alone (separate it from the audio first).")
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a LATENT (a dict with a 'samples' tensor)")
    dims = latent_dimensions(model)
    if dims == 3 and x.ndim == 4:
        x = x.unsqueeze(2)
    if x.ndim != dims + 2:
        want = _LATENT_SHAPES.get(dims, f"{dims + 2} dimensions")
        raise ValueError(f"{name}: this {model_name(model)} MODEL takes latents of shape {want}, "
                         f"got {tuple(x.shape)}; encode the input with this model's VAE")
    want = model.model.latent_format.latent_channels
    if x.shape[1] != want:
        raise ValueError(
            f"{name}: has {x.shape[1]} channels, but this {model_name(model)} MODEL expects {want}. "
            "Encode the image with this model's VAE (VAE Encode with the matching VAE)."
        )
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return x


def check_conditioning(cond, batch: int, name: str) -> None:
    """A CONDITIONING: a non-empty list of ``[tensor, dict]`` with batch 1 or the latent's."""
    if not isinstance(cond, (list, tuple)) or len(cond) == 0:
        raise ValueError(f"{name}: the conditioning is empty; connect a CLIP Text Encode (or similar) output")
    for entry in cond:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[1], dict)):
            raise ValueError(f"{name}: expected CONDITIONING entries [tensor, dict], got {type(entry).__name__}")
        tensors = [("cond", entry[0]), ("pooled_output", entry[1].get("pooled_output"))]
        for what, t in tensors:
            if isinstance(t, torch.Tensor) and t.shape[0] not in (1, batch):
                raise ValueError(
                    f"{name}: {what} has batch {t.shape[0]}, but the latent has batch {batch}. "
                    "Use one prompt (batch 1) for every latent, or exactly one per latent."
                )


def schedule(model, scheduler: str, steps: int) -> torch.Tensor:
    """The SIGMAS that BasicScheduler gives for ``model`` (its own ``model_sampling``: shift and
    sigma range), ``scheduler`` and ``steps`` at denoise 1."""
    if scheduler not in comfy.samplers.SCHEDULER_NAMES:
        raise ValueError(f"scheduler: {scheduler!r} is not one of this ComfyUI's schedulers "
                         f"({', '.join(comfy.samplers.SCHEDULER_NAMES)})")
    return comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), scheduler, steps).cpu()


def flux2_schedule(model, steps: int, latent, preset: str = "") -> torch.Tensor:
    """The SIGMAS that ComfyUI's Flux2Scheduler node gives for ``steps`` and the image size of ``latent``
    (``comfy_extras.nodes_flux.get_schedule(steps, round(width * height / 256))``, called, not copied).
    Refused, naming the input, without a latent or on a ComfyUI without that scheduler."""
    try:
        from comfy_extras import nodes_flux
    except ImportError:
        nodes_flux = None
    get_schedule = getattr(nodes_flux, "get_schedule", None)
    if get_schedule is None:
        raise ValueError(f"preset: {preset!r} schedules with ComfyUI's Flux2Scheduler, which this ComfyUI does "
                         "not have (it came with Flux.2 support): update ComfyUI, or pick a preset with the "
                         "'simple' scheduler")
    samples = latent.get("samples") if isinstance(latent, dict) else None
    if not isinstance(samples, torch.Tensor) or samples.ndim < 4:
        raise ValueError(f"latent: the preset {preset!r} schedules with Flux2Scheduler, whose sigmas depend on the "
                         "image size: connect the LATENT you edit (VAE Encode's output) to Edit Settings' latent")
    ratio = spatial_ratio(model, latent)
    height, width = samples.shape[-2] * ratio, samples.shape[-1] * ratio
    sigmas = get_schedule(int(steps), round(width * height / (16 * 16)))  # as Flux2Scheduler.execute
    return torch.as_tensor(sigmas, dtype=torch.float32).cpu()


def drag_sigmas(model, steps: int, t0: float) -> torch.Tensor:
    """SDE-Drag's reverse schedule: the model's "normal" (uniform-timestep) schedule of ``steps``
    over the whole range, from fraction ``t0`` of it down to 0 (round(t0 * steps) steps)."""
    if not 0.0 < t0 <= 1.0:
        raise ValueError(f"t0: must lie in (0, 1] (a fraction of the noise schedule), got {t0}")
    used = max(1, round(t0 * steps))
    full = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "normal", steps)
    return full[steps - used:].to("cpu", torch.float64)


def slice_sigmas(sigmas, start_step: int, name: str = "start_step") -> torch.Tensor:
    """``sigmas[start_step:]``; the schedule itself is checked by the core (named ``sigmas``)."""
    if not isinstance(sigmas, torch.Tensor) or sigmas.ndim != 1 or sigmas.numel() < 2:
        raise ValueError("sigmas: expected a SIGMAS schedule (1-D, at least two values) from a scheduler node")
    steps = sigmas.numel() - 1
    if not 0 <= start_step < steps:
        raise ValueError(
            f"{name}: {start_step} is outside the schedule; SIGMAS has {steps} steps, so use 0 to {steps - 1} "
            "(higher = later start = smaller edits)"
        )
    return sigmas[start_step:].detach().to("cpu", torch.float64)


def latent_mask(mask, samples: torch.Tensor, name: str = "mask", layers: bool = False) -> Optional[torch.Tensor]:
    """A ComfyUI MASK (1 = editable) at latent size, broadcastable to ``samples``.

    Image latents ``(B, C, H, W)``: a MASK ``(H, W)`` or ``(B|1, H, W)`` becomes ``(B|1, 1, h, w)``.
    Latents with a frame axis ``(B, C, T, H, W)``: with ``T = 1`` (Qwen-Image, Cosmos images) the
    mask's first axis is the batch, as for images (``(B|1, 1, 1, h, w)``); with ``T > 1`` (video) it
    is the frames, read as ComfyUI's ``reshape_mask`` reads a video mask: one mask for every frame,
    or a per-frame MASK ``(F, H, W)`` resampled to the ``T`` latent frames (``(1, 1, T, h, w)``).
    With ``layers`` (Qwen-Image-Layered, :func:`layered`) the frame axis holds separate images: one
    mask for every layer, one per layer (``T``), or one per layer of each latent (``B * T``, latent
    by latent), never interpolated across layers.
    Time latents ``(B, C, T)`` (audio): see :func:`_time_mask`.
    Masks of another size are resized (bilinear, trilinear across frames), as ComfyUI does.
    """
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{name}: expected a MASK tensor, got {type(mask).__name__}")
    if samples.ndim == 3:
        return _time_mask(mask, samples, name)
    m = mask
    if m.ndim == 4 and m.shape[1] == 1:
        m = m[:, 0]
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3:
        raise ValueError(
            f"{name}: expected a MASK of shape (H, W) or (B, H, W), got {tuple(mask.shape)}; "
            "an image with colour channels must go through 'Convert Image to Mask' first"
        )
    _check_mask_values(m, name)
    m = m.to(torch.float32)
    batch, size = samples.shape[0], tuple(samples.shape[-2:])
    frames = samples.shape[2] if samples.ndim == 5 else 1
    if frames > 1 and layers:
        # layers: separate images on the frame axis, each mask its own layer's (no resampling across them)
        n = m.shape[0]
        if n == 1 or n == frames:
            m = m[None, None]  # (1, 1, 1|T, H, W)
        elif n == batch * frames:
            m = m.reshape(batch, 1, frames, *m.shape[-2:])
        else:
            per_latent = f", or one per layer of each latent ({batch * frames}, latent by latent)" if batch > 1 else ""
            raise ValueError(
                f"{name}: has {n} masks, but this layered latent (Qwen-Image-Layered) has {frames} layers on its "
                f"frame axis; use 1 mask for every layer, one per layer ({frames}){per_latent}. Layers are separate "
                "images, so masks are never interpolated across them")
        if tuple(m.shape[-2:]) != size:
            m = torch.nn.functional.interpolate(m, size=(m.shape[2], *size), mode="trilinear", align_corners=False)
        return m.clamp(0, 1)
    if frames > 1:
        # video: the mask's first axis is its frames (one for all, or one per frame)
        m = m[None, None]
        want = (m.shape[2] if m.shape[2] == 1 else frames, *size)
        if tuple(m.shape[2:]) != want:
            m = torch.nn.functional.interpolate(m, size=want, mode="trilinear", align_corners=False)
        return m.clamp(0, 1)
    if m.shape[0] not in (1, batch):
        raise ValueError(f"{name}: has batch {m.shape[0]}, but the latent has batch {batch}; use 1 mask or "
                         "one per latent")
    m = m[:, None]
    if tuple(m.shape[-2:]) != size:
        m = torch.nn.functional.interpolate(m, size=size, mode="bilinear", align_corners=False)
    if samples.ndim == 5:
        m = m[:, :, None]
    return m.clamp(0, 1)


def _check_mask_values(m: torch.Tensor, name: str) -> None:
    if not torch.isfinite(m).all() or m.min() < 0 or m.max() > 1:
        raise ValueError(f"{name}: values must lie in [0, 1] (white = editable)")


def _time_mask(mask: torch.Tensor, samples: torch.Tensor, name: str) -> torch.Tensor:
    """A time MASK for a time latent ``(B, C, T)`` (Stable Audio, ACE-Step 1.5), as ``(B|1, 1, T)``.

    The mask's last axis is time, as ComfyUI reads a mask for these latents (``reshape_mask`` resizes
    a ``(N, 1, T)`` noise mask along time, linearly, and repeats it over the channels and the batch).
    Accepted: ``(T,)``; ``(N, T)``; ``(N, 1, T)`` (a MASK one pixel high, e.g. SolidMask with height 1);
    ``(N, 1, 1, T)`` (what Set Latent Noise Mask stores for such a MASK); ``N`` is 1 or the batch.
    A mask of another length is resized along time (linear, as core); the channels share it.
    """
    batch, length = samples.shape[0], samples.shape[-1]
    m = mask
    if m.ndim == 4 and m.shape[1] == 1 and m.shape[2] == 1:
        m = m[:, 0]
    if m.ndim == 1:
        m = m[None, None]
    elif m.ndim == 2:
        m = m[:, None]
    if m.ndim != 3 or m.shape[1] != 1 or m.shape[-1] < 1:
        raise ValueError(
            f"{name}: shape {tuple(mask.shape)} is not a time mask. This latent {tuple(samples.shape)} is an audio "
            "latent (B, C, T) with no image plane: expected a MASK of shape (T,), (N, T) or (N, 1, T), whose last "
            "axis is time (1 = editable), with N 1 or the batch; it is resized to the latent's T")
    _check_mask_values(m, name)
    if m.shape[0] not in (1, batch):
        raise ValueError(f"{name}: has {m.shape[0]} time masks, but the latent has batch {batch}; use 1 mask or "
                         "one per latent (shape (N, T) or (N, 1, T))")
    m = m.to(torch.float32)
    if m.shape[-1] != length:
        m = torch.nn.functional.interpolate(m, size=length, mode="linear", align_corners=False)
    return m.clamp(0, 1)


# the pixels per latent cell of latent formats from before ``LatentFormat.spacial_downscale_ratio``
# (ComfyUI 0.3.64 and older); every other format of those versions is 8
_OLD_SPATIAL_RATIO = {"ChromaRadiance": 1}


def spatial_ratio(model, latent: Optional[dict] = None) -> int:
    """Image pixels per latent cell: the LATENT's own hint (``downscale_ratio_spacial``, set by empty-latent
    nodes), else the latent format's ``spacial_downscale_ratio``, else (older ComfyUI) 8, or 1 for the
    pixel-space ChromaRadiance format."""
    hint = latent.get("downscale_ratio_spacial") if isinstance(latent, dict) else None
    fmt = model.model.latent_format
    ratio = hint or getattr(fmt, "spacial_downscale_ratio", None) or _OLD_SPATIAL_RATIO.get(type(fmt).__name__, 8)
    return max(1, int(ratio))


def mask_to_image(model, latent: dict, m: torch.Tensor) -> torch.Tensor:
    """A latent-size map ``(N, 1, h, w)`` or ``(N, 1, T, h, w)`` as a ComfyUI MASK at the image's size
    (bilinear, as ComfyUI resizes masks): ``(N, H, W)``; a video's ``T > 1`` latent frames become
    ``(N * T, H, W)``, one mask per latent frame (a single video: its frames in order; layered
    latents: one per layer). A time latent's map ``(N, 1, T)`` (audio) stays a time mask ``(N, 1, T)``
    at the latent's time resolution: a MASK one pixel high, which the pack's mask inputs read back
    and which core's samplers take as a noise mask of such a latent."""
    if m.ndim == 3:
        return m.clamp(0, 1).contiguous()
    if m.ndim == 5:
        m = m.movedim(2, 1).reshape(-1, 1, *m.shape[-2:])  # (N * T, 1, h, w)
    r = spatial_ratio(model, latent)
    if r != 1:
        m = torch.nn.functional.interpolate(m, scale_factor=r, mode="bilinear", align_corners=False)
    return m[:, 0].clamp(0, 1).contiguous()


# ---------------------------------------------------------------------------------------------
# Latent space
# ---------------------------------------------------------------------------------------------

def to_model_space(model, samples: torch.Tensor) -> torch.Tensor:
    """The source latent as the algorithms see it, float32 or float64: ``process_latent_in``, divided
    by the flow noise scale (see :func:`noise_scale`; 1 for nearly every model)."""
    x = samples.to(torch.float64 if samples.dtype == torch.float64 else torch.float32)
    return model.model.process_latent_in(x) / noise_scale(model)  # / 1.0 keeps the bits


def from_model_space(model, y: torch.Tensor, x0_model: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`to_model_space` for an edit ``y``, keeping the source's exact bits wherever
    ``y`` equals the source.

    The core returns ``x0_model`` bit for bit where nothing was edited; the latent format's
    affine map and its inverse do not round-trip exactly, so those elements are copied from the
    input latent instead. An identity edit therefore returns the input LATENT bit for bit.
    """
    y = y.to(x0_model.device)
    out = model.model.process_latent_out((y * noise_scale(model)).to(x0_model.dtype)).to(source.device)
    keep = (y == x0_model).to(source.device)
    return torch.where(keep, source.to(out.dtype), out).to(source.dtype)


def to_device(obj, device):
    """A path or increments with every tensor moved to ``device`` (no copy if already there)."""
    if isinstance(obj, BrownianPath):
        return replace(obj, x0=obj.x0.to(device), points=obj.points.to(device))
    if isinstance(obj, Increments):
        return replace(obj, path=to_device(obj.path, device), denoised=obj.denoised.to(device))
    return obj.to(device) if isinstance(obj, torch.Tensor) else obj


# ---------------------------------------------------------------------------------------------
# The guider: two branches (source / target), each a positive, an optional negative and a cfg
# ---------------------------------------------------------------------------------------------

@dataclass
class Branch:
    positive: list
    negative: Optional[list] = None
    cfg: float = 1.0


_CONTROL_KEYS = ("control", "strength", "timestep_start", "timestep_end")
_UNMERGEABLE_KEYS = ("area", "mask", "hooks", "gligen", "default")


class BranchGuider(comfy.samplers.CFGGuider):
    """A ``CFGGuider`` holding named branches (``source``, ``target``).

    Each branch's positive/negative pair is processed exactly as a stock ``CFGGuider`` processes
    its own (``comfy.samplers.process_conds``), and evaluated through ``predict_noise`` ->
    ``sampling_function``. :meth:`denoise_pair` evaluates the source at ``x`` and the target at
    ``y`` in ONE ``sampling_function`` call on the concatenated batch, when the two branches
    share their cfg and cond structure (same ControlNet objects, no areas/masks/hooks) and
    ``calc_cond_batch``'s memory rule allows the doubled batch; otherwise two calls. ``batch=False``:
    always two calls.
    """

    def __init__(self, model_patcher, branches: dict[str, Branch], batch: bool = True):
        super().__init__(model_patcher)
        self.branches = branches
        self.batch = batch
        conds = {}
        for name, b in branches.items():
            conds[f"{name}:positive"] = b.positive
            if b.negative is not None:
                conds[f"{name}:negative"] = b.negative
        self.inner_set_conds(conds)
        self.active: Optional[str] = None
        self.active_cfg: Optional[float] = None  # a per-call cfg (SDE-Drag's schedule), else the branch's
        self.branch_conds: dict[str, dict[str, list]] = {}
        self.pair_conds = None
        # the algorithms run in x / s (see noise_scale); scaling by 1.0 keeps every bit
        self.scale = noise_scale(model_patcher)
        self._prepared = None

    # -- evaluation ---------------------------------------------------------------------------
    def predict_noise(self, x, timestep, model_options={}, seed=None):  # noqa: B006 (ComfyUI's signature)
        conds = self.branch_conds[self.active]
        cfg = self.branches[self.active].cfg if self.active_cfg is None else self.active_cfg
        return comfy.samplers.sampling_function(self.inner_model, x, timestep, conds.get("negative"),
                                                conds["positive"], cfg, model_options=model_options, seed=seed)

    def denoise(self, branch: str, x: torch.Tensor, sigma: float, extra_args: dict,
                cfg: Optional[float] = None) -> torch.Tensor:
        """``D(x, sigma)`` of one branch, through the guider's wrappers (``outer_predict_noise``), at the
        branch's cfg or, for this call only, at ``cfg``."""
        self.active, self.active_cfg = branch, cfg
        s = torch.full((x.shape[0],), sigma, device=x.device, dtype=torch.float32)
        options, seed = extra_args["model_options"], extra_args.get("seed")
        return self(x * self.scale, s, model_options=options, seed=seed) / self.scale

    def denoise_pair(self, x: torch.Tensor, y: torch.Tensor, sigma: float, extra_args: dict,
                     cfg: Optional[float] = None):
        """``(D_src(x), D_tgt(y))``: one batched call when possible, else two (``cfg``: as :meth:`denoise`)."""
        if self.pair_conds is None or not self._pair_fits(x):
            return (self.denoise("source", x, sigma, extra_args, cfg),
                    self.denoise("target", y, sigma, extra_args, cfg))
        xy = torch.cat([x, y])
        s = torch.full((xy.shape[0],), sigma, device=x.device, dtype=torch.float32)
        pos, neg = self.pair_conds
        out = comfy.samplers.sampling_function(self.inner_model, xy * self.scale, s, neg, pos,
                                               self.branches["source"].cfg if cfg is None else cfg,
                                               model_options=extra_args["model_options"],
                                               seed=extra_args.get("seed")) / self.scale
        return out[: x.shape[0]], out[x.shape[0]:]

    def _pair_fits(self, x: torch.Tensor) -> bool:
        """``calc_cond_batch``'s own rule for its smallest chunk (one cond on the doubled batch):
        the forward must need less than 2/3 of the free memory. It splits cond/uncond itself."""
        shape = [2 * x.shape[0]] + list(x.shape[1:])
        return self.inner_model.memory_required(shape) * 1.5 < comfy.model_management.get_free_memory(x.device)

    # -- conds --------------------------------------------------------------------------------
    def inner_sample(self, noise, latent_image, device, sampler, sigmas, denoise_mask, callback, disable_pbar, seed,
                     **kwargs):
        """The stock ``CFGGuider.inner_sample`` (``latent_shapes`` and any newer keyword forwarded), with
        the branch conds held back: stock processing would treat ``source:positive`` as one prompt
        type. :meth:`prepare_branches` processes each branch as its own pair once the sampler runs."""
        self._prepared = (self.conds, device, denoise_mask, seed, kwargs)
        self.conds = {}
        return super().inner_sample(noise, latent_image, device, sampler, sigmas, denoise_mask, callback,
                                    disable_pbar, seed, **kwargs)

    def prepare_branches(self, noise, latent_image) -> None:
        """Each branch's positive/negative through ``comfy.samplers.process_conds`` exactly as a stock
        guider's pair (prompt types, ControlNet pre-run, areas), given what stock ``inner_sample``
        gives it (``latent_image`` already through ``process_latent_in``; ``latent_shapes`` where the
        core's ``process_conds`` takes it)."""
        conds, device, denoise_mask, seed, kwargs = self._prepared
        accepted = inspect.signature(comfy.samplers.process_conds).parameters
        extra = {k: v for k, v in kwargs.items() if k in accepted}
        for name in self.branches:
            pair = {k: conds[f"{name}:{k}"] for k in ("positive", "negative") if f"{name}:{k}" in conds}
            self.branch_conds[name] = comfy.samplers.process_conds(
                self.inner_model, noise, pair, device, latent_image, denoise_mask, seed, **extra)
        # keep the processed conds where outer_sample's cleanup looks for ControlNets
        self.conds = {f"{n}:{k}": v for n, d in self.branch_conds.items() for k, v in d.items()}
        self.pair_conds = self._merged_pair(noise.shape[0]) if self.batch else None

    def _merged_pair(self, batch: int):
        """Source and target conds concatenated along the batch (source first), or None."""
        if set(self.branches) != {"source", "target"}:
            return None
        src, tgt = self.branches["source"], self.branches["target"]
        if not math.isclose(src.cfg, tgt.cfg):
            return None
        uncond_unused = math.isclose(src.cfg, 1.0) and not self.model_options.get("disable_cfg1_optimization", False)
        out = []
        for kind in ("positive", "negative"):
            a, b = self.branch_conds["source"].get(kind), self.branch_conds["target"].get(kind)
            if a is None and b is None:
                out.append(None)
            elif a is None or b is None:  # one branch has a negative, the other not
                if kind == "positive" or not uncond_unused:
                    return None
                out.append(None)
            else:
                merged = [_merge_entries(ea, eb, batch) for ea, eb in zip(a, b)] if len(a) == len(b) else [None]
                if any(m is None for m in merged):
                    return None
                out.append(merged)
        return tuple(out)


def _merge_entries(a: dict, b: dict, batch: int) -> Optional[dict]:
    if any(k in a or k in b for k in _UNMERGEABLE_KEYS):
        return None
    for k in _CONTROL_KEYS:
        va, vb = a.get(k), b.get(k)
        if va is not vb and va != vb:
            return None
    ma, mb = a["model_conds"], b["model_conds"]
    if ma.keys() != mb.keys():
        return None
    merged = {}
    for key, ca in ma.items():
        pa = ca.process_cond(batch_size=batch, area=None)
        pb = mb[key].process_cond(batch_size=batch, area=None)
        if not pa.can_concat(pb):
            return None
        merged[key] = pa._copy_with(pa.concat([pb]))
    out = dict(a)
    out["model_conds"] = merged
    out["uuid"] = uuid.uuid4()
    return out


# ---------------------------------------------------------------------------------------------
# Running an algorithm inside guider.sample
# ---------------------------------------------------------------------------------------------

@dataclass
class Context:
    """What an algorithm sees while it runs inside ``guider.sample``."""

    guider: BranchGuider
    extra_args: dict
    device: torch.device
    node_callback: Optional[Callable]

    def denoiser(self, branch: str, cfg_at: Optional[Callable[[float], float]] = None):
        """``denoise(x, sigma)`` of one branch; ``cfg_at(sigma)``, if given, sets each call's cfg (SDE-Drag's
        schedule) without touching the branch, which both halves of a batched call share."""
        if cfg_at is None:
            return lambda x, sigma: self.guider.denoise(branch, x, sigma, self.extra_args)
        return lambda x, sigma: self.guider.denoise(branch, x, sigma, self.extra_args, cfg_at(sigma))

    def pair(self, x, y, sigma, cfg: Optional[float] = None):
        return self.guider.denoise_pair(x, y, sigma, self.extra_args, cfg)

    def step(self, info: dict) -> None:
        """The core's per-step callback -> ComfyUI's (progress bar, preview); honours cancel."""
        comfy.model_management.throw_exception_if_processing_interrupted()
        if self.node_callback is not None:
            s = self.guider.scale  # previews in the model's own coordinates
            self.node_callback(info["i"], info["denoised"] * s, info["x"] * s, info["total"])


class _TwoModelContext(Context):
    """A :class:`Context` whose target branch runs on a second MODEL: each branch through its own guider
    (its model's conds, wrappers, hooks and model options), never batched together."""

    def __init__(self, source: Context, target: Context):
        super().__init__(source.guider, source.extra_args, source.device, target.node_callback)
        self.lanes = {name: source for name in source.guider.branches}
        self.lanes.update({name: target for name in target.guider.branches})

    def denoiser(self, branch: str, cfg_at: Optional[Callable[[float], float]] = None):
        lane = self.lanes[branch]
        f = lane.denoiser(branch, cfg_at)
        if lane.device == self.device:
            return f
        return lambda x, sigma: f(x.to(lane.device), sigma).to(self.device)

    def pair(self, x, y, sigma, cfg: Optional[float] = None):
        def call(branch, z):
            lane = self.lanes[branch]
            out = lane.guider.denoise(branch, z.to(lane.device), sigma, lane.extra_args, cfg)
            return out.to(self.device)
        return call("source", x), call("target", y)


class _AlgorithmSampler(comfy.samplers.Sampler):
    """A ``comfy.samplers.Sampler`` that runs ``work(ctx)`` and returns its latent."""

    def __init__(self, work: Callable[[Context], object]):
        self.work = work
        self.result = None

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
               disable_pbar=False):
        model_wrap.prepare_branches(noise, latent_image)
        ctx = Context(model_wrap, extra_args, noise.device, callback)
        self.result = self.work(ctx)
        out = self.result if isinstance(self.result, torch.Tensor) else noise
        comfy.model_management.throw_exception_if_processing_interrupted()
        return out


# the key under which the target branch's MODEL carries the source's, so that model management loads both
_SOURCE_MODEL_KEY = "coupled_sde_source_model"


def run_guided(model, branches: dict[str, Branch], samples: torch.Tensor, sigmas: torch.Tensor,
               work: Callable[[Context], object], seed: int, target_model=None, batch: bool = True):
    """Run ``work(ctx)`` inside ``BranchGuider(model).sample`` and return what ``work`` returned.

    ``work`` is given a :class:`Context` and returns anything (a latent in model space, or
    increments). ``sigmas`` is the schedule actually run (its length sets the progress bar).
    ``batch=False``: the branches are never batched into one forward.

    ``target_model`` (:func:`target_lane`'s answer, or None): the ``target`` branch runs on it. Each model
    gets its own ``BranchGuider`` and its own stock ``guider.sample`` (hooks registered on its patcher, its
    wrappers and model options, its conds processed by the model that evaluates them: ControlNet, reference
    latents), one inside the other, and ``work`` runs inside both. The target's guider runs on a clone of
    ``target_model`` that carries ``model`` as an additional model (``set_additional_models``), so the
    model-management load made last before the algorithm runs holds both models (neither is unloaded to
    make room for the other); each guider cleans up its own on the way out, errors included.
    """
    steps = sigmas.numel() - 1
    node_callback = latent_preview.prepare_callback(model, steps)
    # noise only sizes the model load; latent_image feeds the conds that need it (inpaint models)
    zeros = torch.zeros_like(samples, dtype=torch.float32)
    latent, sig = samples.to(torch.float32), sigmas.to(torch.float32)
    quiet = not comfy.utils.PROGRESS_BAR_ENABLED
    if target_model is None:
        guider = BranchGuider(model, branches, batch=batch)
        sampler = _AlgorithmSampler(work)
        guider.sample(zeros, latent, sampler, sig, callback=node_callback, disable_pbar=quiet, seed=seed)
        return sampler.result

    source = BranchGuider(model, {k: b for k, b in branches.items() if k != "target"}, batch=False)
    lane = target_model.clone()
    lane.set_additional_models(_SOURCE_MODEL_KEY, [model])
    target = BranchGuider(lane, {"target": branches["target"]}, batch=False)
    inner = _AlgorithmSampler(work)

    def both(source_ctx: Context):
        inner.work = lambda target_ctx: work(_TwoModelContext(source_ctx, target_ctx))
        target.sample(zeros, latent, inner, sig, callback=node_callback, disable_pbar=quiet, seed=seed)
        return inner.result

    source.sample(zeros, latent, _AlgorithmSampler(both), sig, callback=node_callback, disable_pbar=quiet, seed=seed)
    return inner.result
