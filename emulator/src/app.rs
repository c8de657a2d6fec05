//! Shared server state: the store behind a mutex, persistence, and the
//! non-persisted run-time pieces (faults, request log, in-flight FIC writes, ARM's
//! throttling buckets).
//!
//! Everything an emulator instance changes lives here or in the store, never in a
//! process-wide static, so several emulators in one process (parallel tests) are
//! independent.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::faults::Faults;
use crate::reqlog::RequestLog;
use crate::store::Store;
use crate::throttle::Buckets;

/// Lock a mutex, recovering from poisoning (a panicked request must not take the
/// whole emulator down with it).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct App {
    store: Mutex<Store>,
    state_path: Option<PathBuf>,
    pub faults: Mutex<Faults>,
    pub log: Mutex<RequestLog>,
    /// Secret the managed identity endpoint expects in `x-identity-header`.
    pub identity_header: String,
    /// PEM of the CA (for kubeconfigs).
    pub ca_pem: String,
    /// `https://127.0.0.1:PORT` (no trailing slash).
    pub base_url: String,
    /// Identities (lower-case ids) with a federated identity credential write in flight.
    pub fic_inflight: Mutex<HashSet<String>>,
    /// ARM's throttling buckets (see `throttle`), shared by every client of this instance.
    pub throttle: Mutex<Buckets>,
    /// The zero of the buckets' clock.
    pub started: Instant,
}

impl App {
    pub fn new(
        store: Store,
        state_path: Option<PathBuf>,
        identity_header: String,
        ca_pem: String,
        base_url: String,
    ) -> App {
        App {
            store: Mutex::new(store),
            state_path,
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(RequestLog::default()),
            identity_header,
            ca_pem,
            base_url,
            fic_inflight: Mutex::new(HashSet::new()),
            throttle: Mutex::new(Buckets::default()),
            started: Instant::now(),
        }
    }

    /// Read-only access to the store.
    pub fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&lock(&self.store))
    }

    /// Mutating access; the state is persisted (with `--state`) when `f` succeeds.
    pub fn write<T, E>(&self, f: impl FnOnce(&mut Store) -> Result<T, E>) -> Result<T, E> {
        let mut guard = lock(&self.store);
        let out = f(&mut guard)?;
        self.persist(&guard);
        Ok(out)
    }

    /// Write the state file (atomically) while the store lock is held, so writes are ordered.
    fn persist(&self, store: &Store) {
        if let Some(path) = &self.state_path {
            let bytes = store.to_json();
            if let Err(e) = crate::store::write_atomically(path, &bytes) {
                tracing::error!(path = %path.display(), error = %e, "cannot write the state file");
            }
        }
    }

    /// Persist unconditionally (at start-up).
    pub fn persist_now(&self) {
        let guard = lock(&self.store);
        self.persist(&guard);
    }
}
