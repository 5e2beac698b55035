"""ComfyUI-CoupledSDE: training-free image editing with coupled SDEs.

ComfyUI imports this file as the custom-node module. The math lives in
``comfyui_coupled_sde.sampling`` (pure torch, importable without ComfyUI); the nodes are
imported lazily inside :func:`comfy_entrypoint` so that importing the package never needs
ComfyUI.
"""

__version__ = "0.1.0"

# Frontend files, and the per-node help pages ComfyUI shows (web/docs/<node id>/en.md).
WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    """ComfyUI V3 entry point: returns the extension that lists this pack's nodes."""
    from .nodes import extension  # lazy: needs ComfyUI

    return await extension.comfy_entrypoint()
