"""The ComfyUI extension object: lists the pack's V3 nodes."""

from comfy_api.latest import ComfyExtension, io

from . import baseline_nodes, blend_nodes, coupled_nodes, demo_nodes, drag_nodes, helper_nodes

NODES = (coupled_nodes.NODES + drag_nodes.NODES + baseline_nodes.NODES + helper_nodes.NODES
         + blend_nodes.NODES + demo_nodes.NODES)


class CoupledSDEExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)


async def comfy_entrypoint() -> CoupledSDEExtension:
    return CoupledSDEExtension()
