"""Edit Blend's math: the source composited back outside a mask, in pixel space. Pure torch; no
ComfyUI import.

**Why.** An edit is made in latent space and decoded by the VAE, so pixels the edit never touched
come back slightly changed (the VAE's round trip: colour and tone drift, detail shifting).
:func:`edit_blend` takes every pixel outside the mask from the source, bit for bit, and the edit
inside, with an optional inward feather and an optional colour match against a tint.

**Alpha.** ``alpha = mask * smoothstep(min(1, k / (feather + 1)))``, where ``k`` counts the erosions
of the support ``{mask > 0}`` that still hold the pixel, plus one (alternately a 3x3 square and a
4-neighbour cross, for a roughly round distance; the image border does not count as an edge). So
``alpha`` is 0 wherever the mask is, is ``mask`` itself at feather 0, and rises monotonically from
the support's edge over ``feather`` pixels inside it: the feather never reaches outside the mask.

**Colour match.** Measured on a ring just outside the support (its dilation by ``ring`` pixels,
same distance, minus the support), where the blended result is the source: ``mean`` shifts each
channel of the edited image so that its mean there equals the source's; ``mean and std`` also
scales it by the ratio of the standard deviations (left at 1 when either is below
:data:`STD_FLOOR`). Per image; applied only where ``alpha > 0`` and clamped to [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F

from .diagnostics import _as_rgb, _match_size

COLOUR_MATCH = ("off", "mean", "mean and std")
STD_FLOOR = 1e-3  # a channel flatter than this (a quarter of an 8-bit level) is not rescaled
CHANNELS = "RGB"


@dataclass(frozen=True)
class Blend:
    image: torch.Tensor  # (B, H, W, 3): the edit where alpha > 0, the source bit for bit elsewhere
    alpha: torch.Tensor  # (B, H, W): the weight of the edit
    summary: str  # one line
    warning: bool  # the summary reports something the user probably did not want (empty mask, no ring)
    edit_fraction: list  # per image: mean alpha (the share of the image taken from the edit)
    shift: list  # per image: the per-channel mean shift applied (None where colour match did not run)
    scale: list  # per image: the per-channel std ratio applied (None where not)


def _as_mask(mask, size: tuple[int, int], batch: int, source_size: tuple[int, int]) -> tuple[torch.Tensor, str]:
    """A MASK ``(H, W)``, ``(B, H, W)`` or ``(B, 1, H, W)`` as ``(1|B, 1, h, w)`` float32 at the image
    size ``(h, w)``: as it is, cropped as the source was (a mask of the source's own size), or resized
    bilinearly (any other size, e.g. the latent's)."""
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"mask: expected a MASK tensor, got {type(mask).__name__}")
    m = mask.detach()
    if m.ndim == 4 and m.shape[1] == 1:
        m = m[:, 0]
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or 0 in m.shape:
        raise ValueError(f"mask: expected a MASK of shape (H, W), (B, H, W) or (B, 1, H, W), got {tuple(mask.shape)}; "
                         "an image with colour channels must go through 'Convert Image to Mask' first")
    m = m.to("cpu", torch.float32)
    if not torch.isfinite(m).all():
        raise ValueError("mask: contains NaN or inf; expected values in [0, 1] (white = take the edit)")
    lo, hi = float(m.min()), float(m.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"mask: values must lie in [0, 1] (white = take the edit), got range [{lo:.4g}, {hi:.4g}]")
    if m.shape[0] not in (1, batch):
        raise ValueError(f"mask: has batch {m.shape[0]}, but there {'is' if batch == 1 else 'are'} {batch} edited "
                         f"image{'s' if batch > 1 else ''}; use 1 mask for all or one per edited image")
    (h, w), (mh, mw) = size, tuple(m.shape[1:])
    m = m[:, None]
    if (mh, mw) == (h, w):
        return m, ""
    if (mh, mw) == source_size:  # the source's own size: crop it as the source was cropped
        m4 = _match_size(m[:, 0, :, :, None], torch.zeros(1, h, w, 1))[0]
        return m4[..., 0][:, None].contiguous(), ""
    m = F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)
    note = f"mask resized from {mw}x{mh} to {w}x{h}"
    if abs(math.log((mw / mh) / (w / h))) > 0.05:
        note += " (stretched: its aspect ratio differs from the image's)"
    return m, note


def _erode(x: torch.Tensor, step: int) -> torch.Tensor:
    """One erosion of a (N, 1, H, W) 0/1 map: a 4-neighbour cross on even steps, a 3x3 square on odd
    ones. Outside the image counts as inside the support (the border is no edge)."""
    p = F.pad(x, (1, 1, 1, 1), value=1.0)
    if step % 2:
        return -F.max_pool2d(-p, 3, stride=1)
    c = p[..., 1:-1, 1:-1]
    return torch.minimum(torch.minimum(c, p[..., :-2, 1:-1]), torch.minimum(p[..., 2:, 1:-1], p[..., 1:-1, :-2])
                         ).minimum(p[..., 1:-1, 2:])


def _dilate(x: torch.Tensor, step: int) -> torch.Tensor:
    """One dilation of a (N, 1, H, W) 0/1 map (the same alternating cross / square); outside the
    image counts as outside the support."""
    p = F.pad(x, (1, 1, 1, 1), value=0.0)
    if step % 2:
        return F.max_pool2d(p, 3, stride=1)
    c = p[..., 1:-1, 1:-1]
    return torch.maximum(torch.maximum(c, p[..., :-2, 1:-1]), torch.maximum(p[..., 2:, 1:-1], p[..., 1:-1, :-2])
                         ).maximum(p[..., 1:-1, 2:])


def feathered_alpha(mask: torch.Tensor, feather: int) -> torch.Tensor:
    """``mask * smoothstep(min(1, k / (feather + 1)))`` for a (N, 1, H, W) mask in [0, 1] (see the
    module docstring): 0 where ``mask`` is 0, ``mask`` itself at feather 0, rising monotonically
    over ``feather`` px inside the support."""
    if feather == 0:
        return mask.clone()
    support = (mask > 0).to(mask.dtype)
    depth = support.clone()  # k: 1 on the support, +1 for each erosion still holding the pixel
    cur = support
    for i in range(feather):
        cur = _erode(cur, i)
        if not bool(cur.any()):
            break
        depth += cur
    t = (depth / (feather + 1)).clamp(max=1.0)
    return mask * (t * t * (3 - 2 * t))


def ring_of(support: torch.Tensor, ring: int) -> torch.Tensor:
    """The pixels within ``ring`` px outside a (N, 1, H, W) 0/1 ``support`` (bool, same shape)."""
    grown = support
    for i in range(ring):
        grown = _dilate(grown, i)
    return (grown > 0) & ~(support > 0)


def _check_int(value, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name}: expected a whole number of pixels, at least {lo}, got {value!r}")
    return value


def edit_blend(source, edited, mask, *, feather: int = 8, colour_match: str = "off", ring: int = 8) -> Blend:
    """``alpha * edited + (1 - alpha) * source`` of IMAGE batches ``(B, H, W, C)``, values in [0, 1],
    with the source bit for bit wherever ``alpha`` is 0 (where ``mask`` is 0).

    ``source``: one image for every edited image, or one per edited image; its size is the edit's, or
    the size VAE Encode cropped to the edit's (a multiple of 8/16/32/64 px; the crop is repeated).
    ``mask``: 1 = take the edit; any size (resized bilinearly; a mask of the uncropped source's size
    is cropped as the source), one for all images or one per edited image. ``feather``: px of the
    inward ramp (0 = the mask as it is). ``colour_match``: ``off``, ``mean`` or ``mean and std``,
    measured on a ring of ``ring`` px just outside the mask. Output: RGB (an alpha channel is
    dropped, a grey image becomes RGB), float32 on the CPU, as ComfyUI's IMAGE.
    """
    feather = _check_int(feather, "feather", 0)
    ring = _check_int(ring, "ring", 1)
    if colour_match not in COLOUR_MATCH:
        raise ValueError(f"colour_match: expected one of {', '.join(COLOUR_MATCH)}, got {colour_match!r}")
    src, out = _as_rgb(source, "source"), _as_rgb(edited, "edited")
    bs, be = src.shape[0], out.shape[0]
    if bs not in (1, be):
        raise ValueError(f"source: has {bs} images, but edited has {be}; connect one source for every edited image "
                         "or one per edited image (the image each edit was made from)")
    source_size = tuple(src.shape[1:3])
    src, crop_note = _match_size(src, out)
    size = tuple(out.shape[1:3])
    m, mask_note = _as_mask(mask, size, be, source_size)
    alpha = feathered_alpha(m, feather)  # (1|B, 1, H, W)
    a = alpha[:, 0, :, :, None]  # (1|B, H, W, 1)
    src = src.expand(be, *src.shape[1:])

    shifts, scales, notes = [None] * be, [None] * be, [crop_note, mask_note]
    corrected = out
    if colour_match != "off":
        support = (m > 0).to(torch.float32)
        rings = ring_of(support, ring).expand(be, 1, *size)  # (B, 1, H, W)
        corrected = out.clone()
        skipped = []
        for i in range(be):
            r = rings[i, 0]
            if not bool(r.any()):
                skipped.append(i)
                continue
            s_px, e_px = src[i][r], out[i][r]  # (n, 3)
            mu_s, mu_e = s_px.mean(0), e_px.mean(0)
            if colour_match == "mean":
                scale = torch.ones(3)
                corrected[i] = (out[i] + (mu_s - mu_e)).clamp(0, 1)
            else:
                sd_s, sd_e = s_px.std(0, unbiased=False), e_px.std(0, unbiased=False)
                flat = (sd_s < STD_FLOOR) | (sd_e < STD_FLOOR)
                scale = torch.where(flat, torch.ones(3), sd_s / sd_e.clamp_min(STD_FLOOR))
                corrected[i] = ((out[i] - mu_e) * scale + mu_s).clamp(0, 1)
            shifts[i], scales[i] = (mu_s - mu_e).tolist(), scale.tolist()
        if skipped:
            which = "every image" if len(skipped) == be else "image" + ("s " if len(skipped) > 1 else " ") + \
                ", ".join(str(i + 1) for i in skipped)
            notes.append(f"colour match skipped for {which}: the mask covers the whole image, so there is no ring "
                         "outside it to measure the tint on")

    blended = a * corrected + (1 - a) * src
    image = torch.where(a > 0, blended, src)  # the source's own bits wherever the edit has no weight
    alpha_out = alpha[:, 0].expand(be, *size).contiguous()
    frac = [float(alpha_out[i].mean()) for i in range(be)]
    touched = float((alpha_out > 0).float().mean())
    empty = float(alpha_out.max()) == 0.0
    if empty:
        notes.append("the mask is black everywhere, so the output is the source; paint the edited area white")
    summary = _summary(frac, touched, size, feather, colour_match, ring, shifts, scales, notes)
    warning = empty or any(n.startswith("colour match skipped") for n in notes)
    return Blend(image.contiguous(), alpha_out, summary, warning, frac, shifts, scales)


def _fmt_shift(shift: list, scale: Optional[list], with_scale: bool) -> str:
    parts = []
    for c, d, k in zip(CHANNELS, shift, scale or [1.0] * 3):
        parts.append(f"{c} {d:+.3f}" + (f" x{k:.2f}" if with_scale else ""))
    return ", ".join(parts)


def _summary(frac, touched, size, feather, colour_match, ring, shifts, scales, notes) -> str:
    h, w = size
    b = len(frac)
    rest = ", the rest is the source bit for bit" if touched < 1 else ""
    text = (f"Edit Blend, {b} image{'s' if b > 1 else ''} of {w}x{h}: {100 * sum(frac) / b:.1f} % of the image from "
            f"the edit (alpha-weighted; {100 * touched:.1f} % of the pixels touched{rest}), feather {feather} px")
    if colour_match != "off":
        done = [(i, s, k) for i, (s, k) in enumerate(zip(shifts, scales)) if s is not None]
        what = "shift per channel" + (" and std ratio" if colour_match == "mean and std" else "")
        if done:
            with_scale = colour_match == "mean and std"
            if b == 1:
                shown = _fmt_shift(done[0][1], done[0][2], with_scale)
            else:
                shown = "; ".join(f"{i + 1}: {_fmt_shift(s, k, with_scale)}" for i, s, k in done[:8])
                shown += "; ..." if len(done) > 8 else ""
            text += f"; colour match ({colour_match}, {ring} px ring), {what}: {shown} (pixel values 0 to 1)"
    notes = [n for n in notes if n]
    return text + (" (" + "; ".join(notes) + ")" if notes else "") + "."
