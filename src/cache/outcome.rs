//! What the store's operations report.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::blob::Blob;
use super::key::{Key, KeyField};
use super::manifest::Manifest;

/// The result of `load`.
#[derive(Debug)]
pub enum Lookup {
    Hit(Hit),
    Miss,
    /// There was an entry, but it was corrupt, truncated, of another format version or for
    /// another key. It was removed (unless the cache is read-only: `removed` is false) and
    /// must be treated as a miss; the EP logs `reason` once.
    Discarded {
        reason: String,
        removed: bool,
    },
}

#[derive(Debug)]
pub struct Hit {
    pub blob: Blob,
    pub manifest: Manifest,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    /// This call published the entry; `evicted` older entries went to stay under the cap.
    Written { evicted: usize },
    /// A valid entry for the key was already there (another process won the race).
    AlreadyPresent,
}

#[derive(Clone, Debug)]
pub struct EntryInfo {
    pub key: Key,
    pub blob_size: u64,
    /// Blob + manifest.
    pub disk_bytes: u64,
    pub created: SystemTime,
    pub last_used: SystemTime,
    pub key_fields: Vec<KeyField>,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    pub entries: usize,
    pub bytes: u64,
    pub max_bytes: u64,
}

#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub valid: usize,
    /// (key, reason) of each entry found invalid and removed.
    pub discarded: Vec<(Key, String)>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub removed: usize,
    pub freed_bytes: u64,
    pub remaining_bytes: u64,
}
