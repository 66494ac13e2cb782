//! OpenVINO side: finding and loading the C library, and RAII wrappers over its handles.
//! All `unsafe` that touches OpenVINO lives here.

pub mod compiled;
pub mod core;
pub mod element;
pub mod error;
pub mod library;
pub mod memory_bounds;
pub mod model;
pub mod tensor;
