"""ComfyUI's own custom-node loader registers every node id of the pack.

When no ComfyUI is found this is the only integration test collected, and it reports the one
skip line that says why (see comfy_env.find_comfyui).
"""

import torch
from comfy_env import PACK_IDS, ROOT


def test_loader_registers_every_node_id_with_tooltips_and_help_pages(comfy):
    # ComfyUI skips ids that already exist and only logs import errors: assert the ids themselves
    for node_id in PACK_IDS:
        assert node_id in comfy.N, node_id
        cls = comfy.N[node_id]
        info = cls.GET_NODE_INFO_V1()
        assert info["category"] == "sampling/coupled_sde"
        # every input has a tooltip
        for section in ("required", "optional"):
            for name, spec in info["input"].get(section, {}).items():
                assert spec[1].get("tooltip"), (node_id, name)
        # and every output
        assert len(info["output_tooltips"]) == len(info["output"]) and all(info["output_tooltips"]), node_id
    assert comfy.pack_loaded is True
    print(f"ComfyUI at {comfy.path.name}; torchvision: {comfy.torchvision}; torch {torch.__version__}")
    # a help page per node, served from the web folder ComfyUI registered for the pack, in the
    # per-locale layout: the frontend asks for docs/<node id>/<locale>.md first and only then for
    # the flat docs/<node id>.md (and logs the first request's 404 as a console error)
    for node_id in PACK_IDS:
        page = ROOT / "web" / "docs" / node_id / "en.md"
        assert page.is_file(), page
        assert page.read_text().startswith("# "), page
    assert not list((ROOT / "web" / "docs").glob("*.md")), "flat help pages: move them to docs/<node id>/en.md"
    # ComfyUI registered the pack's web folder (it serves the pages from there)
    assert str(ROOT / "web") in {str(p) for p in comfy.nodes.EXTENSION_WEB_DIRS.values()}
