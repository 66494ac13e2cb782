//! ONNX Runtime side: ABI declarations, API negotiation, status, logging and safe views of
//! what ORT hands an EP. All `unsafe` that touches ORT lives here.

pub mod abi;
pub mod api;
pub mod config;
pub mod cpu_session;
pub mod device;
pub mod editor;
pub mod graph;
pub mod kernel;
pub mod logger;
pub mod status;
