//! Compiled models shared by the sessions of one process.
//!
//! A server that opens the same model twice (two sessions, or one per thread) should hold its
//! compiled weights once. Compiled models are registered here by the key of what they are (a
//! cache blob key, or an EPContext blob's checksum) and found again by it; the registry holds
//! them weakly, so a model lives exactly as long as some session uses it. Each session keeps
//! its own infer requests: sharing a compiled model between concurrent runs is what OpenVINO
//! compiled models are made for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::ov::compiled::CompiledModel;

/// Weak references by key.
pub struct Registry<T>(Mutex<Option<HashMap<String, Weak<T>>>>);

impl<T> Registry<T> {
    pub const fn new() -> Registry<T> {
        Registry(Mutex::new(None))
    }

    /// The value registered under `key`, if something still holds it.
    pub fn get(&self, key: &str) -> Option<Arc<T>> {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let map = guard.get_or_insert_with(HashMap::new);
        let found = map.get(key).and_then(Weak::upgrade);
        if found.is_none() {
            map.remove(key);
        }
        found
    }

    /// Register `value` under `key` (dead entries are dropped on the way).
    pub fn put(&self, key: &str, value: &Arc<T>) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let map = guard.get_or_insert_with(HashMap::new);
        map.retain(|_, w| w.strong_count() > 0);
        map.insert(key.to_string(), Arc::downgrade(value));
    }
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry::new()
    }
}

/// The process's compiled models.
pub static MODELS: Registry<CompiledModel> = Registry::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_as_long_as_a_holder() {
        let r: Registry<String> = Registry::new();
        let held = Arc::new("compiled".to_string());
        r.put("k", &held);
        assert!(Arc::ptr_eq(&r.get("k").unwrap(), &held));
        assert!(r.get("other").is_none());
        drop(held);
        assert!(r.get("k").is_none(), "a model no session holds is gone");
    }
}
