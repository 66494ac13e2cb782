//! `manifest.json`: what an entry holds, enough to verify the blob before OpenVINO sees it.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::key::{Key, KeyField};

pub const FORMAT: &str = "ovep-compiled-model-cache";
pub const FORMAT_VERSION: u32 = 1;
/// A manifest is a few KiB; anything far larger is not ours.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// The last use is not in here: it is the manifest file's mtime, so that a read costs one
/// `futimens` instead of rewriting (and fsyncing) this file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub key: String,
    pub blob_size: u64,
    pub blob_blake3: String,
    pub created_unix_ms: u64,
    /// "ovep <version>" of the process that wrote the entry.
    pub writer: String,
    #[serde(default)]
    pub key_fields: Vec<KeyField>,
    /// Free-form, filled by the EP: OpenVINO version, device, partition info.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl Manifest {
    pub fn new(
        key: &Key,
        blob_size: u64,
        blob_hash: blake3::Hash,
        created: SystemTime,
        key_fields: &[KeyField],
        metadata: &BTreeMap<String, String>,
    ) -> Manifest {
        Manifest {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            key: key.to_hex(),
            blob_size,
            blob_blake3: blob_hash.to_hex().to_string(),
            created_unix_ms: created.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
            writer: format!("ovep {}", env!("CARGO_PKG_VERSION")),
            key_fields: key_fields.to_vec(),
            metadata: metadata.clone(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a manifest always serializes");
        out.push(b'\n');
        out
    }

    /// Parse a manifest read from `key`'s directory. `Err` carries the reason it is not a
    /// valid manifest of this format for this key (the entry is then discarded).
    pub fn parse_for(bytes: &[u8], key: &Key) -> Result<Manifest, String> {
        // The header first, so a manifest of another version is reported as such rather than
        // as "missing field".
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("manifest is not JSON ({e})"))?;
        let format = value.get("format").and_then(|v| v.as_str());
        if format != Some(FORMAT) {
            return Err(format!("manifest format is {format:?}, not {FORMAT:?}"));
        }
        let version = value.get("format_version").and_then(|v| v.as_u64());
        if version != Some(FORMAT_VERSION as u64) {
            return Err(format!("manifest format version is {version:?}; this ovep reads version {FORMAT_VERSION}"));
        }
        let m: Manifest = serde_json::from_value(value).map_err(|e| format!("manifest is malformed ({e})"))?;
        if m.key != key.to_hex() {
            return Err(format!("manifest is for key {}, found under {}", m.key, key.to_hex()));
        }
        m.checksum()?;
        Ok(m)
    }

    pub fn checksum(&self) -> Result<blake3::Hash, String> {
        blake3::Hash::from_hex(&self.blob_blake3).map_err(|e| format!("manifest checksum is malformed ({e})"))
    }

    pub fn created(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.created_unix_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &Key) -> Manifest {
        let meta = BTreeMap::from([("device".to_owned(), "CPU".to_owned())]);
        let fields = [KeyField { name: "ov".into(), value: "2026.4".into() }];
        Manifest::new(key, 3, blake3::hash(b"abc"), UNIX_EPOCH + Duration::from_millis(1234), &fields, &meta)
    }

    #[test]
    fn round_trip_and_rejections() {
        let key = Key::new(blake3::hash(b"k"));
        let m = sample(&key);
        assert_eq!(Manifest::parse_for(&m.to_json(), &key).unwrap(), m);
        assert_eq!(m.created(), UNIX_EPOCH + Duration::from_millis(1234));

        let other = Key::new(blake3::hash(b"other"));
        assert!(Manifest::parse_for(&m.to_json(), &other).unwrap_err().contains("found under"));
        assert!(Manifest::parse_for(b"{not json", &key).unwrap_err().contains("not JSON"));

        let mut v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
        v["format_version"] = 2.into();
        let err = Manifest::parse_for(&serde_json::to_vec(&v).unwrap(), &key).unwrap_err();
        assert!(err.contains("version is Some(2)"), "{err}");
        v["format_version"] = 1.into();
        v["format"] = "something-else".into();
        assert!(Manifest::parse_for(&serde_json::to_vec(&v).unwrap(), &key).unwrap_err().contains("format is"));
        v["format"] = FORMAT.into();
        v["blob_blake3"] = "zz".into();
        assert!(Manifest::parse_for(&serde_json::to_vec(&v).unwrap(), &key).unwrap_err().contains("checksum"));
        v.as_object_mut().unwrap().remove("blob_size");
        assert!(Manifest::parse_for(&serde_json::to_vec(&v).unwrap(), &key).unwrap_err().contains("malformed"));
    }
}
