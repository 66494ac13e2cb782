//! Finding and loading OpenVINO's C library at run time.
//!
//! Search order (first that loads wins): the `openvino_library` option, the
//! `OVEP_OPENVINO_LIBRARY` variable (an explicit setting that fails is an error, not a
//! reason to look elsewhere), a `libopenvino_c` already loaded in this process, the
//! `openvino` wheel beside ovep's own library, the wheel beside the loaded `onnxruntime`
//! Python package, the active virtualenv/conda prefix, `INTEL_OPENVINO_DIR`, and finally the
//! system library path. Every symbol ovep calls is checked before the library is used.

use std::ffi::CStr;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// Every OpenVINO C function ovep calls. Checked at load, so a missing one is one clear
/// error naming the library instead of a panic deep inside a session.
pub const REQUIRED_SYMBOLS: &[&str] = &[
    "ov_get_openvino_version",
    "ov_version_free",
    "ov_get_last_err_msg",
    "ov_free",
    "ov_core_create",
    "ov_core_get_available_devices",
    "ov_available_devices_free",
    "ov_core_get_property",
    "ov_core_read_model_from_memory_buffer",
    "ov_core_compile_model_props",
    "ov_core_import_model",
    "ov_core_set_properties",
    "ov_model_free",
    "ov_model_inputs_size",
    "ov_model_outputs_size",
    "ov_model_const_input_by_index",
    "ov_model_const_output_by_index",
    "ov_model_is_dynamic",
    "ov_model_reshape_by_port_indexes",
    "ov_output_const_port_free",
    "ov_port_get_any_name",
    "ov_port_get_partial_shape",
    "ov_port_get_element_type",
    "ov_partial_shape_create",
    "ov_partial_shape_free",
    "ov_shape_create",
    "ov_shape_free",
    "ov_compiled_model_free",
    "ov_compiled_model_create_infer_request",
    "ov_compiled_model_export_model",
    "ov_infer_request_free",
    "ov_infer_request_infer",
    "ov_tensor_create_from_host_ptr",
    "ov_tensor_create",
    "ov_model_const_input_by_name",
    "ov_model_const_output_by_name",
    "ov_compiled_model_input_by_name",
    "ov_compiled_model_output_by_name",
    "ov_infer_request_set_tensor",
    "ov_infer_request_get_tensor",
    "ov_tensor_free",
    "ov_tensor_get_shape",
    "ov_tensor_data",
    "ov_tensor_get_byte_size",
];

/// A place we looked, and what happened there.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub origin: String,
    pub outcome: String,
}

/// Where a candidate library came from and its path (a bare soname means "ask the
/// dynamic loader").
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub origin: String,
    pub path: PathBuf,
    /// An explicit user setting: failing it stops the search.
    pub explicit: bool,
}

/// Load OpenVINO's C library, trying the candidates in order. On success returns the path
/// and the build version; on failure one error that lists every place searched.
pub fn load(option: Option<&str>) -> Result<(PathBuf, String)> {
    let mut attempts = Vec::new();
    for c in candidates(option) {
        match try_load(&c.path) {
            Ok(version) => return Ok((c.path, version)),
            Err(why) => {
                attempts.push(Attempt { origin: format!("{} ({})", c.origin, c.path.display()), outcome: why });
                if c.explicit {
                    break;
                }
            }
        }
    }
    Err(not_found(&attempts))
}

fn not_found(attempts: &[Attempt]) -> Error {
    let mut msg = String::from(
        "ovep could not load OpenVINO's C library (libopenvino_c). Install the `openvino` wheel \
         (pip install openvino==2026.4.*) in the same environment, or set the `openvino_library` \
         option or OVEP_OPENVINO_LIBRARY to the path of libopenvino_c.so. Places searched:",
    );
    for a in attempts {
        msg.push_str(&format!("\n  - {}: {}", a.origin, a.outcome));
    }
    Error::new(ErrorKind::NoSuchFile, msg)
}

/// The candidates in search order.
pub fn candidates(option: Option<&str>) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut push = |origin: &str, path: PathBuf, explicit: bool| {
        if !out.iter().any(|c: &Candidate| c.path == path) {
            out.push(Candidate { origin: origin.to_string(), path, explicit });
        }
    };
    if let Some(p) = option.filter(|p| !p.is_empty()) {
        push("option openvino_library", resolve_in_dir(Path::new(p)), true);
    }
    if let Some(p) = std::env::var_os("OVEP_OPENVINO_LIBRARY").filter(|p| !p.is_empty()) {
        push("OVEP_OPENVINO_LIBRARY", resolve_in_dir(Path::new(&p)), true);
    }
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    if let Some(p) = loaded_library(&maps, "libopenvino_c.so") {
        push("libopenvino_c already loaded in this process", p, false);
    }
    if let Some(own) = own_library_path() {
        if let Some(site) = own.parent().and_then(Path::parent) {
            push("openvino wheel beside ovep", wheel_libs(site), false);
        }
    }
    if let Some(p) = loaded_library(&maps, "onnxruntime/capi/") {
        // <site-packages>/onnxruntime/capi/<lib>: three levels up is site-packages.
        if let Some(site) = p.ancestors().nth(3) {
            push("openvino wheel beside the loaded onnxruntime package", wheel_libs(site), false);
        }
    }
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(prefix) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            for site in site_packages(Path::new(&prefix)) {
                push(var, wheel_libs(&site), false);
            }
        }
    }
    if let Some(dir) = std::env::var_os("INTEL_OPENVINO_DIR").filter(|p| !p.is_empty()) {
        push("INTEL_OPENVINO_DIR", resolve_in_dir(&Path::new(&dir).join("runtime/lib/intel64")), false);
    }
    push("system library path", PathBuf::from("libopenvino_c.so"), false);
    out
}

/// `<site>/openvino/libs/libopenvino_c.so*`.
fn wheel_libs(site: &Path) -> PathBuf {
    resolve_in_dir(&site.join("openvino").join("libs"))
}

/// A directory becomes the newest `libopenvino_c.so*` inside it (pip ships only the
/// versioned soname); a file path is kept as given.
pub fn resolve_in_dir(path: &Path) -> PathBuf {
    if !path.is_dir() {
        return path.to_path_buf();
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libopenvino_c.so")))
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| path.join("libopenvino_c.so"))
}

fn site_packages(prefix: &Path) -> Vec<PathBuf> {
    let lib = prefix.join("lib");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// The first mapped file in `/proc/self/maps` whose path contains `needle`.
pub fn loaded_library(maps: &str, needle: &str) -> Option<PathBuf> {
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.starts_with('/') && p.contains(needle))
        .map(PathBuf::from)
}

/// The path of libovep.so itself (so a wheel install finds its sibling `openvino`).
fn own_library_path() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let here = own_library_path as *const () as usize;
    maps.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let range = f.next()?;
        let (lo, hi) = range.split_once('-')?;
        let (lo, hi) = (usize::from_str_radix(lo, 16).ok()?, usize::from_str_radix(hi, 16).ok()?);
        let path = f.nth(4)?;
        (lo <= here && here < hi && path.starts_with('/')).then(|| PathBuf::from(path))
    })
}

/// Open `path`, check every symbol, then hand it to openvino-sys. Returns the version.
fn try_load(path: &Path) -> std::result::Result<String, String> {
    if path.is_absolute() && !path.exists() {
        return Err("not found".into());
    }
    // SAFETY: loading OpenVINO runs its initialisers; that is what loading it means.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
    let missing: Vec<&str> =
        REQUIRED_SYMBOLS.iter().copied().filter(|s| unsafe { lib.get::<*const ()>(s.as_bytes()) }.is_err()).collect();
    if !missing.is_empty() {
        return Err(format!("loaded, but it lacks {} (an OpenVINO older than 2026.4?)", missing.join(", ")));
    }
    openvino_sys::library::load_from(path)?;
    let version = version()?;
    // Keep our handle open too: the library must never be unloaded while OpenVINO objects live.
    std::mem::forget(lib);
    Ok(version)
}

/// OpenVINO's build version, e.g. "2026.4.1-20000-...".
pub fn version() -> std::result::Result<String, String> {
    use openvino_sys::{ov_get_openvino_version, ov_status_e, ov_version_free, ov_version_t};
    let mut v = ov_version_t { buildNumber: std::ptr::null(), description: std::ptr::null() };
    // SAFETY: library loaded; we free what it allocates.
    unsafe {
        if ov_get_openvino_version(&mut v) != ov_status_e::OK || v.buildNumber.is_null() {
            return Err("ov_get_openvino_version failed".into());
        }
        let s = CStr::from_ptr(v.buildNumber).to_string_lossy().into_owned();
        ov_version_free(&mut v);
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_mapped_libraries() {
        let maps =
            "7f00-7f10 r-xp 00000000 08:01 1 /venv/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1\n\
                    7f10-7f20 r-xp 00000000 08:01 2 /opt/ov/libopenvino_c.so.2641\n\
                    7f20-7f30 rw-p 00000000 00:00 0 \n";
        assert_eq!(loaded_library(maps, "libopenvino_c.so"), Some(PathBuf::from("/opt/ov/libopenvino_c.so.2641")));
        let ort = loaded_library(maps, "onnxruntime/capi/").unwrap();
        assert_eq!(ort.ancestors().nth(3), Some(Path::new("/venv/lib/python3.11/site-packages")));
        assert_eq!(loaded_library(maps, "nothing"), None);
    }

    #[test]
    fn explicit_settings_come_first_and_stop_the_search() {
        let c = candidates(Some("/nonexistent/libopenvino_c.so.1"));
        assert_eq!(c[0].path, PathBuf::from("/nonexistent/libopenvino_c.so.1"));
        assert!(c[0].explicit);
        assert_eq!(c.last().unwrap().path, PathBuf::from("libopenvino_c.so"));
        let err = load(Some("/nonexistent/libopenvino_c.so.1")).unwrap_err();
        assert!(err.message.contains("option openvino_library"), "{}", err.message);
        assert!(err.message.contains("Places searched"), "{}", err.message);
        // The explicit failure stopped the search: the system path was not tried.
        assert!(!err.message.contains("system library path"), "{}", err.message);
    }

    #[test]
    fn directory_resolves_to_newest_versioned_library() {
        let dir = std::env::temp_dir().join(format!("ovep-libdir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for n in ["libopenvino_c.so.2640", "libopenvino_c.so.2641", "libopenvino.so.2641"] {
            std::fs::write(dir.join(n), b"").unwrap();
        }
        assert_eq!(resolve_in_dir(&dir), dir.join("libopenvino_c.so.2641"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
