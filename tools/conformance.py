#!/usr/bin/env python3
"""ONNX backend node conformance for ovep: every node test shipped in the ``onnx`` wheel, run through
(a) ORT's CPU EP alone and (b) ovep (OpenVINO CPU device, ``min_subgraph_nodes=1`` so single nodes are
offered) with ORT's CPU EP as fallback, each checked against the test's expected outputs.

    OVEP_LIBRARY_PATH=target/release/libovep.so PYTHONPATH=python \\
        python tools/conformance.py [--filter REGEX] [--jobs N] [--json PATH] [--markdown PATH]

A *regression* is a case the CPU EP passes and the ovep session fails (wrong output, an error, a crash or a
hang): adding ovep must never break a model ORT runs correctly. The exit status is 1 when there is one.

Cases run in ``--jobs`` worker processes (this file with ``--worker``), each reusing one registered ovep
across its cases. A worker that crashes or hangs is restarted and the case counts as an ovep failure,
with the tail of the worker's stderr as the error. Which provider ran the nodes comes from ORT's profiling
of the ovep session (node events carry ``args.provider``): it reports what actually executed, where
ovep's "claimed N of M nodes" log line only says what was offered, and costs a few ms per case.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RTOL, ATOL = 1e-3, 1e-7  # the ONNX backend test runner's defaults (every node case uses them)
# ovep options for the conformance run; num_threads=1 because the test tensors are tiny and --jobs
# workers already fill the cores (more threads only add OpenVINO thread-pool start-up per session).
OVEP_OPTIONS = {"min_subgraph_nodes": "1", "num_threads": "1"}
CASE_TIMEOUT_S = 120.0  # per case; a hung worker is killed and the case counts as failed
ERROR_CHARS = 1500  # error text kept per case in the JSON


@dataclass
class Case:
    name: str
    model_dir: str
    op: str  # the tested op; "<Op> (expanded)" for a function op's expansion into primitive ops
    nodes: int


@dataclass
class CaseResult:
    name: str
    op: str
    nodes: int
    cpu_pass: bool = False
    cpu_error: str | None = None
    ovep_pass: bool = False
    ovep_error: str | None = None
    ovep_crashed: bool = False
    # node events in the ovep session's profile, per provider (None: the session never ran)
    nodes_on_openvino: int | None = None
    nodes_on_cpu: int | None = None
    seconds: float = 0.0

    @property
    def on_openvino(self) -> bool:
        return bool(self.nodes_on_openvino)

    @property
    def regression(self) -> bool:
        return self.cpu_pass and not self.ovep_pass

    @property
    def status(self) -> str:
        """openvino: correct with nodes on OpenVINO; fallback: correct, all on CPU; broken: CPU passes but
        ovep fails; cpu_fails: the CPU EP fails too (ovep failing as well)."""
        if self.ovep_pass:
            return "openvino" if self.on_openvino else "fallback"
        return "broken" if self.cpu_pass else "cpu_fails"


@dataclass
class Report:
    environment: dict
    results: list[CaseResult]
    wall_seconds: float
    jobs: int
    ops: list[dict] = field(default_factory=list)

    @property
    def regressions(self) -> list[CaseResult]:
        return [r for r in self.results if r.regression]

    def counts(self) -> dict:
        rs = self.results
        return {
            "cases": len(rs),
            "cpu_passes": sum(r.cpu_pass for r in rs),
            "ovep_passes": sum(r.ovep_pass for r in rs),
            "on_openvino_and_correct": sum(r.status == "openvino" for r in rs),
            "regressions": sum(r.regression for r in rs),
            "ovep_crashes": sum(r.ovep_crashed for r in rs),
        }

    def summary_line(self) -> str:
        c = self.counts()
        env = self.environment
        return (
            f"conformance (onnxruntime {env.get('onnxruntime')}, onnx {env.get('onnx')}): "
            f"{c['cases']} cases, cpu passes {c['cpu_passes']}, ovep passes {c['ovep_passes']}, "
            f"on OpenVINO and correct {c['on_openvino_and_correct']}, regressions {c['regressions']} "
            f"(crashes {c['ovep_crashes']}); {self.wall_seconds:.0f} s with {self.jobs} jobs"
        )

    def to_json(self) -> dict:
        return {
            "environment": self.environment,
            "summary": self.counts() | {"wall_seconds": round(self.wall_seconds, 1), "jobs": self.jobs},
            "ops": op_table(self.results),
            "cases": [asdict(r) | {"status": r.status} for r in self.results],
        }


# ---- the case list (parent side; needs only onnx) ---------------------------------------------------

_EXPANDED = re.compile(r"_expanded(_ver\d+)?$")


def list_cases(filter_regex: str | None = None) -> list[Case]:
    """The node cases of the installed onnx wheel, sorted by name, optionally filtered (re.search)."""
    import onnx
    from onnx.backend.test.loader import load_model_tests

    tests = sorted(load_model_tests(kind="node"), key=lambda t: t.name)
    # Expanded cases hold a function op's body; name them after the op their base case tests.
    ops = {}
    graphs = {}
    for t in tests:
        g = onnx.load(os.path.join(t.model_dir, "model.onnx"), load_external_data=False).graph
        graphs[t.name] = [n.op_type for n in g.node]
        if len(g.node) == 1:
            ops[t.name] = g.node[0].op_type
    cases = []
    for t in tests:
        node_ops = graphs[t.name]
        if len(node_ops) == 1:
            op = node_ops[0]
        else:
            # test_x_expanded -> test_x; test_x_expanded_ver18 -> test_x_ver18, else test_x
            bases = [_EXPANDED.sub(r"\1", t.name), _EXPANDED.sub("", t.name)]
            base = next((b for b in bases if b in ops), None)
            op = f"{ops[base]} (expanded)" if base else t.name
        if t.rtol != RTOL or t.atol != ATOL:  # the runner's tolerances are the contract; say so if they move
            raise RuntimeError(f"{t.name}: onnx asks rtol={t.rtol} atol={t.atol}, this tool uses {RTOL}/{ATOL}")
        cases.append(Case(t.name, t.model_dir, op, len(node_ops)))
    if filter_regex:
        rx = re.compile(filter_regex)
        cases = [c for c in cases if rx.search(c.name)]
    return cases


# ---- the worker process -----------------------------------------------------------------------------


class _WorkerDied(Exception):
    pass


class _Worker:
    """One ``conformance.py --worker`` process; its stderr goes to a file kept for crash reports."""

    def __init__(self, log_dir: str):
        fd, self.log_path = tempfile.mkstemp(dir=log_dir, prefix="worker-", suffix=".log")
        os.close(fd)
        # O_APPEND, so the worker can empty it before each case and the tail is that case's output.
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env, text=True, bufsize=1,
        )
        hello = self._read(timeout=120.0, what="start-up")
        if "hello" not in hello:
            raise RuntimeError(f"conformance worker failed to start: {hello.get('error')}")
        self.environment = hello["hello"]

    def _read(self, timeout: float, what: str) -> dict:
        hung = threading.Event()

        def kill():
            hung.set()
            self.proc.kill()

        timer = threading.Timer(timeout, kill)  # a hang turns into EOF below
        timer.start()
        try:
            line = self.proc.stdout.readline()
        finally:
            timer.cancel()
        if not line:
            self.proc.wait()
            rc = self.proc.returncode
            how = f"killed after {timeout:.0f} s (hang)" if hung.is_set() else (
                f"died by signal {-rc}" if rc < 0 else f"exited with status {rc}")
            raise _WorkerDied(f"worker {how} during {what}; stderr tail: {self.stderr_tail()}")
        return json.loads(line)

    def run(self, case: Case, parts: list[str], on_part) -> None:
        self.proc.stdin.write(json.dumps({"case": asdict(case), "parts": parts}) + "\n")
        self.proc.stdin.flush()
        for part in parts:
            on_part(part, self._read(CASE_TIMEOUT_S, f"{case.name} ({part})"))

    def stderr_tail(self, lines: int = 6) -> str:
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError:
            return "(none)"
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # ORT colours its log lines
        tail = [ln for ln in text.splitlines() if ln.strip()][-lines:]
        return " | ".join(tail) if tail else "(empty)"

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        os.unlink(self.log_path)


def _worker_main() -> None:
    """Read one JSON task per stdin line, answer one JSON line per part on the original stdout.

    ORT and OpenVINO may print to fd 1, so the protocol gets a private dup of it and fd 1 joins stderr.
    """
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    try:
        sys.path.insert(0, str(REPO / "tests"))  # sessions.py: the test suite's session helpers
        try:
            import ovep
        except ImportError:  # not installed: the source tree, with the library from OVEP_LIBRARY_PATH
            sys.path.insert(0, str(REPO / "python"))
            import ovep
        import onnx
        import onnxruntime
        import sessions

        device = sessions.ovep_cpu_device()  # registers ovep once for this worker
        hello = {
            "onnxruntime": onnxruntime.__version__,
            "onnx": onnx.__version__,
            "ovep_library": ovep.get_library_path(),
            "openvino_device": dict(device.ep_metadata).get("ov_full_device_name"),
            "python": sys.version.split()[0],
            "ovep_options": OVEP_OPTIONS,
        }
    except Exception as e:  # noqa: BLE001 - the parent reports it and stops
        proto.write(json.dumps({"error": f"{type(e).__name__}: {e}"}) + "\n")
        return
    proto.write(json.dumps({"hello": hello}) + "\n")
    for line in sys.stdin:
        task = json.loads(line)
        case = Case(**task["case"])
        os.ftruncate(2, 0)  # stderr (O_APPEND) now holds only this case's output, for crash reports
        data = None
        for part in task["parts"]:
            t0 = time.perf_counter()
            try:
                if data is None:
                    data = _load_case(case.model_dir)
                answer = _run_part(part, case, data, sessions)
            except Exception as e:  # noqa: BLE001 - any failure is this part's result
                answer = {"pass": False, "error": _error_text(e)}
            answer["seconds"] = time.perf_counter() - t0
            proto.write(json.dumps(answer) + "\n")


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".strip()[:ERROR_CHARS]


def _load_case(model_dir: str):
    """(model path, feeds, expected outputs) of test_data_set_0; sequences become lists, optionals None."""
    import glob

    import onnx
    from onnx import numpy_helper

    model_path = os.path.join(model_dir, "model.onnx")
    graph = onnx.load(model_path, load_external_data=False).graph

    def load(path, type_proto):
        kind = type_proto.WhichOneof("value")
        with open(path, "rb") as f:
            raw = f.read()
        if kind == "sequence_type":
            return numpy_helper.to_list(onnx.SequenceProto.FromString(raw))
        if kind == "optional_type":
            return numpy_helper.to_optional(onnx.OptionalProto.FromString(raw))
        if kind == "tensor_type":
            return numpy_helper.to_array(onnx.TensorProto.FromString(raw))
        raise ValueError(f"{path}: inputs/outputs of type {kind} are not supported by this runner")

    sets = sorted(glob.glob(os.path.join(model_dir, "test_data_set_*")))
    if len(sets) != 1:  # every node case of onnx 1.22 has exactly one; more would need a loop here
        raise ValueError(f"{model_dir}: expected one test_data_set, found {len(sets)}")
    n_in = len(glob.glob(os.path.join(sets[0], "input_*.pb")))
    n_out = len(glob.glob(os.path.join(sets[0], "output_*.pb")))
    feeds = {}
    for i in range(n_in):
        value = load(os.path.join(sets[0], f"input_{i}.pb"), graph.input[i].type)
        if value is not None:  # an empty optional input is fed by leaving it out
            feeds[graph.input[i].name] = value
    expected = [load(os.path.join(sets[0], f"output_{i}.pb"), graph.output[i].type) for i in range(n_out)]
    return model_path, feeds, expected


def _run_part(part: str, case: Case, data, sessions) -> dict:
    model_path, feeds, expected = data
    common = {"intra_op_num_threads": 1, "log_severity_level": 3}
    if part == "cpu":
        stage = "create"
        try:
            sess = sessions.cpu_session(model_path, **common)
            stage = "run"
            got = sess.run(None, feeds)
        except Exception as e:  # noqa: BLE001
            return {"pass": False, "error": f"{stage}: {_error_text(e)}"}
        return _checked(expected, got)
    if part == "ovep":
        stage = "create"
        try:
            sess = sessions.make_session(model_path, OVEP_OPTIONS, profile=True, **common)
            stage = "run"
            got = sess.run(None, feeds)
        except Exception as e:  # noqa: BLE001
            return {"pass": False, "error": f"{stage}: {_error_text(e)}"}
        counts = sessions.providers_used(sess)
        answer = _checked(expected, got)
        answer["nodes_on_openvino"] = counts.get("OvepExecutionProvider", 0)
        answer["nodes_on_cpu"] = sum(v for k, v in counts.items() if k != "OvepExecutionProvider")
        return answer
    raise ValueError(f"unknown part {part!r}")


def _checked(expected, got) -> dict:
    try:
        if len(got) != len(expected):
            raise AssertionError(f"{len(got)} outputs, expected {len(expected)}")
        for i, (e, g) in enumerate(zip(expected, got)):
            compare_value(e, g, f"output {i}")
    except AssertionError as e:
        return {"pass": False, "error": f"mismatch: {str(e)[:ERROR_CHARS]}"}
    return {"pass": True}


def compare_value(expected, got, where: str, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Assert `got` matches `expected` as the ONNX backend runner does: same shape and dtype, numbers
    within atol + rtol*|expected| with NaN equal to NaN, strings and bools exactly; sequences element by
    element; an empty optional (None) only matches None."""
    import numpy as np

    if isinstance(expected, list):
        if not isinstance(got, (list, tuple)):
            raise AssertionError(f"{where}: expected a sequence of {len(expected)}, got {type(got).__name__}")
        if len(got) != len(expected):
            raise AssertionError(f"{where}: sequence of {len(got)}, expected {len(expected)}")
        for j, (e, g) in enumerate(zip(expected, got)):
            compare_value(e, g, f"{where}[{j}]", rtol, atol)
        return
    if expected is None or got is None:
        if expected is not got:
            raise AssertionError(f"{where}: got {'None' if got is None else type(got).__name__}, "
                                 f"expected {'an empty optional' if expected is None else 'a value'}")
        return
    e, g = np.asarray(expected), np.asarray(got)
    if e.shape != g.shape:
        raise AssertionError(f"{where}: shape {list(g.shape)}, expected {list(e.shape)}")
    if e.dtype == object or e.dtype.kind in "SU":  # strings: ORT gives str objects, onnx str or bytes
        def norm(a):
            return [x.decode() if isinstance(x, bytes) else str(x) for x in a.ravel().tolist()]
        bad = sum(x != y for x, y in zip(norm(g), norm(e)))
        if bad:
            raise AssertionError(f"{where}: {bad} of {e.size} strings differ")
        return
    if g.dtype != e.dtype:
        raise AssertionError(f"{where}: dtype {g.dtype}, expected {e.dtype}")
    if e.dtype == np.bool_:
        bad = int((g != e).sum())
        if bad:
            raise AssertionError(f"{where}: {bad} of {e.size} bools differ")
        return
    if e.dtype.kind not in "iufc":  # ml_dtypes (bfloat16, float8, int4, ...): compare their values
        e, g = e.astype(np.float64), g.astype(np.float64)
    if np.array_equal(g, e, equal_nan=e.dtype.kind in "fc"):
        return
    ok = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if ok.all():
        return
    g64, e64 = g.astype(np.float64), e.astype(np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.where(ok, 0.0, np.abs(g64 - e64))
    worst = np.unravel_index(int(np.nanargmax(np.nan_to_num(diff, nan=np.inf))), e.shape) if e.ndim else ()
    raise AssertionError(
        f"{where}: {int((~ok).sum())} of {e.size} elements out of tolerance (rtol={rtol:g}, atol={atol:g}); "
        f"worst at {tuple(int(i) for i in worst)}: got {float(g64[worst]):.7g}, expected {float(e64[worst]):.7g}"
    )


# ---- the run (parent side) ----------------------------------------------------------------------------


def run_conformance(filter_regex: str | None = None, jobs: int | None = None, progress=None) -> Report:
    """Run every (filtered) node case through the CPU EP and ovep in `jobs` worker processes."""
    cases = list_cases(filter_regex)
    if not cases:
        raise ValueError(f"no node case matches {filter_regex!r}")
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(cases)))
    results = {c.name: CaseResult(c.name, c.op, c.nodes) for c in cases}
    todo: queue.Queue = queue.Queue()
    for c in cases:
        todo.put((c, ["cpu", "ovep"]))
    environment: dict = {}
    errors: list[BaseException] = []
    done = [0]
    lock = threading.Lock()
    t0 = time.perf_counter()
    log_dir = tempfile.mkdtemp(prefix="ovep-conformance-")

    def record(case: Case, part: str, answer: dict) -> None:
        r = results[case.name]
        r.seconds += answer.get("seconds", 0.0)
        if part == "cpu":
            r.cpu_pass, r.cpu_error = answer["pass"], answer.get("error")
        else:
            r.ovep_pass, r.ovep_error = answer["pass"], answer.get("error")
            r.nodes_on_openvino = answer.get("nodes_on_openvino")
            r.nodes_on_cpu = answer.get("nodes_on_cpu")
            with lock:
                done[0] += 1
                if progress:
                    progress(done[0], len(cases), r)

    def slot() -> None:
        worker = None
        try:
            while True:
                try:
                    case, parts = todo.get_nowait()
                except queue.Empty:
                    return
                if worker is None:
                    worker = _Worker(log_dir)
                    environment.update(worker.environment)
                pending = list(parts)

                def on_part(part, answer, case=case, pending=pending):
                    pending.remove(part)
                    record(case, part, answer)

                try:
                    worker.run(case, parts, on_part)
                except _WorkerDied as e:
                    worker.close()
                    worker = None
                    # The part under way crashed; a crash in the CPU EP's part still gets ovep's part
                    # run in a fresh worker, so the CPU EP's crash is not charged to ovep.
                    part = pending.pop(0)
                    record(case, part, {"pass": False, "error": f"crash: {e}"[:ERROR_CHARS]})
                    if part == "ovep":
                        results[case.name].ovep_crashed = True
                    if pending:
                        todo.put((case, pending))
        except BaseException as e:  # noqa: BLE001 - e.g. a worker that cannot start: stop the run
            errors.append(e)
            while not todo.empty():  # let the other slots finish
                try:
                    todo.get_nowait()
                except queue.Empty:
                    break
        finally:
            if worker is not None:
                worker.close()

    threads = [threading.Thread(target=slot, name=f"conformance-{i}") for i in range(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        os.rmdir(log_dir)
    except OSError:
        pass
    if errors:
        raise RuntimeError(f"conformance run aborted: {errors[0]}") from errors[0]
    return Report(environment, [results[c.name] for c in cases], time.perf_counter() - t0, jobs)


# ---- reporting ----------------------------------------------------------------------------------------


_HEAD_NOISE = [  # ORT's and ovep's wrapping around the message that says what went wrong
    (re.compile(r"\[ONNXRuntimeError\] : \d+ : \w+ : "), ""),
    (re.compile(r"Non-zero status code returned while running \S+ node\. Name:'[^']*' Status Message: "), ""),
    (re.compile(r"OvepExecutionProvider_\w+"), "<fused>"),
]


def error_head(text: str | None, chars: int = 200) -> str:
    """The first line of an error without the boilerplate, fused-node names shortened to <fused>."""
    if not text:
        return ""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    for rx, repl in _HEAD_NOISE:
        line = rx.sub(repl, line)
    return line[:chars] + ("..." if len(line) > chars else "")


def op_table(results: list[CaseResult]) -> list[dict]:
    by_op = collections.defaultdict(list)
    for r in results:
        by_op[r.op].append(r)
    rows = []
    for op in sorted(by_op, key=str.lower):
        st = collections.Counter(r.status for r in by_op[op])
        rows.append({"op": op, "cases": len(by_op[op]), "openvino_correct": st["openvino"],
                     "fell_back": st["fallback"], "broken": st["broken"], "cpu_fails": st["cpu_fails"]})
    return rows


def markdown(report: Report) -> str:
    env = report.environment
    out = [
        "# ONNX backend node conformance: ovep vs ORT's CPU EP", "",
        f"onnxruntime {env.get('onnxruntime')}, onnx {env.get('onnx')}, OpenVINO device "
        f"{env.get('openvino_device')}, ovep options {env.get('ovep_options')}.", "",
        report.summary_line(), "",
        "Columns: *OpenVINO* = correct with nodes on OpenVINO; *fallback* = correct, every node on ORT's CPU "
        "EP; *broken* = the CPU EP passes but the ovep session fails (regression); *CPU fails* = ORT's CPU EP "
        "fails the case too.", "",
        "| op | cases | OpenVINO | fallback | broken | CPU fails |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in op_table(report.results):
        out.append(f"| {row['op']} | {row['cases']} | {row['openvino_correct']} | {row['fell_back']} | "
                   f"{row['broken']} | {row['cpu_fails']} |")
    regs = report.regressions
    out += ["", f"## Regressions ({len(regs)})", ""]
    if not regs:
        out.append("None.")
    for r in regs:
        where = "on OpenVINO" if r.on_openvino else ("on CPU" if r.nodes_on_cpu is not None else "no run")
        out.append(f"- `{r.name}` ({r.op}, {where}): {error_head(r.ovep_error).replace('|', '/')}")
    return "\n".join(out) + "\n"


def regression_text(report: Report) -> str:
    """Regressions grouped by op, one line per case with its error head."""
    by_op = collections.defaultdict(list)
    for r in report.regressions:
        by_op[r.op].append(r)
    lines = []
    for op in sorted(by_op, key=str.lower):
        lines.append(f"{op} ({len(by_op[op])}):")
        for r in by_op[op]:
            lines.append(f"  {r.name}: {error_head(r.ovep_error, 300)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--filter", help="only cases whose name matches this regex (re.search)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    ap.add_argument("--json", help="write per-case results, the per-op table and the summary here")
    ap.add_argument("--markdown", help="write the per-op table and the regressions here")
    ap.add_argument("--quiet", action="store_true", help="no per-op table or progress on stdout")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker_main()
        return 0

    def progress(n, total, r):
        if not args.quiet and (n % 100 == 0 or n == total):
            print(f"  {n}/{total} cases", file=sys.stderr, flush=True)

    report = run_conformance(args.filter, args.jobs, progress)
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=1) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(report))
    if not args.quiet:
        print(f"{'op':<40} {'cases':>5} {'OV':>4} {'fallbk':>6} {'broken':>6} {'cpufail':>7}")
        for row in op_table(report.results):
            print(f"{row['op']:<40} {row['cases']:>5} {row['openvino_correct']:>4} {row['fell_back']:>6} "
                  f"{row['broken']:>6} {row['cpu_fails']:>7}")
        if report.regressions:
            print("\nregressions (CPU EP passes, ovep fails):\n" + regression_text(report))
    print(report.summary_line())
    return 1 if report.regressions else 0


if __name__ == "__main__":
    sys.exit(main())
