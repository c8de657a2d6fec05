//! Process-wide async locks by key (an identity's id, …): one Terraform run drives every
//! resource of the provider from one process, so serialising there is what keeps concurrent
//! resources from racing on a shared Azure object. A leaf module.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

/// Locks by key. Entries are weak, so the map only holds keys whose lock is in use.
pub struct KeyedLocks {
    locks: Mutex<BTreeMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl KeyedLocks {
    pub const fn new() -> KeyedLocks {
        KeyedLocks { locks: Mutex::new(BTreeMap::new()) }
    }

    /// The lock of `key` (callers pass a canonical key, e.g. `id_key` of an ARM id).
    pub fn get(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(lock) = locks.get(key).and_then(Weak::upgrade) {
            return lock;
        }
        locks.retain(|_, w| w.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(key.to_string(), Arc::downgrade(&lock));
        lock
    }
}

impl Default for KeyedLocks {
    fn default() -> Self {
        KeyedLocks::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lock_per_key_while_in_use() {
        let locks = KeyedLocks::new();
        let a = locks.get("a");
        assert!(Arc::ptr_eq(&a, &locks.get("a")));
        assert!(!Arc::ptr_eq(&a, &locks.get("b")));
        let held = a.try_lock().unwrap();
        assert!(locks.get("a").try_lock().is_err(), "the same key waits");
        assert!(locks.get("b").try_lock().is_ok(), "another key does not");
        drop(held);
    }
}
