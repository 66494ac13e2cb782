//! Durable file-system steps: private creation, fsync of files and directories, removal by
//! rename-then-delete. `io::Result` here; the store turns failures into `Error`s with context.
#![forbid(unsafe_code)]

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::SystemTime;

use crate::error::Error;

/// Create one directory, private to the user. `Ok(false)` if it already exists.
pub fn create_private_dir(path: &Path) -> io::Result<bool> {
    match DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Write a new file (never an existing one), set its mtime if asked, and fsync it.
pub fn write_new_synced(path: &Path, bytes: &[u8], mtime: Option<SystemTime>) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    if let Some(t) = mtime {
        file.set_modified(t)?;
    }
    file.sync_all()
}

/// fsync a directory so that the names created, renamed or removed in it are durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Replace `path` with `bytes`: written beside it under a temporary name, then renamed, so a
/// reader sees the old file or the new one, never half of one. The temporary file does not
/// outlive a failure.
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Set a file's mtime (the cache's "last used" mark).
pub fn touch(path: &Path, time: SystemTime) -> io::Result<()> {
    OpenOptions::new().write(true).open(path)?.set_modified(time)
}

/// Remove a directory tree; a tree that is already gone is not an error.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Make a directory disappear atomically (rename to `trash`, in the same parent) and then
/// delete it. A reader never sees it half removed.
pub fn discard_dir(path: &Path, trash: &Path) -> io::Result<()> {
    fs::rename(path, trash)?;
    remove_tree(trash)
}

/// An I/O failure as an ovep error naming what was being done and where.
pub fn io_error(what: &str, path: &Path, e: io::Error) -> Error {
    Error::ep_fail(format!("ovep cache: {what} {}: {e}", path.display()))
}
