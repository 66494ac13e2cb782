//! ovep's use of the compiled-model cache (`crate::cache`): what is keyed, what is stored,
//! and the warm and cold paths around GetCapability/Compile.
//!
//! - The *graph key* hashes the whole graph ORT hands GetCapability: its ONNX structure
//!   (weight addresses stripped), every constant's bytes, the OpenVINO build, the device and
//!   its full name, the compile properties, the partitioning option, ORT's API version (the
//!   partition depends on the host) and ovep's version. Its
//!   entry holds the partition ovep chose (JSON). Never a path or an mtime: other weights of
//!   the same size are another key.
//! - Each claimed group's compiled blob is stored under a key derived from the graph key.
//! - Warm: the partition is claimed as stored and Compile imports the blobs: no frontend,
//!   no compile. Cold: the usual plan; after Compile the blobs and then the partition are
//!   written on a background thread (the partition last, so it never points at missing
//!   blobs). Anything wrong with an entry means one warning and the cold path.
//! - A blob is kept only if it imports to a model computing the same (`export_check`); a
//!   group whose export does not is stored without a blob and compiled at each start.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::context::Identity;
use crate::cache::{hash_each, resolve_dir, Blob, Key, KeyBuilder, Lookup, Store};
use crate::error::Result;
use crate::onnx::export::{export_subgraph, without_addresses};
use crate::ort::logger::Logger;
use crate::ov::compiled::CompiledModel;
use crate::partition::snapshot::GraphSnapshot;
use crate::runtime::background;
use crate::runtime::executable::{CompileTarget, Executable};
use crate::runtime::export_check::Verdict;

/// Longest a cold start's cache write waits for the first inference.
const WRITE_DELAY_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Compile properties that say where or how much to keep, or how threads are placed, not what
/// is compiled: moving a cache or changing `cpu_kernel_cache` must not change its keys.
/// (OpenVINO's CPU import takes `CPU_RUNTIME_CACHE_CAPACITY` and `ENABLE_CPU_PINNING` from its
/// caller, not from the blob: checked on 2026.4.)
const KEY_EXCLUDED_PROPERTIES: &[&str] = &["CACHE_DIR", "CPU_RUNTIME_CACHE_CAPACITY", "ENABLE_CPU_PINNING"];

/// The compile properties a key covers.
fn keyed_properties(props: &[(String, String)]) -> impl Iterator<Item = &(String, String)> {
    props.iter().filter(|(n, _)| !KEY_EXCLUDED_PROPERTIES.contains(&n.as_str()))
}

/// Device properties that identify what a blob was compiled for (read when the device has them):
/// the NPU's blobs depend on its driver and compiler, a GPU's on its driver.
pub const DEVICE_KEY_PROPERTIES: &[&str] =
    &["FULL_DEVICE_NAME", "DEVICE_ARCHITECTURE", "GPU_DRIVER_VERSION", "NPU_DRIVER_VERSION", "NPU_COMPILER_VERSION"];

/// Bump when what a key covers or what an entry holds changes meaning.
const SCHEME: &str = "ovep-compiled-cache/1";

/// One claimed group as stored with the partition.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CachedGroup {
    /// `partition::plan::group_key` of the group: identifies its nodes.
    pub group: String,
    /// Key of the group's compiled blob; None when OpenVINO's export of it does not import
    /// to the same results (`runtime::export_check`): it is compiled at each start.
    pub blob: Option<String>,
    /// Measured placement found ORT's CPU kernels clearly faster for this group on this
    /// device (`runtime::placement`): later sessions leave its nodes to ORT, unclaimed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cpu_ep: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CachedPartition {
    pub groups: Vec<CachedGroup>,
}

pub struct BlobCache {
    store: Store,
    logger: Logger,
    /// Cleared when the session ends: a pending cache write need not wait for a first run.
    session_open: std::sync::atomic::AtomicBool,
}

impl BlobCache {
    /// The cache for a session, or None when it is off or cannot be used (one warning).
    pub fn open(option: Option<&str>, max_bytes: u64, logger: Logger) -> Option<Arc<BlobCache>> {
        let dir: PathBuf = resolve_dir(option, |k| std::env::var_os(k))?;
        match Store::open(&dir, max_bytes) {
            Ok(store) => Some(Arc::new(BlobCache { store, logger, session_open: true.into() })),
            Err(e) => {
                logger.warn(&format!("ovep: compiled-model cache off for this session: {e}"));
                None
            }
        }
    }

    /// The cache directory.
    pub fn root(&self) -> &std::path::Path {
        self.store.root()
    }

    /// The graph key, or None when the graph cannot be keyed (it is then simply not cached).
    pub fn graph_key(&self, snap: &GraphSnapshot, target: &CompileTarget, min_subgraph_nodes: usize) -> Option<Key> {
        let all: Vec<usize> = (0..snap.nodes.len()).collect();
        let structure = export_subgraph(snap, &all).and_then(|e| without_addresses(&e.onnx)).ok()?;
        let mut constants: Vec<(&String, &[u8])> =
            snap.values.iter().filter_map(|(n, v)| Some((n, v.constant.as_ref()?.as_bytes()))).collect();
        constants.sort_unstable_by_key(|&(n, _)| n);
        let hashes = hash_each(&constants.iter().map(|&(_, b)| b).collect::<Vec<_>>());
        let mut weights = blake3::Hasher::new();
        for ((name, bytes), hash) in constants.iter().zip(&hashes) {
            weights.update(&(name.len() as u64).to_le_bytes()).update(name.as_bytes());
            weights.update(&(bytes.len() as u64).to_le_bytes()).update(hash.as_bytes());
        }
        let core = &target.core;
        let mut k = KeyBuilder::new();
        k.str("scheme", SCHEME)
            .str("ovep", env!("CARGO_PKG_VERSION"))
            .str("openvino", &core.version)
            .str("device", &target.device);
        for &property in DEVICE_KEY_PROPERTIES {
            let base = target.device.split([':', ',']).next().unwrap_or("");
            if let Ok(v) = core.property(base, property) {
                k.str(property, &v);
            }
        }
        let mut props = target.properties.clone();
        props.sort();
        for (name, value) in keyed_properties(&props) {
            k.str(name, value);
        }
        // The partition depends on the host ORT too: ORT 1.23 cannot take some groups newer ORT can.
        k.u64("ort_api", crate::ort::api::ort().api_version as u64)
            .u64("min_subgraph_nodes", min_subgraph_nodes as u64)
            .bytes("graph", &structure)
            .bytes("weights", weights.finalize().as_bytes());
        Some(k.key())
    }

    /// Key of one group's compiled blob.
    pub fn group_key(graph: &Key, group: &str) -> Key {
        let mut k = KeyBuilder::new();
        k.str("graph", &graph.to_hex()).str("group", group);
        k.key()
    }

    /// Partitions compiled by this process's sessions, by graph key: a second session finds
    /// its partition here (and its compiled models in `runtime::shared`) before it is on disk.
    fn in_process() -> &'static std::sync::Mutex<std::collections::HashMap<Key, CachedPartition>> {
        static MAP: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<Key, CachedPartition>>> =
            std::sync::OnceLock::new();
        MAP.get_or_init(Default::default)
    }

    /// Held while a partition is stored or marked: a mark cannot fall between a write reading
    /// this process's marks and its partition reaching the store.
    fn partition_writes() -> std::sync::MutexGuard<'static, ()> {
        static WRITES: std::sync::Mutex<()> = std::sync::Mutex::new(());
        WRITES.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this process's partition for `graph` marks `group` for ORT's CPU kernels.
    fn on_cpu_ep(graph: &Key, group: &str) -> bool {
        Self::in_process()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(graph)
            .is_some_and(|p| p.groups.iter().any(|g| g.group == group && g.cpu_ep))
    }

    /// Measured placement handed `group` of `graph` to ORT's CPU kernels: later sessions leave
    /// it to ORT. The mark goes into this process's partition (which a partition still being
    /// written takes it from) and into the stored one, if already written. Both happen under
    /// `partition_writes`, so a partition being written either reads the mark or is found
    /// stored here.
    pub fn mark_cpu_ep(&self, graph: &Key, group: &str, identity: &Identity) -> Result<()> {
        let _writes = Self::partition_writes();
        let mark = |p: &mut CachedPartition| {
            p.groups.iter_mut().filter(|g| g.group == group).for_each(|g| g.cpu_ep = true);
        };
        if let Some(p) = Self::in_process().lock().unwrap_or_else(|e| e.into_inner()).get_mut(graph) {
            mark(p);
        }
        let Some(hit) = self.lookup(graph) else { return Ok(()) };
        let Ok(mut stored) = serde_json::from_slice::<CachedPartition>(&hit) else { return Ok(()) };
        if stored.groups.iter().all(|g| g.group != group || g.cpu_ep) {
            return Ok(());
        }
        mark(&mut stored);
        // The store never overwrites an entry (concurrent writers each leave one valid copy), so
        // the old one goes first: a process reading in between misses and plans again, no worse.
        self.store.remove(graph)?;
        self.store_partition(graph, &stored, identity)
    }

    /// Remember the partition a cold start chose for `graph` (its groups' blob keys follow).
    pub fn remember_partition(&self, graph: &Key, groups: Vec<String>) {
        let groups = groups
            .into_iter()
            .map(|g| CachedGroup {
                blob: Some(Self::group_key(graph, &g).to_hex()),
                cpu_ep: Self::on_cpu_ep(graph, &g),
                group: g,
            })
            .collect();
        Self::in_process().lock().unwrap_or_else(|e| e.into_inner()).insert(*graph, CachedPartition { groups });
    }

    /// The partition stored for a graph, if any.
    pub fn partition(&self, key: &Key) -> Option<CachedPartition> {
        if let Some(p) = Self::in_process().lock().unwrap_or_else(|e| e.into_inner()).get(key) {
            return Some(p.clone());
        }
        let hit = self.lookup(key)?;
        match serde_json::from_slice(&hit) {
            Ok(p) => Some(p),
            Err(e) => {
                self.logger.warn(&format!("ovep: cache entry {key} is not a partition ({e}); rebuilding it"));
                let _ = self.store.remove(key);
                None
            }
        }
    }

    /// Drop an entry that turned out not to fit (it is written again by the cold path).
    pub fn forget(&self, key: &Key) {
        Self::in_process().lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        let _ = self.store.remove(key);
    }

    /// A group's compiled model, imported from its verified blob.
    pub fn compiled(&self, key: &Key, target: &CompileTarget) -> Option<CompiledModel> {
        let blob = self.lookup(key)?;
        match target.core.import(blob, &target.device, &target.properties) {
            Ok(c) => Some(c),
            Err(e) => {
                // A verified blob OpenVINO will not take (another build behind the same
                // version string?): drop it so it is rebuilt.
                self.logger.warn(&format!("ovep: cache entry {key} could not be imported ({e}); rebuilding it"));
                let _ = self.store.remove(key);
                None
            }
        }
    }

    fn lookup(&self, key: &Key) -> Option<Blob> {
        match self.store.load(key) {
            Ok(Lookup::Hit(hit)) => Some(hit.blob),
            Ok(Lookup::Miss) => None,
            Ok(Lookup::Discarded { reason, .. }) => {
                self.logger.warn(&format!("ovep: ignored a bad cache entry ({reason}); rebuilding it"));
                None
            }
            Err(e) => {
                self.logger.warn(&format!("ovep: could not read the compiled-model cache: {e}"));
                None
            }
        }
    }

    /// The session ended.
    pub fn session_ended(&self) {
        self.session_open.store(false, std::sync::atomic::Ordering::Release);
    }

    /// Cold path: export each group's compiled model and store it, then the partition, on a
    /// background thread. A cache that cannot be written costs one warning.
    ///
    /// Exporting (OpenVINO serializes the model from the weights it was converted from: ORT's
    /// memory) and writing wait for the session's first inference, so they do not take a core
    /// from it, or start at once when the session or the process ends. The session's end
    /// waits for the whole write (`Executable::settle`): ORT frees those weights, and the
    /// logger the outcome is reported to, right after.
    pub fn save(self: &Arc<Self>, graph: Key, groups: Vec<(String, Arc<Executable>)>, identity: Identity) {
        let me = self.clone();
        let tickets: Vec<_> = groups.iter().map(|(_, e)| e.write_ticket()).collect();
        for (_, exe) in &groups {
            exe.want_probe();
        }
        background::spawn("cache-write", move || {
            background::wait_for(WRITE_DELAY_LIMIT, || {
                groups.iter().all(|(_, e)| e.has_run() || e.is_settling())
                    || !me.session_open.load(std::sync::atomic::Ordering::Acquire)
            });
            let mut blobs = Vec::with_capacity(groups.len());
            for (group, exe) in &groups {
                match exe.export_generic() {
                    Ok(Some(blob)) => match exe.check_export(&blob) {
                        Verdict::Same => blobs.push((group.clone(), Some(blob))),
                        Verdict::Unchecked(why) => {
                            me.logger.verbose(&format!("ovep: {}: export not checked ({why})", exe.name));
                            blobs.push((group.clone(), Some(blob)));
                        }
                        Verdict::Differs(why) => {
                            me.logger.warn(&format!(
                                "ovep: OpenVINO's export of {} does not import to the same results ({why}); \
                                 it is compiled at each start instead of cached",
                                exe.name
                            ));
                            blobs.push((group.clone(), None));
                        }
                    },
                    Ok(None) => return, // compiled per shape only: nothing to cache
                    Err(e) => {
                        me.logger.warn(&format!("ovep: could not export {} for the cache: {e}", exe.name));
                        return;
                    }
                }
            }
            if let Err(e) = me.write(&graph, &blobs, &identity) {
                me.logger.warn(&format!("ovep: could not write the compiled-model cache (running uncached): {e}"));
            }
            // Written and reported while the session's logger is alive: the session may end.
            drop(tickets);
        });
    }

    fn write(&self, graph: &Key, groups: &[(String, Option<Blob>)], identity: &Identity) -> Result<()> {
        let mut blobs = Vec::new();
        for (group, blob) in groups {
            blobs.push(match blob {
                None => None,
                Some(blob) => {
                    let key = Self::group_key(graph, group);
                    let meta = entry_meta(identity, "group", group.chars().take(200).collect());
                    self.store.store(&key, blob, &[], &meta)?;
                    Some(key.to_hex())
                }
            });
        }
        // Placement marks are read last, under the lock `mark_cpu_ep` takes.
        let _writes = Self::partition_writes();
        let cached = groups
            .iter()
            .zip(blobs)
            .map(|((group, _), blob)| CachedGroup { group: group.clone(), blob, cpu_ep: Self::on_cpu_ep(graph, group) })
            .collect();
        self.store_partition(graph, &CachedPartition { groups: cached }, identity)?;
        self.logger.info(&format!("ovep: compiled-model cache written ({} subgraphs)", groups.len()));
        Ok(())
    }

    fn store_partition(&self, graph: &Key, partition: &CachedPartition, identity: &Identity) -> Result<()> {
        let bytes = serde_json::to_vec(partition).map_err(|e| crate::error::Error::ep_fail(e.to_string()))?;
        self.store.store(graph, &bytes, &[], &entry_meta(identity, "kind", "partition".to_string()))?;
        Ok(())
    }
}

/// An entry's metadata: what `ovep cache import` checks before taking it from another machine.
fn entry_meta(identity: &Identity, k: &str, v: String) -> BTreeMap<String, String> {
    BTreeMap::from([
        (k.to_string(), v),
        ("openvino".to_string(), identity.openvino.clone()),
        ("device".to_string(), identity.device.clone()),
        ("device_name".to_string(), identity.device_name.clone()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cover_what_is_compiled_not_where_the_cache_is() {
        let props = vec![
            ("CACHE_DIR".to_string(), "/home/u/.cache/ovep/gpu/ab".to_string()),
            ("INFERENCE_PRECISION_HINT".to_string(), "f32".to_string()),
            ("CPU_RUNTIME_CACHE_CAPACITY".to_string(), "256".to_string()),
            ("ENABLE_CPU_PINNING".to_string(), "NO".to_string()),
        ];
        let keyed: Vec<&str> = keyed_properties(&props).map(|(n, _)| n.as_str()).collect();
        assert_eq!(keyed, ["INFERENCE_PRECISION_HINT"]);
        assert!(
            DEVICE_KEY_PROPERTIES.contains(&"NPU_DRIVER_VERSION")
                && DEVICE_KEY_PROPERTIES.contains(&"NPU_COMPILER_VERSION")
        );
    }
}
