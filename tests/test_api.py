"""The Python package's surface: library path, registration, device metadata, `python -m ovep`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ovep


def test_library_path_exists():
    path = ovep.get_library_path()
    assert os.path.isabs(path) and os.path.isfile(path), f"ovep.get_library_path() = {path!r} is not a file"


def test_register_is_idempotent(ort, ovep_devices):
    again = ovep.register(ort)
    key = [(d.ep_name, d.device.device_id, sorted(dict(d.ep_metadata).items())) for d in ovep_devices]
    assert [(d.ep_name, d.device.device_id, sorted(dict(d.ep_metadata).items())) for d in again] == key, (
        "a second ovep.register() returned other devices"
    )
    ovep_eps = [d for d in ort.get_ep_devices() if d.ep_name == ovep.EP_NAME]
    assert len(ovep_eps) == len(ovep_devices), (
        f"ORT lists {len(ovep_eps)} ovep devices after two registrations, expected {len(ovep_devices)}"
    )


def test_device_metadata(ovep_devices):
    for d in ovep_devices:
        meta = dict(d.ep_metadata)
        assert d.ep_name == ovep.EP_NAME
        assert meta.get("ov_device"), f"device without ov_device: {meta}"
        assert meta.get("ov_full_device_name"), f"device without ov_full_device_name: {meta}"


def test_python_m_ovep_runs(ovep_devices):
    # Same interpreter and library; the child finds the ovep package where this process found it.
    pkg_parent = str(Path(ovep.__file__).resolve().parent.parent)
    env = dict(os.environ, OVEP_LIBRARY_PATH=ovep.get_library_path(),
               PYTHONPATH=os.pathsep.join(filter(None, [pkg_parent, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "ovep"], env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"python -m ovep exited {proc.returncode}:\n{out}"
    assert ovep.get_library_path() in proc.stdout, f"python -m ovep does not print the library path:\n{out}"
    cpu_names = [dict(d.ep_metadata)["ov_full_device_name"] for d in ovep_devices
                 if dict(d.ep_metadata).get("ov_device") == "CPU"]
    assert any(name in proc.stdout for name in cpu_names), f"python -m ovep does not list the CPU device:\n{out}"
