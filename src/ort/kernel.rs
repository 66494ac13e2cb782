//! Inputs and outputs of one fused-node run (`OrtKernelContext`).

use std::ptr;

use super::abi::{OrtKernelContext, OrtValue};
use super::api::api;
use super::graph::{tensor_data, TensorData};
use super::status::check;
use crate::error::Result;

pub struct KernelContext(*mut OrtKernelContext);

impl KernelContext {
    /// # Safety
    /// `ctx` must be the context ORT passed to the current `Compute` call.
    pub unsafe fn from_raw(ctx: *mut OrtKernelContext) -> KernelContext {
        KernelContext(ctx)
    }

    /// Input `i`'s type, shape and data (ORT's memory, not copied). `None` when the input
    /// is an omitted optional one.
    pub fn input(&self, i: usize) -> Result<Option<TensorData>> {
        let v = self.input_value(i)?;
        if v.is_null() {
            return Ok(None);
        }
        tensor_data(v).map(Some)
    }

    /// Input `i` as ORT's own value (null for an omitted optional input), to hand to another
    /// ORT call during this `Compute`.
    pub fn input_value(&self, i: usize) -> Result<*const OrtValue> {
        let mut v: *const OrtValue = ptr::null();
        // SAFETY: live context.
        unsafe { check((api().KernelContext_GetInput)(self.0, i, &mut v))? };
        Ok(v)
    }

    /// Allocate output `i` with `dims` and return a pointer to its (writable) buffer.
    pub fn output(&self, i: usize, dims: &[i64]) -> Result<(*mut u8, usize)> {
        let mut v: *mut OrtValue = ptr::null_mut();
        // SAFETY: live context; ORT owns the returned value.
        unsafe {
            check((api().KernelContext_GetOutput)(self.0, i, dims.as_ptr(), dims.len(), &mut v))?;
            let mut data: *mut std::ffi::c_void = ptr::null_mut();
            check((api().GetTensorMutableData)(v, &mut data))?;
            let mut bytes = 0usize;
            check((api().GetTensorSizeInBytes)(v, &mut bytes))?;
            Ok((data.cast(), bytes))
        }
    }
}
