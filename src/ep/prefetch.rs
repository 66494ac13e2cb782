//! Fast start's head start: importing a context model's compiled blobs while ORT loads it.
//!
//! Once `ovep_fast_start_path` has found a model's kept EPContext model, the host's next step
//! is a session on it, and ORT spends 10-15 ms loading and partitioning that model before
//! ovep's Compile asks OpenVINO to import each blob (the import is most of a fast start: 62
//! ms of MobileNetV2-like's ~100 ms after `import onnxruntime`). So the import starts then, on
//! a background thread, with the same checks Compile makes (OpenVINO build, device, the blob's
//! checksum) and the properties the session will use; Compile takes the imported model from
//! here, waiting for it if it is still on its way. Anything that does not match exactly
//! (other options, another device, a failed check) is simply not taken: Compile imports as it
//! would have, and reports any error itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use prost::Message;

use super::context::{self, Identity};
use super::options::{Options, PREFIX};
use crate::cache::resolve_dir;
use crate::error::{Error, Result};
use crate::onnx::proto::ModelProto;
use crate::ov::compiled::CompiledModel;
use crate::ov::core::core;
use crate::runtime::background;

/// An import no session took within this long is dropped, at the next start (its session
/// never came).
const UNCLAIMED: Duration = Duration::from_secs(120);

/// One blob's import: None while under way, then its model (None: it failed or was skipped).
struct Slot {
    result: Mutex<Option<Option<Arc<CompiledModel>>>>,
    done: Condvar,
    started: Instant,
}

impl Slot {
    fn finish(&self, model: Option<Arc<CompiledModel>>) {
        *self.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(model);
        self.done.notify_all();
    }

    fn is_done(&self) -> bool {
        self.result.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

/// Imports by the key Compile shares compiled models under (`context::shared_key`).
static SLOTS: Mutex<Option<HashMap<String, Arc<Slot>>>> = Mutex::new(None);

fn slots() -> std::sync::MutexGuard<'static, Option<HashMap<String, Arc<Slot>>>> {
    SLOTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The compiled model imported ahead under `key`, waiting for an import still under way
/// (None: nothing was imported ahead under that key, or the import failed).
pub fn take(key: &str) -> Option<Arc<CompiledModel>> {
    let slot = slots().as_mut()?.remove(key)?;
    let mut result = slot.result.lock().unwrap_or_else(|e| e.into_inner());
    while result.is_none() {
        result = slot.done.wait(result).unwrap_or_else(|e| e.into_inner());
    }
    result.take().flatten()
}

/// Start importing the blobs of the context model at `context_model` as a session with the
/// ovep options in `options_key` ("key=value" lines, as the Python package writes them) on
/// `device` will. Best effort: a key that is not such lines, or any failure, imports nothing.
///
/// What to import is registered before this returns (reading the context model, which fast
/// start writes with its blobs beside it, costs about a millisecond), so a session created
/// right after finds it; the imports run on a background thread.
pub fn start(context_model: &Path, device: &str, options_key: &str, cache_dir: Option<&str>) {
    let Some(mut options) = parse_options_key(options_key) else { return };
    options.cache_dir = cache_dir.map(str::to_string);
    let device = options.device_type.clone().unwrap_or(device.to_string());
    let Ok(work) = register(context_model, &device, &options) else { return };
    if work.jobs.is_empty() {
        return;
    }
    background::spawn("prefetch", move || {
        let Work { core, device, properties, dir, jobs } = work;
        let _unfinished = Unfinished(jobs.iter().map(|j| j.slot.clone()).collect());
        for job in jobs {
            let imported = context::blob_from(&job.name, job.embedded, &job.context, &job.notes, Some(&dir))
                .and_then(|blob| core.import(blob, &device, &properties));
            job.slot.finish(imported.ok().map(Arc::new));
        }
    });
}

/// The options a session would parse from the entries `options_key` stands for.
fn parse_options_key(options_key: &str) -> Option<Options> {
    let entries: Option<Vec<(String, String)>> = options_key
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_once('=').map(|(k, v)| (format!("{PREFIX}{}", k.trim()), v.to_string())))
        .collect();
    Options::from_config(&entries?).ok()
}

/// The imports one context model needs, their slots registered.
struct Work {
    core: Arc<crate::ov::core::Core>,
    device: String,
    properties: Vec<(String, String)>,
    dir: PathBuf,
    jobs: Vec<Job>,
}

/// One ovep EPContext node's blob to import.
struct Job {
    slot: Arc<Slot>,
    name: String,
    embedded: bool,
    context: Vec<u8>,
    notes: context::Notes,
}

/// Finishes, with nothing, the slots its imports did not finish (a panic in one must not
/// leave a session waiting).
struct Unfinished(Vec<Arc<Slot>>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        self.0.iter().filter(|s| !s.is_done()).for_each(|s| s.finish(None));
    }
}

/// Read the context model and register a slot for each of ovep's nodes that passes Compile's
/// checks of its notes (OpenVINO build, device).
fn register(context_model: &Path, device: &str, options: &Options) -> Result<Work> {
    let core = core(options.openvino_library.as_deref())?;
    let identity = Identity::of(&core, device);
    let cache_root = resolve_dir(options.cache_dir.as_deref(), |k| std::env::var_os(k));
    let properties = super::provider::session_properties(options, device, &core, &identity, cache_root.as_deref());
    let bytes = std::fs::read(context_model).map_err(|e| Error::ep_fail(e.to_string()))?;
    let model = ModelProto::decode(bytes.as_slice()).map_err(|e| Error::ep_fail(e.to_string()))?;
    let dir = context_model.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let mut jobs = Vec::new();
    let mut guard = slots();
    let map = guard.get_or_insert_with(HashMap::new);
    map.retain(|_, s| !(s.is_done() && s.started.elapsed() > UNCLAIMED));
    for node in model.graph.iter().flat_map(|g| g.node.iter()) {
        let ours = context::written_by_ovep(&node.op_type, &node.domain, node.attr("source").map(|a| a.s.as_slice()));
        let Some(ctx) = node.attr("ep_cache_context").filter(|_| ours) else { continue };
        let Ok(notes) = context::check_notes(&node.name, node.attr("notes").map(|a| a.s.as_slice()), &identity) else {
            continue;
        };
        let key = context::shared_key(&notes, device, &properties);
        if map.contains_key(&key) || crate::runtime::shared::MODELS.get(&key).is_some() {
            continue; // already on its way, or held by a session that later ones share it with
        }
        let slot = Arc::new(Slot { result: Mutex::new(None), done: Condvar::new(), started: Instant::now() });
        map.insert(key, slot.clone());
        let embedded = context::embedded(node.attr("embed_mode").map(|a| a.i));
        jobs.push(Job { slot, name: node.name.clone(), embedded, context: ctx.s.clone(), notes });
    }
    Ok(Work { core, device: device.to_string(), properties, dir, jobs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_keys_parse_as_the_session_would() {
        let o = parse_options_key("num_threads=2\nprecision=bf16").expect("valid lines");
        assert_eq!(o.num_threads, 2);
        assert_eq!(o, parse_options_key("precision=bf16\n\nnum_threads=2\n").unwrap(), "order and blank lines");
        assert_eq!(parse_options_key(""), Some(Options::default()));
        assert!(parse_options_key("some opaque text").is_none(), "a C host's own key imports nothing");
        assert!(parse_options_key("no_such_option=1").is_none());
    }

    #[test]
    fn nothing_imported_ahead_is_nothing_taken() {
        assert!(take("epcontext:none").is_none());
    }
}
