//! The EP objects ORT calls: the factory, the per-session EP and the compute info of each
//! compiled subgraph, plus option parsing and device matching.

pub mod blob_cache;
pub mod compute;
pub mod context;
pub mod devices;
pub mod factory;
pub mod options;
pub mod prefetch;
pub mod provider;
