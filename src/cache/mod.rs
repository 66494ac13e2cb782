//! The persistent compiled-model cache: an on-disk, content-addressed blob store.
//!
//! The EP derives a `Key` from everything that determines a compiled model (`KeyBuilder`),
//! `load`s it, and on a miss compiles, exports and `store`s the blob. The store guarantees:
//!
//! - **Nothing unverified reaches OpenVINO.** `load` checks the manifest's format, version and
//!   key, the blob's size and its BLAKE3 checksum before returning bytes. A bad entry is
//!   removed and reported once as `Lookup::Discarded`, never a panic.
//! - **All or nothing.** Entries are written in a staging directory, fsynced and published by
//!   one directory rename; a crash leaves no visible partial entry (`store.rs`).
//! - **Safe under concurrency without locks.** Processes storing one key race on that rename;
//!   one wins, the others see `Stored::AlreadyPresent`.
//! - **Private.** The cache directory is created 0700 and refused if another user could write
//!   it (`perms.rs`).
//! - **Bounded.** A size cap (default 8 GiB) with least-recently-used eviction; a load marks
//!   use by setting the manifest's mtime (`layout.rs` shows the directory layout).
//!
//! Where the cache lives: `location::resolve_dir`.
#![deny(unsafe_code)] // perms.rs needs one geteuid() call and blob.rs one mmap; every other file forbids it.

mod blob;
mod entry;
mod eviction;
mod fsio;
mod key;
mod layout;
mod location;
mod manifest;
mod outcome;
mod perms;
mod store;

#[cfg(test)]
mod process_tests;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod test_util;

pub use blob::Blob;
pub use fsio::replace_file;
pub use key::{hash_each, hash_large, Key, KeyBuilder, KeyField, PARALLEL_HASH_MIN};
pub use location::{resolve_dir, ENV_CACHE_DIR};
pub use manifest::{Manifest, FORMAT, FORMAT_VERSION};
pub use outcome::{EntryInfo, Hit, Lookup, PruneReport, Stats, Stored, VerifyReport};
pub use perms::ensure_private_root;
pub use store::{Store, DEFAULT_MAX_BYTES, STALE_TEMP_AGE};
