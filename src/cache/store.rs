//! The store: put, get (verified), remove, list, stats, verify, prune.
//!
//! An entry is built complete in a staging directory (blob, then manifest, each fsynced, then
//! the directory), and published by renaming the staging directory to `<key>`, which is
//! atomic: readers see the whole entry or nothing, and a crash leaves only a `.tmp-*`
//! directory that a later `open` deletes once it is an hour old. When several processes store
//! one key at once, the first rename wins; the others' renames fail because `<key>` is then a
//! non-empty directory, and they drop their staging copy. No locks are taken, so a crashed
//! process can never wedge the cache.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::blob::Blob;
use super::entry::{read_manifest_bytes, write_staging};
use super::eviction::{self, Candidate};
use super::fsio::{self, io_error};
use super::key::{hash_large, Key, KeyField};
use super::layout::{self, Name, BLOB, MANIFEST};
use super::manifest::Manifest;
use super::outcome::{EntryInfo, Hit, Lookup, PruneReport, Stats, Stored, VerifyReport};
use super::perms;
use crate::error::{Error, Result};

/// Default size cap.
pub const DEFAULT_MAX_BYTES: u64 = 8 << 30;
/// Staging directories older than this belong to a process that died; `open` removes them.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    format_dir: PathBuf,
    max_bytes: u64,
}

/// One pass of reading an entry.
enum Attempt {
    Done(Lookup),
    /// The entry directory was replaced while we read it; read again.
    Raced,
}

/// An entry directory as seen by a scan (stat only, no manifest parsing).
struct Scanned {
    key: Key,
    dir: PathBuf,
    bytes: u64,
    last_used: SystemTime,
}

impl Store {
    /// Open (creating if needed) the cache at `root`. Refuses a directory that other users
    /// could write. A read-only cache opens fine: loads work, stores return errors.
    pub fn open(root: impl Into<PathBuf>, max_bytes: u64) -> Result<Store> {
        let root = root.into();
        perms::ensure_private_root(&root)?;
        let format_dir = layout::format_dir(&root);
        if let Ok(true) = fsio::create_private_dir(&format_dir) {
            let _ = fsio::sync_dir(&root);
        }
        let store = Store { root, format_dir, max_bytes };
        store.clean_stale(STALE_TEMP_AGE);
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The blob stored under `key`, verified (size and BLAKE3) before it is returned, and
    /// marked as used. `Err` only for I/O failures that say nothing about the entry (e.g.
    /// permission denied); a bad entry is `Lookup::Discarded`.
    pub fn load(&self, key: &Key) -> Result<Lookup> {
        let lookup = self.read_verified(key)?;
        if let Lookup::Hit(_) = lookup {
            // Best effort: a read-only cache still serves hits, it just cannot record them.
            let _ = fsio::touch(&layout::entry_dir(&self.format_dir, key).join(MANIFEST), SystemTime::now());
        }
        Ok(lookup)
    }

    /// Publish `blob` under `key`. Errors (read-only or full disk, ...) leave no partial
    /// entry and no staging directory behind.
    pub fn store(
        &self,
        key: &Key,
        blob: &[u8],
        key_fields: &[KeyField],
        metadata: &BTreeMap<String, String>,
    ) -> Result<Stored> {
        let size = blob.len() as u64;
        if size > self.max_bytes {
            return Err(Error::invalid_argument(format!(
                "ovep cache: a compiled model of {size} bytes exceeds the cache size cap of {} bytes; not cached",
                self.max_bytes
            )));
        }
        if self.looks_complete(key) {
            return Ok(Stored::AlreadyPresent);
        }
        let shard = layout::shard_dir(&self.format_dir, key);
        self.ensure_dir(&self.format_dir, &self.root)?;
        self.ensure_dir(&shard, &self.format_dir)?;

        let manifest = Manifest::new(key, size, hash_large(blob), SystemTime::now(), key_fields, metadata);
        let staging = shard.join(layout::temp_name(key));
        let result = write_staging(&staging, blob, &manifest).and_then(|()| self.publish(&staging, key));
        // Gone after a successful rename; otherwise this removes the partial copy.
        let _ = fsio::remove_tree(&staging);
        result
    }

    /// Read and check an entry without marking it used (exporting a bundle is not a use).
    pub fn peek(&self, key: &Key) -> Result<Lookup> {
        self.read_verified(key)
    }

    /// Remove `key`'s entry. `Ok(false)` if there was none.
    pub fn remove(&self, key: &Key) -> Result<bool> {
        let dir = layout::entry_dir(&self.format_dir, key);
        if !dir.exists() {
            return Ok(false);
        }
        match self.discard(&dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error("removing", &dir, e)),
        }
    }

    /// Every entry with a readable manifest, least recently used first (eviction order).
    /// Blobs are not verified here (see `verify_all`).
    pub fn list(&self) -> Result<Vec<EntryInfo>> {
        let mut out = Vec::new();
        for s in self.scan()? {
            let Ok(bytes) = read_manifest_bytes(&s.dir.join(MANIFEST)) else { continue };
            let Ok(m) = Manifest::parse_for(&bytes, &s.key) else { continue };
            out.push(EntryInfo {
                key: s.key,
                blob_size: m.blob_size,
                disk_bytes: s.bytes,
                created: m.created(),
                last_used: s.last_used,
                key_fields: m.key_fields,
                metadata: m.metadata,
            });
        }
        out.sort_by_key(|e| (e.last_used, e.key));
        Ok(out)
    }

    pub fn stats(&self) -> Result<Stats> {
        let scanned = self.scan()?;
        Ok(Stats { entries: scanned.len(), bytes: scanned.iter().map(|s| s.bytes).sum(), max_bytes: self.max_bytes })
    }

    /// Read and check every entry (without marking it used); remove the bad ones.
    pub fn verify_all(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        for s in self.scan()? {
            match self.read_verified(&s.key)? {
                Lookup::Hit(_) => report.valid += 1,
                Lookup::Discarded { reason, .. } => report.discarded.push((s.key, reason)),
                Lookup::Miss => {} // removed by someone else meanwhile
            }
        }
        Ok(report)
    }

    /// Remove least recently used entries until the cache holds at most `max_bytes`.
    pub fn prune(&self, max_bytes: u64) -> Result<PruneReport> {
        let scanned = self.scan()?;
        let candidates: Vec<Candidate> =
            scanned.iter().map(|s| Candidate { key: s.key, bytes: s.bytes, last_used: s.last_used }).collect();
        let mut report =
            PruneReport { remaining_bytes: candidates.iter().map(|c| c.bytes).sum(), ..Default::default() };
        for i in eviction::victims(&candidates, max_bytes) {
            match self.discard(&scanned[i].dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {} // someone else removed it
                Err(e) => return Err(io_error("evicting", &scanned[i].dir, e)),
            }
            report.removed += 1;
            report.freed_bytes += scanned[i].bytes;
            report.remaining_bytes -= scanned[i].bytes;
        }
        Ok(report)
    }

    // ---- internals ----

    fn read_verified(&self, key: &Key) -> Result<Lookup> {
        // One retry: a concurrent replace of the entry is rare, and a second race in a row
        // is reported as a miss rather than looping.
        for _ in 0..2 {
            if let Attempt::Done(lookup) = self.try_read(key)? {
                return Ok(lookup);
            }
        }
        Ok(Lookup::Miss)
    }

    fn try_read(&self, key: &Key) -> Result<Attempt> {
        let dir = layout::entry_dir(&self.format_dir, key);
        let ino = match fs::metadata(&dir) {
            Ok(m) => m.ino(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Attempt::Done(Lookup::Miss)),
            Err(e) => return Err(io_error("reading", &dir, e)),
        };
        let manifest_path = dir.join(MANIFEST);
        let manifest = match read_manifest_bytes(&manifest_path) {
            Ok(bytes) => match Manifest::parse_for(&bytes, key) {
                Ok(m) => m,
                Err(reason) => return Ok(self.discard_if_same(&dir, ino, reason)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(self.discard_if_same(&dir, ino, "manifest.json is missing".into()))
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Ok(self.discard_if_same(&dir, ino, e.to_string()))
            }
            Err(e) => return Err(io_error("reading", &manifest_path, e)),
        };
        let blob_path = dir.join(BLOB);
        let blob = match Blob::read(&blob_path, Some(manifest.blob_size)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(self.discard_if_same(&dir, ino, "blob is missing".into()))
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Ok(self.discard_if_same(&dir, ino, e.to_string()))
            }
            Err(e) => return Err(io_error("reading", &blob_path, e)),
        };
        // A blob that matches the checksum of a manifest for this key is valid even if the
        // directory was replaced meanwhile (both then belong to the same key).
        let expected = manifest.checksum().expect("checked by parse_for");
        if hash_large(&blob) != expected {
            return Ok(self.discard_if_same(&dir, ino, "blob checksum does not match the manifest".into()));
        }
        Ok(Attempt::Done(Lookup::Hit(Hit { blob, manifest })))
    }

    /// Discard `dir` for `reason`, unless it is no longer the directory we read (it was
    /// removed, or replaced by a fresh entry from another process: then read again).
    fn discard_if_same(&self, dir: &Path, ino: u64, reason: String) -> Attempt {
        match fs::metadata(dir) {
            Ok(m) if m.ino() == ino => {
                let removed = self.discard(dir).is_ok();
                Attempt::Done(Lookup::Discarded { reason, removed })
            }
            _ => Attempt::Raced,
        }
    }

    fn discard(&self, dir: &Path) -> io::Result<()> {
        let parent = dir.parent().unwrap_or(&self.format_dir);
        fsio::discard_dir(dir, &parent.join(layout::trash_name()))
    }

    /// A cheap check (no hashing) that `key` has a complete entry of this format. Entries
    /// are published whole, so this only fails on damage done after publication, which
    /// `load` detects in full.
    fn looks_complete(&self, key: &Key) -> bool {
        let dir = layout::entry_dir(&self.format_dir, key);
        let Ok(bytes) = read_manifest_bytes(&dir.join(MANIFEST)) else { return false };
        let Ok(m) = Manifest::parse_for(&bytes, key) else { return false };
        fs::metadata(dir.join(BLOB)).is_ok_and(|b| b.is_file() && b.len() == m.blob_size)
    }

    fn ensure_dir(&self, dir: &Path, parent: &Path) -> Result<()> {
        match fsio::create_private_dir(dir) {
            Ok(true) => fsio::sync_dir(parent).map_err(|e| io_error("syncing", parent, e)),
            Ok(false) => Ok(()),
            Err(e) => Err(io_error("creating", dir, e)),
        }
    }

    fn publish(&self, staging: &Path, key: &Key) -> Result<Stored> {
        let entry = layout::entry_dir(&self.format_dir, key);
        let shard = layout::shard_dir(&self.format_dir, key);
        // rename(2) onto a non-empty directory fails (ENOTEMPTY/EEXIST): if a complete entry
        // is there, another process published first.
        let mut renamed = fs::rename(staging, &entry);
        if renamed.is_err() && entry.is_dir() && !self.looks_complete(key) {
            // Entries are published whole, so only damage done later leaves a broken one
            // squatting the name: move it aside and try once more.
            let _ = self.discard(&entry);
            renamed = fs::rename(staging, &entry);
        }
        match renamed {
            Ok(()) => {
                fsio::sync_dir(&shard).map_err(|e| io_error("syncing", &shard, e))?;
                // Best effort: the entry is stored; failing to evict is not this call's failure.
                let evicted = self.prune(self.max_bytes).map(|r| r.removed).unwrap_or(0);
                Ok(Stored::Written { evicted })
            }
            Err(_) if self.looks_complete(key) => Ok(Stored::AlreadyPresent),
            Err(e) => Err(io_error("publishing", &entry, e)),
        }
    }

    /// Entry directories with their size and last use, by stat alone.
    fn scan(&self) -> Result<Vec<Scanned>> {
        let mut out = Vec::new();
        for shard in read_dir_or_empty(&self.format_dir)? {
            if !layout::is_shard_name(&shard.file_name()) {
                continue;
            }
            for entry in read_dir_or_empty(&shard.path())? {
                let Name::Entry(key) = layout::classify(&entry.file_name()) else { continue };
                if key.to_hex()[..2] != *shard.file_name() {
                    continue;
                }
                let dir = entry.path();
                let manifest = fs::metadata(dir.join(MANIFEST)).ok();
                let blob_len = fs::metadata(dir.join(BLOB)).map(|m| m.len()).unwrap_or(0);
                out.push(Scanned {
                    key,
                    bytes: blob_len + manifest.as_ref().map_or(0, |m| m.len()),
                    // No manifest: damaged, so first in line for eviction.
                    last_used: manifest.and_then(|m| m.modified().ok()).unwrap_or(UNIX_EPOCH),
                    dir,
                });
            }
        }
        Ok(out)
    }

    /// Remove staging directories older than `age` (their writer died) and trash left by a
    /// removal that was interrupted. Best effort: a read-only cache keeps them.
    fn clean_stale(&self, age: Duration) {
        let Ok(shards) = read_dir_or_empty(&self.format_dir) else { return };
        let now = SystemTime::now();
        for shard in shards.iter().filter(|s| layout::is_shard_name(&s.file_name())) {
            let Ok(children) = read_dir_or_empty(&shard.path()) else { continue };
            for child in children {
                let stale = match layout::classify(&child.file_name()) {
                    Name::Temp => child
                        .metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d >= age)),
                    Name::Trash => true,
                    _ => false,
                };
                if stale {
                    let _ = fsio::remove_tree(&child.path());
                }
            }
        }
    }
}

fn read_dir_or_empty(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    match fs::read_dir(dir) {
        Ok(rd) => Ok(rd.filter_map(|e| e.ok()).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_error("listing", dir, e)),
    }
}
