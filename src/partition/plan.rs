//! Deciding which nodes of a graph OpenVINO takes.
//!
//! 1. Support rules (data, `rules.rs`) mark nodes OpenVINO may run.
//! 2. Supported nodes are grouped into maximal cycle-free subgraphs (`group.rs`).
//! 3. Each group's ONNX form goes through OpenVINO's ONNX frontend *before* it is claimed.
//!    Nodes that fail conversion are left out and the groups re-formed; a group that fails
//!    although each of its nodes converts alone is left to ORT entirely.
//! 4. Groups smaller than `min_subgraph_nodes` stay on ORT's CPU EP, and so do groups that
//!    split from ORT's nodes only reshape, cast or compute elementwise (`cost.rs`).
//!
//! The converted OpenVINO models are returned with the plan: Compile compiles exactly
//! these, so nothing is read twice.

use std::collections::HashSet;

use super::cost::is_light;
use super::group::group_nodes;
use super::rules::refused_for_a_shape;
use super::snapshot::GraphSnapshot;
use super::support::check_node;
use crate::bail;
use crate::error::{Error, Result};
use crate::onnx::export::{export_exposing_all, export_subgraph, passthrough_nodes, ExportedSubgraph};

const PASSTHROUGH: &str = "passes a subgraph input straight to an output; ORT does that without a copy";

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
    /// Values whose shape was learned ahead of planning (`learn_ahead`).
    pub learned_ahead: usize,
    /// Nodes in groups with no work worth an OpenVINO call between ORT's nodes (`cost.rs`).
    pub light: usize,
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
///
/// Rounds: (1) rules decide support on the facts known so far; (2) readers of unknown-shape
/// values entering a group are left out; (3) each group is converted; nodes that fail are
/// left out for good; (4) OpenVINO's shape inference fills in shapes ORT did not know for
/// the groups' outputs, which can make more nodes decidable; repeat until nothing changes,
/// then (5) compile each group once (a group that fails to compile is left to ORT).
pub fn plan<M: Converted, C>(
    graph: &mut GraphSnapshot,
    min_subgraph_nodes: usize,
    body_only_inputs_wired: bool,
    mut convert: impl FnMut(&[u8]) -> Result<M>,
    mut compile: impl FnMut(&M) -> Result<C>,
) -> Result<Plan<M, C>> {
    let n = graph.nodes.len();
    let preds = graph.predecessors();
    // Nodes OpenVINO failed on: never offered again.
    let mut failed: Vec<Option<String>> = vec![None; n];

    let learned_ahead = learn_ahead(graph, &preds, &mut convert);
    // Conversions of the previous round, reused when a group comes back with the same ONNX
    // form (learning shapes often changes nothing for most groups).
    let mut previous: Vec<(Vec<u8>, M)> = Vec::new();
    for _round in 0..MAX_ROUNDS {
        let mut report = PlanReport { learned_ahead, ..Default::default() };
        let mut supported: Vec<bool> = (0..n)
            .map(|i| {
                if let Some(why) = &failed[i] {
                    report.failed_conversion.push((describe(graph, i), why.clone()));
                    return false;
                }
                match check_node(&graph.facts(i)) {
                    Ok(()) => true,
                    Err(why) => {
                        report.unsupported.push((describe(graph, i), why));
                        false
                    }
                }
            })
            .collect();
        let groups = loop {
            let groups = group_nodes(&supported, &preds);
            let blind: Vec<(usize, String)> = groups
                .iter()
                .filter(|g| group_weight(graph, g) >= min_subgraph_nodes)
                .flat_map(|g| {
                    let relabel = passthrough_nodes(graph, g).into_iter().map(|i| (i, PASSTHROUGH.to_string()));
                    let unwired = if body_only_inputs_wired { Vec::new() } else { body_only_inputs(graph, g) };
                    consumers_of_unknown_inputs(graph, g)
                        .into_iter()
                        .chain(relabel)
                        .chain(unwired)
                        .chain(exposed_quantizers(graph, g))
                })
                .collect();
            if blind.is_empty() {
                break groups;
            }
            for (i, why) in blind {
                supported[i] = false;
                report.unsupported.push((describe(graph, i), why));
            }
        };

        let mut converted = Vec::new();
        let mut changed = false;
        for g in groups {
            if group_weight(graph, &g) < min_subgraph_nodes {
                report.too_small += g.len();
                continue;
            }
            // min_subgraph_nodes=1 asks for every supported node, light or not.
            if min_subgraph_nodes > 1 && g.len() < n && is_light(g.iter().map(|&i| &graph.nodes[i])) {
                report.light += g.len();
                continue;
            }
            let attempt = export_subgraph(graph, &g).and_then(|e| {
                let m = match previous.iter().position(|(onnx, _)| *onnx == e.onnx) {
                    Some(k) => previous.swap_remove(k).1,
                    None => convert(&e.onnx)?,
                };
                if !m.binds(&e.inputs, &e.outputs) {
                    bail!("OpenVINO's model does not expose the subgraph's inputs and outputs by their names");
                }
                Ok((m, e))
            });
            match attempt {
                Ok((m, _)) if m.has_dynamic_rank_input() && g.iter().any(|&i| is_control_flow(graph, i)) => {
                    // A body converted against inputs of unknown rank was not really checked
                    // (the frontend defers rank-dependent validation): leave control flow to ORT.
                    changed = true;
                    for &i in g.iter().filter(|&&i| is_control_flow(graph, i)) {
                        failed[i] = Some("body cannot be checked: an input's rank is unknown".into());
                    }
                }
                Ok((model, exported)) => converted.push((g, model, exported)),
                Err(group_error) => {
                    changed = true;
                    mark_failures(graph, &g, &group_error, &mut convert, &mut failed);
                }
            }
        }
        let mut learned = false;
        for (_, model, _) in &converted {
            learned |= learn_shapes(graph, model.output_shapes()) > 0;
        }
        if changed || learned {
            previous = converted.into_iter().map(|(_, m, e)| (e.onnx, m)).collect();
            continue;
        }

        let mut groups = Vec::new();
        for (g, model, exported) in converted {
            match compile(&model) {
                Ok(compiled) => groups.push(PlannedGroup { nodes: g, exported, model, compiled }),
                Err(e) => {
                    changed = true;
                    // Control flow first: OpenVINO's CPU plugin refuses the dynamic-rank values
                    // If/Loop bodies can produce, which fails every node reading them. Leaving the
                    // control-flow nodes to ORT takes one round; bisecting the group took dozens of
                    // compiles (Silero VAD: 1.8 s of planning).
                    let flow: Vec<usize> = g.iter().copied().filter(|&i| is_control_flow(graph, i)).collect();
                    let culprits = if !flow.is_empty() && flow.len() < g.len() {
                        flow
                    } else {
                        compile_failures(graph, &g, &mut convert, &mut compile)
                    };
                    let culprits = if culprits.is_empty() { g.clone() } else { culprits };
                    for i in culprits {
                        failed[i] = Some(e.message.clone());
                    }
                }
            }
        }
        if !changed {
            return Ok(Plan { groups, report });
        }
    }
    Err(Error::ep_fail("partitioning did not settle; leaving the graph to ORT"))
}

/// Record why nodes of a group that failed conversion are left out: the nodes that fail
/// alone, or the whole group when each converts alone but not together.
fn mark_failures<M>(
    graph: &GraphSnapshot,
    group: &[usize],
    group_error: &Error,
    convert: &mut impl FnMut(&[u8]) -> Result<M>,
    failed: &mut [Option<String>],
) {
    let failing = isolate_failures(graph, group, convert);
    if failing.is_empty() {
        for &i in group {
            failed[i] = Some(group_error.message.clone());
        }
    } else {
        for (i, why) in failing {
            failed[i] = Some(why);
        }
    }
}

/// The nodes that make `group` fail to compile, found by bisection in topological order
/// (a prefix and a suffix of a cycle-free group are themselves cycle-free): O(k log n)
/// compiles for k culprits. Empty when the group compiles, or when only the whole fails.
fn compile_failures<M: Converted, C>(
    graph: &GraphSnapshot,
    group: &[usize],
    convert: &mut impl FnMut(&[u8]) -> Result<M>,
    compile: &mut impl FnMut(&M) -> Result<C>,
) -> Vec<usize> {
    let works =
        |nodes: &[usize], convert: &mut dyn FnMut(&[u8]) -> Result<M>, compile: &mut dyn FnMut(&M) -> Result<C>| {
            export_subgraph(graph, nodes).and_then(|e| convert(&e.onnx)).and_then(|m| compile(&m)).is_ok()
        };
    if works(group, convert, compile) {
        return Vec::new();
    }
    if group.len() == 1 {
        return group.to_vec();
    }
    let (a, b) = group.split_at(group.len() / 2);
    let mut out = compile_failures(graph, a, convert, compile);
    out.extend(compile_failures(graph, b, convert, compile));
    out
}

/// Learn, in one conversion, the shapes OpenVINO infers where ORT knows none. The rounds
/// below learn only at group outputs, so a chain of nodes refused for an unknown shape
/// became decidable one layer per round (PP-OCRv4 rec: four conversions before its compile,
/// 45-55 ms). Here the nodes refused only for a shape join the supported ones, and each such
/// group is converted once with every value it produces exposed. Never claimed or compiled;
/// a conversion that fails teaches nothing and costs nothing else.
fn learn_ahead<M: Converted>(
    graph: &mut GraphSnapshot,
    preds: &[Vec<usize>],
    convert: &mut impl FnMut(&[u8]) -> Result<M>,
) -> usize {
    let verdicts: Vec<std::result::Result<(), String>> =
        (0..graph.nodes.len()).map(|i| check_node(&graph.facts(i))).collect();
    if !verdicts.iter().any(|v| v.as_ref().is_err_and(|why| refused_for_a_shape(why))) {
        return 0;
    }
    let candidate: Vec<bool> =
        verdicts.iter().map(|v| v.as_ref().map_or_else(|why| refused_for_a_shape(why), |()| true)).collect();
    let mut shapes = Vec::new();
    for g in group_nodes(&candidate, preds) {
        if g.len() < 2 || !g.iter().any(|&i| verdicts[i].is_err()) {
            continue;
        }
        if let Ok(m) = export_exposing_all(graph, &g).and_then(|e| convert(&e.onnx)) {
            shapes.extend(m.output_shapes());
        }
    }
    learn_shapes(graph, shapes)
}

/// Give values whose shape ORT did not know the shape OpenVINO inferred. Returns how many
/// were learned (only static ranks are taken).
fn learn_shapes(graph: &mut GraphSnapshot, shapes: Vec<(String, Option<Vec<Option<i64>>>)>) -> usize {
    use crate::ort::graph::{Dim, ValueType};
    let mut learned = 0;
    for (name, dims) in shapes {
        let (Some(dims), Some(v)) = (dims, graph.values.get_mut(&name)) else { continue };
        if let ValueType::Tensor { dims: known @ None, .. } = &mut v.ty {
            *known = Some(dims.into_iter().map(|d| d.map_or(Dim::Unknown, Dim::Fixed)).collect());
            learned += 1;
        }
    }
    learned
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

/// QuantizeLinear nodes of `group` whose integers would leave OpenVINO (a group output, or
/// read by anything but a DequantizeLinear of the group). OpenVINO divides by multiplying with
/// the reciprocal, so x/scale can land on an exact half where ORT's division lands a hair off,
/// and the integer comes out one step away (measured: 178 for 179, `onnx::lower`). Inside a
/// Q/DQ pair, the pattern OpenVINO runs as int8, that step is within a quantized model's own
/// tolerance; as a visible integer it is a wrong answer.
fn exposed_quantizers(graph: &GraphSnapshot, group: &[usize]) -> Vec<(usize, String)> {
    let inside: HashSet<usize> = group.iter().copied().collect();
    let used_outside = graph.used_outside(&inside);
    group
        .iter()
        .filter(|&&i| {
            let n = &graph.nodes[i];
            let Some(out) = n.outputs.first().filter(|_| n.op_type == "QuantizeLinear") else { return false };
            used_outside.contains(out.as_str())
                || group.iter().any(|&j| {
                    let c = &graph.nodes[j];
                    c.op_type != "DequantizeLinear" && c.inputs.iter().chain(&c.implicit_inputs).any(|v| v == out)
                })
        })
        .map(|&i| (i, "its integers would leave OpenVINO, which rounds some exact halves one step off".to_string()))
        .collect()
}

/// Control-flow nodes of `group` whose bodies read an outer value (not a constant) that no
/// node of the group takes as an explicit input. ORT 1.23 builds a fused node's inputs from
/// explicit inputs only, so such a value never reaches the kernel (measured: "subgraph input
/// 'x' is not a fused-node input" for a Loop whose body alone reads the graph input x).
fn body_only_inputs(graph: &GraphSnapshot, group: &[usize]) -> Vec<(usize, String)> {
    let explicit: HashSet<&str> = group
        .iter()
        .flat_map(|&i| graph.nodes[i].inputs.iter().chain(&graph.nodes[i].outputs))
        .map(String::as_str)
        .collect();
    group
        .iter()
        .filter(|&&i| {
            graph.nodes[i].implicit_inputs.iter().any(|v| {
                !explicit.contains(v.as_str()) && graph.values.get(v).is_none_or(|info| info.constant.is_none())
            })
        })
        .map(|&i| (i, "ORT 1.23 does not pass a value read only by a body into a fused node".to_string()))
        .collect()
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
    /// Output names with their inferred partial shapes (None: dynamic rank).
    fn output_shapes(&self) -> Vec<(String, Option<Vec<Option<i64>>>)>;
    /// Every model input and output is reachable by one of these names (inputs may be
    /// missing from the model: OpenVINO drops inputs nothing reads).
    fn binds(&self, inputs: &[String], outputs: &[String]) -> bool;
}

impl Converted for crate::ov::model::Model {
    fn has_dynamic_rank_input(&self) -> bool {
        self.inputs().map_or(true, |ports| ports.iter().any(|p| p.dims.is_none()))
    }

    fn output_shapes(&self) -> Vec<(String, Option<Vec<Option<i64>>>)> {
        self.outputs().map(|ports| ports.into_iter().map(|p| (p.name, p.dims)).collect()).unwrap_or_default()
    }

    fn binds(&self, inputs: &[String], outputs: &[String]) -> bool {
        let (Ok(ins), Ok(outs)) = (self.inputs(), self.outputs()) else { return false };
        let found = inputs.iter().filter(|n| self.input_named(n).is_some()).count();
        found == ins.len() && outs.len() == outputs.len() && outputs.iter().all(|n| self.output_named(n).is_some())
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

/// A node's size for `min_subgraph_nodes`: itself and every node of its bodies, so a Loop or
/// Scan running a whole network per step counts as that network, not as one node.
fn node_weight(n: &crate::partition::snapshot::NodeSnapshot) -> usize {
    1 + n.subgraphs.iter().flat_map(|(_, body)| &body.nodes).map(node_weight).sum::<usize>()
}

fn group_weight(graph: &GraphSnapshot, group: &[usize]) -> usize {
    group.iter().map(|&i| node_weight(&graph.nodes[i])).sum()
}
