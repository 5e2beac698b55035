"""The demo scene model as the core's denoiser: ``denoise(x, sigma) -> x0_hat`` (no ComfyUI).

``load()`` returns a :class:`SceneDenoiser`; ``model.bind(captions, cfg)`` is the core's
``denoise`` for a batch of prompts and a guidance scale. The main-job command
(``python3 -m comfyui_coupled_sde.demo``) and the benchmarks run the core through it; inside
ComfyUI the same network runs as a MODEL / CLIP pair (``nodes/demo_bridge.py``).
"""

from __future__ import annotations

import pathlib

import torch

from ..sampling import NoiseFamily, ode_sample, sde_sample
from .scene_net import RECORD, SIZE, WEIGHTS, SceneUNet, load_net, tokenize


def sigma_grid(steps: int) -> torch.Tensor:
    """Uniform flow grid from sigma 1 to 0 (``steps + 1`` values)."""
    return torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)


class SceneDenoiser:
    """``denoiser(x, sigma, captions, cfg=1.0) -> x0_hat`` (flow coordinates, ``(N, 3, 32, 32)``).

    ``captions``: one string or ``N`` strings (``""``: unconditional). A call with ``cfg != 1``
    batches the caption and the empty prompt into one network evaluation of twice the batch.
    """

    family = NoiseFamily.FLOW

    def __init__(self, net: SceneUNet):
        self.net = net.eval()
        self.net_evals = 0  # images pushed through the network (a guided call counts twice)
        self._ids = {}

    def ids(self, captions, n):
        captions = [captions] * n if isinstance(captions, str) else list(captions)
        key = tuple(captions)
        if key not in self._ids:
            self._ids = {key: tokenize(captions)} if len(self._ids) > 64 else {**self._ids, key: tokenize(captions)}
        return self._ids[key]

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, sigma: float, captions, cfg: float = 1.0) -> torch.Tensor:
        n = len(x)
        ids = self.ids(captions, n)
        if cfg != 1.0:
            x2, ids2 = torch.cat([x, x]), torch.cat([ids, self.ids("", n)])
        else:
            x2, ids2 = x, ids
        xf = x2.to(torch.float32)
        c = torch.full((len(x2),), 1000.0 * float(sigma), dtype=torch.float64)
        d = xf - float(sigma) * self.net(xf, c, ids2)
        self.net_evals += len(x2)
        if cfg != 1.0:
            d_cond, d_null = d.chunk(2)
            d = d_null + cfg * (d_cond - d_null)
        return d.to(x.dtype)

    def bind(self, captions, cfg: float = 1.0):
        """The core's ``denoise(x, sigma)`` for fixed prompts and guidance."""
        return lambda x, sigma: self(x, sigma, captions, cfg)

    @staticmethod
    def sigmas(steps: int) -> torch.Tensor:
        return sigma_grid(steps)


def load(weights: pathlib.Path = WEIGHTS, record: pathlib.Path = RECORD) -> SceneDenoiser:
    """The shipped model as a float32 core denoiser."""
    return SceneDenoiser(load_net(weights, record))


def generate(model: SceneDenoiser, captions: list[str], steps: int = 28, cfg: float = 1.0, seed: int = 0,
             solver: str = "posterior") -> torch.Tensor:
    """Samples for ``captions`` from pure noise with the core's samplers (posterior / euler / ode)."""
    sig = model.sigmas(steps)
    if solver == "euler":
        sig = sig[1:]
    gen = torch.Generator().manual_seed(seed)
    x = float(sig[0]) * torch.randn((len(captions), 3, SIZE, SIZE), generator=gen)
    denoise = model.bind(captions, cfg)
    if solver == "ode":
        return ode_sample(x, sig, model.family, denoise)
    return sde_sample(x, sig, model.family, denoise, seed=seed + 1, solver=solver)
