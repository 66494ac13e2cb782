"""One measurement in a fresh process: first inference, steady state and peak RSS of one model/config.

bench/run.py starts this file with the Python of the config's venv (the in-tree EP lives in its own
venv, so this file imports only numpy and the runtime under test: no onnx, no ovep unless asked).
It writes a JSON result to --result; on failure the JSON has "error" and the process exits 1.

"first" is timed from just before `import onnxruntime` (or `import openvino`) to the end of the first
run; numpy and the inputs are loaded before the clock starts, the same for every config.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import traceback

import numpy as np

CONFIGS = ("cpu", "ovep", "ovep-warm", "ov-floor", "in-tree",
           # the zoo bench: ovep and plain OpenVINO with bf16 inference precision
           "ovep-bf16", "ov-floor-bf16",
           # bench/first_inference.py: the start paths, each from state prepared untimed by the parent
           "ovep-cold", "ovep-ctx", "ovep-fast", "in-tree-warm", "ov-import")
OVEP_CONFIGS = ("ovep", "ovep-warm", "ovep-cold", "ovep-ctx", "ovep-fast", "ovep-bf16")
# What the project's targets compare against: OpenVINO at f32 with the latency hint.
OV_FLOOR_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
OV_FLOOR_BF16_CONFIG = dict(OV_FLOOR_CONFIG, INFERENCE_PRECISION_HINT="bf16")
OVEP_OPTIONS = {"precision": "f32", "cache_dir": ""}  # f32 spelled out; "ovep" measures without the cache
# "ovep-warm": the same with a compiled-model cache that run.py filled before timing (OVEP_BENCH_CACHE,
# or --cache-dir); "ovep-cold": an empty cache (filled by this process); "ovep-ctx": --model is an
# EPContext model ovep wrote; "ovep-fast": ovep.InferenceSession(original model) with a fast-start
# cache filled before timing; "in-tree-warm": the in-tree EP with its cache_dir filled before timing;
# "ov-import": openvino's import_model of a blob exported before timing (--blob), after importing
# onnxruntime too (the floor for loading an EPContext model through ORT).
INTREE_OPTIONS = {"device_type": "CPU", "precision": "FP32"}


def _ms(t0: float, t1: float) -> float:
    return (t1 - t0) * 1e3


def _ort_session(config: str, model: str, profile: bool, cache_dir: str | None = None):
    """Import ORT, register ovep when needed, create the session. Returns (ort, session, t_imported)."""
    import onnxruntime as ort  # noqa: PLC0415 - importing is part of what is measured

    so = ort.SessionOptions()
    so.log_severity_level = 3  # keep EP chatter out of the captured stderr
    if profile:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ovep_bench_{os.getpid()}")
    providers = None
    if config == "ovep-fast":
        import ovep  # noqa: PLC0415

        t_imported = time.perf_counter()
        sess = ovep.InferenceSession(model, so, device="CPU", options={"precision": "f32"}, cache_dir=cache_dir)
        return ort, sess, t_imported
    if config in OVEP_CONFIGS:
        import ovep  # noqa: PLC0415

        devices = ovep.register(ort)
        cpu = [d for d in devices if d.ep_metadata.get("ov_device") == "CPU"]
        if not (cpu or devices):
            raise RuntimeError(f"ovep registered but offers no device (library {ovep.get_library_path()})")
        options = OVEP_OPTIONS
        if config in ("ovep-warm", "ovep-cold"):
            options = dict(OVEP_OPTIONS, cache_dir=cache_dir or os.environ["OVEP_BENCH_CACHE"])
        elif config == "ovep-bf16":
            options = dict(OVEP_OPTIONS, precision="bf16")
        so.add_provider_for_devices((cpu or devices)[:1], options)
    elif config in ("in-tree", "in-tree-warm"):
        options = dict(INTREE_OPTIONS, cache_dir=cache_dir) if config == "in-tree-warm" else INTREE_OPTIONS
        providers = [("OpenVINOExecutionProvider", options), "CPUExecutionProvider"]
    else:
        providers = ["CPUExecutionProvider"]
    t_imported = time.perf_counter()
    sess = ort.InferenceSession(model, sess_options=so, providers=providers)
    if config.startswith("in-tree") and "OpenVINOExecutionProvider" not in sess.get_providers():
        raise RuntimeError(f"in-tree: OpenVINOExecutionProvider not active (providers {sess.get_providers()})")
    return ort, sess, t_imported


def _placement(profile_path: str) -> dict[str, int]:
    """Kernel events per provider in an ORT profile (ovep's fused nodes count once each)."""
    with open(profile_path) as f:
        events = json.load(f)
    os.unlink(profile_path)
    counts: dict[str, int] = {}
    for ev in events:
        if ev.get("cat") == "Node" and ev.get("name", "").endswith("_kernel_time"):
            prov = ev.get("args", {}).get("provider", "?")
            counts[prov] = counts.get(prov, 0) + 1
    return counts


def _ov_first_run(compiled, feeds):
    """An infer request on `compiled` and its first run: (run, first output, t_session, t_first)."""
    req = compiled.create_infer_request()
    t_sess = time.perf_counter()

    # share_inputs: OpenVINO reads the numpy buffers as ORT does; outputs are copied out as ORT's are.
    def run():
        return req.infer(feeds, share_inputs=True)[0]

    first = run()
    return run, first, t_sess, time.perf_counter()


def measure(args) -> dict:
    feeds = dict(np.load(args.inputs))
    res: dict = {"config": args.config, "pid": os.getpid()}
    t0 = time.perf_counter()
    if args.config == "ov-import":
        import onnxruntime  # noqa: F401, PLC0415 - loading an EPContext model through ORT pays for ORT too
        import openvino as ov  # noqa: PLC0415

        t_imp = time.perf_counter()
        core = ov.Core()
        with open(args.blob, "rb") as f:
            compiled = core.import_model(f.read(), "CPU", OV_FLOOR_CONFIG)
        run, first, t_sess, t_first = _ov_first_run(compiled, feeds)
        res["versions"] = {"openvino": ov.get_version()}
    elif args.config in ("ov-floor", "ov-floor-bf16"):
        import openvino as ov  # noqa: PLC0415

        t_imp = time.perf_counter()
        core = ov.Core()
        config = OV_FLOOR_BF16_CONFIG if args.config == "ov-floor-bf16" else OV_FLOOR_CONFIG
        compiled = core.compile_model(core.read_model(args.model), "CPU", config)
        run, first, t_sess, t_first = _ov_first_run(compiled, feeds)
        res["versions"] = {"openvino": ov.get_version()}
    else:
        ort, sess, t_imp = _ort_session(args.config, args.model, args.placement, args.cache_dir)
        t_sess = time.perf_counter()
        def run():
            return sess.run(None, feeds)[0]
        first = run()
        t_first = time.perf_counter()
        res["versions"] = {"onnxruntime-openvino" if args.config.startswith("in-tree") else "onnxruntime": ort.__version__}
        res["providers"] = sess.get_providers()
        if args.placement:
            res["placement"] = _placement(sess.end_profiling())
    res["import_ms"] = _ms(t0, t_imp)
    res["session_ms"] = _ms(t_imp, t_sess)
    res["first_run_ms"] = _ms(t_sess, t_first)
    res["first_ms"] = _ms(t0, t_first)
    if args.save_output:
        np.save(args.save_output, np.asarray(first))
    res["output_finite"] = bool(np.all(np.isfinite(first)))

    for _ in range(args.warmup):
        run()
    if args.config in OVEP_CONFIGS:
        # Steady state is after ovep's background work: a dynamic model's trial shape specialization
        # (started by the second run of a shape) has landed and its few judging runs are done. The
        # transient itself is what bench/new_shapes.py measures.
        from ovep import _capi  # noqa: PLC0415

        _capi.wait_background(120.0)
        for _ in range(args.warmup):
            run()
        # Measured placement (src/runtime/placement.rs) judges a small subgraph on the session's own runs: once
        # a dynamic model's specialization is judged, 8 steady runs, a CPU session built in the background, 3
        # warm-up runs of it, then 30 runs alternating OpenVINO and ORT's kernels. Steady state is after its
        # verdict (a large model is never tried: nothing to wait for).
        t = time.perf_counter()
        run()
        if time.perf_counter() - t < 0.005:
            for _ in range(32):
                run()
            _capi.wait_background(120.0)
            for _ in range(48):
                run()
    times = []
    deadline = time.perf_counter() + args.max_steady_seconds
    for i in range(args.steady):
        t = time.perf_counter()
        run()
        times.append(_ms(t, time.perf_counter()))
        if i + 1 >= args.min_steady and time.perf_counter() > deadline:
            break  # a slow model keeps the run bounded; the median of >= min_steady still stands
    res["steady_ms"] = times
    res["steady_median_ms"] = float(np.median(times)) if times else None
    res["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    return res


def warm_only(config: str) -> dict:
    """Load the runtime's libraries once so the first measured child does not pay cold page cache."""
    if config in ("ov-floor", "ov-floor-bf16", "ov-import"):
        import openvino as ov  # noqa: PLC0415

        ov.Core().get_versions("CPU")
    else:
        import onnxruntime as ort  # noqa: PLC0415

        if config in OVEP_CONFIGS:
            import ovep  # noqa: PLC0415

            ovep.register(ort)
    return {"config": config, "warm": True}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, choices=CONFIGS)
    ap.add_argument("--model")
    ap.add_argument("--inputs", help=".npz of input name -> array")
    ap.add_argument("--result", required=True)
    ap.add_argument("--save-output", help="write the first output of the first run here (.npy)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steady", type=int, default=30)
    ap.add_argument("--min-steady", type=int, default=5)
    ap.add_argument("--max-steady-seconds", type=float, default=8.0)
    ap.add_argument("--placement", action="store_true", help="profile the first run and count kernels per EP")
    ap.add_argument("--warm-only", action="store_true")
    ap.add_argument("--cache-dir", help="ovep-warm/-cold/-fast, in-tree-warm: the cache directory")
    ap.add_argument("--blob", help="ov-import: the exported compiled model")
    ap.add_argument("--export-blob", help="compile --model with openvino and export it here, then exit")
    args = ap.parse_args()
    try:
        if args.export_blob:
            import openvino as ov  # noqa: PLC0415

            core = ov.Core()
            compiled = core.compile_model(core.read_model(args.model), "CPU", OV_FLOOR_CONFIG)
            blob = compiled.export_model()  # a BytesIO in openvino 2026
            with open(args.export_blob, "wb") as f:
                f.write(blob.getvalue() if hasattr(blob, "getvalue") else blob)
            res = {"config": args.config, "exported": args.export_blob}
        else:
            res = warm_only(args.config) if args.warm_only else measure(args)
        code = 0
    except BaseException as e:  # noqa: BLE001 - every failure must reach the report, not kill the bench
        res = {"config": args.config, "error": f"{type(e).__name__}: {e}".strip(), "traceback": traceback.format_exc()}
        code = 1
    with open(args.result, "w") as f:
        json.dump(res, f)
    return code


if __name__ == "__main__":
    sys.exit(main())
