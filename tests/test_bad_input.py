"""Bad input raises ValueError naming the argument."""

import pytest
import torch

from comfyui_coupled_sde.sampling import (
    NoiseFamily,
    backward_increments,
    coupled_sample,
    flowedit,
    forward_path,
    step_coefficients,
    sync_sde_edit,
)

X0 = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
SIG = torch.tensor([0.9, 0.5, 0.2, 0.0])


def ident(x, s):
    return x * (1 - float(s))


@pytest.mark.parametrize("sigmas,match", [
    ([0.9, 0.9, 0.0], "strictly decreasing"),
    ([0.2, 0.5, 0.0], "strictly decreasing"),
    ([0.9, 0.5, 0.1], "last noise level must be 0"),
    ([0.5], "at least two"),
    ([1.5, 0.5, 0.0], r"\[0, 1\]"),
    ([float("nan"), 0.0], "finite"),
    (torch.zeros(2, 2), "1-D"),
    ("abc", "noise levels"),
])
def test_bad_sigmas(sigmas, match):
    with pytest.raises(ValueError, match=r"^sigmas: .*" + match):
        forward_path(X0, sigmas, "flow")


def test_unknown_family_solver_kind():
    with pytest.raises(ValueError, match="^family: "):
        forward_path(X0, SIG, "vp")
    with pytest.raises(ValueError, match="^family: "):
        forward_path(X0, SIG, 3)
    with pytest.raises(ValueError, match="^kind: "):
        forward_path(X0, SIG, "flow", kind="sometimes")
    path = forward_path(X0, SIG, "flow")
    with pytest.raises(ValueError, match="^solver: "):
        backward_increments(path, ident, solver="heun")
    with pytest.raises(ValueError, match="^solver: "):
        step_coefficients(NoiseFamily.FLOW, [0.5, 0.0], "rk4")
    with pytest.raises(ValueError, match="^solver: "):
        sync_sde_edit(X0, SIG, "flow", ident, ident, solver="dpm")


def test_euler_at_flow_sigma_one_is_refused_clearly():
    with pytest.raises(ValueError, match="^sigmas: the 'euler' solver is singular at sigma = 1"):
        backward_increments(forward_path(X0, [1.0, 0.5, 0.0], "flow"), ident, solver="euler")


def test_bad_latent_and_seed():
    with pytest.raises(ValueError, match="^x0: "):
        forward_path(X0.to(torch.int64), SIG, "flow")
    with pytest.raises(ValueError, match="^x0: .*NaN"):
        forward_path(X0 * float("nan"), SIG, "flow")
    with pytest.raises(ValueError, match="^x0: "):
        forward_path([1.0, 2.0], SIG, "flow")
    with pytest.raises(ValueError, match="^seed: "):
        forward_path(X0, SIG, "flow", seed=1.5)


@pytest.mark.parametrize("bad,match", [
    (lambda x, s: x * float("nan"), "NaN or inf"),
    (lambda x, s: x * float("inf"), "NaN or inf"),
    (lambda x, s: x[..., :4], "returned shape"),
    (lambda x, s: None, "must return a torch.Tensor"),
])
def test_bad_denoiser_output(bad, match):
    path = forward_path(X0, SIG, "flow")
    with pytest.raises(ValueError, match=r"^denoise_src: .*" + match):
        backward_increments(path, bad)
    inc = backward_increments(path, ident)
    with pytest.raises(ValueError, match=r"^denoise_tgt: .*" + match):
        coupled_sample(inc, bad)
    with pytest.raises(ValueError, match=r"^denoise_tgt: "):
        coupled_sample(inc, "not callable")


@pytest.mark.parametrize("mask,match", [
    (torch.ones(1, 1, 4, 4), "does not broadcast"),
    (torch.ones(2, 1, 8, 8), "does not broadcast"),
    (torch.ones(1, 4, 8, 8, 1), "does not broadcast"),
    (torch.full((1, 1, 8, 8), 2.0), r"\[0, 1\]"),
])
def test_bad_mask(mask, match):
    inc = backward_increments(forward_path(X0, SIG, "flow"), ident)
    with pytest.raises(ValueError, match=r"^mask: .*" + match):
        coupled_sample(inc, ident, mask=mask)


def test_wrong_objects_passed():
    with pytest.raises(ValueError, match="^path: "):
        backward_increments(X0, ident)
    with pytest.raises(ValueError, match="^increments: "):
        coupled_sample(forward_path(X0, SIG, "flow"), ident)
    with pytest.raises(ValueError, match="^n_avg: "):
        flowedit(X0, SIG, ident, ident, n_avg=0)
