//! ovep's session options: parsed and validated once, in `CreateEp`.
//!
//! Users pass them with `add_provider_for_devices(devices, {"key": "value"})`; ORT stores them
//! as session config entries `ep.ovepexecutionprovider.<key>`. Every key is listed in
//! [`KEYS`]; the README and `include/ovep.h` document the same list.

use super::context::ContextOptions;
use crate::error::{Error, Result};

/// The prefix ORT puts before our option keys (the lower-cased EP name).
pub const PREFIX: &str = "ep.ovepexecutionprovider.";

/// Every option key with a one-line description (used in error messages and docs).
pub const KEYS: &[(&str, &str)] = &[
    ("device_type", "OpenVINO device: CPU, GPU, GPU.<n>, NPU, AUTO:<devices>, HETERO:<devices>, MULTI:<devices>"),
    ("precision", "inference precision: f32 (default), bf16, f16, auto (the device's default)"),
    ("performance_hint", "LATENCY (default) or THROUGHPUT"),
    ("num_threads", "OpenVINO inference threads; 0 = the session's intra_op_num_threads or OpenVINO's default"),
    (
        "min_subgraph_nodes",
        "smallest group of nodes worth handing to OpenVINO (default 2; 1 offers every supported node, even \
         elementwise-only groups between ORT's nodes)",
    ),
    (
        "max_cached_shapes",
        "shapes whose shape-specialized compiled models are kept per subgraph for dynamic inputs (default 8)",
    ),
    (
        "cpu_kernel_cache",
        "OpenVINO CPU executors kept for node shapes no longer in use, per compiled model (default: 128, \
         grown to 1024 for a subgraph whose input shapes recur; a number fixes it)",
    ),
    ("openvino_library", "path to libopenvino_c.so (or its directory) when it is not found automatically"),
    (
        "cache_dir",
        "compiled-model cache directory; \"\" turns the cache off (default OVEP_CACHE_DIR, else ~/.cache/ovep)",
    ),
    (
        "placement",
        "measured (default): a small subgraph that ORT's CPU kernels run clearly faster, timed on the \
         session's own runs, is computed by them; openvino: every claimed subgraph runs on OpenVINO",
    ),
    (
        "cache_max_bytes",
        "size cap of the compiled-model cache in bytes; least recently used entries go first (default 8 GiB)",
    ),
];

/// Precision hint given to OpenVINO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    F32,
    Bf16,
    F16,
    /// Leave the device's default (bf16 on CPUs with AMX/avx512_bf16, f16 on GPUs).
    Auto,
}

impl Precision {
    /// The `INFERENCE_PRECISION_HINT` value, or None for the device default.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            Precision::F32 => Some("f32"),
            Precision::Bf16 => Some("bf16"),
            Precision::F16 => Some("f16"),
            Precision::Auto => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// None: the device of the OrtEpDevice the user selected.
    pub device_type: Option<String>,
    pub precision: Precision,
    pub performance_hint: &'static str,
    /// 0 = not set.
    pub num_threads: u32,
    pub min_subgraph_nodes: usize,
    pub max_cached_shapes: usize,
    /// OpenVINO's `CPU_RUNTIME_CACHE_CAPACITY` (`ov::memory_bounds`); None: ovep's default,
    /// which grows where input shapes recur.
    pub cpu_kernel_cache: Option<usize>,
    pub openvino_library: Option<String>,
    /// None: not given (the environment decides); Some("") turns the cache off.
    pub cache_dir: Option<String>,
    pub cache_max_bytes: u64,
    /// Small subgraphs may move to ORT's CPU kernels when measured faster (`runtime::placement`).
    pub measured_placement: bool,
    /// Not an ovep option: ORT's own `session.intra_op.allow_spinning` (default on). Idle
    /// ORT threads that spin take cores from OpenVINO when a model is split between the two.
    pub ort_threads_spin: bool,
    /// Not ovep options either: ORT's `ep.context_*` switches (EPContext models).
    pub context: ContextOptions,
}

/// Chosen by measurement (bench/README.md): a lone node on OpenVINO costs a call and two
/// tensor hand-overs, which ORT's CPU kernels beat for one cheap node; two or more nodes pay off.
pub const DEFAULT_MIN_SUBGRAPH_NODES: usize = 2;
pub const DEFAULT_MAX_CACHED_SHAPES: usize = 8;

impl Default for Options {
    fn default() -> Self {
        Options {
            device_type: None,
            precision: Precision::F32,
            performance_hint: "LATENCY",
            num_threads: 0,
            min_subgraph_nodes: DEFAULT_MIN_SUBGRAPH_NODES,
            max_cached_shapes: DEFAULT_MAX_CACHED_SHAPES,
            cpu_kernel_cache: None,
            openvino_library: None,
            cache_dir: None,
            cache_max_bytes: crate::cache::DEFAULT_MAX_BYTES,
            measured_placement: true,
            ort_threads_spin: true,
            context: ContextOptions::default(),
        }
    }
}

impl Options {
    /// Parse from all session config entries (entries without our prefix are ignored).
    pub fn from_config(entries: &[(String, String)]) -> Result<Options> {
        let mut o = Options::default();
        for (full_key, value) in entries {
            if full_key == "session.intra_op.allow_spinning" {
                o.ort_threads_spin = value.trim() != "0";
            }
            if o.context.set(full_key, value)? {
                continue;
            }
            let Some(key) = full_key.strip_prefix(PREFIX) else {
                continue;
            };
            o.set(key, value)?;
        }
        Ok(o)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let v = value.trim();
        match key {
            "device_type" => self.device_type = Some(parse_device(v)?),
            "precision" => {
                self.precision = match v.to_ascii_lowercase().as_str() {
                    "f32" | "fp32" => Precision::F32,
                    "bf16" => Precision::Bf16,
                    "f16" | "fp16" => Precision::F16,
                    "auto" => Precision::Auto,
                    _ => return Err(bad_value(key, value, "f32, bf16, f16, auto")),
                }
            }
            "performance_hint" => {
                self.performance_hint = match v.to_ascii_uppercase().as_str() {
                    "LATENCY" => "LATENCY",
                    "THROUGHPUT" => "THROUGHPUT",
                    _ => return Err(bad_value(key, value, "LATENCY, THROUGHPUT")),
                }
            }
            "num_threads" => {
                self.num_threads = v.parse().map_err(|_| bad_value(key, value, "an integer >= 0"))?;
            }
            "min_subgraph_nodes" => {
                self.min_subgraph_nodes =
                    v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| bad_value(key, value, "an integer >= 1"))?;
            }
            "max_cached_shapes" => {
                self.max_cached_shapes =
                    v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| bad_value(key, value, "an integer >= 1"))?;
            }
            "cpu_kernel_cache" => {
                self.cpu_kernel_cache = Some(v.parse().map_err(|_| bad_value(key, value, "an integer >= 0"))?);
            }
            "openvino_library" => self.openvino_library = (!v.is_empty()).then(|| v.to_string()),
            "cache_dir" => self.cache_dir = Some(v.to_string()),
            "cache_max_bytes" => {
                self.cache_max_bytes =
                    v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| bad_value(key, value, "an integer >= 1"))?;
            }
            "placement" => {
                self.measured_placement = match v.to_ascii_lowercase().as_str() {
                    "measured" => true,
                    "openvino" => false,
                    _ => return Err(bad_value(key, value, "measured, openvino")),
                }
            }
            _ => {
                let valid: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                return Err(Error::invalid_argument(format!(
                    "ovep: unknown option '{key}' ({PREFIX}{key}); valid options: {}",
                    valid.join(", ")
                )));
            }
        }
        Ok(())
    }
}

fn bad_value(key: &str, value: &str, allowed: &str) -> Error {
    Error::invalid_argument(format!("ovep: option '{key}' has invalid value '{value}'; allowed values: {allowed}"))
}

/// Validate a device string's form; whether the device exists is checked against OpenVINO.
fn parse_device(v: &str) -> Result<String> {
    let allowed = "CPU, GPU, GPU.<n>, NPU, NPU.<n>, AUTO:<list>, HETERO:<list>, MULTI:<list>";
    let simple = |d: &str| {
        let (base, idx) = d.split_once('.').map_or((d, None), |(b, i)| (b, Some(i)));
        matches!(base, "CPU" | "GPU" | "NPU")
            && idx.is_none_or(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
    };
    let up = v.to_ascii_uppercase();
    let ok = match up.split_once(':') {
        Some((meta, list)) => {
            matches!(meta, "AUTO" | "HETERO" | "MULTI") && !list.is_empty() && list.split(',').all(simple)
        }
        None => simple(&up) || up == "AUTO",
    };
    if ok {
        Ok(up)
    } else {
        Err(bad_value("device_type", v, allowed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Options> {
        let entries: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (format!("{PREFIX}{k}"), v.to_string())).collect();
        Options::from_config(&entries)
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(parse(&[]).unwrap(), Options::default());
        let o = parse(&[("precision", "BF16"), ("num_threads", "3"), ("device_type", "gpu.1")]).unwrap();
        assert_eq!(o.precision, Precision::Bf16);
        assert_eq!(o.num_threads, 3);
        assert_eq!(o.device_type.as_deref(), Some("GPU.1"));
        assert_eq!(parse(&[("device_type", "AUTO:GPU,CPU")]).unwrap().device_type.as_deref(), Some("AUTO:GPU,CPU"));
        assert_eq!(parse(&[("device_type", "HETERO:GPU,CPU")]).unwrap().device_type.as_deref(), Some("HETERO:GPU,CPU"));
    }

    #[test]
    fn unknown_key_lists_valid_keys() {
        let e = parse(&[("cache_dirr", "x")]).unwrap_err();
        assert!(e.message.contains("unknown option 'cache_dirr'"), "{}", e.message);
        for (k, _) in KEYS {
            assert!(e.message.contains(k), "{} lacks {k}", e.message);
        }
    }

    #[test]
    fn bad_values_name_key_and_allowed_values() {
        for (k, v) in [
            ("precision", "f8"),
            ("num_threads", "abc"),
            ("min_subgraph_nodes", "0"),
            ("max_cached_shapes", "-1"),
            ("cpu_kernel_cache", "-1"),
            ("cpu_kernel_cache", "many"),
            ("device_type", "TPU"),
            ("device_type", "GPU."),
            ("device_type", "AUTO:"),
            ("performance_hint", "fast"),
            ("cache_max_bytes", "0"),
            ("cache_max_bytes", "lots"),
            ("placement", "sometimes"),
        ] {
            let e = parse(&[(k, v)]).unwrap_err();
            assert!(e.message.contains(&format!("'{k}'")) && e.message.contains("allowed values"), "{}", e.message);
        }
    }

    #[test]
    fn other_entries_are_ignored() {
        let entries = vec![("session.disable_prepacking".to_string(), "1".to_string())];
        assert_eq!(Options::from_config(&entries).unwrap(), Options::default());
    }

    #[test]
    fn ort_spinning_setting_is_seen() {
        assert!(Options::default().ort_threads_spin);
        let entries = vec![("session.intra_op.allow_spinning".to_string(), "0".to_string())];
        assert!(!Options::from_config(&entries).unwrap().ort_threads_spin);
    }
}

#[cfg(test)]
mod header_tests {
    use super::KEYS;

    /// The public C header documents exactly the options the code accepts.
    #[test]
    fn header_lists_every_option() {
        let header = include_str!("../../include/ovep.h");
        for (key, _) in KEYS {
            assert!(header.contains(&format!("\"{key}\"")), "include/ovep.h lacks option {key}");
        }
        let defined = header.matches("#define OVEP_OPTION_").count();
        assert_eq!(defined, KEYS.len(), "include/ovep.h defines options the code does not accept");
    }
}
