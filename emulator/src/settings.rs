//! Emulator tunables: set in the seed (`settings`) and at run time (`PUT /_admin/settings`).
//!
//! A leaf module: the seed format and the store both use it.

use serde::{Deserialize, Serialize};

/// Tunables, settable in the seed (`settings`) and at run time (`PUT /_admin/settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// New principals (UAMIs created through the API, admin-created principals)
    /// are invisible to role assignments for this many seconds.
    pub principal_replication_delay_secs: u64,
    /// When true, a role assignment PUT that names a `principalType` skips the
    /// directory lookup (no PrincipalNotFound), like live ARM does.
    pub principal_type_skips_replication_check: bool,
    /// Role assignments per subscription (subscription + RG + resource scopes).
    pub role_assignment_limit: usize,
    /// Role assignments per management group.
    pub management_group_role_assignment_limit: usize,
    /// Items per page of a role assignment list (`nextLink` paging).
    pub role_assignment_page_size: usize,
    /// Extra time each federated identity credential write takes, so tests can
    /// provoke the 409 on overlapping writes.
    pub fic_write_latency_ms: u64,
    /// Federated identity credentials per user-assigned identity.
    pub max_fics_per_identity: usize,
    /// Client id used by `/msi/token` when the request names no identity.
    pub default_managed_identity: Option<String>,
    /// Lifetime of issued access tokens.
    pub token_lifetime_secs: u64,
    /// ARM's request throttling (token buckets per subscription and operation class).
    pub arm_throttling: Throttling,
}

/// ARM's throttling: one token bucket per subscription for each operation class. Off by
/// default (every bucket then reports itself full), so only tests that ask for it are slowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Throttling {
    /// When false, requests are never throttled and the headers report full buckets.
    pub enabled: bool,
    /// GET and HEAD.
    pub reads: BucketSettings,
    /// PUT, PATCH and POST.
    pub writes: BucketSettings,
    pub deletes: BucketSettings,
}

/// One bucket: how many tokens it holds when full, and how fast spent tokens come back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketSettings {
    pub bucket_size: u64,
    pub refill_per_sec: f64,
}

impl Default for Throttling {
    /// ARM's published sizes: 250 reads refilled at 25/s, 200 writes and 200 deletes at 10/s.
    fn default() -> Self {
        Throttling {
            enabled: false,
            reads: BucketSettings { bucket_size: 250, refill_per_sec: 25.0 },
            writes: BucketSettings { bucket_size: 200, refill_per_sec: 10.0 },
            deletes: BucketSettings { bucket_size: 200, refill_per_sec: 10.0 },
        }
    }
}

impl Throttling {
    pub fn validate(&self) -> Result<(), String> {
        for (name, b) in [("reads", &self.reads), ("writes", &self.writes), ("deletes", &self.deletes)] {
            if b.bucket_size == 0 {
                return Err(format!("arm_throttling.{name}.bucket_size must be at least 1"));
            }
            if !(b.refill_per_sec.is_finite() && b.refill_per_sec > 0.0) {
                return Err(format!("arm_throttling.{name}.refill_per_sec must be a positive number"));
            }
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            principal_replication_delay_secs: 0,
            principal_type_skips_replication_check: false,
            role_assignment_limit: 4000,
            management_group_role_assignment_limit: 500,
            role_assignment_page_size: 100,
            fic_write_latency_ms: 0,
            max_fics_per_identity: 20,
            default_managed_identity: None,
            token_lifetime_secs: 3599,
            arm_throttling: Throttling::default(),
        }
    }
}
