"""Dynamic shapes: one session, many input shapes, right answers, and memory that stays bounded."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from comparison import compare
from model_builders import IR_VERSION
from sessions import (CHILD_IMPORTS_OVEP, assert_ovep_ran, child_result, child_result_and_log, cpu_session, make_session,
                      providers_used)

pytestmark = pytest.mark.usefixtures("ovep_devices")


def test_three_shapes_one_session(synthetic_models):
    path = synthetic_models["dynamic_cnn"]
    sess, ref = make_session(path, profile=True), cpu_session(path)
    shapes = [(1, 3, 32, 32), (2, 3, 45, 61), (1, 3, 17, 128), (1, 3, 32, 32)]  # last: back to the first shape
    for i, shape in enumerate(shapes):
        feeds = {"image": np.random.default_rng(20 + i).random(shape, dtype=np.float32)}
        compare(sess.run(None, feeds), ref.run(None, feeds), names=["features", "logits"], what=f"shape {shape}")
    assert_ovep_ran(providers_used(sess), "dynamic CNN")


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS in /proc/self/status")


def test_memory_bounded_with_max_cached_shapes(synthetic_models):
    # 100 distinct input shapes, each run twice (the second run of a shape may start a specialization),
    # with max_cached_shapes=4: whatever ovep keeps per shape must be evicted or never made, so RSS after
    # the 100th shape stays within 1.3x of RSS after the first. The shapes all have about the same area
    # and come largest first, so the first run sizes the buffers; this is a memory bound, not a timing
    # test. Measured: 1.16x (1.29x before specializations had to pay for themselves).
    path = synthetic_models["dynamic_wide_cnn"]
    sess, ref = make_session(path, options={"max_cached_shapes": 4}), cpu_session(path)
    shapes = sorted({(h, w) for h in range(56, 66) for w in range(56, 66)}, key=lambda s: (-s[0] * s[1], s))
    assert len(shapes) == 100
    rss = {}
    for i, (h, w) in enumerate(shapes, start=1):
        feeds = {"image": np.random.default_rng(i).random((1, 3, h, w), dtype=np.float32)}
        sess.run(None, feeds)
        got = sess.run(None, feeds)
        if i % 10 == 0:  # correctness on a sample, so the CPU EP's own allocations stay small
            compare(got, ref.run(None, feeds), names=["logits"], what=f"shape #{i} {h}x{w}")
        if i in (1, 100):
            gc.collect()
            rss[i] = _rss_mib()
    assert rss[100] <= 1.3 * rss[1], (
        f"RSS grew from {rss[1]:.0f} MiB after the first shape to {rss[100]:.0f} MiB after 100 "
        f"({rss[100] / rss[1]:.2f}x > 1.3x) with max_cached_shapes=4: per-shape state is not evicted"
    )


def test_shape_specialized_models_stay_correct(models_dir):
    # A shape seen twice gets a static compile in the background, read again from the subgraph's ONNX form
    # with the weights at their current addresses (ORT moves some initializers after GetCapability). Runs
    # before and after the specialization lands must all match the CPU EP.
    import time

    path = models_dir / "ppocr_rec.onnx"
    sess, ref = make_session(path), cpu_session(path)
    x = np.random.default_rng(11).random((1, 3, 48, 320), dtype=np.float32)
    want = ref.run(None, {"x": x})
    for i in range(6):
        compare(sess.run(None, {"x": x}), want, rtol=1e-4, atol=1e-4, what=f"PP-OCRv4 rec run {i}")
        time.sleep(0.4)  # let the background specialization finish between runs


RELEASE_CHILD = CHILD_IMPORTS_OVEP + r"""
import numpy as np, onnxruntime as ort
so = ort.SessionOptions()
so.add_provider_for_devices(ovep.register(ort)[:1], {"cache_dir": ""})
sess = ort.InferenceSession(sys.argv[1], sess_options=so)
feeds = {"input_ids": np.ones((1, 1), np.int64), "attention_mask": np.ones((1, 1), np.int64)}
for _ in range(3):  # the second run of a shape starts its specialization in the background
    sess.run(None, feeds)
del sess  # while the specialization is still converting the model
print("released")
"""


def test_a_session_released_during_a_specialization(models_dir):
    # ORT frees some initializers before it releases the kernels' state, so a background specialization
    # must not read ORT's memory: it converts from ovep's own copy of the weights (src/runtime/weight_copy.rs).
    # Reading ORT's, this crashed every time (MiniLM's 47 MB embedding table unmapped mid-conversion).
    import subprocess
    import sys

    for attempt in range(3):
        p = subprocess.run([sys.executable, "-c", RELEASE_CHILD, str(models_dir / "minilm.onnx")],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0 and "released" in p.stdout, f"attempt {attempt}: exit {p.returncode}\n{p.stderr[-2000:]}"


# A child process measuring its own RSS, with one ovep session (CPU, no cache) on the model in argv[1],
# with the options in argv[2] (JSON).
RSS_CHILD = CHILD_IMPORTS_OVEP + r"""
import json, time, numpy as np, onnxruntime as ort
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
so = ort.SessionOptions()
cpu = [d for d in ovep.register(ort) if dict(d.ep_metadata).get("ov_device") == "CPU"]
so.add_provider_for_devices(cpu, {"cache_dir": "", **json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")})
sess = ort.InferenceSession(sys.argv[1], sess_options=so)
"""

NEW_WIDTHS_CHILD = RSS_CHILD + r"""
rng = np.random.default_rng(0)
for i, w in enumerate(160 + (k * 37) % 321 for k in range(100)):  # 100 distinct widths, scrambled
    x = rng.random((1, 3, 48, w), dtype=np.float32)
    for _ in range(3):  # the second run of a width may start a specialization
        sess.run(None, {"x": x})
    if i == 0:
        first = rss()
print(json.dumps({"first": first, "last": rss()}))
"""


def test_openvino_per_shape_kernels_are_bounded(models_dir):
    # PP-OCRv4 rec at 100 widths, smallest first, in fresh processes. OpenVINO's CPU plugin keeps executors and
    # JIT kernels per node and shape (its runtime cache, 5000 entries, and oneDNN's primitive cache, 1024); ovep
    # bounds both (src/ov/memory_bounds.rs), and gives up a shape-specialization trial whose shape never comes
    # back. Measured here (RSS after 100 widths / after the first width's runs): 2.46-2.54x before, still growing
    # ~1.7 MB per width; 1.15-1.16x now by default; 1.95x with cpu_kernel_cache=1024, which keeps enough
    # executors that new widths run ~35 % faster. The second process shows the option reaches OpenVINO.
    import json

    model = str(models_dir / "ppocr_rec.onnx")
    default = child_result(NEW_WIDTHS_CHILD, model, "{}", timeout=600)
    assert default["last"] <= 1.3 * default["first"], (
        f"RSS grew from {default['first']:.0f} MiB after the first width to {default['last']:.0f} MiB after 100 "
        f"({default['last'] / default['first']:.2f}x > 1.3x) by default: OpenVINO's per-shape caches are not bounded"
    )
    big = child_result(NEW_WIDTHS_CHILD, model, json.dumps({"cpu_kernel_cache": "1024"}), timeout=600)
    growth = (big["last"] - big["first"]) / max(default["last"] - default["first"], 1.0)
    assert growth > 2, (
        f"cpu_kernel_cache=1024 grew RSS by {big['last'] - big['first']:.0f} MiB over 100 widths, the default by "
        f"{default['last'] - default['first']:.0f} MiB: the option does not reach OpenVINO's runtime cache"
    )
    assert big["last"] <= 2.6 * big["first"], f"cpu_kernel_cache=1024: {big['last'] / big['first']:.2f}x, unbounded"


# PP-OCRv4 rec over widths that come back, as an OCR stream's do, every run compared with the CPU EP; ORT's
# log (severity info) goes to stderr.
RECURRING_WIDTHS_CHILD = CHILD_IMPORTS_OVEP + r"""
import json, numpy as np, onnxruntime as ort
devices = [d for d in ovep.register(ort) if dict(d.ep_metadata).get("ov_device") == "CPU"]
so = ort.SessionOptions(); so.log_severity_level = 1
so.add_provider_for_devices(devices, {"cache_dir": "", **json.loads(sys.argv[2])})
sess = ort.InferenceSession(sys.argv[1], so)
ref = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
rng = np.random.default_rng(0)
widths = [160 + 32 * k for k in range(11)]
for i in range(int(sys.argv[3])):
    x = rng.random((1, 3, 48, widths[rng.integers(len(widths))]), dtype=np.float32)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], ref.run(None, {"x": x})[0], rtol=1e-4, atol=1e-5,
                               err_msg=f"run {i}")
print(json.dumps({"runs": int(sys.argv[3])}))
"""

GREW = "its input shapes recur, so OpenVINO's CPU kernel cache grew to 1024 executors"


def test_recurring_shapes_grow_the_kernel_cache(models_dir, tmp_path):
    # A small kernel cache keeps 100 new widths within 1.3x RSS, but 11 widths drawn in turn outgrow it: every run
    # made its executors again (23.5 ms per run against 9.5 with 1024 entries and 14.2 on the CPU EP, measured
    # 2026-11-25). After 16 returns of a width the generic model is made again with the grown cache, in the
    # background; every run, before and after, matches the CPU EP. A size the user chose stays.
    import json

    model = str(models_dir / "ppocr_rec.onnx")
    _, log = child_result_and_log(RECURRING_WIDTHS_CHILD, model, "{}", "150", timeout=600)
    grew = [line for line in log.splitlines() if GREW in line]
    assert len(grew) == 1, f"expected one kernel cache growth, got {grew}\n{log[-3000:]}"
    # With the cache: the first process compiles and stores the model; the second imports it, and grows it by
    # importing the blob again.
    for process in ("first", "second"):
        _, log = child_result_and_log(RECURRING_WIDTHS_CHILD, model, json.dumps({"cache_dir": str(tmp_path)}), "150",
                                      timeout=600)
        assert GREW in log, f"{process} process with the cache: no kernel cache growth\n{log[-3000:]}"
    _, log = child_result_and_log(RECURRING_WIDTHS_CHILD, model, json.dumps({"cpu_kernel_cache": "128"}), "150",
                                  timeout=600)
    assert "kernel cache grew" not in log, "cpu_kernel_cache=128 was chosen, and grew anyway"


BIG_WEIGHTS_CHILD = RSS_CHILD + r"""
x = np.random.default_rng(0).random((2, 2048), dtype=np.float32)
sess.run(None, {"x": x})
first = rss()
for i in range(12):  # the second run of a shape would start a specialization; let it land
    sess.run(None, {"x": x})
    time.sleep(0.3)
print(json.dumps({"first": first, "last": rss()}))
"""


def test_large_weights_get_no_shape_specializations(tmp_path):
    # A dynamic model with 302 MB of weights (18 MatMuls of 2048x2048, batch free). A shape
    # specialization would first copy the weights and convert them again (MiniLM's 69 MB took 164 MB),
    # so a subgraph whose weights exceed ovep's budget for them (256 MB) is served by its generic model
    # alone. Fails when the trial specialization is made: RSS then grows by more than the weights.
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    nodes, inits, prev = [], [], "x"
    for i in range(18):
        w = (rng.standard_normal((2048, 2048), dtype=np.float32) * (1 / 45)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]))
        nodes.append(helper.make_node("Relu", [f"m{i}"], [f"r{i}"]))
        prev = f"r{i}"
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2048])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["n", 2048])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)
    path = tmp_path / "big_dynamic.onnx"
    onnx.save(model, str(path), save_as_external_data=True, location="big_dynamic.bin")
    del model, inits, graph

    r = child_result(BIG_WEIGHTS_CHILD, str(path), timeout=600)
    assert r["last"] - r["first"] < 150, (
        f"RSS grew from {r['first']:.0f} to {r['last']:.0f} MiB over 12 runs at one shape: a 302 MB model was "
        "shape-specialized"
    )
