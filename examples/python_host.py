"""Run an ONNX model with ovep from Python and compare it with ORT's CPU EP.

    pip install .            # from the ovep checkout: builds libovep.so, installs the `ovep` package
    python examples/python_host.py model.onnx [precision]
"""

import sys

import numpy as np
import onnxruntime as ort

import ovep


def random_feeds(session: ort.InferenceSession) -> dict:
    rng = np.random.default_rng(0)
    dtypes = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}
    feeds = {}
    for i in session.get_inputs():
        # Dynamic dimensions: batch 1, every other dimension 64.
        shape = [d if isinstance(d, int) else (1 if k == 0 else 64) for k, d in enumerate(i.shape)]
        dtype = dtypes[i.type]
        feeds[i.name] = rng.random(shape).astype(dtype) if dtype == np.float32 else np.ones(shape, dtype)
    return feeds


def main() -> int:
    path = sys.argv[1]
    precision = sys.argv[2] if len(sys.argv) > 2 else "f32"
    devices = ovep.register(ort)  # ovep's OrtEpDevices (the CPU on any x86-64 with AVX2; GPU/NPU when present)
    so = ort.SessionOptions()
    so.add_provider_for_devices(devices[:1], {"precision": precision})
    session = ort.InferenceSession(path, sess_options=so)
    reference = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = random_feeds(session)
    for name, got, want in zip([o.name for o in session.get_outputs()], session.run(None, feeds), reference.run(None, feeds)):
        print(f"{name}: shape {got.shape}, max abs difference from the CPU EP {np.abs(got - want).max():.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
