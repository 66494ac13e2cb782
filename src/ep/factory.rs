//! The EP factory ORT gets from `CreateEpFactories`: names the EP, offers devices, creates
//! EPs. Each `extern "C"` function is a thin trampoline into safe code via `ffi`.

use std::ffi::c_char;
use std::ptr;
use std::sync::OnceLock;

use super::devices::{cpu_supported, match_devices, needs_device_list};
use super::options::Options;
use super::provider::Ep;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::ort::abi::*;
use crate::ort::api::ort;
use crate::ort::config::{session_config_entries, KeyValuePairs};
use crate::ort::device::HardwareDevice;
use crate::ort::logger::Logger;
use crate::ort::status::check;
use crate::ov::core::{core, Core};

pub const EP_NAME: &str = "OvepExecutionProvider";
const EP_NAME_C: &std::ffi::CStr = c"OvepExecutionProvider";
const VENDOR_C: &std::ffi::CStr = c"ovep";
const VERSION_C: &std::ffi::CStr =
    match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(s) => s,
        Err(_) => panic!("version"),
    };

/// `OrtEpFactory` must be the first field: ORT hands back `*mut OrtEpFactory` and we cast.
#[repr(C)]
pub struct Factory {
    base: OrtEpFactory,
    logger: Logger,
    /// Why OpenVINO could not be loaded at registration, reported once per session attempt.
    load_error: OnceLock<Option<Error>>,
}

impl Factory {
    pub fn new(logger: Logger) -> Box<Factory> {
        Box::new(Factory {
            base: OrtEpFactory {
                ort_version_supported: ort().version,
                GetName: get_name,
                GetVendor: get_vendor,
                GetSupportedDevices: get_supported_devices,
                CreateEp: create_ep,
                ReleaseEp: release_ep,
                GetVendorId: get_vendor_id,
                GetVersion: get_version,
                ValidateCompiledModelCompatibilityInfo: Some(validate_compatibility),
                CreateAllocator: create_allocator,
                ReleaseAllocator: release_allocator,
                CreateDataTransfer: create_data_transfer,
                IsStreamAware: is_stream_aware,
                CreateSyncStreamForDevice: create_sync_stream,
            },
            logger,
            load_error: OnceLock::new(),
        })
    }

    pub fn into_raw(self: Box<Self>) -> *mut OrtEpFactory {
        Box::into_raw(self).cast()
    }

    /// # Safety
    /// `p` must come from `into_raw` and not have been released.
    pub unsafe fn from_raw(p: *mut OrtEpFactory) -> Box<Factory> {
        Box::from_raw(p.cast())
    }

    /// # Safety
    /// `p` must be a live factory from `into_raw`.
    unsafe fn get<'a>(p: *const OrtEpFactory) -> &'a Factory {
        &*p.cast::<Factory>()
    }

    /// OpenVINO's core, loading it now if needed (and remembering a failure for the log).
    fn try_core(&self) -> Option<std::sync::Arc<Core>> {
        match core(None) {
            Ok(c) => Some(c),
            Err(e) => {
                let first = self.load_error.get_or_init(|| Some(e.clone()));
                if first.is_some() {
                    self.logger.warn(&format!(
                        "ovep: {}\novep offers the CPU device anyway; sessions that select it fail until OpenVINO is found.",
                        e.message
                    ));
                }
                None
            }
        }
    }

    fn supported_devices(
        &self,
        factory: *mut OrtEpFactory,
        devices: &[*const OrtHardwareDevice],
        out: &mut [*mut OrtEpDevice],
    ) -> Result<usize> {
        let hw: Vec<HardwareDevice> = devices.iter().map(|d| unsafe { HardwareDevice::read(*d) }).collect();
        let core = self.try_core();
        let ov_devices = match &core {
            Some(c) if needs_device_list(&hw) => Some(c.available_devices()?),
            // The CPU plugin alone (loaded now, which every session needs anyway).
            Some(c) => Some(c.property("CPU", "FULL_DEVICE_NAME").map_or_else(|_| vec![], |_| vec!["CPU".to_string()])),
            None => None,
        };
        let mut n = 0;
        for (i, ov_name) in match_devices(&hw, ov_devices.as_deref(), cpu_supported()) {
            if n == out.len() {
                break;
            }
            let mut meta = vec![("ov_device", ov_name.clone())];
            if let Some(c) = &core {
                meta.push(("ov_full_device_name", c.property(&ov_name, "FULL_DEVICE_NAME").unwrap_or_default()));
                meta.push(("ov_version", c.version.clone()));
            } else {
                meta.push(("ov_full_device_name", String::new()));
                meta.push(("ov_version", "OpenVINO not loaded".into()));
            }
            let meta = KeyValuePairs::new(&meta);
            let mut ep_device = ptr::null_mut();
            // SAFETY: ORT's hardware device and our factory; ORT takes ownership of the result.
            unsafe {
                check((ort().ep.CreateEpDevice)(factory, devices[i], meta.as_ptr(), ptr::null(), &mut ep_device))?
            };
            out[n] = ep_device;
            n += 1;
        }
        Ok(n)
    }

    /// OpenVINO is loaded once per process, so `openvino_library` takes effect only when it
    /// is the first to load it. A path that does not exist is still an error (the user
    /// asked for something that is not there); another existing library is a warning.
    fn check_library_option(&self, wanted: &str, core: &Core) -> Result<()> {
        let wanted_path = crate::ov::library::resolve_in_dir(std::path::Path::new(wanted));
        if !wanted_path.exists() {
            return Err(Error::invalid_argument(format!(
                "ovep: option 'openvino_library' names '{wanted}', which does not exist; allowed values: \
                 the path of libopenvino_c.so or of its directory"
            )));
        }
        let same = |a: &std::path::Path, b: &std::path::Path| {
            a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(a, b)| a == b)
        };
        if !same(&wanted_path, &core.library) {
            self.logger.warn(&format!(
                "ovep: OpenVINO is already loaded in this process from {}; option openvino_library={wanted} \
                 has no effect (one OpenVINO per process)",
                core.library.display()
            ));
        }
        Ok(())
    }

    fn create(
        &self,
        metadata: &[*const OrtKeyValuePairs],
        session_options: *const OrtSessionOptions,
        logger: *const OrtLogger,
    ) -> Result<Box<Ep>> {
        // SAFETY: the session options ORT passed to this CreateEp call.
        let options = Options::from_config(&unsafe { session_config_entries(session_options) }?)?;
        let selected = metadata
            .first()
            .map(|m| unsafe { crate::ort::config::key_value_pairs(*m) })
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| k == "ov_device")
            .map(|(_, v)| v);
        let device = options.device_type.clone().or(selected).unwrap_or_else(|| "CPU".into());
        let core = core(options.openvino_library.as_deref())
            .map_err(|e| e.context(format!("ovep cannot create a session on {device}")))?;
        if let Some(wanted) = &options.openvino_library {
            self.check_library_option(wanted, &core)?;
        }
        // A device that answers for its name is there. Asking it loads its plugin alone; listing
        // the devices loads every plugin OpenVINO has (GPU and NPU included: 4-13 ms on a CPU-only
        // host, more where a GPU driver starts), so the list is made only to explain a miss.
        if let Some(name) =
            super::devices::must_be_listed(&device).filter(|d| core.property(d, "FULL_DEVICE_NAME").is_err())
        {
            let available = core.available_devices()?;
            if !available.iter().any(|d| d == name || (name == "GPU" && d.starts_with("GPU."))) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "ovep: device_type '{device}' is not available here; OpenVINO {} lists: {}",
                        core.version,
                        available.join(", ")
                    ),
                ));
            }
        }
        let logger = Logger::session(logger);
        let cache =
            super::blob_cache::BlobCache::open(options.cache_dir.as_deref(), options.cache_max_bytes, logger.clone());
        Ok(Ep::new(options, device, core, cache, logger))
    }
}

unsafe extern "C" fn get_name(_this: *const OrtEpFactory) -> *const c_char {
    EP_NAME_C.as_ptr()
}

unsafe extern "C" fn get_vendor(_this: *const OrtEpFactory) -> *const c_char {
    VENDOR_C.as_ptr()
}

unsafe extern "C" fn get_version(_this: *const OrtEpFactory) -> *const c_char {
    VERSION_C.as_ptr()
}

unsafe extern "C" fn get_vendor_id(_this: *const OrtEpFactory) -> u32 {
    // ovep is not a hardware vendor.
    0
}

unsafe extern "C" fn get_supported_devices(
    this: *mut OrtEpFactory,
    devices: *const *const OrtHardwareDevice,
    num_devices: usize,
    ep_devices: *mut *mut OrtEpDevice,
    max_ep_devices: usize,
    num_ep_devices: *mut usize,
) -> *mut OrtStatus {
    ffi::status("GetSupportedDevices", || {
        let devices = if num_devices == 0 { &[][..] } else { std::slice::from_raw_parts(devices, num_devices) };
        let out =
            if max_ep_devices == 0 { &mut [][..] } else { std::slice::from_raw_parts_mut(ep_devices, max_ep_devices) };
        *num_ep_devices = Factory::get(this).supported_devices(this, devices, out)?;
        Ok(())
    })
}

unsafe extern "C" fn create_ep(
    this: *mut OrtEpFactory,
    _devices: *const *const OrtHardwareDevice,
    ep_metadata: *const *const OrtKeyValuePairs,
    num_devices: usize,
    session_options: *const OrtSessionOptions,
    logger: *const OrtLogger,
    ep: *mut *mut OrtEp,
) -> *mut OrtStatus {
    ffi::status("CreateEp", || {
        let metadata = if num_devices == 0 || ep_metadata.is_null() {
            &[][..]
        } else {
            std::slice::from_raw_parts(ep_metadata, num_devices)
        };
        *ep = Factory::get(this).create(metadata, session_options, logger)?.into_raw();
        Ok(())
    })
}

unsafe extern "C" fn release_ep(_this: *mut OrtEpFactory, ep: *mut OrtEp) {
    ffi::value("ReleaseEp", (), || {
        if !ep.is_null() {
            drop(Ep::from_raw(ep));
        }
        Ok(())
    })
}

unsafe extern "C" fn validate_compatibility(
    this: *mut OrtEpFactory,
    _devices: *const *const OrtHardwareDevice,
    _num_devices: usize,
    info: *const c_char,
    out: *mut OrtCompiledModelCompatibility,
) -> *mut OrtStatus {
    ffi::status("ValidateCompiledModelCompatibilityInfo", || {
        let info =
            if info.is_null() { String::new() } else { std::ffi::CStr::from_ptr(info).to_string_lossy().into_owned() };
        *out = Factory::get(this).compatibility(&info);
        Ok(())
    })
}

impl Factory {
    /// Whether a model ovep compiled (its compatibility info) can run on this machine: the
    /// same OpenVINO build, and a device with the same full name.
    fn compatibility(&self, info: &str) -> OrtCompiledModelCompatibility {
        let Some(core) = self.try_core() else { return ORT_COMPILED_MODEL_COMPATIBILITY_EP_UNSUPPORTED };
        let names = super::context::local_device_names(&core).unwrap_or_default();
        if super::context::info_fits(info, &core.version, &names) {
            ORT_COMPILED_MODEL_COMPATIBILITY_EP_SUPPORTED_OPTIMAL
        } else {
            ORT_COMPILED_MODEL_COMPATIBILITY_EP_UNSUPPORTED
        }
    }
}

unsafe extern "C" fn create_allocator(
    _this: *mut OrtEpFactory,
    _memory_info: *const OrtMemoryInfo,
    _options: *const OrtKeyValuePairs,
    allocator: *mut *mut OrtAllocator,
) -> *mut OrtStatus {
    // ovep works in host memory: ORT's default CPU allocator serves.
    ffi::status("CreateAllocator", || {
        *allocator = ptr::null_mut();
        Ok(())
    })
}

unsafe extern "C" fn release_allocator(_this: *mut OrtEpFactory, _allocator: *mut OrtAllocator) {}

unsafe extern "C" fn create_data_transfer(
    _this: *mut OrtEpFactory,
    data_transfer: *mut *mut OrtDataTransferImpl,
) -> *mut OrtStatus {
    // A NULL function pointer here crashes some ORT versions; a NULL result is fine.
    ffi::status("CreateDataTransfer", || {
        *data_transfer = ptr::null_mut();
        Ok(())
    })
}

unsafe extern "C" fn is_stream_aware(_this: *const OrtEpFactory) -> bool {
    false
}

unsafe extern "C" fn create_sync_stream(
    _this: *mut OrtEpFactory,
    _memory_device: *const OrtMemoryDevice,
    _options: *const OrtKeyValuePairs,
    stream: *mut *mut OrtSyncStreamImpl,
) -> *mut OrtStatus {
    ffi::status("CreateSyncStreamForDevice", || {
        *stream = ptr::null_mut();
        Ok(())
    })
}
