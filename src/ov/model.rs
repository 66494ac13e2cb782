//! An OpenVINO model (`ov_model_t`) read from ONNX: its ports, and reshaping.

use std::ptr;

use openvino_sys as ov;

use super::core::take_ov_string;
use super::error::check;
use crate::error::Result;

/// One input or output port: name, element type (OpenVINO raw value) and partial shape
/// (`None` for a dynamic dimension; `None` rank for a dynamic rank).
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    pub name: String,
    pub element: i32,
    pub dims: Option<Vec<Option<i64>>>,
}

pub struct Model {
    ptr: *mut ov::ov_model_t,
}

// SAFETY: an ov::Model is only mutated (reshape) under the owner's lock; reads are safe.
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

impl Model {
    /// # Safety
    /// `ptr` must be a model we own.
    pub unsafe fn from_raw(ptr: *mut ov::ov_model_t) -> Model {
        Model { ptr }
    }

    pub fn raw(&self) -> *const ov::ov_model_t {
        self.ptr
    }

    pub fn inputs(&self) -> Result<Vec<Port>> {
        let mut n = 0;
        check(unsafe { ov::ov_model_inputs_size(self.ptr, &mut n) }, "counting model inputs")?;
        (0..n).map(|i| self.port(i, true)).collect()
    }

    pub fn outputs(&self) -> Result<Vec<Port>> {
        let mut n = 0;
        check(unsafe { ov::ov_model_outputs_size(self.ptr, &mut n) }, "counting model outputs")?;
        (0..n).map(|i| self.port(i, false)).collect()
    }

    /// The input port holding tensor `name` (any of its names), if the model has one.
    /// OpenVINO drops inputs nothing reads, and a pass-through gives one tensor two names.
    pub fn input_named(&self, name: &str) -> Option<Port> {
        let name = std::ffi::CString::new(name).ok()?;
        let mut port = ptr::null_mut();
        let status = unsafe { ov::ov_model_const_input_by_name(self.ptr, name.as_ptr(), &mut port) };
        named_port(status, port)
    }

    /// The output port holding tensor `name`, if the model has one.
    pub fn output_named(&self, name: &str) -> Option<Port> {
        let name = std::ffi::CString::new(name).ok()?;
        let mut port = ptr::null_mut();
        let status = unsafe { ov::ov_model_const_output_by_name(self.ptr, name.as_ptr(), &mut port) };
        named_port(status, port)
    }

    pub fn is_dynamic(&self) -> bool {
        unsafe { ov::ov_model_is_dynamic(self.ptr) }
    }

    fn port(&self, i: usize, input: bool) -> Result<Port> {
        let mut port = ptr::null_mut();
        let status = unsafe {
            if input {
                ov::ov_model_const_input_by_index(self.ptr, i, &mut port)
            } else {
                ov::ov_model_const_output_by_index(self.ptr, i, &mut port)
            }
        };
        check(status, "reading a model port")?;
        let info = read_port(port);
        unsafe { ov::ov_output_const_port_free(port) };
        info
    }

    /// Set static shapes on the inputs (by input index). The model is changed in place.
    pub fn reshape(&self, shapes: &[(usize, Vec<i64>)]) -> Result<()> {
        let mut partials = Vec::with_capacity(shapes.len());
        let mut ok = Ok(());
        for (_, dims) in shapes {
            let ds: Vec<ov::ov_dimension_t> = dims.iter().map(|&d| ov::ov_dimension_t { min: d, max: d }).collect();
            // A scalar is rank 0 with no dims. ov_partial_shape_create refuses rank 0, so the
            // literal is used as is (freeing its NULL dims below is a no-op).
            let mut ps = ov::ov_partial_shape_t { rank: ov::ov_dimension_t { min: 0, max: 0 }, dims: ptr::null_mut() };
            if !ds.is_empty() {
                ok = check(
                    unsafe { ov::ov_partial_shape_create(ds.len() as i64, ds.as_ptr(), &mut ps) },
                    "making a shape",
                );
                if ok.is_err() {
                    break;
                }
            }
            partials.push(ps);
        }
        if ok.is_ok() {
            let idx: Vec<usize> = shapes.iter().map(|(i, _)| *i).collect();
            ok = check(
                unsafe { ov::ov_model_reshape_by_port_indexes(self.ptr, idx.as_ptr(), partials.as_ptr(), idx.len()) },
                "reshaping the model",
            );
        }
        for mut ps in partials {
            unsafe { ov::ov_partial_shape_free(&mut ps) };
        }
        ok
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        unsafe { ov::ov_model_free(self.ptr) }
    }
}

/// The port a by-name lookup returned (freed here), or None when there is none.
pub(crate) fn named_port(status: ov::ov_status_e, port: *mut ov::ov_output_const_port_t) -> Option<Port> {
    if status != ov::ov_status_e::OK || port.is_null() {
        return None;
    }
    let info = read_port(port).ok();
    unsafe { ov::ov_output_const_port_free(port) };
    info
}

/// Name, element type and partial shape of a const port (model or compiled model).
pub(crate) fn read_port(port: *const ov::ov_output_const_port_t) -> Result<Port> {
    let mut name = ptr::null_mut();
    check(unsafe { ov::ov_port_get_any_name(port, &mut name) }, "reading a port name")?;
    let name = unsafe { take_ov_string(name) };
    let mut element: i32 = 0;
    // Read through an i32: the Rust enum may not list every type a newer OpenVINO reports.
    check(unsafe { ov::ov_port_get_element_type(port, (&mut element as *mut i32).cast()) }, "reading a port type")?;
    let mut ps = ov::ov_partial_shape_t { rank: ov::ov_dimension_t { min: 0, max: 0 }, dims: ptr::null_mut() };
    check(unsafe { ov::ov_port_get_partial_shape(port, &mut ps) }, "reading a port shape")?;
    let dims = if ps.rank.min != ps.rank.max || ps.rank.min < 0 {
        None
    } else {
        let n = ps.rank.min as usize;
        Some(
            (0..n)
                .map(|i| {
                    let d = unsafe { *ps.dims.add(i) };
                    (d.min == d.max && d.min >= 0).then_some(d.min)
                })
                .collect(),
        )
    };
    unsafe { ov::ov_partial_shape_free(&mut ps) };
    Ok(Port { name, element, dims })
}
