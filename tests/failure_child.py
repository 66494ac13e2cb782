"""Child process for test_failures.py: register libovep.so, try one ovep session, then a plain CPU EP session.

Runs in a separate process because what it provokes (OpenVINO missing, injected panics) changes process
state. Uses only onnxruntime and numpy, so it also runs in a bare venv that borrows them via PYTHONPATH.
Prints one line `RESULT <json>` and exits 0 whenever it gets that far; a crash shows as a signal or no line.

usage: failure_child.py --lib libovep.so --model model.onnx [--options JSON]
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

import numpy as np
import onnxruntime as ort

EP_NAME = "OvepExecutionProvider"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--options", default="{}")
    args = ap.parse_args()
    result = {"registered": False, "devices": [], "stage": None, "error": None, "ovep_ok": False,
              "max_abs_diff": None, "cpu_ok": False}

    feeds = {"image": np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)}
    try_ovep(args, feeds, result)
    # ORT must still work in this process, whatever happened with ovep.
    try:
        cpu = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
        cpu.run(None, feeds)
        result["cpu_ok"] = True
    except Exception:  # noqa: BLE001
        result["cpu_error"] = traceback.format_exc()
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def try_ovep(args, feeds, result) -> None:
    """Register ovep and run one session with its CPU device; record how far it got and the error text."""
    result["stage"] = "register"
    try:
        ort.register_execution_provider_library("ovep", args.lib)
    except Exception as e:  # noqa: BLE001 - reported to the parent
        result["error"] = f"{type(e).__name__}: {e}"
        return
    result["registered"] = True
    devices = [d for d in ort.get_ep_devices() if d.ep_name == EP_NAME]
    result["devices"] = [dict(d.ep_metadata) for d in devices]
    cpu_devices = [d for d in devices if d.device.type == ort.OrtHardwareDeviceType.CPU]
    if not cpu_devices:
        result["error"] = "ovep offered no CPU device"
        return
    try:
        result["stage"] = "create"
        so = ort.SessionOptions()
        so.add_provider_for_devices(cpu_devices[:1], json.loads(args.options))
        # enable_fallback=0: otherwise the Python wrapper retries on the CPU EP alone and hides the error.
        sess = ort.InferenceSession(args.model, sess_options=so, enable_fallback=0)
        result["stage"] = "run"
        got = sess.run(None, feeds)[0]
        result["stage"] = None
        result["ovep_ok"] = True
        reference = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        result["max_abs_diff"] = float(np.abs(got - reference).max())
    except Exception as e:  # noqa: BLE001 - the error text is what the parent checks
        result["error"] = f"{type(e).__name__}: {e}"


if __name__ == "__main__":
    sys.exit(main())
