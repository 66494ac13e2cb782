//! Rewrites of an exported subgraph into plain ONNX arithmetic where OpenVINO's ONNX frontend
//! does not take a node as it is.
//!
//! - **QuantizeLinear to 16 bits** (int16/uint16, per-tensor, f32 data): the frontend converts
//!   only 8-bit outputs (its FakeQuantize path). Lowered to
//!   `saturate(Round(x / scale) + zero_point)`.
//! - **A reduction with runtime axes and keepdims=0** (Reduce*-18, ReduceSum-13): OpenVINO
//!   cannot tell the output's rank, and the CPU plugin does not compile a dynamic rank. When
//!   ORT knows the output's shape, the reduction keeps its dimensions and a Reshape to that
//!   shape follows.
//!
//! Exact ties stay a one-step difference in quantization, lowered or not: OpenVINO's CPU
//! plugin divides by multiplying with the reciprocal, so x/scale lands exactly on n + 0.5
//! where ORT's IEEE division is a hair below or above it (measured: -2.5 / (5/255) is -127.5
//! on OpenVINO, -127.49999 on ORT). No rewrite in ONNX ops avoids that, so a QuantizeLinear
//! whose integers would be visible stays with ORT (`partition::plan`), and so does
//! DynamicQuantizeLinear, whose zero point makes such ties common.

use std::collections::HashMap;

use super::dtype::DataType;
use super::proto::{AttributeProto, GraphProto, NodeProto, TensorProto};

/// What the lowering needs to know of a value: its element type and shape, if known.
pub struct ValueFacts {
    pub elem: Option<DataType>,
    /// The shape when it is fully known.
    pub dims: Option<Vec<i64>>,
}

impl ValueFacts {
    fn elements(&self) -> Option<i64> {
        self.dims.as_ref().map(|d| d.iter().product())
    }
}

/// Reductions whose axes are an input (from opset 18; ReduceSum from 13).
const REDUCTIONS: &[&str] = &[
    "ReduceSum",
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceSumSquare",
    "ReduceLogSum",
    "ReduceLogSumExp",
];

/// Lower the nodes of `graph` that need it (see the module notes); `facts` describes its values.
pub fn lower(graph: &mut GraphProto, opset: i64, facts: &dyn Fn(&str) -> ValueFacts) {
    // Round and Clip-free saturation need opset 11.
    let wanted = |n: &NodeProto| n.op_type == "QuantizeLinear" || REDUCTIONS.contains(&n.op_type.as_str());
    if opset < 11 || !graph.node.iter().any(|n| n.domain.is_empty() && wanted(n)) {
        return;
    }
    let constants: std::collections::HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    let mut b = Builder::default();
    let mut nodes = Vec::with_capacity(graph.node.len());
    for n in &graph.node {
        if !n.domain.is_empty() {
            nodes.push(n.clone());
            continue;
        }
        let lowered = match n.op_type.as_str() {
            "QuantizeLinear" => quantize_linear(&mut b, n, facts),
            op if REDUCTIONS.contains(&op) => reduction_with_runtime_axes(&mut b, n, facts, &constants),
            _ => None,
        };
        match lowered {
            Some(mut replacement) => nodes.append(&mut replacement),
            None => nodes.push(n.clone()),
        }
    }
    graph.node = nodes;
    graph.initializer.append(&mut b.constants);
}

/// Fresh names, scalar constants and the nodes of one replacement.
#[derive(Default)]
struct Builder {
    constants: Vec<TensorProto>,
    consts: HashMap<u32, String>,
    seq: usize,
}

impl Builder {
    fn name(&mut self, base: &str) -> String {
        self.seq += 1;
        format!("{base}__ovep_lowered_{}", self.seq)
    }

    /// A scalar f32 constant (shared by value).
    fn scalar(&mut self, v: f32) -> String {
        if let Some(n) = self.consts.get(&v.to_bits()) {
            return n.clone();
        }
        let name = format!("ovep_lowered_const_{}", self.consts.len());
        self.constants.push(TensorProto::raw(name.clone(), DataType::Float as i32, vec![], v.to_le_bytes().to_vec()));
        self.consts.insert(v.to_bits(), name.clone());
        name
    }

    fn node(&mut self, out: &mut Vec<NodeProto>, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let output = self.name(op);
        out.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: output.clone(),
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        });
        output
    }
}

/// The range of a 16-bit quantized type (the only ones lowered).
fn range_16(t: DataType) -> Option<(f32, f32)> {
    Some(match t {
        DataType::Uint16 => (0.0, 65535.0),
        DataType::Int16 => (-32768.0, 32767.0),
        _ => return None,
    })
}

/// `saturate(Round(x / scale) + zero_point)`, cast to the output type.
fn quantize_linear(b: &mut Builder, n: &NodeProto, facts: &dyn Fn(&str) -> ValueFacts) -> Option<Vec<NodeProto>> {
    if n.attribute.iter().any(|a| a.name == "block_size" && a.i != 0) {
        return None;
    }
    let x = n.input.first()?;
    let scale = n.input.get(1)?;
    let to = facts(&n.output[0]).elem?;
    let (lo, hi) = range_16(to)?;
    if facts(x).elem != Some(DataType::Float) || facts(scale).elements() != Some(1) {
        return None;
    }
    let zp = n.input.get(2).filter(|z| !z.is_empty());
    if zp.is_some_and(|z| facts(z).elements() != Some(1)) {
        return None;
    }
    let mut out = Vec::new();
    let zp = zp.map(|z| b.node(&mut out, "Cast", &[z], vec![AttributeProto::int("to", DataType::Float as i64)]));
    let scaled = b.node(&mut out, "Div", &[x, scale], vec![]);
    let mut v = b.node(&mut out, "Round", &[&scaled], vec![]);
    if let Some(zp) = zp {
        v = b.node(&mut out, "Add", &[&v, &zp], vec![]);
    }
    let (lo, hi) = (b.scalar(lo), b.scalar(hi));
    let v = b.node(&mut out, "Min", &[&v, &hi], vec![]);
    let v = b.node(&mut out, "Max", &[&v, &lo], vec![]);
    out.push(NodeProto {
        input: vec![v],
        output: vec![n.output[0].clone()],
        name: b.name("Cast"),
        op_type: "Cast".into(),
        attribute: vec![AttributeProto::int("to", to as i64)],
        ..Default::default()
    });
    Some(out)
}

fn reduction_with_runtime_axes(
    b: &mut Builder,
    n: &NodeProto,
    facts: &dyn Fn(&str) -> ValueFacts,
    constants: &std::collections::HashSet<String>,
) -> Option<Vec<NodeProto>> {
    let axes = n.input.get(1).filter(|a| !a.is_empty())?;
    let keepdims = n.attr("keepdims").map_or(1, |a| a.i);
    if keepdims != 0 || constants.contains(axes) {
        return None;
    }
    let dims = facts(&n.output[0]).dims?;
    let kept = b.name(&n.op_type);
    let mut reduce = n.clone();
    reduce.output = vec![kept.clone()];
    reduce.attribute.retain(|a| a.name != "keepdims");
    reduce.attribute.push(AttributeProto::int("keepdims", 1));
    let shape = b.name("shape");
    b.constants.push(TensorProto::raw(
        shape.clone(),
        DataType::Int64 as i32,
        vec![dims.len() as i64],
        dims.iter().flat_map(|d| d.to_le_bytes()).collect::<Vec<u8>>(),
    ));
    let reshape = NodeProto {
        input: vec![kept, shape],
        output: n.output.clone(),
        name: b.name("Reshape"),
        op_type: "Reshape".into(),
        ..Default::default()
    };
    Some(vec![reduce, reshape])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(name: &str) -> ValueFacts {
        match name {
            "x" => ValueFacts { elem: Some(DataType::Float), dims: None },
            "s" | "zp" => ValueFacts { elem: None, dims: Some(vec![1]) },
            "s_axis" => ValueFacts { elem: None, dims: Some(vec![3]) },
            "y16" => ValueFacts { elem: Some(DataType::Int16), dims: None },
            "r" => ValueFacts { elem: Some(DataType::Float), dims: Some(vec![3, 2]) },
            _ => ValueFacts { elem: Some(DataType::Uint8), dims: None },
        }
    }

    #[test]
    fn a_reduction_with_runtime_axes_keeps_dims_and_reshapes_to_the_known_shape() {
        let mut n = node("ReduceSum", &["x", "axes"], &["r"]);
        n.attribute.push(AttributeProto::int("keepdims", 0));
        let mut g = GraphProto { node: vec![n.clone()], ..Default::default() };
        lower(&mut g, 18, &facts);
        assert_eq!(ops(&g), ["ReduceSum", "Reshape"]);
        assert_eq!(g.node[0].attr("keepdims").map(|a| a.i), Some(1));
        assert_eq!(g.node[1].output, ["r"]);
        assert_eq!(g.initializer[0].dims, [2]);

        // Constant axes (OpenVINO knows the rank) and unknown output shapes stay as they are.
        let mut g = GraphProto { node: vec![n.clone()], ..Default::default() };
        g.initializer.push(TensorProto { name: "axes".into(), ..Default::default() });
        lower(&mut g, 18, &facts);
        assert_eq!(ops(&g), ["ReduceSum"]);
        n.output = vec!["unknown".into()];
        let mut g = GraphProto { node: vec![n], ..Default::default() };
        lower(&mut g, 18, &facts);
        assert_eq!(ops(&g), ["ReduceSum"]);
    }

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
        NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            op_type: op.into(),
            ..Default::default()
        }
    }

    fn ops(g: &GraphProto) -> Vec<&str> {
        g.node.iter().map(|n| n.op_type.as_str()).collect()
    }

    #[test]
    fn eight_bit_quantize_is_left_to_the_frontend() {
        let q = vec![node("QuantizeLinear", &["x", "s", "zp"], &["y"])];
        let mut g = GraphProto { node: q.clone(), ..Default::default() };
        lower(&mut g, 13, &facts);
        assert_eq!(g.node, q);
    }

    #[test]
    fn sixteen_bit_is_lowered_unless_per_axis_or_before_opset_11() {
        let mut g = GraphProto {
            node: vec![node("QuantizeLinear", &["x", "s"], &["y16"]), node("DequantizeLinear", &["y16", "s"], &["z"])],
            ..Default::default()
        };
        lower(&mut g, 21, &facts);
        assert_eq!(ops(&g), ["Div", "Round", "Min", "Max", "Cast", "DequantizeLinear"]);

        assert_eq!(g.node[4].output, ["y16"]);
        assert_eq!(g.initializer.len(), 2, "the saturation bounds");
        let per_axis = vec![node("QuantizeLinear", &["x", "s_axis"], &["y16"])];
        let mut g = GraphProto { node: per_axis.clone(), ..Default::default() };
        lower(&mut g, 13, &facts);
        assert_eq!(g.node, per_axis);
        let mut g = GraphProto { node: vec![node("QuantizeLinear", &["x", "s"], &["y16"])], ..Default::default() };
        lower(&mut g, 10, &facts);
        assert_eq!(ops(&g), ["QuantizeLinear"]);
    }
}
