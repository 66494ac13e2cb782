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

/// One group OpenVINO will run, already converted and compiled.
pub struct PlannedGroup<M, C> {
    /// Node indices into the snapshot, topological order.
    pub nodes: Vec<usize>,
    pub exported: ExportedSubgraph,
    pub model: M,
    pub compiled: C,
}

/// Why nodes were left to ORT (for the log).
#[derive(Default, Debug)]
pub struct PlanReport {
    pub unsupported: Vec<(String, String)>,
    pub failed_conversion: Vec<(String, String)>,
    pub too_small: usize,
}

pub struct Plan<M, C> {
    pub groups: Vec<PlannedGroup<M, C>>,
    pub report: PlanReport,
}

/// Conversion rounds before giving up on re-forming groups (each round removes at least
/// one node, so this only bounds pathological cases).
const MAX_ROUNDS: usize = 8;

/// Plan the graph. `convert` turns serialized ONNX into the device model (OpenVINO's
/// `read_model`), `compile` compiles it for the device: a group is claimed only when both
/// succeed, and Compile reuses both results. They are parameters so the planning logic is
/// testable without OpenVINO.
pub fn plan<M: Converted, C>(
    graph: &GraphSnapshot,
    min_subgraph_nodes: usize,
    mut convert: impl FnMut(&[u8]) -> Result<M>,
    mut compile: impl FnMut(&M) -> Result<C>,
) -> Result<Plan<M, C>> {
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

    let mut rounds = 0;
    loop {
        let groups = group_nodes(&supported, &preds);
        // Cheap rounds first: leave out readers of unknown-shape values entering a group,
        // until no group has any (each round removes nodes, so this ends).
        let blind: Vec<(usize, String)> = groups
            .iter()
            .filter(|g| g.len() >= min_subgraph_nodes)
            .flat_map(|g| consumers_of_unknown_inputs(graph, g))
            .collect();
        if !blind.is_empty() {
            for (i, why) in blind {
                supported[i] = false;
                report.unsupported.push((describe(graph, i), why));
            }
            continue;
        }
        rounds += 1;
        if rounds > MAX_ROUNDS {
            break;
        }
        let mut planned = Vec::new();
        let mut changed = false;
        report.too_small = 0;
        for g in groups {
            if g.len() < min_subgraph_nodes {
                report.too_small += g.len();
                continue;
            }

            let converted = export_subgraph(graph, &g).and_then(|e| Ok((convert(&e.onnx)?, e))).and_then(|(m, e)| {
                let control_flow_unchecked = m.has_dynamic_rank_input() && g.iter().any(|&i| is_control_flow(graph, i));
                let c = if control_flow_unchecked { None } else { Some(compile(&m)?) };
                Ok((m, e, c))
            });
            match converted {
                Ok((_, _, None)) => {
                    // A body converted against inputs of unknown rank was not really checked
                    // (the frontend defers rank-dependent validation): leave control flow to ORT.
                    changed = true;
                    for &i in g.iter().filter(|&&i| is_control_flow(graph, i)) {
                        supported[i] = false;
                        report
                            .failed_conversion
                            .push((describe(graph, i), "body cannot be checked: an input's rank is unknown".into()));
                    }
                }
                Ok((model, exported, Some(compiled))) => {
                    planned.push(PlannedGroup { nodes: g, exported, model, compiled })
                }
                Err(group_error) => {
                    changed = true;
                    let failing = isolate_failures(graph, &g, &mut convert);
                    if failing.is_empty() {
                        // Every node converts alone but the group does not convert or compile:
                        // leave the group to ORT.
                        for &i in &g {
                            supported[i] = false;
                            report.failed_conversion.push((describe(graph, i), group_error.message.clone()));
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
            return Ok(Plan { groups: planned, report });
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

/// OpenVINO converts a group against the shapes ORT states for the values entering it.
/// Where ORT does not know such a shape (not even its rank: downstream of ops whose output
/// shape it cannot infer), the conversion check proves little and the CPU plugin cannot
/// compile the result, so the group's nodes reading that value stay on ORT. Values inside a
/// group need no stated shape: OpenVINO infers them itself.
fn consumers_of_unknown_inputs(graph: &GraphSnapshot, group: &[usize]) -> Vec<(usize, String)> {
    let produced: std::collections::HashSet<&str> =
        group.iter().flat_map(|&i| graph.nodes[i].outputs.iter()).map(String::as_str).collect();
    let mut out = Vec::new();
    for &i in group {
        let n = &graph.nodes[i];
        let unknown = n.inputs.iter().chain(&n.implicit_inputs).find(|name| {
            !name.is_empty()
                && !produced.contains(name.as_str())
                && graph.values.get(*name).is_some_and(|v| {
                    v.constant.is_none() && matches!(v.ty, crate::ort::graph::ValueType::Tensor { dims: None, .. })
                })
        });
        if let Some(name) = unknown {
            out.push((i, format!("the shape of input '{name}' is unknown to ORT")));
        }
    }
    out
}

/// What plan needs to know of a converted model.
pub trait Converted {
    /// Some input's rank is unknown, so the conversion could not validate everything.
    fn has_dynamic_rank_input(&self) -> bool;
}

impl Converted for crate::ov::model::Model {
    fn has_dynamic_rank_input(&self) -> bool {
        self.inputs().map_or(true, |ports| ports.iter().any(|p| p.dims.is_none()))
    }
}

fn is_control_flow(graph: &GraphSnapshot, i: usize) -> bool {
    let n = &graph.nodes[i];
    n.domain.is_empty() && matches!(n.op_type.as_str(), "If" | "Loop" | "Scan")
}

fn describe(graph: &GraphSnapshot, i: usize) -> String {
    let n = &graph.nodes[i];
    let op = if n.domain.is_empty() { n.op_type.clone() } else { format!("{}.{}", n.domain, n.op_type) };
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
