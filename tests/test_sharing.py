"""Sessions of one process share compiled models: a second session of a model another session already
compiled (cache on) or loaded (EPContext) uses the same compiled model, with the CPU EP's outputs, and
each session runs on its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ovep

HERE = Path(__file__).resolve().parent
# The ovep package this test session imported (the installed wheel, or python/ with OVEP_LIBRARY_PATH).
PACKAGE_ROOT = str(Path(ovep.__file__).resolve().parent.parent)

CHILD = r"""
import json, sys, numpy as np, onnxruntime as ort, resource
sys.path.insert(0, sys.argv[3])
import ovep
model, cache, original = sys.argv[1], sys.argv[2], sys.argv[4]
second = json.loads(sys.argv[5])  # the second session's extra ovep options
ort.set_default_logger_severity(1)
devices = [d for d in ovep.register(ort) if dict(d.ep_metadata).get("ov_device") == "CPU"]
def session(extra):
    so = ort.SessionOptions()
    so.add_provider_for_devices(devices, {"cache_dir": cache, **extra})
    return ort.InferenceSession(model, sess_options=so)
x = {"image": np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)}
ref = ort.InferenceSession(original, providers=["CPUExecutionProvider"]).run(None, x)[0]
a = session({})
a_out = a.run(None, x)[0]
b = session(second)
b_out = b.run(None, x)[0]
del a  # the survivor keeps the shared model alive
b_out2 = b.run(None, x)[0]
np.testing.assert_allclose(a_out, ref, rtol=1e-4, atol=1e-5)
for o in (b_out, b_out2):  # bf16 keeps about 3 significant digits
    np.testing.assert_allclose(o, ref, rtol=1e-4 if not second else 5e-2, atol=1e-5 if not second else 1e-3)
print("ok")
"""


def _run(model: Path, cache: str, original: Path, second_options: str = "{}") -> str:
    p = subprocess.run([sys.executable, "-c", CHILD, str(model), cache, PACKAGE_ROOT, str(original), second_options],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "ok" in p.stdout, f"child failed ({p.returncode}):\n{p.stderr[-3000:]}"
    return p.stderr


def test_second_session_shares_the_compiled_model(synthetic_models, tmp_path):
    model = synthetic_models["small_cnn"]
    log = _run(model, str(tmp_path / "cache"), model)
    assert log.count("compiled a subgraph") == 1, "the second session compiled again"
    assert "shares the compiled model of another session" in log, log[-2000:]


def test_second_session_of_an_epcontext_model_shares_it(synthetic_models, tmp_path):
    ctx = tmp_path / "ctx.onnx"
    subprocess.run([sys.executable, "-m", "ovep", "precompile", str(synthetic_models["small_cnn"]), "--context-out",
                    str(ctx)], check=True, capture_output=True,
                   env={**__import__("os").environ, "PYTHONPATH": PACKAGE_ROOT})
    log = _run(ctx, "", synthetic_models["small_cnn"])
    assert "shares the compiled model of another session" in log, log[-2000:]


def test_sessions_with_other_options_do_not_share_an_epcontext_model(synthetic_models, tmp_path):
    # The import applies the session's properties (here its precision): a bf16 session must not be handed
    # the model another session imported at f32.
    ctx = tmp_path / "ctx.onnx"
    subprocess.run([sys.executable, "-m", "ovep", "precompile", str(synthetic_models["small_cnn"]), "--context-out",
                    str(ctx)], check=True, capture_output=True,
                   env={**__import__("os").environ, "PYTHONPATH": PACKAGE_ROOT})
    log = _run(ctx, "", synthetic_models["small_cnn"], '{"precision": "bf16"}')
    assert "shares the compiled model of another session" not in log, log[-2000:]
