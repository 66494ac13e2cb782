//! A compiled blob's bytes as OpenVINO imports them: mapped from its file when large, so a
//! warm start neither copies the blob into fresh memory nor keeps a private copy of it.
//!
//! Why it matters: OpenVINO's CPU import keeps reading the weights from the buffer it was
//! given (`ov::core::Core::import`), so the buffer lives as long as the compiled model.
//! Reading a 437 MB BERT blob into a `Vec` cost ~250 ms of page faults and copying on every
//! warm start; mapping it costs the page-table work only, and the pages are the page cache's,
//! shared by every process that imports the same entry.
//!
//! The one hazard of a mapping is a file truncated in place while mapped (the reader gets
//! SIGBUS). ovep never writes a published file in place: cache entries and fast-start context
//! models are written in staging directories and published by rename, and removal unlinks
//! (a mapped file's pages outlive its name). ORT maps external-data files the same way.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

/// Files at least this long are mapped; smaller ones are read (a mapping costs a few
/// system calls and a page of address space per file, more than copying a small file).
const MAP_MIN: u64 = 1 << 20;

/// Immutable blob bytes, owned or mapped read-only. Clones share the bytes: a cold start's
/// fresh export is checked by importing it (which keeps its buffer) and then stored, and an
/// imported model hands its blob on (EPContext, the cache), all from one copy.
#[derive(Clone)]
pub struct Blob(Arc<Repr>);

enum Repr {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl Blob {
    /// Read `path`, which must be exactly `size` bytes long when given: another length is
    /// `InvalidData` (truncated or damaged).
    pub fn read(path: &Path, size: Option<u64>) -> io::Result<Blob> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if let Some(size) = size.filter(|&s| s != len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("blob is {len} bytes, the manifest says {size} (truncated or damaged)"),
            ));
        }
        if len >= MAP_MIN {
            // SAFETY: read-only and private to this process; see the module doc for why no
            // file ovep maps is changed in place. `populate` faults the whole file in at once
            // (the checksum reads every byte next anyway).
            #[allow(unsafe_code)]
            let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }?;
            if map.len() as u64 != len {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "blob changed size while being read"));
            }
            return Ok(Blob(Arc::new(Repr::Mapped(map))));
        }
        let mut bytes = Vec::with_capacity(len as usize);
        file.take(len + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 != len {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "blob changed size while being read"));
        }
        Ok(Blob(Arc::new(Repr::Owned(bytes))))
    }

    /// True when the bytes are a mapping of the file (tests, and the log).
    pub fn is_mapped(&self) -> bool {
        matches!(*self.0, Repr::Mapped(_))
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Blob {
        Blob(Arc::new(Repr::Owned(bytes)))
    }
}

impl Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &*self.0 {
            Repr::Owned(v) => v,
            Repr::Mapped(m) => m,
        }
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes{})", self.len(), if self.is_mapped() { ", mapped" } else { "" })
    }
}

impl PartialEq<[u8]> for Blob {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl PartialEq<Vec<u8>> for Blob {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::test_util::TestDir;

    #[test]
    fn small_files_are_read_large_ones_mapped_and_both_hold_the_bytes() {
        let tmp = TestDir::new("blob-read");
        let dir = tmp.path();
        for (name, len) in [("small", 1000usize), ("large", MAP_MIN as usize + 7)] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.join(name);
            std::fs::write(&path, &bytes).unwrap();
            let blob = Blob::read(&path, Some(len as u64)).unwrap();
            assert_eq!(blob, bytes);
            assert_eq!(blob.is_mapped(), len as u64 >= MAP_MIN, "{name}");
            assert_eq!(Blob::read(&path, None).unwrap(), bytes);
            let err = Blob::read(&path, Some(len as u64 + 1)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{name}: {err}");
        }
    }

    #[test]
    fn a_mapping_outlives_the_removal_of_its_file() {
        let tmp = TestDir::new("blob-unlink");
        let path = tmp.path().join("blob");
        let bytes = vec![42u8; MAP_MIN as usize];
        std::fs::write(&path, &bytes).unwrap();
        let blob = Blob::read(&path, None).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(blob.iter().all(|&b| b == 42));
    }
}
