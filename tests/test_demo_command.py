"""The main-job command, ``python3 -m comfyui_coupled_sde.demo``: its PNG and its numbers (no ComfyUI).

The edits are judged by the scene benchmark's rule-based judge (``benchmarks/scenes/scene_judge.py``,
which the pack itself never imports). Thresholds come from the defaults measured on seeds 0-5 (the
values in the comments are seed 0's, then the range over the six seeds), with margins.
"""

import math
import pathlib
import re
import struct
import sys
import zlib

import pytest
import torch

from comfyui_coupled_sde.demo import __main__ as demo

SCENES = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "scenes"
sys.path.insert(0, str(SCENES))
import scene_judge as sj  # noqa: E402


@pytest.fixture(autouse=True)
def _threads():  # these tests share the machine
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    torch.set_num_threads(1)
    model = demo.load()  # (building the network before its weights load draws from the global RNG)
    rng = torch.get_rng_state()
    lines = []
    out = demo.run(tmp_path_factory.mktemp("demo") / "grid.png", seed=0, model=model, log=lines.append)
    assert torch.equal(torch.get_rng_state(), rng)  # the job itself: local generators only
    out["lines"] = lines
    return out


def read_png(path):
    """``(width, height, rgb (H, W, 3) uint8)`` of an 8-bit RGB PNG, every chunk's CRC checked."""
    data = pathlib.Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(tag + body) & 0xFFFFFFFF
        chunks.append((tag, body))
        pos += 12 + n
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    w, h, depth, colour, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour, comp, filt, interlace) == (8, 2, 0, 0, 0)  # 8-bit truecolour, no interlace
    raw = zlib.decompress(b"".join(body for tag, body in chunks if tag == b"IDAT"))
    assert len(raw) == h * (1 + 3 * w)
    rows = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(h, 1 + 3 * w)
    out = torch.zeros(h, 3 * w, dtype=torch.int64)
    for i in range(h):  # the writer uses None and Up only; the other three filters would fail here
        f, line = int(rows[i, 0]), rows[i, 1:].to(torch.int64)
        assert f in (0, 2), f"filter {f}"
        out[i] = line if f == 0 or i == 0 else (line + out[i - 1]) % 256
    return w, h, out.to(torch.uint8).reshape(h, w, 3)


def test_png_is_valid_and_holds_the_grid(result):
    png = result["png"]
    assert png.stat().st_size < 200_000
    w, h, rgb = read_png(png)
    grid = demo.grid_image(list(result["jobs"].values()))
    assert (h, w) == tuple(grid.shape[:2]) and (w, h) == (792, 1182)
    assert torch.equal(rgb, grid)
    # the source sits upscaled x8 (nearest) in the first row's first column
    src = demo.to_uint8(result["source"][0], 8)
    assert any(torch.equal(rgb[y:y + 256, 8:8 + 256], src) for y in range(h - 256))


def test_source_is_its_caption(result):
    assert sj.parsed_caption(sj.parse(result["source"])[0]) == demo.CAPTION


def _away_from(position):
    """Weights (H, W): the image except the edited object's quadrant widened by 2 px (judge-independent)."""
    return (~demo.quadrant_window(position, 2)).float()


def test_sync_sde_edit_recolours_only_the_circle(result):
    job = result["jobs"]["sync"]
    x0, y = job.source, job.result
    parsed = sj.parse(y)[0]
    assert sj.parsed_caption(parsed) == job.numbers["target"] == demo.CAPTION.replace("red circle", "green circle")
    before = sj.parse(x0)[0]["objects"]
    assert [o["color"] for o in parsed["objects"]] == ["green", "yellow", "blue"]
    for a, b in zip(before, parsed["objects"]):
        assert (a["shape"], a["pos"]) == (b["shape"], b["pos"])
    # the circle is redrawn from sigma 0.71 (seed 0: moved 1.77 px; seeds 0-7: 0.8-3.1 px); the others stay
    assert math.hypot(before[0]["cx"] - parsed["objects"][0]["cx"], before[0]["cy"] - parsed["objects"][0]["cy"]) < 3.5
    for a, b in zip(before[1:], parsed["objects"][1:]):
        assert abs(a["cx"] - b["cx"]) < 0.5 and abs(a["cy"] - b["cy"]) < 0.5  # seed 0: <= 0.03 px; seeds 0-5: <= 0.2
    keep = _away_from("top left")
    assert float(sj.masked_ssim(y, x0, keep)) > 0.99  # 0.9988; 0.9954-0.9988
    assert float(sj.masked_l1(y, x0, keep)) < 0.01  # 0.0035; 0.0035-0.0067
    n = job.numbers
    assert (n["colour_before"], n["colour_after"]) == ("red", "green")
    assert n["outside"] < 0.012 and n["inside"] > 0.2  # 0.0051 / 0.290; 0.0051-0.0076 / 0.26-0.30


def test_cycle_sde_reconstructs_exactly_and_edits_one_shape(result):
    rec = result["jobs"]["cycle_reconstruction"]
    assert rec.numbers["max_error"] <= 1e-6  # 0.0 on every seed (float64 accumulation)
    assert float((rec.result - rec.source).abs().max()) == rec.numbers["max_error"]
    job = result["jobs"]["cycle_edit"]
    parsed = sj.parse(job.result)[0]
    assert sj.parsed_caption(parsed) == demo.CAPTION.replace("yellow triangle", "yellow circle")
    for a, b in zip(sj.parse(job.source)[0]["objects"], parsed["objects"]):  # seed 0: 0.38 px (the edited one)
        assert math.hypot(a["cx"] - b["cx"], a["cy"] - b["cy"]) < 1.5  # seeds 0-5: <= 1.3 (edited), <= 0.35 (others)
    keep = _away_from("top right")
    assert float(sj.masked_ssim(job.result, job.source, keep)) > 0.98  # 0.9991; 0.9905-0.9991
    assert float(sj.masked_l1(job.result, job.source, keep)) < 0.012  # 0.0029; 0.0027-0.0072
    assert job.numbers["fill_before"] < 0.66 < 0.7 < job.numbers["fill_after"]  # 0.58 -> 0.76; 0.55-0.59 -> 0.76-0.79


def test_sde_drag_moves_the_square_by_the_requested_pixels(result):
    job = result["jobs"]["drag"]
    dx, dy = job.numbers["requested"]
    assert 2 <= abs(dx) + abs(dy) <= 4 and dx * dy == 0  # seed 0: (-3, 0)
    cx, cy = job.numbers["source_centre"]
    a = sj.find_object(sj.parse(job.source)[0], cx, cy)
    b = sj.find_object(sj.parse(job.result)[0], cx + dx, cy + dy)
    assert a["color"] == b["color"] == "blue" and a["shape"] == b["shape"] == "square"
    moved = (b["cx"] - a["cx"], b["cy"] - a["cy"])  # by the judge: (-2.76, +0.23); error 0.08-0.24 px on six seeds
    assert abs(moved[0] - dx) < 0.6 and abs(moved[1] - dy) < 0.6
    assert abs(job.numbers["moved"][0] - moved[0]) < 0.2 and abs(job.numbers["moved"][1] - moved[1]) < 0.2
    assert sj.parsed_caption(sj.parse(job.result)[0]) == demo.CAPTION  # nothing else appears or goes
    assert job.numbers["outside"] < 0.008  # 0.0042; 0.0038-0.0048


def test_printed_lines(result):
    lines = result["lines"]
    assert len(lines) == 6 and lines[0].startswith("source: ") and "wall time" in lines[-1]
    assert "max |error| 0 " in lines[2]
    assert "red -> green" in lines[1] and re.search(r"centre moved \([-+]\d\.\d\d, [-+]\d\.\d\d\) px for \(-3, \+0\)",
                                                     lines[4])


def test_main_writes_the_png(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path / "x.png"), "--seed", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 6 and "wall time" in out
    assert read_png(tmp_path / "x.png")[:2] == (792, 1182)
