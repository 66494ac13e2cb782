//! The process-wide OpenVINO core (`ov_core_t`): created once, shared by all sessions,
//! because creating a core loads plugins and is costly.

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::sync::{Arc, Mutex};

use openvino_sys as ov;

use super::compiled::CompiledModel;
use super::error::check;
use super::model::Model;
use crate::cache::Blob;
use crate::error::{Error, Result};

pub struct Core {
    ptr: *mut ov::ov_core_t,
    /// The library it came from and its build version (part of every cache key).
    pub library: std::path::PathBuf,
    pub version: String,
}

// SAFETY: ov::Core is documented thread-safe; we never free it while shared (it lives in an
// Arc held by the process-wide slot and by every EP).
unsafe impl Send for Core {}
unsafe impl Sync for Core {}

static CORE: Mutex<Option<Arc<Core>>> = Mutex::new(None);

/// The process's core, loading OpenVINO on first use. `library_option` is the user's
/// `openvino_library` option (used only if OpenVINO is not loaded yet).
pub fn core(library_option: Option<&str>) -> Result<Arc<Core>> {
    let mut slot = CORE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = slot.as_ref() {
        return Ok(c.clone());
    }
    super::memory_bounds::bound_primitive_cache();
    let (library, version) = super::library::load(library_option)?;
    let mut ptr = ptr::null_mut();
    // SAFETY: library loaded and checked.
    check(unsafe { ov::ov_core_create(&mut ptr) }, "creating the OpenVINO core")?;
    let c = Arc::new(Core { ptr, library, version });
    *slot = Some(c.clone());
    Ok(c)
}

/// Owned C string returned by OpenVINO, freed with `ov_free`.
pub(crate) unsafe fn take_ov_string(p: *mut c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    let s = CStr::from_ptr(p).to_string_lossy().into_owned();
    ov::ov_free(p);
    s
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid_argument(format!("string contains NUL: {s:?}")))
}

impl Core {
    pub fn raw(&self) -> *const ov::ov_core_t {
        self.ptr
    }

    /// Devices OpenVINO can drive here: "CPU", "GPU.0", "NPU", ...
    pub fn available_devices(&self) -> Result<Vec<String>> {
        let mut list = ov::ov_available_devices_t { devices: ptr::null_mut(), size: 0 };
        // SAFETY: we free the list below.
        check(unsafe { ov::ov_core_get_available_devices(self.ptr, &mut list) }, "listing devices")?;
        let names = (0..list.size)
            .map(|i| unsafe { CStr::from_ptr(*list.devices.add(i)).to_string_lossy().into_owned() })
            .collect();
        unsafe { ov::ov_available_devices_free(&mut list) };
        Ok(names)
    }

    /// A device property as a string (e.g. FULL_DEVICE_NAME).
    pub fn property(&self, device: &str, key: &str) -> Result<String> {
        let (d, k) = (cstring(device)?, cstring(key)?);
        let mut out = ptr::null_mut();
        check(
            unsafe { ov::ov_core_get_property(self.ptr, d.as_ptr(), k.as_ptr(), &mut out) },
            &format!("reading {device} property {key}"),
        )?;
        Ok(unsafe { take_ov_string(out) })
    }

    /// Read an ONNX model from memory through OpenVINO's ONNX frontend. External data with
    /// location `*/_ORT_MEM_ADDR_/*` is read in place from ORT's memory.
    pub fn read_onnx(&self, onnx: &[u8]) -> Result<Model> {
        let mut model = ptr::null_mut();
        check(
            unsafe {
                ov::ov_core_read_model_from_memory_buffer(
                    self.ptr,
                    onnx.as_ptr().cast(),
                    onnx.len(),
                    ptr::null(),
                    &mut model,
                )
            },
            "converting the ONNX subgraph",
        )?;
        // SAFETY: freshly created, ours to own.
        Ok(unsafe { Model::from_raw(model) })
    }

    /// Import a compiled model exported by `CompiledModel::export` for the same device,
    /// with the properties it was compiled with. The caller verifies the blob's checksum
    /// first: OpenVINO's importer does not.
    ///
    /// Two traps, both measured: the C API's import takes no properties, so the device's
    /// defaults apply (bf16 on CPUs that have it, whatever the blob was compiled for) unless
    /// they are set on the core first; and the imported model keeps reading its weights
    /// from the buffer, so the buffer lives as long as the compiled model.
    pub fn import(&self, blob: Blob, device: &str, props: &[(String, String)]) -> Result<CompiledModel> {
        static IMPORT: Mutex<()> = Mutex::new(());
        let _one_at_a_time = IMPORT.lock().unwrap_or_else(|e| e.into_inner());
        let d = cstring(device)?;
        let owned: Vec<(CString, CString)> =
            props.iter().map(|(k, v)| Ok((cstring(k)?, cstring(v)?))).collect::<Result<_>>()?;
        let raw: Vec<ov::ov_property_t> =
            owned.iter().map(|(k, v)| ov::ov_property_t { key: k.as_ptr(), value: v.as_ptr().cast() }).collect();
        if !raw.is_empty() {
            check(
                unsafe { ov::ov_core_set_properties(self.ptr, d.as_ptr(), raw.len(), raw.as_ptr()) },
                &format!("setting {device} properties for an import"),
            )?;
        }
        let mut compiled = ptr::null_mut();
        let bytes: &[u8] = &blob;
        check(
            unsafe {
                ov::ov_core_import_model(self.ptr, bytes.as_ptr().cast(), bytes.len(), d.as_ptr(), &mut compiled)
            },
            &format!("importing a compiled model for {device}"),
        )?;
        Ok(unsafe { CompiledModel::from_raw(compiled) }.backed_by(blob))
    }

    /// Compile `model` for `device` with string properties.
    pub fn compile(&self, model: &Model, device: &str, props: &[(String, String)]) -> Result<CompiledModel> {
        let d = cstring(device)?;
        let owned: Vec<(CString, CString)> =
            props.iter().map(|(k, v)| Ok((cstring(k)?, cstring(v)?))).collect::<Result<_>>()?;
        let raw: Vec<ov::ov_property_t> =
            owned.iter().map(|(k, v)| ov::ov_property_t { key: k.as_ptr(), value: v.as_ptr().cast() }).collect();
        let mut compiled = ptr::null_mut();
        check(
            unsafe {
                ov::ov_core_compile_model_props(
                    self.ptr,
                    model.raw(),
                    d.as_ptr(),
                    raw.len(),
                    raw.as_ptr(),
                    &mut compiled,
                )
            },
            &format!("compiling for {device}"),
        )?;
        Ok(unsafe { CompiledModel::from_raw(compiled) })
    }
}
