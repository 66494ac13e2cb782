//! Bounds on what OpenVINO's CPU plugin keeps per input shape.
//!
//! A dynamic model compiled for the CPU builds executors (with JIT kernels made for the exact
//! shapes) per node and new input shape, and keeps them in two caches: the compiled model's
//! runtime cache (`CPU_RUNTIME_CACHE_CAPACITY`, 5000 entries by default) and oneDNN's
//! process-wide primitive cache (1024 primitives by default). Left at those defaults, memory
//! grows by ~3 MB per new PP-OCRv4 rec width, to ~750 MB more than the model needs.
//!
//! The caches also make new shapes cheaper: a new width repeats the shapes of the deep layers
//! of recent widths (they downsample), and their executors are found instead of made again. But
//! that pays only once the cache holds nearly all of them, and each holds ~0.19 MB (mostly
//! anonymous memory, 21 of 190 MB JIT code). Plain OpenVINO on PP-OCRv4 rec, 100 scrambled
//! widths smallest first, primitive cache 64 (run at a new width / RSS after 100 widths against
//! after the first; 2026-11-25, two runs each):
//!
//! | runtime cache | new width | RSS growth | 5 widths in turn, per run |
//! |---|---|---|---|
//! | 16 | 25.0-25.6 ms | 1.13-1.19x | |
//! | 64 | 25.8 ms | 1.21x | 10.3 ms |
//! | 128 (the default) | 22.4-24.1 ms | 1.29-1.31x | 10.9 ms |
//! | 256 | 24.3-26.1 ms | 1.46-1.47x | |
//! | 768 | 24.5-25.5 ms | 2.03-2.07x | |
//! | 1024 | 15.7-17.6 ms | 2.28-2.31x | 8.5 ms |
//!
//! So no one size serves both ends. 100 widths each used once want a small cache; widths that
//! recur, as an OCR stream's do, want a big one: PP-OCRv4 rec through ovep, 400 runs at widths drawn
//! from 11 (and from 41), took 23.5 (23.4) ms per run with 128 entries, 9.0 (19.9) with 512, 9.5
//! (13.3) with 1024, and 14.2 (13.0) on ORT's CPU EP. So ovep starts each compiled model at 128
//! entries (RSS within 1.3x over 100 new shapes) and grows it to 1024 where the input shapes
//! recur (`runtime::executable::kernel_cache`); `cpu_kernel_cache=N` fixes the size. A bigger
//! primitive cache buys the same as a bigger runtime cache at the same price (runtime cache 128
//! with primitive cache 1024: 17.3 ms, 1.93x), so it stays small: executors own their primitives.

/// OpenVINO's CPU property for the runtime cache's size, in executors.
pub const RUNTIME_CACHE: &str = "CPU_RUNTIME_CACHE_CAPACITY";

/// The runtime cache a compiled model starts with (option `cpu_kernel_cache` unset).
pub const DEFAULT_RUNTIME_CACHE_CAPACITY: usize = 128;

/// The runtime cache a compiled model whose input shapes recur grows to: 41 recurring rec widths
/// run at the CPU EP's speed, against 11 at 512.
pub const GROWN_RUNTIME_CACHE_CAPACITY: usize = 1024;

/// `properties` with the grown runtime cache, or None when they set none (not a CPU compile).
pub fn grown(properties: &[(String, String)]) -> Option<Vec<(String, String)>> {
    properties.iter().any(|(k, _)| k == RUNTIME_CACHE).then(|| {
        let size = GROWN_RUNTIME_CACHE_CAPACITY.to_string();
        properties.iter().map(|(k, v)| (k.clone(), if k == RUNTIME_CACHE { size.clone() } else { v.clone() })).collect()
    })
}

/// oneDNN primitives kept beyond the executors that own them. Compile times of BERT- and
/// ResNet-50-like models measured the same at 64 as at oneDNN's 1024 (0 cost ResNet ~30 ms).
const PRIMITIVE_CACHE_CAPACITY: &str = "64";

/// Bound oneDNN's primitive cache, unless the user chose a capacity. oneDNN reads the variable
/// once, at its first primitive in the process, and has no other control that OpenVINO
/// exports; so this runs before OpenVINO is loaded (and changes nothing if OpenVINO's CPU
/// plugin already ran in this process).
pub fn bound_primitive_cache() {
    const NAMES: [&str; 2] = ["ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY"];
    if NAMES.iter().any(|n| std::env::var_os(n).is_some()) {
        return;
    }
    // Setting the environment races with C code reading it on other threads. This runs once,
    // when ovep first loads OpenVINO (ORT's library registration or first session), before
    // any OpenVINO thread exists.
    std::env::set_var(NAMES[0], PRIMITIVE_CACHE_CAPACITY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runtime_cache_grows() {
        let p =
            |v: &str| vec![("PERFORMANCE_HINT".to_string(), "LATENCY".to_string()), (RUNTIME_CACHE.into(), v.into())];
        assert_eq!(grown(&p("128")), Some(p("1024")));
        assert_eq!(grown(&[("PERFORMANCE_HINT".into(), "LATENCY".into())]), None, "a GPU compile sets none");
    }
}
