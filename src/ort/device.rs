//! What ORT tells us about a hardware device.

use std::ffi::CStr;

use super::abi::{OrtHardwareDevice, OrtHardwareDeviceType};
use super::api::api;
use super::config::key_value_pairs;

/// A hardware device kind, as ORT enumerates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Cpu,
    Gpu,
    Npu,
}

impl DeviceKind {
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "CPU",
            DeviceKind::Gpu => "GPU",
            DeviceKind::Npu => "NPU",
        }
    }
}

/// An owned description of one `OrtHardwareDevice`.
#[derive(Clone, Debug)]
pub struct HardwareDevice {
    pub kind: DeviceKind,
    pub vendor_id: u32,
    pub device_id: u32,
    pub vendor: String,
    pub metadata: Vec<(String, String)>,
}

impl HardwareDevice {
    /// # Safety
    /// `device` must be a live hardware device pointer from ORT.
    pub unsafe fn read(device: *const OrtHardwareDevice) -> HardwareDevice {
        let api = api();
        let kind = match (api.HardwareDevice_Type)(device) {
            OrtHardwareDeviceType::OrtHardwareDeviceType_GPU => DeviceKind::Gpu,
            OrtHardwareDeviceType::OrtHardwareDeviceType_NPU => DeviceKind::Npu,
            _ => DeviceKind::Cpu,
        };
        let vendor = (api.HardwareDevice_Vendor)(device);
        HardwareDevice {
            kind,
            vendor_id: (api.HardwareDevice_VendorId)(device),
            device_id: (api.HardwareDevice_DeviceId)(device),
            vendor: if vendor.is_null() {
                String::new()
            } else {
                CStr::from_ptr(vendor).to_string_lossy().into_owned()
            },
            metadata: key_value_pairs((api.HardwareDevice_Metadata)(device)),
        }
    }
}
