//! Which ORT hardware devices ovep offers, and under which OpenVINO device name.
//! Pure logic over owned descriptions, unit-tested without hardware.

use crate::ort::device::{DeviceKind, HardwareDevice};

/// Intel's PCI vendor id: OpenVINO's GPU and NPU plugins drive only Intel devices.
pub const INTEL_VENDOR_ID: u32 = 0x8086;

/// Pair ORT's hardware devices with the OpenVINO devices that drive them. Returns
/// `(index into hw, OpenVINO device name)`.
///
/// - CPU: OpenVINO's CPU plugin runs on any x86-64 with AVX2 (and on ARM64), whatever the
///   vendor, so the CPU is matched when OpenVINO lists "CPU" (or OpenVINO is not loaded yet,
///   `ov_devices == None`: the session then loads it, or fails with a clear message).
/// - GPU/NPU: the n-th Intel GPU (NPU) ORT reports is OpenVINO's "GPU.n" ("NPU"); OpenVINO
///   lists a lone GPU as "GPU".
pub fn match_devices(hw: &[HardwareDevice], ov_devices: Option<&[String]>, cpu_ok: bool) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let listed = |name: &str| ov_devices.is_some_and(|d| d.iter().any(|x| x == name));
    let ov_gpus: Vec<&String> = ov_devices
        .map(|d| d.iter().filter(|x| x.as_str() == "GPU" || x.starts_with("GPU.")).collect())
        .unwrap_or_default();
    let ov_npus: Vec<&String> = ov_devices
        .map(|d| d.iter().filter(|x| x.as_str() == "NPU" || x.starts_with("NPU.")).collect())
        .unwrap_or_default();
    let (mut gpu_n, mut npu_n) = (0usize, 0usize);
    let mut cpu_done = false;
    for (i, d) in hw.iter().enumerate() {
        match d.kind {
            DeviceKind::Cpu if cpu_ok && !cpu_done && (ov_devices.is_none() || listed("CPU")) => {
                out.push((i, "CPU".to_string()));
                cpu_done = true;
            }
            DeviceKind::Gpu if d.vendor_id == INTEL_VENDOR_ID => {
                if let Some(name) = ov_gpus.get(gpu_n) {
                    out.push((i, (*name).clone()));
                }
                gpu_n += 1;
            }
            DeviceKind::Npu if d.vendor_id == INTEL_VENDOR_ID => {
                if let Some(name) = ov_npus.get(npu_n) {
                    out.push((i, (*name).clone()));
                }
                npu_n += 1;
            }
            _ => {}
        }
    }
    out
}

/// Whether matching `hw` needs OpenVINO's full device list: only for an Intel GPU or NPU.
/// Listing loads every plugin OpenVINO has (GPU and NPU included), 7-17 ms of every
/// registration on a machine with neither; the CPU is checked by asking the CPU plugin alone.
pub fn needs_device_list(hw: &[HardwareDevice]) -> bool {
    hw.iter().any(|d| matches!(d.kind, DeviceKind::Gpu | DeviceKind::Npu) && d.vendor_id == INTEL_VENDOR_ID)
}

/// Whether this CPU can run OpenVINO's CPU plugin (OpenVINO 2026 needs AVX2 on x86-64).
pub fn cpu_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(target_arch = "aarch64")]
    {
        true
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The plain device name a `device_type` targets, for checking it exists
/// ("GPU.1" -> "GPU.1", "AUTO:GPU,CPU" -> None: meta devices check their own list).
pub fn must_be_listed(device_type: &str) -> Option<&str> {
    (!device_type.contains(':') && device_type != "AUTO").then_some(device_type)
}

/// Intel's OpenCL driver keeps compiled GPU kernels where `cl_cache_dir` says, read once when
/// the GPU plugin starts the driver: so it is set here, at registration, before OpenVINO loads
/// (only if the host has not set it, and only when the default cache is on). Returns the
/// directory it now points to.
pub fn point_opencl_kernel_cache() -> Option<std::path::PathBuf> {
    // No render node, no GPU driver to configure (and no directory to create).
    if std::env::var_os("cl_cache_dir").is_some() || !std::path::Path::new("/dev/dri").is_dir() {
        return None;
    }
    let root = crate::cache::resolve_dir(None, |k| std::env::var_os(k))?;
    let dir = root.join("gpu").join("cl_cache");
    crate::cache::ensure_private_root(&root).ok()?;
    std::fs::create_dir_all(&dir).ok()?;
    // Registration runs before the host's threads touch OpenVINO; setting one variable that
    // only the GPU driver reads is the documented way to configure it.
    std::env::set_var("cl_cache_dir", &dir);
    Some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hw(kind: DeviceKind, vendor_id: u32) -> HardwareDevice {
        HardwareDevice { kind, vendor_id, device_id: 0, vendor: String::new(), metadata: vec![] }
    }

    #[test]
    fn amd_cpu_is_offered() {
        let devs = [hw(DeviceKind::Cpu, 0x1022)];
        let ov = vec!["CPU".to_string()];
        assert_eq!(match_devices(&devs, Some(&ov), true), vec![(0, "CPU".to_string())]);
        assert!(match_devices(&devs, Some(&ov), false).is_empty(), "no AVX2, no CPU");
    }

    #[test]
    fn gpus_and_npus_match_in_order() {
        let devs = [
            hw(DeviceKind::Cpu, 0x8086),
            hw(DeviceKind::Gpu, 0x10de), // NVIDIA: OpenVINO does not drive it
            hw(DeviceKind::Gpu, 0x8086),
            hw(DeviceKind::Gpu, 0x8086),
            hw(DeviceKind::Npu, 0x8086),
        ];
        let ov: Vec<String> = ["CPU", "GPU.0", "GPU.1", "NPU"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            match_devices(&devs, Some(&ov), true),
            vec![(0, "CPU".into()), (2, "GPU.0".into()), (3, "GPU.1".into()), (4, "NPU".into())]
        );
        let ov_single: Vec<String> = ["CPU", "GPU"].iter().map(|s| s.to_string()).collect();
        assert_eq!(match_devices(&devs[..3], Some(&ov_single), true), vec![(0, "CPU".into()), (2, "GPU".into())]);
    }

    #[test]
    fn without_openvino_only_the_cpu_is_offered() {
        let devs = [hw(DeviceKind::Cpu, 0x8086), hw(DeviceKind::Gpu, 0x8086)];
        assert_eq!(match_devices(&devs, None, true), vec![(0, "CPU".into())]);
    }

    #[test]
    fn only_intel_accelerators_need_the_full_device_list() {
        assert!(!needs_device_list(&[hw(DeviceKind::Cpu, 0x1022)]));
        assert!(!needs_device_list(&[hw(DeviceKind::Cpu, 0x8086), hw(DeviceKind::Gpu, 0x10de)]));
        assert!(needs_device_list(&[hw(DeviceKind::Cpu, 0x8086), hw(DeviceKind::Gpu, 0x8086)]));
        assert!(needs_device_list(&[hw(DeviceKind::Npu, 0x8086)]));
    }

    #[test]
    fn meta_devices_are_not_looked_up() {
        assert_eq!(must_be_listed("GPU.1"), Some("GPU.1"));
        assert_eq!(must_be_listed("AUTO:GPU,CPU"), None);
        assert_eq!(must_be_listed("AUTO"), None);
    }
}
