"""The demo scene model's network and caption tokenizer (pure torch; never imports ComfyUI).

A 1.35 M-parameter text-conditioned **rectified-flow** model of 32x32 RGB scenes in ``[-1, 1]``,
trained by ``benchmarks/scenes/train.py`` on the seeded scene world of
``benchmarks/scenes/scene_data.py`` ("a red circle top left and a blue square bottom right on a
striped grey background"). ``x = (1 - sigma) x0 + sigma eps``; the network predicts the velocity
``v = eps - x0``, so ``D(x, sigma) = x - sigma v`` (ComfyUI's ``CONST`` model sampling, as Flux).

* :class:`TextEncoder`: token and position embeddings and a 2-layer transformer over the caption,
  trained with the denoiser. Its per-token outputs are the keys and values of cross-attention (as
  in SD and Flux); their masked mean (the pooled vector) joins the noise-level embedding.
* :class:`SceneUNet`: a UNet on pixel-unshuffled 16x16 maps (``ch`` channels, plus two coordinate
  channels) and 8x8 maps (``2 ch``), with a cross-attention layer after every residual block. Its
  learned positions fix the image size at 32x32.
* The empty caption is the unconditional prompt (classifier-free guidance, dropout 0.1 in training).

The weights (fp16, 2.7 MB) and their training record are ``weights/scene_flow.*``. The ComfyUI
side (MODEL, CLIP, VAE objects) is ``nodes/demo_bridge.py``; the core-side denoiser is
:mod:`.denoiser`.
"""

from __future__ import annotations

import json
import math
import pathlib

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZE = 32  # the model takes 32x32 images, nothing else (its positions are learned per cell)
WEIGHTS = pathlib.Path(__file__).resolve().parent / "weights" / "scene_flow.safetensors"
RECORD = WEIGHTS.with_suffix(".json")

# The caption vocabulary, in token-id order (benchmarks/scenes/scene_data.py builds captions from it).
WORDS = ("<pad>", "<bos>", "a", "and", "on", "background", "red", "green", "blue", "yellow", "circle", "square",
         "triangle", "top", "bottom", "left", "right", "striped", "noisy", "smooth", "grey", "beige")
VOCAB = {w: i for i, w in enumerate(WORDS)}
MAX_OBJECTS = 3
MAX_TOKENS = 1 + MAX_OBJECTS * 5 + (MAX_OBJECTS - 1) + 5  # <bos> + objects + "and"s + "on a ... background"
EXAMPLE = "a red circle top left and a blue square bottom right on a striped grey background"


def caption_words(text: str) -> list[str]:
    """The words of a caption as the model reads them: lower case; commas and full stops are spaces."""
    return text.lower().replace(",", " ").replace(".", " ").split()


def tokenize(captions: list[str], name: str = "caption") -> torch.Tensor:
    """``(N, MAX_TOKENS)`` int64 token ids: ``<bos>``, the words, ``<pad>``s. ``""`` is the empty prompt.

    A word outside the vocabulary, or a caption longer than the model reads, is a ``ValueError``
    that starts with ``name`` and lists what the model knows.
    """
    out = torch.zeros((len(captions), MAX_TOKENS), dtype=torch.long)
    for i, text in enumerate(captions):
        words = caption_words(text)
        unknown = [w for w in words if w not in VOCAB or w.startswith("<")]
        if unknown:
            raise ValueError(
                f"{name}: the demo scene model does not know the word {unknown[0]!r} (in {text!r}). It knows only: "
                f"{', '.join(WORDS[2:])}. Example: {EXAMPLE!r}; the empty text is the unconditional prompt.")
        if 1 + len(words) > MAX_TOKENS:
            raise ValueError(
                f"{name}: the caption has {len(words)} words; the demo scene model reads at most {MAX_TOKENS - 1} "
                f"(up to {MAX_OBJECTS} objects), e.g. {EXAMPLE!r}. Got {text!r}.")
        out[i, : 1 + len(words)] = torch.tensor([VOCAB["<bos>"]] + [VOCAB[w] for w in words])
    return out


def check_image_size(shape, name: str = "latent") -> None:
    """``ValueError`` naming ``name`` unless ``shape`` is ``(N, 3, 32, 32)``."""
    if len(shape) != 4 or tuple(shape[1:]) != (3, SIZE, SIZE):
        raise ValueError(
            f"{name}: the demo scene model takes {SIZE}x{SIZE} RGB images, a pixel-space latent of shape "
            f"(N, 3, {SIZE}, {SIZE}); got {tuple(shape)}. Make the empty latent with EmptyChromaRadianceLatentImage "
            f"at width {SIZE}, height {SIZE}, and scale an image to {SIZE}x{SIZE} before VAE Encode (the demo VAE is "
            "pixel space).")


# --- network ------------------------------------------------------------------------------------
def timestep_embedding(c: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=c.device) / half)
    args = c.to(torch.float32)[:, None] * freqs[None]
    return torch.cat([args.cos(), args.sin()], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, 2 * cout)
        self.norm2, self.conv2 = nn.GroupNorm(8, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(e)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class TextEncoder(nn.Module):
    """``forward(ids) -> (tokens (N, T, dim), pad (N, T) bool, pooled (N, dim))``."""

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
    """``forward(x, c_noise, ids)`` -> velocity, ``x`` of shape ``(N, 3, 32, 32)``, ``c_noise = 1000 sigma``.

    ``with_text=False`` leaves the text encoder out (ComfyUI runs it as the CLIP); then call
    :meth:`velocity` with its outputs. The state-dict keys are the same either way (``text.*``).
    """

    def __init__(self, ch: int = 64, emb: int = 128, text_dim: int = 64, with_text: bool = True):
        super().__init__()
        self.emb_dim = emb
        self.text = TextEncoder(text_dim) if with_text else None
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
        return self.velocity(x, c_noise, *self.text(ids))

    def velocity(self, x, c_noise, ctx, pad, pooled):
        """The network on encoded text: ``ctx`` (N, T, dim) tokens, ``pad`` (N, T) bool, ``pooled`` (N, dim)."""
        e = F.silu(self.t_mlp(timestep_embedding(c_noise, self.emb_dim)) + self.pool(pooled))
        h = F.pixel_unshuffle(x, 2)
        h1 = self.a1(self.d1(self.inp(torch.cat([h, self.coords.expand(len(x), -1, -1, -1)], 1)), e), ctx, pad)
        h2 = self.a2(self.d2(self.down(h1), e), ctx, pad)
        h = self.m2(self.am(self.m1(h2, e), ctx, pad), e)
        h = self.a3(self.u2(torch.cat([h, h2], 1), e), ctx, pad)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.a4(self.u1(torch.cat([h, h1], 1), e), ctx, pad)
        return F.pixel_shuffle(self.out(h), 2)


def architecture(record: pathlib.Path = RECORD) -> dict:
    """The network's constructor arguments, from the training record."""
    return json.loads(record.read_text())["architecture"]


def load_state(path: pathlib.Path = WEIGHTS) -> dict:
    """The shipped state dict in float32 (stored fp16)."""
    from safetensors.torch import load_file  # ComfyUI provides safetensors

    return {k: v.to(torch.float32) for k, v in load_file(str(path)).items()}


def load_net(path: pathlib.Path = WEIGHTS, record: pathlib.Path = RECORD) -> SceneUNet:
    """The whole network (text encoder included), float32, in eval mode. The global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):  # the random initialisation is overwritten by the weights
        net = SceneUNet(**architecture(record))
    net.load_state_dict(load_state(path))
    return net.eval().requires_grad_(False)
