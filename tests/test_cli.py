"""The `ovep` command (python -m ovep): precompile fills the cache (blob entries for ORT sessions, a context
model for ovep.InferenceSession) or writes EPContext models; cache ls/stats/verify/prune/export/import keep
it, and a bundle carried to an empty cache makes the next start load instead of compile."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

import ovep
from comparison import compare
from sessions import cpu_session

HERE = Path(__file__).resolve().parent


def ovep_cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    # The ovep package this test session imported (the installed wheel, or python/ with OVEP_LIBRARY_PATH).
    package_root = str(Path(ovep.__file__).resolve().parent.parent)
    p = subprocess.run([sys.executable, "-m", "ovep", *args], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": package_root})
    assert (p.returncode == 0) == ok, f"ovep {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr[-3000:]}"
    return p


def report(command: str, cache: Path, *extra: str) -> dict:
    return json.loads(ovep_cli("cache", command, *extra, "--cache-dir", str(cache), "--json").stdout)


def _fast_start(model: Path, cache: Path, tmp: Path) -> tuple[list[np.ndarray], str]:
    feeds = {"image": np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)}
    np.savez(tmp / "feeds.npz", **feeds)
    p = subprocess.run([sys.executable, str(HERE / "fast_start_child.py"), str(model), str(cache),
                        str(tmp / "feeds.npz"), str(tmp / "out.npz")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    with np.load(tmp / "out.npz") as z:
        outs = [z[f"arr_{i}"] for i in range(len(z.files))]
    compare(outs, cpu_session(model).run(None, feeds), what="fast start after the CLI")
    return outs, p.stderr


def test_precompile_then_load_without_compiling(synthetic_models, tmp_path):
    model, cache = synthetic_models["small_cnn"], tmp_path / "cache"
    out = ovep_cli("precompile", str(model), "--cache-dir", str(cache)).stdout
    assert "[1/1]" in out and "cached" in out, out
    ls = report("ls", cache)
    kinds = sorted(e["metadata"].get("kind", "blob") for e in ls["entries"])
    assert kinds == ["blob", "partition"] and len(ls["contexts"]) == 1, ls
    _, log = _fast_start(model, cache, tmp_path)
    assert "EPContext nodes compiled by ovep" in log and "compiled a subgraph" not in log, log[-2000:]


def test_bundle_carries_the_cache_to_another_machine(synthetic_models, tmp_path):
    model, a, b = synthetic_models["small_cnn"], tmp_path / "a", tmp_path / "b"
    ovep_cli("precompile", str(model), "--cache-dir", str(a))
    bundle = tmp_path / "cache.tar"
    assert report("export", a, str(bundle)) == {"bundle": str(bundle), "entries": 2, "contexts": 1}
    got = report("import", b, str(bundle))
    assert (got["imported"], got["contexts_imported"], got["skipped"]) == (2, 1, []), got
    _, log = _fast_start(model, b, tmp_path)
    assert "compiled a subgraph" not in log, "the imported cache was not used"
    assert report("verify", b)["discarded"] == []


def test_import_skips_damaged_and_foreign_entries(synthetic_models, tmp_path):
    model, a = synthetic_models["small_cnn"], tmp_path / "a"
    ovep_cli("precompile", str(model), "--cache-dir", str(a))
    bundle = tmp_path / "cache.tar"
    report("export", a, str(bundle))
    members = []
    with tarfile.open(bundle) as t:
        for m in t.getmembers():
            members.append((m, t.extractfile(m).read()))
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as t:
        for m, data in members:
            if m.name.endswith("/blob") and m.size > 100_000:  # one flipped byte in the compiled blob
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            elif m.name.endswith("model_ctx.onnx"):  # a context model from another OpenVINO build
                data = data.replace(b"openvino=2026.", b"openvino=1999.")
            m.size = len(data)
            t.addfile(m, io.BytesIO(data))
    got = report("import", tmp_path / "b", str(bad))
    assert got["imported"] == 1 and got["contexts_imported"] == 0, got  # only the partition entry is intact
    reasons = " ".join(s["reason"] for s in got["skipped"])
    assert "checksum" in reasons and "another OpenVINO build" in reasons, got


def test_verify_and_prune(synthetic_models, tmp_path):
    cache = tmp_path / "cache"
    for name in ("small_cnn", "mixed"):
        ovep_cli("precompile", str(synthetic_models[name]), "--cache-dir", str(cache))
    (blob,) = [p for p in cache.glob("v1/*/*/blob") if p.stat().st_size > 100_000][:1]
    blob.write_bytes(blob.read_bytes()[:-10])  # truncated
    v = report("verify", cache)
    assert len(v["discarded"]) == 1 and v["contexts_valid"] == 2, v
    before = report("stats", cache)
    p = report("prune", cache, "--max-bytes", str(before["context_bytes"]))
    after = report("stats", cache)
    assert p["removed"] >= 1 and after["entry_bytes"] + after["context_bytes"] <= before["context_bytes"], (p, after)
    ovep_cli("cache", "prune", "--cache-dir", str(cache), ok=False)  # --max-bytes is required


def test_precompile_context_out(synthetic_models, tmp_path):
    model, out = synthetic_models["mixed"], tmp_path / "ctx" / "mixed_ctx.onnx"
    ovep_cli("precompile", str(model), "--context-out", str(out))
    feeds = {"image": np.random.default_rng(1).random((1, 3, 32, 32), dtype=np.float32),
             "grid": np.random.default_rng(2).uniform(-1, 1, (1, 32, 32, 2)).astype(np.float32)}
    from sessions import make_session

    compare(make_session(out).run(None, feeds), cpu_session(model).run(None, feeds), what="precompiled EPContext")


def test_precompile_context_out_refuses_what_ort_cannot_write(models_dir, tmp_path):
    # Silero VAD keeps If nodes on ORT whose bodies read main-graph values: ORT would write an invalid
    # EPContext model. The command fails for that model with ovep's reason; filling the cache still works.
    out, cache = tmp_path / "vad_ctx.onnx", tmp_path / "cache"
    p = ovep_cli("precompile", str(models_dir / "silero_vad.onnx"), "--context-out", str(out), ok=False)
    assert "cannot be written as an EPContext node" in p.stderr and "control-flow node" in p.stderr, p.stderr[-2000:]
    ovep_cli("precompile", str(models_dir / "silero_vad.onnx"), "--cache-dir", str(cache))
    assert report("stats", cache)["entries"] >= 1
    # Fast start remembers the model as plain; the mark is listed, verified as valid and pruned like the rest.
    assert [c["plain"] for c in report("ls", cache)["contexts"]] == [True]
    assert report("verify", cache)["contexts_valid"] == 1
    report("prune", cache, "--max-bytes", "0")
    assert report("ls", cache)["contexts"] == [] and report("stats", cache)["entries"] == 0
