//! Deciding which nodes of a graph OpenVINO takes.
//!
//! 1. Support rules (data, `rules.rs`) mark nodes OpenVINO may run.
//! 2. Supported nodes are grouped into maximal cycle-free subgraphs (`group.rs`).
//! 3. Each group's ONNX form goes through OpenVINO's ONNX frontend *before* it is claimed.
//!    Nodes that fail conversion are left out and the groups re-formed; a group that fails
//!    although each of its nodes converts alone is left to ORT entirely.
//! 4. Groups smaller than `min_subgraph_nodes` stay on ORT's CPU EP.
//!
//! The converted OpenVINO models are returned with the plan: Compile compiles exactly
//! these, so nothing is read twice.

use super::group::group_nodes;
use super::snapshot::GraphSnapshot;
use super::support::check_node;
use crate::error::{Error, Result};
use crate::onnx::export::{export_subgraph, ExportedSubgraph};

/// One group OpenVINO will run, already converted.
pub struct PlannedGroup<M> {
    /// Node indices into the snapshot, topological order.
    pub nodes: Vec<usize>,
    pub exported: ExportedSubgraph,
    pub model: M,
}

/// Why nodes were left to ORT (for the log).
#[derive(Default, Debug)]
pub struct PlanReport {
    pub unsupported: Vec<(String, String)>,
    pub failed_conversion: Vec<(String, String)>,
    pub too_small: usize,
}

pub struct Plan<M> {
    pub groups: Vec<PlannedGroup<M>>,
    pub report: PlanReport,
}

/// Conversion rounds before giving up on re-forming groups (each round removes at least
/// one node, so this only bounds pathological cases).
const MAX_ROUNDS: usize = 8;

/// Plan the graph. `convert` turns serialized ONNX into the device model (OpenVINO's
/// `read_model`); it is a parameter so the planning logic is testable without OpenVINO.
pub fn plan<M>(
    graph: &GraphSnapshot,
    min_subgraph_nodes: usize,
    mut convert: impl FnMut(&[u8]) -> Result<M>,
) -> Result<Plan<M>> {
    let n = graph.nodes.len();
    let mut report = PlanReport::default();
    let mut supported: Vec<bool> = (0..n)
        .map(|i| match check_node(&graph.facts(i)) {
            Ok(()) => true,
            Err(why) => {
                report.unsupported.push((describe(graph, i), why));
                false
            }
        })
        .collect();
    let preds = graph.predecessors();

    for _round in 0..MAX_ROUNDS {
        let groups = group_nodes(&supported, &preds);
        let mut planned = Vec::new();
        let mut changed = false;
        report.too_small = 0;
        for g in groups {
            if g.len() < min_subgraph_nodes {
                report.too_small += g.len();
                continue;
            }
            match export_subgraph(graph, &g).and_then(|e| Ok((convert(&e.onnx)?, e))) {
                Ok((model, exported)) => planned.push(PlannedGroup {
                    nodes: g,
                    exported,
                    model,
                }),
                Err(group_error) => {
                    changed = true;
                    let failing = isolate_failures(graph, &g, &mut convert);
                    if failing.is_empty() {
                        // Every node converts alone but not together: leave the group to ORT.
                        for &i in &g {
                            supported[i] = false;
                            report
                                .failed_conversion
                                .push((describe(graph, i), group_error.message.clone()));
                        }
                    } else {
                        for (i, why) in failing {
                            supported[i] = false;
                            report.failed_conversion.push((describe(graph, i), why));
                        }
                    }
                }
            }
        }
        if !changed {
            return Ok(Plan {
                groups: planned,
                report,
            });
        }
    }
    Err(Error::ep_fail("partitioning did not settle; leaving the graph to ORT"))
}

/// The nodes of `group` whose single-node ONNX form OpenVINO cannot convert.
fn isolate_failures<M>(
    graph: &GraphSnapshot,
    group: &[usize],
    convert: &mut impl FnMut(&[u8]) -> Result<M>,
) -> Vec<(usize, String)> {
    let mut failing = Vec::new();
    for &i in group {
        let r = export_subgraph(graph, &[i]).and_then(|e| convert(&e.onnx).map(|_| ()));
        if let Err(e) = r {
            failing.push((i, e.message));
        }
    }
    failing
}

fn describe(graph: &GraphSnapshot, i: usize) -> String {
    let n = &graph.nodes[i];
    let op = if n.domain.is_empty() {
        n.op_type.clone()
    } else {
        format!("{}.{}", n.domain, n.op_type)
    };
    if n.name.is_empty() {
        op
    } else {
        format!("{} ({op})", n.name)
    }
}

/// A stable key identifying a group of nodes across GetCapability and Compile: the node
/// output names, which are unique in a graph.
pub fn group_key<'a>(outputs: impl Iterator<Item = &'a String>) -> String {
    let mut names: Vec<&str> = outputs.filter(|o| !o.is_empty()).map(String::as_str).collect();
    names.sort_unstable();
    names.join("\u{1}")
}
