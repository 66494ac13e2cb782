//! Cache keys: 32-byte BLAKE3 outputs named by their 64 lowercase hex digits, and the builder
//! that derives them from tagged fields.
#![forbid(unsafe_code)]

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Buffers at least this long are hashed on every core (`Hasher::update_rayon`). Below it,
/// handing work to the thread pool costs more than it saves.
pub const PARALLEL_HASH_MIN: usize = 4 << 20;

/// Domain separation: keys from another program (or another key scheme of ovep's) that happen
/// to feed the same bytes can never collide with ours.
const KEY_CONTEXT: &str = "ovep 2026 compiled-model cache key v1";

/// One cache entry's name. Only lowercase hex is accepted so that a key has exactly one
/// spelling on disk.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key([u8; 32]);

impl Key {
    pub fn new(hash: blake3::Hash) -> Key {
        Key(*hash.as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    /// Parse 64 lowercase hex digits.
    pub fn parse(s: &str) -> Result<Key> {
        let ok = s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(Error::invalid_argument(format!("ovep cache: {s:?} is not a key (64 lowercase hex digits)")));
        }
        let hash = blake3::Hash::from_hex(s).map_err(|e| Error::invalid_argument(format!("ovep cache key: {e}")))?;
        Ok(Key::new(hash))
    }
}

impl From<blake3::Hash> for Key {
    fn from(hash: blake3::Hash) -> Key {
        Key::new(hash)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.to_hex())
    }
}

/// What went into a key, kept in the manifest so a human (or a log line) can tell why two
/// entries differ. Large byte fields are summarized by their length.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyField {
    pub name: String,
    pub value: String,
}

/// Longest text value recorded verbatim in `KeyField::value`.
const SUMMARY_MAX: usize = 256;

/// Derives a `Key` from named fields. Each field is fed as `tag, len(name), name, len(value),
/// value` with 64-bit little-endian lengths, so no two different field lists produce the same
/// byte stream (("a", "bc") and ("ab", "c") differ), and order matters.
#[derive(Clone)]
pub struct KeyBuilder {
    hasher: blake3::Hasher,
    fields: Vec<KeyField>,
}

impl Default for KeyBuilder {
    fn default() -> Self {
        KeyBuilder::new()
    }
}

impl KeyBuilder {
    pub fn new() -> KeyBuilder {
        KeyBuilder { hasher: blake3::Hasher::new_derive_key(KEY_CONTEXT), fields: Vec::new() }
    }

    /// A binary field (model bytes, weights). Large values are hashed on every core.
    pub fn bytes(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.feed(b'b', name, value);
        self.fields.push(KeyField { name: name.to_owned(), value: format!("{} bytes", value.len()) });
        self
    }

    /// A text field (device, OpenVINO version, a property's value).
    pub fn str(&mut self, name: &str, value: &str) -> &mut Self {
        self.feed(b's', name, value.as_bytes());
        let mut summary: String = value.chars().take(SUMMARY_MAX).collect();
        if summary.len() < value.len() {
            summary.push_str("...");
        }
        self.fields.push(KeyField { name: name.to_owned(), value: summary });
        self
    }

    pub fn u64(&mut self, name: &str, value: u64) -> &mut Self {
        self.feed(b'u', name, &value.to_le_bytes());
        self.fields.push(KeyField { name: name.to_owned(), value: value.to_string() });
        self
    }

    pub fn key(&self) -> Key {
        Key::new(self.hasher.finalize())
    }

    pub fn fields(&self) -> &[KeyField] {
        &self.fields
    }

    fn feed(&mut self, tag: u8, name: &str, value: &[u8]) {
        self.hasher.update(&[tag]);
        self.hasher.update(&(name.len() as u64).to_le_bytes());
        self.hasher.update(name.as_bytes());
        self.hasher.update(&(value.len() as u64).to_le_bytes());
        update(&mut self.hasher, value);
    }
}

fn update(hasher: &mut blake3::Hasher, bytes: &[u8]) {
    // update_rayon gives the same result as update (BLAKE3's tree is fixed by the input, not
    // by how it is walked); it only splits the work across rayon's pool.
    if bytes.len() >= PARALLEL_HASH_MIN {
        hasher.update_rayon(bytes);
    } else {
        hasher.update(bytes);
    }
}

/// `blake3::hash(bytes)`, computed on every core when `bytes` is large.
pub fn hash_large(bytes: &[u8]) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    update(&mut hasher, bytes);
    hasher.finalize()
}

/// `blake3::hash` of each of `parts`, the parts spread over every core. A model's weights are
/// mostly tensors below `PARALLEL_HASH_MIN` (BERT-base: 2.4 MB matrices), which `hash_large`
/// hashes on one core; hashing them side by side doubles the graph key's speed on two cores.
pub fn hash_each(parts: &[&[u8]]) -> Vec<blake3::Hash> {
    let small: usize = parts.iter().map(|p| p.len()).filter(|&n| n < PARALLEL_HASH_MIN).sum();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    if workers < 2 || small < PARALLEL_HASH_MIN {
        return parts.iter().map(|p| hash_large(p)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut hashes: Vec<Option<blake3::Hash>> = vec![None; parts.len()];
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(p) = parts.get(i) else { return done };
            done.push((i, hash_large(p)));
        }
    };
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..workers).map(|_| s.spawn(work)).collect();
        let mine = work();
        for (i, h) in helpers.into_iter().flat_map(|t| t.join().unwrap_or_default()).chain(mine) {
            hashes[i] = Some(h);
        }
    });
    // A helper that panicked (it cannot: hashing does not fail) would leave a gap: fill it here.
    hashes.into_iter().zip(parts).map(|(h, p)| h.unwrap_or_else(|| hash_large(p))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_each_matches_serial_hashes_in_order() {
        let parts: Vec<Vec<u8>> =
            (0..40usize).map(|i| (0..(i * 97_531) % (3 << 20)).map(|j| (i + j * 13) as u8).collect()).collect();
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        let serial: Vec<blake3::Hash> = parts.iter().map(|p| blake3::hash(p)).collect();
        assert_eq!(hash_each(&refs), serial);
        assert_eq!(hash_each(&refs[..3]), serial[..3]);
        assert!(hash_each(&[]).is_empty());
    }

    fn key_of(text_fields: &[(&str, &str)]) -> Key {
        let mut b = KeyBuilder::new();
        for (name, value) in text_fields {
            b.str(name, value);
        }
        b.key()
    }

    #[test]
    fn field_boundaries_and_order_change_the_key() {
        let base = key_of(&[("a", "bc")]);
        assert_eq!(base, key_of(&[("a", "bc")]));
        assert_ne!(base, key_of(&[("ab", "c")]));
        assert_ne!(base, KeyBuilder::new().bytes("a", b"bc").key(), "the type is part of the field");
        let two = key_of(&[("x", "1"), ("y", "2")]);
        assert_ne!(two, key_of(&[("y", "2"), ("x", "1")]));
        assert_ne!(two, key_of(&[("x", "1y2")]));
        assert_ne!(KeyBuilder::new().u64("n", 1).key(), KeyBuilder::new().u64("n", 256).key());
        // Not the plain hash of anything: the derive-key context separates domains.
        assert_ne!(key_of(&[]), Key::new(blake3::hash(b"")));
    }

    #[test]
    fn key_hex_round_trip_and_rejects() {
        let key = Key::new(blake3::hash(b"x"));
        let hex = key.to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(Key::parse(&hex).unwrap(), key);
        assert_eq!(key.to_string(), hex);
        for bad in [&hex[..63], &hex.to_uppercase(), &format!("{}g", &hex[..63]), "", &format!("{hex}0")] {
            let e = Key::parse(bad).unwrap_err();
            assert!(e.message.contains("not a key"), "{bad}: {e}");
        }
    }

    #[test]
    fn large_hash_matches_serial_hash_around_the_threshold() {
        let data: Vec<u8> = (0..PARALLEL_HASH_MIN * 3 + 12345).map(|i| (i * 31 % 251) as u8).collect();
        for len in [0, 1, 1024, PARALLEL_HASH_MIN - 1, PARALLEL_HASH_MIN, PARALLEL_HASH_MIN + 1, data.len()] {
            assert_eq!(hash_large(&data[..len]), blake3::hash(&data[..len]), "len {len}");
        }
        // A big field through the builder equals the same field fed serially.
        let mut b = KeyBuilder::new();
        b.bytes("w", &data);
        let mut h = blake3::Hasher::new_derive_key(KEY_CONTEXT);
        h.update(b"b").update(&1u64.to_le_bytes()).update(b"w").update(&(data.len() as u64).to_le_bytes());
        h.update(&data);
        assert_eq!(b.key(), Key::new(h.finalize()));
        assert_eq!(b.fields(), &[KeyField { name: "w".into(), value: format!("{} bytes", data.len()) }]);
    }

    /// `cargo test --release hash_throughput -- --ignored --nocapture`
    #[test]
    #[ignore = "benchmark: prints BLAKE3 throughput on 512 MiB"]
    fn hash_throughput() {
        let data: Vec<u8> = (0..512usize << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let gbps = |f: &dyn Fn() -> blake3::Hash| {
            let _ = f(); // warm the pool and caches
            let best = (0..5)
                .map(|_| {
                    let t = std::time::Instant::now();
                    std::hint::black_box(f());
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min);
            data.len() as f64 / best / 1e9
        };
        let serial = gbps(&|| blake3::hash(&data));
        let parallel = gbps(&|| hash_large(&data));
        println!("blake3 512 MiB: serial {serial:.2} GB/s, hash_large {parallel:.2} GB/s");
        assert!(parallel >= 2.0, "hash_large: {parallel:.2} GB/s is below the 2 GB/s target");
    }
}
