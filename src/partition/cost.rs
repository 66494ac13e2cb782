//! Which groups are worth a trip to OpenVINO when the graph is split with ORT.
//!
//! Every group OpenVINO runs between ORT nodes costs an infer call and a copy of its outputs
//! into ORT's buffers at each run. A group that only reshapes, casts or applies elementwise
//! arithmetic does no work OpenVINO does better than ORT's CPU EP, so it only adds that
//! cost. Measured on ddddocr (a dynamically quantized CRNN whose ConvInteger and
//! DynamicQuantizeLinear nodes stay on ORT): its 22 OpenVINO groups between them, each the
//! dequantization, bias and SiLU of one convolution, made a run 1.3x the CPU EP's.
//!
//! Such groups stay on ORT unless the group is the whole graph (then there is no boundary
//! to cross and OpenVINO runs the graph alone), or the host asked for every supported node
//! (`min_subgraph_nodes=1`).

use super::snapshot::NodeSnapshot;

/// ai.onnx operators that do no work OpenVINO does better than ORT's CPU EP: elementwise
/// math, comparisons, casts, quantization steps and data movement. Anything not listed
/// (convolutions, matrix products, pooling, reductions, normalizations, recurrences,
/// resampling, control flow, ...) makes a group worth running on OpenVINO.
#[rustfmt::skip]
const LIGHT_OPS: &[&str] = &[
    // elementwise arithmetic and math
    "Abs", "Add", "Ceil", "Clip", "Cos", "Div", "Erf", "Exp", "Floor", "Log", "Max", "Mean", "Min", "Mod", "Mul",
    "Neg", "Pow", "Reciprocal", "Round", "Sign", "Sin", "Sqrt", "Sub", "Sum", "Tanh",
    // activations
    "Celu", "Elu", "Gelu", "HardSigmoid", "HardSwish", "LeakyRelu", "Mish", "PRelu", "Relu", "Selu", "Sigmoid",
    "Softplus", "Softsign", "ThresholdedRelu",
    // logic and comparison
    "And", "Equal", "Greater", "GreaterOrEqual", "IsInf", "IsNaN", "Less", "LessOrEqual", "Not", "Or", "Where", "Xor",
    // types and quantization steps
    "Cast", "CastLike", "DequantizeLinear", "QuantizeLinear",
    // shapes and data movement
    "Concat", "Constant", "ConstantOfShape", "Expand", "Flatten", "Gather", "Identity", "Pad", "Range", "Reshape",
    "Shape", "Size", "Slice", "Split", "Squeeze", "Tile", "Transpose", "Unsqueeze",
];

/// True when no node of the group does work worth an OpenVINO call of its own.
pub fn is_light<'a>(nodes: impl IntoIterator<Item = &'a NodeSnapshot>) -> bool {
    nodes.into_iter().all(|n| n.domain.is_empty() && n.subgraphs.is_empty() && LIGHT_OPS.contains(&n.op_type.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(domain: &str, op: &str, body: bool) -> NodeSnapshot {
        NodeSnapshot {
            raw: std::ptr::null(),
            name: op.to_lowercase(),
            op_type: op.into(),
            domain: domain.into(),
            since_version: 13,
            inputs: vec![],
            outputs: vec![],
            implicit_inputs: vec![],
            attributes: vec![],
            subgraphs: if body { vec![("body".into(), Default::default())] } else { vec![] },
        }
    }

    #[test]
    fn a_group_is_light_only_when_every_node_is_a_listed_onnx_op_without_bodies() {
        let dequant_silu = [node("", "Cast", false), node("", "Mul", false), node("", "Sigmoid", false)];
        assert!(is_light(&dequant_silu));
        assert!(is_light(&[]));
        let with_conv = [node("", "Mul", false), node("", "Conv", false)];
        assert!(!is_light(&with_conv));
        assert!(!is_light(&[node("", "Softmax", false)]));
        assert!(!is_light(&[node("com.microsoft", "Gelu", false)]), "other domains are not judged");
        assert!(!is_light(&[node("", "Add", true)]), "a node with a body is a network, not an Add");
    }

    #[test]
    fn the_light_list_has_no_duplicates() {
        let mut seen = std::collections::HashSet::new();
        for op in LIGHT_OPS {
            assert!(seen.insert(op), "{op} is listed twice");
        }
    }
}
