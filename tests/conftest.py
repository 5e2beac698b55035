import pytest
import torch

from comfyui_coupled_sde.sampling import GaussianMixture, NoiseFamily


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.fixture(params=[NoiseFamily.FLOW, NoiseFamily.VE], ids=["flow", "ve"])
def family(request):
    return request.param


@pytest.fixture
def mixture():
    """Three well-separated classes in 4-D; each class is one Gaussian component."""
    return GaussianMixture([[-2.0] * 4, [2.0] * 4, [0.0, 3.0, 0.0, -3.0]], stds=0.5)
