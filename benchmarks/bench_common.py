"""Pieces the digits and scene benchmarks share: the network blocks and the method runners.

A runner is ``run(model, x0, denoise_src, denoise_tgt, k, steps, seed) -> edited`` on the model's
``steps``-step grid sliced at start index ``k`` (``model.sigmas(steps)``, ``model.family``).
Budgets: 2 denoiser calls per grid step for every runner; SDEdit, which needs 1, runs the grid
twice as fine from the same sigma.
"""

from __future__ import annotations

from comfyui_coupled_sde.demo.scene_net import ResBlock, timestep_embedding  # noqa: F401
from comfyui_coupled_sde.sampling import (
    cycle_sde_invert,
    cycle_sde_sample,
    edit_friendly_ddpm,
    flowedit,
    ode_invert,
    ode_sample,
    sdedit,
    sync_sde_edit,
)


# --- network blocks (the demo model's, shipped with the pack) -----------------------------------
# --- method runners --------------------------------------------------------------------------------
def grid(model, steps, k):
    return model.sigmas(steps)[k:]


def sync_sde(solver="posterior", kind="brownian", **options):
    def run(m, x0, d_src, d_tgt, k, steps, seed):
        return sync_sde_edit(x0, grid(m, steps, k), m.family, d_src, d_tgt, seed=seed, solver=solver, kind=kind,
                             **options)
    return run


def run_flowedit(m, x0, d_src, d_tgt, k, steps, seed):
    return flowedit(x0, grid(m, steps, k), d_src, d_tgt, seed=seed)


def run_sdedit(m, x0, d_src, d_tgt, k, steps, seed):
    return sdedit(x0, grid(m, 2 * steps, 2 * k), m.family, d_tgt, seed=seed, solver="posterior")


def run_ode(m, x0, d_src, d_tgt, k, steps, seed):
    sig = grid(m, steps, k)
    return ode_sample(ode_invert(x0, sig, m.family, d_src), sig, m.family, d_tgt)


def run_ef_ddpm(m, x0, d_src, d_tgt, k, steps, seed):
    return edit_friendly_ddpm(x0, grid(m, steps, k), m.family, d_src, d_tgt, seed=seed)


def run_cycle(m, x0, d_src, d_tgt, k, steps, seed):
    return cycle_sde_sample(cycle_sde_invert(x0, grid(m, steps, k), m.family, d_src, seed=seed), d_tgt)


class Counted:
    """A denoiser that counts its calls (each call denoises the whole batch once)."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, x, sigma):
        self.calls += 1
        return self.f(x, sigma)
