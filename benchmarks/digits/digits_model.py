"""Two small class-conditional diffusion models of the 16x16 digits, as core denoisers.

* ``flow``: rectified flow, velocity prediction. ``x = (1 - sigma) x0 + sigma eps``, the net
  predicts ``v = eps - x0`` from ``(x, sigma)``; ``D = x - sigma v``. Family ``FLOW``.
* ``vp``: epsilon prediction on Stable Diffusion 1.5's discrete VP schedule (scaled-linear betas
  0.00085..0.012, 1000 steps; sigma from 0.029 to 14.6). The core sees it in VE coordinates
  ``x = x0 + sigma eps``; the net gets ``x / sqrt(1 + sigma^2)`` (the VP latent) and predicts
  ``eps``; ``D = x - sigma eps``. Family ``VE``.

Labels 0..9 are the "prompts"; label 10 (``NULL_LABEL``) is the empty prompt of classifier-free
guidance, ``D_w = D_null + w (D_label - D_null)`` (one batched network call for both halves).

``load(name)`` returns a :class:`DigitDenoiser` from ``benchmarks/weights/<name>.safetensors``;
``denoiser(x, sigma, label, cfg)`` is the core's ``denoise(x, sigma) -> x0_hat`` once the label
and guidance are bound (:meth:`DigitDenoiser.bind`).
"""

from __future__ import annotations

import json
import math
import pathlib
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from digits_data import N_CLASSES, NULL_LABEL

from comfyui_coupled_sde.sampling import NoiseFamily, ode_sample, sde_sample

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from bench_common import ResBlock, timestep_embedding  # noqa: E402

WEIGHTS = pathlib.Path(__file__).resolve().parents[1] / "weights"
MODELS = ("flow", "vp")

# --- Stable Diffusion 1.5's VP schedule, as VE sigmas --------------------------------------------
_BETAS = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
_ALPHAS_CUMPROD = torch.cumprod(1.0 - _BETAS, 0)
VP_SIGMAS = ((1 - _ALPHAS_CUMPROD) / _ALPHAS_CUMPROD).sqrt()  # sigma(t), t = 0..999
VP_SIGMA_MIN, VP_SIGMA_MAX = float(VP_SIGMAS[0]), float(VP_SIGMAS[-1])


def vp_sigma(t: torch.Tensor) -> torch.Tensor:
    """sigma at continuous timestep ``t`` in [0, 999] (log-linear between the discrete ones)."""
    t = t.to(torch.float64).clamp(0, 999)
    lo = t.floor().long().clamp(max=998)
    w = t - lo
    log_s = VP_SIGMAS.log()
    return (log_s[lo] * (1 - w) + log_s[lo + 1] * w).exp()


def sigma_grid(name: str, steps: int) -> torch.Tensor:
    """The ``steps``-step sampling grid (``steps + 1`` sigmas, last 0) of model ``name``.

    flow: uniform in sigma from 1 to 0 (shift 1). vp: timesteps ``999 (1 - j / steps)``,
    j = 0 .. steps - 1 (diffusers' "trailing" spacing), then sigma 0. Either way index ``2 k`` of
    the ``2 steps`` grid is the same sigma as index ``k`` of the ``steps`` grid.
    """
    if name == "flow":
        return torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    t = 999.0 * (1.0 - torch.arange(steps, dtype=torch.float64) / steps)
    return torch.cat([vp_sigma(t), torch.zeros(1, dtype=torch.float64)])


def noise_feature(name: str, sigma: torch.Tensor) -> torch.Tensor:
    """The scalar the net is conditioned on, in [0, 1000]."""
    if name == "flow":
        return 1000.0 * sigma
    lo, hi = math.log(VP_SIGMA_MIN), math.log(VP_SIGMA_MAX)
    return 1000.0 * (sigma.clamp_min(VP_SIGMA_MIN).log() - lo) / (hi - lo)


# --- the network: a small UNet on 8x8 and 4x4 feature maps --------------------------------------------
class UNet(nn.Module):
    """Class- and noise-conditional UNet; ``forward(x, c_noise, label)`` -> one channel.

    The digits are 8x8 scans upsampled to 16x16, so the net works on 8x8 (pixel-unshuffled,
    ``ch`` channels) and 4x4 (``2 ch``) feature maps and pixel-shuffles its output back.
    """

    def __init__(self, ch: int = 32, emb: int = 128):
        super().__init__()
        self.emb_dim = emb
        self.t_mlp = nn.Sequential(nn.Linear(emb, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label_emb = nn.Embedding(N_CLASSES + 1, emb)
        c1, c2 = ch, 2 * ch
        self.inp = nn.Conv2d(4, c1, 3, padding=1)
        self.d1 = ResBlock(c1, c1, emb)
        self.down = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.d2 = ResBlock(c2, c2, emb)
        self.mid1, self.mid2 = ResBlock(c2, c2, emb), ResBlock(c2, c2, emb)
        self.u2 = ResBlock(2 * c2, c2, emb)
        self.u1 = ResBlock(c2 + c1, c1, emb)
        self.out = nn.Sequential(nn.GroupNorm(8, c1), nn.SiLU(), nn.Conv2d(c1, 4, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x, c_noise, label):
        e = F.silu(self.t_mlp(timestep_embedding(c_noise, self.emb_dim)) + self.label_emb(label))
        h1 = self.d1(self.inp(F.pixel_unshuffle(x, 2)), e)
        h2 = self.d2(self.down(h1), e)
        h = self.u2(torch.cat([self.mid2(self.mid1(h2, e), e), h2], 1), e)
        h = self.u1(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h1], 1), e)
        return F.pixel_shuffle(self.out(h), 2)


# --- training target and the denoiser ------------------------------------------------------------
def training_loss(name: str, net: UNet, x0: torch.Tensor, label: torch.Tensor, gen: torch.Generator):
    """One minibatch's MSE: velocity (flow) or epsilon (vp) at a random noise level."""
    n = len(x0)
    eps = torch.randn(x0.shape, generator=gen)
    if name == "flow":
        sigma = torch.rand(n, generator=gen, dtype=torch.float64)
        s = sigma.float()[:, None, None, None]
        net_in, target = (1 - s) * x0 + s * eps, eps - x0
    else:
        sigma = vp_sigma(torch.rand(n, generator=gen, dtype=torch.float64) * 999)
        s = sigma.float()[:, None, None, None]
        net_in, target = (x0 + s * eps) / (1 + s * s).sqrt(), eps
    pred = net(net_in, noise_feature(name, sigma), label)
    return F.mse_loss(pred, target)


class DigitDenoiser:
    """``denoiser(x, sigma, label, cfg=1.0) -> x0_hat`` in the core's conventions.

    ``x``: ``(N, 1, 16, 16)`` in native coordinates of ``family``; ``sigma``: float;
    ``label``: int or ``(N,)`` labels (``NULL_LABEL`` = unconditional); ``cfg``: guidance scale
    (1 = plain conditional, one network evaluation; otherwise conditional and null are batched
    into one evaluation of twice the batch).
    """

    def __init__(self, name: str, net: UNet):
        self.name, self.net = name, net.eval()
        self.family = NoiseFamily.FLOW if name == "flow" else NoiseFamily.VE
        self.net_evals = 0  # images pushed through the network (a CFG call counts twice)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, sigma: float, label, cfg: float = 1.0) -> torch.Tensor:
        n = len(x)
        label = torch.as_tensor(label, dtype=torch.long).expand(n)
        if cfg != 1.0:
            x2, label2 = torch.cat([x, x]), torch.cat([label, torch.full_like(label, NULL_LABEL)])
        else:
            x2, label2 = x, label
        d = self._denoise(x2, float(sigma), label2)
        self.net_evals += len(x2)
        if cfg != 1.0:
            d_cond, d_null = d.chunk(2)
            d = d_null + cfg * (d_cond - d_null)
        return d.to(x.dtype)

    def _denoise(self, x, sigma, label):
        xf = x.to(torch.float32)
        c = noise_feature(self.name, torch.full((len(x),), sigma, dtype=torch.float64))
        if self.name == "flow":
            return xf - sigma * self.net(xf, c, label)
        return xf - sigma * self.net(xf / math.sqrt(1 + sigma * sigma), c, label)

    def bind(self, label, cfg: float = 1.0):
        """The core's ``denoise(x, sigma)`` for fixed labels and guidance."""
        return lambda x, sigma: self(x, sigma, label, cfg)

    def sigmas(self, steps: int) -> torch.Tensor:
        return sigma_grid(self.name, steps)


def load(name: str, weights_dir: pathlib.Path = WEIGHTS) -> DigitDenoiser:
    """The shipped model ``name`` ("flow" or "vp") as a :class:`DigitDenoiser`."""
    from safetensors.torch import load_file

    meta = json.loads((weights_dir / "training.json").read_text())
    net = UNet(**meta["architecture"])
    state = load_file(str(weights_dir / f"{name}.safetensors"))
    net.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
    return DigitDenoiser(name, net)


def generate(model: DigitDenoiser, labels: torch.Tensor, steps: int = 20, cfg: float = 1.0, seed: int = 0,
             solver: str = "posterior") -> torch.Tensor:
    """Samples of ``labels`` from pure noise with the core's samplers (``solver``: posterior / euler / ode)."""
    sig = model.sigmas(steps)
    if solver == "euler" and model.family is NoiseFamily.FLOW:
        sig = sig[1:]  # the reference Euler step is singular at a flow sigma of 1
    gen = torch.Generator().manual_seed(seed)
    x = float(sig[0]) * torch.randn((len(labels), 1, 16, 16), generator=gen)
    denoise = model.bind(labels, cfg)
    if solver == "ode":
        return ode_sample(x, sig, model.family, denoise)
    return sde_sample(x, sig, model.family, denoise, seed=seed + 1, solver=solver)
