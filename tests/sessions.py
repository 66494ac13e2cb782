"""Session helpers: an ovep session (ovep's CPU device, ORT's CPU EP as fallback), a CPU-EP-only reference
session, and which provider ran which nodes (from ORT's profiling JSON)."""

from __future__ import annotations

import atexit
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import onnxruntime as ort

import ovep

_PROFILE_DIR = Path(tempfile.mkdtemp(prefix="ovep-test-profiles-"))
atexit.register(shutil.rmtree, _PROFILE_DIR, ignore_errors=True)


# Prelude of a test's child process (python -c): ovep from the installed package, else from this source tree,
# whose library then comes from OVEP_LIBRARY_PATH.
CHILD_IMPORTS_OVEP = f"""
import sys
try:
    import ovep
except ImportError:
    sys.path.insert(0, {str(Path(__file__).resolve().parent.parent / "python")!r})
    import ovep
"""


def child_result_and_log(script: str, *args: str, timeout: int) -> tuple[dict, str]:
    """Run `script` (python -c) in a fresh process with `args`: it must exit 0 and print its result as
    JSON on its last line of output. Returns that result and the process's stderr (ORT's log)."""
    p = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


def child_result(script: str, *args: str, timeout: int) -> dict:
    """`child_result_and_log` without the log."""
    return child_result_and_log(script, *args, timeout=timeout)[0]


def ovep_cpu_device():
    """ovep's OrtEpDevice for OpenVINO's CPU plugin (registers ovep on first use)."""
    devices = ovep.register(ort)
    cpu = [d for d in devices if dict(d.ep_metadata).get("ov_device") == "CPU"]
    assert cpu, (
        f"ovep offers no CPU device; it offers {[dict(d.ep_metadata) for d in devices]} "
        f"(library {ovep.get_library_path()})"
    )
    return cpu[0]


def _session_options(profile: bool, so_kwargs: dict) -> ort.SessionOptions:
    so = ort.SessionOptions()
    for key, value in so_kwargs.items():
        if not hasattr(so, key):
            raise AttributeError(f"SessionOptions has no attribute {key!r}")
        setattr(so, key, value)
    if profile:
        so.enable_profiling = True
        so.profile_file_prefix = str(_PROFILE_DIR / "ovep")
    return so


def _model_arg(path_or_bytes):
    return str(path_or_bytes) if isinstance(path_or_bytes, (str, os.PathLike)) else path_or_bytes


def make_session(path_or_bytes, options: dict | None = None, profile: bool = False, **so_kwargs):
    """An InferenceSession with ovep's CPU device; ORT adds its CPU EP for the nodes ovep leaves.

    `options` are ovep's provider options (values are stringified); `so_kwargs` set SessionOptions
    attributes (e.g. ``intra_op_num_threads=1``).
    """
    so = _session_options(profile, so_kwargs)
    so.add_provider_for_devices([ovep_cpu_device()], {str(k): str(v) for k, v in (options or {}).items()})
    # enable_fallback=0: onnxruntime's Python wrapper otherwise answers an EP failure (at creation or in
    # run) by printing "Falling back to ['CPUExecutionProvider'] and retrying", which would hide ovep's errors.
    return ort.InferenceSession(_model_arg(path_or_bytes), sess_options=so, enable_fallback=0)


def cpu_session(path_or_bytes, profile: bool = False, **so_kwargs):
    """The reference: ORT's own CPU EP only."""
    so = _session_options(profile, so_kwargs)
    return ort.InferenceSession(_model_arg(path_or_bytes), sess_options=so, providers=["CPUExecutionProvider"])


def providers_used(sess) -> collections.Counter:
    """End profiling on `sess` and count its node events per provider (e.g. {'OvepExecutionProvider': 3}).

    Each run of the session adds its node events, so counts scale with the number of profiled runs.
    """
    path = sess.end_profiling()
    assert path, "the session was not created with profile=True"
    try:
        with open(path) as f:
            events = json.load(f)
    finally:
        os.unlink(path)
    return collections.Counter(
        e["args"]["provider"] for e in events if e.get("cat") == "Node" and "provider" in e.get("args", {})
    )


def assert_ovep_ran(counts: collections.Counter, what: str) -> None:
    assert counts.get(ovep.EP_NAME, 0) > 0, (
        f"{what}: no node ran on {ovep.EP_NAME}; node events per provider: {dict(counts)}"
    )
