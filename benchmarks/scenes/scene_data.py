"""A seeded world of small RGB scenes with scene graphs and captions (nothing is downloaded).

A scene is 1-3 objects on a textured background, rendered at 32x32 in [-1, 1] (the models' range).

* **Objects**: a shape (circle, square, triangle) in a saturated colour (red, green, blue,
  yellow), in one of four quadrants ("top left", "top right", "bottom left", "bottom right") with
  a jittered centre (+-2 px) and a random, uncaptioned size (radius 4.5 to 6.5 px). At most one
  object per quadrant. Edges are anti-aliased from signed distances.
* **Background**: a muted colour (grey, beige) with a per-image fine texture of random phase:
  ``striped`` (a sinusoid of random period, angle and phase), ``noisy`` (smoothed white noise) or
  ``smooth`` (a linear gradient of random direction). This is the detail an edit should keep.
* **Caption**: generated from the graph, objects in quadrant order:
  "a red circle top left and a blue square bottom right on a striped grey background".

:func:`sample_scenes` draws scene graphs (plain dicts) from a ``torch.Generator``;
:func:`render` draws them, batched and deterministic (the texture's randomness is stored in the
graph). An edit is a change of the graph (:func:`edit_scene`), so the edited scene and the
footprints of what must not change are known exactly. :func:`tokenize` turns captions into token
ids for the text encoder; the empty caption is the unconditional prompt of classifier-free
guidance.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

SIZE = 32
SHAPES = ("circle", "square", "triangle")
COLORS = {"red": (0.86, 0.12, 0.12), "green": (0.10, 0.72, 0.18), "blue": (0.12, 0.25, 0.90),
          "yellow": (0.92, 0.84, 0.10)}
POSITIONS = {"top left": (8.0, 8.0), "top right": (24.0, 8.0), "bottom left": (8.0, 24.0),
             "bottom right": (24.0, 24.0)}  # quadrant centres (x, y) in pixels
BACKGROUNDS = ("striped", "noisy", "smooth")
BG_COLORS = {"grey": (0.50, 0.50, 0.50), "beige": (0.62, 0.55, 0.40)}
TEXTURE_AMPLITUDE = 0.10
JITTER = 2.0
RADIUS = (4.5, 6.5)
MAX_OBJECTS = 3

# The vocabulary and tokenizer ship with the pack (the demo model reads captions in ComfyUI).
from comfyui_coupled_sde.demo.scene_net import MAX_TOKENS, VOCAB, WORDS, tokenize  # noqa: E402, F401

assert WORDS == tuple(["<pad>", "<bos>", "a", "and", "on", "background"] + list(COLORS) + list(SHAPES)
                      + ["top", "bottom", "left", "right"] + list(BACKGROUNDS) + list(BG_COLORS))


# --- scene graphs ---------------------------------------------------------------------------------
def _uniform(gen, lo, hi):
    return lo + (hi - lo) * float(torch.rand((), generator=gen, dtype=torch.float64))


def _choice(gen, seq):
    return seq[int(torch.randint(len(seq), (), generator=gen))]


def sample_scene(gen: torch.Generator) -> dict:
    """One random scene graph."""
    n = int(torch.randint(1, MAX_OBJECTS + 1, (), generator=gen))
    quads = [list(POSITIONS)[i] for i in torch.randperm(len(POSITIONS), generator=gen)[:n].tolist()]
    objects = []
    for pos in sorted(quads, key=list(POSITIONS).index):
        cx, cy = POSITIONS[pos]
        objects.append({"shape": _choice(gen, SHAPES), "color": _choice(gen, list(COLORS)), "pos": pos,
                        "cx": cx + _uniform(gen, -JITTER, JITTER), "cy": cy + _uniform(gen, -JITTER, JITTER),
                        "r": _uniform(gen, *RADIUS)})
    bg = {"kind": _choice(gen, BACKGROUNDS), "color": _choice(gen, list(BG_COLORS)),
          "period": _uniform(gen, 3.0, 6.0), "angle": _uniform(gen, 0.0, math.pi),
          "phase": _uniform(gen, 0.0, 2 * math.pi), "tilt": _uniform(gen, 0.0, 2 * math.pi),
          "noise_seed": int(torch.randint(2**31 - 1, (), generator=gen))}
    return {"objects": objects, "bg": bg}


def sample_scenes(n: int, seed: int) -> list[dict]:
    gen = torch.Generator().manual_seed(seed)
    return [sample_scene(gen) for _ in range(n)]


def caption(scene: dict) -> str:
    objs = " and ".join(f"a {o['color']} {o['shape']} {o['pos']}" for o in scene["objects"])
    return f"{objs} on a {scene['bg']['kind']} {scene['bg']['color']} background"


def edit_scene(scene: dict, index: int | None = None, **changes) -> dict:
    """A copy of ``scene`` with object ``index``'s attributes (or, for ``index=None``, the
    background's) replaced by ``changes``; moving an object by ``dx``/``dy`` pixels keeps its
    caption position unless ``pos`` is given."""
    out = copy.deepcopy(scene)
    target = out["bg"] if index is None else out["objects"][index]
    for key, value in changes.items():
        if key in ("dx", "dy"):
            target["c" + key[1]] += value
        else:
            target[key] = value
    return out


# --- rendering --------------------------------------------------------------------------------------
_YY, _XX = torch.meshgrid(torch.arange(SIZE, dtype=torch.float32) + 0.5,
                          torch.arange(SIZE, dtype=torch.float32) + 0.5, indexing="ij")


def signed_distance(shape: str, cx: float, cy: float, r: float) -> torch.Tensor:
    """``(SIZE, SIZE)`` signed distance (pixels, negative inside) to the shape's outline."""
    dx, dy = _XX - cx, _YY - cy
    if shape == "circle":
        return (dx * dx + dy * dy).sqrt() - r
    if shape == "square":
        return torch.maximum(dx.abs(), dy.abs()) - 0.85 * r
    # an upward isosceles triangle: the intersection of three half-planes (base, two sides)
    h = 1.1 * r
    base = dy - 0.8 * h
    slope = math.atan2(2.0 * h * 0.9, 1.0 * 1.15 * r)  # side normals
    nx, ny = math.sin(slope), -math.cos(slope)
    apex_y = cy - h
    left = (-dx) * nx + (_YY - apex_y) * ny
    right = dx * nx + (_YY - apex_y) * ny
    return torch.stack([base, left, right]).amax(0)


def footprint(obj: dict) -> torch.Tensor:
    """Coverage of one object in [0, 1] (anti-aliased), ``(SIZE, SIZE)``."""
    return (0.5 - signed_distance(obj["shape"], obj["cx"], obj["cy"], obj["r"])).clamp(0.0, 1.0)


def background(bg: dict) -> torch.Tensor:
    """``(3, SIZE, SIZE)`` background in [0, 1]."""
    base = torch.tensor(BG_COLORS[bg["color"]], dtype=torch.float32)[:, None, None]
    if bg["kind"] == "striped":
        u = _XX * math.cos(bg["angle"]) + _YY * math.sin(bg["angle"])
        tex = torch.sin(2 * math.pi * u / bg["period"] + bg["phase"])
    elif bg["kind"] == "noisy":
        g = torch.Generator().manual_seed(bg["noise_seed"])
        tex = torch.randn((1, 1, SIZE, SIZE), generator=g)
        k = torch.tensor([0.25, 0.5, 0.25])
        tex = F.conv2d(F.pad(tex, (1, 1, 1, 1), mode="circular"), (k[:, None] * k[None])[None, None])[0, 0]
        tex = tex / 0.45  # about unit std after the 3x3 binomial blur
    else:  # smooth: a linear gradient through the centre
        u = (_XX - SIZE / 2) * math.cos(bg["tilt"]) + (_YY - SIZE / 2) * math.sin(bg["tilt"])
        tex = 1.6 * u / SIZE
    return (base + TEXTURE_AMPLITUDE * tex[None]).clamp(0.0, 1.0)


def render_unit(scene: dict) -> torch.Tensor:
    """``(3, SIZE, SIZE)`` in [0, 1]."""
    img = background(scene["bg"])
    for obj in scene["objects"]:
        a = footprint(obj)[None]
        img = img * (1 - a) + torch.tensor(COLORS[obj["color"]], dtype=torch.float32)[:, None, None] * a
    return img


def render(scenes: list[dict]) -> torch.Tensor:
    """``(N, 3, SIZE, SIZE)`` float32 in [-1, 1]."""
    return torch.stack([render_unit(s) for s in scenes]) * 2.0 - 1.0


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Model range [-1, 1] -> [0, 1], clamped."""
    return ((x.to(torch.float32) + 1.0) / 2.0).clamp(0.0, 1.0)


# --- text -------------------------------------------------------------------------------------------------
