"""The ComfyUI extension object: lists the pack's V3 nodes.

The node classes land with the node issue (sync-SDE / Cycle-SDE nodes); until then the pack
loads cleanly and registers no nodes.
"""

from comfy_api.latest import ComfyExtension, io

NODES: list[type[io.ComfyNode]] = []


class CoupledSDEExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)


async def comfy_entrypoint() -> CoupledSDEExtension:
    return CoupledSDEExtension()
