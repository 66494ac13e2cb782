//! Names inside the cache directory. Only this file knows them:
//!
//! ```text
//! <cache_dir>/v1/<key[0..2]>/<key>/blob            the compiled model, as exported
//! <cache_dir>/v1/<key[0..2]>/<key>/manifest.json   what it is; its mtime is the last use
//! <cache_dir>/v1/<key[0..2]>/.tmp-<key>-<pid>-<n>/ an entry being written (never visible)
//! <cache_dir>/v1/<key[0..2]>/.trash-<pid>-<n>/     an entry being removed
//! ```
//!
//! Visible entry names are exactly 64 lowercase hex digits; temporary names start with a dot,
//! so no temporary name can ever be mistaken for an entry.
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::key::Key;

/// Bumped when the on-disk format changes incompatibly; an older ovep then simply does not
/// see the newer entries (and vice versa).
pub const FORMAT_DIR: &str = "v1";
pub const BLOB: &str = "blob";
pub const MANIFEST: &str = "manifest.json";
const TEMP_PREFIX: &str = ".tmp-";
const TRASH_PREFIX: &str = ".trash-";

pub fn format_dir(root: &Path) -> PathBuf {
    root.join(FORMAT_DIR)
}

pub fn shard_dir(format_dir: &Path, key: &Key) -> PathBuf {
    format_dir.join(&key.to_hex()[..2])
}

pub fn entry_dir(format_dir: &Path, key: &Key) -> PathBuf {
    let hex = key.to_hex();
    format_dir.join(&hex[..2]).join(hex)
}

/// A staging directory name for `key`, unique across processes (pid) and threads (counter).
pub fn temp_name(key: &Key) -> String {
    format!("{TEMP_PREFIX}{}-{}", key.to_hex(), nonce())
}

pub fn trash_name() -> String {
    format!("{TRASH_PREFIX}{}", nonce())
}

fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos:x}-{n}", std::process::id())
}

/// What a name found in a shard directory is.
#[derive(Debug, PartialEq, Eq)]
pub enum Name {
    Entry(Key),
    Temp,
    Trash,
    Other,
}

pub fn classify(name: &OsStr) -> Name {
    let Some(name) = name.to_str() else { return Name::Other };
    if name.starts_with(TEMP_PREFIX) {
        Name::Temp
    } else if name.starts_with(TRASH_PREFIX) {
        Name::Trash
    } else {
        Key::parse(name).map(Name::Entry).unwrap_or(Name::Other)
    }
}

/// Shard directories are named by two lowercase hex digits.
pub fn is_shard_name(name: &OsStr) -> bool {
    name.to_str().is_some_and(|s| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_alias() {
        let key = Key::new(blake3::hash(b"k"));
        let hex = key.to_hex();
        assert_eq!(entry_dir(Path::new("/c/v1"), &key), Path::new("/c/v1").join(&hex[..2]).join(&hex));
        assert_eq!(classify(OsStr::new(&hex)), Name::Entry(key));
        let (t1, t2) = (temp_name(&key), temp_name(&key));
        assert_ne!(t1, t2);
        assert_eq!(classify(OsStr::new(&t1)), Name::Temp);
        assert_eq!(classify(OsStr::new(&trash_name())), Name::Trash);
        assert_eq!(classify(OsStr::new("blob")), Name::Other);
        assert!(is_shard_name(OsStr::new(&hex[..2])) && !is_shard_name(OsStr::new("A0")));
    }
}
