"""SDE-Drag's multi-iteration algorithm on analytic denoisers."""

import pytest
import torch

from comfyui_coupled_sde.sampling import NoiseFamily, drag_iterations, sde_drag

SIGMAS = {NoiseFamily.VE: torch.tensor([3.0, 2.0, 1.3, 0.8, 0.45, 0.2, 0.0], dtype=torch.float64),
          NoiseFamily.FLOW: torch.tensor([0.6, 0.45, 0.32, 0.2, 0.1, 0.04, 0.0], dtype=torch.float64)}


# a low start (high signal-to-noise): independent Gaussian pixels have no structure for the model
# to complete, so only the copied signal itself can arrive at the target
LOW = {NoiseFamily.VE: torch.tensor([0.5, 0.35, 0.2, 0.1, 0.0], dtype=torch.float64),
       NoiseFamily.FLOW: torch.tensor([0.3, 0.2, 0.12, 0.05, 0.0], dtype=torch.float64)}


def gaussian_denoiser(family, calls):
    """Exact denoiser of N(0, I) data: E[x0 | x] = a x / (a^2 + sigma^2)."""
    def denoise(x, sigma):
        calls.append(x.shape[0])
        a = family.alpha(sigma)
        return a * x / (a * a + sigma * sigma)
    return denoise


def window(x, cx, cy, r=3):
    return x[..., cy - r:cy + r + 1, cx - r:cx + r + 1].flatten()


def corr(a, b):
    return torch.corrcoef(torch.stack([a, b]))[0, 1].item()


def test_zero_length_drag_is_the_source_and_costs_nothing(family):
    x0 = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    calls = []
    out = sde_drag(x0, SIGMAS[family], family, gaussian_denoiser(family, calls), [(5, 5), (9, 3)], [(5, 5), (9, 3)])
    assert torch.equal(out, x0) and calls == []


def test_iterations_and_calls(family):
    x0 = torch.randn(1, 4, 24, 24, generator=torch.Generator().manual_seed(1))
    # L = 10 cells, step 2 -> m = 5 iterations; the second pair is still (skipped inside iterations)
    assert len(drag_iterations([(4, 4), (12, 12)], [(14, 4), (12, 12)], 2.0)) == 5
    calls = []
    sde_drag(x0, SIGMAS[family], family, gaussian_denoiser(family, calls), [(4, 4), (12, 12)], [(14, 4), (12, 12)],
             step=2.0, r=2)
    assert len(calls) == 5 * 6 * 2  # m iterations x n steps x (path + drag)
    pairs = []
    den = gaussian_denoiser(family, [])

    def both(x, y, sigma):
        pairs.append(sigma)
        return den(x, sigma), den(y, sigma)

    info = []
    sde_drag(x0, SIGMAS[family], family, den, [(4, 4)], [(14, 4)], step=2.0, r=2, denoise_both=both,
             callback=info.append)
    assert len(pairs) == 30 and [d["i"] for d in info] == list(range(30))
    assert info[-1]["total"] == 30 and info[-1]["iteration"] == 4 and info[-1]["iterations"] == 5


@pytest.mark.parametrize("solver", ["posterior", "euler"])
def test_content_moves_to_the_target(family, solver):
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(8, 4, 32, 32, generator=g)
    src, tgt = (8, 8), (22, 20)
    before = corr(window(x0, *tgt), window(x0, *src))
    out = sde_drag(x0, LOW[family], family, gaussian_denoiser(family, []), [src], [tgt], step=100.0, r=3,
                   seed=3, solver=solver)
    after = corr(window(out, *tgt), window(x0, *src))
    far = corr(window(out, 26, 4), window(x0, 26, 4))  # outside both windows the image is kept
    print(f"{family.value}/{solver}: corr(target window, source content) {before:.3f} -> {after:.3f}; far {far:.3f}")
    assert abs(before) < 0.1 and after > 0.6 and far > 0.6


def test_mask_keeps_everything_outside_exactly(family):
    x0 = torch.randn(1, 4, 32, 32, generator=torch.Generator().manual_seed(4))
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 16:, 16:] = 1.0
    out = sde_drag(x0, SIGMAS[family], family, gaussian_denoiser(family, []), [(8, 8)], [(22, 22)], step=4.0, r=3,
                   mask=mask)
    assert torch.equal(out[..., :16, :], x0[..., :16, :]) and torch.equal(out[..., :, :16], x0[..., :, :16])
    assert (out[..., 16:, 16:] - x0[..., 16:, 16:]).abs().mean().item() > 0.05


def test_same_seed_same_bits_and_global_rng_untouched(family):
    x0 = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(5))
    state = torch.get_rng_state()
    a = sde_drag(x0, SIGMAS[family], family, gaussian_denoiser(family, []), [(3, 3)], [(10, 8)], seed=7)
    b = sde_drag(x0, SIGMAS[family], family, gaussian_denoiser(family, []), [(3, 3)], [(10, 8)], seed=7)
    c = sde_drag(x0, SIGMAS[family], family, gaussian_denoiser(family, []), [(3, 3)], [(10, 8)], seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), state)


def test_one_drag_step_composes_from_the_core_pieces(family):
    """forward_path -> copy_paste_noisy -> backward_increments -> coupled_sample(start=...) is
    exactly one sde_drag iteration (what the composable nodes do)."""
    from comfyui_coupled_sde.sampling import backward_increments, copy_paste_noisy, coupled_sample, forward_path

    x0 = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(6))
    den = gaussian_denoiser(family, [])
    path = forward_path(x0, SIGMAS[family], family, seed=10)
    start = copy_paste_noisy(path.points[0], path.sigmas[0], family, [(3, 3)], [(9, 9)], r=2, seed=11)
    composed = coupled_sample(backward_increments(path, den), den, start=start)
    direct = sde_drag(x0, SIGMAS[family], family, den, [(3, 3)], [(9, 9)], step=100.0, r=2, seed=10)
    assert torch.equal(composed, direct)
    with pytest.raises(ValueError, match="^start:"):
        coupled_sample(backward_increments(path, den), den, start=start[..., :8])
