//! Running compiled subgraphs: shape-specialized compiled models and infer-request pools.

pub mod background;
pub mod executable;
pub mod export_check;
pub mod placement;
pub mod shape_cache;
pub mod shared;
pub mod weight_copy;
