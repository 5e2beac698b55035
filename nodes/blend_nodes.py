"""Edit Blend: the source composited back outside a mask, in pixel space, after VAE Decode (the math
is in ``blend.py``). No model evaluation. The node id is permanent.
"""

from __future__ import annotations

import logging

from comfy_api.latest import io, ui

from .blend import COLOUR_MATCH, edit_blend
from .common import CATEGORY
from .diagnostics import LOG, PREFIX, enlarged_for_display


class EditBlend(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="CoupledSDE_EditBlend",
            display_name="Edit Blend (Coupled SDE)",
            category=CATEGORY,
            description="Puts the source back outside the mask, in pixels, after VAE Decode: every pixel where "
                        "the mask is black is the source's, bit for bit, so the VAE's round trip cannot shift "
                        "colour or detail outside the edit. Optional inward feather and colour match against a "
                        "tint. The result is shown on the node.",
            is_output_node=True,
            inputs=[
                io.Image.Input("source", tooltip=(
                    "The image before the edit: the original (Load Image) to keep its exact pixels outside the "
                    "mask. One image for every edited image, or one per edited image. VAE Encode's crop to a "
                    "multiple of 8/16/32/64 px is repeated on it.")),
                io.Image.Input("edited", tooltip=(
                    "The edited image (VAE Decode of the edit). The output has its size and batch.")),
                io.Mask.Input("mask", tooltip=(
                    "White = take the edit, black = keep the source exactly. Any size: a mask of the latent's "
                    "size (8x smaller) or another size is resized bilinearly, one of the source's uncropped size "
                    "is cropped as the source. One mask for all images or one per edited image. E.g. the mask "
                    "you edited with, an edit node's edit_mask (the automatic map of localize), or Edit "
                    "Difference's MASK.")),
                io.Int.Input("feather", default=8, min=0, max=512, tooltip=(
                    "Pixels over which the edit fades in from the mask's edge, inward only: outside the mask "
                    "stays the exact source for any feather. 0 = the mask as it is. 8 (default) = one latent "
                    "cell of SD/Flux VAEs, about the width of the seam a VAE leaves.")),
                io.Combo.Input("colour_match", options=list(COLOUR_MATCH), default=COLOUR_MATCH[0], tooltip=(
                    "Against a tint of the edit, measured on a ring just outside the mask (where the result is "
                    "the source): off (default) = the plain composite, bit for bit. mean = shift each channel "
                    "of the edit so its mean on the ring equals the source's. mean and std = also scale by the "
                    "ratio of the standard deviations. Applied inside the mask only.")),
                io.Int.Input("ring", default=8, min=1, max=512, tooltip=(
                    "Width in pixels of the ring outside the mask where colour match measures the tint "
                    "(unused when colour_match is off). 8 (default): enough pixels for steady means, close "
                    "enough to the edit to see the same tint.")),
            ],
            outputs=[
                io.Image.Output("blended", display_name="IMAGE", tooltip=(
                    "The edit inside the mask, the source bit for bit outside it, at the edited image's size.")),
                io.Mask.Output("alpha", display_name="MASK", tooltip=(
                    "The weight of the edit in each pixel (the mask resized to the image and feathered): "
                    "IMAGE = MASK x edit + (1 - MASK) x source.")),
            ],
        )

    @classmethod
    def execute(cls, source, edited, mask, feather=8, colour_match="off", ring=8) -> io.NodeOutput:
        b = edit_blend(source, edited, mask, feather=feather, colour_match=colour_match, ring=ring)
        LOG.log(logging.WARNING if b.warning else logging.INFO, "%s%s", PREFIX, b.summary)
        return io.NodeOutput(b.image, b.alpha, ui=ui.PreviewImage(enlarged_for_display(b.image), cls=cls))


NODES = [EditBlend]
