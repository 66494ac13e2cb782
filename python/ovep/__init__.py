"""ovep: an ONNX Runtime plugin execution provider that runs ONNX models on OpenVINO.

Use it from any onnxruntime >= 1.23.2:

    import onnxruntime as ort, ovep
    devices = ovep.register(ort)               # registers libovep.so, returns ovep's OrtEpDevices
    so = ort.SessionOptions()
    so.add_provider_for_devices(devices[:1], {"precision": "f32"})
    sess = ort.InferenceSession("model.onnx", sess_options=so)

Or, to start at EPContext speed from the second process on with nothing to manage:

    sess = ovep.InferenceSession("model.onnx", options={"precision": "f32"})
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil

__all__ = ["EP_NAME", "InferenceSession", "get_library_path", "register", "__version__"]

__version__ = "0.1.0"

#: The execution provider name; options reach ovep as ``ep.ovepexecutionprovider.<key>``.
EP_NAME = "OvepExecutionProvider"

#: The registration name :func:`register` uses by default.
DEFAULT_REGISTRATION_NAME = "ovep"


def get_library_path() -> str:
    """Absolute path of the ``libovep.so`` shipped in this package.

    ``OVEP_LIBRARY_PATH`` overrides it (for a library built with ``cargo build``).
    """
    override = os.environ.get("OVEP_LIBRARY_PATH")
    if override:
        return os.path.abspath(override)
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "libovep*.so")) + glob.glob(os.path.join(here, "libovep*.dylib")))
    if not found:
        raise FileNotFoundError(
            f"libovep.so is not in {here}: install ovep with 'pip install .' or set OVEP_LIBRARY_PATH"
        )
    return found[0]


def register(ort=None, name: str = DEFAULT_REGISTRATION_NAME):
    """Register ovep with ONNX Runtime (once per process) and return ovep's ``OrtEpDevice`` list.

    ``ort`` is the ``onnxruntime`` module to register with (imported when omitted).
    Calling it again with the same name returns the devices without registering twice.
    """
    if ort is None:
        import onnxruntime as ort  # noqa: PLC0415 - ovep does not depend on a particular onnxruntime build
    if name not in _registered:
        ort.register_execution_provider_library(name, get_library_path())
        _registered.add(name)
    return [d for d in ort.get_ep_devices() if d.ep_name == EP_NAME]


_registered: set[str] = set()


def InferenceSession(path_or_bytes, sess_options=None, providers=None, provider_options=None, *,
                     device: str = "CPU", options: dict | None = None, cache_dir: str | None = None, **kwargs):
    """``onnxruntime.InferenceSession`` on ovep, with fast start: the first process compiles the model and
    keeps an EPContext model for it in ovep's cache; later ones load that (no conversion, no compile, no
    weights for what OpenVINO runs). A changed model file is compiled again, transparently.

    ``device``: the OpenVINO device of ovep's ``OrtEpDevice`` ("CPU", "GPU", ...). ``options``: ovep's options
    (see the README). ``cache_dir``: None for the default cache, "" for no fast start (plain session).
    ``providers`` may only name ``CPUExecutionProvider`` (ORT's fallback for what ovep leaves, always on);
    ``sess_options`` is used as given, plus ovep's device (and the EPContext switches when compiling).
    Returns an ``onnxruntime.InferenceSession``.
    """
    import onnxruntime as ort  # noqa: PLC0415 - any onnxruntime build

    from . import _capi

    others = [p for p in (providers or []) if (p[0] if isinstance(p, tuple) else p) != "CPUExecutionProvider"]
    if others or provider_options:
        raise ValueError(f"ovep.InferenceSession runs on ovep (and ORT's CPU EP); got providers={providers!r}")
    opts = {str(k): str(v) for k, v in (options or {}).items()}
    if cache_dir is not None:
        opts.setdefault("cache_dir", cache_dir)
    state, path = _capi.OFF, ""
    if isinstance(path_or_bytes, (str, os.PathLike)):
        # First: with a kept context model, ovep starts importing its compiled blobs now, while ORT
        # registers ovep and loads the model.
        model = os.path.abspath(os.fspath(path_or_bytes))
        options_key = "\n".join(f"{k}={v}" for k, v in sorted(opts.items()) if k != "cache_dir")
        state, path = _capi.fast_start_path(model, device.upper(), options_key, opts.get("cache_dir"))
    chosen = [d for d in register(ort) if dict(d.ep_metadata).get("ov_device") == device.upper()]
    if not chosen:
        if state == _capi.BUILD:  # the staging directory is this process's own: nothing will publish it
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        have = [dict(d.ep_metadata).get("ov_device") for d in register(ort)]
        raise ValueError(f"ovep offers no OpenVINO device {device!r}; it offers {have}")
    so = sess_options if sess_options is not None else ort.SessionOptions()
    so.add_provider_for_devices(chosen[:1], opts)
    kwargs.setdefault("enable_fallback", 0)  # ORT's Python fallback would hide ovep's errors
    if not isinstance(path_or_bytes, (str, os.PathLike)):
        return ort.InferenceSession(path_or_bytes, sess_options=so, **kwargs)
    if state == _capi.READY:
        return ort.InferenceSession(path, sess_options=so, **kwargs)
    if state in (_capi.OFF, _capi.PLAIN):  # PLAIN: the model has no EPContext form here (see below)
        return ort.InferenceSession(model, sess_options=so, **kwargs)
    so.add_session_config_entry("ep.context_enable", "1")
    so.add_session_config_entry("ep.context_file_path", path)
    so.add_session_config_entry("ep.context_embed_mode", "0")
    try:
        sess = ort.InferenceSession(model, sess_options=so, **kwargs)
    except Exception as e:
        # A subgraph whose OpenVINO export does not import faithfully has no EPContext form (ovep
        # refuses to write one that would give other results); the compiled-model cache still
        # keeps the rest of the model. Publishing the empty build marks the model plain, so later
        # starts open it directly instead of failing the same way first.
        if "cannot be written as an EPContext node" not in str(e):
            # The staging directory is this process's own (its name holds the pid): nothing will publish it.
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
            raise
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        _capi.fast_start_publish(path)
        plain = ort.SessionOptions() if sess_options is None else sess_options
        if sess_options is None:
            plain.add_provider_for_devices(chosen[:1], opts)
        else:
            plain.add_session_config_entry("ep.context_enable", "0")
        return ort.InferenceSession(model, sess_options=plain, **kwargs)
    # A build where ovep compiled nothing leaves no context model: publishing marks the model plain.
    _capi.fast_start_publish(path)
    return sess
