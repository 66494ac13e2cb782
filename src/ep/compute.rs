//! `OrtNodeComputeInfo`: how ORT runs one compiled fused node.

use std::ffi::c_void;
use std::sync::Arc;

use crate::ffi;
use crate::ort::abi::*;
use crate::ort::api::ort;
use crate::ort::kernel::KernelContext;
use crate::ort::logger::Logger;
use crate::runtime::executable::Executable;

/// `OrtNodeComputeInfo` must be the first field: ORT hands back a pointer to it.
#[repr(C)]
pub struct ComputeInfo {
    base: OrtNodeComputeInfo,
    exe: Arc<Executable>,
    /// The session's logger, revoked when ORT starts tearing the session down.
    logger: Logger,
}

impl ComputeInfo {
    pub fn new(exe: Arc<Executable>, logger: Logger) -> Box<ComputeInfo> {
        Box::new(ComputeInfo {
            base: OrtNodeComputeInfo {
                ort_version_supported: ort().version,
                CreateState: create_state,
                Compute: compute,
                ReleaseState: release_state,
            },
            exe,
            logger,
        })
    }

    pub fn into_raw(self: Box<Self>) -> *mut OrtNodeComputeInfo {
        Box::into_raw(self).cast()
    }

    /// # Safety
    /// `p` must come from `into_raw` and not have been released.
    pub unsafe fn from_raw(p: *mut OrtNodeComputeInfo) -> Box<ComputeInfo> {
        Box::from_raw(p.cast())
    }
}

unsafe extern "C" fn create_state(
    this: *mut OrtNodeComputeInfo,
    _ctx: *mut OrtNodeComputeContext,
    state: *mut *mut c_void,
) -> *mut OrtStatus {
    // All state lives in the executable (shared by concurrent runs). The state handed back is
    // the compute info itself, non-null so that ORT calls ReleaseState when it destroys the
    // fused kernel: the moment to settle (see `release_state`).
    ffi::status("CreateState", || {
        *state = this.cast();
        Ok(())
    })
}

unsafe extern "C" fn compute(
    this: *mut OrtNodeComputeInfo,
    _state: *mut c_void,
    ctx: *mut OrtKernelContext,
) -> *mut OrtStatus {
    ffi::status("Compute", || {
        let info = &*this.cast::<ComputeInfo>();
        let result = info.exe.run(&KernelContext::from_raw(ctx));
        if let Some(placed) = info.exe.take_report() {
            info.logger.info(&placed);
        }
        result.map_err(|e| e.context(format!("ovep: running {}", info.exe.name)))
    })
}

/// How long the end of a session waits for a shape specialization in flight.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

impl Drop for ComputeInfo {
    fn drop(&mut self) {
        self.exe.settle(SETTLE_WAIT);
    }
}

unsafe extern "C" fn release_state(this: *mut OrtNodeComputeInfo, _state: *mut c_void) {
    // The session is tearing down its kernels, the first of its parts to go (on ORT 1.23.2
    // and 1.32.0 ReleaseState comes before ReleaseNodeComputeInfos); its weights go later. A
    // background specialization or cache export may still be reading them: let it finish.
    ffi::value("ReleaseState", (), || {
        let info = &*this.cast::<ComputeInfo>();
        info.exe.settle(SETTLE_WAIT);
        info.logger.revoke();
        Ok(())
    })
}
