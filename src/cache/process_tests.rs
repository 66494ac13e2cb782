//! Tests that need real separate processes: eight writers racing on one key, a read-only
//! cache (as a non-root user), a full disk (a file-size limit). The test binary re-runs
//! itself with `OVEP_CACHE_TEST_ROLE` set, running only `child_process`.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::test_util::{blob, key, key_in_shard, leftovers, make_writable, TestDir};
use super::*;

const ROLE: &str = "OVEP_CACHE_TEST_ROLE";
const DIR: &str = "OVEP_CACHE_TEST_DIR";
const INDEX: &str = "OVEP_CACHE_TEST_INDEX";
const RACE_BLOB_LEN: usize = 8 << 20;
const WRITERS: usize = 8;

fn child_command(role: &str, dir: &Path) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new(exe);
    c.args(child_args()).env(ROLE, role).env(DIR, dir);
    c
}

/// libtest arguments that run only `child_process` (test names omit the crate name).
fn child_args() -> Vec<String> {
    let module = module_path!().split_once("::").unwrap().1;
    vec![format!("{module}::child_process"), "--exact".into(), "--ignored".into(), "--nocapture".into()]
}

fn check_output(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CHILD DONE"), "{what} did not run its role:\n{stdout}");
    stdout
}

/// Not a test of its own: the body of the child processes the tests below start.
#[test]
#[ignore = "run by the multi-process cache tests in a child process"]
fn child_process() {
    let Ok(role) = std::env::var(ROLE) else { return };
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    match role.as_str() {
        "race-same" | "race-different" => race_writer(&dir, role == "race-same"),
        "read-only" => read_only_scenario(&dir),
        "full-disk" => full_disk_scenario(&dir),
        other => panic!("unknown role {other}"),
    }
    println!("CHILD DONE");
}

fn race_writer(dir: &Path, same: bool) {
    let i: u64 = std::env::var(INDEX).unwrap().parse().unwrap();
    let data = blob(if same { 0 } else { i }, RACE_BLOB_LEN);
    let sync = dir.join("sync");
    fs::write(sync.join(format!("ready-{i}")), b"").unwrap();
    let start = Instant::now();
    while !sync.join("go").exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "no go signal");
        sleep(Duration::from_micros(200));
    }
    // The cache directory does not exist yet: the writers also race to create it.
    let store = Store::open(dir.join("cache"), DEFAULT_MAX_BYTES).unwrap();
    let meta = BTreeMap::from([("writer".to_owned(), i.to_string())]);
    let outcome = store.store(&key("race"), &data, &[], &meta).unwrap();
    println!("RESULT {i} {outcome:?}");
}

fn race(same: bool) {
    let t = TestDir::new(if same { "race-same" } else { "race-diff" });
    fs::create_dir(t.path().join("sync")).unwrap();
    let role = if same { "race-same" } else { "race-different" };
    let children: Vec<_> = (0..WRITERS)
        .map(|i| child_command(role, t.path()).env(INDEX, i.to_string()).stdout(std::process::Stdio::piped()).spawn())
        .collect::<Result<_, _>>()
        .unwrap();
    let start = Instant::now();
    while (0..WRITERS).any(|i| !t.path().join(format!("sync/ready-{i}")).exists()) {
        assert!(start.elapsed() < Duration::from_secs(60), "writers did not start");
        sleep(Duration::from_millis(1));
    }
    fs::write(t.path().join("sync/go"), b"").unwrap();
    let outputs: Vec<String> =
        children.into_iter().map(|c| check_output("writer", &c.wait_with_output().unwrap())).collect();
    let written = outputs.iter().filter(|o| o.contains("Written")).count();
    let present = outputs.iter().filter(|o| o.contains("AlreadyPresent")).count();
    assert_eq!((written, present), (1, WRITERS - 1), "{outputs:#?}");

    let root = t.path().join("cache");
    assert_eq!(fs::metadata(&root).unwrap().permissions().mode() & 0o777, 0o700);
    let store = Store::open(&root, DEFAULT_MAX_BYTES).unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
    assert!(leftovers(&root).is_empty(), "{:?}", leftovers(&root));
    let Lookup::Hit(hit) = store.load(&key("race")).unwrap() else { panic!("no valid entry") };
    let winner: u64 = hit.manifest.metadata["writer"].parse().unwrap();
    assert!(outputs[winner as usize].contains("Written"), "the manifest names the writer that won");
    assert_eq!(hit.blob, blob(if same { 0 } else { winner }, RACE_BLOB_LEN));
}

#[test]
fn eight_processes_store_one_key() {
    race(true);
}

#[test]
fn eight_processes_store_one_key_with_different_bytes() {
    // Compiles need not be bit-identical; whichever wins, the entry is whole and valid.
    race(false);
}

/// Runs as the cache's owner, who is not root (root ignores permission bits).
fn read_only_scenario(root: &Path) {
    let store = Store::open(root, DEFAULT_MAX_BYTES).unwrap();
    let stored = key_in_shard("cd", "ro-stored");
    store.store(&stored, &blob(1, 20_000), &[], &BTreeMap::new()).unwrap();
    let v1 = root.join("v1");
    let shard = v1.join("cd");
    for d in [&shard, &v1, &root.to_path_buf()] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o500)).unwrap();
    }
    let store = Store::open(root, DEFAULT_MAX_BYTES).expect("a read-only cache still opens");
    // A new shard and an existing one both fail with an error naming the path.
    for k in [key_in_shard("ef", "ro-new"), key_in_shard("cd", "ro-new")] {
        let e = store.store(&k, &blob(2, 20_000), &[], &BTreeMap::new()).unwrap_err();
        assert!(e.message.contains(&root.display().to_string()), "{e}");
        assert!(e.message.contains("ermission denied"), "{e}");
        assert!(matches!(store.load(&k).unwrap(), Lookup::Miss));
    }
    // Hits are still served; a corrupt entry is reported, though it cannot be removed.
    assert!(matches!(store.load(&stored).unwrap(), Lookup::Hit(h) if h.blob == blob(1, 20_000)));
    let mut f = OpenOptions::new().write(true).open(store_entry(root, &stored).join("blob")).unwrap();
    f.write_all(b"X").unwrap();
    match store.load(&stored).unwrap() {
        Lookup::Discarded { reason, removed } => assert!(reason.contains("checksum") && !removed, "{reason}"),
        other => panic!("expected Discarded, got {other:?}"),
    }
    assert!(leftovers(root).is_empty());
    make_writable(root);
}

fn store_entry(root: &Path, k: &Key) -> PathBuf {
    root.join("v1").join(&k.to_hex()[..2]).join(k.to_hex())
}

#[test]
fn read_only_cache_errors_without_panicking() {
    let t = TestDir::new("readonly");
    let root = t.path().join("cache");
    if perms::effective_uid() != 0 {
        read_only_scenario(&root);
        return;
    }
    // As root, run the scenario as uid 65534 in a cache it owns.
    fs::create_dir(&root).unwrap();
    fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&root, Some(65534), Some(65534)).unwrap();
    // The test binary may sit where uid 65534 cannot reach it (a 0700 home): run a copy.
    let exe = t.path().join("child-exe");
    fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    // Another test thread forking while the copy was open for writing leaves a writable fd in
    // that child until it execs: exec then fails with ETXTBSY for a moment. Retry it.
    let out = (0..100)
        .map(|_| {
            Command::new(&exe).args(child_args()).env(ROLE, "read-only").env(DIR, &root).uid(65534).gid(65534).output()
        })
        .find(|r| {
            let busy = matches!(r, Err(e) if e.raw_os_error() == Some(libc::ETXTBSY));
            if busy {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            !busy
        })
        .expect("the copied test binary stayed busy for 2 s")
        .unwrap();
    check_output("read-only child (uid 65534)", &out);
}

/// Runs under a file-size limit of 32-64 KiB with SIGXFSZ ignored, so a larger write fails
/// with EFBIG part way, as on a full disk.
fn full_disk_scenario(root: &Path) {
    let store = Store::open(root, DEFAULT_MAX_BYTES).unwrap();
    let k = key_in_shard("12", "full");
    let e = store.store(&k, &blob(5, 1 << 20), &[], &BTreeMap::new()).unwrap_err();
    assert!(e.message.contains("writing") && e.message.contains("/blob"), "{e}");
    assert!(matches!(store.load(&k).unwrap(), Lookup::Miss));
    assert!(leftovers(root).is_empty(), "partial staging left: {:?}", leftovers(root));
    assert_eq!(store.stats().unwrap().entries, 0);
    // The cache keeps working for what fits.
    assert_eq!(store.store(&k, &blob(5, 1000), &[], &BTreeMap::new()).unwrap(), Stored::Written { evicted: 0 });
    assert!(matches!(store.load(&k).unwrap(), Lookup::Hit(h) if h.blob == blob(5, 1000)));
}

#[test]
fn full_disk_store_errors_and_leaves_nothing() {
    let t = TestDir::new("fulldisk");
    let root = t.path().join("cache");
    let exe = std::env::current_exe().unwrap();
    // `ulimit -f 64` is 64 blocks of 512 or 1024 bytes depending on the shell; an ignored
    // signal stays ignored across exec.
    let out = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 64 && exec \"$0\" \"$@\"")
        .arg(exe)
        .args(child_args())
        .env(ROLE, "full-disk")
        .env(DIR, &root)
        .output()
        .unwrap();
    check_output("full-disk child", &out);
    // Seen from outside the limit too: one entry, nothing partial.
    let store = Store::open(&root, DEFAULT_MAX_BYTES).unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
    assert!(leftovers(&root).is_empty());
}
