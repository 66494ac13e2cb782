"""The cost of a new input shape: the first run at each of N new shapes against steady runs at shapes already
seen, for ovep, ORT's CPU EP and plain OpenVINO (the model compiled dynamic, as ovep's generic model is), one
process each, shapes in the same order. Also the RSS growth over the N shapes. `ovep-fast` is ovep with
`cpu_kernel_cache=1024`, its speed-first setting (more of OpenVINO's per-shape executors kept, for more memory).

    .venv/bin/python bench/new_shapes.py                          (PP-OCRv4 rec, widths 160..480)
    .venv/bin/python bench/new_shapes.py --shapes 50

Printed: median first-run-at-a-new-shape and median steady time per runtime, their ratio, and ovep's new-shape
time against each peer's. Then a recurring workload (widths drawn from 11, as an OCR stream's recur): time per
run against the CPU EP, where ovep's default grows OpenVINO's kernel cache (`ov/memory_bounds.rs`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, os, statistics, sys, time
import numpy as np
runtime, model, n, workload = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[5]
widths = [160 + (k * 37) % 321 for k in range(n)]  # n distinct widths in 160..480, scrambled
assert len(set(widths)) == n
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
if runtime == "openvino":
    import openvino as ov
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                                  "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    run = lambda x: request.infer({0: x})
else:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if runtime.startswith("ovep"):
        sys.path.insert(0, sys.argv[4])
        import ovep
        so.add_provider_for_devices([d for d in ovep.register(ort) if dict(d.ep_metadata).get("ov_device") == "CPU"],
                                    {"cache_dir": "", **({"cpu_kernel_cache": "1024"} if runtime == "ovep-fast" else {})})
        sess = ort.InferenceSession(model, sess_options=so)
    else:
        sess = ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    run = lambda x: sess.run(None, {name: x})
rng = np.random.default_rng(0)
if workload == "recurring":  # 400 runs at widths drawn from 11, as an OCR stream's recur
    drawn = [160 + 32 * int(k) for k in rng.integers(11, size=400)]
    xs = {w: rng.random((1, 3, 48, w), dtype=np.float32) for w in set(drawn)}
    times = []
    for w in drawn:
        t = time.perf_counter(); run(xs[w]); times.append((time.perf_counter() - t) * 1e3)
    print(json.dumps({"mean_ms": statistics.mean(times[200:]), "rss": rss()}))
    sys.exit(0)
first, steady, rss0 = [], [], None
for i, w in enumerate(widths):
    x = rng.random((1, 3, 48, w), dtype=np.float32)
    t = time.perf_counter(); run(x); first.append((time.perf_counter() - t) * 1e3)
    if rss0 is None:
        rss0 = rss()
    for _ in range(2):  # the same shape again: steady (ovep specializes it in the background meanwhile)
        t = time.perf_counter(); run(x); steady.append((time.perf_counter() - t) * 1e3)
print(json.dumps({"first_ms": statistics.median(first[1:]), "steady_ms": statistics.median(steady),
                  "rss_first": rss0, "rss_last": rss()}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(HERE.parent / ".models" / "ppocr_rec.onnx"))
    ap.add_argument("--shapes", type=int, default=100)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from run import ovep_env  # noqa: PLC0415

    env, lib = ovep_env()
    if env is None:
        sys.exit(lib)
    results, recurring = {}, {}
    for runtime in ("ovep", "ovep-fast", "cpu", "openvino"):
        for workload, into in (("new", results), ("recurring", recurring)):
            p = subprocess.run([sys.executable, "-c", CHILD, runtime, args.model, str(args.shapes),
                                str(HERE.parent / "python"), workload], capture_output=True, text=True,
                               env={**os.environ, **env})
            if p.returncode != 0:
                sys.exit(f"{runtime} ({workload}) failed:\n{p.stderr[-3000:]}")
            into[runtime] = json.loads(p.stdout.strip().splitlines()[-1])
    print(f"{Path(args.model).name}, {args.shapes} new shapes (1x3x48xW), medians, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"{'runtime':10} {'new shape ms':>13} {'steady ms':>10} {'new/steady':>11} {'RSS last/first':>15}")
    for name, r in results.items():
        print(f"{name:10} {r['first_ms']:13.1f} {r['steady_ms']:10.1f} {r['first_ms'] / r['steady_ms']:11.2f} "
              f"{r['rss_last'] / r['rss_first']:15.2f}")
    for mine in ("ovep", "ovep-fast"):
        o = results[mine]
        for peer in ("cpu", "openvino"):
            print(f"{mine} / {peer}: new shape {o['first_ms'] / results[peer]['first_ms']:.2f}, "
                  f"steady {o['steady_ms'] / results[peer]['steady_ms']:.2f}")
    print("\nrecurring widths: 400 runs at widths drawn from 11 (160..480), mean of the last 200")
    print(f"{'runtime':10} {'ms per run':>11} {'/ cpu':>7} {'RSS MiB':>8}")
    for name, r in recurring.items():
        print(f"{name:10} {r['mean_ms']:11.1f} {r['mean_ms'] / recurring['cpu']['mean_ms']:7.2f} {r['rss']:8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
