//! Which nodes OpenVINO takes: support rules as data, cycle-free grouping, and the
//! convert-before-claim planner.

pub mod cost;
pub mod facts;
pub mod group;
pub mod plan;
pub mod rules;
pub mod snapshot;
pub mod support;
