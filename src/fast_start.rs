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
//!
//! Some models have no context model: ovep compiles none of their nodes (ORT then writes no
//! file), or one of their subgraphs cannot be written as an EPContext node. Publishing records
//! that with a `plain` mark in the slot instead, and later starts open the original model as
//! a plain session (still served by the compiled-model cache) without trying to build again.

use std::path::{Path, PathBuf};

use crate::cache::{ensure_private_root, resolve_dir, Key, KeyBuilder};
use crate::ep::context::Identity;
use crate::error::{Error, Result};
use crate::ov::core::core;
use serde::{Deserialize, Serialize};

const SCHEME: &str = "ovep-fast-start/1";
pub const CONTEXT_FILE: &str = "model_ctx.onnx";
/// The mark of a model that starts as a plain session; it holds the reason, for people.
pub const PLAIN_FILE: &str = "plain";

/// Where a model's context model is, and whether it is ready.
#[derive(Debug, PartialEq)]
pub enum Slot {
    /// Load this EPContext model.
    Ready(PathBuf),
    /// Build it: write the context model here, then `publish` it.
    Build(PathBuf),
    /// Open the original model: it has no context model on this machine (see the module doc).
    Plain,
}

/// What a slot holds once published, each with the file that stands for it (its mtime is
/// the slot's last use, for pruning).
#[derive(Debug, PartialEq)]
pub enum Published {
    /// The context model, at its final path.
    Ready(PathBuf),
    /// The `plain` mark: no context model was built, later starts are plain (`Slot::Plain`).
    Plain(PathBuf),
}

impl Published {
    pub fn file(&self) -> &Path {
        match self {
            Published::Ready(f) | Published::Plain(f) => f,
        }
    }
}

/// What the slot directory `dir` holds, if anything was published there (a context model
/// wins over a mark).
pub fn published_in(dir: &Path) -> Option<Published> {
    let ready = dir.join(CONTEXT_FILE);
    if ready.is_file() {
        return Some(Published::Ready(ready));
    }
    let mark = dir.join(PLAIN_FILE);
    mark.is_file().then_some(Published::Plain(mark))
}

/// The context model slot for `model` (None: the cache is off).
pub fn slot(model: &Path, device: &str, options_key: &str, cache_dir: Option<&str>) -> Result<Option<Slot>> {
    let Some(root) = resolve_dir(cache_dir, |k| std::env::var_os(k)) else { return Ok(None) };
    ensure_private_root(&root)?;
    let ctx_root = root.join("ctx");
    ensure_private_root(&ctx_root)?;
    let key = key(model, device, options_key, &ctx_root.join("index"))?;
    let dir = ctx_root.join(&key.to_hex()[..32]);
    if let Some(published) = published_in(&dir) {
        // Mark the use (best effort: a read-only cache still serves).
        let _ = std::fs::File::options()
            .write(true)
            .open(published.file())
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        return Ok(Some(match published {
            Published::Ready(model) => Slot::Ready(model),
            Published::Plain(_) => Slot::Plain,
        }));
    }
    let staging = ctx_root.join(format!(".staging-{}-{}", &key.to_hex()[..32], std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging).map_err(|e| io("creating", &staging, e))?;
    Ok(Some(Slot::Build(staging.join(CONTEXT_FILE))))
}

/// Publish what a build at a `Slot::Build` path left: its context model, or, when there is
/// none (ORT writes no file when ovep compiled nothing), a `plain` mark.
pub fn publish(staged: &Path) -> Result<Published> {
    let staging = staged.parent().ok_or_else(|| Error::invalid_argument("ovep: not a staging path"))?;
    let name = staging.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(rest) = name.strip_prefix(".staging-") else {
        return Err(Error::invalid_argument(format!("ovep: {} is not an ovep staging path", staged.display())));
    };
    if !staging.is_dir() {
        return Err(Error::invalid_argument(format!(
            "ovep: {} is not a staging directory of ovep_fast_start_path (already published?)",
            staging.display()
        )));
    }
    let plain = !staged.is_file();
    if plain {
        let why = "ovep keeps no EPContext model for this model (it compiled none of it, or a subgraph of it \
                   cannot be written as an EPContext node): it starts as a plain session";
        let mark = staging.join(PLAIN_FILE);
        std::fs::write(&mark, why).map_err(|e| io("writing", &mark, e))?;
    }
    let key = rest.split('-').next().unwrap_or("");
    let dir = staging.with_file_name(key);
    match std::fs::rename(staging, &dir) {
        Ok(()) => {}
        // Another process published the same key first: theirs serves, ours goes.
        Err(_) if published_in(&dir).is_some() => {
            let _ = std::fs::remove_dir_all(staging);
        }
        Err(e) => return Err(io("publishing", &dir, e)),
    }
    published_in(&dir).ok_or_else(|| Error::ep_fail(format!("ovep fast start: {} vanished", dir.display())))
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::ep_fail(format!("ovep fast start: {what} {}: {e}", path.display()))
}

/// The key of a model file's context model on this machine.
fn key(model: &Path, device: &str, options_key: &str, index_dir: &Path) -> Result<Key> {
    let identity = Identity::of(&*core(None)?, device);
    let mut k = KeyBuilder::new();
    k.str("scheme", SCHEME)
        .str("ovep", env!("CARGO_PKG_VERSION"))
        .str("openvino", &identity.openvino)
        .str("device", &identity.device)
        .str("device_name", &identity.device_name)
        .str("options", options_key);
    for file in content(model, index_dir)? {
        k.str("file", &file.name).str("blake3", &file.blake3);
    }
    Ok(k.key())
}

/// One file of a model (the model itself, then its external-data files) as last hashed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct HashedFile {
    /// "" for the model, else the external-data location.
    name: String,
    stat: Stat,
    blake3: String,
}

/// What changes whenever a file's content can have changed. ctime cannot be set back by a
/// user (any write or utime updates it), so a file whose stat is unchanged is the file hashed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

fn stat(path: &Path) -> Result<Stat> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).map_err(|e| io("reading", path, e))?;
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    Ok(Stat {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: ns(m.mtime(), m.mtime_nsec()),
        ctime_ns: ns(m.ctime(), m.ctime_nsec()),
    })
}

/// The BLAKE3 of the model and of each external-data file it names. Hashes are remembered per
/// model path with each file's stat (`<cache_dir>/ctx/index/`), so an unchanged model costs a few
/// stat calls, not a pass over gigabytes; any change in any file means hashing again.
fn content(model: &Path, index_dir: &Path) -> Result<Vec<HashedFile>> {
    let model = std::fs::canonicalize(model).map_err(|e| io("reading", model, e))?;
    let index = index_dir.join(&blake3::hash(model.as_os_str().as_encoded_bytes()).to_hex()[..32]);
    if let Some(known) = std::fs::read(&index).ok().and_then(|b| serde_json::from_slice::<Vec<HashedFile>>(&b).ok()) {
        let dir = model.parent().unwrap_or(Path::new("/"));
        let unchanged = known.iter().all(|f| {
            let path = if f.name.is_empty() { model.clone() } else { dir.join(&f.name) };
            stat(&path).is_ok_and(|s| s == f.stat)
        });
        if unchanged && known.first().is_some_and(|f| f.name.is_empty()) {
            return Ok(known);
        }
    }
    let files = hash_files(&model)?;
    // A file written in the last two seconds may still change within one timestamp tick:
    // remember it only once it has settled (the next start hashes it again meanwhile).
    let settled = files.iter().all(|f| {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
        now - f.stat.mtime_ns.max(f.stat.ctime_ns) > 2_000_000_000
    });
    if settled {
        if let Ok(json) = serde_json::to_vec(&files) {
            if std::fs::create_dir_all(index_dir).is_ok() {
                let _ = crate::cache::replace_file(&index, &json);
            }
        }
    }
    Ok(files)
}

/// Hash the model (memory-mapped, all cores) and each external-data file it names.
fn hash_files(model: &Path) -> Result<Vec<HashedFile>> {
    let hash_file = |p: &Path| -> Result<(Stat, String)> {
        let before = stat(p)?;
        let mut h = blake3::Hasher::new();
        h.update_mmap_rayon(p).map_err(|e| io("reading", p, e))?;
        Ok((before, h.finalize().to_hex().to_string()))
    };
    let (stat0, hash0) = hash_file(model)?;
    let file = std::fs::File::open(model).map_err(|e| io("reading", model, e))?;
    // SAFETY: a read-only map of a model file, used only while hashed and scanned here; a
    // file changed meanwhile gives a wrong scan at worst, and its new stat a new hash next time.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io("reading", model, e))?;
    let locations = crate::onnx::external_data::external_locations(&map)
        .map_err(|e| Error::invalid_argument(format!("ovep: {} is not an ONNX model: {e}", model.display())))?;
    let mut files = vec![HashedFile { name: String::new(), stat: stat0, blake3: hash0 }];
    for location in locations {
        let rel = Path::new(&location);
        if rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Err(Error::invalid_argument(format!(
                "ovep: {} names external data outside its directory: {location}",
                model.display()
            )));
        }
        let (stat, blake3) = hash_file(&model.parent().unwrap_or(Path::new(".")).join(rel))?;
        files.push(HashedFile { name: location, stat, blake3 });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::{GraphProto, ModelProto, StringStringEntryProto, TensorProto};
    use prost::Message;

    #[test]
    fn external_data_files_are_hashed_and_remembered_until_they_change() {
        let dir = std::env::temp_dir().join(format!("ovep-fast-start-test-{}", std::process::id()));
        let index = dir.join("index");
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
        let a = content(&path, &index).unwrap();
        assert_eq!(a.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["", "w.bin"]);
        std::fs::write(dir.join("w.bin"), [2u8; 64]).unwrap();
        let b = content(&path, &index).unwrap();
        assert_ne!(a[1].blake3, b[1].blake3, "other external weights of the same size hash apart");
        // A remembered entry whose stat still matches is reused; a changed stat is not.
        let mut remembered = b.clone();
        remembered[1].blake3 = "remembered".into();
        std::fs::create_dir_all(&index).unwrap();
        let canon = std::fs::canonicalize(&path).unwrap();
        let slot = index.join(&blake3::hash(canon.as_os_str().as_encoded_bytes()).to_hex()[..32]);
        std::fs::write(&slot, serde_json::to_vec(&remembered).unwrap()).unwrap();
        assert_eq!(content(&path, &index).unwrap()[1].blake3, "remembered");
        std::fs::write(dir.join("w.bin"), [3u8; 64]).unwrap();
        assert_ne!(content(&path, &index).unwrap()[1].blake3, "remembered", "a rewritten file is hashed again");
        std::fs::remove_file(dir.join("w.bin")).unwrap();
        assert!(content(&path, &index).is_err(), "a missing external-data file is an error");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A staging directory for `key` as builder `pid` leaves it: with a context model, or
    /// without one (a build where ovep compiled nothing). Returns the staged model's path.
    fn stage(root: &Path, key: &str, pid: u32, built: bool) -> PathBuf {
        let s = root.join(format!(".staging-{key}-{pid}"));
        std::fs::create_dir_all(&s).unwrap();
        if built {
            std::fs::write(s.join(CONTEXT_FILE), format!("from {pid}")).unwrap();
        }
        s.join(CONTEXT_FILE)
    }

    #[test]
    fn publish_renames_the_staging_directory_and_keeps_a_winner() {
        let root = std::env::temp_dir().join(format!("ovep-fast-start-pub-{}", std::process::id()));
        let (first, second) = (stage(&root, "abc123", 1, true), stage(&root, "abc123", 2, true));
        let published = publish(&first).unwrap();
        let ready = root.join("abc123").join(CONTEXT_FILE);
        assert_eq!(published, Published::Ready(ready.clone()));
        assert_eq!(publish(&second).unwrap(), published, "the second builder finds the first's");
        assert_eq!(std::fs::read_to_string(&ready).unwrap(), "from 1");
        assert!(!second.exists(), "the loser's staging directory is removed");
        assert!(publish(&root.join("elsewhere").join(CONTEXT_FILE)).is_err());
        assert!(publish(&first).is_err(), "a staging directory is published once");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_build_that_left_no_context_model_publishes_a_plain_mark() {
        let root = std::env::temp_dir().join(format!("ovep-fast-start-plain-{}", std::process::id()));
        let (first, second) = (stage(&root, "def456", 1, false), stage(&root, "def456", 2, false));
        let mark = root.join("def456").join(PLAIN_FILE);
        assert_eq!(publish(&first).unwrap(), Published::Plain(mark.clone()));
        assert!(mark.is_file());
        assert_eq!(publish(&second).unwrap(), Published::Plain(mark), "the second builder finds the mark");
        assert!(!second.parent().unwrap().exists(), "the loser's staging directory is removed");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
