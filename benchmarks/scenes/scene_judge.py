"""A rule-based parser of scene images and masked preservation metrics: independent of the models.

Nothing here is learned and nothing imports the diffusion code: the judge only knows the world's
palette and geometry from :mod:`scene_data`, so it can judge any image, generated or rendered.

Rules of :func:`parse` (images in model range, mapped to [0, 1]):

1. **Chroma.** The background texture is added equally to R, G and B, so the chroma
   ``q = rgb - mean(rgb)`` of a background pixel is its base colour's whatever the texture. Every
   pixel is assigned to the nearest palette colour in chroma (``scene_data.COLORS``) if that is
   nearer than the background colour's chroma, else to the background: for a pixel blending an
   object over the background this is coverage > 1/2. A first pass against both background
   colours finds the background's pixels; the second pass uses their mean chroma, so that a
   colour shift of the whole image shifts the reference with it.
2. **Components.** Connected components (4-neighbour label propagation) of every colour's pixels;
   components of fewer than :data:`MIN_PIXELS` pixels are noise and dropped. A component that
   spans more than one object could (two same-coloured objects touching across a quadrant border)
   is split along its valley of coverage (or, failing that, at the centre line) into
   object-sized parts.
3. **Soft coverage.** ``alpha`` = projection of the pixel's chroma on the segment from the
   background chroma to the component colour's, divided by its median inside the component (so
   that a desaturated object still has full coverage), over the component dilated by 1 px (the
   anti-aliased rim, in [0, 1]; other colours' pixels count 0). ``area`` counts the component's
   pixels; the centroid is the alpha-weighted mean of the pixel centres (pixel ``i`` spans
   ``[i, i + 1)``, as in the graphs).
4. **Shape** from the soft fill of the bounding box, ``sum(alpha) / (width * height)`` with
   width and height the sums of the per-column and per-row maxima of alpha, capped at 1
   (sub-pixel extents that noise does not inflate): square ~ 1, circle ~ pi / 4, triangle ~ 1 / 2
   (measured 1.00-1.01, 0.78-0.81, 0.52-0.60), with the vertical skewness of alpha as a second
   cue (a triangle widens downward: skewness -0.5 to -0.65, the others ~ 0). Triangle if the fill
   is below :data:`FILL_TRIANGLE`, or below :data:`FILL_SKEWED_TRIANGLE` with a skewness below
   :data:`SKEW_TRIANGLE` (blur raises a triangle's fill); else square above :data:`FILL_SQUARE`;
   else circle.
5. **Centre.** ``cx, cy`` follow the scene graphs' convention (the shape's reference centre): the
   centroid, except for a triangle, whose centroid lies ``0.2 h`` below its reference centre
   (apex at ``cy - h``, base at ``cy + 0.8 h``, height ``1.8 h`` measured). ``pos`` is the quadrant
   of ``(cx, cy)``. The raw centroid is kept as ``mx, my``.
6. **Background** from the pixels outside all object-coloured pixels dilated by
   :data:`BG_DILATE` px. Colour: the nearest of ``scene_data.BG_COLORS`` by mean chroma (beige is
   warm, R - B ~ 0.22; grey has R = B). Kind, from the luminance: a plane ``a + b x + c y`` is
   fitted by least squares. ``striped`` if one sinusoid of period 2.2 to 10 px explains at least
   :data:`STRIPE_PEAK` of the residual's variance (the peak of the zero-padded 2-D FFT of the
   masked residual, so holes left by the objects do not matter; measured >= 0.9 for stripes,
   <= 0.25 for noise) and the residual's std is at least :data:`STRIPE_MIN_RESIDUAL`; else
   ``smooth`` if the residual's std is below :data:`SMOOTH_RESIDUAL` (0 for a gradient, 0.07 to
   0.1 for the textures); else ``noisy``. With fewer than :data:`MIN_BG_PIXELS` background pixels
   both are ``"unknown"``.

Garbage never raises: NaNs are zeroed, values clamped; an image without object-coloured blobs
parses as no objects, one with hardly any background pixels (e.g. saturated noise) has an
``"unknown"`` background, and at most :data:`MAX_OBJECTS_PER_IMAGE` objects are described. Only a
wrong shape (not ``(N, 3, 32, 32)``) raises ValueError.

Metrics (:func:`masked_l1`, :func:`masked_ssim`) take images in model range and compare them in
[0, 1]; :func:`region_masks` gives the regions an edit must preserve.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from scene_data import BG_COLORS, COLORS, POSITIONS, SIZE, caption, footprint, to_unit

MIN_PIXELS = 8  # smaller colour components are noise
BG_DILATE = 2  # px the object-coloured pixels are dilated by before the background is measured
MIN_BG_PIXELS = 32
FILL_TRIANGLE = 0.66  # soft fill below: triangle
FILL_SQUARE = 0.87  # soft fill above: square (between: circle)
SKEW_TRIANGLE = -0.3  # vertical skewness below, with a fill below FILL_SKEWED_TRIANGLE: triangle
FILL_SKEWED_TRIANGLE = 0.78
MERGED_EXTENT = 18  # px; a component wider or taller than any one object (<= 16 px) is split ...
MIN_PART = 20  # ... if every part has this many pixels (one object has >= 40)
CORE_ALPHA = 0.75  # relative coverage of the cores a merged component is split into
STRIPE_PEAK = 0.5  # fraction of the residual variance one sinusoid explains at least: striped
STRIPE_MIN_RESIDUAL = 0.006  # ... if the residual's std is at least this (faint stripes of a blur count)
SMOOTH_RESIDUAL = 0.04  # else: std of the luminance around its fitted plane below: smooth, above: noisy
STRIPE_PERIODS = (2.2, 10.0)  # px, the band searched for the stripes' peak
FFT_SIZE = 128  # zero-padding of the FFT (frequency resolution 1/128 cycles per px)
MAX_OBJECTS_PER_IMAGE = 16  # garbage guard: only the largest components are described

_COLOR_NAMES = list(COLORS)
_BG_NAMES = list(BG_COLORS)
_QUADS = list(POSITIONS)


def _chroma(rgb: torch.Tensor) -> torch.Tensor:
    return rgb - rgb.mean(-1, keepdim=True)


_OBJ_Q = _chroma(torch.tensor([COLORS[c] for c in _COLOR_NAMES]))  # (4, 3)
_BG_Q = _chroma(torch.tensor([BG_COLORS[c] for c in _BG_NAMES]))  # (2, 3)
_Y, _X = torch.meshgrid(torch.arange(SIZE, dtype=torch.float32) + 0.5,
                        torch.arange(SIZE, dtype=torch.float32) + 0.5, indexing="ij")


def quadrant(cx: float, cy: float) -> str:
    """The caption position of a point (the image's quadrant; centre lines go right/down)."""
    half = SIZE / 2
    return f"{'top' if cy < half else 'bottom'} {'left' if cx < half else 'right'}"


# --- morphology and connected components ----------------------------------------------------------
def _dilate(m: torch.Tensor, r: int) -> torch.Tensor:
    """Square (Chebyshev) dilation by ``r`` px of a ``(..., H, W)`` float mask."""
    if r <= 0:
        return m
    shape = m.shape
    out = F.max_pool2d(m.reshape(-1, 1, *shape[-2:]).float(), 2 * r + 1, stride=1, padding=r)
    return out.reshape(shape)


def erode(m: torch.Tensor, r: int) -> torch.Tensor:
    """Square erosion by ``r`` px of a ``(..., H, W)`` float mask (pixels beyond the border count as
    outside). ``erode(mask, 3)`` keeps the pixels whose 7x7 SSIM window lies inside ``mask``."""
    if r <= 0:
        return m
    padded = F.pad(1.0 - m.float(), (r, r, r, r), value=1.0)
    return 1.0 - _dilate(padded, r)[..., r:-r, r:-r]


def label_components(mask: torch.Tensor) -> torch.Tensor:
    """4-connected components of a boolean ``(..., H, W)`` mask.

    Returns int64 labels of the same shape: 0 off the mask, else a label shared by exactly the
    pixels of one component (the largest flat index + 1 among them; labels are not consecutive).
    Max-label propagation to the 4 neighbours, each step followed by pointer jumping: a label
    is the flat index + 1 of a pixel of the same component, whose own label is at least as large.
    """
    shape = mask.shape
    h, w = shape[-2:]
    m = mask.reshape(-1, 1, h, w)
    out = torch.zeros(m.shape, dtype=torch.int64)
    busy = m.flatten(1).any(1)  # planes without a pixel stay 0
    m = m[busy]
    # float32 holds the labels exactly; the 4-neighbourhood is the union of a 1x3 and a 3x1 window
    lab = torch.where(m, torch.arange(1, h * w + 1, dtype=torch.float32).reshape(h, w), torch.zeros(()))
    for _ in range(h * w):
        nb = torch.maximum(F.max_pool2d(lab, (1, 3), stride=1, padding=(0, 1)),
                           F.max_pool2d(lab, (3, 1), stride=1, padding=(1, 0)))
        flat = torch.where(m, nb, lab).flatten(1)
        jumped = flat.gather(1, (flat.long() - 1).clamp_min(0))
        new = torch.where(flat > 0, jumped, flat).reshape(lab.shape)
        if torch.equal(new, lab):
            break
        lab = new
    out[busy] = lab.long()
    return out.reshape(shape)


# --- pixel classes --------------------------------------------------------------------------------
def _classify(q: torch.Tensor, bg_q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``q`` (N, H, W, 3) chroma, ``bg_q`` (N, B, 3) candidate background chromas per image.
    Returns the nearest palette colour (N, H, W) and whether it beats every background (N, H, W)."""
    qq = (q * q).sum(-1, keepdim=True)  # squared distances |q|^2 - 2 q.c + |c|^2
    d_obj = qq - 2 * q @ _OBJ_Q.T + (_OBJ_Q * _OBJ_Q).sum(-1)  # (N, H, W, 4)
    d_bg = (qq - 2 * torch.einsum("nhwc,nbc->nhwb", q, bg_q) + (bg_q * bg_q).sum(-1)[:, None, None]).amin(-1)
    best, cls = d_obj.min(-1)
    return cls, best < d_bg


def _bg_chroma(q: torch.Tensor, bg_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean chroma of ``bg_mask``'s pixels (N, 3), the index of the nearest background colour
    (N,) and the pixel counts (N,)."""
    m = bg_mask.float()
    count = m.sum((1, 2))
    mean_q = (q * m[..., None]).sum((1, 2)) / count.clamp_min(1.0)[:, None]
    return mean_q, (mean_q[:, None] - _BG_Q).norm(dim=-1).argmin(-1), count


# --- objects ----------------------------------------------------------------------------------------
def _grow(lab: torch.Tensor, region: torch.Tensor, steps: int) -> torch.Tensor:
    """Grow the labelled cores ``lab`` (H, W) inside ``region`` by ``steps`` 4-neighbour rings."""
    lab = lab.float()[None]
    for _ in range(steps):
        nb = torch.maximum(F.max_pool2d(lab, (1, 3), stride=1, padding=(0, 1)),
                           F.max_pool2d(lab, (3, 1), stride=1, padding=(1, 0)))
        lab = torch.where(region & (lab == 0), nb, lab)
    return lab[0].long()


def _split_merged(comp: torch.Tensor, alpha: torch.Tensor) -> list[torch.Tensor]:
    """Split a component wider or taller than :data:`MERGED_EXTENT` (same-coloured objects
    touching), into parts of at least :data:`MIN_PART` pixels, else return ``[comp]``.

    Cores are the well-covered pixels (alpha above :data:`CORE_ALPHA` of the component's median:
    the anti-aliased seam where two objects touch is about half covered), eroded by 0 to 2 px
    until they fall apart, grown back inside the component. If they do not fall apart (objects
    overlapping), the component is cut at the centre line(s) it spans."""
    ys, xs = comp.nonzero(as_tuple=True)
    wide = int(xs.max() - xs.min()) + 1 > MERGED_EXTENT
    tall = int(ys.max() - ys.min()) + 1 > MERGED_EXTENT
    if not (wide or tall):
        return [comp]
    core = comp & (alpha > CORE_ALPHA * alpha[comp].median())
    for k in (0, 1, 2):
        lab = label_components(erode(core.float(), k) > 0)
        values, counts = lab.unique(return_counts=True)
        seeds = values[(values > 0) & (counts >= MIN_PIXELS)]
        if len(seeds) >= 2:
            lab = _grow(torch.where(torch.isin(lab, seeds), lab, torch.zeros((), dtype=lab.dtype)), comp, 2 * k + 6)
            parts = [lab == v for v in seeds.tolist()]
            if all(int(p.sum()) >= MIN_PART for p in parts):
                return parts
    half = SIZE // 2
    cut = comp.clone()
    if wide and xs.min() < half <= xs.max():
        cut[:, half] = False  # a one-pixel seam, given back below
    if tall and ys.min() < half <= ys.max():
        cut[half, :] = False
    lab = label_components(cut)
    values, counts = lab.unique(return_counts=True)
    seeds = values[(values > 0) & (counts >= MIN_PART)]
    if len(seeds) < 2:
        return [comp]
    lab = _grow(torch.where(torch.isin(lab, seeds), lab, torch.zeros((), dtype=lab.dtype)), comp, 2)
    return [lab == v for v in seeds.tolist()]


def _describe(comp: torch.Tensor, alpha: torch.Tensor, color: str) -> dict | None:
    """Features of one component (``comp`` (H, W) bool, ``alpha`` (H, W) unclamped projection on
    the background -> colour segment, 0 on other colours' pixels)."""
    area = int(comp.sum())
    if area < MIN_PIXELS:
        return None
    inner = erode(comp.float(), 1) > 0
    scale = alpha[inner if int(inner.sum()) >= 4 else comp].median()  # the colour's full coverage
    if not math.isfinite(float(scale)) or float(scale) <= 0.05:
        return None
    a = alpha / scale
    ring = (_dilate(comp.float(), 1) > 0) & ~comp
    w = torch.where(comp, a.clamp(0.5, 2.0), torch.where(ring, a.clamp(0.0, 1.0), torch.zeros(())))
    mass = float(w.sum())
    mx, my = float((w * _X).sum()) / mass, float((w * _Y).sum()) / mass
    width, height = float(w.amax(0).clamp(max=1.0).sum()), float(w.amax(1).clamp(max=1.0).sum())
    fill = mass / max(width * height, 1e-6)
    vy = float((w * (_Y - my) ** 2).sum()) / mass
    skew = float((w * (_Y - my) ** 3).sum()) / mass / max(vy, 1e-6) ** 1.5
    if fill < FILL_TRIANGLE or (skew < SKEW_TRIANGLE and fill < FILL_SKEWED_TRIANGLE):
        shape = "triangle"
    elif fill > FILL_SQUARE:
        shape = "square"
    else:
        shape = "circle"
    cx, cy = mx, my
    if shape == "triangle":  # centroid = cy + 0.2 h; the height is 1.8 h
        cy = my - 0.2 * height / 1.8
    return {"color": color, "shape": shape, "cx": cx, "cy": cy, "pos": quadrant(cx, cy), "area": area,
            "mx": mx, "my": my, "fill": fill, "skew": skew}


def _objects(labels: torch.Tensor, cls: torch.Tensor, is_obj: torch.Tensor, q: torch.Tensor,
             bg_q: torch.Tensor) -> list[dict]:
    """The objects of one image (labels (4, H, W) per colour; cls, is_obj (H, W); q (H, W, 3); bg_q (3,))."""
    found = []
    for k, name in enumerate(_COLOR_NAMES):
        seg = _OBJ_Q[k] - bg_q
        alpha = ((q - bg_q) * seg).sum(-1) / seg.dot(seg).clamp_min(1e-6)
        alpha = alpha * ~(is_obj & (cls != k))  # other colours' pixels are no part of the rim
        values, counts = labels[k].unique(return_counts=True)
        for v in values[(values > 0) & (counts >= MIN_PIXELS)].tolist():
            for part in _split_merged(labels[k] == v, alpha):
                found.append((part, alpha, name))
    found.sort(key=lambda t: -int(t[0].sum()))
    objs = [o for o in (_describe(*t) for t in found[:MAX_OBJECTS_PER_IMAGE]) if o is not None]
    objs.sort(key=lambda o: (_QUADS.index(o["pos"]), -o["area"]))
    return objs


# --- background ------------------------------------------------------------------------------------
def _band() -> torch.Tensor:
    fy, fx = torch.fft.fftfreq(FFT_SIZE), torch.fft.rfftfreq(FFT_SIZE)
    rad = (fy[:, None] ** 2 + fx[None, :] ** 2).sqrt()
    return (rad >= 1 / STRIPE_PERIODS[1]) & (rad <= 1 / STRIPE_PERIODS[0])


_BAND = _band()


def texture_stats(lum: torch.Tensor, bg_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: the std of the luminance around its least-squares plane over the background
    pixels, and the fraction of that residual's variance explained by the best single sinusoid
    of the stripe band (2 max |FFT|^2 / (M sum r^2): 1 for a pure sinusoid). ``(N,)`` each."""
    m = bg_mask.double()
    lum = lum.double() * m
    n = m.sum((1, 2)).clamp_min(1.0)
    xs, ys = (_X.double() - SIZE / 2) / SIZE, (_Y.double() - SIZE / 2) / SIZE
    basis = torch.stack([torch.ones_like(xs), xs, ys])  # (3, H, W)
    gram = torch.einsum("khw,jhw,nhw->nkj", basis, basis, m) + 1e-6 * torch.eye(3, dtype=torch.float64)
    rhs = torch.einsum("khw,nhw->nk", basis, lum)
    coef = torch.linalg.solve(gram, rhs[..., None])[..., 0]  # (N, 3)
    resid = (lum - torch.einsum("nk,khw->nhw", coef, basis)) * m
    ss = (resid**2).sum((1, 2))
    spec = torch.fft.rfft2(resid, s=(FFT_SIZE, FFT_SIZE))[:, _BAND]  # real input: half the plane suffices
    peak = (spec.real**2 + spec.imag**2).amax(-1)
    frac = (2 * peak / (n * ss).clamp_min(1e-12)).clamp(0.0, 1.0)
    return (ss / n).sqrt().float(), frac.float()


# --- the parser --------------------------------------------------------------------------------------
def parse(x: torch.Tensor) -> list[dict]:
    """Scene parse of every image of ``x`` (``(N, 3, SIZE, SIZE)`` or one ``(3, SIZE, SIZE)``, model
    range): ``{"objects": [{"color", "shape", "cx", "cy", "pos", "area", "mx", "my", "fill",
    "skew"}, ...], "bg": {"kind", "color"}}``, objects in quadrant order (then larger first);
    ``fill`` and ``skew`` are the shape features, ``mx, my`` the raw centroid. See the module
    docstring for the rules."""
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != (SIZE, SIZE):
        raise ValueError(f"expected (N, 3, {SIZE}, {SIZE}) images, got {tuple(x.shape)}")
    u = to_unit(torch.nan_to_num(x.detach().cpu().float(), nan=0.0, posinf=1.0, neginf=-1.0))
    q = _chroma(u.permute(0, 2, 3, 1))  # (N, H, W, 3)
    n = len(u)
    if n == 0:
        return []
    # pass 1 against both background colours -> the background's pixels and their chroma;
    # pass 2 against that measured chroma (which follows colour shifts of the whole image)
    _, is_obj = _classify(q, _BG_Q.expand(n, -1, -1))
    mean_q, bg_idx, count = _bg_chroma(q, _dilate(is_obj.float(), BG_DILATE) == 0)
    bg_q = torch.where((count >= MIN_BG_PIXELS)[:, None], mean_q, _BG_Q[bg_idx])
    cls, is_obj = _classify(q, bg_q[:, None])
    bg_mask = _dilate(is_obj.float(), BG_DILATE) == 0
    _, bg_idx, count = _bg_chroma(q, bg_mask)
    resid, peak = texture_stats(u.mean(1), bg_mask)
    colours = torch.arange(len(_COLOR_NAMES))[:, None, None]
    labels = label_components(is_obj[:, None] & (cls[:, None] == colours))  # (N, 4, H, W)
    out = []
    for i in range(n):
        if count[i] < MIN_BG_PIXELS:
            bg = {"kind": "unknown", "color": "unknown"}
        else:
            if peak[i] >= STRIPE_PEAK and resid[i] >= STRIPE_MIN_RESIDUAL:
                kind = "striped"
            else:
                kind = "smooth" if resid[i] < SMOOTH_RESIDUAL else "noisy"
            bg = {"kind": kind, "color": _BG_NAMES[int(bg_idx[i])]}
        out.append({"objects": _objects(labels[i], cls[i], is_obj[i], q[i], bg_q[i]), "bg": bg})
    return out


def parsed_caption(parsed_scene: dict) -> str:
    """The caption of a parse, in :func:`scene_data.caption`'s format (objects in quadrant order)."""
    return caption(parsed_scene)


def landed(parsed_scene: dict, obj: dict, n_objects: int, tol: float) -> tuple[bool, float]:
    """A drag's verdict for one image: ``(success, centroid error px)``. Success: the parsed object
    nearest ``obj``'s centre (within 8 px) is within ``tol`` px of it, with its colour and shape, and
    the image has ``n_objects`` objects (no ghost left, none lost). The error is inf if none is found."""
    f = find_object(parsed_scene, obj["cx"], obj["cy"], max_dist=8.0)
    e = math.hypot(f["cx"] - obj["cx"], f["cy"] - obj["cy"]) if f else float("inf")
    ok = (f is not None and e <= tol and f["color"] == obj["color"] and f["shape"] == obj["shape"]
          and len(parsed_scene["objects"]) == n_objects)
    return ok, e


def find_object(parsed_scene: dict, cx: float, cy: float, max_dist: float = 6.0) -> dict | None:
    """The parsed object whose centre is nearest ``(cx, cy)``, or None if none is within ``max_dist`` px."""
    best, best_d = None, max_dist
    for o in parsed_scene["objects"]:
        d = math.hypot(o["cx"] - cx, o["cy"] - cy)
        if d <= best_d:
            best, best_d = o, d
    return best


def _match(parsed_scene: dict, pos: str) -> dict | None:
    """The parsed object of a quadrant (the largest if there are several)."""
    cands = [o for o in parsed_scene["objects"] if o["pos"] == pos]
    return max(cands, key=lambda o: o["area"]) if cands else None


def attribute_accuracy(parsed: list[dict], scenes: list[dict]) -> dict:
    """Agreement of parses with ground-truth scene graphs, per attribute.

    * ``count``, ``bg_kind``, ``bg_color``, ``all`` (the whole caption): fractions of images.
    * ``pos``: fraction of ground-truth objects with a parsed object in their quadrant (the match;
      the largest if several). ``color`` and ``shape``: fractions of ground-truth objects whose
      match has that attribute right; an unmatched object counts as wrong for both (and for
      ``pos``). Extra parsed objects cost only ``count`` and ``all``.
    * ``centroid_px``: mean distance (px) of matched objects' centres to the graphs' (NaN if no
      object matched).
    """
    if len(parsed) != len(scenes):
        raise ValueError(f"{len(parsed)} parses for {len(scenes)} scenes")
    n_img = max(len(scenes), 1)
    n_obj = sum(len(s["objects"]) for s in scenes)
    hits = {"pos": 0, "color": 0, "shape": 0}
    dists = []
    for p, s in zip(parsed, scenes):
        for o in s["objects"]:
            m = _match(p, o["pos"])
            if m is None:
                continue
            hits["pos"] += 1
            hits["color"] += m["color"] == o["color"]
            hits["shape"] += m["shape"] == o["shape"]
            dists.append(math.hypot(m["cx"] - o["cx"], m["cy"] - o["cy"]))
    pairs = list(zip(parsed, scenes))
    return {
        "count": sum(len(p["objects"]) == len(s["objects"]) for p, s in pairs) / n_img,
        "color": hits["color"] / max(n_obj, 1),
        "shape": hits["shape"] / max(n_obj, 1),
        "pos": hits["pos"] / max(n_obj, 1),
        "centroid_px": sum(dists) / len(dists) if dists else float("nan"),
        "bg_kind": sum(p["bg"]["kind"] == s["bg"]["kind"] for p, s in pairs) / n_img,
        "bg_color": sum(p["bg"]["color"] == s["bg"]["color"] for p, s in pairs) / n_img,
        "all": sum(parsed_caption(p) == caption(s) for p, s in pairs) / n_img,
    }


# --- masked metrics ------------------------------------------------------------------------------------
def _mask(mask: torch.Tensor, n: int) -> torch.Tensor:
    """``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)`` weights -> ``(N, 1, H, W)`` float64."""
    m = mask.detach().cpu().double()
    if m.dim() == 2:
        m = m[None]
    if m.dim() == 3:
        m = m[:, None]
    if m.dim() != 4 or m.shape[1] != 1:
        raise ValueError(f"mask must be (H, W), (N, H, W) or (N, 1, H, W), got {tuple(mask.shape)}")
    return m.expand(n, -1, -1, -1)


def _masked_mean(v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Per image weighted mean of ``v`` (N, 1, H, W) over ``m``; NaN where the mask is empty."""
    tot = m.sum((1, 2, 3))
    val = (v * m).sum((1, 2, 3)) / tot.clamp_min(1e-12)
    return torch.where(tot > 0, val, torch.full_like(val, float("nan"))).float()


def masked_l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image mean absolute difference over the masked pixels and the 3 channels, ``(N,)``.

    ``a`` and ``b`` are ``(N, 3, H, W)`` in model range [-1, 1] and are compared in [0, 1]
    (``scene_data.to_unit``); ``mask`` weights the pixels (soft weights allowed); an empty mask
    gives NaN."""
    d = (to_unit(a).double() - to_unit(b).double()).abs().mean(1, keepdim=True)
    return _masked_mean(d, _mask(mask, len(a)))


def _gaussian_window(size: int = 7, std: float = 1.5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * std**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Channel-averaged SSIM map ``(N, 1, H, W)`` of two model-range batches compared in [0, 1]
    (Wang et al. 2004: Gaussian window 7x7, std 1.5, K1 0.01, K2 0.03, data range 1; reflect
    padding, so the map has the image's size and aligns with masks)."""
    a, b = to_unit(a).double(), to_unit(b).double()
    c = a.shape[1]
    w = _gaussian_window().expand(c, 1, -1, -1)
    pad = (w.shape[-1] - 1) // 2

    def blur(t):
        return F.conv2d(F.pad(t, (pad, pad, pad, pad), mode="reflect"), w, groups=c)

    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(1, keepdim=True)


def masked_ssim(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image mean of :func:`ssim_map` over the masked pixels, ``(N,)`` (NaN for an empty mask).
    Inputs as for :func:`masked_l1`.

    The map at a pixel sees its 7x7 window, so near the mask's edge it also sees pixels outside
    the mask: even a perfect edit scores below 1 on a region next to what it changed (about 0.9
    on ``region_masks(...)["outside"]`` around a recoloured object). Compare methods with the
    ground-truth edit's score as the ceiling, or use ``erode(mask, 3)``, where it is exactly 1."""
    return _masked_mean(ssim_map(a, b), _mask(mask, len(a)))


# --- preservation regions -------------------------------------------------------------------------------
def _footprints(objs: list[dict]) -> torch.Tensor:
    if not objs:
        return torch.zeros((SIZE, SIZE))
    return torch.stack([(footprint(o) > 0).float() for o in objs]).amax(0)


def region_masks(src_scene: dict, tgt_scene: dict, edited: list[int] | None, dilate: int = 1) -> dict:
    """``(SIZE, SIZE)`` float {0, 1} masks of what an edit from ``src_scene`` to ``tgt_scene`` must keep.

    ``edited``: indices of the edited objects (in both graphs, as :func:`scene_data.edit_scene`
    keeps them; an index missing from one graph is skipped there), or None for a background edit.
    Footprints are ``scene_data.footprint(obj) > 0``, dilated by ``dilate`` px with max-pooling.

    * ``"outside"``: everything outside the dilated footprints of the edited objects in the source
      and the target. For a background edit it is the untouched objects' region (``"objects"``):
      the only pixels a perfect background edit leaves unchanged (the rims blend the background).
    * ``"objects"``: the footprints of the objects not edited, eroded by 1 px so that their
      anti-aliased edges do not count, less the edited objects' dilated footprints.
    * ``"background"``: the pixels outside every dilated footprint of both graphs (the texture);
      all zero for a background edit.
    """
    src, tgt = src_scene["objects"], tgt_scene["objects"]
    all_fp = _dilate(torch.maximum(_footprints(src), _footprints(tgt)), dilate)
    if edited is None:
        objects = erode(torch.maximum(_footprints(src), _footprints(tgt)), 1)
        return {"outside": objects.clone(), "objects": objects, "background": torch.zeros((SIZE, SIZE))}
    def split(objs):  # (edited, kept) objects of one graph; negative indices count from the end
        idx = {i % len(objs) for i in edited if -len(objs) <= i < len(objs)}
        return [o for i, o in enumerate(objs) if i in idx], [o for i, o in enumerate(objs) if i not in idx]

    (src_ed, src_kept), (tgt_ed, tgt_kept) = split(src), split(tgt)
    changed = _dilate(torch.maximum(_footprints(src_ed), _footprints(tgt_ed)), dilate)
    kept = torch.maximum(_footprints(src_kept), _footprints(tgt_kept))
    return {"outside": 1.0 - changed, "objects": erode(kept, 1) * (1.0 - changed), "background": 1.0 - all_fp}
