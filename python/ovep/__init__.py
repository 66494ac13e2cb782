"""ovep: an ONNX Runtime plugin execution provider that runs ONNX models on OpenVINO.

Use it from any onnxruntime >= 1.23.2:

    import onnxruntime as ort, ovep
    devices = ovep.register(ort)               # registers libovep.so, returns ovep's OrtEpDevices
    so = ort.SessionOptions()
    so.add_provider_for_devices(devices[:1], {"precision": "f32"})
    sess = ort.InferenceSession("model.onnx", sess_options=so)
"""

from __future__ import annotations

import glob
import os

__all__ = ["EP_NAME", "get_library_path", "register", "__version__"]

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
