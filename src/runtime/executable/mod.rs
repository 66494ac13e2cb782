//! One fused subgraph ready to run: the OpenVINO model, its compiled form(s) and a pool of
//! infer requests, so concurrent `Run` calls on one session each get their own request.
//!
//! Every model is compiled once as converted, at session creation, and serves every input
//! shape from the first run on (no compile on the first inference). For models with dynamic
//! inputs, a shape seen again gets a static, shape-specialized compile in the background,
//! kept in a bounded LRU (`max_cached_shapes`): frequent shapes run at static speed, and
//! memory stays bounded however many shapes a user sends. The first specialization is a
//! trial: if it is not clearly faster than the generic model, the model gets no more.
//!
//! Here: the subgraph, its compiled models and requests, a run, and what the cache asks of it
//! (export, the export check, the session's end). `specialize`: the shape specializations.
//! `placing`: measured placement's part of a run (which side computes it, the trial's
//! bookkeeping, the CPU session).

use std::ffi::CString;
use std::sync::{Arc, Mutex};

use crate::bail;
use crate::cache::Blob;
use crate::error::{Error, Result};
use crate::onnx::dtype::DataType;
use crate::onnx::export::ExportedSubgraph;
use crate::ort::kernel::KernelContext;
use crate::ov::compiled::{CompiledModel, InferRequest};
use crate::ov::core::Core;
use crate::ov::element;
use crate::ov::model::{Model, Port};
use crate::ov::tensor::Tensor;

use super::export_check::{compare_models, Probe, Verdict};
use super::placement::Side;
use super::weight_copy::WeightCopy;

mod kernel_cache;
mod placing;
mod specialize;

pub use placing::PlacedHook;
use placing::{Placement, Timed};
use specialize::{Served, ShapeState};

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
    /// The properties of a dynamic model whose input shapes recur: a bigger CPU kernel cache
    /// (`kernel_cache`). None: the size stays (a GPU, or one the user chose).
    pub grown_properties: Option<Vec<(String, String)>>,
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
    /// dynamic rank): then each new shape is specialized before it runs. Replaced once, by
    /// the same model with a bigger CPU kernel cache, if its input shapes recur (`kernel_cache`).
    generic: Mutex<Option<Arc<Compiled>>>,
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
    /// What placement or the kernel cache's growth did, for the session's log (`take_report`).
    report: Mutex<Option<String>>,
    /// Called once if placement hands the subgraph to ORT's kernels (`when_placed_on_cpu_ep`).
    on_cpu_ep: Mutex<Option<PlacedHook>>,
    /// The last trial run's call time, side and own run time: its cycle ends at the next call
    /// (`ran_on`).
    trial_cycle: Mutex<Option<(std::time::Instant, Side, u64)>>,
}

/// A scheduled cache write (see `Executable::write_ticket`); dropping it marks the write done.
pub struct WriteTicket(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for WriteTicket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
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
        let shapes = Mutex::new(ShapeState::new(target.max_cached_shapes));
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
            generic: Mutex::new(generic),
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

    /// The fused-node inputs OpenVINO reads, in the fused node's order.
    pub fn input_names(&self) -> Vec<String> {
        let mut bound: Vec<&Binding> = self.inputs.iter().collect();
        bound.sort_by_key(|b| b.kernel_index);
        bound.iter().map(|b| b.name.to_string_lossy().into_owned()).collect()
    }

    /// The generic compiled model in OpenVINO's export format (None when there is no
    /// generic model: every shape is specialized).
    pub fn export_generic(&self) -> Result<Option<Blob>> {
        let Some(generic) = self.generic() else { return Ok(None) };
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
        let Some(generic) = self.generic() else { return Verdict::Unchecked("no generic model".into()) };
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
                let idle = self.shapes.lock().unwrap_or_else(|e| e.into_inner()).close();
                if idle && self.writes.load(std::sync::atomic::Ordering::Acquire) == 0 && !building {
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
        self.generic().map(|g| g.model.clone())
    }

    /// The compiled model serving every shape it accepts.
    fn generic(&self) -> Option<Arc<Compiled>> {
        self.generic.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What measured placement decided, or the kernel cache's growth did, since the last call,
    /// for the session's log.
    pub fn take_report(&self) -> Option<String> {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Leave `message` for the session's log, which takes it after the next run (`take_report`).
    fn report(&self, message: String) {
        *self.report.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
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
