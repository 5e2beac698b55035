"""The demo scene model as ComfyUI objects: a MODEL, a CLIP and a VAE that stock nodes accept.

The one other module (besides ``bridge.py``) that knows ComfyUI internals, and only to build
ComfyUI's own model objects around the pack's demo network (``demo/scene_net.py``):

* **MODEL**: a ``comfy.model_base.BaseModel`` of type ``FLOW`` (``CONST`` model sampling, shift 1,
  multiplier 1000: ``t = 1000 sigma``, exactly what the network was trained on), wrapped in a
  ModelPatcher and loaded by ComfyUI's model management. Sampling goes through ``model_sampling``,
  the guider, ``calc_cond_batch``, cfg and masks exactly as Flux does; LoRA patches apply to its
  weights like any other. Latent format: ``ChromaRadiance`` (3 channels, pixel space, identity).
* **CLIP**: a ``comfy.sd.CLIP`` whose tokenizer reads the demo vocabulary (an unknown word is an
  error that names it and lists the vocabulary) and whose text encoder is the model's own
  transformer. Conditioning: ``cond`` (1, 23, 64) tokens, ``pooled_output`` (1, 64) and an
  ``attention_mask`` (1, 23), all fixed-length so cond and uncond always batch.
* **VAE**: ComfyUI's pixel-space VAE (what ``VAELoader`` gives for ``pixel_space``): the model
  works on 32x32 RGB pixels in [-1, 1].
"""

from __future__ import annotations

import types

import comfy.conds
import comfy.latent_formats
import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.sd
import comfy.supported_models_base
import torch

from ..demo.scene_net import MAX_TOKENS, SceneUNet, TextEncoder, architecture, check_image_size, load_state, tokenize

TOKENS_KEY = "demo_scene"  # the tokenizer's output key (one "encoder", as SD1's "l")


# --- MODEL ----------------------------------------------------------------------------------------
class DemoSceneDiffusion(SceneUNet):
    """The denoising network as ComfyUI's ``diffusion_model``: ``forward(x, t, context, y, attention_mask)``.

    Same parameter names as the shipped weights without ``text.*`` (the text encoder is the CLIP).
    """

    def __init__(self, ch: int, emb: int, text_dim: int, dtype=None, device=None, operations=None, **_):
        super().__init__(ch=ch, emb=emb, text_dim=text_dim, with_text=False)
        self.text_dim = text_dim
        self.dtype = torch.float32  # the network runs in float32 whatever the device (1.35 M params)
        self.to(device=device)

    def forward(self, x, timesteps, context=None, y=None, attention_mask=None, control=None, transformer_options=None,
                **kwargs):
        check_image_size(x.shape, "latent")
        if context is None or y is None or attention_mask is None or context.shape[-1] != self.text_dim:
            got = "nothing" if context is None else f"tokens of width {context.shape[-1]}"
            raise ValueError(
                "conditioning: the demo scene model takes conditioning from its own CLIP (Load Demo Scene Model -> "
                f"CLIP Text Encode), {MAX_TOKENS} tokens of width {self.text_dim} with a pooled vector and an "
                f"attention mask; got {got}. Conditioning from another text encoder does not fit it.")
        pad = attention_mask.to(x.device) < 0.5
        return self.velocity(x, timesteps, context, pad, y)


class DemoSceneModel(comfy.model_base.BaseModel):
    def __init__(self, model_config, device=None):
        super().__init__(model_config, comfy.model_base.ModelType.FLOW, device=device, unet_model=DemoSceneDiffusion)

    def encode_adm(self, **kwargs):
        return kwargs.get("pooled_output", None)

    def extra_conds(self, **kwargs):
        out = super().extra_conds(**kwargs)
        cross_attn = kwargs.get("cross_attn", None)
        if cross_attn is not None:  # fixed length: cond and uncond always concatenate
            out["c_crossattn"] = comfy.conds.CONDRegular(cross_attn)
        mask = kwargs.get("attention_mask", None)
        if mask is not None:
            out["attention_mask"] = comfy.conds.CONDRegular(mask)
        return out


class DemoSceneConfig(comfy.supported_models_base.BASE):
    unet_config = {}
    unet_extra_config = {}
    sampling_settings = {"shift": 1.0, "multiplier": 1000}
    latent_format = comfy.latent_formats.ChromaRadiance
    memory_usage_factor = 0.05
    supported_inference_dtypes = [torch.float32]

    def get_model(self, state_dict, prefix="", device=None):
        return DemoSceneModel(self, device=device)


def _patcher_class():
    # Current core names the patcher the stock loaders use CoreModelPatcher; older core has ModelPatcher only.
    return getattr(comfy.model_patcher, "CoreModelPatcher", comfy.model_patcher.ModelPatcher)


def load_model(state: dict):
    """A ModelPatcher around :class:`DemoSceneModel` with the shipped weights."""
    config = DemoSceneConfig(dict(architecture()))
    config.set_inference_dtype(torch.float32, None)
    load_device = comfy.model_management.get_torch_device()
    offload_device = comfy.model_management.unet_offload_device()
    with torch.random.fork_rng(devices=[]):  # random init, overwritten below: leave the global RNG alone
        model = config.get_model({}, device=offload_device)
    unet = {k: v for k, v in state.items() if not k.startswith("text.")}
    model.diffusion_model.load_state_dict(unet, strict=True)
    model.diffusion_model.requires_grad_(False).eval()
    return _patcher_class()(model, load_device=load_device, offload_device=offload_device)


# --- CLIP -----------------------------------------------------------------------------------------
class DemoSceneTokenizer:
    """``tokenize_with_weights(text)`` -> ``{"demo_scene": [[(id, 1.0), ...]]}`` over the demo vocabulary."""

    def __init__(self, embedding_directory=None, tokenizer_data=None):
        pass

    def tokenize_with_weights(self, text: str, return_word_ids=False, **kwargs):
        ids = tokenize([text], name="text")[0].tolist()
        if return_word_ids:
            return {TOKENS_KEY: [[(t, 1.0, i) for i, t in enumerate(ids)]]}
        return {TOKENS_KEY: [[(t, 1.0) for t in ids]]}

    def untokenize(self, token_weight_pair):
        return token_weight_pair

    def state_dict(self):
        return {}


class DemoSceneTextEncoder(torch.nn.Module):
    """The model's caption transformer as a ComfyUI text encoder (``encode_token_weights``)."""

    disable_offload = True  # 1.35 M parameters: a plain ModelPatcher, never dynamic offloading

    def __init__(self, text_dim: int = 64, device=None, dtype=None, model_options=None, **_):
        super().__init__()
        self.text = TextEncoder(text_dim)
        self.text.to(device=device)
        self.dtypes = {torch.float32}
        self.execution_device = None

    def reset_clip_options(self):
        self.execution_device = None

    def set_clip_options(self, options):
        self.execution_device = options.get("execution_device", self.execution_device)

    def encode_token_weights(self, token_weight_pairs):
        rows = token_weight_pairs[TOKENS_KEY]
        if any(w != 1.0 for row in rows for _, w, *_ in row):
            raise ValueError("text: the demo scene model has no prompt weighting; write the caption without (word:1.2)")
        device = self.text.tok.weight.device
        ids = torch.tensor([[t for t, *_ in row] for row in rows[:1]], dtype=torch.long, device=device)
        tokens, pad, pooled = self.text(ids)
        out = comfy.model_management.intermediate_device()
        return tokens.float().to(out), pooled.float().to(out), {"attention_mask": (~pad).float().to(out)}

    def load_sd(self, sd):
        return self.load_state_dict(sd, strict=False)


def load_clip(state: dict):
    """A ``comfy.sd.CLIP`` around :class:`DemoSceneTextEncoder` with the shipped weights."""
    target = types.SimpleNamespace(params={"text_dim": architecture()["text_dim"]}, clip=DemoSceneTextEncoder,
                                   tokenizer=DemoSceneTokenizer)
    text = {k: v for k, v in state.items() if k.startswith("text.")}
    with torch.random.fork_rng(devices=[]):
        clip = comfy.sd.CLIP(target=target, parameters=sum(v.numel() for v in text.values()),
                             model_options={"dtype": torch.float32})
    missing, unexpected = clip.cond_stage_model.load_state_dict(text, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"demo scene model: text-encoder weights do not fit ({missing}, {unexpected})")
    clip.cond_stage_model.requires_grad_(False).eval()
    return clip


# --- VAE ------------------------------------------------------------------------------------------
def load_vae():
    """ComfyUI's pixel-space VAE, as ``VAELoader`` builds it for ``pixel_space``."""
    return comfy.sd.VAE(sd={"pixel_space_vae": torch.tensor(1.0)})


def load_demo():
    """``(MODEL, CLIP, VAE)`` of the shipped demo scene model."""
    state = load_state()
    return load_model(state), load_clip(state), load_vae()
