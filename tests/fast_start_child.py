"""Child process for tests/test_fast_start.py: ``ovep.InferenceSession(MODEL, cache_dir=CACHE)`` in a fresh
process, one run on FEEDS.npz, outputs to OUT.npz; ORT's log (severity info) on stderr."""

import sys

import numpy as np
import onnxruntime as ort

try:
    import ovep
except ImportError:
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "python"))
    import ovep

model, cache, feeds_path, out_path = sys.argv[1:5]
ort.set_default_logger_severity(1)
sess = ovep.InferenceSession(model, cache_dir=cache)
np.savez(out_path, *sess.run(None, dict(np.load(feeds_path))))
