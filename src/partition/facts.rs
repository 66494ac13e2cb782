//! What the partitioner knows about one node, copied out of ORT's graph so that
//! support rules are plain data and functions, testable without ORT.

use crate::onnx::dtype::DataType;

/// An attribute value as far as support rules care. Graph attributes (If/Loop/Scan
/// bodies) are judged by converting them, not by rules, so they only appear as a marker.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Int(i64),
    Float(f32),
    String(Vec<u8>),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Strings(Vec<Vec<u8>>),
    Tensor,
    Graph,
    Graphs,
    Other,
}

/// One input or output of a node.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ValueFacts {
    /// Empty for an omitted optional input/output.
    pub name: String,
    /// Element type when the value is a tensor of a known type; None for sequences,
    /// maps, optionals or unknown types.
    pub elem_type: Option<DataType>,
    /// The value is not a tensor (sequence, map, optional, sparse tensor).
    pub non_tensor: bool,
    /// Rank when known.
    pub rank: Option<usize>,
    /// Dimensions when known (`None` for a symbolic/unknown dimension).
    pub dims: Option<Vec<Option<i64>>>,
    /// The value is a constant initializer (weights).
    pub is_constant: bool,
}

impl ValueFacts {
    /// A tensor of known type and static shape (tests and synthetic facts).
    pub fn tensor(name: &str, elem_type: DataType, dims: &[i64]) -> ValueFacts {
        ValueFacts {
            name: name.into(),
            elem_type: Some(elem_type),
            rank: Some(dims.len()),
            dims: Some(dims.iter().map(|d| Some(*d)).collect()),
            ..Default::default()
        }
    }

    pub fn is_present(&self) -> bool {
        !self.name.is_empty()
    }
}

/// Everything a support rule may look at.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NodeFacts {
    pub name: String,
    pub op_type: String,
    /// "" for the default ONNX domain (ORT also reports "ai.onnx" in some places: normalise).
    pub domain: String,
    pub since_version: i32,
    pub inputs: Vec<ValueFacts>,
    pub outputs: Vec<ValueFacts>,
    pub attributes: Vec<(String, AttrValue)>,
    /// The node has subgraph attributes (If/Loop/Scan bodies).
    pub has_subgraphs: bool,
}

impl NodeFacts {
    pub fn attr(&self, name: &str) -> Option<&AttrValue> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn attr_int(&self, name: &str) -> Option<i64> {
        match self.attr(name) {
            Some(AttrValue::Int(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn attr_str(&self, name: &str) -> Option<&[u8]> {
        match self.attr(name) {
            Some(AttrValue::String(v)) => Some(v),
            _ => None,
        }
    }

    /// The element type of input `i`, when present and known.
    pub fn input_type(&self, i: usize) -> Option<DataType> {
        self.inputs.get(i).filter(|v| v.is_present()).and_then(|v| v.elem_type)
    }
}
