"""The main job: PP-OCRv4 det (from the rapidocr-onnxruntime wheel) through ONNX Runtime
with ovep, next to ORT's CPU EP. Each start is a fresh process, timed from
`import onnxruntime` to the end of the first inference: cold (ovep's compiled-model cache
empty: it converts, compiles and fills the cache), then warm (it imports from the cache);
steady state is the median of later runs; agreement is the max abs difference of ovep's
output from the CPU EP's.

    .venv/bin/python tools/demo.py [--model .models/ppocr_det.onnx] [--shape 1x3x640x640]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def child(model: str, shape: list[int], config: str, out_npy: str, cache_dir: str) -> dict:
    import numpy as np

    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    t0 = time.perf_counter()
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    providers = None
    if config == "ovep":
        import ovep

        so.add_provider_for_devices(ovep.register(ort)[:1], {"cache_dir": cache_dir})
    else:
        providers = ["CPUExecutionProvider"]
    sess = ort.InferenceSession(model, sess_options=so, providers=providers)
    name = sess.get_inputs()[0].name
    y = sess.run(None, {name: x})[0]
    first = (time.perf_counter() - t0) * 1e3
    runs = []
    for _ in range(20):
        t = time.perf_counter()
        sess.run(None, {name: x})
        runs.append((time.perf_counter() - t) * 1e3)
    np.save(out_npy, y)
    return {"first_ms": first, "steady_ms": statistics.median(runs), "ort": ort.__version__}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.path.join(ROOT, ".models", "ppocr_det.onnx"))
    ap.add_argument("--shape", default="1x3x640x640")
    ap.add_argument("--child", choices=["cpu", "ovep"], help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    shape = [int(d) for d in args.shape.split("x")]
    if args.child:
        print(json.dumps(child(args.model, shape, args.child, args.out, args.cache_dir)))
        return 0
    if not os.path.exists(args.model):
        print(f"demo: {args.model} is missing: run tools/setup.sh first", file=sys.stderr)
        return 1

    import numpy as np

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for config in ("cpu", "ovep"):
            for start in ("cold", "warm"):
                out = os.path.join(tmp, f"{config}-{start}.npy")
                p = subprocess.run(
                    [sys.executable, __file__, "--model", args.model, "--shape", args.shape, "--child", config, "--out", out,
                     "--cache-dir", os.path.join(tmp, "cache")],
                    capture_output=True,
                    text=True,
                )
                if p.returncode != 0:
                    print(f"demo: {config} ({start}) failed:\n{p.stderr}", file=sys.stderr)
                    return 1
                results[(config, start)] = json.loads(p.stdout.strip().splitlines()[-1])
                results[(config, start)]["out"] = np.load(out)
    ref = results[("cpu", "cold")]["out"]
    import ovep
    import openvino

    print(f"{os.path.basename(args.model)} input {args.shape}; onnxruntime {results[('cpu', 'cold')]['ort']}, "
          f"OpenVINO {openvino.__version__}, ovep {ovep.__version__}")
    print(f"{'config':8} {'start':6} {'first inference ms':>19} {'steady ms':>10} {'max abs diff vs CPU EP':>23}")
    for (config, start), r in results.items():
        diff = float(np.abs(r["out"].astype(np.float64) - ref).max())
        print(f"{config:8} {start:6} {r['first_ms']:19.0f} {r['steady_ms']:10.2f} {diff:23.3g}")
    cpu, ov = results[("cpu", "warm")], results[("ovep", "warm")]
    print(f"ovep / CPU EP (warm): first inference {ov['first_ms'] / cpu['first_ms']:.2f}x, "
          f"steady state {ov['steady_ms'] / cpu['steady_ms']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
