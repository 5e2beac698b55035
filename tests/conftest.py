import pytest
import torch

from comfyui_coupled_sde.sampling import GaussianMixture, NoiseFamily

# Sigma grids used across the core tests: the flow grid starts at sigma = 1 (pure noise).
FLOW_SIGMAS = torch.linspace(1.0, 0.0, 13, dtype=torch.float64)
VE_SIGMAS = torch.tensor([14.6, 8.0, 4.5, 2.5, 1.4, 0.8, 0.45, 0.25, 0.12, 0.05, 0.0], dtype=torch.float64)
GRIDS = {NoiseFamily.FLOW: FLOW_SIGMAS, NoiseFamily.VE: VE_SIGMAS}


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.fixture(params=[NoiseFamily.FLOW, NoiseFamily.VE], ids=["flow", "ve"])
def family(request):
    return request.param


def grid_for(family, solver="posterior"):
    sig = GRIDS[family]
    # the reference Euler step divides by 1 - sigma: start the flow grid one step below 1
    return sig[1:] if (family is NoiseFamily.FLOW and solver == "euler") else sig


@pytest.fixture
def mixture():
    """Three well-separated classes in 4-D; each class is one Gaussian component."""
    return GaussianMixture([[-2.0] * 4, [2.0] * 4, [0.0, 3.0, 0.0, -3.0]], stds=0.5)
