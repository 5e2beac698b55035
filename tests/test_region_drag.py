"""Region drag (docs/ALGORITHMS.md 4.3): the arrows' map, the cell warp, and sde_drag(region=...)."""

import math

import pytest
import torch
from test_sde_drag import gaussian_denoiser  # the exact denoiser of N(0, I) data

from comfyui_coupled_sde.sampling import (
    NoiseFamily,
    arrow_transform,
    copy_paste,
    copy_paste_noisy,
    dilate_cells,
    path_noise_std,
    region_move,
    region_move_noisy,
    region_plan,
    sde_drag,
    warp_region,
)

FLOW = torch.tensor([0.3, 0.2, 0.12, 0.05, 0.0], dtype=torch.float64)
VE = torch.tensor([0.5, 0.35, 0.2, 0.1, 0.0], dtype=torch.float64)
IDENTITY = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)


def latent(shape=(2, 4, 16, 16), seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def box(h=16, w=16, x0=3, x1=7, y0=4, y1=9):
    m = torch.zeros(1, 1, h, w)
    m[..., y0:y1, x0:x1] = 1.0
    return m


# --- the map ----------------------------------------------------------------------------------------
def test_one_arrow_is_a_translation():
    m = arrow_transform([(2.5, 3.0)], [(6.5, 1.0)])
    assert torch.equal(m, torch.tensor([[1.0, 0.0, 4.0], [0.0, 1.0, -2.0]], dtype=torch.float64))


def test_two_arrows_are_the_similarity_through_both():
    # rotate 90 degrees about (8, 8) and scale by 1.5
    src = [(8.0, 8.0), (12.0, 8.0)]
    tgt = [(8.0, 8.0), (8.0, 14.0)]
    m = arrow_transform(src, tgt)
    for s, t in zip(src, tgt):
        out = m[:, :2] @ torch.tensor(s, dtype=torch.float64) + m[:, 2]
        assert torch.allclose(out, torch.tensor(t, dtype=torch.float64), atol=1e-12)
    a = m[:, :2]
    assert math.isclose(float(torch.linalg.det(a)), 1.5 ** 2, rel_tol=1e-12)  # uniform scale 1.5
    assert torch.allclose(a @ a.T, 2.25 * torch.eye(2, dtype=torch.float64))  # a scaled rotation


def test_three_arrows_are_the_affine_map_through_all():
    true = torch.tensor([[1.2, 0.3, -2.0], [-0.1, 0.8, 5.0]], dtype=torch.float64)
    src = [(1.0, 2.0), (10.0, 3.0), (4.0, 12.0)]
    tgt = [tuple((true[:, :2] @ torch.tensor(p, dtype=torch.float64) + true[:, 2]).tolist()) for p in src]
    assert torch.allclose(arrow_transform(src, tgt), true, atol=1e-10)


def test_bad_arrows_are_refused_by_name():
    with pytest.raises(ValueError, match="^sources: at least one"):
        arrow_transform([], [])
    with pytest.raises(ValueError, match="^targets: 1 target points for 2"):
        arrow_transform([(0, 0), (1, 1)], [(2, 2)])
    with pytest.raises(ValueError, match="^sources: the two arrows start at the same point"):
        arrow_transform([(3, 3), (3, 3)], [(4, 4), (5, 6)])
    with pytest.raises(ValueError, match="^sources: the arrows start on one line"):
        arrow_transform([(0, 0), (1, 1), (2, 2)], [(1, 0), (2, 1), (3, 5)])
    with pytest.raises(ValueError, match="^matrix: the map squashes"):
        warp_region(latent(), box(), torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="^region: the region is empty"):
        region_move(latent(), torch.zeros(1, 1, 16, 16), IDENTITY)
    with pytest.raises(ValueError, match="^region: shape"):
        region_move(latent(), torch.ones(1, 1, 8, 8), IDENTITY)
    with pytest.raises(ValueError, match="^fill: expected one of unit, path"):
        region_move_noisy(latent(), 0.3, "flow", box(), IDENTITY, fill="fresh")


# --- the warp ----------------------------------------------------------------------------------------
def test_identity_map_changes_nothing_bit_for_bit():
    x = latent()
    out, union = region_move(x, box(), IDENTITY, alpha=1.0, beta=0.3, seed=5)
    assert torch.equal(out, x)
    assert torch.equal(union, box().bool().expand_as(x))
    noisy, _ = region_move_noisy(x, 0.3, "flow", box(), IDENTITY, beta=0.3, fill="path")
    assert torch.equal(noisy, x)


def test_whole_cell_translation_moves_the_clean_latent_exactly():
    x = latent(seed=1)
    region = box()
    out, union = region_move(x, region, arrow_transform([(5, 6)], [(9, 4)]), alpha=1.0, beta=0.3, seed=2)
    # the region's values arrive 4 cells right, 2 up, exactly
    assert torch.equal(out[..., 2:7, 7:11], x[..., 4:9, 3:7])
    moved = torch.zeros_like(union)
    moved[..., 2:7, 7:11] = True
    assert torch.equal(union, region.bool().expand_as(x) | moved)
    # outside the union: the input's bits; the vacated cells: beta x + sqrt(1 - beta^2) xi
    assert torch.equal(out[~union], x[~union])
    vacated = region.bool().expand_as(x) & ~moved
    xi = torch.randn((1, *x.shape), generator=torch.Generator().manual_seed(2))[0]
    assert torch.allclose(out[vacated], (0.3 * x + math.sqrt(1 - 0.09) * xi)[vacated], atol=1e-6)


def test_quarter_turn_about_a_cell_centre_is_exact():
    x = latent((1, 2, 9, 9), seed=3)
    region = torch.zeros(1, 1, 9, 9)
    region[..., 2:4, 3:7] = 1.0  # a 4 x 2 bar
    c = (4.5, 4.5)  # the centre of cell (4, 4)
    m = arrow_transform([c, (c[0] + 2, c[1])], [c, (c[0], c[1] + 2)])  # +90 degrees (x -> y)
    warped, moved = warp_region(x, region, m)
    for i in range(9):
        for j in range(9):
            # cell (j, i) comes from the cell the inverse quarter turn sends it to
            sj, si = 4 + (i - 4), 4 - (j - 4)
            if moved[0, 0, i, j]:
                assert region[0, 0, si, sj] == 1 and torch.equal(warped[0, :, i, j], x[0, :, si, sj])
    assert int(moved[0, 0].sum()) == int(region.sum())  # nothing lost or doubled


def test_same_map_on_every_video_frame():
    x = latent((1, 4, 3, 12, 12), seed=4)  # (B, C, T, H, W)
    region = torch.zeros(1, 1, 1, 12, 12)
    region[..., 2:5, 2:5] = 1.0
    out, _ = region_move(x, region, arrow_transform([(3, 3)], [(8, 7)]), alpha=1.0)
    assert torch.equal(out[..., 6:9, 7:10], x[..., 2:5, 2:5])
    # a per-frame region moves only the frames it selects
    frames = torch.zeros(1, 1, 3, 12, 12)
    frames[:, :, 1, 2:5, 2:5] = 1.0
    out2, _ = region_move(x, frames, arrow_transform([(3, 3)], [(8, 7)]), alpha=1.0)
    assert torch.equal(out2[:, :, 0], x[:, :, 0]) and torch.equal(out2[:, :, 2], x[:, :, 2])
    assert torch.equal(out2[:, :, 1, 6:9, 7:10], x[:, :, 1, 2:5, 2:5])


def test_path_fill_is_the_paths_noise_level():
    # flow sigma 0.3: the noise std in unit-variance coordinates is 0.3 / sqrt(0.49 + 0.09)
    assert math.isclose(path_noise_std("flow", 0.3), 0.3 / math.sqrt(0.58), rel_tol=1e-12)
    x = torch.zeros(1, 1, 64, 64)
    region = torch.zeros(1, 1, 64, 64)
    region[..., :, :32] = 1.0
    m = arrow_transform([(0, 0)], [(32, 0)])
    scale = NoiseFamily.FLOW.vp_scale(0.3)
    for fill, std in (("unit", 1.0), ("path", path_noise_std("flow", 0.3))):
        out, _ = region_move_noisy(x, 0.3, "flow", region, m, beta=0.0, fill=fill)
        assert abs(float(out[..., :32].std() * scale) - std) < 0.03  # measured in unit-variance coordinates
    # the windows: "unit" is the paper's copy-paste, bit for bit
    y = latent((1, 4, 16, 16), seed=6)
    assert torch.equal(copy_paste_noisy(y, 0.3, "flow", [(5, 5)], [(9, 9)], r=2, seed=3, fill="unit"),
                       copy_paste(y * scale, [(5, 5)], [(9, 9)], r=2, seed=3) / scale)
    quiet = copy_paste_noisy(y, 0.3, "flow", [(5, 5)], [(12, 12)], r=2, seed=3, beta=0.0, fill="path")
    assert abs(float(quiet[..., 3:8, 3:8].std() * scale) - path_noise_std("flow", 0.3)) < 0.12


def test_dilate_cells():
    m = torch.zeros(1, 1, 7, 7, dtype=torch.bool)
    m[..., 3, 3] = True
    assert int(dilate_cells(m, 1).sum()) == 9 and int(dilate_cells(m, 0).sum()) == 1


# --- sde_drag(region=...) -----------------------------------------------------------------------------
@pytest.mark.parametrize("family", [NoiseFamily.FLOW, NoiseFamily.VE])
def test_zero_length_arrows_cost_nothing(family):
    x0 = latent()
    calls = []
    sig = FLOW if family is NoiseFamily.FLOW else VE
    out = sde_drag(x0, sig, family, gaussian_denoiser(family, calls), [(5, 5), (9, 3)], [(5, 5), (9, 3)],
                   region=box())
    assert torch.equal(out, x0) and calls == []


@pytest.mark.parametrize("family", [NoiseFamily.FLOW, NoiseFamily.VE])
def test_region_drag_is_exact_outside_the_bounded_union(family):
    x0 = latent(seed=7)
    sig = FLOW if family is NoiseFamily.FLOW else VE
    calls = []
    out = sde_drag(x0, sig, family, gaussian_denoiser(family, calls), [(5, 6)], [(10, 6)], region=box(), margin=1,
                   seed=3, step=8.0)
    assert len(calls) == 2 * (len(sig) - 1)  # one paste: n steps x (path + drag)
    union = box().bool() | box(x0=8, x1=12).bool()
    bound = dilate_cells(union, 1).bool().expand_as(x0)
    assert torch.equal(out[~bound], x0[~bound])
    assert not torch.equal(out[bound], x0[bound])
    # the region's content arrived: the moved cells correlate with the source region
    moved = out[..., 4:9, 8:12].flatten()
    src = x0[..., 4:9, 3:7].flatten()
    assert torch.corrcoef(torch.stack([moved, src]))[0, 1] > 0.8
    # a painted mask bounds it further: nothing changes outside mask x union
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., :, 8:] = 1.0
    out2 = sde_drag(x0, sig, family, gaussian_denoiser(family, []), [(5, 6)], [(10, 6)], region=box(), mask=mask,
                    seed=3, step=8.0)
    keep = ~(bound & mask.bool().expand_as(x0))
    assert torch.equal(out2[keep], x0[keep])


def test_region_plan_steps_compose_to_the_arrows_map():
    src, tgt = [(4.0, 4.0), (8.0, 4.0)], [(6.0, 10.0), (6.0, 14.0)]
    plan = region_plan(src, tgt, step=2.0)
    assert len(plan) == round(math.hypot(2, 10) / 2)  # the longest arrow
    total = torch.eye(3, dtype=torch.float64)
    for m in plan:
        total = torch.cat([m, torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)]) @ total
    assert torch.allclose(total[:2], arrow_transform(src, tgt), atol=1e-12)
    assert len(region_plan(src, tgt, step=100.0)) == 1 and region_plan([(1, 1)], [(1, 1)]) == []
    calls = []
    x0 = latent()
    sde_drag(x0, FLOW, "flow", gaussian_denoiser(NoiseFamily.FLOW, calls), [(5, 6)], [(11, 6)], region=box(),
             step=2.0)
    assert len(calls) == 3 * 2 * 4


def test_same_seed_same_bits_and_global_rng_untouched():
    x0 = latent(seed=8)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = sde_drag(x0, FLOW, "flow", gaussian_denoiser(NoiseFamily.FLOW, []), [(5, 6)], [(9, 8)], region=box(), seed=4,
                 fill="path")
    b = sde_drag(x0, FLOW, "flow", gaussian_denoiser(NoiseFamily.FLOW, []), [(5, 6)], [(9, 8)], region=box(), seed=4,
                 fill="path")
    assert torch.equal(a, b) and torch.equal(torch.random.get_rng_state(), before)


def test_the_margin_bounds_a_spatially_mixing_denoiser_exactly():
    """With a denoiser that mixes neighbouring cells (a 3x3 blur), the change spreads from the moved
    region: it reaches the margin ring and stops exactly at the bound (a pointwise denoiser could not
    tell the bound from the union)."""
    def blur_denoiser(x, sigma):
        a = NoiseFamily.FLOW.alpha(sigma)
        k = torch.ones(x.shape[1], 1, 3, 3, dtype=x.dtype) / 9.0
        return a * torch.nn.functional.conv2d(x, k, padding=1, groups=x.shape[1]) / (a * a + sigma * sigma)

    x0 = latent(seed=9)
    region = box()
    for margin in (0, 1, 2):
        out = sde_drag(x0, FLOW, "flow", blur_denoiser, [(5, 6)], [(10, 6)], region=region, margin=margin, seed=2,
                       step=8.0)
        union = region.bool() | box(x0=8, x1=12).bool()
        bound = dilate_cells(union, margin).bool().expand_as(x0)
        changed = out != x0
        assert not changed[~bound].any(), margin
        ring = bound & ~union.expand_as(x0)
        assert margin == 0 or changed[ring].any(), margin  # the blur carried the change into the ring
