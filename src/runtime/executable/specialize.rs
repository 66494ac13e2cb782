//! Shape specialization: for a model with dynamic inputs, a shape seen again gets a static
//! compile in the background, kept in a bounded LRU (`max_cached_shapes`); the first one is a
//! trial (`shape_cache::Payoff`), and a model it does not pay for gets no more.

use std::sync::Arc;

use super::kernel_cache::Recurrence;
use super::{Compiled, Executable};
use crate::error::{Error, Result};
use crate::ort::kernel::KernelContext;
use crate::runtime::background;
use crate::runtime::shape_cache::{Payoff, ShapeLru};
use crate::runtime::weight_copy::WeightCopy;

/// Which compiled model served a run of a dynamic model, while its time still counts.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Served {
    /// `clean`: timed with the shape's kernels already made (not its first run) and no compile
    /// of ovep's competing for the cores, so the time can judge a specialization.
    Generic {
        clean: bool,
    },
    Specialized,
    /// A static model, one compiled because the generic one does not accept the shapes, or
    /// any run once the payoff is judged: nothing to learn from its time.
    Other,
}

/// A shape seen this many times gets its own static compile (in the background), while
/// specializing pays for the model (`Payoff`).
pub(super) const SPECIALIZE_AFTER: u32 = 2;

/// Weight bytes the shape-specialized models of one subgraph may hold together. The first
/// costs a copy of the weights to convert from and the converted model, each one its compiled
/// weights: MiniLM (69 MB of weights) took 164 MB more for the first and ~26 MB for each
/// further one, for runs 0-20 % faster. So a model with 69 MB of weights keeps at most 3, and
/// one over 256 MB (BERT-base: ~1 GB for a trial) none: its generic model serves every shape.
pub(super) const SPECIALIZED_WEIGHT_BUDGET: u64 = 256 << 20;

/// Specialized models a subgraph with `weight_bytes` of weights may keep.
pub(super) fn specializations_allowed(max_cached_shapes: usize, weight_bytes: u64) -> usize {
    let fit = SPECIALIZED_WEIGHT_BUDGET / weight_bytes.max(1);
    max_cached_shapes.min(usize::try_from(fit).unwrap_or(usize::MAX))
}

#[derive(Clone, Copy, Default)]
pub(super) struct Seen {
    count: u32,
    /// The generic model's best clean time on this shape, over `generic_runs` runs.
    generic_us: Option<u64>,
    generic_runs: u32,
    /// A specialization of this shape was started (once per shape: an evicted one is not
    /// compiled again, so more recurring shapes than `max_cached_shapes` cannot thrash).
    tried: bool,
}

pub(super) struct ShapeState {
    /// Shape-specialized compiled models (bounded by `max_cached_shapes`).
    specialized: ShapeLru<Arc<Compiled>>,
    /// How often recent shapes were seen, and the generic model's best time on them (bounded
    /// too, so memory stays flat).
    seen: ShapeLru<Seen>,
    /// Whether specializing pays for this model (judged on the first specialized shape).
    payoff: Payoff,
    /// How many specialized models the weights allow (`specializations_allowed`), known at
    /// the first shape worth specializing.
    allowed: Option<usize>,
    /// One specialization (or kernel cache growth) at a time per subgraph: the machine has
    /// few cores to spare.
    pub(super) pending: bool,
    /// The session is ending: no new specialization (see `settle`).
    pub(super) closing: bool,
    /// Whether shapes come back to the generic model (`kernel_cache`).
    pub(super) recurrence: Recurrence,
}

impl ShapeState {
    pub(super) fn new(max_cached_shapes: usize) -> ShapeState {
        ShapeState {
            specialized: ShapeLru::new(max_cached_shapes),
            seen: ShapeLru::new(4 * max_cached_shapes),
            payoff: Payoff::default(),
            allowed: None,
            pending: false,
            closing: false,
            recurrence: Recurrence::default(),
        }
    }

    /// The session is ending: start no specialization any more. Whether none is in flight.
    pub(super) fn close(&mut self) -> bool {
        self.closing = true;
        !self.pending
    }
}

impl Executable {
    /// Whether the runs' times are steady: no specialization in flight, and for a dynamic
    /// model, the specialization trial judged (its runs alternate two models).
    pub(super) fn shapes_settled(&self) -> bool {
        let st = self.shapes.lock().unwrap_or_else(|e| e.into_inner());
        !st.pending && (!self.dynamic || st.payoff.verdict().is_some())
    }

    /// The compiled model to run these input shapes with, and how it serves them.
    pub(super) fn compiled_for(
        self: &Arc<Self>,
        shapes: &[Vec<i64>],
        ctx: &KernelContext,
    ) -> Result<(Arc<Compiled>, Served)> {
        let Some(generic) = self.generic().filter(|g| g.accepts(shapes)) else {
            return Ok((self.specialized_now(shapes, ctx)?, Served::Other));
        };
        if !self.dynamic {
            return Ok((generic.clone(), Served::Other));
        }
        let mut st = self.shapes.lock().unwrap_or_else(|e| e.into_inner());
        // Run times matter only until the payoff is judged (`observe`); after that, none is taken.
        let judging = st.payoff.verdict().is_none();
        let timed = |served| if judging { served } else { Served::Other };
        if let Some(c) = st.specialized.get(shapes) {
            // The trial is judged against the generic model's clean times on its shape, as many
            // as the trial's own (best against best), taken alternately so that a noisy moment
            // of the machine weighs on both; its shape's earlier runs were its first (kernels
            // made on the way) or raced its compile.
            let generic_turn = st
                .seen
                .get(shapes)
                .is_some_and(|s| s.generic_runs < Payoff::RUNS && s.generic_runs <= st.payoff.runs());
            if !(judging && generic_turn) {
                return Ok((c, timed(Served::Specialized)));
            }
            return Ok((generic.clone(), Served::Generic { clean: !st.pending }));
        }
        if judging && !st.specialized.is_empty() && st.payoff.idle_run() == Some(false) {
            self.stop_specializing(st);
            st = self.shapes.lock().unwrap_or_else(|e| e.into_inner());
        }
        let mut seen = st.seen.get(shapes).unwrap_or_default();
        if st.recurrence.note(shapes, seen.count > 0) {
            self.grow_kernel_cache(&mut st, &generic, ctx);
        }
        seen.count = seen.count.saturating_add(1);
        // Until the trial specialization is judged, no second one; after a "does not pay", none.
        let wanted = match st.payoff.verdict() {
            None => st.specialized.is_empty(),
            Some(pays) => pays,
        };
        let first_run = seen.count == 1;
        let due = seen.count >= SPECIALIZE_AFTER && !seen.tried && wanted && !st.pending && !st.closing;
        if due && st.allowed.is_none() {
            let allowed = specializations_allowed(self.target.max_cached_shapes, self.weight_bytes(ctx));
            st.allowed = Some(allowed);
            st.specialized = ShapeLru::new(allowed);
            if allowed == 0 {
                st.payoff.decline();
            }
        }
        if due && st.allowed.is_some_and(|n| n > 0) {
            if let Ok((onnx, weights)) = self.owned_onnx(ctx) {
                st.pending = true;
                seen.tried = true;
                let (me, shapes) = (self.clone(), shapes.to_vec());
                background::spawn("specialize", move || me.specialize(shapes, onnx, weights));
            }
        }
        st.seen.insert(shapes.to_vec(), seen);
        Ok((generic.clone(), timed(Served::Generic { clean: !first_run && !st.pending })))
    }

    /// A run of `shapes` took `us` on the model `served` it: the generic model's times, and the
    /// trial specialization's, decide whether specializing pays (`Payoff`).
    pub(super) fn observe(&self, shapes: &[Vec<i64>], served: Served, us: u64) {
        let mut st = self.shapes.lock().unwrap_or_else(|e| e.into_inner());
        match served {
            Served::Generic { clean: false } => {}
            Served::Generic { clean: true } => {
                if let Some(mut seen) = st.seen.get(shapes) {
                    seen.generic_us = Some(seen.generic_us.map_or(us, |g| g.min(us)));
                    seen.generic_runs += 1;
                    st.seen.insert(shapes.to_vec(), seen);
                }
            }
            Served::Specialized => {
                let generic_us = st.seen.get(shapes).and_then(|s| s.generic_us);
                if st.payoff.record(us, generic_us) == Some(false) {
                    self.stop_specializing(st);
                }
            }
            Served::Other => {}
        }
    }

    /// Specializing was judged not to pay: drop what it keeps (the compiled models, and the
    /// converted model with its weight copy), and the generic model serves every shape.
    /// The shape lock is released before the model's, which a compile holds for its length.
    pub(super) fn stop_specializing(&self, mut st: std::sync::MutexGuard<'_, ShapeState>) {
        st.specialized.clear();
        drop(st);
        *self.model.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// A static copy of the model compiled for `shapes`.
    ///
    /// Reshaping keeps the converted graph, which is right only when each input keeps the
    /// rank it was converted with (the frontend resolves axes against that rank), and
    /// OpenVINO's C API cannot reshape to rank 0. Otherwise the ONNX form is converted again
    /// with the exact shapes written in.
    pub(super) fn compile_for_shapes(
        &self,
        shapes: &[Vec<i64>],
        onnx: &[u8],
        weights: &Arc<WeightCopy>,
    ) -> Result<Compiled> {
        let t = &self.target;
        let same_ranks = self
            .source_inputs
            .iter()
            .zip(shapes)
            .all(|(p, s)| !s.is_empty() && p.dims.as_ref().is_some_and(|d| d.len() == s.len()));
        let context = |e: Error| e.context(format!("{}: input shapes {shapes:?}", self.name));
        if same_ranks {
            let mut slot = self.model.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some((t.core.read_onnx(onnx).map_err(context)?, weights.clone()));
            }
            let (model, kept) = slot.as_ref().expect("just filled");
            let reshape: Vec<(usize, Vec<i64>)> = shapes.iter().cloned().enumerate().collect();
            model.reshape(&reshape).map_err(context)?;
            let compiled =
                Compiled::new(t.core.compile(model, &t.device, &t.properties)?, &self.inputs, &self.outputs)?;
            return Ok(compiled.keeping(kept.clone()));
        }
        let names: Vec<&str> = self.inputs.iter().filter_map(|b| b.name.to_str().ok()).collect();
        let onnx = with_input_shapes(onnx, &names, shapes).map_err(context)?;
        if let Some(dir) = std::env::var_os("OVEP_DUMP_DIR") {
            let _ = std::fs::write(std::path::Path::new(&dir).join(format!("{}.onnx", self.name)), &onnx);
        }
        let model = t.core.read_onnx(&onnx).map_err(context)?;
        let compiled = Compiled::new(
            t.core.compile(&model, &t.device, &t.properties).map_err(context)?,
            &self.inputs,
            &self.outputs,
        )?;
        Ok(compiled.keeping(weights.clone()))
    }

    /// Without a generic model: the specialized model for `shapes`, compiled now if new.
    pub(super) fn specialized_now(&self, shapes: &[Vec<i64>], ctx: &KernelContext) -> Result<Arc<Compiled>> {
        if let Some(c) = self.shapes.lock().unwrap_or_else(|e| e.into_inner()).specialized.get(shapes) {
            return Ok(c);
        }
        let (onnx, weights) = self.owned_onnx(ctx)?;
        let c = Arc::new(self.compile_for_shapes(shapes, &onnx, &weights)?);
        self.shapes.lock().unwrap_or_else(|e| e.into_inner()).specialized.insert(shapes.to_vec(), c.clone());
        Ok(c)
    }

    /// Background: compile a static copy for `shapes` and keep it in the LRU.
    pub(super) fn specialize(&self, shapes: Vec<Vec<i64>>, onnx: Vec<u8>, weights: Arc<WeightCopy>) {
        let compiled = self.compile_for_shapes(&shapes, &onnx, &weights);
        let mut st = self.shapes.lock().unwrap_or_else(|e| e.into_inner());
        st.pending = false;
        match compiled {
            Ok(c) => st.specialized.insert(shapes, Arc::new(c)),
            // The generic model keeps serving this shape; never try it again.
            Err(_) => st.seen.insert(shapes, Seen { tried: true, ..Seen::default() }),
        }
    }
}

/// `onnx` with the named graph inputs given exact static shapes.
pub(super) fn with_input_shapes(onnx: &[u8], names: &[&str], shapes: &[Vec<i64>]) -> Result<Vec<u8>> {
    use crate::onnx::proto::{ModelProto, ValueInfoProto};
    use prost::Message;

    let mut model = ModelProto::decode(onnx).map_err(|e| Error::ep_fail(format!("re-reading the subgraph: {e}")))?;
    let graph = model.graph.as_mut().ok_or_else(|| Error::ep_fail("subgraph without a graph"))?;
    for (name, dims) in names.iter().zip(shapes) {
        let input = graph
            .input
            .iter_mut()
            .find(|i| i.name == *name)
            .ok_or_else(|| Error::ep_fail(format!("subgraph has no input {name}")))?;
        let elem = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(crate::onnx::proto::type_proto::Value::TensorType(t)) => t.elem_type,
            _ => return Err(Error::ep_fail(format!("input {name} is not a tensor"))),
        };
        let dims: Vec<Option<i64>> = dims.iter().map(|d| Some(*d)).collect();
        *input = ValueInfoProto::tensor(name.to_string(), elem, Some(&dims));
    }
    Ok(model.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::{GraphProto, ModelProto, NodeProto, ValueInfoProto};
    use prost::Message;

    #[test]
    fn specializations_fit_the_weight_budget() {
        const MB: u64 = 1 << 20;
        assert_eq!(specializations_allowed(8, 11 * MB), 8, "PP-OCRv4 rec: the option's cap");
        assert_eq!(specializations_allowed(8, 69 * MB), 3, "MiniLM");
        assert_eq!(specializations_allowed(8, 438 * MB), 0, "BERT-base: none");
        assert_eq!(specializations_allowed(8, 0), 8, "no weights");
        assert_eq!(specializations_allowed(2, 11 * MB), 2);
    }

    #[test]
    fn input_shapes_are_rewritten_exactly() {
        let model = ModelProto {
            ir_version: 8,
            graph: Some(GraphProto {
                node: vec![NodeProto {
                    op_type: "Relu".into(),
                    input: vec!["x".into()],
                    output: vec!["y".into()],
                    ..Default::default()
                }],
                input: vec![ValueInfoProto::tensor("x", 1, None)],
                output: vec![ValueInfoProto::tensor("y", 1, None)],
                ..Default::default()
            }),
            ..Default::default()
        };
        let out = with_input_shapes(&model.encode_to_vec(), &["x"], &[vec![2, 3]]).unwrap();
        let back = ModelProto::decode(out.as_slice()).unwrap();
        assert_eq!(back.graph.unwrap().input[0], ValueInfoProto::tensor("x", 1, Some(&[Some(2), Some(3)])));
        let scalar = with_input_shapes(&model.encode_to_vec(), &["x"], &[vec![]]).unwrap();
        let back = ModelProto::decode(scalar.as_slice()).unwrap();
        assert_eq!(back.graph.unwrap().input[0], ValueInfoProto::tensor("x", 1, Some(&[])));
        assert!(with_input_shapes(&model.encode_to_vec(), &["nope"], &[vec![1]]).is_err());
    }
}
