//! Deterministic ONNX serialization of a fused subgraph.
//!
//! Weights are not copied: every constant initializer becomes an external-data tensor whose
//! location is `*/_ORT_MEM_ADDR_/*` and whose offset is its address in ORT's memory, which
//! OpenVINO's ONNX frontend reads in place. The bytes depend only on the subgraph (node
//! order, sorted attributes, names, types, weight addresses), never on hash-map order.

use std::collections::HashSet;

use prost::Message;

use super::lower;
use super::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, ValueInfoProto,
};
use crate::error::{Error, Result};
use crate::ort::graph::{AttrData, Dim, ValueType};
use crate::partition::snapshot::{GraphSnapshot, NodeSnapshot};

/// A serialized subgraph and its interface, in the order the ONNX graph declares them.
#[derive(Clone, Debug)]
pub struct ExportedSubgraph {
    pub onnx: Vec<u8>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// Ops that only relabel their input's data.
fn relabels_data(n: &NodeSnapshot) -> bool {
    let one_input = n.inputs.iter().filter(|i| !i.is_empty()).count() == 1;
    n.domain.is_empty()
        && match n.op_type.as_str() {
            "Identity" | "Dropout" | "Reshape" | "Squeeze" | "Unsqueeze" | "Flatten" => true,
            "Sum" | "Max" | "Min" | "Mean" | "Concat" => one_input,
            _ => false,
        }
}

/// Serialize the nodes `subset` (indices into `graph.nodes`, in topological order).
pub fn export_subgraph(graph: &GraphSnapshot, subset: &[usize]) -> Result<ExportedSubgraph> {
    export(graph, subset, false)
}

/// `export_subgraph` with every tensor the subset produces as an output, for learning the
/// shapes OpenVINO infers inside it (`partition::plan`); never compiled.
pub fn export_exposing_all(graph: &GraphSnapshot, subset: &[usize]) -> Result<ExportedSubgraph> {
    export(graph, subset, true)
}

fn export(graph: &GraphSnapshot, subset: &[usize], expose_all: bool) -> Result<ExportedSubgraph> {
    let inside: HashSet<usize> = subset.iter().copied().collect();
    let produced: HashSet<&str> =
        subset.iter().flat_map(|&i| graph.nodes[i].outputs.iter()).map(String::as_str).collect();
    let used_outside = graph.used_outside(&inside);

    let mut inputs: Vec<String> = Vec::new();
    let mut initializers: Vec<TensorProto> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for &i in subset {
        let n = &graph.nodes[i];
        for name in n.inputs.iter().chain(&n.implicit_inputs) {
            if name.is_empty() || produced.contains(name.as_str()) || !seen.insert(name) {
                continue;
            }
            match graph.values.get(name).and_then(|v| v.constant.as_ref()) {
                Some(_) => initializers.push(initializer_of(graph, name)?),
                None => inputs.push(name.clone()),
            }
        }
    }
    // Every tensor produced when learning shapes; else what is read outside the subset.
    let exposed = |o: &str| {
        if expose_all {
            matches!(graph.values.get(o).map(|v| &v.ty), Some(ValueType::Tensor { .. }))
        } else {
            used_outside.contains(o)
        }
    };
    let outputs: Vec<String> = subset
        .iter()
        .flat_map(|&i| graph.nodes[i].outputs.iter())
        .filter(|o| !o.is_empty() && exposed(o.as_str()))
        .cloned()
        .collect();
    if outputs.is_empty() {
        return Err(Error::ep_fail("subgraph has no outputs used outside it"));
    }

    let mut g = GraphProto {
        name: "ovep_subgraph".into(),
        node: subset.iter().map(|&i| node_proto(&graph.nodes[i])).collect::<Result<_>>()?,
        initializer: initializers,
        input: inputs.iter().map(|n| value_info(graph, n, true)).collect::<Result<_>>()?,
        output: outputs.iter().map(|n| value_info(graph, n, false)).collect::<Result<_>>()?,
        ..Default::default()
    };
    let opset = graph.opsets.iter().find(|(d, _)| d.is_empty() || d == "ai.onnx").map_or(0, |(_, v)| *v);
    lower::lower(&mut g, opset, &|name| value_facts(graph, name));
    let model = model_proto(graph, g);
    Ok(ExportedSubgraph { onnx: model.encode_to_vec(), inputs, outputs })
}

/// Nodes of `subset` through which a subgraph input reaches a subgraph output unchanged
/// (Identity, Dropout, Reshape, one-input Sum...). OpenVINO's ONNX frontend gives the input
/// the output's name and its CPU plugin lets the output share the input's memory, ignoring
/// a buffer bound to it: such chains compute nothing, so they are left to ORT.
pub fn passthrough_nodes(graph: &GraphSnapshot, subset: &[usize]) -> Vec<usize> {
    let inside: HashSet<usize> = subset.iter().copied().collect();
    let producer: std::collections::HashMap<&str, usize> =
        subset.iter().flat_map(|&i| graph.nodes[i].outputs.iter().map(move |o| (o.as_str(), i))).collect();
    let used_outside = graph.used_outside(&inside);
    let mut out = Vec::new();
    for &i in subset {
        for o in graph.nodes[i].outputs.iter().filter(|o| used_outside.contains(o.as_str())) {
            let (mut name, mut chain) = (o.as_str(), Vec::new());
            while let Some(&p) = producer.get(name).filter(|&&p| relabels_data(&graph.nodes[p])) {
                chain.push(p);
                name = graph.nodes[p].inputs[0].as_str();
            }
            if !chain.is_empty() && !producer.contains_key(name) {
                out.extend(chain);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Names of the top-level initializers `onnx` reads from memory by address, in order, and
/// whether a control-flow body does too (bodies' weights are not fused-node inputs, so their
/// addresses cannot be refreshed).
pub fn weights_by_address(onnx: &[u8]) -> Result<(Vec<String>, bool)> {
    fn by_address(t: &TensorProto) -> bool {
        t.external_data.iter().any(|e| e.key == "location" && e.value == super::proto::ORT_MEM_ADDR_LOCATION)
    }
    fn nested(g: &GraphProto) -> bool {
        g.node
            .iter()
            .flat_map(|n| &n.attribute)
            .flat_map(|a| a.g.iter().chain(&a.graphs))
            .any(|b| b.initializer.iter().any(by_address) || nested(b))
    }
    let model = ModelProto::decode(onnx).map_err(|e| Error::ep_fail(format!("re-reading a subgraph: {e}")))?;
    let g = model.graph.as_ref().ok_or_else(|| Error::ep_fail("subgraph without a graph"))?;
    Ok((g.initializer.iter().filter(|t| by_address(t)).map(|t| t.name.clone()).collect(), nested(g)))
}

/// `onnx` with the named top-level initializers pointing at new addresses. ORT may move
/// initializers after GetCapability (measured: 28 of 112 in PP-OCRv4 cls had moved by the
/// first run), so an ONNX form read again later must point at where they are now.
pub fn with_weight_addresses(onnx: &[u8], addresses: &[(String, usize, usize)]) -> Result<Vec<u8>> {
    with_initializers_edited(onnx, addresses.iter().map(|(name, addr, len)| (name, (addr, len))), |t, (addr, len)| {
        for e in &mut t.external_data {
            match e.key.as_str() {
                "offset" => e.value = addr.to_string(),
                "length" if e.value != len.to_string() => {
                    return Err(Error::ep_fail(format!("initializer {} changed size ({} -> {len})", t.name, e.value)))
                }
                _ => {}
            }
        }
        Ok(())
    })
}

/// `onnx` with the named weights stored inside it (`raw_data`) instead of at an address: a
/// model ORT itself loads (it refuses in-memory address markers in a model protobuf).
pub fn with_embedded_weights(onnx: &[u8], weights: &[(String, &[u8])]) -> Result<Vec<u8>> {
    with_initializers_edited(onnx, weights.iter().map(|(name, bytes)| (name, *bytes)), |t, bytes| {
        t.external_data.clear();
        t.data_location = 0;
        t.raw_data = bytes.to_vec();
        Ok(())
    })
}

/// `onnx` with `edit` applied to each named top-level initializer, which must exist.
fn with_initializers_edited<'a, T>(
    onnx: &[u8],
    edits: impl Iterator<Item = (&'a String, T)>,
    mut edit: impl FnMut(&mut TensorProto, T) -> Result<()>,
) -> Result<Vec<u8>> {
    let mut model = ModelProto::decode(onnx).map_err(|e| Error::ep_fail(format!("re-reading a subgraph: {e}")))?;
    let g = model.graph.as_mut().ok_or_else(|| Error::ep_fail("subgraph without a graph"))?;
    for (name, value) in edits {
        let t = g
            .initializer
            .iter_mut()
            .find(|t| &t.name == name)
            .ok_or_else(|| Error::ep_fail(format!("subgraph has no initializer {name}")))?;
        edit(t, value)?;
    }
    Ok(model.encode_to_vec())
}

/// `onnx` with every in-memory weight address replaced by 0: the subgraph's structure,
/// the same in every process (cache keys hash this plus the weights' contents).
pub fn without_addresses(onnx: &[u8]) -> Result<Vec<u8>> {
    fn strip(g: &mut GraphProto) {
        for t in &mut g.initializer {
            for e in t.external_data.iter_mut().filter(|e| e.key == "offset") {
                e.value = "0".into();
            }
        }
        for n in &mut g.node {
            for a in &mut n.attribute {
                a.g.iter_mut().chain(a.graphs.iter_mut()).for_each(strip);
            }
        }
    }
    let mut model = ModelProto::decode(onnx).map_err(|e| Error::ep_fail(format!("re-reading a subgraph: {e}")))?;
    if let Some(g) = model.graph.as_mut() {
        strip(g);
    }
    Ok(model.encode_to_vec())
}

/// What `lower` needs to know of a value.
fn value_facts(graph: &GraphSnapshot, name: &str) -> lower::ValueFacts {
    match graph.values.get(name).map(|v| &v.ty) {
        Some(ValueType::Tensor { elem, dims }) => lower::ValueFacts {
            elem: crate::onnx::dtype::DataType::from_onnx(*elem),
            dims: dims.as_ref().and_then(|d| {
                d.iter().map(|x| if let Dim::Fixed(v) = x { Some(*v) } else { None }).collect::<Option<Vec<i64>>>()
            }),
        },
        _ => lower::ValueFacts { elem: None, dims: None },
    }
}

fn model_proto(graph: &GraphSnapshot, g: GraphProto) -> ModelProto {
    let mut opsets: Vec<OperatorSetIdProto> =
        graph.opsets.iter().map(|(d, v)| OperatorSetIdProto::new(d.clone(), *v)).collect();
    opsets.sort_by(|a, b| a.domain.cmp(&b.domain));
    ModelProto {
        // ORT reports 0 for graphs it built itself; 8 is the oldest IR that allows
        // initializers without matching graph inputs, which we rely on.
        ir_version: graph.ir_version.max(8),
        opset_import: opsets,
        producer_name: "ovep".into(),
        graph: Some(g),
        ..Default::default()
    }
}

/// A control-flow body, whole: its own inputs, outputs and constant initializers;
/// outer-scope names stay references.
fn body_proto(body: &GraphSnapshot, name: &str) -> Result<GraphProto> {
    let mut initializer = Vec::new();
    let mut seen = HashSet::new();
    for n in &body.nodes {
        for i in n.inputs.iter().chain(&n.implicit_inputs) {
            let Some(v) = body.values.get(i) else { continue };
            if v.constant.is_some() && !v.from_outer_scope && seen.insert(i.as_str()) {
                initializer.push(initializer_of(body, i)?);
            }
        }
    }
    Ok(GraphProto {
        name: name.into(),
        node: body.nodes.iter().map(node_proto).collect::<Result<_>>()?,
        initializer,
        input: body.inputs.iter().map(|n| value_info(body, n, true)).collect::<Result<_>>()?,
        output: body.outputs.iter().map(|n| value_info(body, n, true)).collect::<Result<_>>()?,
        ..Default::default()
    })
}

fn node_proto(n: &NodeSnapshot) -> Result<NodeProto> {
    let mut attribute = Vec::with_capacity(n.attributes.len());
    for (name, a) in &n.attributes {
        attribute.push(match a {
            AttrData::Int(v) => AttributeProto::int(name, *v),
            AttrData::Float(v) => AttributeProto::float(name, *v),
            AttrData::Ints(v) => AttributeProto::ints(name, v.clone()),
            AttrData::Floats(v) => AttributeProto::floats(name, v.clone()),
            AttrData::String(v) => AttributeProto::string(name, v.clone()),
            AttrData::Strings(v) => AttributeProto::strings(name, v.clone()),
            AttrData::Tensor { elem, dims, raw } => {
                AttributeProto::tensor(name, TensorProto::raw("", *elem, dims.clone(), raw.clone()))
            }
            AttrData::Graph => {
                let body = n
                    .subgraphs
                    .iter()
                    .find(|(a, _)| a == name)
                    .ok_or_else(|| Error::ep_fail(format!("node {} lacks body {name}", n.name)))?;
                AttributeProto::graph(name, body_proto(&body.1, &format!("{}_{name}", n.name))?)
            }
            AttrData::Undefined => return Err(Error::ep_fail(format!("node {}: unreadable attribute {name}", n.name))),
        });
    }
    Ok(NodeProto {
        input: n.inputs.clone(),
        output: n.outputs.clone(),
        name: n.name.clone(),
        op_type: n.op_type.clone(),
        domain: n.domain.clone(),
        attribute,
        ..Default::default()
    })
}

/// Initializers below this size are copied into the ONNX form instead of read by address.
/// ORT keeps initializers of 128 bytes and more in OrtValues that live as long as the session,
/// but moves smaller ones once the session is set up (measured on PP-OCRv4 cls: the 28 that
/// moved were 4-104 bytes, none of the 84 of 128 bytes or more did). OpenVINO may keep reading
/// a constant from where it was converted (an export serializes from there), so those must be
/// OpenVINO's own: copying them costs at most a few KB per subgraph.
pub const INLINE_BELOW_BYTES: usize = 1024;

fn initializer_of(graph: &GraphSnapshot, name: &str) -> Result<TensorProto> {
    const STRING: i32 = 8; // string tensors are never raw bytes
    let t = graph.values[name].constant.as_ref().expect("caller checked");
    if t.bytes == 0 || t.data.is_null() {
        return Ok(TensorProto::raw(name, t.elem, t.dims.clone(), Vec::new()));
    }
    if t.bytes < INLINE_BELOW_BYTES && t.elem != STRING {
        return Ok(TensorProto::raw(name, t.elem, t.dims.clone(), t.as_bytes().to_vec()));
    }
    Ok(TensorProto::external_in_memory(name, t.elem, t.dims.clone(), t.data as usize, t.bytes))
}

/// Type of a graph input/output. Outputs of a fused subgraph carry only their element type
/// (OpenVINO infers shapes), so a shape ORT did not know is never stated wrongly; an input
/// whose shape ORT does not know is written with unknown rank.
fn value_info(graph: &GraphSnapshot, name: &str, with_shape: bool) -> Result<ValueInfoProto> {
    let v = graph.values.get(name).ok_or_else(|| Error::ep_fail(format!("no type for value {name}")))?;
    match &v.ty {
        ValueType::Tensor { elem, dims } => {
            let dims: Option<Vec<Option<i64>>> =
                dims.as_ref().map(|d| d.iter().map(|d| if let Dim::Fixed(x) = d { Some(*x) } else { None }).collect());
            Ok(ValueInfoProto::tensor(name, *elem, dims.as_deref().filter(|_| with_shape)))
        }
        other => Err(Error::ep_fail(format!("value {name} is not a tensor ({other:?})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::StringStringEntryProto;

    #[test]
    fn embedded_weights_replace_the_address_and_keep_the_rest() {
        let ext = |k: &str, v: &str| StringStringEntryProto { key: k.into(), value: v.into() };
        let by_address = TensorProto {
            name: "w".into(),
            data_type: 1,
            dims: vec![2],
            data_location: 1,
            external_data: vec![ext("location", "*/_ORT_MEM_ADDR_/*"), ext("offset", "4096"), ext("length", "8")],
            ..Default::default()
        };
        let inline = TensorProto { name: "b".into(), data_type: 1, raw_data: vec![0; 4], ..Default::default() };
        let model = ModelProto {
            graph: Some(GraphProto { initializer: vec![by_address, inline.clone()], ..Default::default() }),
            ..Default::default()
        };
        let bytes = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let out = with_embedded_weights(&model.encode_to_vec(), &[("w".into(), &bytes)]).unwrap();
        let g = ModelProto::decode(out.as_slice()).unwrap().graph.unwrap();
        assert_eq!(g.initializer[0].raw_data, bytes);
        assert!(g.initializer[0].external_data.is_empty() && g.initializer[0].data_location == 0);
        assert_eq!(g.initializer[0].dims, [2]);
        assert_eq!(g.initializer[1], inline);
        assert!(with_embedded_weights(&model.encode_to_vec(), &[("nope".into(), &bytes)]).is_err());
    }
}
