//! Fast start: an EPContext model kept for a model *file*, so hosts pass the original path and
//! start at EPContext-load speed with no files to manage.
//!
//! The context model lives at `<cache_dir>/ctx/<key>/model_ctx.onnx`, the key covering the
//! model's bytes (and its external-data files), the OpenVINO build, the device and its full
//! name, the host's ovep options and ovep's version: a changed model, another machine or other
//! options find no context model and build a new one. Building is the host's: it creates its
//! session on the original model with `ep.context_enable=1` and `ep.context_file_path` set to
//! a private staging path, then publishes it (an atomic rename of the staging directory, so a
//! reader never sees half a context model, and of two racing builders one simply wins).

use std::path::{Path, PathBuf};

use crate::cache::{ensure_private_root, resolve_dir, Key, KeyBuilder};
use crate::error::{Error, Result};
use crate::onnx::proto::ModelProto;
use crate::ov::core::core;

const SCHEME: &str = "ovep-fast-start/1";
pub const CONTEXT_FILE: &str = "model_ctx.onnx";

/// Where a model's context model is, and whether it is ready.
#[derive(Debug, PartialEq)]
pub enum Slot {
    /// Load this EPContext model.
    Ready(PathBuf),
    /// Build it: write the context model here, then `publish` it.
    Build(PathBuf),
}

/// The context model slot for `model` (None: the cache is off).
pub fn slot(model: &Path, device: &str, options_key: &str, cache_dir: Option<&str>) -> Result<Option<Slot>> {
    let Some(root) = resolve_dir(cache_dir, |k| std::env::var_os(k)) else { return Ok(None) };
    ensure_private_root(&root)?;
    let ctx_root = root.join("ctx");
    crate::cache::ensure_private_root(&ctx_root)?;
    let key = key(model, device, options_key)?;
    let dir = ctx_root.join(&key.to_hex()[..32]);
    let ready = dir.join(CONTEXT_FILE);
    if ready.is_file() {
        // Its mtime is the "last used" mark for pruning.
        let _ = std::fs::File::options()
            .write(true)
            .open(&ready)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        return Ok(Some(Slot::Ready(ready)));
    }
    let staging = ctx_root.join(format!(".staging-{}-{}", &key.to_hex()[..32], std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging).map_err(|e| io("creating", &staging, e))?;
    Ok(Some(Slot::Build(staging.join(CONTEXT_FILE))))
}

/// Publish a context model built at a `Slot::Build` path; returns where it now is.
pub fn publish(staged: &Path) -> Result<PathBuf> {
    let staging = staged.parent().ok_or_else(|| Error::invalid_argument("ovep: not a staging path"))?;
    let name = staging.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(rest) = name.strip_prefix(".staging-") else {
        return Err(Error::invalid_argument(format!("ovep: {} is not an ovep staging path", staged.display())));
    };
    if !staged.is_file() {
        return Err(Error::ep_fail(format!(
            "ovep: no context model at {} (was the session created with ep.context_enable=1 and this \
             ep.context_file_path?)",
            staged.display()
        )));
    }
    let key = rest.split('-').next().unwrap_or("");
    let dir = staging.with_file_name(key);
    match std::fs::rename(staging, &dir) {
        Ok(()) => {}
        // Another process published the same key first: theirs serves, ours goes.
        Err(_) if dir.join(CONTEXT_FILE).is_file() => {
            let _ = std::fs::remove_dir_all(staging);
        }
        Err(e) => return Err(io("publishing", &dir, e)),
    }
    Ok(dir.join(CONTEXT_FILE))
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::ep_fail(format!("ovep fast start: {what} {}: {e}", path.display()))
}

/// The key of a model file's context model on this machine.
fn key(model: &Path, device: &str, options_key: &str) -> Result<Key> {
    let core = core(None)?;
    let base = device.split([':', ',']).next().unwrap_or(device);
    let mut k = KeyBuilder::new();
    k.str("scheme", SCHEME)
        .str("ovep", env!("CARGO_PKG_VERSION"))
        .str("openvino", &core.version)
        .str("device", device)
        .str("device_name", &core.property(base, "FULL_DEVICE_NAME").unwrap_or_default())
        .str("options", options_key);
    let (content, external) = content_hash(model)?;
    k.bytes("model", content.as_bytes());
    for (location, hash) in external {
        k.str("external", &location).bytes("external_hash", hash.as_bytes());
    }
    Ok(k.key())
}

/// BLAKE3 of the model file (memory-mapped, all cores) and of each external-data file it names.
fn content_hash(model: &Path) -> Result<(blake3::Hash, Vec<(String, blake3::Hash)>)> {
    let hash_file = |p: &Path| -> Result<blake3::Hash> {
        let mut h = blake3::Hasher::new();
        h.update_mmap_rayon(p).map_err(|e| io("reading", p, e))?;
        Ok(h.finalize())
    };
    let content = hash_file(model)?;
    let mut external = Vec::new();
    for location in external_locations(model)? {
        let rel = Path::new(&location);
        if rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Err(Error::invalid_argument(format!(
                "ovep: {} names external data outside its directory: {location}",
                model.display()
            )));
        }
        let path = model.parent().unwrap_or(Path::new(".")).join(rel);
        external.push((location, hash_file(&path)?));
    }
    Ok((content, external))
}

/// The external-data files a model names (sorted, once each).
fn external_locations(model: &Path) -> Result<Vec<String>> {
    use prost::Message;
    let bytes = std::fs::read(model).map_err(|e| io("reading", model, e))?;
    let proto = ModelProto::decode(bytes.as_slice())
        .map_err(|e| Error::invalid_argument(format!("ovep: {} is not an ONNX model: {e}", model.display())))?;
    let mut out: Vec<String> = Vec::new();
    let mut graphs: Vec<&crate::onnx::proto::GraphProto> = proto.graph.iter().collect();
    while let Some(g) = graphs.pop() {
        for t in &g.initializer {
            out.extend(t.external_data.iter().filter(|e| e.key == "location").map(|e| e.value.clone()));
        }
        for n in &g.node {
            for a in &n.attribute {
                graphs.extend(a.g.iter());
                graphs.extend(a.graphs.iter());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::{GraphProto, StringStringEntryProto, TensorProto};
    use prost::Message;

    #[test]
    fn external_data_files_are_found_and_hashed() {
        let dir = std::env::temp_dir().join(format!("ovep-fast-start-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let entry = |k: &str, v: &str| StringStringEntryProto { key: k.into(), value: v.into() };
        let t = TensorProto {
            name: "w".into(),
            external_data: vec![entry("location", "w.bin"), entry("offset", "0")],
            ..Default::default()
        };
        let model =
            ModelProto { graph: Some(GraphProto { initializer: vec![t], ..Default::default() }), ..Default::default() };
        let path = dir.join("m.onnx");
        std::fs::write(&path, model.encode_to_vec()).unwrap();
        std::fs::write(dir.join("w.bin"), [1u8; 64]).unwrap();
        let (_, a) = content_hash(&path).unwrap();
        assert_eq!(a.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(), ["w.bin"]);
        std::fs::write(dir.join("w.bin"), [2u8; 64]).unwrap();
        let (_, b) = content_hash(&path).unwrap();
        assert_ne!(a[0].1, b[0].1, "other external weights of the same size hash apart");
        std::fs::remove_file(dir.join("w.bin")).unwrap();
        assert!(content_hash(&path).is_err(), "a missing external-data file is an error");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn publish_renames_the_staging_directory_and_keeps_a_winner() {
        let root = std::env::temp_dir().join(format!("ovep-fast-start-pub-{}", std::process::id()));
        let stage = |pid: u32| {
            let s = root.join(format!(".staging-abc123-{pid}"));
            std::fs::create_dir_all(&s).unwrap();
            std::fs::write(s.join(CONTEXT_FILE), format!("from {pid}")).unwrap();
            s.join(CONTEXT_FILE)
        };
        let (first, second) = (stage(1), stage(2));
        let published = publish(&first).unwrap();
        assert_eq!(published, root.join("abc123").join(CONTEXT_FILE));
        assert_eq!(publish(&second).unwrap(), published, "the second builder finds the first's");
        assert_eq!(std::fs::read_to_string(&published).unwrap(), "from 1");
        assert!(!second.exists(), "the loser's staging directory is removed");
        assert!(publish(&root.join("elsewhere").join(CONTEXT_FILE)).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
