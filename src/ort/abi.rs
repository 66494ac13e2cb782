//! The EP-side ABI of ONNX Runtime's plugin execution providers, declared by hand after
//! `onnxruntime_ep_c_api.h` (ort-sys has `OrtApi` but leaves these structs opaque).
//!
//! Field order is the ABI: a field out of place is a crash, not a compile error. Every
//! struct starts with `ort_version_supported`; ORT reads only the fields that existed in the
//! version we put there, so we declare every field up to [`MAX_EP_API`] and set the version
//! to the one negotiated with the host (see `ort::api`).

#![allow(non_snake_case, non_camel_case_types, clippy::upper_case_acronyms)]

use std::ffi::{c_char, c_int, c_void};

pub use ort_sys::{
    OrtAllocator, OrtApi, OrtApiBase, OrtGraph, OrtHardwareDevice, OrtHardwareDeviceType, OrtKernelContext,
    OrtKeyValuePairs, OrtLogger, OrtLoggingLevel, OrtMemoryInfo, OrtNode, OrtOpAttr, OrtOpAttrType, OrtRunOptions,
    OrtSessionOptions, OrtStatus, OrtValue, OrtValueInfo,
};

/// Highest EP ABI version whose layout is declared here: 1.23, the release that completed
/// the compile-based flow. Later releases append optional fields (kernel registries,
/// concurrency and weightless hints) that ovep does not need; ORT reads none of them from
/// structs that say 23, so every host from 1.23 to the newest sees exactly this layout.
pub const MAX_EP_API: u32 = 23;

/// Opaque ORT types that ort-sys does not declare.
#[repr(C)]
pub struct OrtEpDevice {
    _private: [u8; 0],
}
#[repr(C)]
pub struct OrtEpGraphSupportInfo {
    _private: [u8; 0],
}
#[repr(C)]
pub struct OrtNodeComputeContext {
    _private: [u8; 0],
}
#[repr(C)]
pub struct OrtMemoryDevice {
    _private: [u8; 0],
}
#[repr(C)]
pub struct OrtSyncStreamImpl {
    _private: [u8; 0],
}
#[repr(C)]
pub struct OrtDataTransferImpl {
    _private: [u8; 0],
}
#[repr(C)]
pub struct OrtSyncStream {
    _private: [u8; 0],
}

/// `OrtEpDataLayout`.
pub type OrtEpDataLayout = c_int;
pub const ORT_EP_DATA_LAYOUT_NCHW: OrtEpDataLayout = 0;

/// `OrtCompiledModelCompatibility`.
pub type OrtCompiledModelCompatibility = c_int;
pub const ORT_COMPILED_MODEL_COMPATIBILITY_EP_SUPPORTED_OPTIMAL: OrtCompiledModelCompatibility = 1;
pub const ORT_COMPILED_MODEL_COMPATIBILITY_EP_UNSUPPORTED: OrtCompiledModelCompatibility = 3;

type Status = *mut OrtStatus;

/// `OrtNodeFusionOptions` (1.23).
#[repr(C)]
pub struct OrtNodeFusionOptions {
    pub ort_version_supported: u32,
    pub drop_constant_initializers: bool,
}

/// `OrtNodeComputeInfo` (1.23): how ORT runs one fused node we compiled.
#[repr(C)]
pub struct OrtNodeComputeInfo {
    pub ort_version_supported: u32,
    pub CreateState: unsafe extern "C" fn(
        this: *mut OrtNodeComputeInfo,
        compute_context: *mut OrtNodeComputeContext,
        compute_state: *mut *mut c_void,
    ) -> Status,
    pub Compute: unsafe extern "C" fn(
        this: *mut OrtNodeComputeInfo,
        compute_state: *mut c_void,
        kernel_context: *mut OrtKernelContext,
    ) -> Status,
    pub ReleaseState: unsafe extern "C" fn(this: *mut OrtNodeComputeInfo, compute_state: *mut c_void),
}

/// `OrtEp` as of 1.23.
#[repr(C)]
pub struct OrtEp {
    pub ort_version_supported: u32,
    pub GetName: unsafe extern "C" fn(this: *const OrtEp) -> *const c_char,
    pub GetCapability:
        unsafe extern "C" fn(this: *mut OrtEp, graph: *const OrtGraph, support: *mut OrtEpGraphSupportInfo) -> Status,
    pub Compile: unsafe extern "C" fn(
        this: *mut OrtEp,
        graphs: *const *const OrtGraph,
        fused_nodes: *const *const OrtNode,
        count: usize,
        node_compute_infos: *mut *mut OrtNodeComputeInfo,
        ep_context_nodes: *mut *mut OrtNode,
    ) -> Status,
    pub ReleaseNodeComputeInfos:
        unsafe extern "C" fn(this: *mut OrtEp, node_compute_infos: *mut *mut OrtNodeComputeInfo, count: usize),
    pub GetPreferredDataLayout: Option<unsafe extern "C" fn(this: *mut OrtEp, layout: *mut OrtEpDataLayout) -> Status>,
    pub ShouldConvertDataLayoutForOp: Option<
        unsafe extern "C" fn(
            this: *mut OrtEp,
            domain: *const c_char,
            op_type: *const c_char,
            target: OrtEpDataLayout,
            should_convert: *mut c_int,
        ) -> Status,
    >,
    pub SetDynamicOptions: Option<
        unsafe extern "C" fn(
            this: *mut OrtEp,
            keys: *const *const c_char,
            values: *const *const c_char,
            count: usize,
        ) -> Status,
    >,
    pub OnRunStart: Option<unsafe extern "C" fn(this: *mut OrtEp, run_options: *const OrtRunOptions) -> Status>,
    pub OnRunEnd:
        Option<unsafe extern "C" fn(this: *mut OrtEp, run_options: *const OrtRunOptions, sync_stream: bool) -> Status>,
    pub CreateAllocator: Option<
        unsafe extern "C" fn(
            this: *mut OrtEp,
            memory_info: *const OrtMemoryInfo,
            allocator: *mut *mut OrtAllocator,
        ) -> Status,
    >,
    pub CreateSyncStreamForDevice: Option<
        unsafe extern "C" fn(
            this: *mut OrtEp,
            memory_device: *const OrtMemoryDevice,
            stream: *mut *mut OrtSyncStreamImpl,
        ) -> Status,
    >,
    pub GetCompiledModelCompatibilityInfo:
        Option<unsafe extern "C" fn(this: *mut OrtEp, graph: *const OrtGraph) -> *const c_char>,
}

/// `OrtEpFactory` as of 1.23.
#[repr(C)]
pub struct OrtEpFactory {
    pub ort_version_supported: u32,
    pub GetName: unsafe extern "C" fn(this: *const OrtEpFactory) -> *const c_char,
    pub GetVendor: unsafe extern "C" fn(this: *const OrtEpFactory) -> *const c_char,
    pub GetSupportedDevices: unsafe extern "C" fn(
        this: *mut OrtEpFactory,
        devices: *const *const OrtHardwareDevice,
        num_devices: usize,
        ep_devices: *mut *mut OrtEpDevice,
        max_ep_devices: usize,
        num_ep_devices: *mut usize,
    ) -> Status,
    pub CreateEp: unsafe extern "C" fn(
        this: *mut OrtEpFactory,
        devices: *const *const OrtHardwareDevice,
        ep_metadata: *const *const OrtKeyValuePairs,
        num_devices: usize,
        session_options: *const OrtSessionOptions,
        logger: *const OrtLogger,
        ep: *mut *mut OrtEp,
    ) -> Status,
    pub ReleaseEp: unsafe extern "C" fn(this: *mut OrtEpFactory, ep: *mut OrtEp),
    // 1.23
    pub GetVendorId: unsafe extern "C" fn(this: *const OrtEpFactory) -> u32,
    pub GetVersion: unsafe extern "C" fn(this: *const OrtEpFactory) -> *const c_char,
    pub ValidateCompiledModelCompatibilityInfo: Option<
        unsafe extern "C" fn(
            this: *mut OrtEpFactory,
            devices: *const *const OrtHardwareDevice,
            num_devices: usize,
            compatibility_info: *const c_char,
            out: *mut OrtCompiledModelCompatibility,
        ) -> Status,
    >,
    pub CreateAllocator: unsafe extern "C" fn(
        this: *mut OrtEpFactory,
        memory_info: *const OrtMemoryInfo,
        allocator_options: *const OrtKeyValuePairs,
        allocator: *mut *mut OrtAllocator,
    ) -> Status,
    pub ReleaseAllocator: unsafe extern "C" fn(this: *mut OrtEpFactory, allocator: *mut OrtAllocator),
    pub CreateDataTransfer:
        unsafe extern "C" fn(this: *mut OrtEpFactory, data_transfer: *mut *mut OrtDataTransferImpl) -> Status,
    pub IsStreamAware: unsafe extern "C" fn(this: *const OrtEpFactory) -> bool,
    pub CreateSyncStreamForDevice: unsafe extern "C" fn(
        this: *mut OrtEpFactory,
        memory_device: *const OrtMemoryDevice,
        stream_options: *const OrtKeyValuePairs,
        stream: *mut *mut OrtSyncStreamImpl,
    ) -> Status,
}

/// `OrtEpApi`: the table ORT gives EPs (`OrtApi::GetEpApi`). Only the 1.23 prefix we call
/// is declared; later entries are never read.
#[repr(C)]
pub struct OrtEpApi {
    pub CreateEpDevice: unsafe extern "C" fn(
        factory: *mut OrtEpFactory,
        hardware_device: *const OrtHardwareDevice,
        ep_metadata: *const OrtKeyValuePairs,
        ep_options: *const OrtKeyValuePairs,
        ep_device: *mut *mut OrtEpDevice,
    ) -> ort_sys::OrtStatusPtr,
    pub ReleaseEpDevice: unsafe extern "C" fn(device: *mut OrtEpDevice),
    pub EpGraphSupportInfo_AddNodesToFuse: unsafe extern "C" fn(
        support: *mut OrtEpGraphSupportInfo,
        nodes: *const *const OrtNode,
        num_nodes: usize,
        options: *const OrtNodeFusionOptions,
    ) -> ort_sys::OrtStatusPtr,
    pub EpGraphSupportInfo_AddSingleNode:
        unsafe extern "C" fn(support: *mut OrtEpGraphSupportInfo, node: *const OrtNode) -> ort_sys::OrtStatusPtr,
    pub NodeComputeContext_NodeName: unsafe extern "C" fn(context: *const OrtNodeComputeContext) -> *const c_char,
}
