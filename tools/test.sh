#!/usr/bin/env bash
# The whole test suite: Rust unit tests, then the integration tests through the real
# onnxruntime loading the real libovep.so, on the newest (1.32.0) and oldest (1.23.2)
# supported onnxruntime. Any failure, or a missing dependency, fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh

echo "== cargo test"
cargo test --release --locked

for v in .venv .venv-ort123; do
    ver=$("$v/bin/python" -c 'import onnxruntime; print(onnxruntime.__version__)')
    echo "== pytest with onnxruntime $ver"
    "$v/bin/python" -m pytest tests -q -p no:cacheprovider
done
