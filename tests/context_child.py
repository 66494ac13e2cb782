"""Child process for tests/test_context.py: one ORT session with ovep, in a fresh process.

    python context_child.py MODEL FEEDS.npz OUT.npz CONFIG_JSON

CONFIG_JSON: {"session_config": {...}, "ovep": {...}, "compile_to": path (use ORT's ModelCompiler
instead of running)}. Writes the outputs to OUT.npz; ORT's log goes to stderr.
"""

import json
import sys

import numpy as np
import onnxruntime as ort

try:
    import ovep
except ImportError:
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "python"))
    import ovep

model, feeds_path, out_path, config = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
ort.set_default_logger_severity(1)
so = ort.SessionOptions()
for k, v in config.get("session_config", {}).items():
    so.add_session_config_entry(k, v)
devices = [d for d in ovep.register(ort) if dict(d.ep_metadata).get("ov_device") == "CPU"]
so.add_provider_for_devices(devices, {"cache_dir": "", **config.get("ovep", {})})
if "compile_to" in config:
    compiler = ort.ModelCompiler(so, model, embed_compiled_data_into_model=config.get("embed", False))
    compiler.compile_to_file(config["compile_to"])
    sys.exit(0)
sess = ort.InferenceSession(model, sess_options=so, enable_fallback=0)
feeds = dict(np.load(feeds_path))
outs = sess.run(None, feeds)
np.savez(out_path, *outs)
