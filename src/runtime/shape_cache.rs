//! A small least-recently-used map from input shapes to shape-specialized compiled models.

/// Bounded LRU keyed by the input shapes of one run. Linear scan: a handful of entries.
pub struct ShapeLru<V> {
    capacity: usize,
    /// Most recently used last.
    entries: Vec<(Vec<Vec<i64>>, V)>,
}

impl<V: Clone> ShapeLru<V> {
    pub fn new(capacity: usize) -> Self {
        ShapeLru { capacity: capacity.max(1), entries: Vec::new() }
    }

    pub fn get(&mut self, key: &[Vec<i64>]) -> Option<V> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        let e = self.entries.remove(pos);
        let v = e.1.clone();
        self.entries.push(e);
        Some(v)
    }

    /// Insert, evicting the least recently used entry when full.
    pub fn insert(&mut self, key: Vec<Vec<i64>>, value: V) {
        self.entries.retain(|(k, _)| *k != key);
        if self.entries.len() >= self.capacity {
            self.entries.remove(0);
        }
        self.entries.push((key, value));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut c = ShapeLru::new(2);
        c.insert(vec![vec![1]], 'a');
        c.insert(vec![vec![2]], 'b');
        assert_eq!(c.get(&[vec![1]]), Some('a')); // 1 is now the most recent
        c.insert(vec![vec![3]], 'c'); // evicts 2
        assert_eq!(c.get(&[vec![2]]), None);
        assert_eq!(c.get(&[vec![1]]), Some('a'));
        assert_eq!(c.get(&[vec![3]]), Some('c'));
        assert_eq!(c.len(), 2);
    }
}
