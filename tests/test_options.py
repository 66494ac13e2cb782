"""Provider options: bad ones fail session creation with a message a user can act on; good ones work."""

from __future__ import annotations

import numpy as np
import pytest

from comparison import compare
from sessions import CHILD_IMPORTS_OVEP, assert_ovep_ran, child_result, cpu_session, make_session, providers_used

pytestmark = pytest.mark.usefixtures("ovep_devices")

VALID_KEYS = ["device_type", "precision", "performance_hint", "num_threads", "min_subgraph_nodes",
              "max_cached_shapes", "cpu_kernel_cache", "openvino_library", "cache_dir", "cache_max_bytes",
              "placement"]


def _mlp_feeds(seed):
    return {"x": np.random.default_rng(seed).standard_normal((8, 512)).astype(np.float32)}


def _creation_error(path, options) -> str:
    with pytest.raises(Exception) as info:  # noqa: PT011 - ORT raises its own capi exception types
        sess = make_session(path, options=options)
        sess.run(None, _mlp_feeds(0))  # if creation wrongly succeeded, a run might still surface the error
    return str(info.value)


def test_unknown_option(synthetic_models):
    msg = _creation_error(synthetic_models["concurrency_mlp"], {"no_such_option": "1"})
    assert "unknown option 'no_such_option'" in msg, f"message does not name the unknown key: {msg}"
    missing = [k for k in VALID_KEYS if k not in msg]
    assert not missing, f"message does not list the valid keys {missing}: {msg}"


def test_bad_precision(synthetic_models):
    msg = _creation_error(synthetic_models["concurrency_mlp"], {"precision": "fp64"})
    assert "precision" in msg and "allowed values" in msg, f"message does not name precision's allowed values: {msg}"
    missing = [v for v in ("f32", "bf16", "f16", "auto") if v not in msg]
    assert not missing, f"message does not list the allowed precisions {missing}: {msg}"


@pytest.mark.parametrize("key, value", [
    ("num_threads", "abc"),
    ("num_threads", "-1"),
    ("min_subgraph_nodes", "0"),
    ("max_cached_shapes", "0"),
    ("cpu_kernel_cache", "-1"),
    ("performance_hint", "FASTEST"),
])
def test_bad_value_names_the_key(synthetic_models, key, value):
    msg = _creation_error(synthetic_models["concurrency_mlp"], {key: value})
    assert key in msg and "allowed values" in msg, (
        f"{key}={value!r}: the message does not name the key and its allowed values: {msg}"
    )


def test_bf16_runs_within_loose_tolerance(synthetic_models):
    # bf16 keeps 8 mantissa bits: measured deviation from f32 on this MLP (tanh outputs in [-1, 1]) ~2e-2.
    # On a CPU without bf16 OpenVINO computes in f32 and the check holds trivially.
    path = synthetic_models["concurrency_mlp"]
    sess, ref = make_session(path, options={"precision": "bf16"}, profile=True), cpu_session(path)
    feeds = _mlp_feeds(1)
    compare(sess.run(None, feeds), ref.run(None, feeds), rtol=5e-2, atol=5e-2, what="precision=bf16")
    assert_ovep_ran(providers_used(sess), "precision=bf16")


@pytest.mark.parametrize("options", [
    {"device_type": "CPU"},
    {"device_type": "CPU", "precision": "f32", "performance_hint": "THROUGHPUT", "num_threads": 1,
     "min_subgraph_nodes": 1, "max_cached_shapes": 2, "cpu_kernel_cache": 0},
    {"performance_hint": "LATENCY", "num_threads": 0},
])
def test_valid_options_work(synthetic_models, options):
    path = synthetic_models["concurrency_mlp"]
    sess, ref = make_session(path, options=options, profile=True), cpu_session(path)
    feeds = _mlp_feeds(2)
    compare(sess.run(None, feeds), ref.run(None, feeds), what=f"options {options}")
    assert_ovep_ran(providers_used(sess), f"options {options}")


@pytest.mark.parametrize("device", ["NPU", "GPU"])
def test_absent_device_is_a_clear_error(synthetic_models, device):
    # This machine has no NPU and no GPU: asking for one must fail cleanly, naming the device, and the
    # process must go on working (a CPU session runs right after).
    path = synthetic_models["concurrency_mlp"]
    msg = _creation_error(path, {"device_type": device})
    assert device in msg, f"device_type={device}: message does not name the device: {msg}"
    feeds = _mlp_feeds(3)
    compare(make_session(path).run(None, feeds), cpu_session(path).run(None, feeds), what=f"after {device} error")


PLUGINS_CHILD = CHILD_IMPORTS_OVEP + r"""
import json, numpy as np, onnxruntime as ort
devices = ovep.register(ort)
so = ort.SessionOptions()
so.add_provider_for_devices([d for d in devices if dict(d.ep_metadata).get("ov_device") == "CPU"], {"cache_dir": ""})
sess = ort.InferenceSession(sys.argv[1], sess_options=so)
sess.run(None, {"x": np.zeros((8, 512), np.float32)})
mapped = sorted({line.split("/")[-1].strip() for line in open("/proc/self/maps") if "libopenvino_" in line and "_plugin" in line})
print(json.dumps({"offered": [dict(d.ep_metadata).get("ov_device") for d in devices], "plugins": mapped}))
"""


def test_a_cpu_session_loads_no_other_device_plugin(synthetic_models):
    # Checking that the session's device exists used to list every OpenVINO device, which loads every
    # plugin (GPU, NPU, AUTO, HETERO, ...): 4-13 ms of each process's first session measured here, and
    # a GPU driver's start-up on machines that have one. Asking the device itself loads its plugin alone.
    r = child_result(PLUGINS_CHILD, str(synthetic_models["concurrency_mlp"]), timeout=300)
    assert r["offered"] == ["CPU"], f"this test needs a host where ovep offers the CPU alone: {r['offered']}"
    # (OpenVINO's compile itself loads the auto-batching plugin, to decide against batching.)
    others = [p for p in r["plugins"] if p not in ("libopenvino_intel_cpu_plugin.so", "libopenvino_auto_batch_plugin.so")]
    assert not others, f"a CPU session loaded other devices' plugins: {others}"


def test_openvino_library_that_does_not_exist_is_an_error_even_when_openvino_is_loaded(synthetic_models):
    # Registration has already loaded OpenVINO; a path that is not there must still be reported, not ignored.
    msg = _creation_error(synthetic_models["concurrency_mlp"], {"openvino_library": "/nonexistent/libopenvino_c.so"})
    assert "openvino_library" in msg and "/nonexistent/libopenvino_c.so" in msg, msg
