"""Do quantized (QDQ) models run as int8 on OpenVINO? Steady-state time of a model's f32 form against its QDQ
int8 form (ORT's static quantizer, tools/zoo_variants.py), with ovep and with the CPU EP, in one process,
runs interleaved. If OpenVINO dequantized to f32 the QDQ form would be no faster (it would be slower).

    .venv/bin/python bench/int8.py                       (ResNet-50-like, tools/synth_models.py)
    .venv/bin/python bench/int8.py --model .models/ppocr_det.onnx --input x --shape 1,3,640,640

Measured 2026-11-24 on the 2-core EPYC (u8 activations): ResNet-50-like int8/f32 0.29 with ovep (11.4 vs
39.0 ms; the CPU EP 0.34), so OpenVINO runs it as int8; PP-OCRv4 det 1.56 (its depthwise convolutions and
hard-swish activations between quantize/dequantize pairs gain nothing from int8 here, on either EP).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tools"))
sys.path.insert(0, str(HERE))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(HERE.parent / ".models" / "resnet50_like.onnx"))
    ap.add_argument("--input", default="input")
    ap.add_argument("--shape", default="1,3,224,224")
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--activations", choices=["s8", "u8"], default="u8",
                    help="activation type of the QDQ model (OpenVINO's int8 kernels take u8 activations)")
    args = ap.parse_args()
    shape = tuple(int(s) for s in args.shape.split(","))

    from run import ovep_env  # noqa: PLC0415 - point at the repo build when ovep is not installed

    env, lib = ovep_env()
    if env is None:
        sys.exit(lib)
    os.environ.update({k: v for k, v in env.items() if k in ("OVEP_LIBRARY_PATH",)})
    sys.path.insert(0, str(HERE.parent / "python"))
    import onnxruntime as ort  # noqa: PLC0415

    import ovep  # noqa: PLC0415
    import zoo_variants  # noqa: PLC0415

    tmp = Path(tempfile.mkdtemp(prefix="ovep_int8_"))
    qdq = zoo_variants.qdq_int8(Path(args.model), tmp / "qdq.onnx", args.input, shape,
                                unsigned_activations=args.activations == "u8")
    devices = [d for d in ovep.register(ort) if dict(d.ep_metadata).get("ov_device") == "CPU"]

    def session(path, with_ovep):
        so = ort.SessionOptions()
        so.log_severity_level = 3
        # Four sessions share the process: idle ORT threads must not spin on the cores the
        # measured one uses.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if with_ovep:
            so.add_provider_for_devices(devices, {"cache_dir": "", "precision": "f32"})
            return ort.InferenceSession(str(path), sess_options=so)
        return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])

    feeds = {args.input: np.random.default_rng(0).random(shape, dtype=np.float32)}
    sessions = {(form, ep): session(path, ep == "ovep")
                for form, path in (("f32", args.model), ("int8", qdq)) for ep in ("ovep", "cpu")}
    for s in sessions.values():
        for _ in range(5):
            s.run(None, feeds)
    times = {k: [] for k in sessions}
    for _ in range(args.runs):
        for k, s in sessions.items():
            t = time.perf_counter()
            s.run(None, feeds)
            times[k].append((time.perf_counter() - t) * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{Path(args.model).name} {shape}, QDQ with {args.activations} activations, {args.runs} interleaved runs, "
          "median ms:")
    for ep in ("ovep", "cpu"):
        print(f"  {ep:5s} f32 {med[('f32', ep)]:8.2f}  int8 {med[('int8', ep)]:8.2f}  "
              f"int8/f32 {med[('int8', ep)] / med[('f32', ep)]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
