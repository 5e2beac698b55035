"""What an edit changed: the one-line log hint of the edit nodes, and the Edit Difference math.
Pure torch; no ComfyUI import.

**The hint.** After each edit, the nodes compare the output latent with the source latent:
``relative change = RMS(edit - source) / std(source)``, per latent of the batch, the RMS taken over
the mask's editable area when a mask is used. Below :data:`LOW` (2 %) the edit changed almost
nothing, above :data:`HIGH` (100 %) almost everything (a latent unrelated to the source, with the
same spread, is at about 141 %). An edit that starts late (less than :data:`LATE` = 10 % noise
in the latent) and changed less than :data:`LATE_CHANGE` (10 %) counts as "almost nothing" too:
so little noise leaves the target prompt room only to tint what is there (on the demo scene
model, a colour edit started at step 27 of 28 changes 5 % and keeps the old colour; one started
at step 16 changes 56 % and succeeds). Either way the node logs ONE line on the pack's logger
(:data:`LOG`, ``comfyui_coupled_sde``) that says by how much and what to change. When the
target is the source prompt (a reconstruction), the line says so instead, at INFO level.

**The difference.** :func:`image_difference`: ``|edited - source|`` of two IMAGE batches as a
heat map, an amplified difference or an overlay, the changed pixels as a MASK and a summary.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

LOG = logging.getLogger("comfyui_coupled_sde")
PREFIX = "[Coupled SDE] "
LOW = 0.02
HIGH = 1.0
LATE = 0.1  # noise fraction at the start of the edit
LATE_CHANGE = 0.1

# ---- the log hint ---------------------------------------------------------------------------------


def relative_change(source: torch.Tensor, edited: torch.Tensor, mask: Optional[torch.Tensor] = None) -> list[float]:
    """Per latent of the batch: ``RMS(edited - source) / std(source)``, the RMS over the area where
    ``mask`` (broadcastable to the latents, 1 = editable) is non-zero, weighted by it."""
    s, e = source.detach().to(torch.float32), edited.detach().to(device=source.device, dtype=torch.float32)
    if s.shape != e.shape:
        raise ValueError(f"edited: shape {tuple(e.shape)} differs from the source's {tuple(s.shape)}")
    b = s.shape[0]
    d2 = (e - s).square()
    w = torch.ones_like(d2) if mask is None else mask.detach().to(d2).expand_as(d2)
    num, den = (w * d2).reshape(b, -1).sum(1), w.reshape(b, -1).sum(1)
    rms = torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(num)).sqrt()
    std = s.reshape(b, -1).std(1, unbiased=False) if s[0].numel() > 1 else torch.zeros(b)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))  # a constant latent: relative to 1
    return (rms / std).tolist()


def _pct(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{100 * lo:.1f} %" if math.isclose(lo, hi, rel_tol=0.05, abs_tol=5e-4) else \
        f"{100 * lo:.1f} to {100 * hi:.1f} %"


def _which(indices: list[int], batch: int) -> str:
    if batch == 1:
        return "the latent"
    shown = ", ".join(str(i + 1) for i in indices[:8]) + (", ..." if len(indices) > 8 else "")
    return f"latent{'s' if len(indices) > 1 else ''} {shown} of {batch}"


def noise_fraction(sigma: float, flow: bool) -> float:
    """The share of noise in a noisy latent at ``sigma``: ``sigma`` for a flow model, ``sigma /
    sqrt(1 + sigma^2)`` (the VP form) for the VE family."""
    sigma = float(sigma)
    return sigma if flow else sigma / math.sqrt(1.0 + sigma * sigma)


def change_hint(node: str, source: torch.Tensor, edited: torch.Tensor, *, mask: Optional[torch.Tensor] = None,
                few: Sequence[str] = (), many: Sequence[str] = (), same_prompt: bool = False,
                start_noise: Optional[float] = None) -> Optional[tuple[int, str]]:
    """``(logging level, message)`` when the edit changed almost nothing (< :data:`LOW`, or <
    :data:`LATE_CHANGE` after a start with less than :data:`LATE` noise) or almost everything (>
    :data:`HIGH`) of some latent, else None. ``few`` / ``many``: what to change in either case
    (short imperative phrases). ``same_prompt``: the target branch is the source branch, so
    reproducing the source is expected (INFO instead of WARNING). ``start_noise``: the noise
    fraction where the edit started (:func:`noise_fraction`), when known."""
    if mask is not None and mask.numel() and float(mask.max()) == 0.0:
        return logging.WARNING, (f"{node}: the mask is black everywhere (nothing is editable), so the output is the "
                                 "source. Paint the area to edit white, or disconnect the mask.")
    rel = relative_change(source, edited, mask)
    batch = len(rel)
    late = start_noise is not None and start_noise < LATE
    low = [i for i, r in enumerate(rel) if r < LOW or (late and r < LATE_CHANGE)]
    high = [i for i, r in enumerate(rel) if r > HIGH]
    area = " over the mask's white area" if mask is not None else ""
    if same_prompt and len(low) == batch:
        return logging.INFO, (f"{node}: the target is the source prompt (same conditioning and cfg), so the output "
                              f"reproduces the source ({_pct(rel)} change), as meant for a reconstruction or an "
                              "identity check; to edit, make the target prompt differ.")
    parts = []
    if low and late and any(rel[i] >= LOW for i in low):
        parts.append(f"{node} changed {_which(low, batch)} by only {_pct([rel[i] for i in low])} (RMS of edit - source"
                     f"{area} over the source's std) and started where the latent holds only {100 * start_noise:.0f} % "
                     f"noise (hint below {100 * LATE:g} % noise and {100 * LATE_CHANGE:g} % change): so late, the "
                     "target can only tint what is there: " + "; ".join(few) + ".")
    elif low:
        parts.append(f"{node} changed {_which(low, batch)} by only {_pct([rel[i] for i in low])} (RMS of edit - source"
                     f"{area} over the source's std; hint below {100 * LOW:g} %): " + "; ".join(few) + ".")
    if high:
        parts.append(f"{node} changed {_which(high, batch)} by {_pct([rel[i] for i in high])} (hint above "
                     f"{100 * HIGH:g} %; a latent unrelated to the source is at about 141 %): " + "; ".join(many) + ".")
    return (logging.WARNING, " ".join(parts)) if parts else None


def log_change(node: str, source: torch.Tensor, edited: torch.Tensor, **kwargs) -> Optional[str]:
    """Log :func:`change_hint`'s line, if any, on :data:`LOG`; returns it. Never raises: a hint must
    not fail an edit that worked."""
    try:
        hint = change_hint(node, source, edited, **kwargs)
    except Exception:  # diagnostics only: never fail the edit
        LOG.debug("%s%s: no change hint", PREFIX, node, exc_info=True)
        return None
    if hint is None:
        return None
    level, message = hint
    LOG.log(level, "%s%s", PREFIX, message)
    return message


def same_conditioning(a, b) -> bool:
    """Whether two CONDITIONING values are the same prompt: the same object, or entries with equal
    tensors and equal option dicts (guidance, pooled output, ControlNet object, ...)."""
    if a is b:
        return True
    if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)):
        return False
    for ea, eb in zip(a, b):
        if ea is eb:
            continue
        if not (isinstance(ea, (list, tuple)) and isinstance(eb, (list, tuple)) and len(ea) == len(eb) == 2):
            return False
        (ta, da), (tb, db) = ea, eb
        if not _same(ta, tb) or not isinstance(da, dict) or not isinstance(db, dict) or da.keys() != db.keys():
            return False
        if not all(_same(da[k], db[k]) for k in da):
            return False
    return True


def _same(x, y) -> bool:
    if x is y:
        return True
    if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
        return (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.shape == y.shape
                and x.dtype == y.dtype and x.device == y.device and torch.equal(x, y))
    if isinstance(x, (int, float, str, bool, type(None))) and isinstance(y, (int, float, str, bool, type(None))):
        return x == y
    return False  # other objects (ControlNets, hooks): only the same object is the same


# ---- Edit Difference ---------------------------------------------------------------------------------

MODES = ("heat map", "amplified difference", "overlay")
VAE_RATIOS = (8, 16, 32, 64)  # VAE Encode crops an image to a multiple of its VAE's downscale ratio


@dataclass(frozen=True)
class Difference:
    image: torch.Tensor  # (B, H, W, 3) in [0, 1]
    mask: torch.Tensor  # (B, H, W), 1 where a pixel changed by more than the threshold
    mean_abs: float  # mean |edited - source| over every pixel and channel (pixel values in [0, 1])
    changed_fraction: float  # fraction of pixels whose largest channel change exceeds the threshold
    summary: str
    per_image: list  # [(mean |diff|, max |diff|, changed fraction)] per image


def _as_rgb(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected an IMAGE tensor, got {type(x).__name__}")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4) or x.shape[0] == 0:
        raise ValueError(f"{name}: expected an IMAGE of shape (B, H, W, 3), got {tuple(x.shape)}; a LATENT must go "
                         "through VAE Decode first")
    x = x.detach().to("cpu", torch.float32)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or inf")
    if x.shape[-1] == 1:
        x = x.expand(*x.shape[:-1], 3)
    return x[..., :3]


def _match_size(src: torch.Tensor, out: torch.Tensor) -> tuple[torch.Tensor, str]:
    """``src`` at ``out``'s size: equal sizes as they are; VAE Encode's centred crop to a multiple of
    8, 16, 32 or 64 pixels is repeated; any other mismatch is refused (named ``edited``)."""
    (sh, sw), (eh, ew) = src.shape[1:3], out.shape[1:3]
    if (sh, sw) == (eh, ew):
        return src, ""
    for r in VAE_RATIOS:
        if (eh, ew) == ((sh // r) * r, (sw // r) * r):
            y, x = (sh % r) // 2, (sw % r) // 2
            return src[:, y:y + eh, x:x + ew], (f"source centre-cropped from {sw}x{sh} to {ew}x{eh}, as VAE Encode "
                                                f"crops to a multiple of {r} px")
    raise ValueError(
        f"edited: is {ew}x{eh} pixels (width x height), but source is {sw}x{sh}. Compare an edit with the image it "
        "was made from, at the same size (only VAE Encode's crop to a multiple of 8/16/32/64 px is undone here); "
        "resize or crop one of them first.")


def _heat(m: torch.Tensor) -> torch.Tensor:
    """A black -> red -> yellow -> white ramp of ``m`` in [0, 1], shape (..., 3)."""
    return torch.stack([(3 * m).clamp(0, 1), (3 * m - 1).clamp(0, 1), (3 * m - 2).clamp(0, 1)], dim=-1)


def image_difference(source, edited, *, mode: str = "heat map", gain: float = 4.0,
                     threshold: float = 0.05) -> Difference:
    """``|edited - source|`` of IMAGE batches ``(B, H, W, C)``, values in [0, 1].

    Batches: one source for every edited image, one edited image for every source, or one of each
    per pair. ``mode``: ``heat map`` (the largest channel change x ``gain`` on a black-red-yellow-white
    ramp), ``amplified difference`` (``gain x |diff|`` per channel) or ``overlay`` (the heat in red to
    yellow over the edited image in grey). ``threshold``: a pixel whose largest channel change exceeds
    it counts as changed (the MASK output and ``changed_fraction``).
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if not (math.isfinite(gain) and gain > 0):
        raise ValueError(f"gain: must be a positive number, got {gain}")
    if not (math.isfinite(threshold) and 0 <= threshold <= 1):
        raise ValueError(f"threshold: must lie in [0, 1] (pixel values), got {threshold}")
    src, out = _as_rgb(source, "source"), _as_rgb(edited, "edited")
    bs, be = src.shape[0], out.shape[0]
    if bs != be and 1 not in (bs, be):
        raise ValueError(f"edited: has {be} images, but source has {bs}; connect one source for every edited image, "
                         "or the same number of each (one per pair)")
    src, note = _match_size(src, out)
    b = max(bs, be)
    src, out = src.expand(b, *src.shape[1:]), out.expand(b, *out.shape[1:])
    diff = (out - src).abs()
    m = diff.amax(dim=-1)  # (B, H, W): the largest channel change of each pixel
    if mode == "heat map":
        image = _heat((gain * m).clamp(0, 1))
    elif mode == "amplified difference":
        image = (gain * diff).clamp(0, 1)
    else:
        grey = out.mean(dim=-1, keepdim=True).expand(*out.shape[:-1], 3) * 0.6
        a = (gain * m).clamp(0, 1)[..., None]
        colour = torch.cat([torch.ones_like(a), a, torch.zeros_like(a)], dim=-1)
        image = grey * (1 - a) + colour * a
    changed = (m > threshold).to(torch.float32)
    per = [(float(diff[i].mean()), float(m[i].max()), float(changed[i].mean())) for i in range(b)]
    mean_abs, frac = float(diff.mean()), float(changed.mean())
    return Difference(image.contiguous(), changed, mean_abs, frac,
                      _summary(per, mean_abs, frac, threshold, tuple(out.shape[1:3]), note), per)


def _summary(per, mean_abs, frac, threshold, size, note) -> str:
    h, w = size
    b = len(per)
    head = f"Edit Difference, {b} image{'s' if b > 1 else ''} of {w}x{h}: "
    if all(mx == 0.0 for _, mx, _ in per):
        text = head + "no pixel changed (the edited image equals the source)"
    else:
        text = head + (f"mean |edited - source| {mean_abs:.4f} (pixel values 0 to 1), largest "
                       f"{max(mx for _, mx, _ in per):.3f}; {100 * frac:.1f} % of the pixels changed by more than "
                       f"{threshold:g}")
        if b > 1:
            shown = "; ".join(f"{i + 1}: {m:.4f}, {100 * f:.1f} %" for i, (m, _, f) in enumerate(per[:16]))
            text += f". Per image (mean, changed): {shown}{'; ...' if b > 16 else ''}"
    return text + (f" ({note})" if note else "") + "."


def enlarged_for_display(images: torch.Tensor, min_side: int = 128) -> torch.Tensor:
    """IMAGE ``(B, H, W, C)`` enlarged by a whole factor, each pixel a block (nearest), so that its short
    side reaches ``min_side``; larger images are returned as they are. For the picture shown on a node
    only (the demo scene model's 32x32 images would show as a speck); outputs keep the true size."""
    short = min(int(images.shape[1]), int(images.shape[2]))
    if short >= min_side or short == 0:
        return images
    k = -(-min_side // short)  # ceil
    return images.repeat_interleave(k, dim=1).repeat_interleave(k, dim=2)
