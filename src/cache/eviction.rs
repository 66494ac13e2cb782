//! Which entries go when the cache is over its size cap: least recently used first.
#![forbid(unsafe_code)]

use std::time::SystemTime;

use super::key::Key;

#[derive(Clone, Debug)]
pub struct Candidate {
    pub key: Key,
    /// Bytes on disk (blob + manifest).
    pub bytes: u64,
    pub last_used: SystemTime,
}

/// Indices into `entries` to remove, least recently used first, so that the rest total at
/// most `max_bytes`. Ties (equal times) are broken by key so the choice is deterministic.
pub fn victims(entries: &[Candidate], max_bytes: u64) -> Vec<usize> {
    let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| (entries[i].last_used, entries[i].key));
    order
        .into_iter()
        .take_while(|&i| {
            let over = total > max_bytes;
            if over {
                total -= entries[i].bytes;
            }
            over
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn c(n: u8, bytes: u64, t: u64) -> Candidate {
        Candidate { key: Key::new(blake3::hash(&[n])), bytes, last_used: UNIX_EPOCH + Duration::from_secs(t) }
    }

    #[test]
    fn oldest_first_until_under_cap() {
        let e = [c(0, 10, 30), c(1, 10, 10), c(2, 10, 20), c(3, 10, 40)];
        assert_eq!(victims(&e, 40), Vec::<usize>::new());
        assert_eq!(victims(&e, 39), vec![1]);
        assert_eq!(victims(&e, 20), vec![1, 2]);
        assert_eq!(victims(&e, 0), vec![1, 2, 0, 3]);
        // One big old entry frees enough on its own.
        let e = [c(0, 100, 1), c(1, 10, 2), c(2, 10, 3)];
        assert_eq!(victims(&e, 50), vec![0]);
        assert!(victims(&[], 0).is_empty());
    }
}
