//! The cache directory must be the user's alone: a blob another user could plant would be
//! handed to OpenVINO's importer, which is not hardened against hostile input.
#![deny(unsafe_code)]

use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use super::fsio::io_error;
use crate::error::{Error, ErrorKind, Result};

/// Create `root` (and missing parents) with mode 0700, then refuse it unless it is a directory
/// owned by this process's effective user and not writable by group or others.
pub fn ensure_private_root(root: &Path) -> Result<()> {
    if !root.exists() {
        DirBuilder::new().recursive(true).mode(0o700).create(root).map_err(|e| io_error("creating", root, e))?;
    }
    let meta = fs::metadata(root).map_err(|e| io_error("reading", root, e))?;
    check(root, meta.is_dir(), meta.uid(), meta.permissions().mode(), effective_uid())
}

fn check(root: &Path, is_dir: bool, owner: u32, mode: u32, me: u32) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "ovep cache: refusing cache directory {}: {why}; a compiled model placed there by another user \
                 would be loaded into this process. Use a directory only you can write (chmod 700), or set the \
                 cache_dir option",
                root.display()
            ),
        ))
    };
    if !is_dir {
        return refuse("it is not a directory".into());
    }
    if owner != me {
        return refuse(format!("it is owned by uid {owner}, not by this process's user (uid {me})"));
    }
    if mode & 0o022 != 0 {
        return refuse(format!("it is writable by group or others (mode {:o})", mode & 0o7777));
    }
    Ok(())
}

#[allow(unsafe_code)]
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail; std offers no safe equivalent.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_rules() {
        let p = Path::new("/c");
        assert!(check(p, true, 7, 0o40700, 7).is_ok());
        assert!(check(p, true, 7, 0o40755, 7).is_ok(), "readable by others is allowed, writable is not");
        let e = check(p, true, 7, 0o40777, 7).unwrap_err();
        assert!(e.message.contains("writable by group or others (mode 777)"), "{e}");
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(check(p, true, 7, 0o40720, 7).is_err());
        assert!(check(p, true, 7, 0o41702, 7).is_err());
        assert!(check(p, true, 8, 0o40700, 7).unwrap_err().message.contains("owned by uid 8"));
        assert!(check(p, false, 7, 0o100600, 7).unwrap_err().message.contains("not a directory"));
    }
}
