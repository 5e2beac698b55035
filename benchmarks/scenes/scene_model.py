"""A small text-conditioned rectified-flow model of the scene world, as a core denoiser.

``x = (1 - sigma) x0 + sigma eps`` (the Flux family, ``NoiseFamily.FLOW``); the network predicts
the velocity ``v = eps - x0`` and ``D(x, sigma) = x - sigma v``.

* **Text encoder**: token and position embeddings and a 2-layer transformer over the caption
  (``scene_data.tokenize``), trained with the denoiser. Its per-token outputs are the keys and
  values of cross-attention in the denoiser (as in SD and Flux); their masked mean joins the
  noise-level embedding (as Flux's pooled vector does).
* **Denoiser**: a UNet on pixel-unshuffled 16x16 maps (``ch`` channels, plus two coordinate
  channels) and 8x8 maps (``2 ch``), with a cross-attention layer after every residual block.
* The empty caption is the unconditional prompt; captions are dropped with probability 0.1 during
  training, so classifier-free guidance ``D_w = D_empty + w (D_text - D_empty)`` works.

``load()`` returns a :class:`SceneDenoiser`; ``model.bind(captions, cfg)`` is the core's
``denoise(x, sigma) -> x0_hat`` for a batch of prompts and a guidance scale.
"""

from __future__ import annotations

import json
import pathlib
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from scene_data import MAX_TOKENS, SIZE, WORDS, tokenize

from comfyui_coupled_sde.sampling import NoiseFamily, ode_sample, sde_sample

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from bench_common import ResBlock, timestep_embedding  # noqa: E402

WEIGHTS = pathlib.Path(__file__).resolve().parents[1] / "weights" / "scenes"


def sigma_grid(steps: int) -> torch.Tensor:
    """Uniform flow grid from sigma 1 to 0 (``steps + 1`` values)."""
    return torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)


class TextEncoder(nn.Module):
    def __init__(self, dim: int = 64, layers: int = 2, heads: int = 4):
        super().__init__()
        self.tok = nn.Embedding(len(WORDS), dim)
        self.pos = nn.Parameter(torch.zeros(MAX_TOKENS, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, ids: torch.Tensor):
        pad = ids.eq(0)  # <bos> is never padding, so no row is fully masked
        h = self.norm(self.body(self.tok(ids) + self.pos, src_key_padding_mask=pad))
        keep = (~pad).to(h.dtype)[..., None]
        pooled = (h * keep).sum(1) / keep.sum(1)
        return h, pad, pooled


class CrossAttention(nn.Module):
    """Image features attend to the caption's tokens (pre-norm, residual, learned positions)."""

    def __init__(self, ch: int, ctx: int, side: int, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(8, ch)
        self.pos = nn.Parameter(torch.zeros(1, ch, side, side))
        self.q, self.kv = nn.Linear(ch, ch), nn.Linear(ctx, 2 * ch)
        self.out = nn.Linear(ch, ch)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x, ctx, pad):
        n, c, h, w = x.shape
        q = self.q((self.norm(x) + self.pos).flatten(2).transpose(1, 2))
        k, v = self.kv(ctx).chunk(2, dim=-1)
        split = lambda t: t.reshape(n, t.shape[1], self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
        a = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=~pad[:, None, None, :])
        a = self.out(a.transpose(1, 2).reshape(n, h * w, c))
        return x + a.transpose(1, 2).reshape(n, c, h, w)


class SceneUNet(nn.Module):
    """``forward(x, c_noise, ids)`` -> velocity, ``x`` of shape ``(N, 3, 32, 32)``."""

    def __init__(self, ch: int = 64, emb: int = 128, text_dim: int = 64):
        super().__init__()
        self.emb_dim = emb
        self.text = TextEncoder(text_dim)
        self.t_mlp = nn.Sequential(nn.Linear(emb, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.pool = nn.Linear(text_dim, emb)
        c1, c2, s1, s2 = ch, 2 * ch, SIZE // 2, SIZE // 4
        self.inp = nn.Conv2d(12 + 2, c1, 3, padding=1)
        self.d1, self.a1 = ResBlock(c1, c1, emb), CrossAttention(c1, text_dim, s1)
        self.down = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.d2, self.a2 = ResBlock(c2, c2, emb), CrossAttention(c2, text_dim, s2)
        self.m1, self.am = ResBlock(c2, c2, emb), CrossAttention(c2, text_dim, s2)
        self.m2 = ResBlock(c2, c2, emb)
        self.u2, self.a3 = ResBlock(2 * c2, c2, emb), CrossAttention(c2, text_dim, s2)
        self.u1, self.a4 = ResBlock(c2 + c1, c1, emb), CrossAttention(c1, text_dim, s1)
        self.out = nn.Sequential(nn.GroupNorm(8, c1), nn.SiLU(), nn.Conv2d(c1, 12, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)
        lin = torch.linspace(-1.0, 1.0, s1)
        self.register_buffer("coords", torch.stack(torch.meshgrid(lin, lin, indexing="ij"))[None], persistent=False)

    def forward(self, x, c_noise, ids):
        ctx, pad, pooled = self.text(ids)
        e = F.silu(self.t_mlp(timestep_embedding(c_noise, self.emb_dim)) + self.pool(pooled))
        h = F.pixel_unshuffle(x, 2)
        h1 = self.a1(self.d1(self.inp(torch.cat([h, self.coords.expand(len(x), -1, -1, -1)], 1)), e), ctx, pad)
        h2 = self.a2(self.d2(self.down(h1), e), ctx, pad)
        h = self.m2(self.am(self.m1(h2, e), ctx, pad), e)
        h = self.a3(self.u2(torch.cat([h, h2], 1), e), ctx, pad)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.a4(self.u1(torch.cat([h, h1], 1), e), ctx, pad)
        return F.pixel_shuffle(self.out(h), 2)


def training_loss(net: SceneUNet, x0: torch.Tensor, ids: torch.Tensor, gen: torch.Generator):
    """Velocity MSE at a logit-normal noise level (SD3's choice; the middle of the schedule matters most)."""
    n = len(x0)
    eps = torch.randn(x0.shape, generator=gen)
    sigma = torch.sigmoid(torch.randn(n, generator=gen, dtype=torch.float64))
    s = sigma.float()[:, None, None, None]
    pred = net((1 - s) * x0 + s * eps, 1000.0 * sigma, ids)
    return F.mse_loss(pred, eps - x0)


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


def load(weights_dir: pathlib.Path = WEIGHTS) -> SceneDenoiser:
    from safetensors.torch import load_file

    meta = json.loads((weights_dir / "training.json").read_text())
    net = SceneUNet(**meta["architecture"])
    state = load_file(str(weights_dir / "flow.safetensors"))
    net.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
    return SceneDenoiser(net)


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
