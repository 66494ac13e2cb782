//! EPContext models: ovep's compiled subgraphs written into an ONNX model ORT can load
//! without converting or compiling anything.
//!
//! - **Writing** (session config `ep.context_enable=1`, or ORT's model compiler): Compile
//!   exports each group's compiled model and hands ORT one `com.microsoft.EPContext` node per
//!   group, `source=OvepExecutionProvider`. `ep.context_embed_mode=1` keeps the blob in the
//!   node (base64: ORT copies string attributes only up to a NUL); 0 (the default) writes it
//!   beside the context model (`ep.context_file_path`, else beside the source model).
//! - **Notes.** Each node's `notes` attribute is JSON: the OpenVINO build and device the blob
//!   was compiled for, and the blob's size and BLAKE3 checksum. A changed or truncated blob
//!   file is refused before OpenVINO sees it (OpenVINO's importer does not check).
//! - **Loading.** GetCapability claims EPContext nodes whose `source` is ovep; one compiled
//!   for another OpenVINO build or device fails the session with a message saying what to do.
//! - **Compatibility info** (model metadata ORT writes and checks at load):
//!   `ovep-context/1;openvino=<build>;device_name=<full device name>`.

use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::factory::EP_NAME;
use crate::bail;
use crate::cache::Blob;
use crate::error::{Error, Result};
use crate::ov::core::Core;
use crate::partition::snapshot::NodeSnapshot;

pub const OP_TYPE: &str = "EPContext";
pub const DOMAIN: &str = "com.microsoft";
const FORMAT: u32 = 1;
const COMPAT_PREFIX: &str = "ovep-context/1;";

/// ORT's session-level EPContext switches, as ovep reads them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContextOptions {
    /// `ep.context_enable=1`: Compile hands ORT EPContext nodes.
    pub enable: bool,
    /// `ep.context_file_path`: where ORT writes the context model (None: beside the source).
    pub file_path: Option<PathBuf>,
    /// `ep.context_embed_mode=1`: blobs inside the model; 0 (default): files beside it.
    pub embed: bool,
}

impl ContextOptions {
    /// Take an ORT session config entry if it is one of ours.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        let v = value.trim();
        match key {
            "ep.context_enable" => self.enable = flag(key, v)?,
            "ep.context_embed_mode" => self.embed = flag(key, v)?,
            "ep.context_file_path" => self.file_path = (!v.is_empty()).then(|| PathBuf::from(v)),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn flag(key: &str, v: &str) -> Result<bool> {
    match v {
        "0" | "" => Ok(false),
        "1" => Ok(true),
        _ => Err(Error::invalid_argument(format!("ovep: {key}={v:?}: expected 0 or 1"))),
    }
}

/// The OpenVINO build and device a blob was compiled for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub openvino: String,
    /// OpenVINO device name ("CPU", "GPU.1").
    pub device: String,
    /// The device's FULL_DEVICE_NAME ("AMD EPYC 7B13"): another machine's CPU is another blob.
    pub device_name: String,
}

impl Identity {
    pub fn of(core: &Core, device: &str) -> Identity {
        let base = device.split([':', ',']).next().unwrap_or(device);
        Identity {
            openvino: core.version.clone(),
            device: device.to_string(),
            device_name: core.property(base, "FULL_DEVICE_NAME").unwrap_or_default(),
        }
    }

    /// The compatibility info ORT stores in the model's metadata.
    pub fn compatibility_info(&self) -> String {
        let clean = |s: &str| s.replace([';', '='], ",");
        format!("{COMPAT_PREFIX}openvino={};device_name={}", clean(&self.openvino), clean(&self.device_name))
    }

    /// Why a blob compiled for `self` cannot run here (None: it can).
    pub fn mismatch(&self, here: &Identity) -> Option<String> {
        if self.openvino != here.openvino {
            return Some(format!("it was compiled by OpenVINO {}, this is OpenVINO {}", self.openvino, here.openvino));
        }
        if self.device_name != here.device_name {
            return Some(format!(
                "it was compiled for {} ({}), this session runs on {} ({})",
                self.device, self.device_name, here.device, here.device_name
            ));
        }
        None
    }
}

/// The full names of the devices OpenVINO drives on this machine (what `info_fits` and bundle
/// imports compare against).
pub fn local_device_names(core: &Core) -> Result<Vec<String>> {
    Ok(core.available_devices()?.iter().filter_map(|d| core.property(d, "FULL_DEVICE_NAME").ok()).collect())
}

/// Whether compatibility info ORT read from a model fits one of the devices OpenVINO has here.
pub fn info_fits(info: &str, openvino: &str, device_names: &[String]) -> bool {
    let Some(fields) = info.strip_prefix(COMPAT_PREFIX) else { return false };
    let field = |k: &str| fields.split(';').find_map(|f| f.strip_prefix(k)?.strip_prefix('='));
    let clean = |s: &str| s.replace([';', '='], ",");
    field("openvino") == Some(clean(openvino).as_str())
        && field("device_name").is_some_and(|d| device_names.iter().any(|n| clean(n) == d))
}

/// The JSON in an EPContext node's `notes` attribute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notes {
    pub format: u32,
    pub ovep: String,
    #[serde(flatten)]
    pub identity: Identity,
    pub blob_bytes: u64,
    pub blob_blake3: String,
}

/// Attributes of the EPContext node for `blob`; with embed mode 0 the blob is written to a
/// file in `dir` first.
pub fn node_attributes(
    opts: &ContextOptions,
    dir: &Path,
    file_stem: &str,
    partition: &str,
    identity: &Identity,
    blob: &[u8],
) -> Result<Vec<(&'static str, crate::ort::editor::Attr)>> {
    use crate::ort::editor::Attr;
    let notes = Notes {
        format: FORMAT,
        ovep: env!("CARGO_PKG_VERSION").into(),
        identity: identity.clone(),
        blob_bytes: blob.len() as u64,
        blob_blake3: crate::cache::hash_large(blob).to_hex().to_string(),
    };
    let context = if opts.embed {
        base64::engine::general_purpose::STANDARD.encode(blob)
    } else {
        // Fused-node names are long and unique; a short hash of one names its file.
        let short = &blake3::hash(partition.as_bytes()).to_hex()[..12];
        let name = format!("{file_stem}.{short}.ovep.blob");
        let path = dir.join(&name);
        crate::cache::replace_file(&path, blob)
            .map_err(|e| Error::ep_fail(format!("ovep: writing {}: {e}", path.display())))?;
        name
    };
    Ok(vec![
        ("main_context", Attr::Int(1)),
        ("embed_mode", Attr::Int(i64::from(opts.embed))),
        ("ep_cache_context", Attr::Str(context)),
        ("ep_sdk_version", Attr::Str(identity.openvino.clone())),
        ("partition_name", Attr::Str(partition.to_string())),
        ("source", Attr::Str(EP_NAME.to_string())),
        ("notes", Attr::Str(serde_json::to_string(&notes).map_err(|e| Error::ep_fail(e.to_string()))?)),
    ])
}

/// Whether ORT offered an EPContext node written by ovep.
pub fn is_ours(node: &NodeSnapshot) -> bool {
    written_by_ovep(&node.op_type, &node.domain, node.attr_bytes("source"))
}

/// Whether a node of this type, domain and `source` attribute is an EPContext node ovep wrote.
pub fn written_by_ovep(op_type: &str, domain: &str, source: Option<&[u8]>) -> bool {
    op_type == OP_TYPE && domain == DOMAIN && source == Some(EP_NAME.as_bytes())
}

/// An ovep EPContext node's notes, checked against this session's OpenVINO and device.
pub fn check(node: &NodeSnapshot, here: &Identity) -> Result<Notes> {
    check_notes(&node.name, node.attr_bytes("notes"), here)
}

/// The notes attribute of EPContext node `name`, checked against this OpenVINO and device.
pub fn check_notes(name: &str, notes: Option<&[u8]>, here: &Identity) -> Result<Notes> {
    let notes: Notes = notes
        .and_then(|n| serde_json::from_slice(n).ok())
        .ok_or_else(|| Error::invalid_argument(format!("ovep: EPContext node {name} has no notes ovep can read")))?;
    if notes.format != FORMAT {
        bail!(
            "ovep: EPContext node {name} is in format {} (this ovep reads {FORMAT}): compile the model again",
            notes.format
        );
    }
    if let Some(why) = notes.identity.mismatch(here) {
        return Err(Error::invalid_argument(format!(
            "ovep: EPContext node {name} cannot run here: {why}. Compile the model again from the original ONNX \
             on this machine (ep.context_enable=1, or `python -m ovep precompile --context-out`)."
        )));
    }
    Ok(notes)
}

/// The name under which the compiled model of an EPContext blob imported for `device` with
/// `properties` is shared in this process (`runtime::shared`).
pub fn shared_key(notes: &Notes, device: &str, properties: &[(String, String)]) -> String {
    let mut props = properties.to_vec();
    props.sort();
    format!("epcontext:{}:{device}:{props:?}", notes.blob_blake3)
}

/// The blob of an ovep EPContext node, verified against its notes. `model_dir`: the directory
/// of the context model (for blobs kept in files beside it).
pub fn load_blob(node: &NodeSnapshot, notes: &Notes, model_dir: Option<&Path>) -> Result<Blob> {
    let Some(context) = node.attr_bytes("ep_cache_context") else {
        bail!("ovep: EPContext node {} has no ep_cache_context", node.name)
    };
    blob_from(&node.name, embedded(node.attr_int("embed_mode")), context, notes, model_dir)
}

/// Whether an EPContext node's `ep_cache_context` holds the blob itself (`embed_mode` 1, the
/// contrib op's default when the attribute is absent) or a file name beside the model (0).
pub fn embedded(embed_mode: Option<i64>) -> bool {
    embed_mode.unwrap_or(1) == 1
}

/// An EPContext blob from its `ep_cache_context` (embedded, or a file name beside the
/// model), verified against the node's notes.
pub fn blob_from(name: &str, embedded: bool, context: &[u8], notes: &Notes, model_dir: Option<&Path>) -> Result<Blob> {
    let blob: Blob = if embedded {
        base64::engine::general_purpose::STANDARD
            .decode(context)
            .map_err(|e| {
                Error::invalid_argument(format!("ovep: EPContext node {name}: embedded blob is damaged ({e})"))
            })?
            .into()
    } else {
        let file = PathBuf::from(String::from_utf8_lossy(context).into_owned());
        if file.components().any(|c| !matches!(c, Component::Normal(_))) {
            bail!("ovep: EPContext node {name} names {}: only a file beside the model is accepted", file.display());
        }
        let Some(dir) = model_dir else {
            bail!(
                "ovep: EPContext node {name} keeps its blob in {}, but the model was loaded from memory: load it from \
                 its file, or write it with ep.context_embed_mode=1",
                file.display()
            );
        };
        let path = dir.join(&file);
        // Mapped when large, like the cache's blobs (`cache::Blob`): the fast-start context
        // models ovep writes are published by rename, and a user's EPContext file is as safe
        // to map as the external-data files ORT maps.
        Blob::read(&path, None).map_err(|e| {
            Error::invalid_argument(format!("ovep: EPContext node {name}: reading {}: {e}", path.display()))
        })?
    };
    if blob.len() as u64 != notes.blob_bytes || crate::cache::hash_large(&blob).to_hex().as_str() != notes.blob_blake3 {
        return Err(Error::invalid_argument(format!(
            "ovep: EPContext node {name}: the compiled blob does not match its checksum (changed or truncated); \
             compile the model again"
        )));
    }
    Ok(blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ov: &str, name: &str) -> Identity {
        Identity { openvino: ov.into(), device: "CPU".into(), device_name: name.into() }
    }

    #[test]
    fn compatibility_info_round_trips_and_refuses_other_builds_and_devices() {
        let info = id("2026.4.1-abc", "AMD EPYC; 7B13").compatibility_info();
        assert!(info_fits(&info, "2026.4.1-abc", &["GPU x".into(), "AMD EPYC; 7B13".into()]));
        assert!(!info_fits(&info, "2026.4.0-abc", &["AMD EPYC; 7B13".into()]));
        assert!(!info_fits(&info, "2026.4.1-abc", &["Intel Xeon".into()]));
        assert!(!info_fits("someone-else/1;openvino=2026.4.1-abc", "2026.4.1-abc", &[]));
    }

    #[test]
    fn mismatches_name_what_differs() {
        let here = id("2026.4.1", "AMD EPYC");
        assert_eq!(id("2026.4.1", "AMD EPYC").mismatch(&here), None);
        assert!(id("2025.1.0", "AMD EPYC").mismatch(&here).unwrap().contains("OpenVINO 2025.1.0"));
        assert!(id("2026.4.1", "Intel Core").mismatch(&here).unwrap().contains("Intel Core"));
    }

    #[test]
    fn options_follow_ort_keys() {
        let mut o = ContextOptions::default();
        assert!(o.set("ep.context_enable", "1").unwrap());
        assert!(o.set("ep.context_embed_mode", "1").unwrap());
        assert!(o.set("ep.context_file_path", "/tmp/m_ctx.onnx").unwrap());
        assert!(!o.set("session.other", "x").unwrap());
        assert_eq!(o, ContextOptions { enable: true, file_path: Some("/tmp/m_ctx.onnx".into()), embed: true });
        assert!(o.set("ep.context_embed_mode", "2").is_err());
    }
}
