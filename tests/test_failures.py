"""Failures that must come back as errors, never crashes: OpenVINO missing or misconfigured, and panics
injected into ovep's entry points (OVEP_INJECT_PANIC). Each case runs in a child process (failure_child.py)
because it changes process state; the child prints `RESULT <json>` and exits 0 if nothing crashed."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ovep

CHILD = Path(__file__).with_name("failure_child.py")
# Variables through which ovep (or the dynamic loader) could find OpenVINO or be told to misbehave.
DISCOVERY_VARS = ("OVEP_OPENVINO_LIBRARY", "LD_LIBRARY_PATH", "INTEL_OPENVINO_DIR", "VIRTUAL_ENV", "CONDA_PREFIX",
                  "PYTHONHOME", "OVEP_INJECT_PANIC")

pytestmark = pytest.mark.usefixtures("ovep_devices")


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in DISCOVERY_VARS}
    env.update(extra)
    return env


def _run_child(python, lib, model, env, options=None) -> tuple[dict, str]:
    cmd = [str(python), str(CHILD), "--lib", str(lib), "--model", str(model), "--options", json.dumps(options or {})]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    where = f"\ncommand: {cmd}\nexit: {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert proc.returncode >= 0, f"child killed by signal {-proc.returncode} (a crash, not an error){where}"
    assert proc.returncode == 0, f"child failed{where}"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"child printed no RESULT line{where}"
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["cpu_ok"], f"ORT's CPU EP stopped working in the child{where}"
    assert result["registered"], f"registering libovep.so failed (it must succeed in every case here){where}"
    return result, where


def _borrowed_site(dest: Path) -> Path:
    """A directory holding just onnxruntime (copied) and numpy (linked) for a bare interpreter.

    ovep looks for the openvino wheel beside the *loaded* onnxruntime package (found through
    /proc/self/maps, which shows real paths), so onnxruntime must be a real copy outside any site-packages
    that has openvino; numpy's location does not matter and is only linked.
    """
    import numpy
    import onnxruntime

    dest.mkdir()
    shutil.copytree(Path(onnxruntime.__file__).parent, dest / "onnxruntime")
    numpy_dir = Path(numpy.__file__).parent
    for name in ("numpy", "numpy.libs"):
        if (numpy_dir.parent / name).exists():
            (dest / name).symlink_to(numpy_dir.parent / name)
    return dest


@pytest.fixture(scope="module")
def no_openvino(tmp_path_factory):
    """(python, libovep copy, env) for a child in which no place ovep searches has OpenVINO: a bare venv
    (no openvino wheel), onnxruntime copied to a directory without openvino beside it, libovep.so copied to
    another such directory, and no discovery variables."""
    root = tmp_path_factory.mktemp("no_openvino")
    bare = root / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    lib_dir = root / "lib"
    lib_dir.mkdir()
    lib = lib_dir / "libovep.so"
    shutil.copy2(ovep.get_library_path(), lib)
    env = _clean_env(PYTHONPATH=str(_borrowed_site(root / "borrowed")), OVEP_LIBRARY_PATH=str(lib))
    return bare / "bin" / "python", lib, env


def _wheel_openvino_c() -> Path:
    """libopenvino_c.so.* of the openvino wheel installed in this test run's environment."""
    spec = importlib.util.find_spec("openvino")
    assert spec and spec.origin, "the openvino wheel is not installed in this environment"
    found = sorted((Path(spec.origin).parent / "libs").glob("libopenvino_c.so*"))
    assert found, f"no libopenvino_c.so* in {Path(spec.origin).parent / 'libs'}"
    return found[-1]


def test_missing_openvino(no_openvino, synthetic_models):
    python, lib, env = no_openvino
    result, where = _run_child(python, lib, synthetic_models["small_cnn"], env)
    assert not result["ovep_ok"], f"an ovep session worked although OpenVINO should be unfindable{where}"
    err = result["error"] or ""
    assert "libopenvino_c" in err and "searched" in err, (
        f"the error must name libopenvino_c and the places searched; got: {err}{where}"
    )


def test_openvino_library_option_finds_openvino(no_openvino, synthetic_models):
    # Where discovery finds nothing, the openvino_library option pointing at the wheel's library works.
    python, lib, env = no_openvino
    options = {"openvino_library": str(_wheel_openvino_c())}
    result, where = _run_child(python, lib, synthetic_models["small_cnn"], env, options)
    assert result["ovep_ok"], f"openvino_library={options['openvino_library']} did not give a working session{where}"
    assert result["max_abs_diff"] <= 1e-6, f"outputs differ from the CPU EP by {result['max_abs_diff']}{where}"


BAD_OPENVINO = "/nonexistent/libopenvino_c.so.2641"


def test_openvino_library_env_nonexistent_path(synthetic_models):
    # An explicit OVEP_OPENVINO_LIBRARY that does not exist is an error naming it, not a silent fallback to
    # the wheel that discovery would otherwise find in this environment.
    env = _clean_env(OVEP_LIBRARY_PATH=ovep.get_library_path(), OVEP_OPENVINO_LIBRARY=BAD_OPENVINO)
    result, where = _run_child(sys.executable, ovep.get_library_path(), synthetic_models["small_cnn"], env)
    assert not result["ovep_ok"], f"the session worked despite OVEP_OPENVINO_LIBRARY={BAD_OPENVINO}{where}"
    assert BAD_OPENVINO in (result["error"] or ""), f"the error does not name {BAD_OPENVINO}: {result['error']}{where}"


def test_openvino_library_option_nonexistent_path(no_openvino, synthetic_models):
    # Same for the option. Run where OpenVINO is not loaded yet: ovep uses the option only to load OpenVINO
    # the first time (registration already loads it wherever discovery succeeds).
    python, lib, env = no_openvino
    result, where = _run_child(python, lib, synthetic_models["small_cnn"], env, {"openvino_library": BAD_OPENVINO})
    assert not result["ovep_ok"], f"the session worked despite openvino_library={BAD_OPENVINO}{where}"
    assert BAD_OPENVINO in (result["error"] or ""), f"the error does not name {BAD_OPENVINO}: {result['error']}{where}"


# Where each entry point's failure surfaces. ORT (1.23 through 1.32) does not propagate an error from
# OrtEp::GetCapability: it logs "OrtEp::GetCapability() failed with error: ..." (1.32: "... for <EP> failed ...") at ERROR level and runs the
# model without that EP (onnxruntime/core/session/plugin_ep/ep_plugin_provider_interfaces.cc). So for
# GetCapability the contract is: no crash, the session runs on the CPU EP with right outputs, and the
# panic is reported in ORT's error log. (Should a later ORT propagate the error, a Python exception
# mentioning the panic at session creation is accepted as well.)
@pytest.mark.parametrize("entry, stage", [
    ("CreateEp", "create"),
    ("GetCapability", None),
    ("Compile", "create"),
    ("Compute", "run"),
])
def test_injected_panic_becomes_an_error(synthetic_models, entry, stage):
    env = _clean_env(OVEP_LIBRARY_PATH=ovep.get_library_path(), OVEP_INJECT_PANIC=entry)
    proc_result, where = _run_child(sys.executable, ovep.get_library_path(), synthetic_models["small_cnn"], env)
    if stage is None and proc_result["ovep_ok"]:
        assert proc_result["max_abs_diff"] is not None and proc_result["max_abs_diff"] <= 1e-6, (
            f"{entry} panic: outputs differ from the CPU EP by {proc_result['max_abs_diff']}{where}"
        )
        # ORT's own log line ("OrtEp::GetCapability() [for <EP>] failed with error: ..."), not the panic hook's.
        logged = [ln for ln in where.splitlines()
                  if "GetCapability()" in ln and "failed" in ln and "panic" in ln.lower()]
        assert logged, f"{entry} panic: ORT's log has no GetCapability error mentioning the panic{where}"
        return
    err = proc_result["error"] or ""
    assert not proc_result["ovep_ok"], f"{entry} panic was injected but the ovep session worked{where}"
    assert proc_result["stage"] == (stage or "create"), (
        f"{entry} panic surfaced at stage {proc_result['stage']!r}, expected {stage!r}{where}"
    )
    assert "panic" in err.lower() and entry in err, (
        f"{entry} panic: the Python exception does not mention the panic and its entry point: {err}{where}"
    )
