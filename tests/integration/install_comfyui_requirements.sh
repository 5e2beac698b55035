#!/usr/bin/env bash
# Install a ComfyUI checkout's requirements for the integration tests without letting pip touch
# torch: torch/torchvision/torchaudio lines are dropped, spandrel goes in without dependencies
# (it would pull torchvision, and with it a CUDA torch), and torch stays pinned by the constraints.
#   COMFYUI_PATH=<ComfyUI checkout> bash tests/integration/install_comfyui_requirements.sh
set -euo pipefail
: "${COMFYUI_PATH:?set COMFYUI_PATH to a ComfyUI checkout}"
root=$(cd "$(dirname "$0")/../.." && pwd)
req=$(mktemp)
trap 'rm -f "$req"' EXIT
grep -v -E '^(torch|torchvision|torchaudio|spandrel)([^a-zA-Z0-9_-]|$)' "$COMFYUI_PATH/requirements.txt" > "$req"
python3 -m pip install -c "$root/constraints-test.txt" -r "$req" requests
python3 -m pip install --no-deps -c "$root/constraints-test.txt" spandrel
python3 -c "import torch; print('torch', torch.__version__, '(untouched)')"
