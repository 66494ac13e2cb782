//! Cache maintenance behind `ovep cache ...` (the CLI calls it through `capi`): list, stats,
//! verify, prune, and bundles to copy a cache to other machines. Covers both kinds of entry:
//! the blob store (`cache::Store`, what ORT sessions with ovep use) and the fast-start context
//! models (`<cache_dir>/ctx/<id>/`).
//!
//! A bundle is one tar file: `entries/<key>/{manifest.json,blob}` and `ctx/<id>/<files>`.
//! Import verifies every entry (checksums) and skips what cannot run here (another OpenVINO
//! build, or a device this machine does not have); it never overwrites what is there.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;
use serde_json::{json, Value};

use crate::cache::{resolve_dir, Key, Lookup, Manifest, Store, DEFAULT_MAX_BYTES};
use crate::ep::context::{self, Notes};
use crate::error::{Error, Result};
use crate::fast_start::{published_in, Published, CONTEXT_FILE};
use crate::onnx::proto::ModelProto;

fn err(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::ep_fail(format!("ovep cache: {what} {}: {e}", path.display()))
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The cache root (`cache_dir` as the option; None: the default location).
pub fn root(cache_dir: Option<&str>) -> Result<PathBuf> {
    resolve_dir(cache_dir, |k| std::env::var_os(k))
        .ok_or_else(|| Error::invalid_argument("ovep cache: the cache is off (cache_dir=\"\" or OVEP_CACHE_DIR=\"\")"))
}

/// One fast-start slot: a context model directory, or a model's `plain` mark.
struct Ctx {
    id: String,
    dir: PathBuf,
    bytes: u64,
    last_used: SystemTime,
    /// Only a `plain` mark: the model starts as a plain session (`fast_start::Slot::Plain`).
    plain: bool,
}

fn contexts(root: &Path) -> Result<Vec<Ctx>> {
    let dir = root.join("ctx");
    let Ok(read) = std::fs::read_dir(&dir) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for e in read.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        let published = if id.starts_with('.') { None } else { published_in(&e.path()) };
        let Some(published) = published else { continue };
        let plain = matches!(published, Published::Plain(_));
        let mut bytes = 0;
        for f in std::fs::read_dir(e.path()).map_err(|x| err("reading", &e.path(), x))?.flatten() {
            bytes += f.metadata().map_or(0, |m| m.len());
        }
        let last_used = std::fs::metadata(published.file()).and_then(|m| m.modified()).unwrap_or(UNIX_EPOCH);
        out.push(Ctx { id, dir: e.path(), bytes, last_used, plain });
    }
    out.sort_by_key(|c| c.last_used);
    Ok(out)
}

/// Why a fast-start context model cannot be used here (None: it can). Checks the model's
/// compatibility info and every ovep blob's checksum.
fn check_context(dir: &Path, here: Option<(&str, &[String])>) -> Option<String> {
    let path = dir.join(CONTEXT_FILE);
    // A plain mark holds no blob; its key already names the OpenVINO build and device.
    if let Some(Published::Plain(_)) = published_in(dir) {
        return None;
    }
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => return Some(format!("unreadable ({e})")),
    };
    let Ok(model) = ModelProto::decode(bytes.as_slice()) else { return Some("not an ONNX model".into()) };
    if let Some((openvino, devices)) = here {
        let info = model.metadata_props.iter().find(|p| p.key == "ep_compatibility_info.OvepExecutionProvider");
        if !info.is_some_and(|i| context::info_fits(&i.value, openvino, devices)) {
            return Some("compiled for another OpenVINO build or device".into());
        }
    }
    for node in model.graph.iter().flat_map(|g| g.node.iter()).filter(|n| n.op_type == context::OP_TYPE) {
        let notes: Option<Notes> = node.attr("notes").and_then(|a| serde_json::from_slice(&a.s).ok());
        let (Some(notes), Some(ctx)) = (notes, node.attr("ep_cache_context")) else { continue };
        let embedded = context::embedded(node.attr("embed_mode").map(|a| a.i));
        if let Err(e) = context::blob_from(&node.name, embedded, &ctx.s, &notes, Some(dir)) {
            return Some(e.message);
        }
    }
    None
}

/// OpenVINO's build and the full names of this machine's devices.
fn here() -> Result<(String, Vec<String>)> {
    let core = crate::ov::core::core(None)?;
    Ok((core.version.clone(), context::local_device_names(&core)?))
}

pub fn ls(root: &Path) -> Result<Value> {
    let store = Store::open(root, DEFAULT_MAX_BYTES)?;
    let entries: Vec<Value> = store
        .list()?
        .into_iter()
        .map(|e| {
            json!({"key": e.key.to_hex(), "bytes": e.disk_bytes, "created_ms": unix_ms(e.created),
                   "last_used_ms": unix_ms(e.last_used), "metadata": e.metadata})
        })
        .collect();
    let ctx: Vec<Value> = contexts(root)?
        .into_iter()
        .map(|c| json!({"id": c.id, "bytes": c.bytes, "last_used_ms": unix_ms(c.last_used), "plain": c.plain}))
        .collect();
    Ok(json!({"root": root, "entries": entries, "contexts": ctx}))
}

pub fn stats(root: &Path) -> Result<Value> {
    let s = Store::open(root, DEFAULT_MAX_BYTES)?.stats()?;
    let ctx = contexts(root)?;
    Ok(json!({"root": root, "entries": s.entries, "entry_bytes": s.bytes, "contexts": ctx.len(),
              "context_bytes": ctx.iter().map(|c| c.bytes).sum::<u64>()}))
}

/// Check everything; remove what is damaged.
pub fn verify(root: &Path) -> Result<Value> {
    let report = Store::open(root, DEFAULT_MAX_BYTES)?.verify_all()?;
    let (mut ok, mut removed) = (0, Vec::new());
    for c in contexts(root)? {
        match check_context(&c.dir, None) {
            None => ok += 1,
            Some(why) => {
                let _ = std::fs::remove_dir_all(&c.dir);
                removed.push(json!({"id": c.id, "reason": why}));
            }
        }
    }
    let discarded: Vec<Value> =
        report.discarded.iter().map(|(k, why)| json!({"key": k.to_hex(), "reason": why})).collect();
    Ok(json!({"valid": report.valid, "discarded": discarded, "contexts_valid": ok, "contexts_removed": removed}))
}

/// Remove least recently used entries and context models until both fit in `max_bytes`.
pub fn prune(root: &Path, max_bytes: u64) -> Result<Value> {
    let store = Store::open(root, DEFAULT_MAX_BYTES)?;
    enum Item {
        Entry(Key),
        Ctx(PathBuf),
    }
    let mut items: Vec<(SystemTime, u64, Item)> = Vec::new();
    for e in store.list()? {
        items.push((e.last_used, e.disk_bytes, Item::Entry(e.key)));
    }
    for c in contexts(root)? {
        items.push((c.last_used, c.bytes, Item::Ctx(c.dir)));
    }
    items.sort_by_key(|i| i.0);
    let mut total: u64 = items.iter().map(|i| i.1).sum();
    let (mut removed, mut freed) = (0, 0);
    for (_, bytes, item) in items {
        if total <= max_bytes {
            break;
        }
        match item {
            Item::Entry(k) => {
                store.remove(&k)?;
            }
            Item::Ctx(d) => std::fs::remove_dir_all(&d).map_err(|e| err("removing", &d, e))?,
        }
        total -= bytes;
        freed += bytes;
        removed += 1;
    }
    Ok(json!({"removed": removed, "freed_bytes": freed, "remaining_bytes": total}))
}

/// Write every valid entry and context model into one bundle file.
pub fn export(root: &Path, bundle: &Path) -> Result<Value> {
    let store = Store::open(root, DEFAULT_MAX_BYTES)?;
    let tmp = bundle.with_extension(format!("partial{}", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(|e| err("creating", &tmp, e))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    let add = |tar: &mut tar::Builder<_>, path: String, data: &[u8]| -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_cksum();
        tar.append_data(&mut h, &path, data).map_err(|e| err("writing", bundle, e))
    };
    let (mut entries, mut ctxs) = (0, 0);
    let result = (|| -> Result<()> {
        for e in store.list()? {
            let Lookup::Hit(hit) = store.peek(&e.key)? else { continue };
            let manifest = serde_json::to_vec(&hit.manifest).map_err(|x| Error::ep_fail(x.to_string()))?;
            add(&mut tar, format!("entries/{}/manifest.json", e.key.to_hex()), &manifest)?;
            add(&mut tar, format!("entries/{}/blob", e.key.to_hex()), &hit.blob)?;
            entries += 1;
        }
        for c in contexts(root)? {
            if check_context(&c.dir, None).is_some() {
                continue;
            }
            for f in std::fs::read_dir(&c.dir).map_err(|e| err("reading", &c.dir, e))?.flatten() {
                let data = std::fs::read(f.path()).map_err(|e| err("reading", &f.path(), e))?;
                add(&mut tar, format!("ctx/{}/{}", c.id, f.file_name().to_string_lossy()), &data)?;
            }
            ctxs += 1;
        }
        let w = tar.into_inner().map_err(|e| err("writing", bundle, e))?;
        w.into_inner().map_err(|e| err("writing", bundle, e.error()))?.sync_all().map_err(|e| err("writing", bundle, e))
    })();
    match result.and_then(|()| std::fs::rename(&tmp, bundle).map_err(|e| err("writing", bundle, e))) {
        Ok(()) => Ok(json!({"bundle": bundle, "entries": entries, "contexts": ctxs})),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Take a bundle's entries and context models that are intact and can run here.
pub fn import(root: &Path, bundle: &Path) -> Result<Value> {
    let store = Store::open(root, DEFAULT_MAX_BYTES)?;
    let (openvino, devices) = here()?;
    let file = std::fs::File::open(bundle).map_err(|e| err("opening", bundle, e))?;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for item in tar::Archive::new(std::io::BufReader::new(file)).entries().map_err(|e| err("reading", bundle, e))? {
        let mut item = item.map_err(|e| err("reading", bundle, e))?;
        let path = item.path().map_err(|e| err("reading", bundle, e))?.to_string_lossy().into_owned();
        let mut data = Vec::new();
        item.read_to_end(&mut data).map_err(|e| err("reading", bundle, e))?;
        files.insert(path, data);
    }
    let (mut imported, mut skipped) = (0, Vec::new());
    let mut skip = |what: String, why: String| skipped.push(json!({"entry": what, "reason": why}));
    for (path, manifest) in files.iter().filter(|(p, _)| p.starts_with("entries/") && p.ends_with("/manifest.json")) {
        let hex = path.trim_start_matches("entries/").trim_end_matches("/manifest.json");
        let Ok(key) = Key::parse(hex) else { continue };
        let checked = (|| -> std::result::Result<(Manifest, &Vec<u8>), String> {
            let m = Manifest::parse_for(manifest, &key)?;
            let blob = files.get(&format!("entries/{hex}/blob")).ok_or("no blob")?;
            if crate::cache::hash_large(blob) != m.checksum()? || blob.len() as u64 != m.blob_size {
                return Err("blob does not match its checksum".into());
            }
            let meta = |k: &str| m.metadata.get(k).cloned().unwrap_or_default();
            if meta("openvino") != openvino {
                return Err(format!("compiled by OpenVINO {:?}, this is {openvino}", meta("openvino")));
            }
            if !devices.contains(&meta("device_name")) {
                return Err(format!("compiled for {:?}, not a device here", meta("device_name")));
            }
            Ok((m, blob))
        })();
        match checked {
            Ok((m, blob)) => {
                store.store(&key, blob, &m.key_fields, &m.metadata)?;
                imported += 1;
            }
            Err(why) => skip(hex.to_string(), why),
        }
    }
    let ctx_root = root.join("ctx");
    crate::cache::ensure_private_root(&ctx_root)?;
    let ids: std::collections::BTreeSet<&str> =
        files.keys().filter_map(|p| p.strip_prefix("ctx/")?.split('/').next()).collect();
    let mut ctx_imported = 0;
    for id in ids {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || ctx_root.join(id).exists() {
            continue;
        }
        let staging = ctx_root.join(format!(".import-{id}-{}", std::process::id()));
        std::fs::create_dir_all(&staging).map_err(|e| err("creating", &staging, e))?;
        let prefix = format!("ctx/{id}/");
        for (p, data) in files.iter().filter(|(p, _)| p.starts_with(&prefix)) {
            let name = &p[prefix.len()..];
            if name.contains('/') || name.starts_with('.') {
                continue;
            }
            std::fs::write(staging.join(name), data).map_err(|e| err("writing", &staging.join(name), e))?;
        }
        match check_context(&staging, Some((&openvino, &devices))) {
            None if std::fs::rename(&staging, ctx_root.join(id)).is_ok() => ctx_imported += 1,
            None => {
                let _ = std::fs::remove_dir_all(&staging);
            }
            Some(why) => {
                let _ = std::fs::remove_dir_all(&staging);
                skip(format!("ctx/{id}"), why);
            }
        }
    }
    Ok(json!({"imported": imported, "contexts_imported": ctx_imported, "skipped": skipped}))
}
