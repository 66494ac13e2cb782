//! OpenVINO status codes -> `Error`, with OpenVINO's own last error message.

use std::ffi::CStr;

use openvino_sys::{ov_get_last_err_msg, ov_status_e};

use crate::error::{Error, Result};

/// Check an OpenVINO status; `what` says what we were doing.
pub fn check(status: ov_status_e, what: &str) -> Result<()> {
    if status == ov_status_e::OK {
        return Ok(());
    }
    // OpenVINO sets its last-error message only for exceptions it caught; a rejected
    // argument (INVALID_C_PARAM) leaves the message of some earlier failure in place.
    if status == ov_status_e::INVALID_C_PARAM {
        return Err(Error::ep_fail(format!("OpenVINO: {what} failed ({status:?})")));
    }
    // SAFETY: OpenVINO keeps a thread-local message for the last failed call.
    let detail = unsafe {
        let p = ov_get_last_err_msg();
        if p.is_null() {
            String::new()
        } else {
            // OpenVINO's messages span lines ("Exception from ...:\n<reason>"); keep them on
            // one line so ORT's one-line status shows the reason.
            CStr::from_ptr(p).to_string_lossy().split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    Err(Error::ep_fail(format!(
        "OpenVINO: {what} failed ({status:?}){}{detail}",
        if detail.is_empty() { "" } else { ": " }
    )))
}
