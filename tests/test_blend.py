"""Edit Blend's math (no ComfyUI needed): the source bit for bit outside the mask, the plain composite
at feather 0, an inward monotone feather, colour match against a tint, mask sizes, batches and bad
input named by its input."""

import pytest
import torch
import torch.nn.functional as F

from comfyui_coupled_sde.nodes import blend as B


def images(b=1, h=24, w=28, seed=0, lo=0.2, hi=0.8):
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(b, h, w, 3, generator=g)


def square_mask(h=24, w=28, top=6, left=7, size=12):
    m = torch.zeros(1, h, w)
    m[:, top:top + size, left:left + size] = 1.0
    return m


def soft_mask(h=24, w=28, seed=1):
    """Zeros around a block of values in (0, 1] with a few zeros inside too."""
    g = torch.Generator().manual_seed(seed)
    m = torch.zeros(1, h, w)
    m[:, 4:20, 5:22] = torch.rand(1, 16, 17, generator=g).clamp_min(0.05)
    m[:, 10, 10] = 0.0
    return m


@pytest.mark.parametrize("colour_match", B.COLOUR_MATCH)
@pytest.mark.parametrize("feather", [0, 1, 5])
def test_where_the_mask_is_zero_the_output_is_the_source_bit_for_bit(feather, colour_match):
    src = images(seed=2)
    edited = (1.0 - src) * 1.3 - 0.1  # far from the source, partly outside [0, 1] before any clamp
    for mask in (soft_mask(), square_mask()):
        out = B.edit_blend(src, edited, mask, feather=feather, colour_match=colour_match, ring=3)
        zero = mask[0] == 0
        assert torch.equal(out.image[0][zero], src[0][zero])
        assert torch.equal(out.alpha[0][zero], torch.zeros(int(zero.sum())))
        inside = out.alpha[0] > 0
        assert (out.image[0][inside] - src[0][inside]).abs().max() > 0.1  # the edit is there inside


def test_feather_0_without_colour_match_is_the_plain_composite():
    src, edited, mask = images(seed=3), images(seed=4, lo=0.0, hi=1.0), soft_mask()
    out = B.edit_blend(src, edited, mask, feather=0, colour_match="off")
    m = mask[..., None]
    assert torch.equal(out.alpha, mask)
    assert torch.equal(out.image, m * edited + (1 - m) * src)
    assert out.image.shape == (1, 24, 28, 3) and out.image.dtype == torch.float32


def test_the_feather_is_inward_monotone_and_reaches_the_mask():
    mask = square_mask(h=32, w=32, top=6, left=6, size=20)  # rows / columns 6..25
    for feather in (1, 4, 7):
        a = B.edit_blend(images(h=32, w=32), images(h=32, w=32, seed=5), mask, feather=feather).alpha[0]
        assert torch.equal(a[mask[0] == 0], torch.zeros(int((mask[0] == 0).sum())))  # nothing spills outward
        assert (a <= mask[0]).all()
        for line in (a[16, :16], a[:16, 16], a[16, 16:].flip(0), a[16:, 16].flip(0), a[:16, :16].diagonal()):
            assert (line[1:] >= line[:-1]).all(), line  # monotone from the outside to the centre
        assert 0 < float(a[16, 6]) < 1 and float(a[16, 6]) < float(a[16, 7])  # the edge pixel: a ramp
        assert float(a[16, 6 + feather]) == 1.0 and float(a[16, 5 + feather]) < 1.0  # full after feather px
        assert torch.equal(a[6 + feather:26 - feather, 6 + feather:26 - feather],
                           torch.ones(20 - 2 * feather, 20 - 2 * feather))
    # a soft mask keeps its values in the interior: alpha = mask there
    soft = torch.zeros(1, 32, 32)
    soft[:, 4:28, 4:28] = 0.6
    a = B.edit_blend(images(h=32, w=32), images(h=32, w=32, seed=5), soft, feather=3).alpha[0]
    assert torch.equal(a[8:24, 8:24], torch.full((16, 16), 0.6)) and float(a[16, 4]) < 0.6


def test_a_mask_covering_the_image_is_not_feathered_at_the_image_border():
    src, edited = images(seed=6), images(seed=7)
    out = B.edit_blend(src, edited, torch.ones(1, 24, 28), feather=6)
    assert torch.equal(out.alpha, torch.ones(1, 24, 28)) and torch.equal(out.image, edited)
    half = torch.zeros(1, 24, 28)
    half[:, :, :14] = 1.0  # the left half: its only edge is at column 14
    a = B.edit_blend(src, edited, half, feather=4).alpha[0]
    assert torch.equal(a[:, :10], torch.ones(24, 10)) and (a[:, 10:14] < 1).all()


def test_colour_match_removes_a_global_tint():
    src = images(seed=8)
    tint = torch.tensor([0.06, -0.04, 0.03])
    edited = src + tint  # the VAE's tint, inside and outside the mask alike
    mask = square_mask()
    inside = mask[0] > 0
    off = B.edit_blend(src, edited, mask, feather=0, colour_match="off")
    assert torch.allclose((off.image[0][inside] - src[0][inside]).abs().amax(0), tint.abs(), atol=1e-6)
    out = B.edit_blend(src, edited, mask, feather=0, colour_match="mean", ring=4)
    err = float((out.image[0][inside] - src[0][inside]).abs().max())
    assert err < 1e-6, err
    assert out.shift[0] == pytest.approx((-tint).tolist(), abs=1e-6)
    assert "colour match (mean, 4 px ring), shift per channel: R -0.060, G +0.040, B -0.030" in out.summary
    # mean and std: a tint and a contrast change, undone from the ring's statistics
    edited = 0.8 * src + 0.1
    out = B.edit_blend(src, edited, mask, feather=2, colour_match="mean and std", ring=4)
    assert float((out.image[0][inside] - src[0][inside]).abs().max()) < 1e-5
    assert out.scale[0] == pytest.approx([1.25] * 3, rel=1e-4) and "x1.25" in out.summary
    # "mean" on the same edit leaves the contrast: a real but smaller error
    mean_only = B.edit_blend(src, edited, mask, feather=2, colour_match="mean", ring=4)
    assert float((mean_only.image[0][inside] - src[0][inside]).abs().max()) > 0.01
    # corrected values are clamped to [0, 1]
    hot = B.edit_blend(src, torch.ones_like(src), mask, feather=0, colour_match="mean and std", ring=4)
    assert 0 <= float(hot.image.min()) and float(hot.image.max()) <= 1


def test_colour_match_with_a_flat_ring_only_shifts():
    src = torch.full((1, 16, 16, 3), 0.5)
    edited = torch.full((1, 16, 16, 3), 0.6)
    edited[:, 4:12, 4:12] = 0.9
    mask = torch.zeros(1, 16, 16)
    mask[:, 4:12, 4:12] = 1
    out = B.edit_blend(src, edited, mask, feather=0, colour_match="mean and std", ring=2)
    assert out.scale[0] == [1.0, 1.0, 1.0]  # std 0 on the ring: no rescaling, no division by 0
    assert torch.allclose(out.image[0, 8, 8], torch.full((3,), 0.8))


def test_an_empty_ring_or_an_empty_mask_is_said():
    src, edited = images(seed=9), images(seed=10)
    full = B.edit_blend(src, edited, torch.ones(24, 28), feather=0, colour_match="mean")
    assert torch.equal(full.image, edited) and full.warning and full.shift == [None]
    assert "colour match skipped for every image: the mask covers the whole image" in full.summary
    empty = B.edit_blend(src, edited, torch.zeros(1, 24, 28), feather=3, colour_match="mean")
    assert torch.equal(empty.image, src) and empty.warning and "the mask is black everywhere" in empty.summary
    plain = B.edit_blend(src, edited, square_mask(), feather=2)
    assert not plain.warning and "\n" not in plain.summary
    assert plain.summary.startswith("Edit Blend, 1 image of 28x24: ") and "feather 2 px" in plain.summary


def test_a_latent_size_mask_is_resized_and_a_source_size_mask_is_cropped():
    src, edited = images(h=32, w=32, seed=11), images(h=32, w=32, seed=12)
    lat = torch.zeros(1, 4, 4)
    lat[:, 1:3, 1:3] = 1.0  # the latent's centre 2x2 cells = pixels 8..23
    out = B.edit_blend(src, edited, lat, feather=0)
    ref = F.interpolate(lat[:, None], size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    assert torch.equal(out.alpha, ref)
    assert torch.equal(out.alpha[0, 12:20, 12:20], torch.ones(8, 8)) and float(out.alpha[0, :3].max()) == 0
    assert "mask resized from 4x4 to 32x32" in out.summary and "stretched" not in out.summary
    assert "stretched" in B.edit_blend(src, edited, torch.ones(1, 4, 8), feather=0).summary
    # the source before VAE Encode's crop (36x40 -> 32x32, offsets 2 and 4) and a mask of its size
    big = images(h=36, w=40, seed=13)
    crop = big[:, 2:34, 4:36]
    mask = torch.zeros(1, 36, 40)
    mask[:, 10:20, 12:30] = 1.0
    out = B.edit_blend(big, edited, mask, feather=0)
    assert torch.equal(out.alpha, mask[:, 2:34, 4:36])
    keep = out.alpha[0] == 0
    assert torch.equal(out.image[0][keep], crop[0][keep])
    assert "source centre-cropped from 40x36 to 32x32" in out.summary


def test_batches_masks_and_mask_shapes():
    src = images(seed=14)
    tints = torch.tensor([[0.05, 0.0, 0.0], [0.0, -0.05, 0.0], [0.0, 0.0, 0.04]])
    edited = src + tints[:, None, None, :]  # three edits of one source, each with its own tint
    mask = square_mask()
    out = B.edit_blend(src, edited, mask, feather=1, colour_match="mean", ring=3)
    assert out.image.shape == (3, 24, 28, 3) and out.alpha.shape == (3, 24, 28)
    inside = mask[0] > 0
    for i in range(3):
        assert float((out.image[i][inside] - src[0][inside]).abs().max()) < 1e-6  # each tint removed
        assert out.shift[i] == pytest.approx((-tints[i]).tolist(), abs=1e-6)
    assert "1: R -0.050" in out.summary and "3 images" in out.summary
    # one mask per image, and every accepted MASK shape
    per = torch.stack([square_mask()[0], soft_mask()[0], torch.zeros(24, 28)])
    out = B.edit_blend(src, edited, per, feather=0)
    assert torch.equal(out.alpha, per) and torch.equal(out.image[2], src[0])
    for shape in ((24, 28), (1, 24, 28), (1, 1, 24, 28)):
        assert torch.equal(B.edit_blend(src, edited, mask.reshape(shape), feather=0).alpha, mask.expand(3, 24, 28))
    # one source per edit
    pairs = B.edit_blend(edited, edited.flip(0), per, feather=0)
    assert torch.equal(pairs.image[2], edited[2])
    # RGBA and grey images become RGB
    rgba = torch.cat([src, torch.ones(1, 24, 28, 1)], dim=-1)
    assert B.edit_blend(rgba, src[..., :1], mask, feather=0).image.shape == (1, 24, 28, 3)


@pytest.mark.parametrize("kwargs, starts", [
    ({"source": images(b=2)}, r"^source: has 2 images, but edited has 3"),
    ({"edited": torch.rand(1, 24, 28, 2)}, r"^edited: expected an IMAGE of shape \(B, H, W, 3\)"),
    ({"edited": torch.rand(1, 4, 24, 28)}, r"^edited: expected an IMAGE of shape \(B, H, W, 3\)"),
    ({"source": torch.full((1, 24, 28, 3), float("nan"))}, "^source: contains NaN"),
    ({"edited": {"samples": torch.zeros(1, 4, 3, 3)}}, "^edited: expected an IMAGE tensor"),
    ({"edited": torch.rand(3, 20, 28, 3)}, r"^edited: is 28x20 pixels \(width x height\), but source is 28x24"),
    ({"mask": torch.full((1, 24, 28), 1.5)}, r"^mask: values must lie in \[0, 1\]"),
    ({"mask": torch.full((1, 24, 28), -0.1)}, r"^mask: values must lie in \[0, 1\]"),
    ({"mask": torch.full((1, 24, 28), float("nan"))}, "^mask: contains NaN"),
    ({"mask": torch.ones(2, 24, 28)}, "^mask: has batch 2, but there are 3 edited images"),
    ({"mask": torch.ones(1, 3, 24, 28)}, r"^mask: expected a MASK of shape \(H, W\), \(B, H, W\)"),
    ({"mask": [[1.0]]}, "^mask: expected a MASK tensor"),
    ({"feather": -1}, "^feather: "),
    ({"ring": 0}, "^ring: "),
    ({"colour_match": "median"}, "^colour_match: expected one of off, mean, mean and std"),
])
def test_bad_input_is_refused_naming_the_input(kwargs, starts):
    args = {"source": images(), "edited": images(b=3, seed=1), "mask": square_mask(), "feather": 2,
            "colour_match": "mean", "ring": 3, **kwargs}
    with pytest.raises(ValueError, match=starts):
        B.edit_blend(args.pop("source"), args.pop("edited"), args.pop("mask"), **args)
