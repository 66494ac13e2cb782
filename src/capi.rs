//! ovep's own C API (`include/ovep.h`), for hosts and the Python package: fast start today.
//! Every function returns an int and writes a path or an error message into the caller's
//! buffer; panics are caught at this boundary like at ORT's.

use std::ffi::{c_char, c_int, CStr};
use std::path::Path;

use crate::error::{Error, Result};
use crate::fast_start::{self, Published, Slot};
use crate::ffi;

pub const READY: c_int = 1;
pub const BUILD: c_int = 0;
pub const OFF: c_int = -1;
pub const PLAIN: c_int = 2;
pub const FAILED: c_int = -2;

unsafe fn arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(p).to_str().map(Some).map_err(|_| Error::invalid_argument(format!("ovep: {what} is not UTF-8")))
}

/// A string argument the caller must give.
///
/// # Safety
/// As `arg`.
unsafe fn required_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    arg(p, what)?.ok_or_else(|| Error::invalid_argument(format!("ovep: {what} is NULL")))
}

/// Copy `text` into the caller's buffer (truncated, always NUL-terminated).
unsafe fn write_out(out: *mut c_char, size: usize, text: &str) {
    if out.is_null() || size == 0 {
        return;
    }
    let n = text.len().min(size - 1);
    std::ptr::copy_nonoverlapping(text.as_ptr().cast(), out, n);
    *out.add(n) = 0;
}

/// Run `f`, writing its text or its error into `out`.
unsafe fn run(
    entry: &'static str,
    out: *mut c_char,
    size: usize,
    f: impl FnOnce() -> Result<(c_int, String)>,
) -> c_int {
    match ffi::catch(entry, f) {
        Ok((code, text)) => {
            write_out(out, size, &text);
            code
        }
        Err(e) => {
            write_out(out, size, &e.message);
            FAILED
        }
    }
}

/// See `ovep_fast_start_path` in include/ovep.h.
///
/// # Safety
/// Strings are NULL or NUL-terminated; `out` has room for `out_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ovep_fast_start_path(
    model_path: *const c_char,
    device: *const c_char,
    options_key: *const c_char,
    cache_dir: *const c_char,
    out: *mut c_char,
    out_size: usize,
) -> c_int {
    run("ovep_fast_start_path", out, out_size, || {
        let model = required_arg(model_path, "model_path")?;
        let device = arg(device, "device")?.unwrap_or("CPU");
        let options_key = arg(options_key, "options_key")?.unwrap_or("");
        let cache_dir = arg(cache_dir, "cache_dir")?;
        let slot = fast_start::slot(Path::new(model), device, options_key, cache_dir)?;
        Ok(match slot {
            Some(Slot::Ready(p)) => {
                // The host's next step is a session on it: its blobs start importing now.
                crate::ep::prefetch::start(&p, device, options_key, cache_dir);
                (READY, p.to_string_lossy().into_owned())
            }
            Some(Slot::Build(p)) => (BUILD, p.to_string_lossy().into_owned()),
            Some(Slot::Plain) => (PLAIN, String::new()),
            None => (OFF, String::new()),
        })
    })
}

/// See `ovep_fast_start_publish` in include/ovep.h.
///
/// # Safety
/// `staged_path` is NUL-terminated; `out` has room for `out_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn ovep_fast_start_publish(
    staged_path: *const c_char,
    out: *mut c_char,
    out_size: usize,
) -> c_int {
    run("ovep_fast_start_publish", out, out_size, || {
        let staged = required_arg(staged_path, "staged_path")?;
        Ok(match fast_start::publish(Path::new(staged))? {
            Published::Ready(p) => (READY, p.to_string_lossy().into_owned()),
            Published::Plain(_) => (PLAIN, String::new()),
        })
    })
}

/// See `ovep_cache_command` in include/ovep.h.
///
/// # Safety
/// Strings are NULL or NUL-terminated; `out` is a valid pointer to write a string pointer to.
#[no_mangle]
pub unsafe extern "C" fn ovep_cache_command(
    cache_dir: *const c_char,
    command: *const c_char,
    argument: *const c_char,
    out: *mut *mut c_char,
) -> c_int {
    let result = ffi::catch("ovep_cache_command", || {
        use crate::maintenance as m;
        let root = m::root(arg(cache_dir, "cache_dir")?)?;
        let a = arg(argument, "argument")?;
        let need = |what: &str| a.ok_or_else(|| Error::invalid_argument(format!("ovep cache: {what} is required")));
        let report = match arg(command, "command")?.unwrap_or("") {
            "ls" => m::ls(&root)?,
            "stats" => m::stats(&root)?,
            "verify" => m::verify(&root)?,
            "prune" => {
                let max = need("the size cap in bytes")?;
                let max = max.parse().map_err(|_| Error::invalid_argument(format!("ovep cache: bad size {max:?}")))?;
                m::prune(&root, max)?
            }
            "export" => m::export(&root, Path::new(need("the bundle path")?))?,
            "import" => m::import(&root, Path::new(need("the bundle path")?))?,
            other => {
                return Err(Error::invalid_argument(format!(
                    "ovep cache: unknown command {other:?} (ls, stats, verify, prune, export, import)"
                )))
            }
        };
        Ok(report.to_string())
    });
    let (code, text) = match result {
        Ok(json) => (0, json),
        Err(e) => (FAILED, e.message),
    };
    if !out.is_null() {
        *out = std::ffi::CString::new(text.replace('\0', " ")).unwrap_or_default().into_raw();
    }
    code
}

/// Free a string ovep returned.
///
/// # Safety
/// `s` is NULL or came from `ovep_cache_command` and was not freed.
#[no_mangle]
pub unsafe extern "C" fn ovep_string_free(s: *mut c_char) {
    if !s.is_null() {
        drop(std::ffi::CString::from_raw(s));
    }
}

/// Wait until ovep's background work (cache writes, shape compiles) is done; 1 if it is, 0
/// if `timeout_ms` passed first. For tools that exit right after creating sessions.
#[no_mangle]
pub extern "C" fn ovep_wait_background(timeout_ms: u64) -> c_int {
    c_int::from(crate::runtime::background::wait_idle(std::time::Duration::from_millis(timeout_ms)))
}
