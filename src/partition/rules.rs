//! Which ONNX operators ovep hands to OpenVINO, as data.
//!
//! Source of truth: the operators OpenVINO 2026.4's ONNX frontend registers (`ONNX_OP(...)` in
//! openvinotoolkit/openvino `src/frontends/onnx/frontend/src/op/`), narrowed by measurement: every
//! row below was run through the 2026.4.1 wheel (ONNX node tests shipped with onnx 1.22, plus
//! single-node models compared against onnxruntime 1.32's CPU EP at f32). Rows and checks only
//! keep what converted *and* gave ORT's answer; the comments say what was seen to go wrong.
//!
//! Opset ranges are inclusive ranges of the node's schema `since_version` (what ORT reports for a
//! node), not of the model opset. Ranges stop at the last schema version whose meaning is known
//! (onnx 1.22); a newer schema version may change semantics, so it is refused until measured.

use crate::onnx::dtype::{DataType, TypeSet};
use crate::partition::facts::{AttrValue, NodeFacts};

/// An extra attribute/shape condition: `Err(reason)` refuses the node.
pub type Check = fn(&NodeFacts) -> Result<(), String>;

/// One supported operator over a range of schema versions.
#[derive(Clone, Copy, Debug)]
pub struct OpRule {
    /// "" = ai.onnx.
    pub domain: &'static str,
    pub op: &'static str,
    /// Inclusive range of the node's `since_version`; `i32::MAX` = open.
    pub since: i32,
    pub until: i32,
    /// Element types allowed for the first (data) input; `TypeSet::ANY` when it does not matter.
    pub types: TypeSet,
    /// Extra attribute/shape conditions.
    pub check: Option<Check>,
}

use DataType as D;

/// Refusals that only a shape ORT does not know causes (`refused_for_a_shape`).
const RANK_UNKNOWN: &str = "input rank unknown";
const SCALE_SHAPE_UNKNOWN: &str = "weight scale shape unknown";

/// Whether a refusal of these rules is only for want of a shape OpenVINO may infer
/// (`partition::plan` learns shapes ahead for such nodes).
pub fn refused_for_a_shape(why: &str) -> bool {
    why.starts_with(RANK_UNKNOWN) || why == SCALE_SHAPE_UNKNOWN
}

/// Floating types OpenVINO computes natively.
pub const FLOAT: TypeSet = TypeSet::of(&[D::Float, D::Float16, D::Bfloat16]);
/// Integers whose arithmetic matches ORT. Left out: i8/u8 (the CPU plugin saturates where ORT
/// wraps: u8 200+100, i8 -(-128)), u32 (values >= 2^31 are computed as signed i32: Max, Div,
/// Less, Sign, Clip all wrong).
pub const INT_ARITH: TypeSet = TypeSet::of(&[D::Int16, D::Uint16, D::Int32, D::Int64]);
/// Integers safe for comparison/selection (no overflow possible); u32 left out as above.
pub const INT_ORDER: TypeSet = TypeSet::of(&[D::Int8, D::Uint8, D::Int16, D::Uint16, D::Int32, D::Int64]);
pub const ARITH: TypeSet = FLOAT.union(INT_ARITH);
pub const ORDERED: TypeSet = FLOAT.union(INT_ORDER);
pub const EQUATABLE: TypeSet = ORDERED.union(TypeSet::of(&[D::Bool]));
pub const FLOAT_I32_I64: TypeSet = FLOAT.union(TypeSet::of(&[D::Int32, D::Int64]));
pub const BOOL: TypeSet = TypeSet::of(&[D::Bool]);
pub const QUANT8: TypeSet = TypeSet::of(&[D::Uint8, D::Int8]);
pub const INT_INDEX: TypeSet = TypeSet::of(&[D::Int32, D::Int64]);
/// Data movement: any type the global check lets through.
pub const ANY: TypeSet = TypeSet::ANY;

const MS: &str = "com.microsoft";

const fn op(name: &'static str, since: i32, until: i32, types: TypeSet) -> OpRule {
    OpRule { domain: "", op: name, since, until, types, check: None }
}

const fn opc(name: &'static str, since: i32, until: i32, types: TypeSet, check: Check) -> OpRule {
    OpRule { domain: "", op: name, since, until, types, check: Some(check) }
}

const fn ms(name: &'static str, types: TypeSet, check: Option<Check>) -> OpRule {
    OpRule { domain: MS, op: name, since: 1, until: 1, types, check }
}

/// The table. Pre-opset-6/7 versions with legacy attributes (`consumed_inputs`, `is_test`,
/// `spatial`) are left out: no current exporter writes them.
pub static RULES: &[OpRule] = &[
    // ---- Elementwise math on floats --------------------------------------------------------
    op("Abs", 6, 13, ARITH),
    op("Neg", 6, 13, FLOAT.union(TypeSet::of(&[D::Int16, D::Int32, D::Int64]))),
    op("Reciprocal", 6, 13, FLOAT),
    op("Floor", 6, 13, FLOAT),
    op("Ceil", 6, 13, FLOAT),
    op("Sqrt", 6, 13, FLOAT),
    op("Exp", 6, 13, FLOAT),
    op("Log", 6, 13, FLOAT),
    op("Sigmoid", 6, 13, FLOAT),
    op("Tanh", 6, 13, FLOAT),
    op("Erf", 9, 13, FLOAT),
    op("Round", 11, 22, FLOAT),
    op("Sin", 7, 22, FLOAT),
    op("Cos", 7, 22, FLOAT),
    op("Tan", 7, 22, FLOAT),
    op("Asin", 7, 22, FLOAT),
    op("Acos", 7, 22, FLOAT),
    op("Atan", 7, 22, FLOAT),
    op("Sinh", 9, 22, FLOAT),
    op("Cosh", 9, 22, FLOAT),
    op("Asinh", 9, 22, FLOAT),
    op("Acosh", 9, 22, FLOAT),
    op("Atanh", 9, 22, FLOAT),
    op("IsNaN", 9, 20, FLOAT),
    op("IsInf", 10, 20, FLOAT),
    op("Sign", 9, 13, ORDERED),
    op("Clip", 6, 13, ORDERED),
    // ---- Activations ------------------------------------------------------------------------
    op("Relu", 6, 14, ORDERED),
    op("LeakyRelu", 6, 16, FLOAT),
    op("PRelu", 7, 16, FLOAT),
    op("Elu", 6, 22, FLOAT),
    op("Selu", 6, 22, FLOAT),
    op("Celu", 12, 12, FLOAT),
    op("HardSigmoid", 6, 22, FLOAT),
    op("HardSwish", 14, 22, FLOAT),
    op("ThresholdedRelu", 10, 22, FLOAT),
    op("Softplus", 1, 22, FLOAT),
    op("Softsign", 1, 22, FLOAT),
    op("Mish", 18, 22, FLOAT),
    op("Gelu", 20, 20, FLOAT),
    op("Swish", 24, 24, FLOAT),
    op("Shrink", 9, 9, ORDERED),
    // Softmax-11/12 coerce the input to 2-D around `axis`; the frontend computes along `axis`
    // only, so any axis but the last gave wrong answers (Softmax-1 and LogSoftmax/Hardmax-11 did not).
    op("Softmax", 1, 10, FLOAT),
    opc("Softmax", 11, 12, FLOAT, softmax_last_axis),
    op("Softmax", 13, 13, FLOAT),
    op("LogSoftmax", 1, 13, FLOAT),
    op("Hardmax", 1, 13, FLOAT),
    // ---- Binary arithmetic and comparison ---------------------------------------------------
    op("Add", 7, 14, ARITH),
    op("Sub", 7, 14, ARITH),
    op("Mul", 7, 14, ARITH),
    op("Div", 7, 14, ARITH),
    op("Pow", 7, 15, FLOAT_I32_I64),
    op("Mod", 10, 13, ARITH),
    op("Max", 8, 13, ORDERED),
    op("Min", 8, 13, ORDERED),
    op("Sum", 8, 13, FLOAT),
    op("Mean", 8, 13, FLOAT),
    op("Equal", 7, 19, EQUATABLE),
    op("Less", 7, 13, ORDERED),
    op("Greater", 7, 13, ORDERED),
    op("LessOrEqual", 12, 16, ORDERED),
    op("GreaterOrEqual", 12, 16, ORDERED),
    // ---- Logical and bitwise ----------------------------------------------------------------
    // BitShift is left out: u8 << overflow saturates, u32 >> of values >= 2^31 sign-extends.
    op("Not", 1, 1, BOOL),
    op("And", 7, 7, BOOL),
    op("Or", 7, 7, BOOL),
    op("Xor", 7, 7, BOOL),
    op("BitwiseNot", 18, 18, INT_ORDER),
    op("BitwiseAnd", 18, 18, INT_ORDER),
    op("BitwiseOr", 18, 18, INT_ORDER),
    op("BitwiseXor", 18, 18, INT_ORDER),
    // ---- Type conversion --------------------------------------------------------------------
    // The global type check keeps f64/float8/4-bit out of both ends (Cast to/from double was a
    // wrong-answer source). Cast-28/CastLike-28 are newer than onnx 1.22: not yet measured.
    op("Cast", 6, 25, ANY),
    op("CastLike", 15, 25, ANY),
    // ---- Shape and data movement ------------------------------------------------------------
    opc("Constant", 1, 25, ANY, constant_dense),
    op("ConstantOfShape", 9, 25, ANY),
    op("Identity", 1, 25, ANY),
    op("Shape", 1, 25, ANY),
    op("Size", 1, 25, ANY),
    op("Reshape", 5, 25, ANY),
    op("Flatten", 1, 25, ANY),
    op("Squeeze", 1, 25, ANY),
    op("Unsqueeze", 1, 12, ANY),
    // Runtime axes make the output rank dynamic, which the CPU plugin refuses to compile.
    opc("Unsqueeze", 13, 25, ANY, unsqueeze_axes_constant),
    op("Transpose", 1, 25, ANY),
    op("Concat", 4, 13, ANY),
    op("Split", 2, 18, ANY),
    op("Slice", 1, 13, ANY),
    op("Gather", 1, 13, ANY),
    op("GatherElements", 11, 13, ANY),
    op("GatherND", 11, 13, ANY),
    op("Scatter", 9, 11, ANY),
    op("ScatterElements", 11, 18, ANY),
    op("ScatterND", 11, 18, ANY),
    op("Expand", 8, 13, ANY),
    // Runtime `repeats` gave garbage (Tile with repeats [2,2,2,2] fed as an input); constant is fine.
    opc("Tile", 6, 13, ANY, tile_repeats_constant),
    opc("Pad", 2, 25, ANY, pad_supported),
    op("DepthToSpace", 1, 13, ANY),
    op("SpaceToDepth", 1, 13, ANY),
    op("Compress", 9, 11, ANY),
    op("ReverseSequence", 10, 10, ANY),
    op("Where", 9, 16, BOOL),
    op("Trilu", 14, 14, ANY),
    op("EyeLike", 9, 22, ANY),
    op("Range", 11, 27, ARITH),
    op("OneHot", 9, 11, ORDERED),
    op("NonZero", 9, 13, EQUATABLE),
    op("Unique", 11, 11, ORDERED),
    op("CumSum", 11, 14, ARITH),
    op("CenterCropPad", 18, 18, ANY),
    opc("Col2Im", 18, 18, FLOAT, col2im_2d),
    // ---- Matrix products and convolution ----------------------------------------------------
    op("MatMul", 1, 13, FLOAT_I32_I64),
    op("Gemm", 7, 13, FLOAT),
    op("Einsum", 12, 12, FLOAT_I32_I64),
    op("Conv", 1, 22, FLOAT),
    op("ConvTranspose", 1, 22, FLOAT),
    // ---- Reductions -------------------------------------------------------------------------
    // ReduceL1/LogSum/LogSumExp-13 (axes attribute) are reduced over *all* axes by the frontend:
    // only 1/11 and 18 are taken. Every reduction refuses a known-empty input (ReduceMax over an
    // empty axis gave a finite value where ORT gives -inf).
    opc("ReduceSum", 1, 11, ARITH, reduce_nonempty),
    opc("ReduceSum", 13, 13, ARITH, reduce_axes_input),
    opc("ReduceMean", 1, 13, FLOAT_I32_I64, reduce_nonempty),
    opc("ReduceMean", 18, 18, FLOAT_I32_I64, reduce_axes_input),
    opc("ReduceMax", 1, 13, ORDERED, reduce_nonempty),
    opc("ReduceMax", 18, 20, EQUATABLE, reduce_axes_input),
    opc("ReduceMin", 1, 13, ORDERED, reduce_nonempty),
    opc("ReduceMin", 18, 20, EQUATABLE, reduce_axes_input),
    opc("ReduceProd", 1, 13, FLOAT_I32_I64, reduce_nonempty),
    opc("ReduceProd", 18, 18, FLOAT_I32_I64, reduce_axes_input),
    opc("ReduceL2", 1, 13, FLOAT_I32_I64, reduce_nonempty),
    opc("ReduceL2", 18, 18, FLOAT_I32_I64, reduce_axes_input),
    opc("ReduceSumSquare", 1, 13, FLOAT_I32_I64, reduce_nonempty),
    opc("ReduceSumSquare", 18, 18, FLOAT_I32_I64, reduce_axes_input),
    opc("ReduceL1", 1, 11, FLOAT_I32_I64, reduce_nonempty),
    opc("ReduceL1", 18, 18, FLOAT_I32_I64, reduce_axes_input),
    opc("ReduceLogSum", 1, 11, FLOAT, reduce_nonempty),
    opc("ReduceLogSum", 18, 18, FLOAT, reduce_log_sum_18),
    opc("ReduceLogSumExp", 1, 11, FLOAT, reduce_nonempty),
    opc("ReduceLogSumExp", 18, 18, FLOAT, reduce_axes_input),
    op("ArgMax", 1, 13, ORDERED),
    op("ArgMin", 1, 13, ORDERED),
    // TopK is left out: with tied values (e.g. after Relu) and with sorted=0 the indices differ
    // from ORT's.
    // ---- Normalization ----------------------------------------------------------------------
    opc("BatchNormalization", 7, 15, FLOAT, batch_norm_inference),
    op("InstanceNormalization", 6, 22, FLOAT),
    op("LpNormalization", 1, 22, FLOAT),
    op("LRN", 1, 13, FLOAT),
    op("MeanVarianceNormalization", 9, 13, FLOAT),
    // Version 1 is ORT's own LayerNormalization in the ONNX domain (pre-opset-17 fusions).
    op("LayerNormalization", 1, 1, FLOAT),
    op("LayerNormalization", 17, 17, FLOAT),
    // ORT-specific op registered in the ONNX domain (its T5/Llama fusions emit it).
    op("SimplifiedLayerNormalization", 1, 1, FLOAT),
    op("GroupNormalization", 18, 21, FLOAT),
    op("RMSNormalization", 23, 23, FLOAT),
    // ---- Pooling and spatial ----------------------------------------------------------------
    opc("MaxPool", 1, 22, ORDERED, max_pool_supported),
    op("AveragePool", 7, 22, FLOAT),
    op("GlobalAveragePool", 1, 22, FLOAT),
    op("GlobalMaxPool", 1, 22, FLOAT),
    op("GlobalLpPool", 2, 22, FLOAT),
    opc("LpPool", 2, 22, FLOAT, lp_pool_floor),
    opc("RoiAlign", 10, 22, FLOAT, roi_align_avg),
    op("MaxRoiPool", 1, 22, FLOAT),
    // NonMaxSuppression is left out: a box whose IoU equals the threshold exactly is kept by
    // ONNX and suppressed by OpenVINO (onnx node test iou_threshold_boundary).
    opc("GridSample", 16, 22, FLOAT, grid_sample_4d),
    opc("Upsample", 7, 9, ANY, upsample_mode),
    opc("Resize", 10, 19, ANY, resize_supported),
    // ---- Recurrent --------------------------------------------------------------------------
    opc("RNN", 7, 22, FLOAT, recurrent_supported),
    opc("GRU", 7, 22, FLOAT, recurrent_supported),
    opc("LSTM", 7, 22, FLOAT, recurrent_supported),
    // ---- Attention and signal ---------------------------------------------------------------
    opc("Attention", 23, 24, FLOAT, attention_supported),
    op("RotaryEmbedding", 23, 23, FLOAT),
    op("HannWindow", 17, 17, INT_INDEX),
    op("HammingWindow", 17, 17, INT_INDEX),
    op("BlackmanWindow", 17, 17, INT_INDEX),
    // DFT/STFT are left out: DFT (opset 17 and 20) differs from ORT in values and output shape
    // for onesided/inverse/axis cases; STFT needs constant frame_step and is unmeasured beyond.
    // ---- Inference-mode no-ops --------------------------------------------------------------
    opc("Dropout", 7, 22, FLOAT, dropout_inference),
    // ---- Quantization -----------------------------------------------------------------------
    // Ties (x/scale near n.5) can round one step off (`onnx::lower`); 16-bit outputs are lowered.
    opc("QuantizeLinear", 10, 25, FLOAT, quantize_supported),
    opc(
        "DequantizeLinear",
        10,
        25,
        TypeSet::of(&[D::Uint8, D::Int8, D::Uint16, D::Int16, D::Int32]),
        dequantize_supported,
    ),
    opc("QLinearConv", 10, 10, QUANT8, qlinear_conv_per_tensor),
    op("QLinearMatMul", 10, 21, QUANT8),
    // MatMulInteger/ConvInteger are left to ORT: with no scale to complete OpenVINO's int8
    // pattern, OpenVINO computes them in f32, and ORT's int8 kernels are faster (ddddocr's 21
    // ConvInteger: 20 ms a run with them on OpenVINO, 12 ms without, the CPU EP alone 8.4 ms).
    // DynamicQuantizeLinear is left out: its zero point puts x/scale on exact halves often, and
    // OpenVINO's reciprocal division lands on them where ORT's lands a hair off (`onnx::lower`).
    // ---- Control flow (bodies are converted by OpenVINO before the node is claimed) ---------
    op("If", 1, 25, BOOL),
    op("Loop", 11, 25, ANY),
    op("Scan", 8, 25, ANY),
    // ---- com.microsoft contrib ops (ORT fusions and quantization tools) ---------------------
    ms("FusedConv", FLOAT, Some(fused_conv_activation)),
    ms("FusedGemm", FLOAT, Some(fused_gemm_activation)),
    ms("FusedMatMul", FLOAT, Some(fused_matmul_no_batch_transpose)),
    ms("Gelu", FLOAT, None),
    ms("FastGelu", FLOAT, None),
    ms("BiasGelu", FLOAT, None),
    ms("QuickGelu", FLOAT, None),
    ms("SkipLayerNormalization", FLOAT, None),
    ms("SkipSimplifiedLayerNormalization", FLOAT, None),
    ms("EmbedLayerNormalization", INT_INDEX, Some(embed_layer_norm_supported)),
    ms("Attention", FLOAT, Some(ms_attention_supported)),
    ms("MultiHeadAttention", FLOAT, Some(ms_multi_head_attention_supported)),
    ms("RotaryEmbedding", FLOAT, Some(ms_rotary_supported)),
    ms("MatMulIntegerToFloat", QUANT8, None),
    ms("QuantizeLinear", FLOAT, Some(quantize_supported)),
    ms("DequantizeLinear", QUANT8, Some(dequantize_supported)),
    ms("GatherND", ANY, None),
    ms("Trilu", ANY, None),
    ms("Range", ARITH, None),
    ms("Pad", ANY, Some(pad_supported)),
];

// ---- Attribute and shape helpers ---------------------------------------------------------------

fn int_attr(f: &NodeFacts, name: &str, default: i64) -> i64 {
    f.attr_int(name).unwrap_or(default)
}

fn str_attr(f: &NodeFacts, name: &str, default: &str) -> String {
    f.attr_str(name).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_else(|| default.to_string())
}

fn ints_attr<'a>(f: &'a NodeFacts, name: &str) -> Option<&'a [i64]> {
    match f.attr(name) {
        Some(AttrValue::Ints(v)) => Some(v),
        _ => None,
    }
}

fn has_input(f: &NodeFacts, i: usize) -> bool {
    f.inputs.get(i).is_some_and(|v| v.is_present())
}

fn has_output(f: &NodeFacts, i: usize) -> bool {
    f.outputs.get(i).is_some_and(|v| v.is_present())
}

fn input_is_constant(f: &NodeFacts, i: usize) -> bool {
    f.inputs.get(i).is_some_and(|v| v.is_present() && v.is_constant)
}

fn input_rank(f: &NodeFacts, i: usize) -> Option<usize> {
    let v = f.inputs.get(i).filter(|v| v.is_present())?;
    v.rank.or_else(|| v.dims.as_ref().map(|d| d.len()))
}

fn input_dims(f: &NodeFacts, i: usize) -> Option<&[Option<i64>]> {
    f.inputs.get(i).filter(|v| v.is_present())?.dims.as_deref()
}

fn one_of(what: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!("{what} '{value}' not supported"))
    }
}

fn must_be(name: &str, value: i64, expected: i64) -> Result<(), String> {
    if value == expected {
        Ok(())
    } else {
        Err(format!("{name}={value} not supported"))
    }
}

fn absent_input(f: &NodeFacts, i: usize, what: &str) -> Result<(), String> {
    if has_input(f, i) {
        Err(format!("{what} input not supported"))
    } else {
        Ok(())
    }
}

fn absent_output(f: &NodeFacts, i: usize, what: &str) -> Result<(), String> {
    if has_output(f, i) {
        Err(format!("{what} output not supported"))
    } else {
        Ok(())
    }
}

// ---- Checks --------------------------------------------------------------------------------

fn softmax_last_axis(f: &NodeFacts) -> Result<(), String> {
    let axis = int_attr(f, "axis", 1);
    if axis == -1 {
        // The last axis whatever the rank: no need to know it.
        return Ok(());
    }
    let rank = input_rank(f, 0).ok_or_else(|| format!("{RANK_UNKNOWN} (axis must be the last)"))? as i64;
    let axis = if axis < 0 { axis + rank } else { axis };
    if rank <= 1 || axis == rank - 1 {
        Ok(())
    } else {
        Err(format!("axis {axis} of rank {rank} (2-D coercion) not supported"))
    }
}

fn constant_dense(f: &NodeFacts) -> Result<(), String> {
    if f.attr("sparse_value").is_some() {
        return Err("sparse_value not supported".into());
    }
    Ok(())
}

fn unsqueeze_axes_constant(f: &NodeFacts) -> Result<(), String> {
    if input_is_constant(f, 1) {
        Ok(())
    } else {
        Err("axes must be a constant (dynamic output rank)".into())
    }
}

fn tile_repeats_constant(f: &NodeFacts) -> Result<(), String> {
    if input_is_constant(f, 1) {
        Ok(())
    } else {
        Err("repeats must be a constant".into())
    }
}

/// Pad: the frontend knows constant/reflect/edge (not wrap) and needs constant `axes`.
fn pad_supported(f: &NodeFacts) -> Result<(), String> {
    one_of("mode", &str_attr(f, "mode", "constant"), &["constant", "reflect", "edge"])?;
    if has_input(f, 3) && !input_is_constant(f, 3) {
        return Err("axes must be a constant".into());
    }
    Ok(())
}

fn col2im_2d(f: &NodeFacts) -> Result<(), String> {
    match input_dims(f, 1) {
        Some([Some(2)]) => Ok(()),
        _ => Err("only 2-D images (image_shape of length 2) supported".into()),
    }
}

/// Reductions over an empty tensor: a known zero dimension is refused.
fn reduce_nonempty(f: &NodeFacts) -> Result<(), String> {
    if input_dims(f, 0).is_some_and(|d| d.contains(&Some(0))) {
        return Err("empty input not supported".into());
    }
    Ok(())
}

/// Reduce-18 (ReduceSum-13) take axes as an input: runtime axes with keepdims=0 make the
/// output rank dynamic, which the CPU plugin does not compile, unless ORT knows the output's
/// shape (then `onnx::lower` keeps the dimensions and reshapes).
fn reduce_axes_input(f: &NodeFacts) -> Result<(), String> {
    reduce_nonempty(f)?;
    let static_output = f.outputs.first().and_then(|o| o.dims.as_ref()).is_some_and(|d| d.iter().all(Option::is_some));
    // With the output's shape known, ovep lowers it to keepdims=1 and a Reshape (`onnx::lower`).
    if has_input(f, 1) && !input_is_constant(f, 1) && int_attr(f, "keepdims", 1) == 0 && !static_output {
        return Err("runtime axes with keepdims=0 and an output of unknown shape not supported".into());
    }
    Ok(())
}

/// ReduceLogSum-18 with noop_with_empty_axes=1 returned its input instead of log(input).
fn reduce_log_sum_18(f: &NodeFacts) -> Result<(), String> {
    must_be("noop_with_empty_axes", int_attr(f, "noop_with_empty_axes", 0), 0)?;
    reduce_axes_input(f)
}

fn batch_norm_inference(f: &NodeFacts) -> Result<(), String> {
    must_be("training_mode", int_attr(f, "training_mode", 0), 0)?;
    must_be("spatial", int_attr(f, "spatial", 1), 1)?;
    for i in 1..5 {
        absent_output(f, i, "training statistics")?;
    }
    Ok(())
}

/// MaxPool: with ceil_mode=1 ONNX drops an output window that would start in the right padding;
/// OpenVINO keeps it (e.g. 2x2 input, kernel 1, stride 2: ORT 1x1, OpenVINO 2x2). The indices
/// output with storage_order=1 (column major) also came out wrong.
fn max_pool_supported(f: &NodeFacts) -> Result<(), String> {
    if has_output(f, 1) {
        must_be("storage_order", int_attr(f, "storage_order", 0), 0)?;
    }
    if int_attr(f, "ceil_mode", 0) == 0 {
        return Ok(());
    }
    if str_attr(f, "auto_pad", "NOTSET") != "NOTSET" {
        return Err("ceil_mode=1 with auto_pad not supported".into());
    }
    let kernel = ints_attr(f, "kernel_shape").ok_or("kernel_shape missing")?;
    let n = kernel.len();
    let dims = input_dims(f, 0).filter(|d| d.len() == n + 2).ok_or("ceil_mode=1 needs known spatial dims")?;
    let strides = ints_attr(f, "strides");
    let dilations = ints_attr(f, "dilations");
    let pads = ints_attr(f, "pads");
    for (i, &k) in kernel.iter().enumerate() {
        let input = dims[i + 2].ok_or("ceil_mode=1 needs known spatial dims")?;
        let stride = strides.and_then(|s| s.get(i)).copied().unwrap_or(1).max(1);
        let dilation = dilations.and_then(|d| d.get(i)).copied().unwrap_or(1);
        let pad_begin = pads.and_then(|p| p.get(i)).copied().unwrap_or(0);
        let pad_end = pads.and_then(|p| p.get(i + n)).copied().unwrap_or(0);
        let span = input + pad_begin + pad_end - ((k - 1) * dilation + 1);
        if span < 0 {
            return Err("kernel larger than padded input".into());
        }
        let out = (span + stride - 1) / stride + 1;
        if (out - 1) * stride >= input + pad_begin {
            return Err("ceil_mode=1 with a last window starting in the padding not supported".into());
        }
    }
    Ok(())
}

/// LpPool-18 ceil_mode=1 gave wrong values.
fn lp_pool_floor(f: &NodeFacts) -> Result<(), String> {
    must_be("ceil_mode", int_attr(f, "ceil_mode", 0), 0)
}

/// RoiAlign mode=max differs from ORT (ONNX's max mode takes the max of the bilinear-weighted
/// corner values; OpenVINO does not).
fn roi_align_avg(f: &NodeFacts) -> Result<(), String> {
    one_of("mode", &str_attr(f, "mode", "avg"), &["avg"])
}

/// GridSample: the frontend converts 4-D inputs only.
fn grid_sample_4d(f: &NodeFacts) -> Result<(), String> {
    match input_rank(f, 0) {
        Some(4) => Ok(()),
        Some(r) => Err(format!("rank {r} input not supported (4-D only)")),
        None => Err(format!("{RANK_UNKNOWN} (4-D only)")),
    }
}

fn upsample_mode(f: &NodeFacts) -> Result<(), String> {
    one_of("mode", &str_attr(f, "mode", "nearest"), &["nearest", "linear", "bilinear"])
}

/// Resize: the frontend ignores exclude_outside, antialias and keep_aspect_ratio_policy (all
/// measured wrong when set) and rejects tf_crop_and_resize/half_pixel_symmetric; Resize-10
/// cubic came out wrong.
fn resize_supported(f: &NodeFacts) -> Result<(), String> {
    let mode = str_attr(f, "mode", "nearest");
    if f.since_version <= 10 {
        one_of("mode", &mode, &["nearest", "linear"])?;
        return Ok(());
    }
    one_of("mode", &mode, &["nearest", "linear", "cubic"])?;
    one_of(
        "coordinate_transformation_mode",
        &str_attr(f, "coordinate_transformation_mode", "half_pixel"),
        &["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"],
    )?;
    one_of(
        "nearest_mode",
        &str_attr(f, "nearest_mode", "round_prefer_floor"),
        &["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"],
    )?;
    must_be("exclude_outside", int_attr(f, "exclude_outside", 0), 0)?;
    must_be("antialias", int_attr(f, "antialias", 0), 0)?;
    one_of("keep_aspect_ratio_policy", &str_attr(f, "keep_aspect_ratio_policy", "stretch"), &["stretch"])
}

/// RNN/GRU/LSTM: batch-first layout, peepholes, input_forget and activations other than
/// Sigmoid/Tanh/Relu (or with alpha/beta) gave wrong answers or failed to compile.
fn recurrent_supported(f: &NodeFacts) -> Result<(), String> {
    must_be("layout", int_attr(f, "layout", 0), 0)?;
    if let Some(AttrValue::Strings(acts)) = f.attr("activations") {
        for a in acts {
            one_of("activation", &String::from_utf8_lossy(a), &["Sigmoid", "Tanh", "Relu"])?;
        }
    }
    if f.attr("activation_alpha").is_some() || f.attr("activation_beta").is_some() {
        return Err("activation_alpha/activation_beta not supported".into());
    }
    if f.op_type == "LSTM" {
        must_be("input_forget", int_attr(f, "input_forget", 0), 0)?;
        absent_input(f, 7, "peephole")?;
    }
    Ok(())
}

/// Attention-23: causal masking combined with a KV cache (past_key) differed from ORT.
fn attention_supported(f: &NodeFacts) -> Result<(), String> {
    if int_attr(f, "is_causal", 0) != 0 && has_input(f, 4) {
        return Err("is_causal with past_key not supported".into());
    }
    Ok(())
}

/// Dropout converts in inference mode only; a training_mode input is refused.
fn dropout_inference(f: &NodeFacts) -> Result<(), String> {
    absent_input(f, 2, "training_mode")
}

/// QuantizeLinear: no blocked quantization (fails to convert); 8-bit outputs only (u16 output
/// wrapped instead of saturating; float8/4-bit are refused by the global type check).
/// 16-bit outputs run only as ovep lowers them (`onnx::lower`): f32 data, per-tensor scale
/// and zero point.
fn quantize_supported(f: &NodeFacts) -> Result<(), String> {
    must_be("block_size", int_attr(f, "block_size", 0), 0)?;
    let per_tensor = |i: usize| !has_input(f, i) || input_dims(f, i).is_some_and(|d| d.iter().all(|x| *x == Some(1)));
    match f.outputs.first().and_then(|o| o.elem_type) {
        Some(D::Uint8 | D::Int8) => Ok(()),
        Some(D::Uint16 | D::Int16)
            if f.inputs.first().and_then(|v| v.elem_type) == Some(D::Float) && per_tensor(1) && per_tensor(2) =>
        {
            Ok(())
        }
        Some(t) => Err(format!("output type {} not supported", t.name())),
        None => Err("output type unknown".into()),
    }
}

fn dequantize_supported(f: &NodeFacts) -> Result<(), String> {
    must_be("block_size", int_attr(f, "block_size", 0), 0)
}

/// QLinearConv with a per-channel weight scale fails to convert (the frontend dequantizes the
/// weights along axis 1).
fn qlinear_conv_per_tensor(f: &NodeFacts) -> Result<(), String> {
    match input_dims(f, 4) {
        Some(d) if d.iter().all(|x| *x == Some(1)) => Ok(()),
        Some(_) => Err("per-channel weight scale not supported".into()),
        None => Err(SCALE_SHAPE_UNKNOWN.into()),
    }
}

fn fused_conv_activation(f: &NodeFacts) -> Result<(), String> {
    one_of(
        "activation",
        &str_attr(f, "activation", ""),
        &["", "Relu", "Tanh", "Sigmoid", "LeakyRelu", "Clip", "HardSigmoid"],
    )
}

/// FusedGemm with Sigmoid/Tanh activations gave wrong answers; Relu/LeakyRelu matched.
fn fused_gemm_activation(f: &NodeFacts) -> Result<(), String> {
    one_of("activation", &str_attr(f, "activation", ""), &["Relu", "LeakyRelu"])
}

/// FusedMatMul with transBatchA/transBatchB fails to convert.
fn fused_matmul_no_batch_transpose(f: &NodeFacts) -> Result<(), String> {
    must_be("transBatchA", int_attr(f, "transBatchA", 0), 0)?;
    must_be("transBatchB", int_attr(f, "transBatchB", 0), 0)
}

fn embed_layer_norm_supported(f: &NodeFacts) -> Result<(), String> {
    absent_input(f, 8, "position_ids")?;
    absent_output(f, 2, "embedding_sum")
}

/// com.microsoft.Attention: measured without KV cache or attention bias, with 1-D/2-D masks.
fn ms_attention_supported(f: &NodeFacts) -> Result<(), String> {
    absent_input(f, 4, "past")?;
    absent_input(f, 5, "attention_bias")?;
    absent_input(f, 6, "past_sequence_length")?;
    absent_output(f, 1, "present")?;
    if f.attr("qkv_hidden_sizes").is_some() {
        return Err("qkv_hidden_sizes not supported".into());
    }
    must_be("do_rotary", int_attr(f, "do_rotary", 0), 0)?;
    must_be("past_present_share_buffer", int_attr(f, "past_present_share_buffer", 0), 0)?;
    if has_input(f, 3) && !matches!(input_rank(f, 3), Some(1 | 2)) {
        return Err("mask_index must be 1-D or 2-D".into());
    }
    Ok(())
}

/// com.microsoft.MultiHeadAttention: measured with separate 3-D query/key/value, optional bias
/// and 2-D key padding mask; no attention bias or KV cache.
fn ms_multi_head_attention_supported(f: &NodeFacts) -> Result<(), String> {
    if !(has_input(f, 1) && has_input(f, 2)) || input_rank(f, 1) != Some(3) {
        return Err("only separate 3-D query, key and value supported".into());
    }
    if has_input(f, 4) && input_rank(f, 4) != Some(2) {
        return Err("key_padding_mask must be 2-D".into());
    }
    for i in 5..f.inputs.len() {
        absent_input(f, i, "attention_bias/past")?;
    }
    absent_output(f, 1, "present_key")?;
    absent_output(f, 2, "present_value")
}

/// com.microsoft.RotaryEmbedding: scalar/1-D position_ids fail to convert.
fn ms_rotary_supported(f: &NodeFacts) -> Result<(), String> {
    if input_rank(f, 1) != Some(2) {
        return Err("position_ids must be 2-D".into());
    }
    must_be("rotary_embedding_dim", int_attr(f, "rotary_embedding_dim", 0), 0)?;
    must_be("is_packed_batching", int_attr(f, "is_packed_batching", 0), 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::facts::ValueFacts;

    fn tensor(name: &str, t: DataType, dims: &[i64]) -> ValueFacts {
        ValueFacts::tensor(name, t, dims)
    }

    fn node(op: &str, since: i32, inputs: Vec<ValueFacts>, attrs: Vec<(&str, AttrValue)>) -> NodeFacts {
        NodeFacts {
            op_type: op.into(),
            since_version: since,
            inputs,
            outputs: vec![tensor("y", DataType::Float, &[])],
            attributes: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn ranges_are_ordered_and_do_not_overlap() {
        for (i, a) in RULES.iter().enumerate() {
            assert!(a.since >= 1 && a.since <= a.until, "{}.{} has an empty range", a.domain, a.op);
            assert!(a.domain.is_empty() || a.domain == MS, "unexpected domain {}", a.domain);
            for b in &RULES[i + 1..] {
                if a.domain == b.domain && a.op == b.op {
                    assert!(a.until < b.since || b.until < a.since, "{}.{} ranges overlap", a.domain, a.op);
                }
            }
        }
    }

    #[test]
    fn left_out_ops_have_no_rule() {
        for name in [
            "TopK",
            "DFT",
            "STFT",
            "BitShift",
            "AffineGrid",
            "RandomNormal",
            "RandomUniformLike",
            "Multinomial",
            "Bernoulli",
            "SequenceAt",
            "ConcatFromSequence",
            "SplitToSequence",
            "Optional",
            "NegativeLogLikelihoodLoss",
            "SoftmaxCrossEntropyLoss",
        ] {
            assert!(!RULES.iter().any(|r| r.domain.is_empty() && r.op == name), "{name} must stay out");
        }
        for name in ["GridSample", "CDist", "QLinearAdd", "MatMulNBits", "DynamicQuantizeMatMul"] {
            assert!(!RULES.iter().any(|r| r.domain == MS && r.op == name), "com.microsoft.{name} must stay out");
        }
    }

    #[test]
    fn max_pool_ceil_mode_edge_is_refused() {
        let x = tensor("x", DataType::Float, &[1, 1, 2, 2]);
        let attrs = || {
            vec![
                ("kernel_shape", AttrValue::Ints(vec![1, 1])),
                ("strides", AttrValue::Ints(vec![2, 2])),
                ("ceil_mode", AttrValue::Int(1)),
            ]
        };
        assert!(max_pool_supported(&node("MaxPool", 12, vec![x], attrs())).is_err());
        // 5x5, kernel 2, stride 2: the ceil window starts inside the input.
        let x = tensor("x", DataType::Float, &[1, 1, 5, 5]);
        let mut a = attrs();
        a[0] = ("kernel_shape", AttrValue::Ints(vec![2, 2]));
        assert!(max_pool_supported(&node("MaxPool", 12, vec![x], a)).is_ok());
    }

    #[test]
    fn softmax_11_needs_last_axis() {
        let x = tensor("x", DataType::Float, &[2, 3, 4]);
        assert!(softmax_last_axis(&node("Softmax", 11, vec![x.clone()], vec![])).is_err());
        assert!(softmax_last_axis(&node("Softmax", 11, vec![x], vec![("axis", AttrValue::Int(-1))])).is_ok());
        // Of unknown rank: refused, as a node planning learns the shape for.
        let mut blind = tensor("x", DataType::Float, &[]);
        (blind.rank, blind.dims) = (None, None);
        let why = softmax_last_axis(&node("Softmax", 11, vec![blind], vec![])).unwrap_err();
        assert!(refused_for_a_shape(&why), "{why}");
        assert!(!refused_for_a_shape("output 0 type unknown"));
    }

    #[test]
    fn recurrent_checks() {
        let x = tensor("x", DataType::Float, &[5, 2, 3]);
        assert!(recurrent_supported(&node("LSTM", 14, vec![x.clone()], vec![])).is_ok());
        assert!(recurrent_supported(&node("GRU", 14, vec![x.clone()], vec![("layout", AttrValue::Int(1))])).is_err());
        let acts = AttrValue::Strings(vec![b"HardSigmoid".to_vec(), b"Tanh".to_vec(), b"Tanh".to_vec()]);
        assert!(recurrent_supported(&node("LSTM", 14, vec![x.clone()], vec![("activations", acts)])).is_err());
        let mut inputs = vec![x; 8];
        inputs[7].name = "p".into();
        assert!(recurrent_supported(&node("LSTM", 14, inputs, vec![])).is_err());
    }

    #[test]
    fn runtime_repeats_and_axes_are_refused() {
        let x = tensor("x", DataType::Float, &[3, 4]);
        let mut r = tensor("r", DataType::Int64, &[2]);
        assert!(tile_repeats_constant(&node("Tile", 13, vec![x.clone(), r.clone()], vec![])).is_err());
        r.is_constant = true;
        assert!(tile_repeats_constant(&node("Tile", 13, vec![x.clone(), r], vec![])).is_ok());
        let a = tensor("a", DataType::Int64, &[1]);
        assert!(reduce_axes_input(&node("ReduceMax", 18, vec![x.clone(), a.clone()], vec![])).is_ok());
        let mut n = node("ReduceMax", 18, vec![x, a], vec![("keepdims", AttrValue::Int(0))]);
        n.outputs[0].dims = None;
        assert!(reduce_axes_input(&n).is_err());
        n.outputs = vec![tensor("y", DataType::Float, &[3])]; // known output shape: lowered with a Reshape
        assert!(reduce_axes_input(&n).is_ok());
    }

    #[test]
    fn qlinear_conv_per_channel_is_refused() {
        let q = tensor("x", DataType::Uint8, &[1, 3, 6, 6]);
        let s = |dims: &[i64]| tensor("s", DataType::Float, dims);
        let inputs = |ws: ValueFacts| vec![q.clone(), s(&[]), s(&[]), q.clone(), ws];
        assert!(qlinear_conv_per_tensor(&node("QLinearConv", 10, inputs(s(&[])), vec![])).is_ok());
        assert!(qlinear_conv_per_tensor(&node("QLinearConv", 10, inputs(s(&[4])), vec![])).is_err());
    }
}
