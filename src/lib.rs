//! ovep: an ONNX Runtime plugin execution provider that runs ONNX models on OpenVINO.
//!
//! ONNX Runtime loads `libovep.so` with `RegisterExecutionProviderLibrary` and calls the two
//! functions below; everything else is reached through the function tables they hand over.
//! Hosts (and the Python package) also call ovep's own C API, `capi` (`include/ovep.h`).
//!
//! Layout: `ffi` (the panic/error boundary), `cache` (content-addressed blob store), `ort`
//! (ORT ABI and safe views), `ep` (the objects ORT calls), `partition` (which nodes OpenVINO
//! takes), `onnx` (subgraph serialization), `ov` (OpenVINO loading and handles), `runtime`
//! (running compiled subgraphs), `fast_start` (EPContext models kept per model file).

pub mod cache;
pub mod capi;
pub mod ep;
pub mod error;
pub mod fast_start;
pub mod ffi;
pub mod maintenance;
pub mod onnx;
pub mod ort;
pub mod ov;
pub mod partition;
pub mod runtime;

use std::ffi::c_char;

use ort::abi::{OrtApiBase, OrtEpFactory, OrtLogger, OrtStatus};

/// Create ovep's EP factory (one). Called once by `RegisterExecutionProviderLibrary`.
///
/// # Safety
/// Called by ONNX Runtime with valid pointers; `factories` has room for `max_factories`.
#[no_mangle]
pub unsafe extern "C" fn CreateEpFactories(
    _registration_name: *const c_char,
    ort_api_base: *const OrtApiBase,
    default_logger: *const OrtLogger,
    factories: *mut *mut OrtEpFactory,
    max_factories: usize,
    num_factories: *mut usize,
) -> *mut OrtStatus {
    if let Err(e) = ort::api::init(ort_api_base) {
        return ort::api::status_without_negotiation(ort_api_base, &e);
    }
    ffi::status("CreateEpFactories", || {
        ort::logger::set_default_logger(default_logger);
        ep::devices::point_opencl_kernel_cache();
        if max_factories == 0 {
            return Err(error::Error::invalid_argument("ovep: ORT offered no room for a factory"));
        }
        *factories = ep::factory::Factory::new(ort::logger::default_logger()).into_raw();
        *num_factories = 1;
        Ok(())
    })
}

/// Release a factory made by `CreateEpFactories`.
///
/// # Safety
/// `factory` must come from `CreateEpFactories` and not have been released.
#[no_mangle]
pub unsafe extern "C" fn ReleaseEpFactory(factory: *mut OrtEpFactory) -> *mut OrtStatus {
    ffi::status("ReleaseEpFactory", || {
        if !factory.is_null() {
            drop(ep::factory::Factory::from_raw(factory));
        }
        // ORT may unload the library and destroy its default logger next: let background
        // work (cache writes, shape compiles) finish first, then stop logging to it.
        runtime::background::finish(runtime::background::RELEASE_WAIT);
        ort::logger::clear_default_logger();
        Ok(())
    })
}
