#!/usr/bin/env bash
# Give a ComfyUI checkout its own test environment without letting pip touch torch:
#   bash tests/integration/install_comfyui_requirements.sh <ComfyUI checkout> [<checkout> ...]
# (or COMFYUI_PATH=<checkout> with no arguments). For each checkout it makes <checkout>/.venv, a
# virtual environment that sees this interpreter's packages (torch, the pack's test extra) and holds
# that ComfyUI's own requirements on top, so two ComfyUI versions with different pinned frontends
# live side by side. torch/torchvision/torchaudio lines are dropped, spandrel goes in without
# dependencies (it would pull torchvision, and with it a CUDA torch), and torch stays pinned by the
# constraints file. The integration suite (tests/integration/run_suites.py) runs each checkout
# with <checkout>/.venv/bin/python when it exists.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -gt 0 ] || set -- "${COMFYUI_PATH:?give ComfyUI checkouts as arguments or set COMFYUI_PATH}"
for comfy in "$@"; do
  comfy=$(cd "$comfy" && pwd)
  [ -f "$comfy/requirements.txt" ] || { echo "$comfy: no requirements.txt (not a ComfyUI checkout)" >&2; exit 2; }
  [ -x "$comfy/.venv/bin/python" ] || python3 -m venv --system-site-packages "$comfy/.venv"
  py="$comfy/.venv/bin/python"
  req=$(mktemp)
  grep -v -E '^(torch|torchvision|torchaudio|spandrel)([^a-zA-Z0-9_-]|$)' "$comfy/requirements.txt" > "$req"
  "$py" -m pip install -q -c "$root/constraints-test.txt" -r "$req" requests
  "$py" -m pip install -q --no-deps -c "$root/constraints-test.txt" spandrel
  rm -f "$req"
  "$py" -c "import torch, sys; print(sys.argv[1], ': torch', torch.__version__, '(untouched)')" "$comfy"
done
