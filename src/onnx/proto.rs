//! ONNX protobuf messages, declared by hand with `prost` derives.
//!
//! Field numbers and wire types follow ONNX's `onnx/onnx.proto3`; only the
//! messages and fields ovep writes are declared (a decoder skips the rest as
//! unknown fields). Scalars use proto3 semantics: a field holding its default
//! value (0, "", empty bytes) is not written, which every ONNX reader treats
//! the same as the default. Repeated numeric fields are packed, as proto3
//! does by default and as `TensorProto` spells out with `[packed = true]`.
//!
//! Encoding is deterministic: prost writes fields in tag order and there are
//! no map fields, so one model always gives the same bytes (the subgraph
//! cache key depends on that).
//!
//! Nested messages live in snake_case modules named after their parent
//! (`type_proto::Tensor`), as prost-build would lay them out; the two enums
//! are at the top level for short paths.

#![forbid(unsafe_code)]

/// A whole model: opsets, producer and the main graph.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    /// The ONNX IR version the model follows.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// Operator sets (domain, version) the graph's nodes come from.
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// Reverse-DNS name of the model's namespace.
    #[prost(string, tag = "4")]
    pub domain: String,
    #[prost(int64, tag = "5")]
    pub model_version: i64,
    #[prost(string, tag = "6")]
    pub doc_string: String,
    /// The computation.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// One operator set a model imports; an empty domain means the ONNX
/// default domain (`ai.onnx`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// A key/value pair of strings (external-data entries, metadata).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A graph: nodes in topological order, its weights, inputs and outputs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    /// Constant tensors, referenced by name from nodes.
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(string, tag = "10")]
    pub doc_string: String,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
    /// Types of intermediate values (optional hints).
    #[prost(message, repeated, tag = "13")]
    pub value_info: Vec<ValueInfoProto>,
}

/// One operator call. An empty input name marks an omitted optional input.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// Operator domain; empty means the ONNX default domain.
    #[prost(string, tag = "7")]
    pub domain: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    #[prost(string, tag = "6")]
    pub doc_string: String,
}

impl NodeProto {
    /// The attribute called `name`, if the node has one.
    pub fn attr(&self, name: &str) -> Option<&AttributeProto> {
        self.attribute.iter().find(|a| a.name == name)
    }
}

/// Which value field of an [`AttributeProto`] is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum AttributeType {
    Undefined = 0,
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Graph = 5,
    SparseTensor = 11,
    TypeProto = 13,
    Floats = 6,
    Ints = 7,
    Strings = 8,
    Tensors = 9,
    Graphs = 10,
    SparseTensors = 12,
    TypeProtos = 14,
}

/// A named node attribute. `type` says which one value field is meaningful
/// (with proto3 encoding a zero `i`/`f` is simply absent on the wire).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    /// Inside a function body: the name of the function attribute this
    /// one refers to.
    #[prost(string, tag = "21")]
    pub ref_attr_name: String,
    #[prost(string, tag = "13")]
    pub doc_string: String,
    #[prost(enumeration = "AttributeType", tag = "20")]
    pub r#type: i32,
    #[prost(float, tag = "2")]
    pub f: f32,
    #[prost(int64, tag = "3")]
    pub i: i64,
    /// UTF-8 string, stored as bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    #[prost(message, optional, tag = "6")]
    pub g: Option<GraphProto>,
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub strings: Vec<Vec<u8>>,
    #[prost(message, repeated, tag = "10")]
    pub tensors: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub graphs: Vec<GraphProto>,
}

/// Where a [`TensorProto`]'s bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DataLocation {
    /// In the message itself (`raw_data` or a typed `*_data` field).
    Default = 0,
    /// Described by `external_data` entries (`location`, `offset`, `length`).
    External = 1,
}

/// A tensor value: shape, element type and data (inline or external).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// A `TensorProto.DataType` number (see `onnx::dtype::DataType`).
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(message, optional, tag = "3")]
    pub segment: Option<tensor_proto::Segment>,
    #[prost(float, repeated, packed = "true", tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int32, repeated, packed = "true", tag = "5")]
    pub int32_data: Vec<i32>,
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub string_data: Vec<Vec<u8>>,
    #[prost(int64, repeated, packed = "true", tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(string, tag = "12")]
    pub doc_string: String,
    /// Little-endian, fixed-width element bytes.
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    #[prost(message, repeated, tag = "13")]
    pub external_data: Vec<StringStringEntryProto>,
    #[prost(enumeration = "DataLocation", tag = "14")]
    pub data_location: i32,
    #[prost(double, repeated, packed = "true", tag = "10")]
    pub double_data: Vec<f64>,
    #[prost(uint64, repeated, packed = "true", tag = "11")]
    pub uint64_data: Vec<u64>,
}

/// Messages nested in [`TensorProto`].
pub mod tensor_proto {
    /// The slice of a chunked tensor this message holds.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Segment {
        #[prost(int64, tag = "1")]
        pub begin: i64,
        #[prost(int64, tag = "2")]
        pub end: i64,
    }
}

/// A named value with its type: graph inputs, outputs and value_info.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
    #[prost(string, tag = "3")]
    pub doc_string: String,
}

/// The type of a value: tensor, sequence, map, optional or sparse tensor.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    #[prost(oneof = "type_proto::Value", tags = "1, 4, 5, 9, 8")]
    pub value: Option<type_proto::Value>,
    #[prost(string, tag = "6")]
    pub denotation: String,
}

/// Messages nested in [`TypeProto`].
pub mod type_proto {
    use super::{TensorShapeProto, TypeProto};

    /// A dense tensor type. A missing `shape` means unknown rank; a present
    /// shape with no dims is a scalar.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tensor {
        /// A `TensorProto.DataType` number.
        #[prost(int32, tag = "1")]
        pub elem_type: i32,
        #[prost(message, optional, tag = "2")]
        pub shape: Option<TensorShapeProto>,
    }

    /// `seq(T)`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sequence {
        #[prost(message, optional, boxed, tag = "1")]
        pub elem_type: Option<Box<TypeProto>>,
    }

    /// `map(K, V)`; `key_type` is a `TensorProto.DataType` number.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Map {
        #[prost(int32, tag = "1")]
        pub key_type: i32,
        #[prost(message, optional, boxed, tag = "2")]
        pub value_type: Option<Box<TypeProto>>,
    }

    /// `optional(T)`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Optional {
        #[prost(message, optional, boxed, tag = "1")]
        pub elem_type: Option<Box<TypeProto>>,
    }

    /// A sparse tensor type.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SparseTensor {
        #[prost(int32, tag = "1")]
        pub elem_type: i32,
        #[prost(message, optional, tag = "2")]
        pub shape: Option<TensorShapeProto>,
    }

    /// The `value` oneof of [`TypeProto`].
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(message, tag = "1")]
        TensorType(Tensor),
        #[prost(message, tag = "4")]
        SequenceType(Sequence),
        #[prost(message, tag = "5")]
        MapType(Map),
        #[prost(message, tag = "9")]
        OptionalType(Optional),
        #[prost(message, tag = "8")]
        SparseTensorType(SparseTensor),
    }
}

/// A tensor shape: one entry per axis.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<tensor_shape_proto::Dimension>,
}

/// Messages nested in [`TensorShapeProto`].
pub mod tensor_shape_proto {
    /// One axis: a fixed size, a symbolic name, or (value unset) unknown.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dimension {
        #[prost(oneof = "dimension::Value", tags = "1, 2")]
        pub value: Option<dimension::Value>,
        #[prost(string, tag = "3")]
        pub denotation: String,
    }

    /// The oneof of [`Dimension`].
    pub mod dimension {
        /// A oneof member is written even when it holds 0 or "", so a
        /// zero-sized axis stays distinct from an unknown one.
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Value {
            #[prost(int64, tag = "1")]
            DimValue(i64),
            #[prost(string, tag = "2")]
            DimParam(String),
        }
    }
}

// ---------------------------------------------------------------------------
// Constructors used by the serializer.
// ---------------------------------------------------------------------------

impl OperatorSetIdProto {
    /// `domain` at `version`; pass "" for the default ONNX domain.
    pub fn new(domain: impl Into<String>, version: i64) -> Self {
        Self { domain: domain.into(), version }
    }
}

impl StringStringEntryProto {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self { key: key.into(), value: value.into() }
    }
}

impl AttributeProto {
    /// An attribute with only its name and type set; callers fill the value.
    fn typed(name: impl Into<String>, ty: AttributeType) -> Self {
        Self { name: name.into(), r#type: ty as i32, ..Self::default() }
    }

    pub fn float(name: impl Into<String>, v: f32) -> Self {
        Self { f: v, ..Self::typed(name, AttributeType::Float) }
    }

    pub fn int(name: impl Into<String>, v: i64) -> Self {
        Self { i: v, ..Self::typed(name, AttributeType::Int) }
    }

    /// A string attribute (ONNX stores strings as UTF-8 bytes).
    pub fn string(name: impl Into<String>, v: impl Into<Vec<u8>>) -> Self {
        Self { s: v.into(), ..Self::typed(name, AttributeType::String) }
    }

    pub fn tensor(name: impl Into<String>, v: TensorProto) -> Self {
        Self { t: Some(v), ..Self::typed(name, AttributeType::Tensor) }
    }

    /// A subgraph attribute (`If` branches, `Loop`/`Scan` bodies).
    pub fn graph(name: impl Into<String>, v: GraphProto) -> Self {
        Self { g: Some(v), ..Self::typed(name, AttributeType::Graph) }
    }

    pub fn floats(name: impl Into<String>, v: impl Into<Vec<f32>>) -> Self {
        Self { floats: v.into(), ..Self::typed(name, AttributeType::Floats) }
    }

    pub fn ints(name: impl Into<String>, v: impl Into<Vec<i64>>) -> Self {
        Self { ints: v.into(), ..Self::typed(name, AttributeType::Ints) }
    }

    pub fn strings<S: Into<Vec<u8>>>(name: impl Into<String>, v: impl IntoIterator<Item = S>) -> Self {
        Self { strings: v.into_iter().map(Into::into).collect(), ..Self::typed(name, AttributeType::Strings) }
    }

    pub fn tensors(name: impl Into<String>, v: impl Into<Vec<TensorProto>>) -> Self {
        Self { tensors: v.into(), ..Self::typed(name, AttributeType::Tensors) }
    }

    pub fn graphs(name: impl Into<String>, v: impl Into<Vec<GraphProto>>) -> Self {
        Self { graphs: v.into(), ..Self::typed(name, AttributeType::Graphs) }
    }
}

/// The `location` value OpenVINO's ONNX frontend reads as "the data is in
/// this process's memory": `offset` is then the address and `length` the
/// byte count. ONNX Runtime's OpenVINO EP uses the same convention, which
/// lets weights be handed over without a copy.
pub const ORT_MEM_ADDR_LOCATION: &str = "*/_ORT_MEM_ADDR_/*";

impl TensorProto {
    /// A tensor whose little-endian element bytes are stored inline.
    pub fn raw(
        name: impl Into<String>,
        data_type: i32,
        dims: impl Into<Vec<i64>>,
        raw_data: impl Into<Vec<u8>>,
    ) -> Self {
        Self { name: name.into(), data_type, dims: dims.into(), raw_data: raw_data.into(), ..Self::default() }
    }

    /// A tensor whose `len` bytes live at address `addr` of this process
    /// (see [`ORT_MEM_ADDR_LOCATION`]). The memory must stay valid for as
    /// long as the reader (OpenVINO's compiled model) may use it.
    pub fn external_in_memory(
        name: impl Into<String>,
        data_type: i32,
        dims: impl Into<Vec<i64>>,
        addr: usize,
        len: usize,
    ) -> Self {
        Self {
            name: name.into(),
            data_type,
            dims: dims.into(),
            data_location: DataLocation::External as i32,
            external_data: vec![
                StringStringEntryProto::new("location", ORT_MEM_ADDR_LOCATION),
                StringStringEntryProto::new("offset", addr.to_string()),
                StringStringEntryProto::new("length", len.to_string()),
            ],
            ..Self::default()
        }
    }
}

impl ValueInfoProto {
    /// A tensor-typed value. `dims: None` is unknown rank (no shape);
    /// `Some(&[])` is a scalar; a `None` axis is dynamic and written as a
    /// dimension with neither value nor name. Unnamed rather than named
    /// ("d0", ...) on purpose: equal symbolic names assert equal sizes, and
    /// positional names would wrongly tie unrelated inputs together.
    pub fn tensor(name: impl Into<String>, elem_type: i32, dims: Option<&[Option<i64>]>) -> Self {
        use tensor_shape_proto::{dimension, Dimension};
        let shape = dims.map(|dims| TensorShapeProto {
            dim: dims
                .iter()
                .map(|d| Dimension { value: d.map(dimension::Value::DimValue), denotation: String::new() })
                .collect(),
        });
        Self {
            name: name.into(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type, shape })),
                denotation: String::new(),
            }),
            doc_string: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tensor_shape_proto::{dimension, Dimension};
    use super::*;
    use prost::Message;

    const FLOAT: i32 = 1;

    fn add_model() -> ModelProto {
        let dims: &[Option<i64>] = &[Some(2), Some(3)];
        ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto::new("", 17)],
            producer_name: "ovep".into(),
            graph: Some(GraphProto {
                name: "add".into(),
                node: vec![NodeProto {
                    input: vec!["a".into(), "b".into()],
                    output: vec!["y".into()],
                    name: "add0".into(),
                    op_type: "Add".into(),
                    ..NodeProto::default()
                }],
                input: vec![
                    ValueInfoProto::tensor("a", FLOAT, Some(dims)),
                    ValueInfoProto::tensor("b", FLOAT, Some(dims)),
                ],
                output: vec![ValueInfoProto::tensor("y", FLOAT, Some(dims))],
                ..GraphProto::default()
            }),
            ..ModelProto::default()
        }
    }

    #[test]
    fn add_model_round_trips() {
        let model = add_model();
        let bytes = model.encode_to_vec();
        let back = ModelProto::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, model);
    }

    #[test]
    fn encoding_is_deterministic() {
        let first = add_model().encode_to_vec();
        let second = add_model().encode_to_vec();
        assert_eq!(first, second);
        // And a clone of a decoded copy re-encodes to the same bytes.
        let again = ModelProto::decode(first.as_slice()).unwrap().encode_to_vec();
        assert_eq!(first, again);
    }

    #[test]
    fn field_numbers_on_the_wire() {
        // Bytes worked out by hand from the proto field numbers, so a wrong
        // tag or wire type in a declaration shows up here.
        // OperatorSetIdProto{domain: "", version: 17}: field 2 varint.
        assert_eq!(OperatorSetIdProto::new("", 17).encode_to_vec(), [0x10, 17]);
        // AttributeProto INT: name (1, len), i (3, varint), type (20, varint:
        // key 20<<3|0 = 160 = 0xA0 0x01). Written in tag order.
        assert_eq!(
            AttributeProto::int("axis", 1).encode_to_vec(),
            [0x0A, 4, b'a', b'x', b'i', b's', 0x18, 1, 0xA0, 0x01, 2]
        );
        // ints (8) packed: key 8<<3|2 = 0x42, length, varints.
        assert_eq!(
            AttributeProto::ints("p", vec![1, 2]).encode_to_vec(),
            [0x0A, 1, b'p', 0x42, 2, 1, 2, 0xA0, 0x01, 7]
        );
        // dims (1) packed, data_type (2), float_data (4) packed fixed32.
        let t = TensorProto { dims: vec![1], data_type: FLOAT, float_data: vec![1.0], ..TensorProto::default() };
        assert_eq!(t.encode_to_vec(), [0x0A, 1, 1, 0x10, 1, 0x22, 4, 0x00, 0x00, 0x80, 0x3F]);
        // A zero-sized axis is still written (oneof member): key 0x08, 0.
        let d = Dimension { value: Some(dimension::Value::DimValue(0)), denotation: String::new() };
        assert_eq!(d.encode_to_vec(), [0x08, 0]);
    }

    #[test]
    fn external_in_memory_entries() {
        let t = TensorProto::external_in_memory("w", FLOAT, vec![4, 4], 0x7f00_1000, 64);
        let back = TensorProto::decode(t.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back.data_location, DataLocation::External as i32);
        assert_eq!(back.data_location(), DataLocation::External);
        assert!(back.raw_data.is_empty());
        let entries: Vec<(&str, &str)> =
            back.external_data.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect();
        assert_eq!(entries, [("location", "*/_ORT_MEM_ADDR_/*"), ("offset", "2130710528"), ("length", "64"),]);
    }

    #[test]
    fn value_info_shapes() {
        let tensor_type = |v: &ValueInfoProto| match v.r#type.as_ref().unwrap().value.as_ref() {
            Some(type_proto::Value::TensorType(t)) => t.clone(),
            other => panic!("not a tensor type: {other:?}"),
        };
        let unknown_rank = ValueInfoProto::tensor("x", FLOAT, None);
        assert_eq!(tensor_type(&unknown_rank).shape, None);

        let scalar = ValueInfoProto::tensor("x", FLOAT, Some(&[]));
        assert_eq!(tensor_type(&scalar).shape, Some(TensorShapeProto::default()));
        // A present-but-empty shape survives the round trip (unlike an
        // unknown rank, which has no shape field at all).
        let back = ValueInfoProto::decode(scalar.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, scalar);

        let mixed = ValueInfoProto::tensor("x", FLOAT, Some(&[None, Some(0), Some(5)]));
        let shape = tensor_type(&mixed).shape.unwrap();
        let dims: Vec<_> = shape.dim.iter().map(|d| d.value.clone()).collect();
        assert_eq!(dims, [None, Some(dimension::Value::DimValue(0)), Some(dimension::Value::DimValue(5)),]);
        let back = ValueInfoProto::decode(mixed.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, mixed);
    }

    #[test]
    fn attribute_constructors_set_type() {
        let g = GraphProto { name: "body".into(), ..GraphProto::default() };
        let cases = [
            (AttributeProto::float("a", 0.5), AttributeType::Float),
            (AttributeProto::int("a", -3), AttributeType::Int),
            (AttributeProto::string("a", "SAME_UPPER"), AttributeType::String),
            (
                AttributeProto::tensor("a", TensorProto::raw("c", FLOAT, vec![], 1.0f32.to_le_bytes())),
                AttributeType::Tensor,
            ),
            (AttributeProto::graph("a", g.clone()), AttributeType::Graph),
            (AttributeProto::floats("a", vec![1.0, 2.0]), AttributeType::Floats),
            (AttributeProto::ints("a", vec![1, -1]), AttributeType::Ints),
            (AttributeProto::strings("a", ["x", "y"]), AttributeType::Strings),
            (AttributeProto::tensors("a", vec![TensorProto::default()]), AttributeType::Tensors),
            (AttributeProto::graphs("a", vec![g.clone(), g]), AttributeType::Graphs),
        ];
        for (attr, ty) in cases {
            assert_eq!(attr.r#type(), ty);
            let back = AttributeProto::decode(attr.encode_to_vec().as_slice()).unwrap();
            assert_eq!(back, attr);
        }
    }
    /// A model serialized by the `onnx` Python package (1.22, C++ protobuf,
    /// proto2 `onnx.proto`: unpacked attribute ints/floats, packed
    /// `int64_data`). Produced once with onnx.helper:
    ///   node  = make_node("Add", ["a", "w"], ["y"], name="add0", domain="",
    ///           doc_string="n", f=0.5, i=-3, s="SAME", fs=[1.0, 2.5],
    ///           is=[1, -1, 300], ss=["p", "q"],
    ///           t=make_tensor("c", INT64, [2], [7, 8]), g=<Identity body>)
    ///   graph "main", doc "gd": input a [None, 3], output y ["N", 3],
    ///           initializers w (raw f32 0..6, [2, 3]) and e (external,
    ///           ORT memory address 4096, length 16), value_info
    ///           s: seq(tensor(int32)) without shape
    ///   model: ir 8, opsets ("", 17) and ("com.microsoft", 1), producer
    ///           "py" "1", domain "d", version 2, doc "md", props {k: v}
    /// Decoding it must give exactly the model built below, which checks
    /// every declared tag against the reference implementation.
    const ONNX_PY_MODEL_HEX: [&str; 12] = [
        "0808120270791a0131220164280232026d643a86030ad3010a01610a01771201791a046164643022",
        "034164642a0b0a0166150000003fa001012a110a0266733d0000803f3d00002040a001062a3a0a01",
        "6732320a100a017812017a22084964656e746974791204626f64795a0b0a017812060a0408011200",
        "620b0a017a12060a0408011200a001052a110a016918fdffffffffffffffff01a001022a170a0269",
        "73400140ffffffffffffffffff0140ac02a001072a0c0a0173220453414d45a001032a0d0a027373",
        "4a01704a0171a001082a130a01742a0b080210073a020708420163a0010432016e3a0012046d6169",
        "6e2a230802080310014201774a18000000000000803f0000004000004040000080400000a0402a47",
        "080410014201656a1e0a086c6f636174696f6e12122a2f5f4f52545f4d454d5f414444525f2f2a6a",
        "0e0a066f66667365741204343039366a0c0a066c656e677468120231367001520267645a110a0161",
        "120c0a0a080112060a000a02080362140a0179120f0a0d080112090a0312014e0a0208036a0d0a01",
        "73120822060a040a02080642040a00101142110a0d636f6d2e6d6963726f736f6674100172060a01",
        "6b120176",
    ];

    fn from_hex(parts: &[&str]) -> Vec<u8> {
        let hex: String = parts.concat();
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn decodes_model_written_by_onnx_python() {
        let decoded = ModelProto::decode(from_hex(&ONNX_PY_MODEL_HEX).as_slice()).unwrap();

        let scalar: &[Option<i64>] = &[];
        let body = GraphProto {
            node: vec![NodeProto {
                input: vec!["x".into()],
                output: vec!["z".into()],
                op_type: "Identity".into(),
                ..NodeProto::default()
            }],
            name: "body".into(),
            input: vec![ValueInfoProto::tensor("x", FLOAT, Some(scalar))],
            output: vec![ValueInfoProto::tensor("z", FLOAT, Some(scalar))],
            ..GraphProto::default()
        };
        let node = NodeProto {
            input: vec!["a".into(), "w".into()],
            output: vec!["y".into()],
            name: "add0".into(),
            op_type: "Add".into(),
            doc_string: "n".into(),
            // onnx.helper sorts attributes by name.
            attribute: vec![
                AttributeProto::float("f", 0.5),
                AttributeProto::floats("fs", vec![1.0, 2.5]),
                AttributeProto::graph("g", body),
                AttributeProto::int("i", -3),
                AttributeProto::ints("is", vec![1, -1, 300]),
                AttributeProto::string("s", "SAME"),
                AttributeProto::strings("ss", ["p", "q"]),
                AttributeProto::tensor(
                    "t",
                    TensorProto {
                        name: "c".into(),
                        data_type: 7,
                        dims: vec![2],
                        int64_data: vec![7, 8],
                        ..TensorProto::default()
                    },
                ),
            ],
            ..NodeProto::default()
        };
        let w: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let mut y = ValueInfoProto::tensor("y", FLOAT, Some(&[None, Some(3)]));
        if let Some(type_proto::Value::TensorType(t)) = y.r#type.as_mut().and_then(|t| t.value.as_mut()) {
            t.shape.as_mut().unwrap().dim[0].value = Some(dimension::Value::DimParam("N".into()));
        }
        let seq = ValueInfoProto {
            name: "s".into(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::SequenceType(type_proto::Sequence {
                    elem_type: Some(Box::new(TypeProto {
                        value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type: 6, shape: None })),
                        denotation: String::new(),
                    })),
                })),
                denotation: String::new(),
            }),
            doc_string: String::new(),
        };
        let expected = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto::new("", 17), OperatorSetIdProto::new("com.microsoft", 1)],
            producer_name: "py".into(),
            producer_version: "1".into(),
            domain: "d".into(),
            model_version: 2,
            doc_string: "md".into(),
            graph: Some(GraphProto {
                node: vec![node],
                name: "main".into(),
                initializer: vec![
                    TensorProto::raw("w", FLOAT, vec![2, 3], w),
                    TensorProto::external_in_memory("e", FLOAT, vec![4], 4096, 16),
                ],
                doc_string: "gd".into(),
                input: vec![ValueInfoProto::tensor("a", FLOAT, Some(&[None, Some(3)]))],
                output: vec![y],
                value_info: vec![seq],
            }),
            metadata_props: vec![StringStringEntryProto::new("k", "v")],
        };
        assert_eq!(decoded, expected);
    }
}
