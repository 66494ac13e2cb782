//! Single-process tests of the store on a real file system.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, SystemTime};

use super::layout::{self, BLOB, MANIFEST};
use super::test_util::{blob, key, key_in_shard, leftovers, TestDir};
use super::*;
use crate::error::ErrorKind;

fn meta() -> BTreeMap<String, String> {
    BTreeMap::from([("openvino".into(), "2026.4.1".into()), ("device".into(), "CPU".into())])
}

fn entry(store: &Store, key: &Key) -> PathBuf {
    layout::entry_dir(&layout::format_dir(store.root()), key)
}

fn put(store: &Store, k: &Key, data: &[u8]) -> Stored {
    store.store(k, data, &[], &meta()).unwrap()
}

fn discarded(lookup: Lookup) -> (String, bool) {
    match lookup {
        Lookup::Discarded { reason, removed } => (reason, removed),
        other => panic!("expected Discarded, got {other:?}"),
    }
}

#[test]
fn round_trip() {
    let t = TestDir::new("roundtrip");
    let root = t.path().join("nested/cache");
    let store = Store::open(&root, DEFAULT_MAX_BYTES).unwrap();
    assert_eq!(fs::metadata(&root).unwrap().permissions().mode() & 0o777, 0o700);

    let mut kb = KeyBuilder::new();
    kb.str("device", "CPU").u64("opset", 17).bytes("model", b"onnx bytes");
    let k = kb.key();
    let data = blob(1, 100_000);
    assert_eq!(store.store(&k, &data, kb.fields(), &meta()).unwrap(), Stored::Written { evicted: 0 });
    assert!(leftovers(&root).is_empty());
    let dir = entry(&store, &k);
    assert!(dir.starts_with(root.join("v1").join(&k.to_hex()[..2])));
    assert_eq!(fs::metadata(dir.join(BLOB)).unwrap().permissions().mode() & 0o777, 0o600);

    let Lookup::Hit(hit) = store.load(&k).unwrap() else { panic!("expected a hit") };
    assert_eq!(hit.blob, data);
    assert_eq!(hit.manifest.metadata, meta());
    assert_eq!(hit.manifest.key_fields, kb.fields());
    assert_eq!(hit.manifest.blob_size, data.len() as u64);
    assert_eq!(hit.manifest.blob_blake3, blake3::hash(&data).to_hex().as_str());

    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].key, list[0].blob_size), (k, data.len() as u64));
    let manifest_len = fs::metadata(dir.join(MANIFEST)).unwrap().len();
    let stats = store.stats().unwrap();
    assert_eq!((stats.entries, stats.bytes), (1, data.len() as u64 + manifest_len));

    assert_eq!(put(&store, &k, &data), Stored::AlreadyPresent);
    // Empty and large (parallel-hashed) blobs.
    let (k0, k1) = (key("empty"), key("large"));
    let large = blob(2, PARALLEL_HASH_MIN * 2 + 7);
    put(&store, &k0, &[]);
    put(&store, &k1, &large);
    assert!(matches!(store.load(&k0).unwrap(), Lookup::Hit(h) if h.blob.is_empty()));
    assert!(matches!(store.load(&k1).unwrap(), Lookup::Hit(h) if h.blob == large));

    assert!(store.remove(&k).unwrap());
    assert!(!dir.exists());
    assert!(matches!(store.load(&k).unwrap(), Lookup::Miss));
    assert!(!store.remove(&k).unwrap());
    assert!(leftovers(&root).is_empty());
}

/// Store one entry, damage it with `damage`, and check load discards and removes it.
fn check_damage(tag: &str, damage: impl Fn(&Path), reason_has: &str) {
    let t = TestDir::new(tag);
    let store = Store::open(t.path(), DEFAULT_MAX_BYTES).unwrap();
    let k = key(tag);
    put(&store, &k, &blob(3, 50_000));
    damage(&entry(&store, &k));
    let (reason, removed) = discarded(store.load(&k).unwrap());
    assert!(reason.contains(reason_has), "{tag}: {reason}");
    assert!(removed);
    assert!(!entry(&store, &k).exists(), "{tag}: entry still there");
    assert!(matches!(store.load(&k).unwrap(), Lookup::Miss));
    assert!(leftovers(t.path()).is_empty());
    // The key can be stored again.
    assert_eq!(put(&store, &k, &blob(3, 50_000)), Stored::Written { evicted: 0 });
    assert!(matches!(store.load(&k).unwrap(), Lookup::Hit(_)));
}

fn rewrite_manifest(dir: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(dir.join(MANIFEST)).unwrap()).unwrap();
    edit(&mut v);
    fs::write(dir.join(MANIFEST), serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn corrupt_byte_in_blob() {
    check_damage(
        "corrupt",
        |dir| {
            let mut f = OpenOptions::new().read(true).write(true).open(dir.join(BLOB)).unwrap();
            f.seek(SeekFrom::Start(31_337)).unwrap();
            f.write_all(&[0x5a ^ blob(3, 50_000)[31_337]]).unwrap();
        },
        "checksum",
    );
}

#[test]
fn truncated_blob() {
    check_damage(
        "truncated",
        |dir| OpenOptions::new().write(true).open(dir.join(BLOB)).unwrap().set_len(49_999).unwrap(),
        "truncated",
    );
}

#[test]
fn manifest_of_another_format_version() {
    check_damage("version", |dir| rewrite_manifest(dir, |v| v["format_version"] = 2.into()), "format version");
}

#[test]
fn other_damage() {
    check_damage("nomanifest", |dir| fs::remove_file(dir.join(MANIFEST)).unwrap(), "manifest.json is missing");
    check_damage("noblob", |dir| fs::remove_file(dir.join(BLOB)).unwrap(), "blob is missing");
    check_damage("garbage", |dir| fs::write(dir.join(MANIFEST), b"\x00\xffnot json").unwrap(), "not JSON");
    check_damage("wrongsize", |dir| rewrite_manifest(dir, |v| v["blob_size"] = 7.into()), "manifest says 7");
    check_damage("wrongkey", |dir| rewrite_manifest(dir, |v| v["key"] = key("x").to_hex().into()), "found under");
}

#[test]
fn verify_all_removes_only_bad_entries() {
    let t = TestDir::new("verify");
    let store = Store::open(t.path(), DEFAULT_MAX_BYTES).unwrap();
    let keys: Vec<Key> = (0..3).map(|i| key(&format!("v{i}"))).collect();
    for (i, k) in keys.iter().enumerate() {
        put(&store, k, &blob(i as u64, 10_000));
    }
    let before = fs::metadata(entry(&store, &keys[0]).join(MANIFEST)).unwrap().modified().unwrap();
    fs::write(entry(&store, &keys[1]).join(BLOB), blob(9, 10_000)).unwrap();
    let report = store.verify_all().unwrap();
    assert_eq!(report.valid, 2);
    assert_eq!(report.discarded.len(), 1);
    assert_eq!(report.discarded[0].0, keys[1]);
    assert!(report.discarded[0].1.contains("checksum"));
    assert_eq!(store.list().unwrap().len(), 2);
    // Verification is not a use.
    assert_eq!(fs::metadata(entry(&store, &keys[0]).join(MANIFEST)).unwrap().modified().unwrap(), before);
}

#[test]
fn eviction_by_last_use() {
    let t = TestDir::new("evict");
    let store = Store::open(t.path(), DEFAULT_MAX_BYTES).unwrap();
    let (a, b, c) = (key("a"), key("b"), key("c"));
    for (i, k) in [a, b, c].iter().enumerate() {
        put(&store, k, &blob(i as u64, 100_000));
        sleep(Duration::from_millis(20));
    }
    assert!(matches!(store.load(&a).unwrap(), Lookup::Hit(_))); // a is now the most recent
    let order: Vec<Key> = store.list().unwrap().iter().map(|e| e.key).collect();
    assert_eq!(order, vec![b, c, a]);

    let per_entry = store.stats().unwrap().bytes / 3;
    let report = store.prune(per_entry * 2 + 10).unwrap();
    assert_eq!(report.removed, 1);
    assert!(matches!(store.load(&b).unwrap(), Lookup::Miss), "b was least recently used");
    assert!(entry(&store, &a).exists() && entry(&store, &c).exists());
    assert_eq!(report.remaining_bytes, store.stats().unwrap().bytes);

    // The cap applies on store: a store that goes over it evicts the least recently used.
    let capped = Store::open(t.path(), per_entry * 2 + 10).unwrap();
    sleep(Duration::from_millis(20));
    assert_eq!(put(&capped, &b, &blob(1, 100_000)), Stored::Written { evicted: 1 });
    assert!(!entry(&store, &c).exists(), "c was least recently used");
    assert!(entry(&store, &a).exists() && entry(&store, &b).exists());

    assert_eq!(store.prune(0).unwrap().removed, 2);
    assert_eq!(store.stats().unwrap().entries, 0);
    assert!(leftovers(t.path()).is_empty());
}

#[test]
fn blob_larger_than_the_cap_is_refused() {
    let t = TestDir::new("toolarge");
    let store = Store::open(t.path(), 1000).unwrap();
    let e = store.store(&key("big"), &blob(0, 1001), &[], &meta()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("exceeds the cache size cap"), "{e}");
    assert_eq!(store.stats().unwrap().entries, 0);
}

#[test]
fn refuses_directories_others_can_write_or_own() {
    let t = TestDir::new("perms");
    for mode in [0o777, 0o770, 0o702] {
        let dir = t.path().join(format!("m{mode:o}"));
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
        let e = Store::open(&dir, DEFAULT_MAX_BYTES).unwrap_err();
        assert!(e.message.contains("writable by group or others"), "{e}");
        assert!(e.message.contains(&dir.display().to_string()));
        assert!(!dir.join("v1").exists(), "nothing is created in a refused directory");
    }
    let file = t.path().join("file");
    fs::write(&file, b"").unwrap();
    assert!(Store::open(&file, 1).unwrap_err().message.contains("not a directory"));

    // Owned by someone else: as root, a directory given to uid 65534; otherwise "/" (root's).
    let foreign = if perms::effective_uid() == 0 {
        let dir = t.path().join("foreign");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        dir
    } else {
        PathBuf::from("/")
    };
    let owner = fs::metadata(&foreign).unwrap().uid();
    let e = Store::open(&foreign, 1).unwrap_err();
    assert!(e.message.contains(&format!("owned by uid {owner}")), "{e}");
}

#[test]
fn stale_temps_are_cleaned_and_never_visible() {
    let t = TestDir::new("stale");
    let store = Store::open(t.path(), DEFAULT_MAX_BYTES).unwrap();
    let k = key_in_shard("ab", "stale");
    put(&store, &k, b"kept");
    let shard = entry(&store, &k).parent().unwrap().to_owned();
    // A writer that died after writing its blob (no rename), an hour and a minute ago ...
    let crashed = key_in_shard("ab", "crashed");
    let old = shard.join(layout::temp_name(&crashed));
    fs::create_dir(&old).unwrap();
    fs::write(old.join(BLOB), b"partial").unwrap();
    let old_time = SystemTime::now() - STALE_TEMP_AGE - Duration::from_secs(60);
    fs::File::open(&old).unwrap().set_modified(old_time).unwrap();
    // ... one that may still be writing, and an interrupted removal.
    let fresh = shard.join(layout::temp_name(&crashed));
    fs::create_dir(&fresh).unwrap();
    let trash = shard.join(layout::trash_name());
    fs::create_dir(&trash).unwrap();
    fs::write(trash.join(BLOB), b"x").unwrap();

    assert!(matches!(store.load(&crashed).unwrap(), Lookup::Miss));
    assert_eq!(store.stats().unwrap().entries, 1);

    let reopened = Store::open(t.path(), DEFAULT_MAX_BYTES).unwrap();
    assert!(!old.exists() && !trash.exists());
    assert!(fresh.exists(), "a recent staging directory may belong to a live writer");
    assert!(matches!(reopened.load(&k).unwrap(), Lookup::Hit(h) if *h.blob == *b"kept"));
}
