//! Compiled models (`ov_compiled_model_t`) and their infer requests.

use std::ffi::{CStr, CString};
use std::ptr;

use openvino_sys as ov;

use super::error::check;
use super::model::{named_port, Port};
use super::tensor::Tensor;
use crate::cache::Blob;
use crate::error::{Error, Result};

pub struct CompiledModel {
    ptr: *mut ov::ov_compiled_model_t,
    /// The buffer an imported model was read from: OpenVINO keeps reading weights from it.
    /// Declared after `ptr` so it is dropped after the model is freed.
    backing: Option<Blob>,
}

// SAFETY: ov::CompiledModel is thread-safe; infer requests are created per caller.
unsafe impl Send for CompiledModel {}
unsafe impl Sync for CompiledModel {}

impl CompiledModel {
    /// # Safety
    /// `ptr` must be a compiled model we own.
    pub unsafe fn from_raw(ptr: *mut ov::ov_compiled_model_t) -> CompiledModel {
        CompiledModel { ptr, backing: None }
    }

    /// Keep `buffer` alive as long as this model (see `Core::import`).
    pub fn backed_by(mut self, buffer: Blob) -> CompiledModel {
        self.backing = Some(buffer);
        self
    }

    /// The input port holding tensor `name`, if any.
    pub fn input_named(&self, name: &CStr) -> Option<Port> {
        let mut port = ptr::null_mut();
        let status = unsafe { ov::ov_compiled_model_input_by_name(self.ptr, name.as_ptr(), &mut port) };
        named_port(status, port)
    }

    /// The output port holding tensor `name`, if any.
    pub fn output_named(&self, name: &CStr) -> Option<Port> {
        let mut port = ptr::null_mut();
        let status = unsafe { ov::ov_compiled_model_output_by_name(self.ptr, name.as_ptr(), &mut port) };
        named_port(status, port)
    }

    pub fn create_infer_request(&self) -> Result<InferRequest> {
        let mut r = ptr::null_mut();
        check(unsafe { ov::ov_compiled_model_create_infer_request(self.ptr, &mut r) }, "creating an infer request")?;
        Ok(InferRequest { ptr: r })
    }

    /// The blob this model was imported from, if it was: exporting an imported model again
    /// is not reliable (OpenVINO 2026.4's CPU plugin writes a blob it cannot read back), and
    /// the original bytes are the same compiled model.
    pub fn imported_from(&self) -> Option<&Blob> {
        self.backing.as_ref()
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
    /// Bind tensor `name` (an input or an output, by any of its names).
    pub fn set_tensor(&mut self, name: &CStr, t: &Tensor) -> Result<()> {
        check(unsafe { ov::ov_infer_request_set_tensor(self.ptr, name.as_ptr(), t.raw()) }, "binding a tensor")
            .map_err(|e| e.context(name.to_string_lossy()))
    }

    /// The tensor bound to `name` (after inference: an output's result).
    pub fn tensor(&self, name: &CStr) -> Result<Tensor> {
        let mut t = ptr::null_mut();
        check(unsafe { ov::ov_infer_request_get_tensor(self.ptr, name.as_ptr(), &mut t) }, "reading a tensor")
            .map_err(|e| e.context(name.to_string_lossy()))?;
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
