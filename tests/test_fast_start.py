"""Fast start through the real ORT: ovep.InferenceSession(original path) compiles in the first process and
keeps an EPContext model in the cache; the next process loads that (no compile) with the CPU EP's outputs; a
changed model file is compiled again; processes starting together on an empty cache all succeed and leave
one context model; cache_dir="" is a plain session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

import seeded_inputs
from comparison import compare
from model_builders import rotary_embedding
from sessions import CHILD_IMPORTS_OVEP, child_result, child_result_and_log, cpu_session

HERE = Path(__file__).resolve().parent


def _feeds(seed: int = 0) -> dict[str, np.ndarray]:
    return {"image": np.random.default_rng(seed).random((1, 3, 64, 64), dtype=np.float32)}


def _start(model: Path, cache: Path | str, tmp: Path, feeds: dict, *extra: str) -> subprocess.Popen:
    n = len(list(tmp.glob("feeds-*")))
    np.savez(tmp / f"feeds-{n}.npz", **feeds)
    return subprocess.Popen([sys.executable, str(HERE / "fast_start_child.py"), str(model), str(cache),
                             str(tmp / f"feeds-{n}.npz"), str(tmp / f"out-{n}.npz"), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(p: subprocess.Popen) -> tuple[list[np.ndarray], str]:
    _, log = p.communicate(timeout=300)
    assert p.returncode == 0, f"child failed ({p.returncode}):\n{log[-3000:]}"
    out = Path(p.args[5])
    with np.load(out) as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))], log


def _run(model, cache, tmp, feeds, *extra):
    return _finish(_start(model, cache, tmp, feeds, *extra))


def _contexts(cache: Path) -> list[Path]:
    return sorted((cache / "ctx").glob("*/model_ctx.onnx"))


def _plain_marks(cache: Path) -> list[Path]:
    return sorted((cache / "ctx").glob("*/plain"))


def test_second_process_loads_the_kept_context_model(synthetic_models, tmp_path):
    model, cache, feeds = synthetic_models["small_cnn"], tmp_path / "cache", _feeds()
    want = cpu_session(model).run(None, feeds)
    cold, log = _run(model, cache, tmp_path, feeds)
    compare(cold, want, what="first process (compiles)")
    assert "compiled a subgraph" in log, log[-2000:]
    assert len(_contexts(cache)) == 1
    assert not list((cache / "v1").glob("*/*/manifest.json")), "the blob cache kept a second copy"
    warm, log = _run(model, cache, tmp_path, feeds)
    compare(warm, want, what="second process (loads the EPContext model)")
    assert "EPContext nodes compiled by ovep" in log and "compiled a subgraph" not in log, log[-2000:]
    # Its blob started importing when fast start found the context model, before ORT had loaded it.
    assert "was imported while ORT loaded the model (fast start)" in log, log[-2000:]


def test_a_head_start_for_other_options_is_not_taken(synthetic_models, tmp_path):
    # The blob imported ahead with bf16 properties would give bf16 results: the f32 session on the context model
    # imports its own.
    model, cache, feeds = synthetic_models["small_cnn"], tmp_path / "cache", _feeds(3)
    want = cpu_session(model).run(None, feeds)
    out, log = _run(model, cache, tmp_path, feeds, "precision=bf16")
    compare(out, want, what="f32 session after a bf16 head start")
    assert "EPContext nodes compiled by ovep" in log, log[-2000:]
    assert "was imported while ORT loaded the model" not in log, log[-2000:]


def test_changed_model_is_compiled_again(synthetic_models, tmp_path):
    cache, feeds = tmp_path / "cache", _feeds(1)
    model = tmp_path / "m.onnx"
    m = onnx.load(str(synthetic_models["small_cnn"]))
    onnx.save(m, str(model))
    _run(model, cache, tmp_path, feeds)
    # Same size, other weights: a path- or size-based key would load the old context model.
    w = m.graph.initializer[0]
    w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w) * 2 + 0.5, w.name))
    onnx.save(m, str(model))
    got, log = _run(model, cache, tmp_path, feeds)
    compare(got, cpu_session(model).run(None, feeds), what="after the model file changed")
    assert "compiled a subgraph" in log, "the changed model was not compiled again"
    assert len(_contexts(cache)) == 2


def test_processes_starting_together_share_one_context_model(synthetic_models, tmp_path):
    model, cache, feeds = synthetic_models["small_cnn"], tmp_path / "cache", _feeds(2)
    want = cpu_session(model).run(None, feeds)
    for got, _ in [_finish(p) for p in [_start(model, cache, tmp_path, feeds) for _ in range(4)]]:
        compare(got, want, what="one of four processes started together")
    assert len(_contexts(cache)) == 1
    assert not list((cache / "ctx").glob(".staging-*")), "staging directories were left behind"


def test_empty_cache_dir_is_a_plain_session(synthetic_models, tmp_path):
    model, feeds = synthetic_models["small_cnn"], _feeds(3)
    got, log = _run(model, "", tmp_path, feeds)
    compare(got, cpu_session(model).run(None, feeds), what="cache_dir=''")
    assert "compiled a subgraph" in log


def test_a_model_without_a_faithful_export_runs_as_a_plain_session(tmp_path):
    # ovep refuses to write an EPContext node whose blob imports to other results (OpenVINO's RoPE);
    # fast start then opens the model as usual, and the compiled-model cache keeps what it can.
    m, extra = rotary_embedding()
    model, cache = tmp_path / "rope.onnx", tmp_path / "cache"
    onnx.save(m, str(model))
    feeds = {"x": np.random.default_rng(4).random((1, 3, 32, 32), dtype=np.float32), **extra}
    want = cpu_session(model).run(None, feeds)
    for what in ("first process", "second process"):
        got, log = _run(model, cache, tmp_path, feeds)
        compare(got, want, what=what)
        assert not _contexts(cache), "an EPContext model was kept"
        assert not list((cache / "ctx").glob(".staging-*")), "the failed build left its staging directory"
        assert len(_plain_marks(cache)) == 1, f"{what}: the model was not marked plain"
    assert "as stored in the compiled-model cache" in log, log[-2000:]
    assert "cannot be written as an EPContext node" not in log, "the second process tried to build again"


def test_a_model_ovep_compiles_none_of_starts_plain(synthetic_models, tmp_path):
    # lone_node: the one node OpenVINO could run is a group of one, below min_subgraph_nodes; ovep claims
    # nothing, so ORT writes no context model. Fast start must still work and remember that.
    model, cache = synthetic_models["lone_node"], tmp_path / "cache"
    rng = np.random.default_rng(8)
    feeds = {"image": rng.random((1, 4, 16, 16), dtype=np.float32),
             "grid": rng.uniform(-1.0, 1.0, (1, 16, 16, 2)).astype(np.float32)}
    want = cpu_session(model).run(None, feeds)
    for what in ("first process", "second process"):
        got, _ = _run(model, cache, tmp_path, feeds)
        compare(got, want, what=what)
        assert not _contexts(cache) and len(_plain_marks(cache)) == 1, f"{what}: {list((cache / 'ctx').iterdir())}"
        assert not list((cache / "ctx").glob(".staging-*")), "a staging directory was left behind"


def test_silero_vad_keeps_no_context_model_and_starts_plain(models_dir, tmp_path):
    # Silero VAD: ovep runs its convolutions, ORT keeps its If nodes, whose bodies read main-graph values.
    # ORT writes an invalid EPContext model for such a graph, so ovep refuses to write one with a clear error;
    # fast start opens the model as usual and remembers that.
    model, cache = models_dir / "silero_vad.onnx", tmp_path / "cache"
    feeds = {"input": next(iter(seeded_inputs.vad_chunks(1, seed=3))), "state": np.zeros((2, 1, 128), np.float32),
             "sr": np.array(16000, np.int64)}
    want = cpu_session(model).run(None, feeds)
    for what in ("first process", "second process"):
        got, log = _run(model, cache, tmp_path, feeds)
        compare(got, want, names=["output", "stateN"], what=f"Silero VAD, {what}")
        assert not _contexts(cache) and len(_plain_marks(cache)) == 1, f"{what}: {list((cache / 'ctx').iterdir())}"
    assert "cannot be written as an EPContext node" not in log, "the second process tried to build again"
    assert "as stored in the compiled-model cache" in log, log[-2000:]


def test_a_device_ovep_does_not_offer_is_refused_and_leaves_nothing_behind(synthetic_models, tmp_path):
    # Fast start looks for the context model before ovep is registered with ORT (to start importing early), so
    # the device is checked after that: the refusal must still leave the cache as it was.
    cache = tmp_path / "cache"
    script = CHILD_IMPORTS_OVEP + """
import json
try:
    ovep.InferenceSession(sys.argv[1], device="NPU7", cache_dir=sys.argv[2])
    print(json.dumps({"raised": None}))
except ValueError as e:
    print(json.dumps({"raised": str(e)}))
"""
    result = child_result(script, str(synthetic_models["small_cnn"]), str(cache), timeout=120)
    assert result["raised"] and "offers no OpenVINO device 'NPU7'" in result["raised"], result
    assert not [p.name for p in (cache / "ctx").iterdir() if p.name.startswith(".staging-")]


def test_a_second_fast_start_in_one_process_shares_the_first_sessions_model(synthetic_models, tmp_path):
    # The first session takes the blob imported ahead of it; the second, in the same process, shares the first
    # one's compiled model, and both give the CPU EP's outputs.
    model, cache, feeds = synthetic_models["small_cnn"], tmp_path / "cache", _feeds(4)
    want = cpu_session(model).run(None, feeds)
    _run(model, cache, tmp_path, feeds)
    np.savez(tmp_path / "two.npz", **feeds)
    script = CHILD_IMPORTS_OVEP + """
import json
import numpy as np
import onnxruntime as ort
ort.set_default_logger_severity(1)
feeds = dict(np.load(sys.argv[3]))
first = ovep.InferenceSession(sys.argv[1], cache_dir=sys.argv[2])
second = ovep.InferenceSession(sys.argv[1], cache_dir=sys.argv[2])
print(json.dumps([o.tolist() for o in first.run(None, feeds) + second.run(None, feeds)]))
"""
    outs, log = child_result_and_log(script, str(model), str(cache), str(tmp_path / "two.npz"), timeout=120)
    compare([np.asarray(o, np.float32) for o in outs[: len(want)]], want, what="first session")
    compare([np.asarray(o, np.float32) for o in outs[len(want):]], want, what="second session")
    assert log.count("was imported while ORT loaded the model") == 1, log[-3000:]
    assert "shares the compiled model of another session" in log, log[-3000:]
