"""The forward path has the law of one Brownian path u(s) = x0 + B(s^2), for every family."""

import math

import pytest
import torch
from grids import grid_for

from comfyui_coupled_sde.sampling import NoiseFamily, forward_path

N_SEEDS, N_ELEM = 200, 1000  # 200k samples per step: std known to ~0.16 % (1 s.e.)


def _noise_parts(family, kind):
    sig = grid_for(family)
    x0 = torch.linspace(-3, 3, N_ELEM)
    parts = torch.stack([
        torch.stack([forward_path(x0, sig, family, seed=s, kind=kind).noise_free(i) for i in range(len(sig))])
        for s in range(N_SEEDS)
    ])  # (seeds, n + 1, elem)
    return [float(v) for v in sig], parts.transpose(0, 1).reshape(len(sig), -1).double()


@pytest.mark.parametrize("kind", ["brownian", "markov", "resample"])
def test_per_step_std_is_sigma(family, kind):
    sig, parts = _noise_parts(family, kind)
    for i, s in enumerate(sig):
        std = parts[i].std().item()
        assert abs(std - s) <= 5 * s / math.sqrt(2 * parts.shape[1]) + 1e-12, (i, s, std)
        assert abs(parts[i].mean().item()) <= 5 * s / math.sqrt(parts.shape[1]) + 1e-12


@pytest.mark.parametrize("kind", ["brownian", "markov"])
def test_one_path_has_brownian_covariance_and_independent_increments(family, kind):
    """In VE coordinates u_i = X_i / a_i: Cov(u_i, u_j) = s_j^2 (j later) and the increments
    u_i - u_{i+1} are uncorrelated across steps with variance s_i^2 - s_{i+1}^2."""
    sig, parts = _noise_parts(family, kind)
    fam = NoiseFamily.parse(family)
    keep = [i for i, s in enumerate(sig) if fam.alpha(s) > 0 and s > 0]  # u is infinite at flow sigma 1
    s_ve = torch.tensor([sig[i] / fam.alpha(sig[i]) for i in keep], dtype=torch.float64)
    u = torch.stack([parts[i] / fam.alpha(sig[i]) for i in keep])
    inc = (u[:-1] - u[1:]) / torch.sqrt(s_ve[:-1] ** 2 - s_ve[1:] ** 2)[:, None]  # should be iid N(0, 1)
    corr = torch.corrcoef(inc)
    off = corr - torch.eye(len(inc), dtype=torch.float64)
    se = 1 / math.sqrt(inc.shape[1])
    assert off.abs().max().item() <= 5 * se, off.abs().max().item()
    assert (inc.std(dim=1) - 1).abs().max().item() <= 5 * se
    # covariance of two points of the path is the variance of the later (smaller) one
    mid = len(u) // 2
    cov = torch.cov(u[[0, mid]])
    rel_se = (s_ve[0] / s_ve[mid]).item() * se  # s.e. of the covariance relative to s_mid^2
    assert abs(cov[0, 1].item() / s_ve[mid].item() ** 2 - 1) <= 5 * rel_se


def test_resampled_points_are_independent(family):
    sig, parts = _noise_parts(family, "resample")
    inner = [i for i, s in enumerate(sig) if 0 < s]
    corr = torch.corrcoef(parts[inner])
    off = corr - torch.eye(len(inner), dtype=torch.float64)
    assert off.abs().max().item() <= 5 / math.sqrt(parts.shape[1])
