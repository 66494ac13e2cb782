"""ovep's own C API (include/ovep.h) through ctypes: the same libovep.so ONNX Runtime loads."""

from __future__ import annotations

import ctypes
import functools

READY, BUILD, OFF, FAILED = 1, 0, -1, -2
_BUF = 8192


@functools.lru_cache(maxsize=1)
def _lib():
    from . import get_library_path

    lib = ctypes.CDLL(get_library_path())
    lib.ovep_fast_start_path.argtypes = [ctypes.c_char_p] * 4 + [ctypes.c_char_p, ctypes.c_size_t]
    lib.ovep_fast_start_path.restype = ctypes.c_int
    lib.ovep_fast_start_publish.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.ovep_fast_start_publish.restype = ctypes.c_int
    return lib


def _enc(s: str | None) -> bytes | None:
    return None if s is None else str(s).encode()


def fast_start_path(model: str, device: str, options_key: str, cache_dir: str | None) -> tuple[int, str]:
    """(READY, context model) | (BUILD, staging path) | (OFF, ""); raises on FAILED."""
    out = ctypes.create_string_buffer(_BUF)
    code = _lib().ovep_fast_start_path(_enc(model), _enc(device), _enc(options_key), _enc(cache_dir), out, _BUF)
    text = out.value.decode(errors="replace")
    if code == FAILED:
        raise RuntimeError(text)
    return code, text


def fast_start_publish(staged: str) -> str:
    out = ctypes.create_string_buffer(_BUF)
    if _lib().ovep_fast_start_publish(_enc(staged), out, _BUF) == FAILED:
        raise RuntimeError(out.value.decode(errors="replace"))
    return out.value.decode(errors="replace")
