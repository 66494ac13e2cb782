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
//! The bound (RSS within 1.3x after 100 new shapes) decides the default: 128 entries, enough
//! that a few shapes used in turn do not make their executors again, before ovep's shape
//! specializations take recurring shapes over. `cpu_kernel_cache=1024` is the option for new
//! shapes ~35 % faster at ~2.3x RSS. A bigger primitive cache buys the same at the same price
//! (runtime cache 128 with primitive cache 1024: 17.3 ms, 1.93x), so it stays small: executors
//! own their primitives.

/// The default `CPU_RUNTIME_CACHE_CAPACITY` (option `cpu_kernel_cache`), from the table above.
pub const DEFAULT_RUNTIME_CACHE_CAPACITY: usize = 128;

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
