"""Drag points: parsing (our editor's JSON, point-pair lists, KJNodes' PointsEditor coordinates)
and the editor's painted mask. Pure Python + torch; no ComfyUI import.

A ``DragPoints`` value is what the ``DRAG_POINTS`` type carries between nodes: source and target
points in IMAGE pixels ``(x, y)``, paired by index, plus the image size they were placed on
(when known) and the editor's mode: ``"windows"`` (SDE-Drag's point windows, the default) or
``"region"`` (the painted region moves as a whole by the arrows' map).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Optional

import torch

Point = tuple[float, float]
MODES = ("windows", "region")


@dataclass(frozen=True)
class DragPoints:
    sources: tuple[Point, ...]
    targets: tuple[Point, ...]
    width: Optional[int] = None
    height: Optional[int] = None
    mode: str = "windows"

    def to_json(self) -> str:
        data = {"sources": [list(p) for p in self.sources], "targets": [list(p) for p in self.targets],
                "width": self.width, "height": self.height}
        if self.mode != "windows":
            data["mode"] = self.mode
        return json.dumps(data)

    def _size(self, cols: int, rows: int) -> tuple:
        """The image size the points were placed on (default: 8 pixels per latent cell)."""
        return self.width or cols * 8, self.height or rows * 8

    def cell_coords(self, cols: int, rows: int):
        """The points as continuous latent-cell coordinates (``x * cols / width``): region drag's
        arrows, where rotation and scale need more than whole cells. Points are checked as in
        :meth:`cells`."""
        self.cells(cols, rows)
        width, height = self._size(cols, rows)

        def at(p):
            return (p[0] * cols / width, p[1] * rows / height)

        return [at(p) for p in self.sources], [at(p) for p in self.targets]

    def cells(self, cols: int, rows: int, name: str = "drag_points"):
        """Latent cells of an image of ``width x height`` pixels (default: 8 pixels per cell)
        encoded to ``cols x rows`` cells; every point must lie inside the image."""
        width, height = self._size(cols, rows)
        for kind, pts in (("source", self.sources), ("target", self.targets)):
            for j, (x, y) in enumerate(pts):
                if not (0 <= x < width and 0 <= y < height):
                    raise ValueError(f"{name}: {kind} point {j + 1} ({x:g}, {y:g}) lies outside the "
                                     f"{width}x{height} image")

        def cell(p):
            return (min(cols - 1, int(p[0] * cols / width)), min(rows - 1, int(p[1] * rows / height)))

        return [cell(p) for p in self.sources], [cell(p) for p in self.targets]


def _point(p, name: str) -> Point:
    if isinstance(p, dict) and "x" in p and "y" in p:
        p = (p["x"], p["y"])
    if isinstance(p, (list, tuple)) and len(p) == 2:
        try:
            x, y = float(p[0]), float(p[1])
        except (TypeError, ValueError):
            x = y = math.nan
        if math.isfinite(x) and math.isfinite(y):
            return (x, y)
    raise ValueError(f"{name}: expected a point [x, y] or {{\"x\": .., \"y\": ..}}, got {p!r}")


def _load(value, name: str):
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError(f"{name}: empty; place at least one source -> target pair")
        try:
            return json.loads(text.replace("'", '"'))
        except json.JSONDecodeError as e:
            raise ValueError(f"{name}: not valid JSON ({e.msg} at character {e.pos})") from None
    return value


def _point_list(value, name: str) -> list[Point]:
    value = _load(value, name)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name}: expected a list of points, got {type(value).__name__}")
    return [_point(p, name) for p in value]


def parse_drag_points(value, targets=None, name: str = "drag_points", allow_empty: bool = False) -> DragPoints:
    """Read drag pairs from any of the accepted forms.

    * ``DragPoints`` (passed through);
    * ``{"sources": [[x, y], ...], "targets": [[x, y], ...]}`` (what the drag editor stores),
      optionally with ``"width"`` / ``"height"`` and ``"mode"`` (``"windows"`` or ``"region"``);
    * ``[[sx, sy, tx, ty], ...]`` or ``[[[sx, sy], [tx, ty]], ...]``;
    * a flat point list ``[{"x": .., "y": ..}, ...]`` (KJNodes PointsEditor coordinates) read as
      consecutive source, target pairs;
    * with ``targets`` given: ``value`` is the source list and ``targets`` the target list, each a
      point list in any form above (e.g. PointsEditor's positive and negative coordinates).
    JSON strings of all of these are accepted. No pair at all is an error unless ``allow_empty``
    (Drag Points allows it, so that its editor gets the picture before the first arrow; the nodes
    that drag refuse it).
    """
    if isinstance(value, DragPoints) and targets is None:
        return _checked(value, name, allow_empty)
    if targets is not None:
        src, tgt = _point_list(value, name), _point_list(targets, "target_points")
        return _checked(DragPoints(tuple(src), tuple(tgt)), name, allow_empty)
    data = _load(value, name)
    width = height = None
    mode = "windows"
    if isinstance(data, dict):
        if "sources" not in data or "targets" not in data:
            raise ValueError(f"{name}: a JSON object needs 'sources' and 'targets' lists")
        src = [_point(p, name) for p in data["sources"]]
        tgt = [_point(p, name) for p in data["targets"]]
        width, height = data.get("width"), data.get("height")
        mode = data.get("mode", "windows")
        if mode not in MODES:
            raise ValueError(f"{name}: \"mode\" must be one of {', '.join(MODES)}, got {mode!r}")
    elif isinstance(data, (list, tuple)):
        if data and all(isinstance(p, (list, tuple)) and len(p) == 4 for p in data):
            src = [_point(p[:2], name) for p in data]
            tgt = [_point(p[2:], name) for p in data]
        elif data and all(isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], (list, tuple, dict))
                          for p in data):
            src = [_point(p[0], name) for p in data]
            tgt = [_point(p[1], name) for p in data]
        else:
            pts = [_point(p, name) for p in data]
            if len(pts) % 2:
                raise ValueError(f"{name}: {len(pts)} points cannot pair up; list them as source, target, "
                                 "source, target, ...")
            src, tgt = pts[0::2], pts[1::2]
    else:
        raise ValueError(f"{name}: expected drag points (a JSON object or list), got {type(data).__name__}")
    return _checked(DragPoints(tuple(src), tuple(tgt), _int_or_none(width), _int_or_none(height), mode), name,
                    allow_empty)


def _int_or_none(v):
    return None if v is None else int(v)


def _checked(p: DragPoints, name: str, allow_empty: bool = False) -> DragPoints:
    if not p.sources and not p.targets and not allow_empty:
        raise ValueError(f"{name}: no drag pairs; place at least one source -> target pair (click the source, "
                         "then the target, in Drag Points' editor; it shows the image after a first run)")
    if len(p.sources) != len(p.targets):
        raise ValueError(f"{name}: {len(p.sources)} source points but {len(p.targets)} target points; "
                         "they pair up by order")
    return p


def strokes_to_mask(strokes, width: int, height: int, name: str = "mask_strokes") -> Optional[torch.Tensor]:
    """The drag editor's painted mask: ``[[x, y, radius, value], ...]`` discs painted in order
    (value 1 paints editable, 0 erases) on a black canvas -> ``(1, H, W)`` float MASK, or None."""
    strokes = _load(strokes, name) if isinstance(strokes, str) and strokes.strip() else strokes
    if not strokes:
        return None
    if not isinstance(strokes, (list, tuple)):
        raise ValueError(f"{name}: expected a list of [x, y, radius, value] discs")
    ys = torch.arange(height, dtype=torch.float32)[:, None]
    xs = torch.arange(width, dtype=torch.float32)[None, :]
    mask = torch.zeros(height, width)
    for s in strokes:
        if not (isinstance(s, (list, tuple)) and len(s) == 4):
            raise ValueError(f"{name}: expected [x, y, radius, value], got {s!r}")
        x, y, r, v = (float(t) for t in s)
        mask[(xs + 0.5 - x) ** 2 + (ys + 0.5 - y) ** 2 <= r * r] = min(max(v, 0.0), 1.0)
    return mask[None]
