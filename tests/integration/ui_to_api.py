"""Convert a UI-format workflow (what ComfyUI's "Save" writes) to the API format (what /prompt takes).

ComfyUI has no Python converter (its frontend converts in JavaScript), so the tests use this one;
``test_example_workflows`` checks it against the frontend's own ``graphToPrompt`` output for every
example workflow. Handled: links, positional ``widgets_values`` (mapped to input names through
each node's INPUT_TYPES, skipping the ``control_after_generate`` value the frontend appends after
seed-like INT widgets), widgets converted to inputs, Reroute, PrimitiveNode, Note/MarkdownNote, and
muted (mode 2) and bypassed (mode 4) nodes.
"""

from __future__ import annotations

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
VIRTUAL = ("Note", "MarkdownNote", "Reroute", "PrimitiveNode")
MUTED, BYPASSED = 2, 4


def _is_widget(spec) -> bool:
    kind = spec[0]
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    return (isinstance(kind, list) or kind in WIDGET_TYPES) and not options.get("forceInput")


def _has_control_value(name: str, spec) -> bool:
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    return spec[0] == "INT" and (options.get("control_after_generate") or name in ("seed", "noise_seed"))


def convert(ui: dict, input_types) -> dict:
    """``input_types(class_type) -> {"required": {...}, "optional": {...}}`` (ComfyUI's INPUT_TYPES)."""
    nodes = {n["id"]: n for n in ui["nodes"]}
    links = {link[0]: link for link in ui.get("links", [])}  # id -> [id, origin, slot, target, slot, type]

    def source(link_id):
        """The (node id, slot) a link really comes from, through Reroutes and bypassed nodes."""
        _, origin, slot, _, _, kind = links[link_id]
        node = nodes[origin]
        if node["type"] == "Reroute":
            return source(node["inputs"][0]["link"])
        if node.get("mode") == BYPASSED:
            for inp in node.get("inputs", []):
                if inp.get("link") is not None and inp.get("type") == kind:
                    return source(inp["link"])
            return None
        if node.get("mode") == MUTED or node["type"] in VIRTUAL:
            return None
        return str(origin), slot

    prompt = {}
    for node in ui["nodes"]:
        if node["type"] in VIRTUAL or node.get("mode") in (MUTED, BYPASSED):
            continue
        types = input_types(node["type"])
        linked = {inp["name"]: inp["link"] for inp in node.get("inputs", []) if inp.get("link") is not None}
        values = node.get("widgets_values", [])
        inputs, k = {}, 0
        for section in ("required", "optional"):
            for name, spec in types.get(section, {}).items():
                if _is_widget(spec):
                    if isinstance(values, dict):
                        value, present = values.get(name), name in values
                    else:
                        present = k < len(values)
                        value = values[k] if present else None
                        k += 1 + (1 if _has_control_value(name, spec) else 0)
                    if present and name not in linked:
                        inputs[name] = value
                if name in linked:
                    src = source(linked[name])
                    if src is not None:
                        inputs[name] = [src[0], src[1]]
                    elif _is_widget(spec) and name not in inputs:
                        # a PrimitiveNode feeds a widget: its value is stored with the target widget
                        inputs[name] = values[k - 1 - (1 if _has_control_value(name, spec) else 0)]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt
