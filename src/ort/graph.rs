//! Read-only views of ORT's graph (`OrtGraph`, `OrtNode`, `OrtValueInfo`, `OrtOpAttr`).
//!
//! The pointers are valid only during the ORT call that handed them over (GetCapability,
//! Compile); the lifetime `'g` ties each view to that call. Everything that must outlive the
//! call is copied out as owned Rust data. Initializer bytes are the exception: they belong
//! to the session and stay valid for its life, which is what lets ovep pass weights to
//! OpenVINO by address instead of copying them.

use std::ffi::{c_char, CStr};
use std::marker::PhantomData;
use std::ptr;

use ort_sys::{ONNXTensorElementDataType, ONNXType, OrtOpAttrType, OrtTensorTypeAndShapeInfo, OrtTypeInfo};

use super::abi::{OrtGraph, OrtNode, OrtOpAttr, OrtValue, OrtValueInfo};
use super::api::api;
use super::status::{check, ignore};
use crate::error::Result;

/// `api().F(args...)` returning `Result<()>`.
macro_rules! call {
    ($f:ident ( $($arg:expr),* $(,)? )) => {
        // SAFETY: the arguments are live ORT handles for the duration of the call.
        unsafe { check((api().$f)($($arg),*)) }
    };
}

unsafe fn owned_str(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

#[derive(Clone, Copy)]
pub struct Graph<'g> {
    ptr: *const OrtGraph,
    _call: PhantomData<&'g ()>,
}

#[derive(Clone, Copy)]
pub struct Node<'g> {
    ptr: *const OrtNode,
    _call: PhantomData<&'g ()>,
}

#[derive(Clone, Copy)]
pub struct ValueInfo<'g> {
    ptr: *const OrtValueInfo,
    _call: PhantomData<&'g ()>,
}

/// One dimension of a tensor shape as ORT knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Fixed(i64),
    /// A named symbolic dimension ("batch").
    Symbolic(String),
    Unknown,
}

/// The type of a value: a tensor with element type and shape, or something else.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueType {
    /// `elem` is the ONNX wire value of the element type; `dims` is None when ORT does not
    /// know the shape (not even the rank).
    Tensor {
        elem: i32,
        dims: Option<Vec<Dim>>,
    },
    Sequence,
    Map,
    Optional,
    SparseTensor,
    Other,
}

/// A constant initializer's data, owned by the session (valid for its lifetime).
#[derive(Clone, Debug)]
pub struct TensorData {
    pub elem: i32,
    pub dims: Vec<i64>,
    pub data: *const u8,
    pub bytes: usize,
}

impl TensorData {
    /// The bytes, while ORT's call that produced this view lasts (and, for initializers of
    /// 128 bytes or more, as long as the session: see `onnx::export::INLINE_BELOW_BYTES`).
    pub fn as_bytes(&self) -> &[u8] {
        if self.bytes == 0 || self.data.is_null() {
            return &[];
        }
        // SAFETY: `data` points at `bytes` bytes ORT owns (see above).
        unsafe { std::slice::from_raw_parts(self.data, self.bytes) }
    }
}

/// An attribute value copied out of ORT.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrData {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Floats(Vec<f32>),
    String(Vec<u8>),
    Strings(Vec<Vec<u8>>),
    /// A tensor attribute (e.g. `Constant.value`), copied.
    Tensor {
        elem: i32,
        dims: Vec<i64>,
        raw: Vec<u8>,
    },
    /// A subgraph: read it with `Node::subgraphs`.
    Graph,
    Undefined,
}

impl<'g> Graph<'g> {
    /// # Safety
    /// `ptr` must be a graph ORT handed to the current call.
    pub unsafe fn from_raw(ptr: *const OrtGraph) -> Graph<'g> {
        Graph { ptr, _call: PhantomData }
    }

    pub fn ir_version(&self) -> Result<i64> {
        let mut v = 0;
        call!(Graph_GetOnnxIRVersion(self.ptr, &mut v))?;
        Ok(v)
    }

    /// The path of the model file the graph was loaded from (None: loaded from memory).
    pub fn model_path(&self) -> Result<Option<std::path::PathBuf>> {
        let mut p: *const c_char = ptr::null();
        // os_char is char on the platforms ovep supports.
        call!(Graph_GetModelPath(self.ptr, &mut p as *mut *const c_char as *mut _))?;
        let path = unsafe { owned_str(p) };
        Ok((!path.is_empty()).then(|| path.into()))
    }

    /// `(domain, version)` pairs the model imports.
    pub fn opsets(&self) -> Result<Vec<(String, i64)>> {
        let mut n = 0;
        call!(Graph_GetNumOperatorSets(self.ptr, &mut n))?;
        let mut domains = vec![ptr::null(); n];
        let mut versions = vec![0i64; n];
        call!(Graph_GetOperatorSets(self.ptr, domains.as_mut_ptr(), versions.as_mut_ptr(), n))?;
        Ok(domains.into_iter().zip(versions).map(|(d, v)| (unsafe { owned_str(d) }, v)).collect())
    }

    pub fn inputs(&self) -> Result<Vec<ValueInfo<'g>>> {
        let mut n = 0;
        call!(Graph_GetNumInputs(self.ptr, &mut n))?;
        let mut v = vec![ptr::null(); n];
        call!(Graph_GetInputs(self.ptr, v.as_mut_ptr(), n))?;
        Ok(v.into_iter().map(ValueInfo::wrap).collect())
    }

    pub fn outputs(&self) -> Result<Vec<ValueInfo<'g>>> {
        let mut n = 0;
        call!(Graph_GetNumOutputs(self.ptr, &mut n))?;
        let mut v = vec![ptr::null(); n];
        call!(Graph_GetOutputs(self.ptr, v.as_mut_ptr(), n))?;
        Ok(v.into_iter().map(ValueInfo::wrap).collect())
    }

    /// Nodes in ORT's topological order.
    pub fn nodes(&self) -> Result<Vec<Node<'g>>> {
        let mut n = 0;
        call!(Graph_GetNumNodes(self.ptr, &mut n))?;
        let mut v = vec![ptr::null(); n];
        call!(Graph_GetNodes(self.ptr, v.as_mut_ptr(), n))?;
        Ok(v.into_iter().map(Node::wrap).collect())
    }

    /// The node that owns this graph when it is an If/Loop/Scan body.
    pub fn parent_node(&self) -> Result<Option<Node<'g>>> {
        let mut p = ptr::null();
        call!(Graph_GetParentNode(self.ptr, &mut p))?;
        Ok((!p.is_null()).then(|| Node::wrap(p)))
    }
}

impl<'g> Node<'g> {
    fn wrap(ptr: *const OrtNode) -> Node<'g> {
        Node { ptr, _call: PhantomData }
    }

    /// # Safety
    /// `ptr` must be a node ORT handed to the current call.
    pub unsafe fn from_raw(ptr: *const OrtNode) -> Node<'g> {
        Node::wrap(ptr)
    }

    pub fn raw(&self) -> *const OrtNode {
        self.ptr
    }

    pub fn name(&self) -> Result<String> {
        let mut p = ptr::null();
        call!(Node_GetName(self.ptr, &mut p))?;
        Ok(unsafe { owned_str(p) })
    }

    pub fn op_type(&self) -> Result<String> {
        let mut p = ptr::null();
        call!(Node_GetOperatorType(self.ptr, &mut p))?;
        Ok(unsafe { owned_str(p) })
    }

    pub fn domain(&self) -> Result<String> {
        let mut p = ptr::null();
        call!(Node_GetDomain(self.ptr, &mut p))?;
        Ok(unsafe { owned_str(p) })
    }

    pub fn since_version(&self) -> Result<i32> {
        let mut v = 0;
        call!(Node_GetSinceVersion(self.ptr, &mut v))?;
        Ok(v)
    }

    /// Inputs in order; `None` for an omitted optional input.
    pub fn inputs(&self) -> Result<Vec<Option<ValueInfo<'g>>>> {
        let mut n = 0;
        call!(Node_GetNumInputs(self.ptr, &mut n))?;
        let mut v = vec![ptr::null(); n];
        call!(Node_GetInputs(self.ptr, v.as_mut_ptr(), n))?;
        Ok(v.into_iter().map(ValueInfo::wrap_opt).collect())
    }

    /// Outputs in order; `None` for an omitted optional output.
    pub fn outputs(&self) -> Result<Vec<Option<ValueInfo<'g>>>> {
        let mut n = 0;
        call!(Node_GetNumOutputs(self.ptr, &mut n))?;
        let mut v = vec![ptr::null(); n];
        call!(Node_GetOutputs(self.ptr, v.as_mut_ptr(), n))?;
        Ok(v.into_iter().map(ValueInfo::wrap_opt).collect())
    }

    /// Values an If/Loop/Scan body reads from the enclosing graph.
    pub fn implicit_inputs(&self) -> Result<Vec<ValueInfo<'g>>> {
        let mut n = 0;
        call!(Node_GetNumImplicitInputs(self.ptr, &mut n))?;
        let mut v = vec![ptr::null(); n];
        call!(Node_GetImplicitInputs(self.ptr, v.as_mut_ptr(), n))?;
        Ok(v.into_iter().filter(|p| !p.is_null()).map(ValueInfo::wrap).collect())
    }

    /// All attributes, copied (subgraph attributes appear as `AttrData::Graph`).
    pub fn attributes(&self) -> Result<Vec<(String, AttrData)>> {
        let mut n = 0;
        call!(Node_GetNumAttributes(self.ptr, &mut n))?;
        let mut v = vec![ptr::null(); n];
        call!(Node_GetAttributes(self.ptr, v.as_mut_ptr(), n))?;
        v.into_iter().map(read_attr).collect()
    }

    /// Subgraph attributes as `(attribute name, body)`.
    pub fn subgraphs(&self) -> Result<Vec<(String, Graph<'g>)>> {
        let mut n = 0;
        call!(Node_GetNumSubgraphs(self.ptr, &mut n))?;
        let mut graphs = vec![ptr::null(); n];
        let mut names = vec![ptr::null(); n];
        call!(Node_GetSubgraphs(self.ptr, graphs.as_mut_ptr(), n, names.as_mut_ptr()))?;
        Ok(names
            .into_iter()
            .zip(graphs)
            .map(|(name, g)| (unsafe { owned_str(name) }, unsafe { Graph::from_raw(g) }))
            .collect())
    }
}

impl<'g> ValueInfo<'g> {
    fn wrap(ptr: *const OrtValueInfo) -> ValueInfo<'g> {
        ValueInfo { ptr, _call: PhantomData }
    }

    fn wrap_opt(ptr: *const OrtValueInfo) -> Option<ValueInfo<'g>> {
        (!ptr.is_null()).then(|| ValueInfo::wrap(ptr))
    }

    pub fn name(&self) -> Result<String> {
        let mut p = ptr::null();
        call!(GetValueInfoName(self.ptr, &mut p))?;
        Ok(unsafe { owned_str(p) })
    }

    pub fn value_type(&self) -> Result<ValueType> {
        let mut info: *const OrtTypeInfo = ptr::null();
        call!(GetValueInfoTypeInfo(self.ptr, &mut info))?;
        if info.is_null() {
            return Ok(ValueType::Other);
        }
        let mut kind = ONNXType::ONNX_TYPE_UNKNOWN;
        call!(GetOnnxTypeFromTypeInfo(info, &mut kind))?;
        Ok(match kind {
            ONNXType::ONNX_TYPE_TENSOR => {
                let mut t: *const OrtTensorTypeAndShapeInfo = ptr::null();
                call!(CastTypeInfoToTensorInfo(info, &mut t))?;
                let (elem, dims) = tensor_type_and_dims(t)?;
                ValueType::Tensor { elem, dims: shape_known(t, &dims).then_some(dims) }
            }
            ONNXType::ONNX_TYPE_SEQUENCE => ValueType::Sequence,
            ONNXType::ONNX_TYPE_MAP => ValueType::Map,
            ONNXType::ONNX_TYPE_OPTIONAL => ValueType::Optional,
            ONNXType::ONNX_TYPE_SPARSETENSOR => ValueType::SparseTensor,
            _ => ValueType::Other,
        })
    }

    pub fn is_constant_initializer(&self) -> Result<bool> {
        let mut v = false;
        call!(ValueInfo_IsConstantInitializer(self.ptr, &mut v))?;
        Ok(v)
    }

    pub fn is_from_outer_scope(&self) -> Result<bool> {
        let mut v = false;
        call!(ValueInfo_IsFromOuterScope(self.ptr, &mut v))?;
        Ok(v)
    }

    /// The initializer's data when this value is an initializer (constant or not).
    pub fn initializer(&self) -> Result<Option<TensorData>> {
        let mut value: *const OrtValue = ptr::null();
        call!(ValueInfo_GetInitializerValue(self.ptr, &mut value))?;
        if value.is_null() {
            return Ok(None);
        }
        tensor_data(value).map(Some)
    }
}

/// Element type (wire value) and dims of a tensor type-and-shape info.
fn tensor_type_and_dims(t: *const OrtTensorTypeAndShapeInfo) -> Result<(i32, Vec<Dim>)> {
    let mut elem: i32 = 0;
    // Read the enum through an i32: a host newer than ort-sys may report a type the Rust
    // enum does not list, and an out-of-range enum value would be undefined behaviour.
    call!(GetTensorElementType(t, (&mut elem as *mut i32).cast::<ONNXTensorElementDataType>()))?;
    let mut rank = 0;
    call!(GetDimensionsCount(t, &mut rank))?;
    let mut values = vec![0i64; rank];
    call!(GetDimensions(t, values.as_mut_ptr(), rank))?;
    let mut symbols = vec![ptr::null(); rank];
    call!(GetSymbolicDimensions(t, symbols.as_mut_ptr(), rank))?;
    let dims = values
        .into_iter()
        .zip(symbols)
        .map(|(v, s)| {
            let sym = unsafe { owned_str(s) };
            if v >= 0 {
                Dim::Fixed(v)
            } else if !sym.is_empty() {
                Dim::Symbolic(sym)
            } else {
                Dim::Unknown
            }
        })
        .collect();
    Ok((elem, dims))
}

/// Whether ORT knows this shape. Before ORT 1.24 a missing shape reads as rank 0, the same
/// as a scalar; 1.24 added `TensorTypeAndShape_HasShape` to tell them apart. On older hosts
/// a rank-0 type counts as unknown (callers that know better, e.g. for declared graph
/// inputs, decide themselves).
fn shape_known(t: *const OrtTensorTypeAndShapeInfo, dims: &[Dim]) -> bool {
    if super::api::ort().api_version >= 24 {
        // SAFETY: the host's table has this 1.24 entry (api_version >= 24).
        unsafe { (api().TensorTypeAndShape_HasShape)(t) }
    } else {
        !dims.is_empty()
    }
}

/// Type, dims and data pointer of a tensor `OrtValue` (not copied).
pub(crate) fn tensor_data(value: *const OrtValue) -> Result<TensorData> {
    let mut info: *mut OrtTensorTypeAndShapeInfo = ptr::null_mut();
    call!(GetTensorTypeAndShape(value, &mut info))?;
    let typed = tensor_type_and_dims(info);
    // SAFETY: we own `info` (GetTensorTypeAndShape allocates it).
    unsafe { (api().ReleaseTensorTypeAndShapeInfo)(info) };
    let (elem, dims) = typed?;
    let dims: Vec<i64> = dims.into_iter().map(|d| if let Dim::Fixed(v) = d { v } else { 0 }).collect();
    let mut data: *const std::ffi::c_void = ptr::null();
    call!(GetTensorData(value, &mut data))?;
    let mut bytes = 0usize;
    call!(GetTensorSizeInBytes(value, &mut bytes))?;
    Ok(TensorData { elem, dims, data: data.cast(), bytes })
}

fn read_attr(attr: *const OrtOpAttr) -> Result<(String, AttrData)> {
    let mut name = ptr::null();
    call!(OpAttr_GetName(attr, &mut name))?;
    let name = unsafe { owned_str(name) };
    let mut ty = OrtOpAttrType::ORT_OP_ATTR_UNDEFINED;
    call!(OpAttr_GetType(attr, &mut ty))?;
    let data = match ty {
        OrtOpAttrType::ORT_OP_ATTR_INT => {
            let mut v = 0i64;
            read_into(attr, ty, &mut v as *mut i64 as *mut u8, 8)?;
            AttrData::Int(v)
        }
        OrtOpAttrType::ORT_OP_ATTR_FLOAT => {
            let mut v = 0f32;
            read_into(attr, ty, &mut v as *mut f32 as *mut u8, 4)?;
            AttrData::Float(v)
        }
        OrtOpAttrType::ORT_OP_ATTR_INTS => {
            let raw = read_bytes(attr, ty)?;
            AttrData::Ints(raw.chunks_exact(8).map(|c| i64::from_ne_bytes(c.try_into().unwrap())).collect())
        }
        OrtOpAttrType::ORT_OP_ATTR_FLOATS => {
            let raw = read_bytes(attr, ty)?;
            AttrData::Floats(raw.chunks_exact(4).map(|c| f32::from_ne_bytes(c.try_into().unwrap())).collect())
        }
        OrtOpAttrType::ORT_OP_ATTR_STRING => {
            let mut raw = read_bytes(attr, ty)?;
            if raw.last() == Some(&0) {
                raw.pop();
            }
            AttrData::String(raw)
        }
        OrtOpAttrType::ORT_OP_ATTR_STRINGS => {
            // ORT writes the strings one after the other, each NUL-terminated.
            let raw = read_bytes(attr, ty)?;
            let mut parts: Vec<Vec<u8>> = raw.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
            parts.pop(); // the empty piece after the last terminator
            AttrData::Strings(parts)
        }
        OrtOpAttrType::ORT_OP_ATTR_TENSOR => {
            let mut value: *mut OrtValue = ptr::null_mut();
            call!(OpAttr_GetTensorAttributeAsOrtValue(attr, &mut value))?;
            let t = tensor_data(value);
            let copied = t.map(|t| {
                // SAFETY: `bytes` bytes at `data` belong to `value`, alive until released below.
                let raw = unsafe { std::slice::from_raw_parts(t.data, t.bytes) }.to_vec();
                AttrData::Tensor { elem: t.elem, dims: t.dims, raw }
            });
            // SAFETY: the value was created for us and is ours to release.
            unsafe { (api().ReleaseValue)(value) };
            copied?
        }
        OrtOpAttrType::ORT_OP_ATTR_GRAPH => AttrData::Graph,
        _ => AttrData::Undefined,
    };
    Ok((name, data))
}

fn read_into(attr: *const OrtOpAttr, ty: OrtOpAttrType, out: *mut u8, len: usize) -> Result<()> {
    let mut written = 0usize;
    call!(ReadOpAttr(attr, ty, out.cast(), len, &mut written))
}

/// Read a variable-sized attribute: probe its size, then read.
fn read_bytes(attr: *const OrtOpAttr, ty: OrtOpAttrType) -> Result<Vec<u8>> {
    let mut size = 0usize;
    // The probe "fails" (buffer too small) but reports the size; its status is dropped.
    unsafe { ignore((api().ReadOpAttr)(attr, ty, ptr::null_mut(), 0, &mut size)) };
    let mut buf = vec![0u8; size];
    if size > 0 {
        let mut written = 0usize;
        call!(ReadOpAttr(attr, ty, buf.as_mut_ptr().cast(), size, &mut written))?;
        buf.truncate(written);
    }
    Ok(buf)
}
