"""Claims checked on Gaussian-mixture data, where the exact (class-conditional) denoiser is known."""

import math

import pytest
import torch

from comfyui_coupled_sde.sampling import (
    GaussianMixture,
    NoiseFamily,
    backward_increments,
    coupled_sample,
    forward_path,
    ode_sample,
    sde_sample,
    sdedit,
    subsample_path,
)


def _grid(family, start, n):
    if NoiseFamily.parse(family) is NoiseFamily.FLOW:
        return torch.linspace(start, 0.0, n + 1, dtype=torch.float64)
    logs = torch.linspace(math.log(start), math.log(0.01), n, dtype=torch.float64)
    return torch.cat([logs.exp(), torch.zeros(1, dtype=torch.float64)])


def hist_kl(samples, gm, family, sigma, lo=-8.0, hi=8.0, bins=160):
    """KL(empirical || exact marginal) over fixed bins (plus the two tails): a consistent estimate."""
    edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
    cdf = gm.marginal_cdf(edges, family, sigma)
    p = torch.cat([cdf[:1], cdf[1:] - cdf[:-1], 1 - cdf[-1:]])
    q = torch.bincount(torch.bucketize(samples.double().flatten(), edges), minlength=bins + 2).double()
    q = q / samples.numel()
    m = q > 0
    return (q[m] * (q[m] / p[m].clamp_min(1e-300)).log()).sum().item()


@pytest.mark.parametrize("family,start", [("ve", 5.0), ("flow", 0.8)])
def test_sde_forgets_a_mismatched_prior_and_ode_does_not(family, start):
    """Blessing of Randomness, App. E: from a wrong prior at sigma_start, KL to the data shrinks
    toward 0 along the SDE and stays put along the ODE (KL is invariant under the ODE's bijection)."""
    gm = GaussianMixture([[-2.0], [2.0]], stds=0.5, weights=[0.3, 0.7])
    sig = _grid(family, start, 200)
    d = gm.denoiser(family)
    x0, _ = gm.sample(200_000, seed=0)
    a = NoiseFamily.parse(family).alpha(start)
    good = a * x0 + start * torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    bad = good + 0.3 * start  # mismatched prior: the true marginal shifted by 0.3 sigma
    kl0 = hist_kl(bad, gm, family, start)
    kl_ode = hist_kl(ode_sample(bad, sig, family, d), gm, family, 0.0)
    kl_sde = hist_kl(sde_sample(bad, sig, family, d, seed=5), gm, family, 0.0)
    kl_matched = hist_kl(sde_sample(good, sig, family, d, seed=5), gm, family, 0.0)
    print(f"{family}: KL start {kl0:.4f}  ODE end {kl_ode:.4f}  SDE end {kl_sde:.4f}  matched {kl_matched:.4f}")
    assert kl0 > 0.02
    assert kl_matched < 0.002  # the estimator and the samplers are consistent
    assert abs(kl_ode / kl0 - 1) < 0.1  # ODE: unchanged
    assert kl_sde < 0.25 * kl0  # SDE: contracted toward 0


@pytest.mark.parametrize("family,start", [("flow", 0.8), ("ve", 4.0)])
def test_edit_lands_in_target_class_and_moves_less_than_sdedit(family, start, mixture):
    src_c, tgt_c = 0, 1
    x0, _ = mixture.sample(2000, component=src_c, seed=1)
    sig = _grid(family, start, 28)
    inc = backward_increments(forward_path(x0, sig, family, seed=2), mixture.denoiser(family, src_c))
    y = coupled_sample(inc, mixture.denoiser(family, tgt_c))
    y_sdedit = sdedit(x0, sig, family, mixture.denoiser(family, tgt_c), seed=2)
    acc = (mixture.classify(y) == tgt_c).float().mean().item()
    acc_sdedit = (mixture.classify(y_sdedit) == tgt_c).float().mean().item()
    l2 = (y - x0).norm(dim=1).mean().item()
    l2_sdedit = (y_sdedit - x0).norm(dim=1).mean().item()
    print(f"{family}: target-class accuracy sync-SDE {acc:.4f} SDEdit {acc_sdedit:.4f}; "
          f"mean L2 sync-SDE {l2:.3f} SDEdit {l2_sdedit:.3f} (class means {8.0:.1f} apart)")
    assert acc >= 0.99
    assert l2 < l2_sdedit
    # the edit keeps each sample's own offset from its class mean (sync-SDE's preservation)
    keep = torch.nn.functional.cosine_similarity(y - mixture.means[tgt_c].float(), x0 - mixture.means[src_c].float())
    assert keep.mean().item() > 0.9


# Classes made of two overlapping components each: class-conditional denoisers that are
# themselves (mildly) nonlinear mixture denoisers.
OVERLAP = GaussianMixture([[-2.0, 0, 0, 0], [-1.0, 1, 0, 0], [2.0, 0, 1, 0], [1.0, -1, 1, 0]],
                          stds=[0.7, 0.6, 0.6, 0.7])
CLS_SRC, CLS_TGT = [0, 1], [2, 3]


@pytest.mark.parametrize("family,start", [("flow", 0.95), ("flow", 0.7), ("ve", 14.6), ("ve", 3.0)])
def test_posterior_solver_beats_euler_at_ten_steps(family, start):
    """Same Brownian path seen on 1000 and on 10 steps; error of each solver's 10-step edit
    against the 1000-step (posterior) reference."""
    if family == "flow":
        fine, idx = _grid(family, start, 1000), list(range(0, 1001, 100))
    else:
        t = torch.linspace(0, 1, 1001, dtype=torch.float64)
        karras = (start ** (1 / 7) + t * (0.03 ** (1 / 7) - start ** (1 / 7))) ** 7
        fine, idx = torch.cat([karras, torch.zeros(1, dtype=torch.float64)]), list(range(0, 1001, 100)) + [1001]
    x0, _ = OVERLAP.sample(2000, component=CLS_SRC, seed=1)
    d_src, d_tgt = OVERLAP.denoiser(family, CLS_SRC), OVERLAP.denoiser(family, CLS_TGT)
    path = forward_path(x0.double(), fine, family, seed=3)
    coarse = subsample_path(path, idx)
    assert len(coarse.sigmas) == 11 + (family == "ve")
    ref = coupled_sample(backward_increments(path, d_src, solver="posterior"), d_tgt)
    ref_euler = coupled_sample(backward_increments(path, d_src, solver="euler"), d_tgt)

    def rms(a):
        return (a - ref).pow(2).sum(1).mean().sqrt().item()

    err = {s: rms(coupled_sample(backward_increments(coarse, d_src, solver=s), d_tgt)) for s in ("posterior", "euler")}
    print(f"{family} start {start}: 10-step error posterior {err['posterior']:.2e} euler {err['euler']:.2e} "
          f"ratio {err['posterior'] / err['euler']:.3f}; 1000-step solvers differ by {rms(ref_euler):.1e}")
    assert rms(ref_euler) < 0.2 * err["euler"]  # both converge to the same edit
    assert err["posterior"] <= 0.5 * err["euler"]
