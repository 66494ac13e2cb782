//! Which external-data files an ONNX model names, read without decoding its weights.
//!
//! Views of ModelProto/GraphProto/NodeProto/AttributeProto/TensorProto that declare only the
//! fields on the way to `TensorProto.external_data`: prost skips every other field (weights
//! included) without copying it, so a 400 MB model is scanned in milliseconds.

use prost::Message;

use super::proto::StringStringEntryProto;

#[derive(Clone, PartialEq, Message)]
struct ModelView {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphView>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphView {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeView>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorView>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeView {
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeView>,
}

#[derive(Clone, PartialEq, Message)]
struct AttributeView {
    #[prost(message, optional, tag = "5")]
    t: Option<TensorView>,
    #[prost(message, optional, tag = "6")]
    g: Option<GraphView>,
    #[prost(message, repeated, tag = "11")]
    graphs: Vec<GraphView>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorView {
    #[prost(message, repeated, tag = "13")]
    external_data: Vec<StringStringEntryProto>,
}

/// The `location`s of every external tensor in `model` (sorted, once each), subgraphs included.
pub fn external_locations(model: &[u8]) -> Result<Vec<String>, prost::DecodeError> {
    let view = ModelView::decode(model)?;
    let mut out = Vec::new();
    let mut graphs: Vec<&GraphView> = view.graph.iter().collect();
    let location = |t: &TensorView| t.external_data.iter().find(|e| e.key == "location").map(|e| e.value.clone());
    while let Some(g) = graphs.pop() {
        out.extend(g.initializer.iter().filter_map(location));
        for a in g.node.iter().flat_map(|n| n.attribute.iter()) {
            out.extend(a.t.iter().filter_map(location));
            graphs.extend(a.g.iter());
            graphs.extend(a.graphs.iter());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};

    #[test]
    fn finds_locations_in_graphs_and_subgraphs_and_skips_weights() {
        let entry = |v: &str| vec![StringStringEntryProto { key: "location".into(), value: v.into() }];
        let ext = |v: &str| TensorProto { external_data: entry(v), ..Default::default() };
        let inline = TensorProto { raw_data: vec![7; 1 << 20], ..Default::default() };
        let body = GraphProto { initializer: vec![ext("body.bin")], ..Default::default() };
        let node =
            NodeProto { attribute: vec![AttributeProto { g: Some(body), ..Default::default() }], ..Default::default() };
        let graph = GraphProto {
            node: vec![node],
            initializer: vec![ext("w.bin"), inline, ext("w.bin")],
            ..Default::default()
        };
        let bytes = ModelProto { graph: Some(graph), ..Default::default() }.encode_to_vec();
        assert_eq!(external_locations(&bytes).unwrap(), ["body.bin", "w.bin"]);
        assert!(external_locations(b"\xff\xff not onnx").is_err());
    }
}
