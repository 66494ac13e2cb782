"""The ``ovep`` command (also ``python -m ovep``).

    ovep                                   where the library is, which devices ovep offers
    ovep precompile MODEL... [--device CPU] [--cache-dir D] [--context-out PATH] [-o key=value]
    ovep cache ls|stats|verify [--cache-dir D] [--json]
    ovep cache prune --max-bytes N | export BUNDLE | import BUNDLE

``precompile`` compiles without running inference: into the cache (what ORT sessions with ovep and
``ovep.InferenceSession`` then load), or, with ``--context-out``, into EPContext models.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _devices() -> int:
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


def _options(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep:
            raise SystemExit(f"ovep: option {p!r} is not key=value")
        out[key] = value
    return out


def _context_path(model: str, out: str, several: bool) -> str:
    if several or os.path.isdir(out) or out.endswith(os.sep):
        os.makedirs(out, exist_ok=True)
        return os.path.join(out, os.path.splitext(os.path.basename(model))[0] + "_ctx.onnx")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    return out


def _precompile(args) -> int:
    import onnxruntime as ort

    import ovep
    from . import _capi

    options = _options(args.option)
    chosen = [d for d in ovep.register(ort) if dict(d.ep_metadata).get("ov_device") == args.device.upper()]
    if not chosen:
        print(f"ovep: no OpenVINO device {args.device!r} here", file=sys.stderr)
        return 2
    failed = 0
    for i, model in enumerate(args.models, 1):
        started = time.perf_counter()
        print(f"[{i}/{len(args.models)}] {model}: compiling for {args.device} ...", flush=True)
        try:
            if args.context_out:
                target = _context_path(model, args.context_out, len(args.models) > 1)
                so = ort.SessionOptions()
                so.add_provider_for_devices(chosen[:1], {"cache_dir": "", **options})
                compiler = ort.ModelCompiler(so, model, embed_compiled_data_into_model=args.embed)
                compiler.compile_to_file(target)
                done = f"EPContext model {target}"
            else:
                cache = {"cache_dir": args.cache_dir} if args.cache_dir is not None else {}
                # The blob cache (plain ORT sessions) first; the fast-start context model is then
                # built from those blobs instead of compiling a second time.
                so = ort.SessionOptions()
                so.add_provider_for_devices(chosen[:1], {**options, **cache})
                ort.InferenceSession(model, sess_options=so, enable_fallback=0)
                _capi.wait_background()
                ovep.InferenceSession(model, device=args.device, options=options, cache_dir=args.cache_dir)
                done = "cached"
        except Exception as e:  # noqa: BLE001 - report and go on with the next model
            failed += 1
            print(f"[{i}/{len(args.models)}] {model}: FAILED: {e}", file=sys.stderr, flush=True)
            continue
        print(f"[{i}/{len(args.models)}] {model}: {done} in {time.perf_counter() - started:.1f} s", flush=True)
    return 1 if failed else 0


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _cache(args) -> int:
    from . import _capi

    argument = {"prune": args.max_bytes, "export": args.bundle, "import": args.bundle}.get(args.command)
    if args.command == "prune" and argument is None:
        print("ovep cache prune: --max-bytes is required", file=sys.stderr)
        return 2
    if args.command in ("export", "import") and not argument:
        print(f"ovep cache {args.command}: the bundle path is required", file=sys.stderr)
        return 2
    try:
        report = _capi.cache_command(args.cache_dir, args.command, None if argument is None else str(argument))
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.command == "ls":
        print(f"{report['root']}")
        for e in report["entries"]:
            meta = e["metadata"]
            kind = meta.get("kind") or "blob"
            print(f"  {e['key'][:16]}  {_size(e['bytes']):>10}  {kind:9}  {meta.get('device', '')} {meta.get('openvino', '')}")
        for c in report["contexts"]:
            print(f"  ctx/{c['id'][:12]}  {_size(c['bytes']):>10}  context model")
    elif args.command == "stats":
        print(f"{report['root']}: {report['entries']} entries ({_size(report['entry_bytes'])}), "
              f"{report['contexts']} context models ({_size(report['context_bytes'])})")
    elif args.command == "verify":
        bad = len(report["discarded"]) + len(report["contexts_removed"])
        print(f"{report['valid']} entries and {report['contexts_valid']} context models valid; {bad} removed")
        for d in report["discarded"] + report["contexts_removed"]:
            print(f"  removed {d.get('key', d.get('id'))[:16]}: {d['reason']}")
    elif args.command == "prune":
        print(f"removed {report['removed']} ({_size(report['freed_bytes'])}); {_size(report['remaining_bytes'])} left")
    elif args.command == "export":
        print(f"{report['bundle']}: {report['entries']} entries, {report['contexts']} context models")
    elif args.command == "import":
        print(f"imported {report['imported']} entries and {report['contexts_imported']} context models; "
              f"skipped {len(report['skipped'])}")
        for s in report["skipped"]:
            print(f"  skipped {s['entry'][:16]}: {s['reason']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ovep", description="ovep: ONNX Runtime on OpenVINO")
    sub = parser.add_subparsers(dest="what")
    sub.add_parser("devices", help="where the library is and which devices ovep offers (the default)")
    pre = sub.add_parser("precompile", help="compile models without running them")
    pre.add_argument("models", nargs="+", metavar="MODEL")
    pre.add_argument("--device", default="CPU")
    pre.add_argument("--cache-dir", default=None, help="cache directory (default: ovep's default cache)")
    pre.add_argument("--context-out", default=None, metavar="PATH",
                     help="write EPContext models instead (a file, or a directory for several models)")
    pre.add_argument("--embed", action="store_true", help="with --context-out: keep blobs inside the model")
    pre.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE", help="an ovep option")
    cache = sub.add_parser("cache", help="inspect and maintain the compiled-model cache")
    cache.add_argument("command", choices=["ls", "stats", "verify", "prune", "export", "import"])
    cache.add_argument("bundle", nargs="?", help="export/import: the bundle file")
    cache.add_argument("--max-bytes", type=int, default=None, help="prune: the size to prune to")
    cache.add_argument("--cache-dir", default=None)
    cache.add_argument("--json", action="store_true", help="print the full report as JSON")
    args = parser.parse_args(argv)
    if args.what == "precompile":
        return _precompile(args)
    if args.what == "cache":
        return _cache(args)
    return _devices()
