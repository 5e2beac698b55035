"""The core API's shape: keyword-only options in one order, and no autograd graph through the samplers."""

import gc
import inspect
import weakref

import pytest
import torch
from grids import grid_for
from torch import nn

import comfyui_coupled_sde.sampling as S

X0 = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))

# every public function that takes a denoiser (and forward_path), with its number of required
# positional arguments; everything after them is a keyword-only option
POSITIONAL = {
    "forward_path": 3,
    "backward_increments": 2,
    "coupled_sample": 2,
    "reconstruct": 2,
    "sync_sde_edit": 5,
    "cycle_sde_invert": 4,
    "cycle_sde_sample": 2,
    "sde_sample": 4,
    "ode_sample": 4,
    "ode_invert": 4,
    "sdedit": 4,
    "flowedit": 4,
    "edit_friendly_ddpm": 5,
    "sde_drag": 6,
}
SHARED_FIRST = ("seed", "solver", "mask", "kind")  # in this order, before any method-specific option
SHARED_LAST = ("denoise_both", "callback")  # in this order, after every other option


@pytest.mark.parametrize("name", sorted(POSITIONAL))
def test_options_are_keyword_only_in_one_order(name):
    params = list(inspect.signature(getattr(S, name)).parameters.values())
    required, options = params[:POSITIONAL[name]], params[POSITIONAL[name]:]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in required), required
    assert options and all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in options), options
    names = [p.name for p in options]
    first = [n for n in SHARED_FIRST if n in names]
    last = [n for n in SHARED_LAST if n in names]
    assert names[:len(first)] == first, names
    assert names[len(names) - len(last):] == last, names
    if name != "forward_path":
        assert names[-1] == "callback", names


def test_an_option_passed_positionally_is_refused():
    d = S.GaussianMixture([[0.0] * 4]).denoiser("ve")
    x = torch.zeros(3, 4)
    with pytest.raises(TypeError):
        S.sdedit(x, [1.0, 0.0], "ve", d, 3)
    with pytest.raises(TypeError):
        S.backward_increments(S.forward_path(x, [1.0, 0.0], "ve"), d, "euler")


class Net(nn.Module):
    """A small conditioned denoiser with trainable parameters.

    Records whether autograd was on at every call, and weak references to its hidden activations
    (which an autograd graph would keep alive for a backward pass that never comes).
    """

    def __init__(self, family, cond: float):
        super().__init__()
        g = torch.Generator().manual_seed(123)
        self.inp, self.out = nn.Linear(4, 16), nn.Linear(16, 4)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
        self.family = S.NoiseFamily.parse(family)
        self.cond = cond
        self.grad_enabled = []
        self.hidden = []

    def forward(self, x, sigma):
        self.grad_enabled.append(torch.is_grad_enabled())
        h = torch.tanh(self.inp(x.movedim(1, -1)) + self.cond)
        self.hidden.append(weakref.ref(h))
        return self.family.alpha(float(sigma)) * x + self.out(h).movedim(-1, 1)


def _cases(family):
    sig = grid_for(family)

    def inc(src, kind="brownian"):
        return S.backward_increments(S.forward_path(X0, sig, family, seed=1, kind=kind), src)

    cases = {
        "backward_increments": lambda s, t: inc(s).denoised,
        "coupled_sample": lambda s, t: S.coupled_sample(inc(s), t),
        "reconstruct": lambda s, t: S.reconstruct(inc(s), t, return_trajectory=True),
        "sync_sde_edit": lambda s, t: S.sync_sde_edit(X0, sig, family, s, t, seed=2),
        "sync_sde_edit(denoise_both)": lambda s, t: S.sync_sde_edit(
            X0, sig, family, s, t, seed=2, denoise_both=lambda x, y, sigma: (s(x, sigma), t(y, sigma))),
        "cycle_sde": lambda s, t: S.cycle_sde_sample(S.cycle_sde_invert(X0, sig, family, s, seed=3), t),
        "sde_sample": lambda s, t: S.sde_sample(X0, sig, family, t, seed=4),
        "ode_sample": lambda s, t: S.ode_sample(X0, sig, family, t),
        "ode_invert": lambda s, t: S.ode_invert(X0, sig, family, s),
        "sdedit": lambda s, t: S.sdedit(X0, sig, family, t, seed=5),
        "edit_friendly_ddpm": lambda s, t: S.edit_friendly_ddpm(X0, sig, family, s, t, seed=6),
        "sde_drag": lambda s, t: S.sde_drag(X0, sig, family, s, [(2, 2)], [(5, 5)], r=1, seed=7),
        "sde_drag(denoise_both)": lambda s, t: S.sde_drag(
            X0, sig, family, s, [(2, 2)], [(5, 5)], r=1, seed=7,
            denoise_both=lambda x, y, sigma: (s(x, sigma), s(y, sigma))),
    }
    if family is S.NoiseFamily.FLOW:
        cases["flowedit"] = lambda s, t: S.flowedit(X0, sig, s, t, seed=8, n_avg=2, n_min=2)
    return cases


@pytest.mark.parametrize("family,case", [
    pytest.param(f, c, id=f"{f.value}-{c}") for f in (S.NoiseFamily.FLOW, S.NoiseFamily.VE) for c in sorted(_cases(f))
])
def test_no_autograd_graph_with_a_trainable_module_denoiser(family, case):
    """As k-diffusion's samplers, every sampler runs under torch.no_grad(): a trainable nn.Module
    denoiser builds no graph across steps, so memory does not grow with the step count."""
    src, tgt = Net(family, 0.5), Net(family, -1.0)
    assert all(p.requires_grad for p in src.parameters())
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    out = _cases(family)[case](src, tgt)
    outs = out if isinstance(out, tuple) else (out,)
    for o in outs:
        assert o.requires_grad is False and o.grad_fn is None
    calls = src.grad_enabled + tgt.grad_enabled
    assert calls and not any(calls), calls  # the denoiser never ran with autograd on
    assert torch.is_grad_enabled()  # and the caller's grad mode is restored
    gc.collect()
    kept = sum(ref() is not None for ref in src.hidden + tgt.hidden)
    assert kept == 0, f"{kept} of {len(calls)} activations outlived their step"  # nothing held for backward
