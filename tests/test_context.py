"""EPContext models through the real ORT: ovep writes one (ep.context_enable, embed modes 0 and 1, or ORT's
ModelCompiler) in one process and loads it in another with the same outputs as the CPU EP; partitioned and
dynamic models included; a blob for another OpenVINO build, or a changed blob file, fails with a clear
error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import ovep

from comparison import compare
from sessions import cpu_session

HERE = Path(__file__).resolve().parent


def _feeds(name: str, seed: int = 0, hw: int = 32) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    if name == "mixed":
        return {"image": rng.random((1, 3, 32, 32), dtype=np.float32),
                "grid": rng.uniform(-1, 1, (1, 32, 32, 2)).astype(np.float32)}
    if name == "dynamic_cnn":
        return {"image": rng.random((2, 3, hw, hw), dtype=np.float32)}
    return {"image": rng.random((1, 3, 64, 64), dtype=np.float32)}


def _child(model: Path, tmp: Path, feeds: dict, config: dict, ok: bool = True) -> tuple[list[np.ndarray], str]:
    n = len(list(tmp.glob("feeds-*")))
    feeds_path, out_path = tmp / f"feeds-{n}.npz", tmp / f"out-{n}.npz"
    np.savez(feeds_path, **feeds)
    p = subprocess.run([sys.executable, str(HERE / "context_child.py"), str(model), str(feeds_path), str(out_path),
                        json.dumps(config)], capture_output=True, text=True, timeout=300)
    if not ok:
        assert p.returncode != 0, "the child was expected to fail"
        return [], p.stderr
    assert p.returncode == 0, f"child failed ({p.returncode}):\n{p.stderr[-3000:]}"
    if "compile_to" in config:
        return [], p.stderr
    with np.load(out_path) as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))], p.stderr


def _write(model: Path, ctx: Path, tmp: Path, feeds: dict, embed: str) -> list[np.ndarray]:
    config = {"session_config": {"ep.context_enable": "1", "ep.context_file_path": str(ctx),
                                 "ep.context_embed_mode": embed}}
    outs, _ = _child(model, tmp, feeds, config)
    assert ctx.is_file(), f"no context model at {ctx}"
    return outs


def _ovep_nodes(ctx: Path) -> list[onnx.NodeProto]:
    m = onnx.load(str(ctx), load_external_data=False)
    return [n for n in m.graph.node if n.op_type == "EPContext"
            and any(a.name == "source" and a.s == b"OvepExecutionProvider" for a in n.attribute)]


@pytest.mark.parametrize("embed", ["0", "1"])
@pytest.mark.parametrize("name", ["small_cnn", "mixed"])
def test_round_trip_in_another_process(synthetic_models, tmp_path, name, embed):
    model, ctx = synthetic_models[name], tmp_path / "ctx" / f"{name}_ctx.onnx"
    ctx.parent.mkdir()
    feeds = _feeds(name)
    written = _write(model, ctx, tmp_path, feeds, embed)
    want = cpu_session(model).run(None, feeds)
    compare(written, want, what=f"{name}: the writing session")
    nodes = _ovep_nodes(ctx)
    assert nodes, "the context model holds no ovep EPContext node"
    blobs = list(ctx.parent.glob("*.ovep.blob"))
    assert len(blobs) == (len(nodes) if embed == "0" else 0), [b.name for b in blobs]
    m = onnx.load(str(ctx), load_external_data=False)
    if name == "mixed":  # the nodes OpenVINO cannot run stay in the context model, for ORT's CPU EP
        assert {"GridSample", "CDist"} <= {n.op_type for n in m.graph.node}
    else:
        assert not m.graph.initializer, "weights compiled into the blob were also kept in the context model"
    loaded, log = _child(ctx, tmp_path, feeds, {})
    compare(loaded, want, what=f"{name}: loaded from its EPContext model")
    assert "EPContext nodes compiled by ovep" in log, log[-2000:]
    assert "compiled a subgraph" not in log, "loading an EPContext model compiled again"


def test_dynamic_shapes_after_loading(synthetic_models, tmp_path):
    model, ctx = synthetic_models["dynamic_cnn"], tmp_path / "d_ctx.onnx"
    _write(model, ctx, tmp_path, _feeds("dynamic_cnn"), "0")
    ref = cpu_session(model)
    for seed, hw in ((1, 32), (2, 48)):
        feeds = _feeds("dynamic_cnn", seed, hw)
        loaded, _ = _child(ctx, tmp_path, feeds, {})
        compare(loaded, ref.run(None, feeds), what=f"dynamic_cnn {hw}x{hw} from its EPContext model")


def test_model_compiler_api(synthetic_models, tmp_path):
    model, ctx = synthetic_models["small_cnn"], tmp_path / "mc_ctx.onnx"
    _child(model, tmp_path, {}, {"compile_to": str(ctx)})
    assert _ovep_nodes(ctx)
    feeds = _feeds("small_cnn")
    loaded, _ = _child(ctx, tmp_path, feeds, {})
    compare(loaded, cpu_session(model).run(None, feeds), what="small_cnn compiled with ort.ModelCompiler")


def test_ort_asks_ovep_whether_a_compiled_model_fits(synthetic_models, tmp_path):
    # ORT's own API (ValidateCompiledModelCompatibilityInfo through the factory): the model's compatibility
    # info fits this machine's ovep device, and the same info for another OpenVINO build does not.
    api = ort.capi._pybind_state
    model, ctx = synthetic_models["small_cnn"], tmp_path / "v_ctx.onnx"
    _child(model, tmp_path, {}, {"compile_to": str(ctx)})
    devices = ovep.register(ort)
    # What ORT's get_compatibility_info_from_model reads (1.23.2 has only the validation call).
    key = f"ep_compatibility_info.{ovep.EP_NAME}"
    info = next(p.value for p in onnx.load(str(ctx)).metadata_props if p.key == key)
    assert "openvino=" in info, info
    fits = api.get_model_compatibility_for_ep_devices(devices[:1], info)
    assert fits == api.OrtCompiledModelCompatibility.EP_SUPPORTED_OPTIMAL, fits
    other = info.replace("openvino=", "openvino=2019.1.0-")
    refused = api.get_model_compatibility_for_ep_devices(devices[:1], other)
    assert refused == api.OrtCompiledModelCompatibility.EP_UNSUPPORTED, refused


def test_blob_for_another_openvino_build_is_refused_clearly(synthetic_models, tmp_path):
    model, ctx = synthetic_models["small_cnn"], tmp_path / "c_ctx.onnx"
    _write(model, ctx, tmp_path, _feeds("small_cnn"), "1")
    m = onnx.load(str(ctx))
    for n in m.graph.node:
        for a in n.attribute:
            if a.name == "notes":
                notes = json.loads(a.s)
                notes["openvino"] = "2019.1.0-0-fake"
                a.s = json.dumps(notes).encode()
    bad = tmp_path / "other_build_ctx.onnx"
    onnx.save(m, str(bad))
    _, log = _child(bad, tmp_path, _feeds("small_cnn"), {}, ok=False)
    assert "compiled by OpenVINO 2019.1.0-0-fake" in log and "Compile the model again" in log, log[-2000:]


def test_changed_blob_file_is_refused_before_openvino_sees_it(synthetic_models, tmp_path):
    model, ctx = synthetic_models["small_cnn"], tmp_path / "f_ctx.onnx"
    _write(model, ctx, tmp_path, _feeds("small_cnn"), "0")
    (blob,) = tmp_path.glob("*.ovep.blob")
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    _, log = _child(ctx, tmp_path, _feeds("small_cnn"), {}, ok=False)
    assert "does not match its checksum" in log, log[-2000:]
