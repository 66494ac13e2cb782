"""Synthetic ONNX models for the integration tests, built in code with onnx.helper and seeded numpy weights.

Every builder is deterministic (fixed seed), returns an ``onnx.ModelProto`` that passes ``onnx.checker``, and
runs on ONNX Runtime's CPU EP. They test agreement between ovep and the CPU EP, not accuracy.
Opset 17 (LayerNormalization exists from 17) and IR version 8 so onnxruntime 1.23.2 loads them too.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from repo_tools import load_tool

OPSET = 17
IR_VERSION = 8
MS_DOMAIN = "com.microsoft"


class _Graph(load_tool("synth_models").GraphBuilder):
    """The test models' builder: He-scaled weights, ops with several outputs or a domain."""

    def weight(self, prefix: str, shape: tuple[int, ...], fan_in: int) -> str:
        # He-style scale keeps activations O(1) through the layers, so rtol-based comparisons are meaningful.
        w = self.rng.standard_normal(shape).astype(np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        return self.const(prefix, w)

    def op(self, op_type: str, inputs: list[str], n_out: int = 1, domain: str = "", **attrs) -> str | list[str]:
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type), domain=domain, **attrs))
        return outs[0] if n_out == 1 else outs

    def conv(self, x: str, c_in: int, c_out: int, k: int = 3, stride: int = 1, bias: bool = True) -> str:
        inputs = [x, self.weight("conv_w", (c_out, c_in, k, k), c_in * k * k)]
        if bias:
            inputs.append(self.const("conv_b", self.rng.standard_normal(c_out).astype(np.float32) * 0.1))
        return self.op("Conv", inputs, kernel_shape=[k, k], pads=[k // 2] * 4, strides=[stride, stride])

    def batchnorm(self, x: str, c: int) -> str:
        r = self.rng
        scale = self.const("bn_scale", (1.0 + 0.1 * r.standard_normal(c)).astype(np.float32))
        bias = self.const("bn_bias", (0.1 * r.standard_normal(c)).astype(np.float32))
        mean = self.const("bn_mean", (0.1 * r.standard_normal(c)).astype(np.float32))
        var = self.const("bn_var", (1.0 + 0.1 * r.random(c)).astype(np.float32))
        return self.op("BatchNormalization", [x, scale, bias, mean, var], epsilon=1e-5)

    def model(self, name: str, inputs, outputs, extra_opsets=()) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        opsets = [helper.make_opsetid("", OPSET), *[helper.make_opsetid(d, v) for d, v in extra_opsets]]
        m = helper.make_model(graph, opset_imports=opsets, producer_name="ovep-tests", ir_version=IR_VERSION)
        onnx.checker.check_model(m, full_check=True)
        return m


def _tensor(name: str, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def small_cnn() -> onnx.ModelProto:
    """Image classifier, 1x3x64x64 -> 1x1000 probabilities; ~2.6 MB of weights.

    Conv/BatchNormalization/Relu/MaxPool blocks, GlobalAveragePool, Flatten, Gemm, Softmax.
    """
    g = _Graph(seed=1)
    x, c = "image", 3
    for c_out, pool in ((32, True), (64, True), (128, True), (256, False)):
        x = g.op("Relu", [g.batchnorm(g.conv(x, c, c_out, bias=False), c_out)])
        if pool:
            x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
        c = c_out
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    fc_w = g.weight("fc_w", (c, 1000), c)
    fc_b = g.const("fc_b", np.zeros(1000, np.float32))
    x = g.op("Gemm", [x, fc_w, fc_b])
    g.nodes.append(helper.make_node("Softmax", [x], ["probs"], axis=-1))
    return g.model("small_cnn", [_tensor("image", [1, 3, 64, 64])], [_tensor("probs", [1, 1000])])


def small_transformer(d_model: int = 128, heads: int = 4, d_ff: int = 512) -> onnx.ModelProto:
    """One pre-LayerNorm transformer encoder block; input tokens [batch, seq, d_model], seq dynamic.

    The head split goes through int64 shape tensors computed at run time (Shape/Slice/Concat -> Reshape),
    as exported transformers do; Gelu is written as its Erf decomposition (Gelu is opset 20).
    """
    g = _Graph(seed=2)
    dh = d_model // heads
    x = "tokens"

    def layernorm(v):
        gamma = g.const("ln_g", (1.0 + 0.1 * g.rng.standard_normal(d_model)).astype(np.float32))
        beta = g.const("ln_b", (0.1 * g.rng.standard_normal(d_model)).astype(np.float32))
        return g.op("LayerNormalization", [v, gamma, beta], axis=-1, epsilon=1e-5)

    def linear(v, n_in, n_out):
        w = g.weight("w", (n_in, n_out), n_in)
        b = g.const("b", (0.02 * g.rng.standard_normal(n_out)).astype(np.float32))
        return g.op("Add", [g.op("MatMul", [v, w]), b])

    # [batch, seq] from the input's shape, then [batch, seq, heads, dh] for the head split.
    shape = g.op("Shape", [x])
    batch_seq = g.op("Slice", [shape, g.const("s0", np.array([0], np.int64)), g.const("s2", np.array([2], np.int64))])
    split_shape = g.op("Concat", [batch_seq, g.const("hd", np.array([heads, dh], np.int64))], axis=0)
    merge_shape = g.op("Concat", [batch_seq, g.const("dm", np.array([d_model], np.int64))], axis=0)

    h = layernorm(x)

    def heads_of(v):  # [b, s, d] -> [b, heads, s, dh]
        return g.op("Transpose", [g.op("Reshape", [v, split_shape])], perm=[0, 2, 1, 3])

    q = heads_of(linear(h, d_model, d_model))
    k = heads_of(linear(h, d_model, d_model))
    v = heads_of(linear(h, d_model, d_model))
    kt = g.op("Transpose", [k], perm=[0, 1, 3, 2])
    scores = g.op("Mul", [g.op("MatMul", [q, kt]), g.const("scale", np.array(1.0 / np.sqrt(dh), np.float32))])
    attn = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    attn = g.op("Reshape", [g.op("Transpose", [attn], perm=[0, 2, 1, 3]), merge_shape])
    x = g.op("Add", [x, linear(attn, d_model, d_model)])

    # Feed-forward with exact Gelu: 0.5 * y * (1 + erf(y / sqrt(2))).
    y = linear(layernorm(x), d_model, d_ff)
    erf = g.op("Erf", [g.op("Div", [y, g.const("sqrt2", np.array(np.sqrt(2.0), np.float32))])])
    gelu = g.op("Mul", [g.op("Mul", [y, g.op("Add", [erf, g.const("one", np.array(1.0, np.float32))])]),
                        g.const("half", np.array(0.5, np.float32))])
    out = g.op("Add", [x, linear(gelu, d_ff, d_model)])
    g.nodes.append(helper.make_node("Identity", [out], ["hidden"]))
    return g.model("small_transformer", [_tensor("tokens", ["batch", "seq", d_model])],
                   [_tensor("hidden", ["batch", "seq", d_model])])


def mixed_model() -> onnx.ModelProto:
    """A CNN with two com.microsoft contrib ops in the middle that OpenVINO's ONNX frontend cannot convert
    but ORT's CPU EP runs: GridSample (com.microsoft, not the ai.onnx one) and CDist.

    image [1,3,32,32], grid [1,32,32,2] in [-1,1] -> Conv/Relu x2 -> com.microsoft.GridSample -> Conv/Relu
    -> GlobalAveragePool -> Flatten -> com.microsoft.CDist against 10 centroids -> Neg -> Softmax.
    So a correct partition is: OpenVINO subgraph, CPU node, OpenVINO subgraph, CPU node, OpenVINO tail.
    """
    g = _Graph(seed=3)
    x = g.op("Relu", [g.conv("image", 3, 16)])
    x = g.op("Relu", [g.conv(x, 16, 16)])
    x = g.op("GridSample", [x, "grid"], domain=MS_DOMAIN, mode="bilinear", padding_mode="zeros", align_corners=0)
    x = g.op("Relu", [g.conv(x, 16, 32)])
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    centroids = g.const("centroids", g.rng.random((10, 32)).astype(np.float32))
    d = g.op("CDist", [x, centroids], domain=MS_DOMAIN, metric="euclidean")
    g.nodes.append(helper.make_node("Softmax", [g.op("Neg", [d])], ["scores"], axis=-1))
    return g.model("mixed", [_tensor("image", [1, 3, 32, 32]), _tensor("grid", [1, 32, 32, 2])],
                   [_tensor("scores", [1, 10])], extra_opsets=[(MS_DOMAIN, 1)])


def lone_node_model() -> onnx.ModelProto:
    """Exactly one node OpenVINO can run (Relu), between two it cannot (com.microsoft.GridSample).

    With min_subgraph_nodes=1 ovep may take the Relu; with 2 it must leave everything to the CPU EP.
    image [1,4,16,16], grid [1,16,16,2] -> GridSample -> Relu -> GridSample -> out.
    """
    g = _Graph(seed=4)
    x = g.op("GridSample", ["image", "grid"], domain=MS_DOMAIN, mode="bilinear", padding_mode="zeros")
    x = g.op("Relu", [x])
    g.nodes.append(helper.make_node("GridSample", [x, "grid"], ["out"], domain=MS_DOMAIN, mode="bilinear",
                                    padding_mode="zeros"))
    return g.model("lone_node", [_tensor("image", [1, 4, 16, 16]), _tensor("grid", [1, 16, 16, 2])],
                   [_tensor("out", [1, 4, 16, 16])], extra_opsets=[(MS_DOMAIN, 1)])


def dynamic_quant_cnn() -> onnx.ModelProto:
    """A dynamically quantized CNN in the form ORT's quantize_dynamic writes (ddddocr is one): each convolution
    is DynamicQuantizeLinear -> ConvInteger (both left to ORT) -> Cast -> Mul by the scales -> Add bias, then SiLU.
    What OpenVINO could take are only the elementwise pieces between ORT's nodes.

    image [1,3,16,16] -> (quantized conv 3->8, SiLU) -> (quantized conv 8->4) -> out [1,4,16,16].
    """
    g = _Graph(seed=9)

    def quantized_conv(x: str, c_in: int, c_out: int) -> str:
        q, scale, zero = g.op("DynamicQuantizeLinear", [x], n_out=3)
        w = g.const("qconv_w", g.rng.integers(0, 255, (c_out, c_in, 3, 3)).astype(np.uint8))
        w_zero = g.const("qconv_w_zero", np.array(128, np.uint8))
        acc = g.op("ConvInteger", [q, w, zero, w_zero], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        w_scale = g.const("qconv_w_scale", np.array(0.01, np.float32))
        y = g.op("Mul", [g.op("Cast", [acc], to=TensorProto.FLOAT), g.op("Mul", [scale, w_scale])])
        bias = g.const("qconv_b", (0.1 * g.rng.standard_normal((1, c_out, 1, 1))).astype(np.float32))
        return g.op("Add", [y, bias])

    x = quantized_conv("image", 3, 8)
    x = g.op("Mul", [x, g.op("Sigmoid", [x])])
    g.nodes.append(helper.make_node("Identity", [quantized_conv(x, 8, 4)], ["out"]))
    return g.model("dynamic_quant_cnn", [_tensor("image", [1, 3, 16, 16])], [_tensor("out", [1, 4, 16, 16])])


def elementwise_only() -> onnx.ModelProto:
    """Nothing but elementwise ops: x [2,64] -> x * sigmoid(x) + 1 -> out. The whole graph is one group, so there
    is no boundary with ORT to cross and OpenVINO takes it like any other model."""
    g = _Graph(seed=10)
    y = g.op("Mul", ["x", g.op("Sigmoid", ["x"])])
    g.nodes.append(helper.make_node("Add", [y, g.const("one", np.array(1.0, np.float32))], ["out"]))
    return g.model("elementwise_only", [_tensor("x", [2, 64])], [_tensor("out", [2, 64])])


def dynamic_cnn() -> onnx.ModelProto:
    """Dynamic batch and H/W: image [N,3,H,W] -> features [N,16,ceil(H/2),ceil(W/2)] and logits [N,10]."""
    g = _Graph(seed=5)
    x = g.op("Relu", [g.conv("image", 3, 8)])
    feat = g.op("Relu", [g.conv(x, 8, 16, stride=2)])
    g.nodes.append(helper.make_node("Identity", [feat], ["features"]))
    pooled = g.op("Flatten", [g.op("GlobalAveragePool", [feat])], axis=1)
    w = g.weight("fc_w", (16, 10), 16)
    b = g.const("fc_b", np.zeros(10, np.float32))
    g.nodes.append(helper.make_node("Gemm", [pooled, w, b], ["logits"]))
    return g.model("dynamic_cnn", [_tensor("image", ["N", 3, "H", "W"])],
                   [_tensor("features", ["N", 16, "H2", "W2"]), _tensor("logits", ["N", 10])])


def dynamic_wide_cnn() -> onnx.ModelProto:
    """Dynamic H/W with ~5 MB of weights: image [1,3,H,W] -> logits [1,1000]. For the memory-bound test: a
    compiled copy per shape kept forever would cost megabytes each and show in the process's RSS."""
    g = _Graph(seed=7)
    x, c = "image", 3
    for c_out, stride in ((64, 1), (128, 2), (256, 2), (256, 1)):
        x = g.op("Relu", [g.conv(x, c, c_out, stride=stride)])
        c = c_out
    pooled = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    w = g.weight("fc_w", (c, 1000), c)
    b = g.const("fc_b", np.zeros(1000, np.float32))
    g.nodes.append(helper.make_node("Gemm", [pooled, w, b], ["logits"]))
    return g.model("dynamic_wide_cnn", [_tensor("image", [1, 3, "H", "W"])], [_tensor("logits", [1, 1000])])


def concurrency_mlp(width: int = 512, layers: int = 6) -> onnx.ModelProto:
    """An MLP heavy enough (~6 MB, a few ms per run) that four threads' runs overlap: x [8, width] -> y."""
    g = _Graph(seed=6)
    x = "x"
    for _ in range(layers):
        w = g.weight("w", (width, width), width)
        b = g.const("b", (0.05 * g.rng.standard_normal(width)).astype(np.float32))
        x = g.op("Tanh", [g.op("Add", [g.op("MatMul", [x, w]), b])])
    g.nodes.append(helper.make_node("Identity", [x], ["y"]))
    return g.model("concurrency_mlp", [_tensor("x", [8, width])], [_tensor("y", [8, width])])


#: name -> builder, for fixtures and the self-check script.
def _w(rng, shape, name):
    return onnx.numpy_helper.from_array((rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32), name)


def loop_state() -> onnx.ModelProto:
    """Loop with a runtime trip count M carrying a state s [1, 16]: s = 0.9 s + Tanh(x W + s U) per step,
    every step's s as a scan output. The body reads x, W and U from the outer scope."""
    rng = np.random.default_rng(11)
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("MatMul", ["s_in", "U"], ["su"]),
            helper.make_node("Add", ["xw", "su"], ["pre"]),
            helper.make_node("Tanh", ["pre"], ["t"]),
            helper.make_node("Mul", ["s_in", "decay"], ["kept"]),
            helper.make_node("Add", ["kept", "t"], ["s_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Identity", ["s_out"], ["s_step"]),
        ],
        "loop_body",
        [_tensor("i", [], TensorProto.INT64), _tensor("cond_in", [], TensorProto.BOOL), _tensor("s_in", [1, 16])],
        [_tensor("cond_out", [], TensorProto.BOOL), _tensor("s_out", [1, 16]), _tensor("s_step", [1, 16])],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["M", "cond", "s0"], ["s_final", "steps"], body=body)],
        "loop_state",
        [_tensor("x", [1, 8]), _tensor("s0", [1, 16]), _tensor("M", [], TensorProto.INT64),
         _tensor("cond", [], TensorProto.BOOL)],
        [_tensor("s_final", [1, 16]), _tensor("steps", [None, 1, 16])],
        [_w(rng, (8, 16), "W"), _w(rng, (16, 16), "U"), onnx.numpy_helper.from_array(np.float32(0.9), "decay")],
    )
    return _model(graph)


def scan_rnn() -> onnx.ModelProto:
    """Scan over a sequence [T, 1, 8] (T dynamic) with a hidden state h [1, 16]: h = Tanh(x_t Wx + h Wh),
    each h a scan output; the body reads Wx and Wh from the outer scope."""
    rng = np.random.default_rng(12)
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["x_t", "Wx"], ["a"]),
            helper.make_node("MatMul", ["h_in", "Wh"], ["b"]),
            helper.make_node("Add", ["a", "b"], ["pre"]),
            helper.make_node("Tanh", ["pre"], ["h_out"]),
            helper.make_node("Identity", ["h_out"], ["y_t"]),
        ],
        "scan_body",
        [_tensor("h_in", [1, 16]), _tensor("x_t", [1, 8])],
        [_tensor("h_out", [1, 16]), _tensor("y_t", [1, 16])],
    )
    graph = helper.make_graph(
        [helper.make_node("Scan", ["h0", "seq"], ["h_last", "ys"], body=body, num_scan_inputs=1)],
        "scan_rnn",
        [_tensor("h0", [1, 16]), _tensor("seq", ["T", 1, 8])],
        [_tensor("h_last", [1, 16]), _tensor("ys", ["T", 1, 16])],
        [_w(rng, (8, 16), "Wx"), _w(rng, (16, 16), "Wh")],
    )
    return _model(graph)


def if_branches() -> onnx.ModelProto:
    """If on ReduceSum(x) > 0: one branch Relu(x W) * 2, the other Sigmoid(x V); both read outer-scope
    weights, then a MatMul after the If."""
    rng = np.random.default_rng(13)

    def branch(name, nodes, out):
        return helper.make_graph(nodes, name, [], [_tensor(out, [1, 16])])

    then = branch("then", [helper.make_node("MatMul", ["x", "W"], ["tw"]), helper.make_node("Relu", ["tw"], ["tr"]),
                           helper.make_node("Mul", ["tr", "two"], ["t_out"])], "t_out")
    other = branch("else", [helper.make_node("MatMul", ["x", "V"], ["ev"]),
                            helper.make_node("Sigmoid", ["ev"], ["e_out"])], "e_out")
    graph = helper.make_graph(
        [
            helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
            helper.make_node("Greater", ["total", "zero"], ["positive"]),
            helper.make_node("If", ["positive"], ["chosen"], then_branch=then, else_branch=other),
            helper.make_node("MatMul", ["chosen", "P"], ["y"]),
        ],
        "if_branches",
        [_tensor("x", [1, 8])],
        [_tensor("y", [1, 4])],
        [_w(rng, (8, 16), "W"), _w(rng, (8, 16), "V"), _w(rng, (16, 4), "P"),
         onnx.numpy_helper.from_array(np.float32(2), "two"), onnx.numpy_helper.from_array(np.float32(0), "zero")],
    )
    return _model(graph)


def _model(graph) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


BUILDERS = {
    "small_cnn": small_cnn,
    "small_transformer": small_transformer,
    "mixed": mixed_model,
    "lone_node": lone_node_model,
    "dynamic_quant_cnn": dynamic_quant_cnn,
    "elementwise_only": elementwise_only,
    "dynamic_cnn": dynamic_cnn,
    "dynamic_wide_cnn": dynamic_wide_cnn,
    "concurrency_mlp": concurrency_mlp,
    "loop_state": loop_state,
    "scan_rnn": scan_rnn,
    "if_branches": if_branches,
}


def rotary_embedding() -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """x [1, 3, 32, 32] read as (batch, heads, sequence, head size) through ONNX RotaryEmbedding (opset 23),
    then Relu; the cos/sin caches are inputs (returned as feeds). The CPU plugin fuses this into its RoPE
    node, whose export OpenVINO 2026.4 does not import faithfully (constant caches fold away instead)."""
    angles = np.arange(32)[:, None] * np.random.default_rng(3).random(16)[None, :]
    feeds = {"cos": np.cos(angles).astype(np.float32), "sin": np.sin(angles).astype(np.float32)}
    graph = helper.make_graph(
        [helper.make_node("RotaryEmbedding", ["x", "cos", "sin", "pos"], ["r"]), helper.make_node("Relu", ["r"], ["y"])],
        "rotary",
        [_tensor("x", [1, 3, 32, 32]), _tensor("cos", [32, 16]), _tensor("sin", [32, 16])],
        [_tensor("y", [1, 3, 32, 32])],
        [onnx.numpy_helper.from_array(np.arange(32, dtype=np.int64)[None, :], "pos")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model, feeds
