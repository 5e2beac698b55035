"""Drag points parsing and the editor's painted mask (no ComfyUI needed)."""

import json

import pytest
import torch

from comfyui_coupled_sde.nodes.points import DragPoints, parse_drag_points, strokes_to_mask


def test_every_accepted_form_gives_the_same_pairs():
    want = DragPoints(((10.0, 20.0), (30.0, 40.0)), ((50.0, 60.0), (70.0, 80.0)))
    forms = [
        {"sources": [[10, 20], [30, 40]], "targets": [[50, 60], [70, 80]]},
        json.dumps({"sources": [[10, 20], [30, 40]], "targets": [[50, 60], [70, 80]]}),
        [[10, 20, 50, 60], [30, 40, 70, 80]],
        "[[[10, 20], [50, 60]], [[30, 40], [70, 80]]]",
        # KJNodes PointsEditor coordinates: consecutive source, target
        '[{"x": 10, "y": 20}, {"x": 50, "y": 60}, {"x": 30, "y": 40}, {"x": 70, "y": 80}]',
        want,
    ]
    for f in forms:
        p = parse_drag_points(f)
        assert (p.sources, p.targets) == (want.sources, want.targets), f
    # PointsEditor's positive coordinates as sources, negative ones as targets
    p = parse_drag_points('[{"x": 10, "y": 20}, {"x": 30, "y": 40}]',
                          targets="[{'x': 50, 'y': 60}, {'x': 70, 'y': 80}]")
    assert (p.sources, p.targets) == (want.sources, want.targets)
    # the editor's JSON keeps the image size; to_json round-trips
    p = parse_drag_points({"sources": [[1, 2]], "targets": [[3, 4]], "width": 512, "height": 256})
    assert (p.width, p.height) == (512, 256) and parse_drag_points(p.to_json()) == p


@pytest.mark.parametrize("bad,match", [
    ("", "empty"),
    ("{not json", "not valid JSON"),
    ('{"sources": [[1, 2]]}', "'sources' and 'targets'"),
    ('{"sources": [], "targets": []}', "no drag pairs"),
    ('{"sources": [[1, 2], [3, 4]], "targets": [[5, 6]]}', "2 source points but 1 target"),
    ('[{"x": 1, "y": 2}, {"x": 3, "y": 4}, {"x": 5, "y": 6}]', "3 points cannot pair up"),
    ('[[1, "a"], [2, 3]]', "expected a point"),
    ("42", "expected drag points"),
])
def test_bad_points_name_the_input(bad, match):
    with pytest.raises(ValueError, match=f"^drag_points: .*{match}"):
        parse_drag_points(bad)


def test_cells_and_points_outside_the_image():
    p = parse_drag_points([[15, 9, 100, 63]])
    assert p.cells(16, 8) == ([(1, 1)], [(12, 7)])  # 8 pixels per latent cell by default
    with pytest.raises(ValueError, match=r"^drag_points: target point 1 \(100, 64\) lies outside the 128x64 image"):
        parse_drag_points([[15, 9, 100, 64]]).cells(16, 8)
    # points placed on a 256x128 image of a 16x8-cell latent: 16 pixels per cell
    wide = parse_drag_points({"sources": [[31, 17]], "targets": [[255, 127]], "width": 256, "height": 128})
    assert wide.cells(16, 8) == ([(1, 1)], [(15, 7)])


def test_strokes_paint_and_erase_discs():
    assert strokes_to_mask("[]", 16, 8) is None
    m = strokes_to_mask([[8, 4, 3, 1], [8, 4, 1, 0]], 16, 8)
    assert m.shape == (1, 8, 16) and m.dtype == torch.float32
    assert m[0, 4, 5].item() == 1.0 and m[0, 4, 8].item() == 0.0 and m[0, 0, 0].item() == 0.0
    assert m.sum().item() == 32 - 4  # 32 pixel centres lie within radius 3 of (8, 4), 4 within radius 1
    with pytest.raises(ValueError, match="^mask_strokes:"):
        strokes_to_mask([[1, 2, 3]], 4, 4)
