//! Compiled models (`ov_compiled_model_t`) and their infer requests.

use std::ffi::CString;
use std::ptr;

use openvino_sys as ov;

use super::error::check;
use super::model::{read_port, Port};
use super::tensor::Tensor;
use crate::error::{Error, Result};

pub struct CompiledModel {
    ptr: *mut ov::ov_compiled_model_t,
}

// SAFETY: ov::CompiledModel is thread-safe; infer requests are created per caller.
unsafe impl Send for CompiledModel {}
unsafe impl Sync for CompiledModel {}

impl CompiledModel {
    /// # Safety
    /// `ptr` must be a compiled model we own.
    pub unsafe fn from_raw(ptr: *mut ov::ov_compiled_model_t) -> CompiledModel {
        CompiledModel { ptr }
    }

    pub fn inputs(&self) -> Result<Vec<Port>> {
        let mut n = 0;
        check(unsafe { ov::ov_compiled_model_inputs_size(self.ptr, &mut n) }, "counting inputs")?;
        (0..n).map(|i| self.port(i, true)).collect()
    }

    pub fn outputs(&self) -> Result<Vec<Port>> {
        let mut n = 0;
        check(unsafe { ov::ov_compiled_model_outputs_size(self.ptr, &mut n) }, "counting outputs")?;
        (0..n).map(|i| self.port(i, false)).collect()
    }

    fn port(&self, i: usize, input: bool) -> Result<Port> {
        let mut port = ptr::null_mut();
        let status = unsafe {
            if input {
                ov::ov_compiled_model_input_by_index(self.ptr, i, &mut port)
            } else {
                ov::ov_compiled_model_output_by_index(self.ptr, i, &mut port)
            }
        };
        check(status, "reading a compiled model port")?;
        let info = read_port(port);
        unsafe { ov::ov_output_const_port_free(port) };
        info
    }

    pub fn create_infer_request(&self) -> Result<InferRequest> {
        let mut r = ptr::null_mut();
        check(unsafe { ov::ov_compiled_model_create_infer_request(self.ptr, &mut r) }, "creating an infer request")?;
        Ok(InferRequest { ptr: r })
    }

    /// Write the compiled blob to `path` (OpenVINO's export format).
    pub fn export(&self, path: &std::path::Path) -> Result<()> {
        let p = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| Error::invalid_argument("export path contains NUL"))?;
        check(unsafe { ov::ov_compiled_model_export_model(self.ptr, p.as_ptr()) }, "exporting the compiled model")
    }
}

impl Drop for CompiledModel {
    fn drop(&mut self) {
        unsafe { ov::ov_compiled_model_free(self.ptr) }
    }
}

/// One infer request. Not shareable between threads at once: pooled per compiled model.
pub struct InferRequest {
    ptr: *mut ov::ov_infer_request_t,
}

// SAFETY: a request may move between threads; the pool hands it to one caller at a time.
unsafe impl Send for InferRequest {}

impl InferRequest {
    pub fn set_input(&mut self, i: usize, t: &Tensor) -> Result<()> {
        check(unsafe { ov::ov_infer_request_set_input_tensor_by_index(self.ptr, i, t.raw()) }, "setting an input")
    }

    pub fn set_output(&mut self, i: usize, t: &Tensor) -> Result<()> {
        check(unsafe { ov::ov_infer_request_set_output_tensor_by_index(self.ptr, i, t.raw()) }, "setting an output")
    }

    pub fn output(&self, i: usize) -> Result<Tensor> {
        let mut t = ptr::null_mut();
        check(unsafe { ov::ov_infer_request_get_output_tensor_by_index(self.ptr, i, &mut t) }, "reading an output")?;
        Ok(unsafe { Tensor::from_raw(t) })
    }

    pub fn infer(&mut self) -> Result<()> {
        check(unsafe { ov::ov_infer_request_infer(self.ptr) }, "inference")
    }
}

impl Drop for InferRequest {
    fn drop(&mut self) {
        unsafe { ov::ov_infer_request_free(self.ptr) }
    }
}
