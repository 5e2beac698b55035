"""Sigma grids shared by the core tests (a plain module: two conftest.py files cannot both be
imported as `conftest`)."""

import torch

from comfyui_coupled_sde.sampling import NoiseFamily

# the flow grid starts at sigma = 1 (pure noise)
FLOW_SIGMAS = torch.linspace(1.0, 0.0, 13, dtype=torch.float64)
VE_SIGMAS = torch.tensor([14.6, 8.0, 4.5, 2.5, 1.4, 0.8, 0.45, 0.25, 0.12, 0.05, 0.0], dtype=torch.float64)
GRIDS = {NoiseFamily.FLOW: FLOW_SIGMAS, NoiseFamily.VE: VE_SIGMAS}


def grid_for(family, solver="posterior"):
    sig = GRIDS[family]
    # the reference Euler step divides by 1 - sigma: start the flow grid one step below 1
    return sig[1:] if (family is NoiseFamily.FLOW and solver == "euler") else sig
