//! Shared server state: the store behind a mutex, persistence, and the
//! non-persisted run-time pieces (faults, request log, in-flight FIC writes, ARM's
//! rate-limit budget).
//!
//! Everything an emulator instance changes lives here or in the store, never in a
//! process-wide static, so several emulators in one process (parallel tests) are
//! independent.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use crate::faults::Faults;
use crate::reqlog::RequestLog;
use crate::store::Store;

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
    /// Reported in ARM's `x-ms-ratelimit-remaining-subscription-*` headers.
    pub rate_budget: Mutex<RateBudget>,
}

/// ARM's hourly request budget (12,000 reads and 1,200 writes), counted per emulator.
#[derive(Debug, Default)]
pub struct RateBudget {
    /// Hours since the Unix epoch of the window being counted.
    hour: u64,
    reads: u64,
    writes: u64,
}

impl RateBudget {
    pub const READS_PER_HOUR: u64 = 12_000;
    pub const WRITES_PER_HOUR: u64 = 1_200;

    /// Count one request made during `hour`; returns the remaining (reads, writes).
    pub fn take(&mut self, is_write: bool, hour: u64) -> (u64, u64) {
        if self.hour != hour {
            *self = RateBudget { hour, reads: 0, writes: 0 };
        }
        let counter = if is_write { &mut self.writes } else { &mut self.reads };
        *counter = counter.saturating_add(1);
        (Self::READS_PER_HOUR.saturating_sub(self.reads), Self::WRITES_PER_HOUR.saturating_sub(self.writes))
    }
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
            rate_budget: Mutex::new(RateBudget::default()),
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

#[cfg(test)]
mod tests {
    use super::RateBudget;

    #[test]
    fn rate_budget_counts_reads_and_writes_and_resets_every_hour() {
        let mut b = RateBudget::default();
        assert_eq!(b.take(false, 7), (11_999, 1_200));
        assert_eq!(b.take(false, 7), (11_998, 1_200));
        assert_eq!(b.take(true, 7), (11_998, 1_199));
        assert_eq!(b.take(false, 8), (11_999, 1_200), "a new hour starts a new window");
    }
}
