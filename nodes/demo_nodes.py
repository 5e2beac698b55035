"""Load Demo Scene Model: the pack's own small model as MODEL, CLIP and VAE (no download).

Node ids are permanent.
"""

from __future__ import annotations

from comfy_api.latest import io

from ..demo.scene_net import EXAMPLE, SIZE, WORDS
from .common import CATEGORY
from .demo_bridge import load_demo

_VOCABULARY = ", ".join(WORDS[2:])


class LoadDemoSceneModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_LoadDemoSceneModel",
            display_name="Load Demo Scene Model (Coupled SDE)",
            category=CATEGORY,
            description=(
                f"The pack's own small text-to-image model (1.35 M parameters, 2.7 MB, shipped with the pack): "
                f"{SIZE}x{SIZE} scenes of 1-3 coloured shapes on a textured background, trained here on a seeded "
                "synthetic world. Every method of the pack runs on it in seconds on a CPU, so you can see an edit "
                "before downloading a large model. It is a rectified-flow model (like Flux): use it with the "
                "stock CLIP Text Encode, KSampler / SamplerCustomAdvanced, BasicScheduler, VAE Encode / Decode. "
                f"Empty latent: EmptyChromaRadianceLatentImage at width {SIZE}, height {SIZE} (3-channel pixel "
                f"latent). Captions: e.g. '{EXAMPLE}'; vocabulary: {_VOCABULARY}; the empty text is the "
                "negative / unconditional prompt."),
            inputs=[],
            outputs=[
                io.Model.Output("model", display_name="MODEL", tooltip=(
                    "A flow (CONST) model, like Flux: model_sampling, the guider, cfg and masks work as for Flux. "
                    f"It takes {SIZE}x{SIZE} RGB latents only.")),
                io.Clip.Output("clip", display_name="CLIP", tooltip=(
                    f"Its caption encoder, for CLIP Text Encode. Words it knows: {_VOCABULARY}. Up to 3 objects, "
                    "each '<colour> <shape> <top|bottom> <left|right>', joined by 'and', then 'on a <striped|noisy|"
                    "smooth> <grey|beige> background'. An unknown word is an error that names it.")),
                io.Vae.Output("vae", display_name="VAE", tooltip=(
                    "ComfyUI's pixel-space VAE (VAELoader's 'pixel_space'): the model works on pixels in [-1, 1].")),
            ],
        )

    @classmethod
    def execute(cls) -> io.NodeOutput:
        return io.NodeOutput(*load_demo())


NODES = [LoadDemoSceneModel]
