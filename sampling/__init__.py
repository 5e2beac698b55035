"""The math of ComfyUI-CoupledSDE: pure torch, never imports ComfyUI.

A denoiser is any callable ``denoise(x, sigma) -> x0_hat`` on latents in the model's native
coordinates. Two noise families cover every model ComfyUI runs (:class:`NoiseFamily`).

Core (sync-SDE)::

    from comfyui_coupled_sde.sampling import NoiseFamily, forward_path, backward_increments, coupled_sample
    path = forward_path(x0, sigmas, NoiseFamily.FLOW, seed=0)          # sigmas decreasing, last 0
    inc  = backward_increments(path, denoise_src, solver="posterior")    # n source calls, reusable
    y    = coupled_sample(inc, denoise_tgt, mask=None)                   # n target calls
    y2   = coupled_sample(inc, denoise_tgt, coupling=release_schedule(sigmas, 0.3), localize=0.2)
                                                  # variants (docs/ALGORITHMS.md 3.9): same n calls

Options are keyword-only, in one order (``seed``, ``solver``, ``mask``, ``kind``, the method's own,
then ``denoise_both`` and ``callback``), and every function that takes a denoiser runs under
``torch.no_grad()``. The README's "Core API" section lists every function; each docstring gives
the equations, and docs/ALGORITHMS.md derives them.
"""

from .analytic import GaussianMixture
from .baselines import edit_friendly_ddpm, flowedit, ode_invert, ode_sample, sde_sample, sdedit
from .coupled import Increments, backward_increments, coupled_sample, reconstruct, release_schedule, sync_sde_edit
from .cycle import cycle_sde_invert, cycle_sde_sample
from .drag import (
                   FILLS,
                   arrow_transform,
                   copy_paste,
                   copy_paste_noisy,
                   dilate_cells,
                   drag_schedule,
                   path_noise_std,
                   pixels_to_cells,
                   region_move,
                   region_move_noisy,
                   warp_region,
)
from .path import PATH_KINDS, BrownianPath, forward_path, subsample_path
from .schedule import SOLVERS, NoiseFamily, StepCoefficients, step_coefficients
from .sde_drag import drag_iterations, region_plan, sde_drag

__all__ = [
    "NoiseFamily",
    "SOLVERS",
    "PATH_KINDS",
    "StepCoefficients",
    "step_coefficients",
    "BrownianPath",
    "forward_path",
    "subsample_path",
    "Increments",
    "backward_increments",
    "coupled_sample",
    "reconstruct",
    "sync_sde_edit",
    "release_schedule",
    "cycle_sde_invert",
    "cycle_sde_sample",
    "sde_sample",
    "ode_sample",
    "ode_invert",
    "sdedit",
    "flowedit",
    "edit_friendly_ddpm",
    "copy_paste",
    "copy_paste_noisy",
    "drag_schedule",
    "pixels_to_cells",
    "sde_drag",
    "drag_iterations",
    "FILLS",
    "path_noise_std",
    "arrow_transform",
    "warp_region",
    "region_move",
    "region_move_noisy",
    "dilate_cells",
    "region_plan",
    "GaussianMixture",
]
