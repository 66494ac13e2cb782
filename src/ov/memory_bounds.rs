//! Bounds on what OpenVINO's CPU plugin keeps per input shape.
//!
//! A dynamic model compiled for the CPU builds executors (with JIT kernels made for the exact
//! shapes) per node and new input shape, and keeps them in two caches: the compiled model's
//! runtime cache (`CPU_RUNTIME_CACHE_CAPACITY`, 5000 entries by default) and oneDNN's
//! process-wide primitive cache (1024 primitives by default). Left at those defaults, memory
//! grows by ~3 MB per new PP-OCRv4 rec width, to ~750 MB more than the model needs.
//!
//! The caches also make new shapes cheaper: a new width repeats the shapes of the deep layers
//! of recent widths (they downsample), and their kernels are found instead of made again.
//! Measured on PP-OCRv4 rec, 100 widths, ovep (run at a new width / RSS after 100 widths
//! against after the first):
//!
//! | runtime cache | primitive cache | new width | RSS growth |
//! |---|---|---|---|
//! | 5000 | 1024 | 21 ms | 2.8x, and growing |
//! | 1024 | 64 | 16-18 ms | 2.0-2.4x, flat beyond |
//! | 768 | 128 | 26-29 ms | 1.9x |
//! | 256 | 64 | 27-36 ms | 1.4-1.6x |
//! | 128 (`max_cached_shapes=1`) | 64 | 27-33 ms | 1.2-1.4x |
//!
//! So the runtime cache is bounded where new shapes keep their speed, per shape ovep keeps
//! (`max_cached_shapes`, so that one option bounds the memory dynamic shapes take), and the
//! primitive cache holds little beyond the executors, which own their primitives.

/// Runtime-cache entries per kept shape: 1024 at the default 8 shapes, the knee above.
const ENTRIES_PER_SHAPE: usize = 128;

/// oneDNN primitives kept beyond the executors that own them. Compile times of BERT- and
/// ResNet-50-like models measured the same at 64 as at oneDNN's 1024 (0 cost ResNet ~30 ms).
const PRIMITIVE_CACHE_CAPACITY: &str = "64";

/// `CPU_RUNTIME_CACHE_CAPACITY` for a model that keeps the state of `shapes` recent shapes.
pub fn runtime_cache_capacity(shapes: usize) -> usize {
    ENTRIES_PER_SHAPE * shapes.max(1)
}

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
    fn runtime_cache_grows_with_the_shapes_kept() {
        assert_eq!(runtime_cache_capacity(8), 1024);
        assert_eq!(runtime_cache_capacity(0), ENTRIES_PER_SHAPE, "at least one shape's executors");
    }
}
