//! The panic/error boundary every C entry point goes through.
//!
//! Each `extern "C"` trampoline in `ep/` is one line: `ffi::status("Name", || ...)` (for
//! functions that return `OrtStatus*`) or `ffi::value("Name", fallback, || ...)` (for those
//! that return a plain value). A Rust panic must never unwind into ONNX Runtime's C++ frames
//! (that is undefined behaviour and in practice aborts the host), so it is caught here and
//! returned as an `OrtStatus` naming the entry point.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::ort::abi::OrtStatus;
use crate::ort::status::to_status;

/// Run an entry point that returns `OrtStatus*`.
pub fn status(entry: &'static str, f: impl FnOnce() -> Result<()>) -> *mut OrtStatus {
    to_status(catch(entry, f))
}

/// Run an entry point whose C signature has no status; `fallback` is returned on failure
/// (after logging, since there is nowhere else to report it).
pub fn value<T>(entry: &'static str, fallback: T, f: impl FnOnce() -> Result<T>) -> T {
    match catch(entry, f) {
        Ok(v) => v,
        Err(e) => {
            crate::ort::logger::default_logger().error(&format!("ovep: {entry} failed: {e}"));
            fallback
        }
    }
}

/// Run `f`, turning a panic into an error that names `entry`.
pub fn catch<T>(entry: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(|| {
        inject_panic(entry);
        f()
    })) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::ep_fail(format!(
                "ovep: internal error (panic) in {entry}: {what}. This is a bug in ovep; please report it."
            )))
        }
    }
}

/// Test hook: `OVEP_INJECT_PANIC=<EntryPoint>` makes that entry point panic, so the tests
/// can prove the boundary holds for every entry point through the real ORT.
fn inject_panic(entry: &'static str) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    let target = TARGET.get_or_init(|| std::env::var("OVEP_INJECT_PANIC").ok());
    if target.as_deref() == Some(entry) {
        panic!("injected by OVEP_INJECT_PANIC={entry}");
    }
}
