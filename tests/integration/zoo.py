"""Tiny real-architecture models of five more families, next to conftest's Flux and SD1.5, and their
conditioning tensors.

=============  ===========================  ====================  ============  =====================
model          ComfyUI class (detected)     sampling              latent        how it is made
=============  ===========================  ====================  ============  =====================
SDXL           SDXL                         EPS (VE)              (B,4,H,W)     file -> UNETLoader
SD2.x-v        SD20                         V_PREDICTION (VE)     (B,4,H,W)     file -> UNETLoader
SD3.5          SD3 (qk RMS norm, MMDiT-X)   CONST (flow)          (B,16,H,W)    file -> UNETLoader
Wan 2.1 T2V    WAN21_T2V                    CONST (flow)          (B,16,T,H,W)  file -> UNETLoader
Qwen-Image     QwenImage                    CONST (flow)          (B,16,1,H,W)  ComfyUI's classes (*)
=============  ===========================  ====================  ============  =====================

The four files are state dicts with ComfyUI's own key names, written by instantiating ComfyUI's
model class with the config below and filling it with seeded random weights (ComfyUI's ops skip
weight initialisation). The stock ``UNETLoader`` then runs ComfyUI's own state-dict detection
(``comfy.model_detection``) on both supported ComfyUI versions; :func:`load_unet` asserts the
detected class and that every weight of the file landed in the loaded model unchanged (so the
detected architecture is exactly the one written). Each config is the smallest detection
accepts for its class, as read in ``comfy/model_detection.py`` and ``comfy/supported_models.py``
of 0.3.64 and 0.33:

* SDXL: ``SDXL.unet_config`` pins ``model_channels`` 320, ``context_dim`` 2048, ``adm_in_channels``
  2816, linear transformers and the per-input-block ``transformer_depth`` [0, 0, 2, 2, 10, 10]
  (24 transformer blocks). ``channel_mult``, the output blocks' transformer depths and the middle
  block are read from the keys, so they are [1, 1, 1], none and none (``transformer_depth_middle``
  -2, as KOALA uses): 132 M parameters, most of them in the 20 transformer blocks of the lowest
  resolution (2x2 tokens at the tests' 8x8 latents).
* SD2.x-v: ``SD20`` pins ``model_channels`` 320 and ``context_dim`` 1024; ``SD20.model_type`` says
  V_PREDICTION when the population std of ``output_blocks.11.1.transformer_blocks.0.norm1.bias``
  exceeds 0.09, so the UNet needs 12 output blocks (``num_res_blocks`` [2, 2, 2, 2]) with a
  transformer in the last one, and that bias is drawn with std 0.2 (detection needs one input
  transformer too, for ``context_dim``): 72 M parameters. (An SDXL file with a ``v_pred`` key is
  V_PREDICTION as well, but costs the SDXL's 132 M.)
* SD3.5: the MMDiT's width is read as ``64 * depth`` with ``depth`` heads, so depth 2 (hidden 128,
  2 joint blocks), with SD3.5's features: RMS q/k norm (3.5 Large and Medium) and an MMDiT-X
  dual-attention block 0 (3.5 Medium); ComfyUI runs SD3 and SD3.5 with one class, ``SD3``.
  ``pos_embed`` of 16x16 patches (latents up to 32x32): 2 M parameters.
* Wan 2.1 T2V: ``dim`` is read from ``head.modulation`` with ``dim // 128`` heads, ``ffn_dim`` and
  the block count from the keys: dim 128, 1 head, ffn 256, 1 block; the text embedder keeps
  Wan's 4096-wide input: 0.9 M parameters.
* (*) Qwen-Image: detection reads only ``in_channels`` and the block count; the width is the class
  default (24 heads x 128 = 3072, ``joint_attention_dim`` 3584), so the smallest loadable file is
  one 3072-wide block: 380 M parameters, 0.6-0.9 s a call at a 16x16 latent on one CPU thread
  (1.5 GB in float32, ~15 s to write and load), too slow for every check. So, as conftest's
  ``tiny_flux``, the model of the checks is built from ComfyUI's own ``supported_models.QwenImage``
  / ``model_base.QwenImage`` with a small config (1 head of 128, 1 block, the real 3584-wide text
  input): 1.2 M parameters. The loader path is still covered once by :func:`qwen_image_stock`
  (that one-block 3072-wide file through UNETLoader, one identity and one target edit).

Nothing of ComfyUI is copied here: only its classes are instantiated and its loaders called.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from comfy_env import build_model

_UNET_COMMON = dict(use_checkpoint=False, image_size=32, use_spatial_transformer=True, legacy=False, in_channels=4,
                    out_channels=4, model_channels=320, use_linear_in_transformer=True,
                    use_temporal_resblock=False, use_temporal_attention=False)

SDXL_UNET = dict(_UNET_COMMON, num_classes="sequential", adm_in_channels=2816, context_dim=2048,
                 num_res_blocks=[2, 2, 2], channel_mult=[1, 1, 1], transformer_depth=[0, 0, 2, 2, 10, 10],
                 transformer_depth_output=[0] * 9, transformer_depth_middle=-2)

# transformer_depth_output is popped from its end: its first entry is output block 11's
SD2V_UNET = dict(_UNET_COMMON, adm_in_channels=None, context_dim=1024, num_res_blocks=[2, 2, 2, 2],
                 channel_mult=[1, 1, 1, 1], transformer_depth=[1] + [0] * 7,
                 transformer_depth_output=[1] + [0] * 11, transformer_depth_middle=-2)
SD2V_KEY = "output_blocks.11.1.transformer_blocks.0.norm1.bias"  # SD20.model_type's V_PREDICTION probe

SD35_MMDIT = dict(in_channels=16, out_channels=16, patch_size=2, depth=2, input_size=None, adm_in_channels=2048,
                  context_embedder_config={"target": "torch.nn.Linear",
                                           "params": {"in_features": 4096, "out_features": 128}},
                  num_patches=16 * 16, pos_embed_max_size=16, qk_norm="rms", pos_embed_scaling_factor=None,
                  x_block_self_attn_layers=[0])

WAN21_T2V = dict(image_model="wan2.1", model_type="t2v", in_dim=16, out_dim=16, dim=128, num_heads=1, ffn_dim=256,
                 num_layers=1, patch_size=(1, 2, 2), freq_dim=256, window_size=(-1, -1), qk_norm=True,
                 cross_attn_norm=True, eps=1e-6)

QWEN_IMAGE = dict(image_model="qwen_image", in_channels=64, out_channels=16, patch_size=2, num_layers=1,
                  attention_head_dim=128, num_attention_heads=1, joint_attention_dim=3584,
                  axes_dims_rope=(16, 56, 56))


def tiny_qwen_image(comfy, **overrides) -> dict:
    """QWEN_IMAGE (with ``overrides``), keeping only the fields this ComfyUI's
    ``QwenImageTransformer2DModel`` takes (every field used exists in 0.3.64 and 0.33; 0.3.64's
    extra ``guidance_embeds`` and 0.33's ``default_ref_method`` / ``use_additional_t_cond`` keep
    their defaults)."""
    from comfy.ldm.qwen_image.model import QwenImageTransformer2DModel

    cfg = dict(QWEN_IMAGE, **overrides)
    accepted = inspect.signature(QwenImageTransformer2DModel.__init__).parameters
    missing = [k for k in cfg if k not in accepted]
    assert not missing, f"this ComfyUI's QwenImageTransformer2DModel has no {missing}"
    return cfg


def _pool_fill_(module, seed: int, scale: float):
    """Seeded weights for a big module, fast: every parameter is a window of one shared random pool of
    a prime length (drawing hundreds of millions of normals takes longer than the whole test)."""
    g = torch.Generator().manual_seed(seed)
    pool = (torch.randn(1_000_003, generator=g) * scale).to(next(module.parameters()).dtype)
    with torch.no_grad():
        for p in module.parameters():
            n = p.numel()
            start = int(torch.randint(0, pool.numel(), (1,), generator=g))
            reps = -(-(start + n) // pool.numel())
            p.copy_(pool.repeat(reps)[start:start + n].view(p.shape))
    return module


def _state_dict(comfy, config_cls, unet_config: dict, seed: int, scale: float, pool_dtype=None) -> dict:
    """The diffusion model's state dict (ComfyUI's key names) with seeded weights; buffers that
    the model leaves uninitialised (MMDiT's ``pos_embed``) get their real values. With
    ``pool_dtype``: built directly in that dtype and filled by :func:`_pool_fill_` (big models)."""
    if pool_dtype is not None:  # build_model's steps, in the file's dtype, with the fast fill
        cfg = config_cls(dict(unet_config))
        cfg.set_inference_dtype(pool_dtype, None)
        net = _pool_fill_(cfg.get_model({}, "", device=None).diffusion_model, seed, scale)
    else:
        net = build_model(comfy, config_cls, unet_config, seed=seed, scale=scale).model.diffusion_model
    sd = dict(net.state_dict())  # the module's own tensors (no copy: it is dropped here)
    params = {k for k, _ in net.named_parameters()}
    for k in [k for k in sd if k not in params and sd[k].is_floating_point()]:
        if k == "pos_embed":
            from comfy.ldm.modules.diffusionmodules.mmdit import get_2d_sincos_pos_embed

            n = unet_config["pos_embed_max_size"]
            sd[k] = torch.from_numpy(get_2d_sincos_pos_embed(sd[k].shape[-1], n)).float()[None].contiguous()
        else:
            raise AssertionError(f"uninitialised buffer {k} in {config_cls.__name__}: give it a value here")
    return sd


def write_unet(comfy, model_dir: Path, config_cls, unet_config: dict, name: str, seed: int, scale: float = 0.02,
               edit: Callable[[dict], None] | None = None, dtype=torch.float16, pool: bool = False) -> str:
    """Write a diffusion-model safetensors file (folder ``diffusion_models``); returns its name."""
    from safetensors.torch import save_file

    sd = _state_dict(comfy, config_cls, unet_config, seed, scale, pool_dtype=dtype if pool else None)
    if edit is not None:
        edit(sd)
    save_file({k: v.to(dtype).contiguous() for k, v in sd.items()}, str(model_dir / "diffusion_models" / name))
    return name


def load_unet(comfy, model_dir: Path, name: str, expected: str):
    """The file through the stock UNETLoader; asserts ComfyUI detected ``expected`` and loaded every
    weight of the file unchanged (no key missing, unexpected or reshaped)."""
    from safetensors import safe_open

    (model,) = comfy.stock("UNETLoader", "load_unet", name, "default")
    got = type(model.model.model_config).__name__
    assert got == expected, f"{name}: ComfyUI detected {got}, expected {expected}"
    loaded = model.model.diffusion_model.state_dict()
    with safe_open(str(model_dir / "diffusion_models" / name), framework="pt") as f:
        written = set(f.keys())
        extra = sorted(written - set(loaded))
        assert not extra, f"{name}: keys of the file not in the loaded model: {extra[:5]}"
        missing = sorted(set(loaded) - written)
        assert not missing, f"{name}: weights of the loaded model not in the file: {missing[:5]}"
        for k in written:  # one tensor at a time (the Qwen-Image file is 760 MB)
            w = f.get_tensor(k)
            assert torch.equal(loaded[k].to(w.dtype), w), f"{name}: {k} differs from the file after loading"
    return model


def sdxl(comfy, model_dir: Path):
    name = write_unet(comfy, model_dir, comfy.supported.SDXL, SDXL_UNET, "tiny_sdxl_unet.safetensors", seed=11)
    return load_unet(comfy, model_dir, name, "SDXL")


def sd2_v(comfy, model_dir: Path):
    def v_probe(sd):
        g = torch.Generator().manual_seed(12)
        sd[SD2V_KEY] = torch.randn(sd[SD2V_KEY].shape, generator=g) * 0.2

    name = write_unet(comfy, model_dir, comfy.supported.SD20, SD2V_UNET, "tiny_sd2v_unet.safetensors", seed=13,
                      edit=v_probe)
    return load_unet(comfy, model_dir, name, "SD20")


def sd35(comfy, model_dir: Path):
    name = write_unet(comfy, model_dir, comfy.supported.SD3, SD35_MMDIT, "tiny_sd35_mmdit.safetensors", seed=14,
                      scale=0.04)
    return load_unet(comfy, model_dir, name, "SD3")


def wan21(comfy, model_dir: Path):
    name = write_unet(comfy, model_dir, comfy.supported.WAN21_T2V, WAN21_T2V, "tiny_wan21_t2v.safetensors", seed=15,
                      scale=0.04)
    return load_unet(comfy, model_dir, name, "WAN21_T2V")


def qwen_image_stock(comfy, model_dir: Path):
    """The smallest Qwen-Image file ComfyUI's detection accepts (one block at the fixed 3072 width,
    380 M parameters, ~0.6 s a call at 16x16 on one thread) through the stock UNETLoader, so that
    the loader path of the family is covered too; the file is deleted once loaded (760 MB)."""
    cfg = dict(image_model="qwen_image", in_channels=64, out_channels=16, patch_size=2, num_layers=1)
    name = write_unet(comfy, model_dir, comfy.supported.QwenImage, cfg, "qwen_image_1block.safetensors", seed=17,
                      pool=True)
    try:
        return load_unet(comfy, model_dir, name, "QwenImage")
    finally:
        (model_dir / "diffusion_models" / name).unlink()


def qwen_image(comfy, seed: int = 16):
    """Built from ComfyUI's classes, not loaded (see the module docstring: detection fixes the width)."""
    model = build_model(comfy, comfy.supported.QwenImage, tiny_qwen_image(comfy), seed=seed, scale=0.08)
    assert type(model.model.model_config).__name__ == "QwenImage"
    return model


# ---- conditioning (text encoders cannot be made small) -----------------------------------------

@dataclass(frozen=True)
class Spec:
    """What a test needs to drive one zoo model: its conditioning and its latent shape."""

    name: str
    fixture: str
    cond: Callable  # (generator, batch) -> CONDITIONING
    channels: int
    frames: int | None  # latent frames: None = 4-D latent, 1 = Qwen-Image's (B, C, 1, H, W), > 1 = video
    flow: bool
    size: int  # latent height and width used in the tests (8 pixels a cell)
    pixel_frames: int = 1  # frames of the pixel video the latent encodes (Wan: 1 + 4 (T - 1))

    def latent(self, g, batch=1, h=None, w=None, frames=None):
        frames = self.frames if frames is None else frames
        h, w = h or self.size, w or self.size
        shape = (batch, self.channels, h, w) if frames is None else (batch, self.channels, frames, h, w)
        return {"samples": torch.randn(*shape, generator=g)}


def _sdxl_cond(g, batch=1, tokens=16):
    return [[torch.randn(batch, tokens, 2048, generator=g),
             {"pooled_output": torch.randn(batch, 1280, generator=g), "width": 1024, "height": 1024, "crop_w": 0,
              "crop_h": 0, "target_width": 1024, "target_height": 1024}]]


def _sd2_cond(g, batch=1, tokens=16):
    return [[torch.randn(batch, tokens, 1024, generator=g), {}]]


def _sd3_cond(g, batch=1, tokens=16):
    return [[torch.randn(batch, tokens, 4096, generator=g), {"pooled_output": torch.randn(batch, 2048, generator=g)}]]


def _qwen_cond(g, batch=1, tokens=16):
    return [[torch.randn(batch, tokens, 3584, generator=g), {}]]


def _wan_cond(g, batch=1, tokens=16):
    return [[torch.randn(batch, tokens, 4096, generator=g), {}]]


SPECS = {
    # the UNets at 8x8 latents (their convolutions dominate: 320 channels are fixed), the DiTs at 16x16
    "sdxl": Spec("sdxl", "zoo_sdxl", _sdxl_cond, 4, None, flow=False, size=8),
    "sd2_v": Spec("sd2_v", "zoo_sd2_v", _sd2_cond, 4, None, flow=False, size=8),
    "sd35": Spec("sd35", "zoo_sd35", _sd3_cond, 16, None, flow=True, size=16),
    "qwen_image": Spec("qwen_image", "zoo_qwen_image", _qwen_cond, 16, 1, flow=True, size=16),
    "wan21": Spec("wan21", "zoo_wan21", _wan_cond, 16, 3, flow=True, size=16, pixel_frames=9),
}


# ---- audio (time latents) and layered images: built from ComfyUI's classes ----------------------
#
# =====================  ======================  ========================  ====================  ===========
# model                  ComfyUI class           sampling                  latent                ComfyUIs
# =====================  ======================  ========================  ====================  ===========
# Stable Audio 1.0       StableAudio1            V_PREDICTION (VE), EDM    (B, 64, T)            both
# ACE-Step 1.0           ACEStep                 CONST (flow)              (B, 8, 16, T)         both
# ACE-Step 1.5           ACEStep15               CONST (flow)              (B, 64, T)            0.33+
# Qwen-Image-Layered     QwenImage + layer t     CONST (flow)              (B, 16, L + 1, H, W)  0.33+
# =====================  ======================  ========================  ====================  ===========
#
# None loads through UNETLoader: Stable Audio's model class reads its seconds embedders from the
# checkpoint's conditioner keys (a diffusion-model file has none), and the smallest loadable ACE-Step
# or Qwen-Image files are hundreds of MB. So, as tiny_flux, each is ComfyUI's own supported_models /
# model_base class with a small config and seeded random weights. ACE-Step 1.0's lyric encoder (a
# 6-block, 1024-wide conformer) is fixed by its class: 84 M parameters, filled from the shared pool.
# The diffusion model is put in eval mode, as ComfyUI's BaseModel does since after 0.3.64: 0.3.64
# leaves it in training mode, where ACE-Step 1.0's dropout makes every evaluation random (two calls
# on the same input differ by ~1e-2), for the pack and the stock samplers alike.

STABLE_AUDIO = dict(audio_model="dit1.0", io_channels=64, embed_dim=64, depth=1, num_heads=1, cond_token_dim=768,
                    project_cond_tokens=True, global_cond_dim=1536, input_concat_dim=0)

ACE_STEP = dict(audio_model="ace", in_channels=8, out_channels=8, num_layers=1, attention_head_dim=32,
                num_attention_heads=2, text_embedding_dim=768, speaker_embedding_dim=512, lyric_encoder_vocab_size=64,
                lyric_hidden_size=1024, ssl_latent_dims=[16, 16], max_width=256)

ACE_STEP15 = dict(audio_model="ace1.5", in_channels=192, hidden_size=32, text_hidden_dim=32, timbre_hidden_dim=64,
                  audio_acoustic_hidden_dim=64, num_dit_layers=2, num_lyric_layers=1, num_timbre_layers=1,
                  num_tokenizer_layers=1, num_heads=2, num_kv_heads=1, head_dim=16, intermediate_size=64, patch_size=2,
                  pool_window_size=5, sliding_window=16, fsq_dim=32, encoder_hidden_size=32,
                  encoder_intermediate_size=64, encoder_num_heads=2)


def _accepted(cls, config: dict) -> dict:
    """``config`` without the keys this ComfyUI's ``cls.__init__`` lacks (when it takes no ``**kwargs``)."""
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(config)
    return {k: v for k, v in config.items() if k in params}


def _build(comfy, config_cls, unet_config: dict, seed: int, scale: float, state_dict=None, pool: bool = False):
    """A MODEL from ComfyUI's classes (comfy_env.build_model's steps, with the extra state dict a model
    class may read, e.g. Stable Audio's seconds embedders), its diffusion model in eval mode."""
    from comfy_env import fill_

    cfg = config_cls(dict(unet_config))
    cfg.set_inference_dtype(torch.float32, None)
    model = cfg.get_model(dict(state_dict or {}), "", device=None)
    (_pool_fill_ if pool else fill_)(model.diffusion_model, seed, scale)
    model.diffusion_model.eval()
    model = model.to(comfy.mm.unet_offload_device())
    return comfy.model_patcher.ModelPatcher(model, load_device=comfy.mm.get_torch_device(),
                                            offload_device=comfy.mm.unet_offload_device())


def stable_audio(comfy):
    """Stable Audio 1.0 (``StableAudio1``: V_PREDICTION_CONTINUOUS, VE family), 0.7 M parameters."""
    from comfy.ldm.audio.dit import AudioDiffusionTransformer
    from comfy.ldm.audio.embedders import NumberConditioner
    from comfy_env import fill_

    sd = {}
    for i, name in enumerate(("seconds_start", "seconds_total")):
        embedder = fill_(NumberConditioner(768, min_val=0, max_val=512), seed=30 + i, scale=0.5)
        sd.update({f"conditioner.conditioners.{name}.{k}": v for k, v in embedder.state_dict().items()})
    model = _build(comfy, comfy.supported.StableAudio, _accepted(AudioDiffusionTransformer, STABLE_AUDIO), seed=31,
                   scale=0.1, state_dict=sd)
    assert type(model.model).__name__ == "StableAudio1"
    return model


def ace_step(comfy):
    """ACE-Step 1.0 (``ACEStep``: flow), latents ``(B, 8, 16, T)``."""
    model = _build(comfy, comfy.supported.ACEStep, ACE_STEP, seed=32, scale=0.05, pool=True)
    assert type(model.model).__name__ == "ACEStep"
    return model


def ace_step15(comfy):
    """ACE-Step 1.5 (``ACEStep15``: flow), latents ``(B, 64, T)``; its core mixes batch rows (the
    reference-audio order mask of zeros). ``None`` where this ComfyUI has no ACE-Step 1.5."""
    cls = getattr(comfy.supported, "ACEStep15", None)
    if cls is None:
        return None
    model = _build(comfy, cls, ACE_STEP15, seed=33, scale=0.5)
    assert type(model.model).__name__ == "ACEStep15"
    return model


def qwen_image_layered(comfy):
    """Qwen-Image-Layered: the tiny Qwen-Image with the layer embedding core's detection marks it by
    (``use_additional_t_cond``, ``default_ref_method`` negative_index); ``None`` where this ComfyUI's
    Qwen-Image has no layer embedding."""
    from comfy.ldm.qwen_image.model import QwenImageTransformer2DModel

    if "use_additional_t_cond" not in inspect.signature(QwenImageTransformer2DModel.__init__).parameters:
        return None
    cfg = tiny_qwen_image(comfy, use_additional_t_cond=True, default_ref_method="negative_index")
    model = build_model(comfy, comfy.supported.QwenImage, cfg, seed=34, scale=0.08)
    assert model.model.diffusion_model.time_text_embed.use_additional_t_cond
    return model


def _audio_cond(g, batch=1, tokens=8):
    return [[torch.randn(batch, tokens, 768, generator=g), {}]]


def _ace_cond(g, batch=1, tokens=8):
    return [[torch.randn(batch, tokens, 768, generator=g),
             {"conditioning_lyrics": torch.randint(0, 64, (batch, 6), generator=g)}]]


def _ace15_cond(g, batch=1, tokens=8):
    return [[torch.randn(batch, tokens, 32, generator=g),
             {"conditioning_lyrics": torch.randn(batch, 6, 32, generator=g)}]]


@dataclass(frozen=True)
class AudioSpec:
    """An audio zoo model: its builder, conditioning and latent ``shape`` (batch 1)."""

    name: str
    build: Callable
    cond: Callable  # (generator, batch) -> CONDITIONING
    shape: tuple
    flow: bool
    cls: str
    mixes_rows: bool = False  # the core mixes the rows of a batch (ACE-Step 1.5): batched pairs are not exact
    why_absent: str = ""

    def latent(self, g, batch=1):
        return {"samples": torch.randn(batch, *self.shape[1:], generator=g)}


AUDIO = {
    "stable_audio": AudioSpec("stable_audio", stable_audio, _audio_cond, (1, 64, 32), flow=False, cls="StableAudio1"),
    "ace_step": AudioSpec("ace_step", ace_step, _ace_cond, (1, 8, 16, 32), flow=True, cls="ACEStep"),
    "ace_step15": AudioSpec("ace_step15", ace_step15, _ace15_cond, (1, 64, 40), flow=True, cls="ACEStep15",
                            mixes_rows=True,
                            why_absent="this ComfyUI has no ACE-Step 1.5 (comfy.supported_models.ACEStep15; added "
                                       "after 0.3.64)"),
}


# ---- the families of the example workflows of late 2026 (test_example_workflows.py) ---------------------
#
# ======================  =====================  ==============  =================  ===========================
# model                   ComfyUI class          latent          ComfyUIs           how it is made
# ======================  =====================  ==============  =================  ===========================
# Z-Image-Turbo           ZImage (Lumina 2)      (B,16,H,W)      0.33+              ComfyUI's classes (*)
# Flux.2 klein            Flux2                  (B,128,H,W)     0.33+              ComfyUI's classes (*)
# Qwen-Image-Edit 2511    QwenImage              (B,16,1,H,W)    both               ComfyUI's classes (*), qwen_image
# Wan 2.2 5B (TI2V)       WAN22_T2V              (B,48,T,H,W)    both               file -> UNETLoader
# ======================  =====================  ==============  =================  ===========================
#
# (*) detection fixes the width of these (Z-Image: dim 3840; Flux.2: 48 heads of 128 = 6144; Qwen-Image:
# 3072), so, as tiny_flux and qwen_image, each is built from ComfyUI's own supported_models class with a
# small config, and the workflows' UNETLoader is replaced by a stand-in node that returns it. Wan 2.2 5B's
# width is read from the keys, so its file goes through the stock UNETLoader (detected as WAN22_T2V).
# The VAEs are ComfyUI's own classes, written as files that the stock VAELoader detects: Flux.2's
# (AutoencoderKL with the 2x2 batch-norm latent; the encoder's width 128 is fixed, the decoder's is read:
# 32), Qwen-Image's (Wan 2.1 VAE, width read from the keys: 16) and, for Wan 2.2, TAEHV with 48 latent
# channels (ComfyUI's tiny Wan 2.2 autoencoder; 0.33+: 0.3.64 cannot load a Wan 2.2 VAE smaller than the
# real 160-wide one). Z-Image uses the Flux VAE, as TAESD with 16 channels (taef1), as the Flux workflows.

Z_IMAGE = dict(image_model="lumina2", patch_size=2, in_channels=16, dim=256, n_layers=1, n_refiner_layers=1,
               n_heads=2, n_kv_heads=2, qk_norm=True, cap_feat_dim=2560, axes_dims=[32, 48, 48],
               axes_lens=[1536, 512, 512], rope_theta=256.0, ffn_dim_multiplier=8.0 / 3.0, z_image_modulation=True,
               time_scale=1000.0)

# Flux.2 klein 4B's features (model_detection's flux2 branch), 1 head of 128: context 7680 = 3 x Qwen3-4B's 2560
FLUX2_KLEIN = dict(image_model="flux2", in_channels=128, out_channels=128, vec_in_dim=None, context_in_dim=7680,
                   hidden_size=128, mlp_ratio=3.0, num_heads=1, depth=1, depth_single_blocks=1,
                   axes_dim=[32, 32, 32, 32], theta=2000, patch_size=1, qkv_bias=False, guidance_embed=False,
                   global_modulation=True, mlp_silu_act=True, ops_bias=False, default_ref_method="index",
                   ref_index_scale=10.0, txt_ids_dims=[3])

WAN22_5B = dict(WAN21_T2V, in_dim=48, out_dim=48)

# the context width of each text encoder the workflows load (CLIPLoader type -> width): seeded stand-ins
TEXT_WIDTH = {"lumina2": 2560, "flux2": 7680, "qwen_image": 3584, "wan": 4096}


def z_image(comfy):
    """Z-Image(-Turbo) from ComfyUI's ``ZImage`` class; ``None`` where this ComfyUI has none."""
    cls = getattr(comfy.supported, "ZImage", None)
    if cls is None:
        return None
    model = _build(comfy, cls, _accepted_nextdit(Z_IMAGE), seed=40, scale=0.05)
    assert type(model.model.model_config).__name__ == "ZImage"
    return model


def _accepted_nextdit(cfg: dict) -> dict:
    from comfy.ldm.lumina.model import NextDiT

    return _accepted(NextDiT, cfg)


def flux2_klein(comfy, seed: int = 41):
    """Flux.2 klein from ComfyUI's ``Flux2`` class; ``None`` where this ComfyUI has none."""
    cls = getattr(comfy.supported, "Flux2", None)
    if cls is None:
        return None
    import dataclasses

    from comfy.ldm.flux.model import FluxParams

    fields = {f.name for f in dataclasses.fields(FluxParams)}
    model = _build(comfy, cls, {k: v for k, v in FLUX2_KLEIN.items() if k in fields or k == "image_model"},
                   seed=seed, scale=0.05)
    assert type(model.model.model_config).__name__ == "Flux2"
    return model


def wan22_5b_file(comfy, model_dir: Path) -> str:
    """A Wan 2.2 5B (TI2V) file: 48 latent channels; the stock UNETLoader detects WAN22_T2V."""
    name = write_unet(comfy, model_dir, comfy.supported.WAN22_T2V, WAN22_5B, "tiny_wan22_5b.safetensors", seed=42,
                      scale=0.04)
    load_unet(comfy, model_dir, name, "WAN22_T2V")
    return name


def write_vae(model_dir: Path, name: str, module, seed: int, scale: float = 0.05, prefix: str = "") -> str:
    from comfy_env import fill_
    from safetensors.torch import save_file

    fill_(module, seed, scale)
    save_file({prefix + k: v.contiguous() for k, v in module.state_dict().items()}, str(model_dir / "vae" / name))
    return name


def taew22_file(model_dir: Path):
    """TAEHV with 48 latent channels (VAELoader: taehv, Wan 2.2); ``None`` on a ComfyUI without TAEHV."""
    try:
        from comfy.taesd.taehv import TAEHV
    except ImportError:
        return None
    return write_vae(model_dir, "tiny_taew22.safetensors", TAEHV(latent_channels=48), seed=43)


def wan21_vae_file(model_dir: Path) -> str:
    """The Wan 2.1 VAE (Qwen-Image's) at width 16: VAELoader reads the width from decoder.head.0.gamma."""
    from comfy.ldm.wan.vae import WanVAE

    vae = WanVAE(dim=16, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                 temperal_downsample=[False, True, True], dropout=0.0)
    return write_vae(model_dir, "tiny_qwen_image_vae.safetensors", vae, seed=44)


def flux2_vae_file(model_dir: Path) -> str:
    """Flux.2's VAE (AutoencoderKL, 32 latent channels, the 2x2 batch-norm latent = 128 channels at 1/16):
    the encoder at its fixed width 128, the decoder at 32 (VAELoader reads it from decoder.conv_in)."""
    from comfy.ldm.models.autoencoder import AutoencoderKL

    dd = {"double_z": True, "z_channels": 32, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
          "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0,
          "batch_norm_latent": True}
    vae = AutoencoderKL(embed_dim=32, ddconfig=dd, decoder_ddconfig=dict(dd, ch=32))
    return write_vae(model_dir, "tiny_flux2_vae.safetensors", vae, seed=45, scale=0.02)
