//! The request log and counters served by `GET /_admin/requests` and `/_admin/counters`,
//! and the response extension that tells the log who the caller was.
//!
//! A leaf module: the ARM and Entra handlers mark responses, the middleware records them,
//! and the admin API reads the log.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// Response extension: the object id of the authenticated caller.
#[derive(Debug, Clone)]
pub struct CallerOid(pub String);

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    pub time: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    pub duration_ms: u64,
    pub injected: bool,
    pub dropped: bool,
    pub caller_oid: Option<String>,
    pub route: &'static str,
}

/// Ring buffer of recent requests plus counters by method + route kind + status.
#[derive(Debug, Default)]
pub struct RequestLog {
    next_seq: u64,
    pub entries: VecDeque<LogEntry>,
    pub counters: BTreeMap<String, u64>,
}

pub const LOG_CAPACITY: usize = 10_000;

impl RequestLog {
    pub fn push(&mut self, mut e: LogEntry) {
        self.next_seq += 1;
        e.seq = self.next_seq;
        *self.counters.entry(format!("{} {} {}", e.method, e.route, e.status)).or_insert(0) += 1;
        if self.entries.len() >= LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(e);
    }
}

/// Coarse route classification used in the log and the counters.
pub fn route_kind(path: &str) -> &'static str {
    let p = path.to_ascii_lowercase();
    if p.starts_with("/_admin") {
        "admin"
    } else if p.starts_with("/k8s") {
        "kubernetes"
    } else if p.starts_with("/msi/") {
        "managed_identity_token"
    } else if p.contains("/oauth2/") {
        "token"
    } else if p.contains("/providers/microsoft.authorization/roleassignments") {
        "role_assignment"
    } else if p.contains("/providers/microsoft.authorization/roledefinitions") {
        "role_definition"
    } else if p.contains("/federatedidentitycredentials") {
        "federated_identity_credential"
    } else if p.contains("/providers/microsoft.managedidentity/userassignedidentities") {
        "user_assigned_identity"
    } else if p.contains("/providers/microsoft.containerservice/managedclusters") {
        "managed_cluster"
    } else if p.contains("/providers/") {
        "resource"
    } else if p.contains("/resourcegroups") {
        "resource_group"
    } else if p.starts_with("/subscriptions") {
        "subscription"
    } else {
        "unknown"
    }
}
