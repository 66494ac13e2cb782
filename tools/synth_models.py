"""Seeded synthetic ONNX models (f32) with the topology and weight size of well-known networks.

They exist for latency, memory and EP-versus-CPU agreement measurements (bench/, tests): the weights
are random, so outputs say nothing about accuracy. Builders:

    resnet50_like(path)            ResNet-50 v1 (BN folded into conv bias), 1x3x224x224 -> 1x1000, ~102 MB
    mobilenetv2_like(path)         MobileNetV2 1.0 (ReLU6 as Clip), 1x3x224x224 -> 1x1000, ~14 MB
    bert_base_like(path, seq=128)  BERT-base encoder + pooler, input_ids/attention_mask int64 [1,seq], ~437 MB

Command line: `python tools/synth_models.py --dest .models` writes all three and runs each once on
ONNX Runtime's CPU EP to check the outputs are finite. A model is rebuilt only when its sidecar marker
(<model>.onnx.synth: builder version, seed, file size) does not match.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Bump when a builder changes what it writes, so `--dest` rebuilds stale files.
BUILDER_VERSION = 2
DEFAULT_SEED = 20260501
# Opset 17: has LayerNormalization; every ORT >= 1.14 and OpenVINO's ONNX frontend read it.
OPSET = 17


class GraphBuilder:
    """Collects nodes and initializers; names are unique by a running counter. Shared with the tests'
    model builders (tests/model_builders.py), which add their own `op` and `model`."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def const(self, prefix: str, array: np.ndarray) -> str:
        name = self.name(prefix)
        # Not np.ascontiguousarray: it turns 0-d scalars (Clip bounds, Gather index) into shape [1].
        self.inits.append(numpy_helper.from_array(np.asarray(array).copy(order="C"), name))
        return name


class _Graph(GraphBuilder):
    """The benchmark models' builder: seeded normal weights, one output per op."""

    def normal(self, prefix: str, shape, std: float) -> str:
        return self.const(prefix, self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std))

    def op(self, op_type: str, inputs: list[str], prefix: str | None = None, out: str | None = None, **attrs) -> str:
        out = out or self.name(prefix or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def model(self, name: str, inputs, outputs, seed: int) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ovep-synth")
        model.ir_version = 8  # readable by every ORT the project supports (>= 1.14)
        helper.set_model_props(model, {"ovep_synth": _marker_text(name, seed)})
        return model


def _marker_text(name: str, seed: int) -> str:
    return f"{name};builder=v{BUILDER_VERSION};seed={seed}"


def _save(model: onnx.ModelProto, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    tmp = path + ".tmp"
    onnx.save(model, tmp)  # all three stay under protobuf's 2 GB limit: one self-contained file
    os.replace(tmp, path)


# ---------------------------------------------------------------- CNN pieces

def _conv(g: _Graph, x: str, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, gain: float = 1.0) -> str:
    """Conv with bias (an inference-time conv with its BatchNorm folded in). He init keeps ReLU nets finite."""
    fan_in = (cin // groups) * k * k
    w = g.normal("w", (cout, cin // groups, k, k), gain * math.sqrt(2.0 / fan_in))
    b = g.normal("b", (cout,), 0.01)
    pad = k // 2
    return g.op("Conv", [x, w, b], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=groups)


def _head(g: _Graph, x: str, cin: int, classes: int = 1000) -> str:
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Flatten", [x], axis=1)
    w = g.normal("fc_w", (classes, cin), 1.0 / math.sqrt(cin))
    b = g.normal("fc_b", (classes,), 0.01)
    return g.op("Gemm", [x, w, b], out="logits", transB=1)


def _image_io(g: _Graph, name: str, seed: int) -> onnx.ModelProto:
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])
    return g.model(name, [inp], [out], seed)


def resnet50_like(path: str, seed: int = DEFAULT_SEED) -> str:
    """ResNet-50 v1 (bottleneck stride on the 3x3 conv), 25.5 M parameters."""
    g = _Graph(seed)
    x = g.op("Relu", [_conv(g, "input", 3, 64, 7, stride=2)])
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for stage, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
        for i in range(blocks):
            stride = 2 if (i == 0 and stage > 0) else 1
            cout = width * 4
            y = g.op("Relu", [_conv(g, x, cin, width, 1)])
            y = g.op("Relu", [_conv(g, y, width, width, 3, stride=stride)])
            # Without BatchNorm a He-init residual sum doubles the variance per block; a small gain on the
            # last conv of each branch keeps the 16-block stack in a realistic range (like zero-init-gamma).
            y = _conv(g, y, width, cout, 1, gain=0.3)
            shortcut = _conv(g, x, cin, cout, 1, stride=stride) if (stride != 1 or cin != cout) else x
            x = g.op("Relu", [g.op("Add", [y, shortcut])])
            cin = cout
    _head(g, x, cin)
    _save(_image_io(g, "resnet50_like", seed), path)
    return path


def mobilenetv2_like(path: str, seed: int = DEFAULT_SEED) -> str:
    """MobileNetV2 width 1.0: inverted residuals with depthwise 3x3 convs, 3.5 M parameters."""
    g = _Graph(seed)
    zero, six = g.const("relu6_min", np.array(0.0, np.float32)), g.const("relu6_max", np.array(6.0, np.float32))

    def relu6(t: str) -> str:
        return g.op("Clip", [t, zero, six])

    x = relu6(_conv(g, "input", 3, 32, 3, stride=2))
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = relu6(_conv(g, x, cin, hidden, 1)) if t != 1 else x
            y = relu6(_conv(g, y, hidden, hidden, 3, stride=stride, groups=hidden))
            # Linear bottleneck (no activation); He gain for a linear layer is 1/sqrt(2) of ReLU's.
            y = _conv(g, y, hidden, c, 1, gain=0.5)
            x = g.op("Add", [x, y]) if (stride == 1 and cin == c) else y
            cin = c
    x = relu6(_conv(g, x, cin, 1280, 1))
    _head(g, x, 1280)
    _save(_image_io(g, "mobilenetv2_like", seed), path)
    return path


# ---------------------------------------------------------------- BERT

BERT_VOCAB = 30522


def bert_base_like(path: str, seq: int = 128, seed: int = DEFAULT_SEED) -> str:
    """BERT-base as an exporter writes it: Gather embeddings, attention from MatMul/Softmax, Erf GELU.

    Inputs input_ids and attention_mask (int64 [1, seq]); outputs last_hidden_state [1, seq, 768] and
    pooler_output [1, 768]. 109.5 M parameters with BERT's own init (normal, std 0.02).
    """
    hidden, heads, layers, ffn, max_pos = 768, 12, 12, 3072, 512
    head_dim = hidden // heads
    g = _Graph(seed)

    def dense(t: str, cin: int, cout: int) -> str:
        y = g.op("MatMul", [t, g.normal("dense_w", (cin, cout), 0.02)])
        return g.op("Add", [y, g.const("dense_b", np.zeros(cout, np.float32))])

    def layer_norm(t: str) -> str:
        gamma = g.const("ln_gamma", np.ones(hidden, np.float32))
        beta = g.const("ln_beta", np.zeros(hidden, np.float32))
        return g.op("LayerNormalization", [t, gamma, beta], axis=-1, epsilon=1e-12)

    # Embeddings: word + position + token type (all type 0), then LayerNorm.
    words = g.op("Gather", [g.normal("word_emb", (BERT_VOCAB, hidden), 0.02), "input_ids"])
    pos_ids = g.const("position_ids", np.arange(seq, dtype=np.int64)[None, :])
    positions = g.op("Gather", [g.normal("pos_emb", (max_pos, hidden), 0.02), pos_ids])
    type_ids = g.const("token_type_ids", np.zeros((1, seq), np.int64))
    types = g.op("Gather", [g.normal("type_emb", (2, hidden), 0.02), type_ids])
    x = layer_norm(g.op("Add", [g.op("Add", [words, positions]), types]))

    # Additive mask [1, 1, 1, seq]: 0 where attended, -10000 where padded (HF's classic formulation).
    mask = g.op("Unsqueeze", ["attention_mask", g.const("axes", np.array([1, 2], np.int64))])
    mask = g.op("Cast", [mask], to=TensorProto.FLOAT)
    one = g.const("one", np.array(1.0, np.float32))
    mask = g.op("Sub", [one, mask])
    mask = g.op("Mul", [mask, g.const("neg", np.array(-10000.0, np.float32))])

    split_shape = g.const("split_heads", np.array([0, -1, heads, head_dim], np.int64))
    merge_shape = g.const("merge_heads", np.array([0, -1, hidden], np.int64))
    scale = g.const("scale", np.array(1.0 / math.sqrt(head_dim), np.float32))
    inv_sqrt2 = g.const("inv_sqrt2", np.array(1.0 / math.sqrt(2.0), np.float32))
    half = g.const("half", np.array(0.5, np.float32))

    for _ in range(layers):
        q = g.op("Transpose", [g.op("Reshape", [dense(x, hidden, hidden), split_shape])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [dense(x, hidden, hidden), split_shape])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [dense(x, hidden, hidden), split_shape])], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_shape])
        x = layer_norm(g.op("Add", [dense(ctx, hidden, hidden), x]))
        h = dense(x, hidden, ffn)
        gelu = g.op("Mul", [g.op("Mul", [h, half]), g.op("Add", [g.op("Erf", [g.op("Mul", [h, inv_sqrt2])]), one])])
        x = layer_norm(g.op("Add", [dense(gelu, ffn, hidden), x]))

    g.op("Identity", [x], out="last_hidden_state")
    first = g.op("Gather", [x, g.const("cls_index", np.array(0, np.int64))], axis=1)
    g.op("Tanh", [dense(first, hidden, hidden)], out="pooler_output")

    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, seq]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, seq]),
    ]
    outputs = [
        helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [1, seq, hidden]),
        helper.make_tensor_value_info("pooler_output", TensorProto.FLOAT, [1, hidden]),
    ]
    _save(g.model("bert_base_like", inputs, outputs, seed), path)
    return path


# ---------------------------------------------------------------- command line

BUILDERS = {"resnet50_like": resnet50_like, "mobilenetv2_like": mobilenetv2_like, "bert_base_like": bert_base_like}


def sample_inputs(name: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs of the right shapes and ranges (token ids within the vocabulary, a 0/1 mask)."""
    rng = np.random.default_rng(seed)
    if name == "bert_base_like":
        mask = np.ones((1, 128), np.int64)
        mask[:, 100:] = 0  # a padded tail, as a real batch of one sentence has
        return {"input_ids": rng.integers(0, BERT_VOCAB, (1, 128), dtype=np.int64), "attention_mask": mask}
    return {"input": rng.standard_normal((1, 3, 224, 224), dtype=np.float32)}


def check_on_cpu(name: str, path: str) -> str:
    """Run the model once on ORT's CPU EP; raise unless every output is finite. Returns a summary."""
    import onnxruntime as ort  # noqa: PLC0415 - only the check needs it

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outs = sess.run(None, sample_inputs(name))
    parts = []
    for meta, out in zip(sess.get_outputs(), outs):
        if not np.all(np.isfinite(out)):
            raise RuntimeError(f"{name}: output {meta.name} has non-finite values")
        parts.append(f"{meta.name}{list(out.shape)} std={float(out.std()):.3g} max|x|={float(np.abs(out).max()):.3g}")
    return "; ".join(parts)


def _marker(name: str, seed: int, size: int) -> dict:
    return {"model": name, "builder_version": BUILDER_VERSION, "seed": seed, "size": size}


def ensure(name: str, dest: str, seed: int = DEFAULT_SEED, check: bool = True) -> tuple[str, bool]:
    """Build dest/<name>.onnx unless its marker matches. Returns (path, built)."""
    path = os.path.join(dest, f"{name}.onnx")
    sidecar = path + ".synth"
    if os.path.exists(path) and os.path.exists(sidecar):
        with open(sidecar) as f:
            try:
                if json.load(f) == _marker(name, seed, os.path.getsize(path)):
                    return path, False
            except ValueError:
                pass  # a torn sidecar: rebuild
    BUILDERS[name](path, seed=seed)
    if check:
        print(f"  {name}: {check_on_cpu(name, path)}", flush=True)
    with open(sidecar, "w") as f:
        json.dump(_marker(name, seed, os.path.getsize(path)), f)
    return path, True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dest", default=".models", help="output folder (default .models)")
    ap.add_argument("--models", default=",".join(BUILDERS), help="comma-separated subset of " + ",".join(BUILDERS))
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--no-check", action="store_true", help="skip the finite-output run on ORT's CPU EP")
    args = ap.parse_args(argv)
    for name in [m for m in args.models.split(",") if m]:
        if name not in BUILDERS:
            ap.error(f"unknown model {name!r}; choose from {', '.join(BUILDERS)}")
        path, built = ensure(name, args.dest, args.seed, check=not args.no_check)
        size_mb = os.path.getsize(path) / 1e6
        print(f"{'built' if built else 'up to date'}: {path} ({size_mb:.1f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
