"""ComfyUI nodes of the pack (V3 schema). Importing this package needs ComfyUI."""
