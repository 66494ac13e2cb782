"""`python -m ovep`: prints where the library is and which devices ovep offers."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    import ovep

    print(f"ovep {ovep.__version__}: {ovep.get_library_path()}")
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime is not installed in this environment", file=sys.stderr)
        return 1
    for d in ovep.register(ort):
        meta = dict(d.ep_metadata)
        print(f"  {d.device.type}: {meta.get('ov_device', '?')} ({meta.get('ov_full_device_name', '')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
