#!/usr/bin/env bash
# Creates <repo>/.venv-intree with ORT's in-tree OpenVINO EP (onnxruntime-openvino 1.24.1).
# That wheel replaces the `onnxruntime` package itself, so it cannot share a venv with the
# onnxruntime that loads ovep; bench/run.py runs its `in-tree` children with this venv's python.
# Usage: bash bench/setup_intree.sh [python-executable]   (default: python3)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv-intree"
py="${1:-python3}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c \
    "import onnxruntime as o, sys; sys.exit(0 if o.__version__ == '1.24.1' and 'OpenVINOExecutionProvider' in o.get_available_providers() else 1)" 2>/dev/null; then
  echo "in-tree venv ready: $venv"
  exit 0
fi
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# numpy pinned below 2.3 so the wheel's ABI expectations hold; the wheel pulls its own OpenVINO libs.
"$venv/bin/python" -m pip install --quiet "onnxruntime-openvino==1.24.1" "numpy>=1.26,<2.3"
"$venv/bin/python" -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())"
echo "in-tree venv ready: $venv"
