//! One fused subgraph ready to run: the OpenVINO model, its compiled form(s) and a pool of
//! infer requests, so concurrent `Run` calls on one session each get their own request.
//!
//! Every model is compiled once as converted, at session creation, and serves every input
//! shape from the first run on (no compile on the first inference). For models with dynamic
//! inputs, a shape seen again gets a static, shape-specialized compile in the background,
//! kept in a bounded LRU (`max_cached_shapes`): frequent shapes run at static speed, and
//! memory stays bounded however many shapes a user sends. The first specialization is a
//! trial: if it is not clearly faster than the generic model, the model gets no more.

use std::ffi::CString;
use std::sync::{Arc, Mutex};

use crate::bail;
use crate::cache::Blob;
use crate::error::{Error, Result};
use crate::onnx::dtype::DataType;
use crate::onnx::export::ExportedSubgraph;
use crate::ort::cpu_session::CpuSession;
use crate::ort::kernel::KernelContext;
use crate::ov::compiled::{CompiledModel, InferRequest};
use crate::ov::core::Core;
use crate::ov::element;
use crate::ov::model::{Model, Port};
use crate::ov::tensor::Tensor;

use super::background;
use super::export_check::{compare_models, Probe, Verdict};
use super::placement::{self, Side, Trial};
use super::shape_cache::{Payoff, ShapeLru};
use super::weight_copy::WeightCopy;

/// One subgraph input or output: its ONNX name (OpenVINO tensors are bound by name, which
/// survives OpenVINO dropping unused inputs and merging pass-through names) and where its
/// data lives in the fused node's kernel context.
#[derive(Clone, Debug)]
struct Binding {
    name: CString,
    kernel_index: usize,
    elem: DataType,
    /// An output that is one of the inputs passed through (Identity, Dropout, one-input
    /// Sum...): OpenVINO aliases it to the input, so it is copied out, never bound.
    alias_of_input: bool,
}

/// A copy of one input: its shape and bytes.
type HostTensor = (Vec<i64>, Vec<u8>);

/// A compiled model with its request pool and (when static) output shapes.
struct Compiled {
    /// Shared with other sessions of the process that compiled or imported the same thing.
    model: Arc<CompiledModel>,
    requests: Mutex<Vec<InferRequest>>,
    /// Output shapes when known before running: outputs are then written straight into
    /// ORT's buffers.
    output_dims: Vec<Option<Vec<i64>>>,
    /// Input partial shapes (`None` = dynamic rank, `None` dim = dynamic).
    input_dims: Vec<Option<Vec<Option<i64>>>>,
    /// The weight copy a specialization was converted from (OpenVINO may read it in place).
    _weights: Option<Arc<WeightCopy>>,
}

impl Compiled {
    fn new(model: impl Into<Arc<CompiledModel>>, inputs: &[Binding], outputs: &[Binding]) -> Result<Compiled> {
        let model = model.into();
        let output_dims = outputs
            .iter()
            .map(|b| {
                let port = model.output_named(&b.name).filter(|_| !b.alias_of_input)?;
                port.dims.and_then(|d| d.into_iter().collect::<Option<Vec<i64>>>())
            })
            .collect();
        let input_dims = inputs.iter().map(|b| model.input_named(&b.name).and_then(|p| p.dims)).collect();
        Ok(Compiled { model, requests: Mutex::new(Vec::new()), output_dims, input_dims, _weights: None })
    }

    /// Keep `weights` alive as long as this compiled model.
    fn keeping(mut self, weights: Arc<WeightCopy>) -> Compiled {
        self._weights = Some(weights);
        self
    }

    /// Whether inputs of these shapes fit the compiled model. ORT's static shape
    /// information can be wrong across a fused boundary (a value typed `[?]` that is a
    /// scalar at run time); such runs get a model specialized to the real shapes.
    fn accepts(&self, shapes: &[Vec<i64>]) -> bool {
        self.input_dims.len() == shapes.len()
            && self.input_dims.iter().zip(shapes).all(|(port, actual)| match port {
                None => true,
                Some(dims) => {
                    dims.len() == actual.len() && dims.iter().zip(actual).all(|(d, a)| d.is_none_or(|d| d == *a))
                }
            })
    }

    fn take_request(&self) -> Result<InferRequest> {
        let pooled = self.requests.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match pooled {
            Some(r) => Ok(r),
            None => self.model.create_infer_request(),
        }
    }

    fn give_back(&self, r: InferRequest) {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }
}

/// Where and how a session's subgraphs are compiled (shared by all its executables).
pub struct CompileTarget {
    pub core: Arc<Core>,
    /// OpenVINO device name ("CPU", "GPU.1", "AUTO:GPU,CPU", ...).
    pub device: String,
    /// Compile properties (precision, performance hint, threads).
    pub properties: Vec<(String, String)>,
    pub max_cached_shapes: usize,
    /// Small subgraphs may be handed to ORT's CPU kernels when measured faster (`placement`).
    pub measured_placement: bool,
}

/// A converted subgraph ready to become an executable: the OpenVINO model, the ONNX form
/// it came from, and (when GetCapability already compiled it) its compiled form.
pub struct Prepared {
    /// The converted model; None when the compiled model was imported from the cache
    /// (then it is converted from `exported` only if a run ever needs a specialization).
    pub model: Option<Model>,
    /// The ONNX form and its graph input/output names, in declaration order (OpenVINO's
    /// ports follow that order; their own names can differ, e.g. a pass-through's output).
    pub exported: ExportedSubgraph,
    pub compiled: Option<Arc<CompiledModel>>,
}

pub struct Executable {
    pub name: String,
    /// Set after the first run: the cold path's cache write waits for it (see `BlobCache::save`).
    ran: std::sync::atomic::AtomicBool,
    /// Cache writes scheduled and not finished (`write_ticket`): the session's end waits for them.
    writes: Arc<std::sync::atomic::AtomicUsize>,
    /// The session is ending (`settle`).
    settling: std::sync::atomic::AtomicBool,
    target: Arc<CompileTarget>,
    /// The model specializations reshape (under the lock), read by the first specialization
    /// from `onnx` over ovep's own copy of the weights (`weight_copy`), kept with it.
    model: Mutex<Option<(Model, Arc<WeightCopy>)>>,
    /// Its input ports as converted (partial shapes), in `inputs` order.
    source_inputs: Vec<Port>,
    /// The ONNX form it was converted from, converted again for shape specializations. Its
    /// weight addresses are GetCapability's: before any new read they are refreshed from the
    /// fused node's inputs (ORT moves some initializers once the session is set up).
    onnx: Vec<u8>,
    /// For each weight read by address: its name and fused-node input index. None when some
    /// weight cannot be found again (then the ONNX form is never read again).
    weight_inputs: Option<Vec<(String, usize)>>,
    inputs: Vec<Binding>,
    outputs: Vec<Binding>,
    /// The model compiled as converted (dynamic dimensions stay dynamic): serves every
    /// shape from the first run on, so no compile sits on the first inference. None when
    /// the device cannot compile the dynamic form (e.g. the CPU plugin refuses inputs of
    /// dynamic rank): then each new shape is specialized before it runs.
    generic: Option<Arc<Compiled>>,
    /// The model has dynamic inputs: frequent shapes get specialized compiles.
    dynamic: bool,
    shapes: Mutex<ShapeState>,
    /// Set while a cache write waits for the first run: that run's inputs are copied into
    /// `first_inputs`, the data its export is checked with (`check_export`).
    probe_wanted: std::sync::atomic::AtomicBool,
    first_inputs: Mutex<Option<Vec<HostTensor>>>,
    /// Measured placement (`placement`); None when this subgraph is never tried (no ONNX form
    /// to build a CPU session from, or the option is off).
    placement: Option<Mutex<Placement>>,
    /// The ONNX form's graph inputs and their fused-node input indices (a CPU session reads
    /// all of them, even those OpenVINO dropped).
    graph_inputs: Vec<(String, usize)>,
    /// What placement decided, for the session's log (`take_report`).
    report: Mutex<Option<String>>,
    /// Called once if placement hands the subgraph to ORT's kernels (`when_placed_on_cpu_ep`).
    on_cpu_ep: Mutex<Option<PlacedHook>>,
    /// The last trial run's call time, side and own run time: its cycle ends at the next call
    /// (`ran_on`).
    trial_cycle: Mutex<Option<(std::time::Instant, Side, u64)>>,
}

/// How a run's time counts for placement (`after_run`).
#[derive(Clone, Copy)]
enum Timed {
    /// A trial run: its whole cycle (call to next call) and its own run, in microseconds.
    Trial { cycle_us: u64, run_us: u64 },
    /// Any other run: its own time.
    Run(u64),
}

/// What a session does when placement hands a subgraph to ORT's kernels (record it in the
/// cache); the write ticket keeps the session's end waiting for it.
pub type PlacedHook = Box<dyn FnOnce(WriteTicket) + Send>;

/// Where a subgraph's runs stand in measured placement.
enum Placement {
    /// Counting steady OpenVINO runs.
    Warming { runs: u32 },
    /// The CPU session is being built in the background.
    Building,
    /// Both sides alternate on these input shapes.
    Trial { cpu: Arc<CpuSession>, trial: Trial, shapes: Vec<Vec<i64>> },
    /// ORT's CPU kernels compute the subgraph.
    CpuEp(Arc<CpuSession>),
    /// OpenVINO computes the subgraph.
    OpenVino,
}

/// A scheduled cache write (see `Executable::write_ticket`); dropping it marks the write done.
pub struct WriteTicket(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for WriteTicket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Which compiled model served a run of a dynamic model, while its time still counts.
#[derive(Clone, Copy, PartialEq)]
enum Served {
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
const SPECIALIZE_AFTER: u32 = 2;

/// Weight bytes the shape-specialized models of one subgraph may hold together. The first
/// costs a copy of the weights to convert from and the converted model, each one its compiled
/// weights: MiniLM (69 MB of weights) took 164 MB more for the first and ~26 MB for each
/// further one, for runs 0-20 % faster. So a model with 69 MB of weights keeps at most 3, and
/// one over 256 MB (BERT-base: ~1 GB for a trial) none: its generic model serves every shape.
const SPECIALIZED_WEIGHT_BUDGET: u64 = 256 << 20;

/// Specialized models a subgraph with `weight_bytes` of weights may keep.
fn specializations_allowed(max_cached_shapes: usize, weight_bytes: u64) -> usize {
    let fit = SPECIALIZED_WEIGHT_BUDGET / weight_bytes.max(1);
    max_cached_shapes.min(usize::try_from(fit).unwrap_or(usize::MAX))
}

#[derive(Clone, Copy, Default)]
struct Seen {
    count: u32,
    /// The generic model's best clean time on this shape, over `generic_runs` runs.
    generic_us: Option<u64>,
    generic_runs: u32,
    /// A specialization of this shape was started (once per shape: an evicted one is not
    /// compiled again, so more recurring shapes than `max_cached_shapes` cannot thrash).
    tried: bool,
}

struct ShapeState {
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
    /// One specialization at a time per subgraph: the machine has few cores to spare.
    pending: bool,
    /// The session is ending: no new specialization (see `settle`).
    closing: bool,
}

impl Executable {
    /// `kernel_inputs`/`kernel_outputs` are the fused node's input/output names in ORT's
    /// order; OpenVINO ports are matched to them by name.
    pub fn new(
        name: String,
        target: Arc<CompileTarget>,
        prepared: Prepared,
        kernel_inputs: &[String],
        kernel_outputs: &[String],
    ) -> Result<Executable> {
        let Prepared { model, exported, compiled } = prepared;
        if model.is_none() && compiled.is_none() {
            bail!("{name}: neither a model nor a compiled model");
        }
        // Ports by name, from the model when there is one, else from the compiled model.
        let input_port = |d: &str| match (&model, &compiled) {
            (Some(m), _) => m.input_named(d),
            (None, Some(c)) => CString::new(d).ok().and_then(|n| c.input_named(&n)),
            (None, None) => None,
        };
        let output_port = |d: &str| match (&model, &compiled) {
            (Some(m), _) => m.output_named(d),
            (None, Some(c)) => CString::new(d).ok().and_then(|n| c.output_named(&n)),
            (None, None) => None,
        };
        let kernel_index = |kernel: &[String], d: &str, what: &str| {
            kernel
                .iter()
                .position(|n| n == d)
                .ok_or_else(|| Error::ep_fail(format!("{name}: subgraph {what} '{d}' is not a fused-node {what}")))
        };
        let element = |p: &Port, d: &str| {
            element::from_ov(p.element)
                .ok_or_else(|| Error::ep_fail(format!("{name}: '{d}' has an element type ovep cannot pass")))
        };
        let c_name = |d: &str| CString::new(d).map_err(|_| Error::ep_fail(format!("{name}: tensor name with NUL")));
        let mut inputs = Vec::new();
        let mut source_inputs = Vec::new();
        for d in &exported.inputs {
            // An input OpenVINO dropped (nothing reads it) needs no binding.
            let Some(port) = input_port(d) else { continue };
            let elem = element(&port, d)?;
            inputs.push(Binding {
                name: c_name(d)?,
                kernel_index: kernel_index(kernel_inputs, d, "input")?,
                elem,
                alias_of_input: false,
            });
            source_inputs.push(port);
        }
        let mut outputs = Vec::new();
        for d in &exported.outputs {
            let port = output_port(d).ok_or_else(|| Error::ep_fail(format!("{name}: OpenVINO has no output '{d}'")))?;
            outputs.push(Binding {
                name: c_name(d)?,
                kernel_index: kernel_index(kernel_outputs, d, "output")?,
                elem: element(&port, d)?,
                alias_of_input: input_port(d).is_some(),
            });
        }
        let onnx = exported.onnx;
        // A blob imported from an EPContext node comes without its ONNX form: nothing to
        // specialize from (the generic model serves every shape it accepts).
        let weights = if onnx.is_empty() { None } else { crate::onnx::export::weights_by_address(&onnx).ok() };
        let graph_inputs: Option<Vec<(String, usize)>> =
            exported.inputs.iter().map(|n| kernel_inputs.iter().position(|k| k == n).map(|i| (n.clone(), i))).collect();
        let weight_inputs = weights.and_then(|(names, nested)| {
            if nested {
                return None;
            }
            names.into_iter().map(|n| kernel_inputs.iter().position(|k| *k == n).map(|i| (n, i))).collect()
        });
        // Specialization is by input shape, so what matters is whether an input is dynamic.
        let dynamic = source_inputs.iter().any(|p| p.dims.as_ref().is_none_or(|d| d.iter().any(Option::is_none)));
        let compile = || match (compiled, &model) {
            (Some(c), _) => Compiled::new(c, &inputs, &outputs),
            (None, Some(m)) => {
                Compiled::new(target.core.compile(m, &target.device, &target.properties)?, &inputs, &outputs)
            }
            (None, None) => unreachable!("checked above"),
        };
        let generic = match compile() {
            Ok(c) => Some(Arc::new(c)),
            Err(_) if dynamic => None,
            Err(e) => return Err(e),
        };
        let shapes = Mutex::new(ShapeState {
            specialized: ShapeLru::new(target.max_cached_shapes),
            seen: ShapeLru::new(4 * target.max_cached_shapes),
            payoff: Payoff::default(),
            allowed: None,
            pending: false,
            closing: false,
        });
        let placement = (target.measured_placement && weight_inputs.is_some() && graph_inputs.is_some())
            .then(|| Mutex::new(Placement::Warming { runs: 0 }));
        Ok(Executable {
            name,
            ran: std::sync::atomic::AtomicBool::new(false),
            writes: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            settling: std::sync::atomic::AtomicBool::new(false),
            target,
            // Not kept: it was read at GetCapability's weight addresses, which ORT may have
            // moved since. A specialization reads the ONNX form again at current addresses.
            model: Mutex::new(None),
            source_inputs,
            onnx,
            weight_inputs,
            inputs,
            outputs,
            generic,
            dynamic,
            shapes,
            probe_wanted: std::sync::atomic::AtomicBool::new(false),
            first_inputs: Mutex::new(None),
            placement,
            graph_inputs: graph_inputs.unwrap_or_default(),
            report: Mutex::new(None),
            on_cpu_ep: Mutex::new(None),
            trial_cycle: Mutex::new(None),
        })
    }

    /// The compiled model to run these input shapes with, and how it serves them.
    fn compiled_for(self: &Arc<Self>, shapes: &[Vec<i64>], ctx: &KernelContext) -> Result<(Arc<Compiled>, Served)> {
        let Some(generic) = self.generic.as_ref().filter(|g| g.accepts(shapes)) else {
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
    fn observe(&self, shapes: &[Vec<i64>], served: Served, us: u64) {
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
    fn stop_specializing(&self, mut st: std::sync::MutexGuard<'_, ShapeState>) {
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
    fn compile_for_shapes(&self, shapes: &[Vec<i64>], onnx: &[u8], weights: &Arc<WeightCopy>) -> Result<Compiled> {
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
    fn specialized_now(&self, shapes: &[Vec<i64>], ctx: &KernelContext) -> Result<Arc<Compiled>> {
        if let Some(c) = self.shapes.lock().unwrap_or_else(|e| e.into_inner()).specialized.get(shapes) {
            return Ok(c);
        }
        let (onnx, weights) = self.owned_onnx(ctx)?;
        let c = Arc::new(self.compile_for_shapes(shapes, &onnx, &weights)?);
        self.shapes.lock().unwrap_or_else(|e| e.into_inner()).specialized.insert(shapes.to_vec(), c.clone());
        Ok(c)
    }

    /// Background: compile a static copy for `shapes` and keep it in the LRU.
    fn specialize(&self, shapes: Vec<Vec<i64>>, onnx: Vec<u8>, weights: Arc<WeightCopy>) {
        let compiled = self.compile_for_shapes(&shapes, &onnx, &weights);
        let mut st = self.shapes.lock().unwrap_or_else(|e| e.into_inner());
        st.pending = false;
        match compiled {
            Ok(c) => st.specialized.insert(shapes, Arc::new(c)),
            // The generic model keeps serving this shape; never try it again.
            Err(_) => st.seen.insert(shapes, Seen { tried: true, ..Seen::default() }),
        }
    }

    /// The bytes of the weights a specialization would copy (`owned_onnx`).
    fn weight_bytes(&self, ctx: &KernelContext) -> u64 {
        let Some(weights) = &self.weight_inputs else { return 0 };
        weights.iter().filter_map(|(_, k)| ctx.input(*k).ok().flatten()).map(|t| t.as_bytes().len() as u64).sum()
    }

    /// This run's weights, as ORT holds them: (name, tensor) in `weight_inputs` order.
    fn current_weights(&self, ctx: &KernelContext) -> Result<Vec<(String, crate::ort::graph::TensorData)>> {
        let Some(weights) = &self.weight_inputs else {
            bail!(
                "{}: no ONNX form to read again (its weights cannot be found again, or it came from an EPContext node)",
                self.name
            );
        };
        weights
            .iter()
            .map(|(name, k)| {
                let t =
                    ctx.input(*k)?.ok_or_else(|| Error::ep_fail(format!("{}: weight {name} is missing", self.name)))?;
                Ok((name.clone(), t))
            })
            .collect()
    }

    /// The ONNX form over a copy of the weights taken from this run's inputs (see
    /// `weight_copy`: ORT's memory may go before the session's end reaches ovep).
    fn owned_onnx(&self, ctx: &KernelContext) -> Result<(Vec<u8>, Arc<WeightCopy>)> {
        let weights = self.current_weights(ctx)?;
        let views: Vec<(String, &[u8])> = weights.iter().map(|(n, t)| (n.clone(), t.as_bytes())).collect();
        WeightCopy::of(&self.onnx, &views)
    }

    /// The ONNX form with this run's weights inside it, for a CPU session.
    fn embedded_onnx(&self, ctx: &KernelContext) -> Result<Vec<u8>> {
        let weights = self.current_weights(ctx)?;
        let views: Vec<(String, &[u8])> = weights.iter().map(|(n, t)| (n.clone(), t.as_bytes())).collect();
        crate::onnx::export::with_embedded_weights(&self.onnx, &views)
    }

    /// Whether the runs' times are steady: no specialization in flight, and for a dynamic
    /// model, the specialization trial judged (its runs alternate two models).
    fn shapes_settled(&self) -> bool {
        let st = self.shapes.lock().unwrap_or_else(|e| e.into_inner());
        !st.pending && (!self.dynamic || st.payoff.verdict().is_some())
    }

    /// Who computes a run of `shapes`: the CPU session (Some) or OpenVINO, and whether the
    /// run's time counts in the placement trial.
    fn placed(&self, shapes: &[Vec<i64>]) -> (Option<Arc<CpuSession>>, bool) {
        let Some(placement) = &self.placement else { return (None, false) };
        match &*placement.lock().unwrap_or_else(|e| e.into_inner()) {
            Placement::CpuEp(cpu) => (Some(cpu.clone()), false),
            Placement::Trial { cpu, trial, shapes: s } if s == shapes => match trial.next() {
                Side::CpuEp => (Some(cpu.clone()), true),
                Side::OpenVino => (None, true),
            },
            _ => (None, false),
        }
    }

    /// After a run on `side`: the trial's bookkeeping, or, once OpenVINO's runs are steady and
    /// small, the start of the CPU session's build.
    fn after_run(self: &Arc<Self>, shapes: &[Vec<i64>], side: Side, timed: Timed, ctx: &KernelContext) {
        let Some(placement) = &self.placement else { return };
        let mut p = placement.lock().unwrap_or_else(|e| e.into_inner());
        match (&mut *p, timed) {
            (Placement::Trial { cpu, trial, .. }, Timed::Trial { cycle_us, run_us }) => {
                let Some(winner) = trial.record(side, cycle_us, run_us) else { return };
                let m = trial.medians();
                let verdict = match winner {
                    Side::CpuEp => "ORT's CPU kernels compute it",
                    Side::OpenVino => "it stays on OpenVINO",
                };
                *self.report.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!(
                    "ovep: {}: measured {} us per run cycle on OpenVINO (its own run {} us), {} us on ORT's CPU \
                     kernels: {verdict}",
                    self.name, m.openvino_cycle, m.openvino_run, m.cpu_ep_cycle
                ));
                *p = match winner {
                    Side::CpuEp => Placement::CpuEp(cpu.clone()),
                    Side::OpenVino => Placement::OpenVino,
                };
                drop(p);
                if winner == Side::CpuEp {
                    // Shape-specialized models serve no run any more; the generic one stays
                    // (shared with other sessions and the cache).
                    self.stop_specializing(self.shapes.lock().unwrap_or_else(|e| e.into_inner()));
                    if let Some(hook) = self.on_cpu_ep.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        hook(self.write_ticket());
                    }
                }
            }
            (Placement::Warming { runs }, Timed::Run(us)) if side == Side::OpenVino => {
                if !self.shapes_settled() {
                    return;
                }
                *runs += 1;
                if *runs < placement::WARM_RUNS {
                    return;
                }
                // Checked before anything is copied: a large subgraph costs nothing here.
                let small = us <= placement::SMALL_RUN_US && self.weight_bytes(ctx) <= placement::MAX_WEIGHT_BYTES;
                match small.then(|| self.embedded_onnx(ctx)) {
                    Some(Ok(onnx)) => {
                        *p = Placement::Building;
                        let (me, shapes) = (self.clone(), shapes.to_vec());
                        background::spawn("placement", move || me.build_cpu_session(&onnx, shapes));
                    }
                    _ => *p = Placement::OpenVino,
                }
            }
            _ => {}
        }
    }

    /// A run on `side` succeeded. A trial run is judged by its whole cycle, from its call to the
    /// next one (`trial_cycle`): a call into OpenVINO also slows the ORT nodes around it (cold
    /// caches and threads), which its own time does not show (Silero's encoder: 81 us on
    /// OpenVINO against 75 on ORT's kernels, but the model's run 157 us against 132).
    /// Every run took `us` itself; other runs count by that alone (`after_run`).
    fn ran_on(
        self: &Arc<Self>,
        side: Side,
        trial_run: bool,
        call: std::time::Instant,
        us: u64,
        shapes: &[Vec<i64>],
        ctx: &KernelContext,
    ) {
        if trial_run {
            *self.trial_cycle.lock().unwrap_or_else(|e| e.into_inner()) = Some((call, side, us));
        } else {
            self.after_run(shapes, side, Timed::Run(us), ctx);
        }
    }

    /// Background: the CPU session the trial compares OpenVINO with.
    fn build_cpu_session(&self, onnx: &[u8], shapes: Vec<Vec<i64>>) {
        let names: Vec<String> = self.graph_inputs.iter().map(|(n, _)| n.clone()).collect();
        let outputs: Vec<String> = self.outputs.iter().map(|b| b.name.to_string_lossy().into_owned()).collect();
        let built = CpuSession::new(onnx, &names, &outputs);
        let Some(placement) = &self.placement else { return };
        let mut p = placement.lock().unwrap_or_else(|e| e.into_inner());
        *p = match built {
            Ok(cpu) if !self.is_settling() => Placement::Trial { cpu: Arc::new(cpu), trial: Trial::default(), shapes },
            Ok(_) => Placement::OpenVino,
            Err(e) => {
                *self.report.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(format!("ovep: {}: stays on OpenVINO (no CPU session to compare with: {e})", self.name));
                Placement::OpenVino
            }
        };
    }

    /// The CPU session failed a run: OpenVINO computes the subgraph from now on.
    fn back_to_openvino(&self, e: &Error) {
        if let Some(placement) = &self.placement {
            *placement.lock().unwrap_or_else(|e| e.into_inner()) = Placement::OpenVino;
        }
        *self.report.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(format!("ovep: {}: back on OpenVINO (ORT's CPU kernels failed a run: {e})", self.name));
    }

    /// Whether the CPU session is being built (the session's end waits for it).
    fn placement_building(&self) -> bool {
        self.placement
            .as_ref()
            .is_some_and(|p| matches!(*p.lock().unwrap_or_else(|e| e.into_inner()), Placement::Building))
    }

    /// Call `hook` (once) if measured placement hands this subgraph to ORT's kernels.
    /// The hook gets a write ticket: the session's end waits until it is dropped.
    pub fn when_placed_on_cpu_ep(&self, hook: PlacedHook) {
        *self.on_cpu_ep.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    /// What measured placement decided since the last call, for the session's log.
    pub fn take_report(&self) -> Option<String> {
        self.placement.as_ref()?;
        self.report.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Run on the CPU session: ORT's values in, outputs copied into the fused node's.
    fn run_on_cpu(&self, cpu: &CpuSession, ctx: &KernelContext) -> Result<()> {
        let values = self.graph_inputs.iter().map(|(_, k)| ctx.input_value(*k)).collect::<Result<Vec<_>>>()?;
        cpu.run(&values, |j, t| {
            let (dst, bytes) = ctx.output(self.outputs[j].kernel_index, &t.dims)?;
            if bytes != t.bytes {
                bail!("{}: output {j} is {} bytes but ORT allocated {bytes}", self.name, t.bytes);
            }
            if bytes > 0 {
                // SAFETY: `dst` has `bytes` writable bytes (ORT just allocated them).
                unsafe { std::ptr::copy_nonoverlapping(t.data, dst, bytes) };
            }
            Ok(())
        })
    }

    /// The fused-node inputs OpenVINO reads, in the fused node's order.
    pub fn input_names(&self) -> Vec<String> {
        let mut bound: Vec<&Binding> = self.inputs.iter().collect();
        bound.sort_by_key(|b| b.kernel_index);
        bound.iter().map(|b| b.name.to_string_lossy().into_owned()).collect()
    }

    /// The generic compiled model in OpenVINO's export format (None when there is no
    /// generic model: every shape is specialized).
    pub fn export_generic(&self) -> Result<Option<Blob>> {
        let Some(generic) = &self.generic else { return Ok(None) };
        if let Some(blob) = generic.model.imported_from() {
            return Ok(Some(blob.clone()));
        }
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(".ovep-export-{}-{n}", std::process::id()));
        // Mapped, not read (`cache::Blob`): the mapping outlives the file removed below, and
        // a large blob then costs no second copy in memory while it is checked and stored.
        let result = generic.model.export(&path).and_then(|()| {
            Blob::read(&path, None).map_err(|e| Error::ep_fail(format!("reading {}: {e}", path.display())))
        });
        let _ = std::fs::remove_file(&path);
        result.map(Some)
    }

    /// Copy the next run's inputs: a cache write will check its export with them.
    pub fn want_probe(&self) {
        self.probe_wanted.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether `blob`, this executable's generic model as exported, imports to a model that
    /// computes the same (see `export_check`), run on the first run's inputs (`want_probe`).
    /// Without a run, only a model whose inputs are all floating point is probed, with
    /// synthetic values: integer inputs can be indices or shapes, and OpenVINO crashes on
    /// some invalid ones rather than failing. A blob this executable was imported from is not
    /// checked again.
    pub fn check_export(&self, blob: &Blob) -> Verdict {
        let Some(generic) = &self.generic else { return Verdict::Unchecked("no generic model".into()) };
        if generic.model.imported_from().is_some() {
            return Verdict::Same;
        }
        let first = self.first_inputs.lock().unwrap_or_else(|e| e.into_inner()).take();
        let probes = match first {
            Some(first) => {
                if !generic.accepts(&first.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>()) {
                    return Verdict::Unchecked("the first run was specialized".into());
                }
                self.inputs
                    .iter()
                    .zip(first)
                    .map(|(b, (dims, data))| Probe { name: b.name.clone(), elem: b.elem, dims, data: Some(data) })
                    .collect()
            }
            None => {
                let mut probes = Vec::with_capacity(self.inputs.len());
                for (i, b) in self.inputs.iter().enumerate() {
                    if !b.elem.is_float() {
                        return Verdict::Unchecked("no run to take probe inputs from".into());
                    }
                    let Some(dims) = &generic.input_dims[i] else {
                        return Verdict::Unchecked(format!("input {:?} has a dynamic rank", b.name));
                    };
                    let dims = dims.iter().map(|d| d.unwrap_or(1)).collect();
                    probes.push(Probe { name: b.name.clone(), elem: b.elem, dims, data: None });
                }
                probes
            }
        };
        let imported = match self.target.core.import(blob.clone(), &self.target.device, &self.target.properties) {
            Ok(m) => m,
            Err(e) => return Verdict::Differs(format!("OpenVINO cannot import it: {e}")),
        };
        let outputs: Vec<(CString, DataType)> = self.outputs.iter().map(|b| (b.name.clone(), b.elem)).collect();
        compare_models(&generic.model, &imported, &probes, &outputs)
    }

    /// A cache write of this executable is scheduled: until the ticket is dropped, `settle` waits.
    pub fn write_ticket(&self) -> WriteTicket {
        self.writes.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        WriteTicket(self.writes.clone())
    }

    /// Whether the session is ending (scheduled cache writes should start now).
    pub fn is_settling(&self) -> bool {
        self.settling.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The session is ending, and ORT frees the weights OpenVINO reads from right after:
    /// start no more specializations, and wait (bounded) for the specialization and the cache
    /// writes in flight (the write's report goes to the session's logger, which goes too).
    pub fn settle(&self, timeout: std::time::Duration) {
        self.settling.store(true, std::sync::atomic::Ordering::Release);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            // The placement lock is never taken under the shape lock (`after_run` takes them the
            // other way round).
            let building = self.placement_building();
            {
                let mut st = self.shapes.lock().unwrap_or_else(|e| e.into_inner());
                st.closing = true;
                if !st.pending && self.writes.load(std::sync::atomic::Ordering::Acquire) == 0 && !building {
                    return;
                }
            }
            if std::time::Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// The compiled model serving every shape (to share with other sessions).
    pub fn generic_model(&self) -> Option<Arc<CompiledModel>> {
        self.generic.as_ref().map(|g| g.model.clone())
    }

    /// Whether a run has finished (successfully or not).
    pub fn has_run(&self) -> bool {
        self.ran.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Run once: inputs are read in place from ORT, outputs written into ORT's buffers.
    pub fn run(self: &Arc<Self>, ctx: &KernelContext) -> Result<()> {
        let result = self.run_once(ctx);
        self.ran.store(true, std::sync::atomic::Ordering::Release);
        result
    }

    fn run_once(self: &Arc<Self>, ctx: &KernelContext) -> Result<()> {
        let call = std::time::Instant::now();
        let mut data = Vec::with_capacity(self.inputs.len());
        for b in &self.inputs {
            let t = ctx
                .input(b.kernel_index)?
                .ok_or_else(|| Error::ep_fail(format!("{}: input {} is missing", self.name, b.kernel_index)))?;
            if DataType::from_onnx(t.elem) != Some(b.elem) {
                return Err(Error::ep_fail(format!(
                    "{}: input {} has element type {} but OpenVINO expects {}",
                    self.name,
                    b.kernel_index,
                    t.elem,
                    b.elem.name()
                )));
            }
            data.push(t);
        }
        let shapes: Vec<Vec<i64>> = data.iter().map(|t| t.dims.clone()).collect();
        // A load first: every run reads the flag, only the first after a cache write writes it.
        if self.probe_wanted.load(std::sync::atomic::Ordering::Acquire)
            && self.probe_wanted.swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            let copy = data.iter().map(|t| (t.dims.clone(), t.as_bytes().to_vec())).collect();
            *self.first_inputs.lock().unwrap_or_else(|e| e.into_inner()) = Some(copy);
        }
        // A trial run's cycle (from its call to this one) has ended: it counts now, before this
        // run is placed.
        if let Some((start, side, run_us)) = self.trial_cycle.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let cycle_us = call.duration_since(start).as_micros() as u64;
            self.after_run(&shapes, side, Timed::Trial { cycle_us, run_us }, ctx);
        }
        let (cpu, trial_run) = self.placed(&shapes);
        if let Some(cpu) = cpu {
            let started = std::time::Instant::now();
            match self.run_on_cpu(&cpu, ctx) {
                Ok(()) => {
                    let us = started.elapsed().as_micros() as u64;
                    self.ran_on(Side::CpuEp, trial_run, call, us, &shapes, ctx);
                    return Ok(());
                }
                // The CPU session's ONNX form may be narrower than the fused node (e.g. input
                // shapes learned from the first run): OpenVINO serves this run and all later ones.
                Err(e) => self.back_to_openvino(&e),
            }
        }
        let (compiled, served) = self.compiled_for(&shapes, ctx)?;
        let mut request = compiled.take_request()?;
        let started = std::time::Instant::now();
        let result = self.infer(&compiled, &mut request, ctx, &data);
        let us = started.elapsed().as_micros() as u64;
        if result.is_ok() && served != Served::Other {
            self.observe(&shapes, served, us);
        }
        if result.is_ok() {
            self.ran_on(Side::OpenVino, trial_run, call, us, &shapes, ctx);
        }
        // A request whose run failed may hold half-set state: drop it rather than reuse it.
        if result.is_ok() {
            compiled.give_back(request);
        }
        result
    }

    fn infer(
        &self,
        compiled: &Compiled,
        request: &mut InferRequest,
        ctx: &KernelContext,
        data: &[crate::ort::graph::TensorData],
    ) -> Result<()> {
        // The tensors only borrow ORT's buffers; they must stay alive until infer returns.
        let mut held = Vec::with_capacity(self.inputs.len() + self.outputs.len());
        for (i, (b, t)) in self.inputs.iter().zip(data).enumerate() {
            let ov_type = element::to_ov(b.elem).expect("bound types map to OpenVINO");
            // SAFETY: ORT's input buffer outlives this Compute call; OpenVINO only reads it.
            let tensor = unsafe { Tensor::borrow_host(ov_type, &t.dims, t.data as *mut u8)? };
            request.set_tensor(&b.name, &tensor).map_err(|e| {
                e.context(format!("input of shape {:?} (compiled for {:?})", t.dims, compiled.input_dims[i]))
            })?;
            held.push(tensor);
        }
        // Outputs of known shape are bound to ORT's buffers; `direct[j]` is the buffer.
        let mut direct: Vec<Option<*mut u8>> = vec![None; self.outputs.len()];
        for (j, b) in self.outputs.iter().enumerate() {
            if let Some(dims) = &compiled.output_dims[j] {
                let (ptr, _) = ctx.output(b.kernel_index, dims)?;
                let ov_type = element::to_ov(b.elem).expect("bound types map to OpenVINO");
                // SAFETY: ORT allocated this output buffer with exactly these dims for this call.
                let tensor = unsafe { Tensor::borrow_host(ov_type, dims, ptr)? };
                request.set_tensor(&b.name, &tensor)?;
                held.push(tensor);
                direct[j] = Some(ptr);
            }
        }
        request.infer()?;
        for (j, b) in self.outputs.iter().enumerate() {
            let t = request.tensor(&b.name)?;
            // OpenVINO may answer with another tensor than the one bound (an output that is
            // an input passed through): then its data is copied like an unbound output's.
            if let Some(ptr) = direct[j] {
                if std::ptr::eq(t.data_ptr()?, ptr) || compiled.output_dims[j].as_ref().is_some_and(|d| d.contains(&0))
                {
                    continue;
                }
            }
            // Shape known only after inference, or another buffer: copy out once.
            let dims = t.dims()?;
            let src = t.bytes()?;
            let (dst, bytes) = ctx.output(b.kernel_index, &dims)?;
            if bytes != src.len() {
                return Err(Error::ep_fail(format!(
                    "{}: output {j} is {} bytes but ORT allocated {bytes}",
                    self.name,
                    src.len()
                )));
            }
            if bytes > 0 {
                // SAFETY: `dst` has `bytes` writable bytes (ORT just allocated them).
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, bytes) };
            }
        }
        drop(held);
        Ok(())
    }
}

/// `onnx` with the named graph inputs given exact static shapes.
fn with_input_shapes(onnx: &[u8], names: &[&str], shapes: &[Vec<i64>]) -> Result<Vec<u8>> {
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
