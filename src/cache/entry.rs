//! The files of one entry directory: writing a staging copy, reading them back bounded.
#![forbid(unsafe_code)]

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::SystemTime;

use super::fsio::{self, io_error};
use super::layout::{BLOB, MANIFEST};
use super::manifest::{Manifest, MAX_MANIFEST_BYTES};
use crate::error::Result;

/// Staging: blob, then manifest (with its mtime = now, the entry's first "use"), then the
/// directory itself, all fsynced before the rename that publishes them.
pub fn write_staging(staging: &Path, blob: &[u8], manifest: &Manifest) -> Result<()> {
    fs::DirBuilder::new().mode(0o700).create(staging).map_err(|e| io_error("creating", staging, e))?;
    let blob_path = staging.join(BLOB);
    fsio::write_new_synced(&blob_path, blob, None).map_err(|e| io_error("writing", &blob_path, e))?;
    let manifest_path = staging.join(MANIFEST);
    fsio::write_new_synced(&manifest_path, &manifest.to_json(), Some(SystemTime::now()))
        .map_err(|e| io_error("writing", &manifest_path, e))?;
    fsio::sync_dir(staging).map_err(|e| io_error("syncing", staging, e))
}

pub fn read_manifest_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len > MAX_MANIFEST_BYTES {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("manifest.json is {len} bytes, too large")));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}
