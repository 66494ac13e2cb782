//! Helpers for the cache's tests: scratch directories, deterministic blobs, keys.
#![forbid(unsafe_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::key::{Key, KeyBuilder};

/// A scratch directory under the system temp dir, removed (after restoring write permission
/// on every directory in it) when dropped.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(tag: &str) -> TestDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let path = std::env::temp_dir().join(format!("ovep-cache-test-{tag}-{}-{nanos:x}", std::process::id()));
        fs::create_dir_all(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        TestDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        make_writable(&self.0);
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn make_writable(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&e.path());
            }
        }
    }
}

/// `len` pseudo-random bytes, the same for the same `seed`.
pub fn blob(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn key(name: &str) -> Key {
    KeyBuilder::new().str("test", name).key()
}

/// A key whose shard (first two hex digits) is `shard`, to put entries side by side.
pub fn key_in_shard(shard: &str, salt: &str) -> Key {
    (0u64..).map(|i| key(&format!("{salt}{i}"))).find(|k| k.to_hex().starts_with(shard)).unwrap()
}

/// Names in `dir` starting with a dot (staging or trash directories).
pub fn hidden_names(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir) else { return Vec::new() };
    rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with('.')).collect()
}

/// Every staging or trash directory anywhere in the cache.
pub fn leftovers(root: &Path) -> Vec<String> {
    let v1 = root.join(super::layout::FORMAT_DIR);
    let Ok(rd) = fs::read_dir(&v1) else { return Vec::new() };
    rd.flatten().flat_map(|s| hidden_names(&s.path())).collect()
}
