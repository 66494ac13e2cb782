//! A private ORT session on the CPU EP alone, over one fused subgraph's ONNX form: what
//! measured placement (`runtime::placement`) runs a small subgraph with when ORT's own
//! kernels turn out faster than a call into OpenVINO.
//!
//! It lives in the host's process and environment: `CreateEnv` hands back the host's
//! `OrtEnv` (ORT keeps one per process, reference-counted), so nothing about logging or
//! threading is set up twice. A fresh `OrtSessionOptions` appends no EP, so the session
//! never loads ovep again.

use std::ffi::{c_char, CString};
use std::ptr;

use ort_sys::{GraphOptimizationLevel, OrtEnv, OrtLoggingLevel, OrtSession};

use super::abi::OrtValue;
use super::api::api;
use super::graph::{tensor_data, TensorData};
use super::status::check;
use crate::error::Result;

pub struct CpuSession {
    env: *mut OrtEnv,
    session: *mut OrtSession,
    inputs: Vec<CString>,
    outputs: Vec<CString>,
}

// SAFETY: ORT sessions may be run from any thread, concurrently; the pointers are released once.
unsafe impl Send for CpuSession {}
unsafe impl Sync for CpuSession {}

impl CpuSession {
    /// A session over `onnx` (a model whose weights are all inside it) with the given graph
    /// input and output names, run by one thread: the subgraphs it serves are small, and a
    /// thread pool of its own would spin against the host's and OpenVINO's threads.
    pub fn new(onnx: &[u8], inputs: &[String], outputs: &[String]) -> Result<CpuSession> {
        let name =
            |n: &String| CString::new(n.as_str()).map_err(|_| crate::error::Error::ep_fail("tensor name with NUL"));
        let inputs = inputs.iter().map(name).collect::<Result<Vec<_>>>()?;
        let outputs = outputs.iter().map(name).collect::<Result<Vec<_>>>()?;
        let api = api();
        let mut env = ptr::null_mut();
        // SAFETY: plain ORT API calls; every object created is released below or in Drop.
        unsafe {
            check((api.CreateEnv)(OrtLoggingLevel::ORT_LOGGING_LEVEL_WARNING, c"ovep-cpu".as_ptr(), &mut env))?;
            let mut me = CpuSession { env, session: ptr::null_mut(), inputs, outputs };
            let mut opts = ptr::null_mut();
            check((api.CreateSessionOptions)(&mut opts))?;
            let configured = check((api.SetIntraOpNumThreads)(opts, 1))
                .and_then(|()| check((api.SetInterOpNumThreads)(opts, 1)))
                .and_then(|()| {
                    check((api.SetSessionGraphOptimizationLevel)(opts, GraphOptimizationLevel::ORT_ENABLE_ALL))
                })
                .and_then(|()| {
                    check((api.CreateSessionFromArray)(me.env, onnx.as_ptr().cast(), onnx.len(), opts, &mut me.session))
                });
            (api.ReleaseSessionOptions)(opts);
            configured?;
            Ok(me)
        }
    }

    /// Run on `inputs` (ORT values in graph-input order, e.g. a fused node's own inputs) and
    /// hand each output to `write` with its index and data, before the outputs are released.
    pub fn run(
        &self,
        inputs: &[*const OrtValue],
        mut write: impl FnMut(usize, &TensorData) -> Result<()>,
    ) -> Result<()> {
        let in_names: Vec<*const c_char> = self.inputs.iter().map(|n| n.as_ptr()).collect();
        let out_names: Vec<*const c_char> = self.outputs.iter().map(|n| n.as_ptr()).collect();
        let mut outs: Vec<*mut OrtValue> = vec![ptr::null_mut(); self.outputs.len()];
        // SAFETY: names and values match in count; ORT allocates each output value.
        let ran = unsafe {
            check((api().Run)(
                self.session,
                ptr::null(),
                in_names.as_ptr(),
                inputs.as_ptr(),
                inputs.len(),
                out_names.as_ptr(),
                out_names.len(),
                outs.as_mut_ptr(),
            ))
        };
        let written = ran.and_then(|()| {
            outs.iter().enumerate().try_for_each(|(i, v)| tensor_data(v.cast_const()).and_then(|t| write(i, &t)))
        });
        for v in outs.into_iter().filter(|v| !v.is_null()) {
            // SAFETY: Run gave us these values; released once.
            unsafe { (api().ReleaseValue)(v) };
        }
        written
    }
}

impl Drop for CpuSession {
    fn drop(&mut self) {
        // SAFETY: created in `new`, released once (the env is the host's, reference-counted).
        unsafe {
            if !self.session.is_null() {
                (api().ReleaseSession)(self.session);
            }
            (api().ReleaseEnv)(self.env);
        }
    }
}
