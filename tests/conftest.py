"""Fixtures for ovep's integration tests: the real onnxruntime, the real libovep.so, real OpenVINO.

Nothing here skips: a missing library, OpenVINO or model file is a test failure with a message saying how
to fix it (house rule: real or nothing).

Run:  OVEP_LIBRARY_PATH=target/release/libovep.so python -m pytest tests
Models: python tools/fetch_models.py --dest .models   (or set OVEP_MODELS_DIR)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The compiled-model cache is on by default; tests that are not about it run without it so
# each session is built the same way (and the suite leaves nothing in ~/.cache). Child
# processes inherit this; tests/test_cache.py turns the cache on explicitly.
os.environ["OVEP_CACHE_DIR"] = ""

try:
    import ovep  # noqa: F401 - installed package, or PYTHONPATH=python
except ImportError:  # fall back to the source tree; the library then comes from OVEP_LIBRARY_PATH
    sys.path.insert(0, str(REPO / "python"))
    import ovep  # noqa: F401

from repo_tools import load_tool  # noqa: E402
import model_builders  # noqa: E402 - tests/ is on sys.path (pytest rootdir-relative import)


@pytest.fixture(scope="session")
def ort():
    import onnxruntime

    return onnxruntime


@pytest.fixture(scope="session")
def ovep_devices(ort):
    """ovep's OrtEpDevices after ``ovep.register(ort)``; fails unless a CPU device is among them."""
    try:
        path = ovep.get_library_path()
    except FileNotFoundError as e:
        pytest.fail(f"libovep.so not found: {e}")
    assert os.path.isfile(path), f"OVEP_LIBRARY_PATH / ovep.get_library_path() points to a missing file: {path}"
    try:
        devices = ovep.register(ort)
    except Exception as e:  # noqa: BLE001 - report whatever ORT raised, with the path
        pytest.fail(f"registering {path} with onnxruntime {ort.__version__} failed: {e}")
    metas = [dict(d.ep_metadata) for d in devices]
    assert any(m.get("ov_device") == "CPU" for m in metas), (
        f"ovep ({path}) offers no OpenVINO CPU device; its devices: {metas}. "
        f"All EP devices: {[(d.ep_name, str(d.device.type)) for d in ort.get_ep_devices()]}"
    )
    return devices


@pytest.fixture(scope="session")
def models_dir():
    """Directory with the real models from tools/fetch_models.py; every file must be there, full size."""
    d = Path(os.environ.get("OVEP_MODELS_DIR") or REPO / ".models")
    wrong = []
    for m in load_tool("fetch_models").MODELS:
        p = d / m.dest
        if not p.is_file():
            wrong.append(f"{m.dest} missing")
        elif p.stat().st_size != m.size:
            wrong.append(f"{m.dest} is {p.stat().st_size} bytes, expected {m.size}")
    if wrong:
        pytest.fail(
            f"model files in {d} are not ready ({'; '.join(wrong)}): run "
            f"'python tools/fetch_models.py --dest {d}' (or set OVEP_MODELS_DIR)"
        )
    return d


@pytest.fixture(scope="session")
def synthetic_models(tmp_path_factory):
    """name -> path of each model from model_builders, written once per test session."""
    d = tmp_path_factory.mktemp("models")
    paths = {}
    for name, build in model_builders.BUILDERS.items():
        p = d / f"{name}.onnx"
        p.write_bytes(build().SerializeToString())
        paths[name] = p
    return paths
