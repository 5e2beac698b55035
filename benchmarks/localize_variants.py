"""Benchmark-side variants of the core's ``localize`` option (docs/ALGORITHMS.md 3.9), and shared-source runners.

Nothing here changes ``sampling/``. The map variants replace
``comfyui_coupled_sde.sampling.coupled._editable_map`` only inside :func:`editable_map` (a context
manager that restores the original), so every other use of the core is untouched.

Map variants (``diff -> (N, 1, H, W)`` editable map for one step; the core keeps the running maximum):

* ``core``: the core's own map (channel-mean ``|diff|``, 5x5 Gaussian blur, per-item max, ramp
  ``clamp(2 d / t - 1, 0, 1)``).
* ``hard``: no ramp, ``d >= t``.
* ``wide``: the ramp ``clamp(d / t, 0, 1)`` (0 at 0, 1 at t).
* ``noblur``: the core's ramp without the blur.
* ``dilated``: the core's map, then a 3x3 max-pool (one cell more around the edit).

``accumulated`` (SAM-Flow-like) cannot be a per-step map under a running maximum: it is the loop
:func:`accumulate_loop`, a copy of the localize path of ``coupled.difference_form``.

Shared-source runners: every sync-SDE variant of one (start, guidance, seed) setting drives its
target with the same source path and the same ``D_src(X_i)`` (``backward_increments`` once, then
``coupled_sample`` per variant, equal to ``sync_sde_edit`` on the same seed); every FlowEdit variant
uses the same noised source points ``Z_src,i`` and ``D_src(Z_src,i)``. That saves compute only: each
method's budget is still 2 calls per grid step, and the calls reported are those of a run alone.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

import comfyui_coupled_sde.sampling.coupled as core_coupled
from comfyui_coupled_sde.sampling import backward_increments, coupled_sample, forward_path
from comfyui_coupled_sde.sampling._util import seeded_normal

CORE_MAP = core_coupled._editable_map


# --- per-step maps -----------------------------------------------------------------------------------
def soft_map(diff: torch.Tensor, blur: bool = True) -> torch.Tensor:
    """Channel-mean ``|diff|``, optionally blurred (the core's 5x5 Gaussian), divided by its per-item max."""
    d = diff.abs().mean(dim=1, keepdim=True)
    if blur:
        d = core_coupled._blur_plane(d)
    peak = d.amax(dim=tuple(range(1, d.dim())), keepdim=True)
    return d / peak.clamp_min(torch.finfo(d.dtype).tiny)


def ramp(d: torch.Tensor, t: float) -> torch.Tensor:
    return (d * (2.0 / t) - 1.0).clamp(0.0, 1.0)


def map_hard(diff, t):
    return (soft_map(diff) >= t).to(diff.dtype)


def map_wide(diff, t):
    return (soft_map(diff) / t).clamp(0.0, 1.0)


def map_noblur(diff, t):
    return ramp(soft_map(diff, blur=False), t)


def dilate3(m: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(m, 3, stride=1, padding=1)


def map_dilated(diff, t):
    return dilate3(CORE_MAP(diff, t))


MAPS = {"core": CORE_MAP, "hard": map_hard, "wide": map_wide, "noblur": map_noblur, "dilated": map_dilated}


@contextlib.contextmanager
def editable_map(fn):
    """Run the core with ``fn`` in place of ``coupled._editable_map``; restored on exit."""
    old = core_coupled._editable_map
    core_coupled._editable_map = fn
    try:
        yield
    finally:
        core_coupled._editable_map = old


# --- sync-SDE family: one source pass, many targets ----------------------------------------------------
def sync_source(x0, sig, family, d_src, seed, kind="brownian"):
    """The source half of sync-SDE: the path and ``D_src(X_i)`` (n source calls)."""
    return backward_increments(forward_path(x0, sig, family, seed=seed, kind=kind), d_src)


def sync_target(inc, d_tgt, localize=None, map_name="core"):
    """``coupled_sample`` on shared increments (n target calls); ``map_name`` patches the map."""
    if localize is None:
        return coupled_sample(inc, d_tgt)
    if map_name == "accumulated":
        return accumulate_loop(inc, d_tgt, localize)
    with editable_map(MAPS[map_name]):
        return coupled_sample(inc, d_tgt, localize=localize)


@torch.no_grad()
def accumulate_loop(inc, d_tgt, t: float):
    """SAM-Flow-like soft accumulation. A copy of the localize path of
    ``comfyui_coupled_sde.sampling.coupled.difference_form`` (no mask, no coupling) with the running
    maximum replaced by:

    * ``acc_i`` = running mean over steps ``0..i`` of the per-step soft map (``soft_map``: blurred,
      per-item max 1), renormalised to a per-item max of 1;
    * core region: the core's ramp on ``acc_i`` (0 below t / 2, 1 from t);
    * transition band: one cell around it at half weight, ``E_i = max(ramp, 0.5 * maxpool3(ramp))``.

    ``E_i`` is not monotone: where it falls back to 0 the difference decays by ``A_i`` instead of
    staying (the update is ``A_i Delta_i + E_i B_i (D_tgt - D_src)``, as in the core).
    """
    path, coeffs = inc.path, inc.coefficients
    delta = torch.zeros_like(path.points[0])
    acc = None
    for i, c in enumerate(coeffs):
        y = path.points[i] + delta
        diff = d_tgt(y, path.sigmas[i]) - inc.denoised[i]
        s = soft_map(diff)
        acc = s if acc is None else acc + (s - acc) / (i + 1)
        a = acc / acc.amax(dim=(1, 2, 3), keepdim=True).clamp_min(torch.finfo(acc.dtype).tiny)
        e = ramp(a, t)
        e = torch.maximum(e, 0.5 * dilate3(e))
        delta = c.A * delta + e * (c.B * diff)
    x_n = path.points[-1]
    return torch.where(delta == 0, x_n, x_n + delta).to(path.x0.dtype)


# --- FlowEdit family: one source pass, many targets ----------------------------------------------------
class FlowEditSource:
    """FlowEdit's source half (``baselines.flowedit`` with ``n_avg = 1``, ``n_min = 0``): the noised
    source points ``Z_src,i = (1 - s_i) x_src + s_i eps_i`` (the same seeded draws as the core) and
    ``D_src(Z_src,i)``; independent of the edit, so every FlowEdit variant can share them."""

    def __init__(self, x0, sig, d_src, seed):
        self.x = x0.to(torch.float32) if x0.dtype not in (torch.float32, torch.float64) else x0
        self.sig = [float(s) for s in sig]
        n = len(self.sig) - 1
        noise = seeded_normal(self.x.shape, seed, n + 1, self.x.device, self.x.dtype)
        self.z_src = [(1 - s) * self.x + s * noise[i] for i, s in enumerate(self.sig[:-1])]
        self.d_src = [d_src(z, s) for z, s in zip(self.z_src, self.sig[:-1])]


@torch.no_grad()
def flowedit_target(src: FlowEditSource, d_tgt, localize=None, map_fn=CORE_MAP):
    """FlowEdit's loop (a copy of ``baselines.flowedit``, n_avg 1, n_min 0) on shared source points;
    with ``localize = t`` the velocity difference is multiplied by the running maximum ``E_i`` of
    ``map_fn(D_tgt - D_src, t)`` (the core's map by default):
    ``Z <- Z + (s_next - s) E_i [V_tgt(Z_tar) - V_src(Z_src)]``. Where ``E`` stays 0, ``Z`` stays the
    source exactly. Without ``localize`` it reproduces ``baselines.flowedit`` (checked by the sweep)."""
    x_src, z = src.x, src.x.clone()
    e = None
    for i in range(len(src.sig) - 1):
        s, s_next = src.sig[i], src.sig[i + 1]
        z_src, d_s = src.z_src[i], src.d_src[i]
        z_t = z + z_src - x_src
        d_t = d_tgt(z_t, s)
        v_delta = torch.zeros_like(z)
        v_delta += ((z_t - d_t) - (z_src - d_s)) / s
        if localize is not None:
            m = map_fn(d_t - d_s, localize)
            e = m if e is None else torch.maximum(e, m)
            v_delta = e * v_delta
        z = z + (s_next - s) * v_delta / 1
    return z
