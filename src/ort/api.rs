//! The ORT function tables, negotiated once with the host.
//!
//! `CreateEpFactories` hands us an `OrtApiBase`; we ask it for the highest `OrtApi` version
//! both sides know ([`MAX_ORT_API`], the `api-24` layout ort-sys was built with) and keep
//! the result for the life of the process. Fields past that version are never read: ORT 1.23
//! gives a 1.23-sized table, so 1.24 functions are called only when `api_version >= 24`.

use std::ffi::CStr;
use std::sync::OnceLock;

use super::abi::{OrtApi, OrtApiBase, OrtEpApi, MAX_EP_API};
use crate::error::{Error, Result};

/// The `OrtApi` layout compiled in (ort-sys feature `api-24`).
pub const MAX_ORT_API: u32 = 24;
/// The oldest ORT whose plugin-EP ABI ovep implements.
pub const MIN_ORT_API: u32 = 23;

pub struct Ort {
    pub api: &'static OrtApi,
    pub ep: &'static OrtEpApi,
    /// The EP ABI version negotiated with the host; goes into every `ort_version_supported`.
    pub version: u32,
    /// The `OrtApi` version negotiated with the host: functions added later are not called.
    pub api_version: u32,
    /// The host's version string, e.g. "1.32.0".
    pub host_version: String,
}

// SAFETY: the tables are immutable function-pointer tables owned by ORT for the whole process.
unsafe impl Send for Ort {}
unsafe impl Sync for Ort {}

static ORT: OnceLock<Ort> = OnceLock::new();

/// Negotiate with the host. Idempotent: later calls return the first result.
///
/// # Safety
/// `base` must be the `OrtApiBase` ORT passed to `CreateEpFactories`.
pub unsafe fn init(base: *const OrtApiBase) -> Result<&'static Ort> {
    if let Some(ort) = ORT.get() {
        return Ok(ort);
    }
    if base.is_null() {
        return Err(Error::invalid_argument("ovep: ORT passed a null OrtApiBase"));
    }
    let base = &*base;
    let host_version = CStr::from_ptr((base.GetVersionString)()).to_string_lossy().into_owned();
    let host_minor = parse_minor(&host_version).unwrap_or(0);
    if host_minor < MIN_ORT_API {
        return Err(Error::new(
            crate::error::ErrorKind::NotImplemented,
            format!("ovep needs onnxruntime >= 1.{MIN_ORT_API}; the host is {host_version}"),
        ));
    }
    let version = host_minor.min(MAX_ORT_API);
    let api = (base.GetApi)(version);
    if api.is_null() {
        return Err(Error::ep_fail(format!("onnxruntime {host_version} refused OrtApi version {version}")));
    }
    let api: &'static OrtApi = &*api;
    let ep = (api.GetEpApi)();
    if ep.is_null() {
        return Err(Error::ep_fail(format!("onnxruntime {host_version} has no OrtEpApi")));
    }
    let ort =
        Ort { api, ep: &*ep.cast::<OrtEpApi>(), version: version.min(MAX_EP_API), api_version: version, host_version };
    Ok(ORT.get_or_init(|| ort))
}

/// The negotiated tables. Only valid after `init` (every entry point runs after
/// `CreateEpFactories`, which calls it first).
pub fn ort() -> &'static Ort {
    ORT.get().expect("ovep: ORT API used before CreateEpFactories")
}

pub fn api() -> &'static OrtApi {
    ort().api
}

fn parse_minor(version: &str) -> Option<u32> {
    let mut parts = version.split('.');
    let major: u32 = parts.next()?.trim().parse().ok()?;
    let minor: u32 = parts.next()?.trim().parse().ok()?;
    // A 2.x host would renumber the API; treat it as newer than anything we know.
    Some(if major > 1 { u32::MAX } else { minor })
}

/// Report an error when negotiation itself failed (e.g. a host older than 1.23): the
/// version-1 `OrtApi`, which every host has, still creates statuses.
///
/// # Safety
/// `base` must be NULL or the `OrtApiBase` ORT passed to `CreateEpFactories`.
pub unsafe fn status_without_negotiation(base: *const OrtApiBase, e: &Error) -> *mut ort_sys::OrtStatus {
    if base.is_null() {
        return std::ptr::null_mut();
    }
    let api = ((*base).GetApi)(1);
    if api.is_null() {
        return std::ptr::null_mut();
    }
    let msg = std::ffi::CString::new(e.message.replace('\0', " ")).unwrap_or_default();
    ((*api).CreateStatus)(ort_sys::OrtErrorCode::ORT_NOT_IMPLEMENTED, msg.as_ptr()).0
}

#[cfg(test)]
mod tests {
    use super::parse_minor;

    #[test]
    fn parses_host_versions() {
        assert_eq!(parse_minor("1.23.2"), Some(23));
        assert_eq!(parse_minor("1.32.0"), Some(32));
        assert_eq!(parse_minor("1.9"), Some(9));
        assert_eq!(parse_minor("2.0.0"), Some(u32::MAX));
        assert_eq!(parse_minor("garbage"), None);
    }
}
