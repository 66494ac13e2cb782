"""ovep against ORT's CPU EP on synthetic and real models, f32, rtol 1e-4; ovep must run part of each."""

from __future__ import annotations

import numpy as np
import pytest

import ovep
import seeded_inputs
from comparison import compare, ctc_greedy_decode, max_abs_diff
from sessions import assert_ovep_ran, cpu_session, make_session, providers_used

pytestmark = pytest.mark.usefixtures("ovep_devices")


def _check(path, feeds_list, what, rtol=1e-4, atol=None):
    """Run every feed through one ovep session and one CPU EP session; compare; ovep must have run nodes."""
    sess, ref = make_session(path, profile=True), cpu_session(path)
    kwargs = {"rtol": rtol} | ({"atol": atol} if atol is not None else {})
    names = [o.name for o in ref.get_outputs()]
    for i, feeds in enumerate(feeds_list):
        compare(sess.run(None, feeds), ref.run(None, feeds), names=names, what=f"{what} input #{i}", **kwargs)
    assert_ovep_ran(providers_used(sess), what)


def test_small_cnn(synthetic_models):
    rng = np.random.default_rng(10)
    feeds = [{"image": rng.random((1, 3, 64, 64), dtype=np.float32)} for _ in range(2)]
    # Softmax over 1000 classes: outputs ~1e-3, so the absolute floor is scaled down with them.
    _check(synthetic_models["small_cnn"], feeds, "small CNN", atol=1e-7)


def test_small_transformer(synthetic_models):
    rng = np.random.default_rng(11)
    # Two sequence lengths through one session: the head-split shapes are computed at run time.
    feeds = [{"tokens": rng.standard_normal((b, s, 128)).astype(np.float32)} for b, s in ((1, 7), (2, 16))]
    _check(synthetic_models["small_transformer"], feeds, "small transformer")


def test_ppocr_det(models_dir):
    x = seeded_inputs.ppocr_input(640, 640, seed=0)
    _check(models_dir / "ppocr_det.onnx", [{"x": x}], "PP-OCRv4 det 1x3x640x640")


def test_ppocr_rec(models_dir):
    feeds = [{"x": seeded_inputs.ppocr_input(48, 320, seed=1)}]
    _check(models_dir / "ppocr_rec.onnx", feeds, "PP-OCRv4 rec 1x3x48x320")


def test_ppocr_cls(models_dir):
    feeds = [{"x": seeded_inputs.ppocr_input(48, 192, seed=2)}]
    _check(models_dir / "ppocr_cls.onnx", feeds, "PP-OCR cls 1x3x48x192")


# ddddocr's default model is int8 dynamic-quantized: DynamicQuantizeLinear picks scale and zero point from
# each activation's min/max at run time, and ConvInteger/MatMulInteger/DynamicQuantizeLSTM work on the
# rounded int8 values. Any f32 difference upstream can move a value across a rounding boundary, changing it
# by one quantization step, and that propagates. Measured with OpenVINO 2026.4's CPU plugin (f32 hint)
# against ORT's CPU EP on these inputs: max abs diff 1.1-1.5 % of the output range (0.23-0.30 on logits up to
# ~20), greedy decoding identical. So: logits within 3 % of the range (2x margin), same decoded text, same
# argmax at >= 95 % of time steps. rtol 1e-4 cannot hold on this model for any two correct implementations.
DDDDOCR_RANGE_FRACTION = 0.03


@pytest.mark.parametrize("min_nodes", [2, 1])
def test_ddddocr_int8(models_dir, min_nodes):
    # By default ovep leaves this model to ORT: what OpenVINO could take are only the elementwise pieces between
    # ORT's DynamicQuantizeLinear/ConvInteger nodes, which cost more at the boundaries than they gain
    # (partition/cost.rs). min_subgraph_nodes=1 hands them to OpenVINO anyway, with the tolerance above.
    path = models_dir / "ddddocr.onnx"
    sess, ref = make_session(path, options={"min_subgraph_nodes": min_nodes}, profile=True), cpu_session(path)
    what = f"ddddocr int8, min_subgraph_nodes={min_nodes}"
    for seed, width in ((0, 160), (1, 224)):
        x = seeded_inputs.ddddocr_input(width, seed)
        (got,), (want,) = sess.run(None, {"input1": x}), ref.run(None, {"input1": x})
        assert got.shape == want.shape, f"{what}: ovep shape {got.shape} vs CPU EP {want.shape}"
        diff, scale = max_abs_diff(got, want), float(np.abs(want).max())
        assert diff <= DDDDOCR_RANGE_FRACTION * scale, (
            f"{what}, seed {seed}: max abs diff {diff:.4g} exceeds {DDDDOCR_RANGE_FRACTION:.0%} of the output "
            f"range {scale:.4g}"
        )
        agree = float((got.argmax(-1) == want.argmax(-1)).mean())
        assert agree >= 0.95, f"{what}, seed {seed}: argmax agrees at only {agree:.1%} of time steps"
        assert ctc_greedy_decode(got) == ctc_greedy_decode(want), (
            f"{what}, seed {seed}: decoded {ctc_greedy_decode(got)} vs CPU EP {ctc_greedy_decode(want)}"
        )
    counts = providers_used(sess)
    if min_nodes == 1:
        assert_ovep_ran(counts, what)
    else:
        assert counts.get(ovep.EP_NAME, 0) == 0, f"{what}: ovep should leave the model to ORT; {dict(counts)}"
