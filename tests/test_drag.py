"""SDE-Drag's copy-paste and drag schedule on plain tensors."""

import pytest
import torch

from comfyui_coupled_sde.sampling import copy_paste, copy_paste_noisy, drag_schedule, pixels_to_cells


def _ramp(h=16, w=16):
    return torch.arange(h * w, dtype=torch.float32).reshape(1, 1, h, w).repeat(1, 2, 1, 1)


def test_alpha_beta_and_window():
    x = _ramp()
    out = copy_paste(x, [(4, 5)], [(10, 9)], alpha=1.1, beta=1.0, r=2, seed=0)
    assert torch.equal(x, _ramp())  # input untouched
    src = x[..., 3:8, 2:7]  # rows y-2..y+2, cols x-2..x+2: a (2r+1)^2 window
    assert torch.allclose(out[..., 7:12, 8:13], 1.1 * src)
    assert torch.equal(out[..., 3:8, 2:7], src)  # beta = 1: the source window is kept
    changed = (out != x)
    changed[..., 7:12, 8:13] = False
    assert not changed.any()  # nothing outside the two windows moved


def test_beta_keeps_unit_variance_in_the_source_window():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, 32, 32, generator=g)  # unit-variance (VP-normalised) noisy latent
    out = copy_paste(x, [(8, 8)], [(24, 24)], alpha=1.1, beta=0.3, r=5, seed=1)
    win = out[..., 3:14, 3:14]
    assert abs(win.std().item() - 1.0) < 0.02
    corr = torch.corrcoef(torch.stack([win.flatten(), x[..., 3:14, 3:14].flatten()]))[0, 1].item()
    assert abs(corr - 0.3) < 0.02  # beta of the old content remains
    assert torch.allclose(out[..., 19:30, 19:30], 1.1 * x[..., 3:14, 3:14])


def test_windows_clamp_at_borders_to_the_same_extent():
    x = _ramp(10, 12)
    out = copy_paste(x, [(0, 1)], [(11, 9)], alpha=2.0, beta=1.0, r=3, seed=0)
    # left = min(3, 0, 11) = 0, right = min(3, 11, 0) = 0, up = min(3, 1, 9) = 1, down = min(3, 8, 0) = 0
    assert torch.equal(out[..., 8:10, 11:12], 2.0 * x[..., 0:2, 0:1])
    assert (out != x).sum().item() == 2 * 2  # 2 channels x (2 x 1) window


def test_later_pairs_win_overlaps():
    x = _ramp()
    out = copy_paste(x, [(2, 2), (12, 12)], [(8, 8), (9, 9)], alpha=1.0, beta=1.0, r=1, seed=0)
    assert torch.equal(out[..., 8:11, 8:11], x[..., 11:14, 11:14])  # pair 2's paste covers pair 1's
    assert torch.equal(out[..., 7, 7], x[..., 1, 1])  # where only pair 1 pasted


def test_noisy_copy_paste_is_done_in_vp_coordinates():
    x = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(2)) * 3.0
    out = copy_paste_noisy(x, 2.0, "ve", [(4, 4)], [(10, 10)], alpha=1.1, beta=0.3, r=2, seed=0)
    assert torch.allclose(out[..., 8:13, 8:13], 1.1 * x[..., 2:7, 2:7], atol=1e-6)
    ref = copy_paste(x / 5 ** 0.5, [(4, 4)], [(10, 10)], alpha=1.1, beta=0.3, r=2, seed=0) * 5 ** 0.5
    assert torch.allclose(out, ref, atol=1e-6)


def test_drag_schedule():
    steps = drag_schedule([(0, 0), (10, 10)], [(9, 0), (10, 6)], step=2)
    assert len(steps) == 4 or len(steps) == 5  # round(9 / 2) = round(4.5)
    assert len(steps) == int(9 / 2 + 0.5)
    assert steps[0][0] == [(0, 0), (10, 10)] and steps[-1][1] == [(9, 0), (10, 6)]
    for (_, t), (s2, _) in zip(steps, steps[1:]):
        assert t == s2  # each iteration starts where the last one ended
    assert drag_schedule([(5, 5)], [(5, 5)], step=2) == [([(5, 5)], [(5, 5)])]  # m >= 1
    neg = drag_schedule([(10, 10)], [(3, 10)], step=2)
    assert len(neg) == 4 and neg[-1][1] == [(3, 10)]
    assert [p[1][0][0] for p in neg] == [10 + (-7 * k) // 4 for k in range(1, 5)]  # floor, exact ends


def test_pixels_to_cells_and_bad_points():
    assert pixels_to_cells([[15, 16], [0, 7]]) == [(1, 2), (0, 0)]
    with pytest.raises(ValueError, match="^targets: 1 target points for 2"):
        drag_schedule([(0, 0), (1, 1)], [(2, 2)])
    with pytest.raises(ValueError, match="^sources: at least one"):
        drag_schedule([], [])
    with pytest.raises(ValueError, match=r"^sources: expected a list of \[x, y\]"):
        drag_schedule(["ab"], [(1, 2)])
    with pytest.raises(ValueError, match=r"^targets: point \(16, 3\) lies outside the 16x16 latent"):
        copy_paste(_ramp(), [(1, 1)], [(16, 3)])
    with pytest.raises(ValueError, match="^beta: "):
        copy_paste(_ramp(), [(1, 1)], [(2, 3)], beta=1.5)
    with pytest.raises(ValueError, match="^step: "):
        drag_schedule([(0, 0)], [(3, 3)], step=0)
