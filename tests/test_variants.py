"""Coupling variants of sync-SDE (docs/ALGORITHMS.md section 3.9): partial noise coupling, the release
schedule and disagreement-restricted (localized) drift."""

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from grids import grid_for

from comfyui_coupled_sde.sampling import (
    GaussianMixture,
    NoiseFamily,
    backward_increments,
    coupled_sample,
    flowedit,
    forward_path,
    release_schedule,
    sde_sample,
    step_coefficients,
    sync_sde_edit,
)
from comfyui_coupled_sde.sampling._util import denoise_pair, seeded_normal
from comfyui_coupled_sde.sampling.coupled import difference_form

SOLVERS = ["posterior", "euler"]


def _latent(shape=(2, 4, 8, 8), dtype=torch.float32, seed=0):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    x.view(-1)[0] = -0.0  # a signed zero must survive an identity edit too
    return x.to(dtype)


def _net(family, cond, mix=0.0):
    """A small nonlinear 'network' on latents of any rank (N, C, *spatial), C = 4, conditioned on a
    scalar; ``mix`` > 0 adds a 3x3 spatial average (a receptive field beyond the cell)."""
    g = torch.Generator().manual_seed(123)
    w1, w2 = torch.randn(4, 16, generator=g) * 0.3, torch.randn(16, 4, generator=g) * 0.3

    def denoise(x, sigma):
        a = NoiseFamily.parse(family).alpha(float(sigma))
        h = torch.tanh(x.movedim(1, -1) @ w1.to(x.dtype) + cond)
        d = a * x + (h @ w2.to(x.dtype)).movedim(-1, 1)
        if mix:
            d = d + mix * F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        return d.to(x.dtype)

    return denoise


def _shifted(denoise, shift):
    """``denoise`` plus a fixed offset: two 'prompts' that disagree only where ``shift`` is nonzero."""
    return lambda x, sigma: denoise(x, sigma) + shift.to(x.dtype)


def _bits(t):
    return t.view(torch.int64 if t.dtype == torch.float64 else torch.int16 if t.element_size() == 2 else torch.int32)


def _plain_loop(path, coeffs, d_src, d_tgt):
    """Today's sync-SDE difference form, written out independently of the package."""
    delta = torch.zeros_like(path.points[0])
    for i, c in enumerate(coeffs):
        y = path.points[i] + delta
        delta = c.A * delta + c.B * (d_tgt(y, path.sigmas[i]).to(y.dtype) - d_src(path.points[i], path.sigmas[i]))
    return torch.where(delta == 0, path.points[-1], path.points[-1] + delta).to(path.x0.dtype)


# --- defaults ------------------------------------------------------------------------------------

@pytest.mark.parametrize("solver", SOLVERS)
def test_defaults_are_todays_sync_sde_bit_for_bit(family, solver):
    x0 = _latent()
    src, tgt = _net(family, 0.5), _net(family, -1.0)
    sig = grid_for(family, solver)
    n = len(sig) - 1
    path = forward_path(x0, sig, family, seed=3)
    inc = backward_increments(path, src, solver=solver)
    ref = _plain_loop(path, inc.coefficients, src, tgt)
    y = coupled_sample(inc, tgt)
    assert torch.equal(_bits(y), _bits(ref))
    y_one = sync_sde_edit(x0, sig, family, src, tgt, seed=3, solver=solver)
    for opts in ({"coupling": 1.0}, {"coupling": [1.0] * n}, {"coupling": torch.ones(n)}, {"localize": None},
                 {"coupling": 1, "localize": None, "seed": 99}, {"coupling": release_schedule(sig, 0.0, 0.2)}):
        assert torch.equal(_bits(coupled_sample(inc, tgt, **opts)), _bits(y)), opts
        opts = {k: v for k, v in opts.items() if k != "seed"}  # there it seeds the path
        assert torch.equal(_bits(sync_sde_edit(x0, sig, family, src, tgt, seed=3, solver=solver, **opts)),
                           _bits(y_one)), opts
    # with a mask and a start offset too
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:6, 1:7] = 0.7
    start = path.points[0] + 0.1
    assert torch.equal(coupled_sample(inc, tgt, mask=mask, start=start),
                       coupled_sample(inc, tgt, mask=mask, start=start, coupling=1.0, localize=None))


def test_signatures_keep_the_option_order():
    cs = list(inspect.signature(coupled_sample).parameters)
    assert cs == ["increments", "denoise_tgt", "seed", "mask", "start", "coupling", "localize", "callback"]
    se = list(inspect.signature(sync_sde_edit).parameters)
    assert se[5:] == ["seed", "solver", "mask", "kind", "coupling", "localize", "denoise_both", "callback"]
    assert inspect.signature(coupled_sample).parameters["coupling"].default == 1.0
    assert inspect.signature(coupled_sample).parameters["localize"].default is None


# --- identity edits ------------------------------------------------------------------------------

@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_identity_edit_stays_exact_with_localize(family, solver, dtype):
    x0 = _latent(dtype=dtype)
    d = _net(family, 0.5, mix=0.1)
    sig = grid_for(family, solver)
    inc = backward_increments(forward_path(x0, sig, family, seed=7), d, solver=solver)
    maps = []
    for loc in (0.05, 0.5, 1.0):
        y = coupled_sample(inc, d, localize=loc, callback=lambda info: maps.append(info["mask"]))
        assert torch.equal(_bits(y), _bits(x0))
        assert torch.equal(_bits(sync_sde_edit(x0, sig, family, d, d, seed=7, solver=solver, localize=loc)),
                           _bits(x0))
    assert all(m.abs().max() == 0 for m in maps)  # nothing ever becomes editable
    # the released noise acts only where editable, so an identity edit is exact even with rho < 1 ...
    assert torch.equal(_bits(coupled_sample(inc, d, localize=0.5, coupling=0.3)), _bits(x0))
    # ... but without localize rho < 1 is a fresh-noise sample, not the source
    y = coupled_sample(inc, d, coupling=0.3)
    assert (y.float() - x0.float()).abs().max().item() > 0.05


# --- partial coupling ----------------------------------------------------------------------------

@pytest.mark.parametrize("solver", SOLVERS)
def test_coupling_zero_is_a_plain_sde_sample_from_x0(family, solver):
    """rho = 0: Y_{i+1} = Phi(Y_i; c_tgt) + C_i z_i from Y_0 = X_0, i.e. sde_sample from the shared
    start, with the fresh noise drawn from seed + 1."""
    x0 = _latent()
    src, tgt = _net(family, 0.5), _net(family, -1.0)
    sig = grid_for(family, solver)
    path = forward_path(x0, sig, family, seed=3)
    y = sync_sde_edit(x0, sig, family, src, tgt, seed=3, solver=solver, coupling=0.0)
    ref = sde_sample(path.points[0], sig, family, tgt, seed=4, solver=solver)
    err = (y - ref).abs().max().item()
    print(f"{family.value} {solver}: rho=0 vs sde_sample max |diff| {err:.2e} (scale {ref.abs().max().item():.3g})")
    assert torch.allclose(y, ref, atol=1e-5, rtol=1e-5)
    # the source denoiser plays no role any more
    assert torch.allclose(sync_sde_edit(x0, sig, family, _net(family, 2.0), tgt, seed=3, solver=solver, coupling=0.0),
                          ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("solver", SOLVERS)
def test_partial_coupling_is_the_mixed_noise_sde(family, solver):
    """Difference form == the noise form Y_{i+1} = Phi(Y_i; c_tgt) + C_i (rho_i w_i + sqrt(1 - rho_i^2) z_i)
    in float64 (w = Increments.noise; a C_i = 0 step gets rho_i times its raw residual), for a per-step
    rho; the one-call and two-stage forms agree; the seed defaults to the path's."""
    x0 = _latent()
    src, tgt = _net(family, 0.5), _net(family, -1.0)
    sig = grid_for(family, solver)
    n = len(sig) - 1
    path = forward_path(x0, sig, family, seed=3)
    inc = backward_increments(path, src, solver=solver)
    rhos = [0.9, 0.0, 0.5, 1.0] * (n // 4) + [0.7] * (n % 4)
    y = coupled_sample(inc, tgt, coupling=rhos)
    z = seeded_normal(x0.shape, 4, n, "cpu", torch.float32).double()
    w = inc.noise.double()
    ref = path.points[0].double()
    for i, c in enumerate(inc.coefficients):
        ref = c.A * ref + c.B * tgt(ref.float(), sig[i]).double()
        ref = ref + (c.C * (rhos[i] * w[i] + math.sqrt(1 - rhos[i] ** 2) * z[i]) if c.C > 0 else rhos[i] * w[i])
    err = (y.double() - ref).abs().max().item()
    print(f"{family.value} {solver}: difference form vs float64 noise form {err:.2e}")
    assert err <= 1e-5 * max(1.0, ref.abs().max().item())
    assert torch.allclose(y, sync_sde_edit(x0, sig, family, src, tgt, seed=3, solver=solver, coupling=rhos),
                          atol=1e-6, rtol=0)
    assert torch.equal(y, coupled_sample(inc, tgt, coupling=rhos, seed=3))
    assert not torch.equal(y, coupled_sample(inc, tgt, coupling=rhos, seed=4))
    torch.manual_seed(0)
    state = torch.get_rng_state()
    coupled_sample(inc, tgt, coupling=0.5)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is not touched


def _grid(family, start, n):
    if NoiseFamily.parse(family) is NoiseFamily.FLOW:
        return torch.linspace(start, 0.0, n + 1, dtype=torch.float64)
    logs = torch.linspace(math.log(start), math.log(0.01), n, dtype=torch.float64)
    return torch.cat([logs.exp(), torch.zeros(1, dtype=torch.float64)])


def _gaussian_law(family, sig, src, tgt, rhos):
    """Exact mean and variance of Y_n and corr(x0, Y_n) per coordinate, for Gaussian data x0 ~ N(m_s, t_s^2)
    edited toward N(m_t, t_t^2) with their exact (linear) denoisers and the posterior solver: every
    quantity is affine in (x0, the path's draws xi_0..xi_n, the fresh draws z_0..z_{n-1}), so propagating
    the coefficient vectors gives the law of the coupled sampler itself, discretisation included."""
    fam = NoiseFamily.parse(family)
    sig = [float(v) for v in sig]
    n = len(sig) - 1
    (m_s, t_s), (m_t, t_t) = src, tgt
    dim = 2 * n + 3  # [1, x0 - m_s, xi_0 .. xi_n, z_0 .. z_{n-1}]
    var = torch.ones(dim, dtype=torch.float64)
    var[0], var[1] = 0.0, t_s ** 2

    def e(k):
        v = torch.zeros(dim, dtype=torch.float64)
        v[k] = 1.0
        return v

    def denoised(x, s, m, t):  # E[x0 | x] = m + g (x - a m)
        a = fam.alpha(s)
        g = a * t * t / (a * a * t * t + s * s)
        return m * (1 - a * g) * e(0) + g * x

    x0 = m_s * e(0) + e(1)
    x = fam.alpha(sig[0]) * x0 + sig[0] * e(2)
    y = x.clone()
    for i, c in enumerate(step_coefficients(fam, sig, "posterior")):  # the path's and the sampler's
        x_next = c.A * x + c.B * x0 + c.C * e(3 + i) if i < n - 1 else x0  # the path ends on x0 itself
        residual = x_next - c.A * x - c.B * denoised(x, sig[i], m_s, t_s)
        y = c.A * y + c.B * denoised(y, sig[i], m_t, t_t) + rhos[i] * residual
        if c.C > 0:
            y = y + c.C * math.sqrt(1 - rhos[i] ** 2) * e(n + 3 + i)
        x = x_next
    vy = (y * y * var).sum().item()
    return y[0].item(), vy, (x0 * y * var).sum().item() / math.sqrt((x0 * x0 * var).sum().item() * vy)


@pytest.mark.parametrize("family,start", [("flow", 0.9), ("ve", 5.0)])
def test_partial_coupling_law_on_gaussian_data(family, start):
    """Known law: for Gaussian data the coupled sampler's output is Gaussian with a computable mean,
    variance and correlation to the source. With rho = 0 and the same prompt on both sides it is a
    plain SDE sample (of the data law, up to the posterior step's 1/n variance deficit); the
    correlation to the source falls with rho as predicted, ~ f + (1 - f) rho with f = a_0^2 t^2 /
    (a_0^2 t^2 + sigma_0^2), SDEdit's correlation at the start."""
    n, tau = 40, 0.5
    sig = _grid(family, start, n)
    for tgt in ((1.0, 0.5), (-1.0, 0.8)):  # the identity edit, and an edit to another Gaussian
        gm = GaussianMixture([[1.0, 1.0], [tgt[0]] * 2], stds=[tau, tgt[1]])
        x0, _ = gm.sample(20000, component=0, seed=1)
        d_src, d_tgt = gm.denoiser(family, 0), gm.denoiser(family, 1)
        corrs = []
        for rho in (0.0, 0.5, 0.9, 1.0):
            y = sync_sde_edit(x0, sig, family, d_src, d_tgt, seed=2, coupling=rho)
            if tgt == (1.0, 0.5) and rho == 1.0:
                assert torch.equal(y, x0)  # sync-SDE's identity edit
            y = y.double().flatten()
            xs = x0.double().flatten()
            corr = torch.corrcoef(torch.stack([xs, y]))[0, 1].item()
            mean, v, c = _gaussian_law(family, sig, (1.0, tau), tgt, [rho] * n)
            print(f"{family} target N({tgt[0]}, {tgt[1]}^2) rho={rho}: mean {y.mean().item():.4f} (exact {mean:.4f}) "
                  f"var {y.var().item():.4f} ({v:.4f}) corr {corr:.4f} ({c:.4f})")
            assert abs(y.mean().item() - mean) < 0.015
            assert abs(y.var().item() / v - 1) < 0.04
            assert abs(corr - c) < 0.02
            corrs.append(corr)
        assert corrs == sorted(corrs)  # monotone in rho
        if tgt == (1.0, 0.5):
            assert corrs[0] < 0.03  # rho = 0: (nearly) independent of the source
    # the identity edit at rho = 0 tends to the data law as the steps shrink (posterior deficit ~ 1/n) and
    # the correlation to the simple formula
    a0 = NoiseFamily.parse(family).alpha(start)
    f = a0 ** 2 * tau ** 2 / (a0 ** 2 * tau ** 2 + start ** 2)
    deficits = []
    for steps in (40, 400):
        mean, v, _ = _gaussian_law(family, _grid(family, start, steps), (1.0, tau), (1.0, tau), [0.0] * steps)
        deficits.append(1 - v / tau ** 2)
        assert mean == pytest.approx(1.0, abs=1e-12)
    print(f"{family}: rho=0 variance deficit {deficits[0]:.4f} at 40 steps, {deficits[1]:.5f} at 400")
    assert 0 < deficits[1] < 0.02 and deficits[1] < 0.15 * deficits[0]
    for rho in (0.25, 0.5, 0.75):
        _, _, c = _gaussian_law(family, _grid(family, start, 400), (1.0, tau), (1.0, tau), [rho] * 400)
        assert c == pytest.approx(f + (1 - f) * rho, abs=0.01)


# --- release schedule ----------------------------------------------------------------------------

def test_release_schedule_values_and_effect(family):
    sig = grid_for(family)
    n = len(sig) - 1
    k = 5
    sched = release_schedule(sig, float(sig[k]), 0.25)
    assert sched == [1.0] * k + [0.25] * (n - k)
    assert release_schedule(sig, 0.0) == [1.0] * n
    assert release_schedule(sig, 100.0) == [0.0] * n
    assert release_schedule(list(sig), float(sig[k]) + 1e-9, 0.5) == [1.0] * k + [0.5] * (n - k)
    # the coupled steps before the release are exactly sync-SDE's; later ones differ
    x0 = _latent()
    inc = backward_increments(forward_path(x0, sig, family, seed=3), _net(family, 0.5))
    tgt = _net(family, -1.0)
    seen_full, seen_rel = [], []
    y_full = coupled_sample(inc, tgt, callback=lambda info: seen_full.append(info["x"]))
    y_rel = coupled_sample(inc, tgt, coupling=sched, callback=lambda info: seen_rel.append(info["x"]))
    assert all(torch.equal(a, b) for a, b in zip(seen_full[:k + 1], seen_rel[:k + 1]))
    assert not torch.equal(seen_full[k + 1], seen_rel[k + 1]) and not torch.equal(y_full, y_rel)


# --- localize ------------------------------------------------------------------------------------

def _regions():
    r = torch.zeros(2, 1, 16, 16)
    r[0, :, 4:9, 5:11] = 1
    r[1, :, 9:14, 2:7] = 1
    return r


def _dilate(region, k):
    flat = region.reshape(-1, 1, *region.shape[-2:])
    return (F.max_pool2d(flat, 2 * k + 1, stride=1, padding=k) > 0).reshape(region.shape)


def test_localize_keeps_the_source_outside_the_disagreement(family):
    """Denoisers that differ only in a region R but see 3x3 neighbourhoods: the unrestricted edit
    spills far outside R; the localized edit equals the source bit for bit outside R dilated by the
    blur's radius (2 cells), edits inside, and follows the unrestricted edit where the map saturates."""
    x0 = _latent((2, 4, 16, 16))
    region = _regions()
    src = _net(family, 0.5, mix=0.05)
    tgt = _shifted(src, 1.5 * region)
    sig = grid_for(family)
    inc = backward_increments(forward_path(x0, sig, family, seed=3), src)
    y_free = coupled_sample(inc, tgt)
    outside = ~_dilate(region, 2).expand_as(x0)
    spill = (y_free != x0)[outside].float().mean().item()
    maps = []
    y = coupled_sample(inc, tgt, localize=0.05, callback=lambda info: maps.append(info["mask"]))
    changed = (y != x0).any(1, keepdim=True)
    print(f"{family.value}: unrestricted edit changes {spill:.0%} of the cells outside R+2; "
          f"localized changes {changed.sum().item()} cells (R: {int(region.sum())})")
    assert spill > 0.2
    assert torch.equal(_bits(y[outside]), _bits(x0[outside]))
    assert changed[region.bool()].all()
    inside = region.bool().expand_as(x0)
    assert (y - y_free)[inside].abs().max().item() < 1e-4 * (y_free - x0)[inside].abs().max().item()
    # the editable map: (N, 1, H, W), in [0, 1], non-decreasing over steps, 0 beyond R + 2, 1 on R
    assert all(m.shape == (2, 1, 16, 16) and m.min() >= 0 and m.max() <= 1 for m in maps)
    assert all((b >= a).all() for a, b in zip(maps, maps[1:]))
    assert (maps[-1][~_dilate(region, 2)] == 0).all() and (maps[0][region.bool()] == 1).all()
    # rho < 1 releases the noise only where editable, and the map is kept from the first released step
    # on (the released noise is no prompt disagreement): here the step-0 map, R + 2
    maps_rel = []
    y_rel = coupled_sample(inc, tgt, localize=0.05, coupling=0.0, callback=lambda info: maps_rel.append(info["mask"]))
    assert all(torch.equal(m, maps[0]) for m in maps_rel)
    assert torch.equal(_bits(y_rel[outside]), _bits(x0[outside]))
    assert (y_rel - y)[inside].abs().max().item() > 0.05
    k = 4
    maps_late = []
    coupled_sample(inc, tgt, localize=0.05, coupling=release_schedule(sig, float(sig[k]), 0.5),
                   callback=lambda info: maps_late.append(info["mask"]))
    assert all(torch.equal(a, b) for a, b in zip(maps[:k + 1], maps_late[:k + 1]))
    assert all(torch.equal(m, maps_late[k]) for m in maps_late[k:])


def test_localize_saturated_equals_the_unrestricted_edit(family):
    """Cell-wise denoisers differing on R: the map saturates on R from the first step, so the localized
    edit is the unrestricted one bit for bit; a strict threshold edits less. Per-item normalisation: an
    item whose disagreement is 100 times weaker gets the same first map."""
    x0 = _latent((2, 4, 16, 16))
    region = torch.zeros(2, 1, 16, 16)
    region[:, :, 4:9, 5:11] = 1
    shift = region * torch.tensor([1.5, 0.015]).view(2, 1, 1, 1)
    src = _net(family, 0.5)
    tgt = _shifted(src, shift)
    sig = grid_for(family)
    inc = backward_increments(forward_path(x0, sig, family, seed=3), src)
    y_free = coupled_sample(inc, tgt)
    maps = []
    y = coupled_sample(inc, tgt, localize=0.3, callback=lambda info: maps.append(info["mask"]))
    assert torch.equal(_bits(y), _bits(y_free))
    assert torch.equal(maps[0][0] == 1, maps[0][1] == 1) and torch.equal(maps[0][0] > 0, maps[0][1] > 0)
    assert torch.allclose(maps[0][0], maps[0][1], atol=1e-3, rtol=0)  # D + shift - D rounds
    y_strict = coupled_sample(inc, tgt, localize=1.0)
    assert not torch.equal(y_strict, y_free)
    assert torch.equal(_bits(y_strict[~region.bool().expand_as(x0)]), _bits(x0[~region.bool().expand_as(x0)]))
    assert torch.allclose(sync_sde_edit(x0, sig, family, src, tgt, seed=3, localize=0.3), y, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(3, 4), (2, 4, 12), (2, 4, 3, 10, 10)], ids=["rank2", "rank3", "video"])
def test_localize_any_latent_rank(shape):
    fam = NoiseFamily.FLOW
    x0 = _latent(shape)
    src = _net(fam, 0.5)
    sig = grid_for(fam)
    inc = backward_increments(forward_path(x0, sig, fam, seed=3), src)
    assert torch.equal(_bits(coupled_sample(inc, src, localize=0.2)), _bits(x0))
    region = torch.zeros(shape[0], 1, *shape[2:])
    if len(shape) == 2:
        region[:2] = 1  # item 2 agrees: no spatial dims, so the map is per item (0 or 1)
    elif len(shape) == 3:
        region[:, :, 3:6] = 1
    else:
        region[0, :, 1, 2:5, 3:6] = 1  # frame 1 of video 0; video 1 agrees everywhere
    tgt = _shifted(src, 1.5 * region)
    maps = []
    y = coupled_sample(inc, tgt, localize=0.2, callback=lambda info: maps.append(info["mask"]))
    assert maps[0].shape == region.shape and maps[0].dtype == torch.float32
    y_free = coupled_sample(inc, tgt)
    if len(shape) == 2:
        assert torch.equal(y, y_free)
        assert torch.equal(_bits(y[2]), _bits(x0[2]))
        return
    # blurred over (H, W) only, per frame; with one spatial dim, not blurred
    keep = (~_dilate(region, 2) if len(shape) == 5 else region == 0).expand_as(x0)
    assert torch.equal(_bits(y[keep]), _bits(x0[keep]))
    assert (y != x0).any()
    if len(shape) == 5:
        assert torch.equal(_bits(y[1]), _bits(x0[1])) and torch.equal(_bits(y[0, :, 0]), _bits(x0[0, :, 0]))


# --- the FlowEdit relation -----------------------------------------------------------------------

def test_flowedit_is_the_difference_form_with_ode_steps_on_a_resampled_path():
    """FlowEdit (n_avg = 1, n_min = 0) is sync-SDE's difference form with the ODE (DDIM) coefficients
    on independently noised points: Delta_{i+1} = (s_lo / s_hi) Delta_i + (1 - s_lo / s_hi) (D_tgt - D_src)."""
    fam = NoiseFamily.FLOW
    x0 = _latent()
    src, tgt = _net(fam, 0.5), _net(fam, -1.0)
    sig = torch.linspace(0.85, 0.0, 25, dtype=torch.float64)
    path = forward_path(x0, sig, fam, seed=5, kind="resample")
    coeffs = step_coefficients(fam, path.sigmas, "ode")
    y = difference_form(path, coeffs, lambda i, x, yy: denoise_pair(src, tgt, None, x, yy, path.sigmas[i]))
    fe = flowedit(x0, sig, src, tgt, seed=5)
    assert (fe - x0).abs().max().item() > 1.0
    assert torch.allclose(y, fe, atol=1e-5, rtol=0)


def test_flowedit_localize_keeps_the_source_outside_the_disagreement_and_is_off_by_default():
    """FlowEdit + localize (docs/ALGORITHMS.md 3.9): None is the paper's loop bit for bit; an identity edit
    stays exact; with denoisers that differ only on R (seeing 3x3 neighbourhoods), the source's bits are
    kept beyond R + 2, the inside follows the unrestricted FlowEdit where the map saturates, and the map
    is non-decreasing. n_min > 0 is refused by name."""
    fam = NoiseFamily.FLOW
    x0 = _latent((2, 4, 16, 16))
    region = _regions()
    src = _net(fam, 0.5, mix=0.05)
    tgt = _shifted(src, 1.5 * region)
    sig = torch.linspace(0.85, 0.0, 15, dtype=torch.float64)
    free = flowedit(x0, sig, src, tgt, seed=5)
    assert torch.equal(_bits(flowedit(x0, sig, src, tgt, seed=5, localize=None)), _bits(free))
    for loc in (0.05, 1.0):
        assert torch.equal(_bits(flowedit(x0, sig, src, src, seed=5, localize=loc, n_avg=2)), _bits(x0))
    maps = []
    y = flowedit(x0, sig, src, tgt, seed=5, localize=0.05, callback=lambda info: maps.append(info["mask"]))
    outside = ~_dilate(region, 2).expand_as(x0)
    inside = region.bool().expand_as(x0)
    spill = (free != x0)[outside].float().mean().item()
    print(f"FlowEdit: unrestricted changes {spill:.0%} of the cells outside R+2; localized none")
    assert spill > 0.2 and torch.equal(_bits(y[outside]), _bits(x0[outside]))
    assert (y - free)[inside].abs().max().item() < 1e-3 * (free - x0)[inside].abs().max().item()
    assert all((b >= a).all() for a, b in zip(maps, maps[1:])) and len(maps) == 14
    with pytest.raises(ValueError, match=r"^n_min: localize restricts FlowEdit's coupled steps"):
        flowedit(x0, sig, src, tgt, localize=0.5, n_min=2)
    with pytest.raises(ValueError, match=r"^localize: "):
        flowedit(x0, sig, src, tgt, localize=1.5)


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,match", [
    ({"coupling": -0.1}, r"^coupling: values must lie in \[0, 1\]"),
    ({"coupling": 1.5}, r"^coupling: values must lie in \[0, 1\]"),
    ({"coupling": float("nan")}, r"^coupling: values must lie in \[0, 1\]"),
    ({"coupling": [1.0, 0.5]}, r"^coupling: expected 3 values \(one per step\), got 2"),
    ({"coupling": torch.ones(4)}, r"^coupling: expected 3 values"),
    ({"coupling": [0.5, 0.5, 2.0]}, r"^coupling: values must lie in \[0, 1\]"),
    ({"coupling": "0.5"}, r"^coupling: expected a number in \[0, 1\] or a sequence of 3"),
    ({"coupling": True}, r"^coupling: expected a number"),
    ({"coupling": torch.ones(3, 1)}, r"^coupling: expected a number"),
    ({"coupling": None}, r"^coupling: expected a number"),
    ({"localize": 0.0}, r"^localize: expected None or a number in \(0, 1\]"),
    ({"localize": -0.5}, r"^localize: "),
    ({"localize": 1.5}, r"^localize: "),
    ({"localize": float("nan")}, r"^localize: "),
    ({"localize": True}, r"^localize: "),
    ({"localize": "0.2"}, r"^localize: "),
])
def test_bad_variant_options(kwargs, match):
    x0 = _latent((1, 4, 8, 8))
    sig = [0.9, 0.5, 0.2, 0.0]
    calls = []

    def d(x, s):
        calls.append(s)
        return x * (1 - float(s))

    inc = backward_increments(forward_path(x0, sig, "flow"), d)
    calls.clear()
    with pytest.raises(ValueError, match=match):
        coupled_sample(inc, d, **kwargs)
    with pytest.raises(ValueError, match=match):
        sync_sde_edit(x0, sig, "flow", d, d, **kwargs)
    assert not calls  # refused before any model call


def test_bad_seed_and_release_schedule():
    x0 = _latent((1, 4, 8, 8))
    sig = [0.9, 0.5, 0.2, 0.0]
    inc = backward_increments(forward_path(x0, sig, "flow"), lambda x, s: x)
    with pytest.raises(ValueError, match="^seed: "):
        coupled_sample(inc, lambda x, s: x, seed=1.5, coupling=0.5)
    with pytest.raises(ValueError, match="^sigma_release: "):
        release_schedule(sig, -0.1)
    with pytest.raises(ValueError, match="^sigma_release: "):
        release_schedule(sig, float("nan"))
    with pytest.raises(ValueError, match="^rho_after: "):
        release_schedule(sig, 0.5, 1.5)
    with pytest.raises(ValueError, match="^sigmas: "):
        release_schedule([0.5, 0.9, 0.0], 0.5)
