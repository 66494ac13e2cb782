"""Child process for tests/test_fast_start.py: ``ovep.InferenceSession(MODEL, cache_dir=CACHE)`` in a fresh
process, one run on FEEDS.npz, outputs to OUT.npz; ORT's log (severity info) on stderr. With a sixth argument
(an options key), the child plays a C host whose key does not match its sessions' options (see below)."""

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
if len(sys.argv) > 5:
    # A C host whose options key does not match its session's options (key "precision=bf16", sessions on the
    # default f32): building keeps an f32 context model under that key; finding it again starts a bf16 head
    # start, which the f32 session on the context model must not take.
    import os

    from ovep import _capi

    model, key = os.path.abspath(model), sys.argv[5]
    so = ort.SessionOptions()
    so.add_provider_for_devices([d for d in ovep.register(ort) if d.ep_metadata.get("ov_device") == "CPU"],
                                {"cache_dir": cache})
    state, path = _capi.fast_start_path(model, "CPU", key, cache)
    assert state == _capi.BUILD, (state, path)
    so.add_session_config_entry("ep.context_enable", "1")
    so.add_session_config_entry("ep.context_file_path", path)
    ort.InferenceSession(model, sess_options=so)
    _capi.fast_start_publish(path)
    state, path = _capi.fast_start_path(model, "CPU", key, cache)
    assert state == _capi.READY, (state, path)
    so.add_session_config_entry("ep.context_enable", "0")
    sess = ort.InferenceSession(path, sess_options=so)
else:
    sess = ovep.InferenceSession(model, cache_dir=cache)
np.savez(out_path, *sess.run(None, dict(np.load(feeds_path))))
