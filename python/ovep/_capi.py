"""ovep's own C API (include/ovep.h) through ctypes: the same libovep.so ONNX Runtime loads."""

from __future__ import annotations

import ctypes
import functools

READY, BUILD, OFF, FAILED, PLAIN = 1, 0, -1, -2, 2
_BUF = 8192


@functools.lru_cache(maxsize=1)
def _lib():
    from . import get_library_path

    _point_at_openvino_wheel()
    lib = ctypes.CDLL(get_library_path())
    lib.ovep_fast_start_path.argtypes = [ctypes.c_char_p] * 4 + [ctypes.c_char_p, ctypes.c_size_t]
    lib.ovep_fast_start_path.restype = ctypes.c_int
    lib.ovep_fast_start_publish.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.ovep_fast_start_publish.restype = ctypes.c_int
    lib.ovep_cache_command.argtypes = [ctypes.c_char_p] * 3 + [ctypes.POINTER(ctypes.c_void_p)]
    lib.ovep_cache_command.restype = ctypes.c_int
    lib.ovep_string_free.argtypes = [ctypes.c_void_p]
    lib.ovep_wait_background.argtypes = [ctypes.c_uint64]
    lib.ovep_wait_background.restype = ctypes.c_int
    return lib


def _point_at_openvino_wheel() -> None:
    """Without ONNX Runtime loaded (e.g. `ovep cache ...`), ovep may not find OpenVINO on its own when the
    interpreter runs outside an activated venv: name the `openvino` wheel this package depends on."""
    import importlib.util
    import os

    if os.environ.get("OVEP_OPENVINO_LIBRARY"):
        return
    spec = importlib.util.find_spec("openvino")
    if spec and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            libs = os.path.join(root, "libs")
            if any(n.startswith("libopenvino_c.so") for n in (os.listdir(libs) if os.path.isdir(libs) else [])):
                os.environ["OVEP_OPENVINO_LIBRARY"] = libs
                return


def _enc(s: str | None) -> bytes | None:
    return None if s is None else str(s).encode()


def _state_and_text(call, *args: bytes | None) -> tuple[int, str]:
    """Call a fast-start entry point: its state and the path (or message) it wrote; raises on FAILED."""
    out = ctypes.create_string_buffer(_BUF)
    code = call(*args, out, _BUF)
    text = out.value.decode(errors="replace")
    if code == FAILED:
        raise RuntimeError(text)
    return code, text


def fast_start_path(model: str, device: str, options_key: str, cache_dir: str | None) -> tuple[int, str]:
    """(READY, context model) | (BUILD, staging path) | (PLAIN, "") | (OFF, ""); raises on FAILED."""
    return _state_and_text(_lib().ovep_fast_start_path, _enc(model), _enc(device), _enc(options_key), _enc(cache_dir))


def fast_start_publish(staged: str) -> tuple[int, str]:
    """(READY, context model) | (PLAIN, "") when the build left no context model; raises on FAILED."""
    return _state_and_text(_lib().ovep_fast_start_publish, _enc(staged))


def cache_command(cache_dir: str | None, command: str, argument: str | None = None) -> dict:
    """Run a cache maintenance command (ls, stats, verify, prune, export, import); its JSON report."""
    import json

    out = ctypes.c_void_p()
    code = _lib().ovep_cache_command(_enc(cache_dir), _enc(command), _enc(argument), ctypes.byref(out))
    try:
        text = ctypes.string_at(out.value).decode(errors="replace") if out.value else ""
    finally:
        _lib().ovep_string_free(out)
    if code != 0:
        raise RuntimeError(text)
    return json.loads(text)


def wait_background(timeout_s: float = 600.0) -> bool:
    """Wait for ovep's background work (cache writes) in this process."""
    return bool(_lib().ovep_wait_background(int(timeout_s * 1000)))
