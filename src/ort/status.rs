//! `OrtStatus` <-> `Error`: the one conversion used everywhere.

use std::ffi::{CStr, CString};
use std::ptr;

use ort_sys::{OrtErrorCode, OrtStatus, OrtStatusPtr};

use super::api::api;
use crate::error::{Error, ErrorKind, Result};

/// Turn an ORT status into a `Result`, releasing the status.
///
/// # Safety
/// `status` must be NULL or a status ORT just returned to us.
pub unsafe fn check(status: OrtStatusPtr) -> Result<()> {
    let status = status.0;
    if status.is_null() {
        return Ok(());
    }
    let api = api();
    let message = CStr::from_ptr((api.GetErrorMessage)(status)).to_string_lossy().into_owned();
    let kind = match (api.GetErrorCode)(status) {
        OrtErrorCode::ORT_INVALID_ARGUMENT => ErrorKind::InvalidArgument,
        OrtErrorCode::ORT_NO_SUCHFILE => ErrorKind::NoSuchFile,
        OrtErrorCode::ORT_NOT_IMPLEMENTED => ErrorKind::NotImplemented,
        _ => ErrorKind::EpFail,
    };
    (api.ReleaseStatus)(status);
    Err(Error::new(kind, message))
}

/// Release a status whose error we deliberately ignore (e.g. a size probe).
///
/// # Safety
/// As for [`check`].
pub unsafe fn ignore(status: OrtStatusPtr) {
    if !status.0.is_null() {
        (api().ReleaseStatus)(status.0);
    }
}

/// A new `OrtStatus` for ORT to own; NULL for success.
pub fn to_status(result: Result<()>) -> *mut OrtStatus {
    match result {
        Ok(()) => ptr::null_mut(),
        Err(e) => {
            let code = match e.kind {
                ErrorKind::InvalidArgument => OrtErrorCode::ORT_INVALID_ARGUMENT,
                ErrorKind::NoSuchFile => OrtErrorCode::ORT_NO_SUCHFILE,
                ErrorKind::NotImplemented => OrtErrorCode::ORT_NOT_IMPLEMENTED,
                ErrorKind::EpFail => OrtErrorCode::ORT_EP_FAIL,
            };
            let msg = CString::new(e.message.replace('\0', " ")).unwrap_or_default();
            // SAFETY: CreateStatus copies the message.
            unsafe { (api().CreateStatus)(code, msg.as_ptr()).0 }
        }
    }
}
