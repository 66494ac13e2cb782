"""Measured placement: a small claimed subgraph that ORT's CPU kernels run clearly faster is handed to them
after a trial on the session's own runs; every run, before, during and after the trial, matches the CPU EP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sessions import CHILD_IMPORTS_OVEP, child_result_and_log

pytestmark = pytest.mark.usefixtures("ovep_devices")

TESTS_DIR = Path(__file__).resolve().parent

# Silero VAD chunk by chunk, ovep against the CPU EP on every chunk, both fed the CPU EP's state (so that
# rounding differences do not compound through the recurrence); ORT's log (severity info) goes to stderr.
CHILD = CHILD_IMPORTS_OVEP + f"""
import json, sys
sys.path.insert(0, {str(TESTS_DIR)!r})
import numpy as np, onnxruntime as ort, seeded_inputs
model, options, chunks = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
devices = [d for d in ovep.register(ort) if dict(d.ep_metadata).get("ov_device") == "CPU"]
so = ort.SessionOptions(); so.log_severity_level = 1
so.add_provider_for_devices(devices, {{"cache_dir": "", **options}})
sess = ort.InferenceSession(model, so)
ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
sr = np.array(16000, np.int64)
state = np.zeros((2, 1, 128), np.float32)
worst = [0.0] * chunks
for i, chunk in enumerate(seeded_inputs.vad_chunks(chunks, seed=3)):
    got = sess.run(None, {{"input": chunk, "state": state, "sr": sr}})
    want = ref.run(None, {{"input": chunk, "state": state, "sr": sr}})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4, err_msg=f"chunk {{i}}")
        worst[i] = max(worst[i], float(np.max(np.abs(g - w))))
    state = want[1]
print(json.dumps({{"chunks": chunks, "worst": worst}}))
"""

REPORT = "us per run cycle on OpenVINO"


def _silero(models_dir, options: dict, chunks: int) -> tuple[dict, str]:
    return child_result_and_log(CHILD, str(models_dir / "silero_vad.onnx"), json.dumps(options), str(chunks),
                                timeout=300)


def test_silero_vad_encoder_moves_to_ort_kernels_and_every_chunk_matches(models_dir):
    # Silero's encoder (83 ONNX nodes, 18 us of OpenVINO kernel time per 32 ms chunk): in this loop, which also
    # runs the CPU EP on every chunk, a run cycle took 600-660 us with OpenVINO computing it against 556-611 us
    # with ORT's kernels (measured 2026-11-25), a saving well beyond the trial's margin of 10 % of the encoder's
    # own 60-80 us. 8 warm-up runs, the CPU session's build in the background, 3 + 30 trial runs, then ORT's
    # kernels for the rest; every chunk is compared with the CPU EP.
    result, log = _silero(models_dir, {}, 400)
    reports = [line for line in log.splitlines() if REPORT in line]
    # One verdict, after at most two close calls (a trial that a noisy moment made too close is run again).
    assert 1 <= len(reports) <= 3, f"expected one to three placement reports, got {reports}\n{log[-3000:]}"
    assert all("too close to call" in r for r in reports[:-1]), reports
    assert "ORT's CPU kernels compute it" in reports[-1], reports
    # OpenVINO's convolutions sum in another order (up to 3e-4 on the state through the LSTM, measured); ORT's
    # kernels give the CPU EP's numbers: the last chunks show that they computed them.
    late = max(result["worst"][-100:])
    assert late <= 1e-5, f"the last 100 chunks differ by up to {late}: not ORT's kernels"


def test_placement_openvino_keeps_every_run_on_openvino(models_dir):
    result, log = _silero(models_dir, {"placement": "openvino"}, 100)
    assert REPORT not in log, [line for line in log.splitlines() if REPORT in line]
    assert len(result["worst"]) == 100


def test_the_verdict_is_kept_in_the_cache_and_a_later_session_leaves_the_subgraph_to_ort(models_dir, tmp_path):
    # The first process measures and hands the encoder to ORT's kernels; the compiled-model cache keeps the
    # verdict with the partition (this device, this OpenVINO), so the next process does not claim those nodes:
    # no OpenVINO call, no import, no trial, and ORT's CPU EP computes them as it would without ovep.
    cache = str(tmp_path / "cache")
    _, log = _silero(models_dir, {"cache_dir": cache}, 400)
    assert "ORT's CPU kernels compute it" in log, [line for line in log.splitlines() if "ovep" in line][-10:]
    result, log = _silero(models_dir, {"cache_dir": cache}, 50)
    claims = [line for line in log.splitlines() if "as stored in the compiled-model cache" in line]
    assert claims and "left to ORT's CPU EP: measured faster there" in claims[0], claims or log[-3000:]
    assert REPORT not in log, "the warm session measured again"
    assert max(result["worst"]) == 0.0, f"ORT's CPU EP computed the model, yet it differs by {max(result['worst'])}"
    # placement=openvino means what it says, whatever the cache measured before.
    _, log = _silero(models_dir, {"cache_dir": cache, "placement": "openvino"}, 10)
    claims = [line for line in log.splitlines() if "as stored in the compiled-model cache" in line]
    assert claims and "measured faster there" not in claims[0] and "claimed 0 of" not in claims[0], claims
