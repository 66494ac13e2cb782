"""First inference on every start path, each sample a fresh process, ratios against peers of the same run.

    .venv/bin/python bench/first_inference.py                  (after tools/setup.sh, bench/setup_intree.sh)
    python bench/first_inference.py --models resnet50_like --reps 3 --no-intree

Configs: cpu (ORT's CPU EP); ovep (no cache); ovep-cold (an empty cache, filled by the process: what a
first start costs); ovep-warm (the cache filled before timing); ovep-ctx (loading an EPContext model ovep
wrote with `ovep precompile --context-out`); ovep-fast (ovep.InferenceSession on the original model, with
the fast-start cache filled before timing); in-tree / in-tree-warm (ORT's own OpenVINO EP without and with
its cache_dir filled); ov-floor (openvino read+compile); ov-import (openvino import of an exported blob,
after importing onnxruntime too: the floor for an EPContext load). State for warm configs is prepared
untimed per model; each repetition runs every config once, in a rotated order.
Results: Markdown on stdout and bench/results/first_inference.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import report  # noqa: E402
from run import (  # noqa: E402
    MODELS, chosen, diffs_against_cpu, make_inputs, model_paths, run_child, runtimes, warm_file,
)

CONFIGS = ("cpu", "ovep", "ovep-cold", "ovep-warm", "ovep-ctx", "ovep-fast", "in-tree", "in-tree-warm",
           "ov-floor", "ov-import")
# silero_vad is the partitioned one: its If nodes stay on the CPU EP, its convolutions go to OpenVINO.
DEFAULT_MODELS = ("resnet50_like", "mobilenetv2_like", "bert_base_like", "ppocr_det", "ppocr_rec", "silero_vad")

# (name, numerator, denominator, metric, limit, best-process metric): issue 4's targets.
TARGETS = [
    ("warm / no cache", "ovep-warm", "ovep", "first_ms", 0.8, "first_best_ms"),
    ("cold / no cache", "ovep-cold", "ovep", "first_ms", 1.05, "first_best_ms"),
    ("ctx load / ov import", "ovep-ctx", "ov-import", "first_ms", 1.1, "first_best_ms"),
    ("fast start / ctx load", "ovep-fast", "ovep-ctx", "first_ms", 1.15, "first_best_ms"),
    ("fast start / cpu", "ovep-fast", "cpu", "first_ms", 1.0, "first_best_ms"),
    ("warm RSS / no-cache RSS", "ovep-warm", "ovep", "peak_rss_mib", 1.0, None),
    ("in-tree warm / in-tree", "in-tree-warm", "in-tree", "first_ms", 1.0, "first_best_ms"),
]


# Models `ovep precompile --context-out` refused, with its reason.
NO_CONTEXT: dict[str, str] = {}


def prepare(model: str, path: str, inputs: str, work: str, configs, pythons, envs) -> dict[str, list[str] | None]:
    """Untimed per-model state; returns the extra child arguments of each config (None: cannot run)."""
    d = os.path.join(work, model)
    os.makedirs(d)
    extra: dict[str, list[str]] = {c: ["--model", path] for c in configs}
    once = ["--inputs", inputs, "--steady", "0", "--warmup", "0"]
    if "ovep-warm" in configs:
        extra["ovep-warm"] += ["--cache-dir", os.path.join(d, "warm")]
        run_child(pythons["ovep-warm"], envs["ovep-warm"], ["--config", "ovep-warm", *extra["ovep-warm"], *once], work)
    if "ovep-ctx" in configs:
        ctx = os.path.join(d, "ctx", f"{model}_ctx.onnx")
        p = subprocess.run([sys.executable, "-m", "ovep", "precompile", path, "--context-out", ctx,
                            "-o", "precision=f32"], env=envs["ovep-ctx"], capture_output=True, text=True)
        if p.returncode == 0:
            extra["ovep-ctx"] = ["--model", ctx]
        else:  # A model can have no EPContext form (ovep says why): its ovep-ctx samples carry that reason.
            extra["ovep-ctx"] = None
            NO_CONTEXT[model] = (p.stderr.strip().splitlines() or ["ovep precompile failed"])[-1]
    if "ovep-fast" in configs:
        extra["ovep-fast"] += ["--cache-dir", os.path.join(d, "fast")]
        run_child(pythons["ovep-fast"], envs["ovep-fast"], ["--config", "ovep-fast", *extra["ovep-fast"], *once], work)
    if "in-tree-warm" in configs:
        extra["in-tree-warm"] += ["--cache-dir", os.path.join(d, "intree")]
        run_child(pythons["in-tree-warm"], envs["in-tree-warm"], ["--config", "in-tree-warm", *extra["in-tree-warm"], *once], work)
    if "ov-import" in configs:
        blob = os.path.join(d, "ov.blob")
        run_child(pythons["ov-import"], envs["ov-import"], ["--config", "ov-import", "--model", path, "--export-blob", blob], work)
        extra["ov-import"] = ["--blob", blob]
    return extra


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma list of " + ",".join(MODELS))
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma list of " + ",".join(CONFIGS))
    ap.add_argument("--no-intree", action="store_true", help="skip the in-tree EP configs")
    ap.add_argument("--reps", type=int, default=3, help="fresh processes per model and config (default 3)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "first_inference.md"))
    args = ap.parse_args(argv)
    models = chosen(ap, "model", args.models, MODELS)
    configs = [c for c in chosen(ap, "config", args.configs, CONFIGS)
               if not (args.no_intree and c.startswith("in-tree"))]
    pythons, envs, notes = runtimes(configs)
    paths = model_paths(models)

    meta = report.machine_info(pythons, notes)
    work = tempfile.mkdtemp(prefix="ovep_first_")
    started = time.perf_counter()
    samples = {m: {c: [] for c in configs} for m in models}
    diffs: dict = {m: {} for m in models}
    try:
        for c in configs:
            if c != "ov-import":
                run_child(pythons[c], envs[c], ["--config", c, "--warm-only"], work)
        for m in models:
            warm_file(paths[m])
            inputs = os.path.join(work, f"{m}.npz")
            np.savez(inputs, **make_inputs(MODELS[m], paths[m]))
            extra = prepare(m, paths[m], inputs, work, configs, pythons, envs)
            outputs = {}
            for r in range(args.reps):
                for c in configs[r % len(configs):] + configs[: r % len(configs)]:
                    more = ["--inputs", inputs, "--steady", "3", "--warmup", "1", "--max-steady-seconds", "1"]
                    if c == "ovep-cold":  # a cache of its own, empty, for every process
                        cold = os.path.join(work, m, f"cold-{r}")
                        shutil.rmtree(cold, ignore_errors=True)
                        more += ["--cache-dir", cold]
                    if r == 0:
                        outputs[c] = os.path.join(work, f"{m}.{c}.npy")
                        more += ["--save-output", outputs[c]]
                    if extra[c] is None:
                        res = {"error": f"no EPContext model: {NO_CONTEXT[m]}"}
                    else:
                        res = run_child(pythons[c], envs[c], ["--config", c, *extra[c], *more], work)
                    samples[m][c].append(res)
                    status = f"error: {report.error_head(res['error'])}" if "error" in res else \
                        f"first {res['first_ms']:.0f} ms, rss {res['peak_rss_mib']:.0f} MiB"
                    print(f"[{m} rep {r + 1}/{args.reps}] {c:12s} {status}", file=sys.stderr, flush=True)
            diffs[m] = diffs_against_cpu(outputs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = report.summarize(samples, diffs, {})
    meta.update(loadavg_at_end=os.getloadavg()[0], reps=args.reps, steady_runs=3,
                elapsed_s=round(time.perf_counter() - started), models=models, configs=configs)
    md = report.markdown(summary, meta, {m: os.path.getsize(paths[m]) for m in models}, TARGETS,
                         title="ovep first-inference bench")
    print(md)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
