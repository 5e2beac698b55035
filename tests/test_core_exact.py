"""Exactness of the coupled construction: identity edits, reconstruction, determinism."""

import pytest
import torch
from grids import grid_for

from comfyui_coupled_sde.sampling import (
    NoiseFamily,
    backward_increments,
    coupled_sample,
    cycle_sde_invert,
    cycle_sde_sample,
    forward_path,
    reconstruct,
    sync_sde_edit,
)

SOLVERS = ["posterior", "euler"]


def _latent(dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, 8, 8, generator=g)
    x[0, 0, 0, 0] = -0.0  # a signed zero must survive the identity edit too
    return x.to(dtype)


def _net_denoiser(family, cond):
    """A small nonlinear 'network' (fixed random weights) conditioned on a scalar ``cond``."""
    g = torch.Generator().manual_seed(123)
    w1, w2 = torch.randn(4, 16, generator=g) * 0.3, torch.randn(16, 4, generator=g) * 0.3

    def denoise(x, sigma):
        a = NoiseFamily.parse(family).alpha(float(sigma))
        h = torch.tanh(torch.einsum("bchw,cd->bdhw", x, w1.to(x.dtype)) + cond)
        return (a * x + torch.einsum("bdhw,dc->bchw", h, w2.to(x.dtype))).to(x.dtype)

    return denoise


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_identity_edit_is_bit_exact(family, solver, dtype):
    x0 = _latent(dtype)
    d = _net_denoiser(family, 0.5)
    inc = backward_increments(forward_path(x0, grid_for(family, solver), family, seed=7), d, solver=solver)
    y = coupled_sample(inc, d)
    assert y.dtype == x0.dtype and y.shape == x0.shape
    assert torch.equal(y.view(torch.int8 if dtype != torch.float64 else torch.int64),
                       x0.view(torch.int8 if dtype != torch.float64 else torch.int64))  # bit for bit
    # the same with a different callable that computes the same thing, and the all-in-one edit
    assert torch.equal(coupled_sample(inc, lambda x, s: d(x, s)), x0)
    assert torch.equal(sync_sde_edit(x0, grid_for(family, solver), family, d, d, seed=7, solver=solver), x0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_reconstruction_retraces_the_path(family, solver):
    x0 = _latent()
    d = _net_denoiser(family, 0.5)
    path = forward_path(x0, grid_for(family, solver), family, seed=3)
    inc = backward_increments(path, d, solver=solver)
    y, traj = reconstruct(inc, d, return_trajectory=True)
    err = (traj - path.points).abs().max().item()
    assert err <= 1e-5, err
    assert (y - x0).abs().max().item() <= 1e-5
    # accumulating in float32 as well stays within float32 round-off of the path's magnitude
    _, traj32 = reconstruct(inc, d, return_trajectory=True, accumulate_dtype=torch.float32)
    scale = path.points.abs().max().item()
    assert (traj32 - path.points).abs().max().item() <= 1e-5 * max(1.0, scale)


def test_cycle_sde_reconstructs(family):
    x0 = _latent()
    d = _net_denoiser(family, 0.5)
    inc = cycle_sde_invert(x0, grid_for(family), family, d, seed=11)
    assert inc.path.kind == "markov"
    y = cycle_sde_sample(inc, d)
    assert (y - x0).abs().max().item() <= 1e-5
    # and it edits: another condition changes the result
    assert (cycle_sde_sample(inc, _net_denoiser(family, -1.0)) - x0).abs().max().item() > 1e-2


def test_edit_changes_result_and_increments_are_reusable(family):
    x0 = _latent()
    src, tgt = _net_denoiser(family, 0.5), _net_denoiser(family, -1.0)
    inc = backward_increments(forward_path(x0, grid_for(family), family, seed=3), src)
    y1 = coupled_sample(inc, tgt)
    y2 = coupled_sample(inc, tgt)  # increments are not consumed
    assert torch.equal(y1, y2)
    assert (y1 - x0).abs().max().item() > 1e-2
    # one-call edit (source and target per step) agrees with the two-stage form
    y3 = sync_sde_edit(x0, grid_for(family), family, src, tgt, seed=3)
    assert torch.allclose(y1, y3, atol=1e-6, rtol=0)


def test_batched_denoise_both_matches(family):
    x0 = _latent()
    src, tgt = _net_denoiser(family, 0.5), _net_denoiser(family, -1.0)
    calls = []

    def both(x, y, sigma):
        calls.append(sigma)
        out = src(torch.cat([x, y]), sigma)  # one "batched" forward ...
        return out[: len(x)], tgt(y, sigma)  # ... (target half recomputed with its condition)

    y_both = sync_sde_edit(x0, grid_for(family), family, src, tgt, seed=3, denoise_both=both)
    y_two = sync_sde_edit(x0, grid_for(family), family, src, tgt, seed=3)
    assert len(calls) == len(grid_for(family)) - 1
    assert torch.allclose(y_both, y_two, atol=1e-6, rtol=0)


def test_mask_keeps_outside_exactly(family):
    x0 = _latent()
    src, tgt = _net_denoiser(family, 0.5), _net_denoiser(family, -1.0)
    inc = backward_increments(forward_path(x0, grid_for(family), family, seed=3), src)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:6, 2:6] = 1
    y = coupled_sample(inc, tgt, mask=mask)
    outside = mask.expand_as(x0) == 0
    assert torch.equal(y[outside], x0[outside])
    assert (y - x0)[~outside].abs().max().item() > 1e-2
    # the noise form with the same mask agrees inside, and is exact outside too
    y_noise = reconstruct(inc, tgt, mask=mask, accumulate_dtype=torch.float64)
    assert torch.allclose(y_noise, y, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["brownian", "markov", "resample"])
def test_same_seed_same_bits_regardless_of_global_rng(family, kind):
    x0 = _latent()
    torch.manual_seed(0)
    a = forward_path(x0, grid_for(family), family, seed=42, kind=kind).points
    torch.manual_seed(999)
    torch.randn(100)
    state = torch.get_rng_state()
    b = forward_path(x0, grid_for(family), family, seed=42, kind=kind).points
    assert torch.equal(a, b)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG was not touched
    assert not torch.equal(a, forward_path(x0, grid_for(family), family, seed=43, kind=kind).points)


def test_flow_sigma_one_is_finite_with_posterior():
    x0 = _latent()
    fam = NoiseFamily.FLOW
    d = _net_denoiser(fam, 0.5)
    sig = torch.linspace(1.0, 0.0, 5)
    assert float(sig[0]) == 1.0
    path = forward_path(x0, sig, fam, seed=0)
    assert torch.isfinite(path.points).all()
    inc = backward_increments(path, d)
    assert torch.isfinite(inc.residuals).all() and torch.isfinite(inc.noise).all()
    y = coupled_sample(inc, _net_denoiser(fam, -1.0))
    assert torch.isfinite(y).all()
    # at sigma = 1 the point is pure noise: it carries no trace of x0
    assert torch.equal(path.points[0], forward_path(x0 * 0 + 5, sig, fam, seed=0).points[0])


def test_path_ends_on_source_and_keeps_working_precision():
    x0 = _latent(torch.bfloat16)
    path = forward_path(x0, grid_for(NoiseFamily.VE), "ve", seed=0)
    assert path.points.dtype == torch.float32
    assert torch.equal(path.points[-1], x0.float())
    assert forward_path(x0.double(), grid_for(NoiseFamily.VE), "ve").points.dtype == torch.float64
