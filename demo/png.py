"""A PNG writer and a 3x5 bitmap font on torch tensors, standard library only (zlib + struct).

The pack adds no runtime dependency, so the main-job command (``python3 -m comfyui_coupled_sde.demo``)
draws its grid here: RGB ``uint8`` canvases ``(H, W, 3)``, nearest upscaling, a heat map and text.
"""

from __future__ import annotations

import ctypes
import pathlib
import struct
import zlib

import torch

# 3x5 glyphs, rows top to bottom ("#" = ink). Lower case is drawn as upper case; unknown characters as "?".
_GLYPHS = {
    "A": (".#.", "#.#", "###", "#.#", "#.#"), "B": ("##.", "#.#", "##.", "#.#", "##."),
    "C": (".##", "#..", "#..", "#..", ".##"), "D": ("##.", "#.#", "#.#", "#.#", "##."),
    "E": ("###", "#..", "##.", "#..", "###"), "F": ("###", "#..", "##.", "#..", "#.."),
    "G": (".##", "#..", "#.#", "#.#", ".##"), "H": ("#.#", "#.#", "###", "#.#", "#.#"),
    "I": ("###", ".#.", ".#.", ".#.", "###"), "J": ("..#", "..#", "..#", "#.#", ".#."),
    "K": ("#.#", "#.#", "##.", "#.#", "#.#"), "L": ("#..", "#..", "#..", "#..", "###"),
    "M": ("#.#", "###", "###", "#.#", "#.#"), "N": ("##.", "#.#", "#.#", "#.#", "#.#"),
    "O": (".#.", "#.#", "#.#", "#.#", ".#."), "P": ("##.", "#.#", "##.", "#..", "#.."),
    "Q": (".#.", "#.#", "#.#", "##.", ".##"), "R": ("##.", "#.#", "##.", "#.#", "#.#"),
    "S": (".##", "#..", ".#.", "..#", "##."), "T": ("###", ".#.", ".#.", ".#.", ".#."),
    "U": ("#.#", "#.#", "#.#", "#.#", "###"), "V": ("#.#", "#.#", "#.#", "#.#", ".#."),
    "W": ("#.#", "#.#", "###", "###", "#.#"), "X": ("#.#", "#.#", ".#.", "#.#", "#.#"),
    "Y": ("#.#", "#.#", ".#.", ".#.", ".#."), "Z": ("###", "..#", ".#.", "#..", "###"),
    "0": ("###", "#.#", "#.#", "#.#", "###"), "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("##.", "..#", ".#.", "#..", "###"), "3": ("##.", "..#", ".#.", "..#", "##."),
    "4": ("#.#", "#.#", "###", "..#", "..#"), "5": ("###", "#..", "##.", "..#", "##."),
    "6": (".##", "#..", "###", "#.#", "###"), "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"), "9": ("###", "#.#", "###", "..#", "##."),
    " ": ("...", "...", "...", "...", "..."), "-": ("...", "...", "###", "...", "..."),
    ">": ("#..", ".#.", "..#", ".#.", "#.."), "<": ("..#", ".#.", "#..", ".#.", "..#"),
    ".": ("...", "...", "...", "...", ".#."), ",": ("...", "...", "...", ".#.", "#.."),
    ":": ("...", ".#.", "...", ".#.", "..."), ";": ("...", ".#.", "...", ".#.", "#.."),
    "|": (".#.", ".#.", ".#.", ".#.", ".#."),
    "/": ("..#", "..#", ".#.", "#..", "#.."), "=": ("...", "###", "...", "###", "..."),
    "(": (".#.", "#..", "#..", "#..", ".#."), ")": (".#.", "..#", "..#", "..#", ".#."),
    "+": ("...", ".#.", "###", ".#.", "..."), "%": ("#.#", "..#", ".#.", "#..", "#.#"),
    "?": ("##.", "..#", ".#.", "...", ".#."),
}
GLYPH_W, GLYPH_H = 3, 5


def text_width(text: str, scale: int = 1) -> int:
    """Width in px of ``text`` drawn by :func:`draw_text` (one blank column between glyphs)."""
    return max(0, len(text) * (GLYPH_W + 1) - 1) * scale


def draw_text(canvas: torch.Tensor, text: str, x: int, y: int, scale: int = 1, color=(0, 0, 0)) -> None:
    """Draws ``text`` into ``canvas`` (``(H, W, 3)`` uint8, in place) with its top left corner at ``(x, y)``;
    whatever falls outside the canvas is clipped."""
    ink = torch.tensor(color, dtype=torch.uint8)
    h, w = canvas.shape[:2]
    for k, ch in enumerate(text.upper()):
        rows = _GLYPHS.get(ch, _GLYPHS["?"])
        gx = x + k * (GLYPH_W + 1) * scale
        for j, row in enumerate(rows):
            for i, c in enumerate(row):
                if c == "#":
                    x0, y0 = gx + i * scale, y + j * scale
                    x1, y1 = min(x0 + scale, w), min(y0 + scale, h)
                    if x1 > max(x0, 0) and y1 > max(y0, 0):
                        canvas[max(y0, 0):y1, max(x0, 0):x1] = ink


def to_uint8(img: torch.Tensor, scale: int = 1) -> torch.Tensor:
    """A model-range image ``(3, H, W)`` in [-1, 1] as ``(H * scale, W * scale, 3)`` uint8, upscaled nearest."""
    u = ((img.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return u.permute(1, 2, 0).repeat_interleave(scale, 0).repeat_interleave(scale, 1).contiguous()


def heat(values: torch.Tensor, vmax: float, scale: int = 1) -> torch.Tensor:
    """``(H, W)`` non-negative values as a black-red-yellow-white heat map, ``vmax`` and above white;
    ``(H * scale, W * scale, 3)`` uint8."""
    t = (values.detach().float().cpu() / vmax).clamp(0, 1)
    rgb = torch.stack([(3 * t).clamp(0, 1), (3 * t - 1).clamp(0, 1), (3 * t - 2).clamp(0, 1)], -1)
    u = (rgb * 255).round().to(torch.uint8)
    return u.repeat_interleave(scale, 0).repeat_interleave(scale, 1).contiguous()


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_bytes(rgb: torch.Tensor) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (``(H, W, 3)`` uint8). Every scanline uses the "Up" filter
    (a row repeated by nearest upscaling costs almost nothing) except the first ("None")."""
    if rgb.dim() != 3 or rgb.shape[2] != 3 or rgb.dtype != torch.uint8:
        raise ValueError(f"rgb: expected an (H, W, 3) uint8 tensor, got {tuple(rgb.shape)} {rgb.dtype}")
    h, w = rgb.shape[:2]
    rows = rgb.reshape(h, w * 3).to(torch.int16)
    up = torch.cat([rows[:1], (rows[1:] - rows[:-1]) % 256]).to(torch.uint8)
    filt = torch.full((h, 1), 2, dtype=torch.uint8)
    filt[0] = 0
    data = torch.cat([filt, up], 1).contiguous()
    raw = ctypes.string_at(data.data_ptr(), data.numel())  # the bytes at once (no numpy; no per-element loop)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, truecolour, deflate, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def write_png(path, rgb: torch.Tensor) -> pathlib.Path:
    """Writes :func:`png_bytes` of ``rgb`` to ``path`` (its folder is created); returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(rgb))
    return path
