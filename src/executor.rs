//! Bringing ARM in line with a set of desired role assignments: listing what exists (one list
//! per subscription and principal, not one GET per assignment), creating with bounded
//! parallelism, adopting equivalents created outside Terraform, replacing stale names, and
//! deleting. Every operation reports its own outcome, so callers can record exactly what
//! happened when some writes fail.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures_util::stream::{self, StreamExt};

use crate::azure::arm::{ArmClient, ArmError};
use crate::azure::role_assignments::{self as ra, NewAssignment, RoleAssignment};
use crate::domain::ownership::{self, DeleteDecision};
use crate::planner::{equivalent, ActualAssignment, DesiredAssignment, Known};

pub fn to_actual(a: &RoleAssignment) -> ActualAssignment {
    ActualAssignment {
        id: a.id.clone(),
        name: a.name.clone(),
        scope: a.scope.clone(),
        role_definition_id: a.role_definition_id.clone(),
        principal_id: a.principal_id.clone(),
        // What the user wrote: the ownership marker is ours, not part of the grant.
        description: ownership::strip(a.description.as_deref()),
    }
}

pub use crate::domain::ids::subscription_of;

/// Existing assignments of the principals behind `desired` (and of `extra` pairs), keyed by
/// lowercased assignment name. Scopes outside any subscription are looked up one by one.
pub async fn list_existing(
    arm: &ArmClient,
    pairs: impl IntoIterator<Item = (String, String)>,
    deadline: Instant,
    parallelism: usize,
) -> Result<Vec<RoleAssignment>, ArmError> {
    let mut unique: Vec<(String, String)> =
        pairs.into_iter().map(|(s, p)| (s.to_ascii_lowercase(), p.to_ascii_lowercase())).collect();
    unique.sort();
    unique.dedup();
    let results: Vec<Result<Vec<RoleAssignment>, ArmError>> = stream::iter(unique)
        .map(|(sub, principal)| async move { ra::list_for_principal(arm, &sub, &principal, deadline).await })
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    let mut by_id = BTreeMap::new();
    for r in results {
        for a in r? {
            by_id.insert(a.id.to_ascii_lowercase(), a);
        }
    }
    Ok(by_id.into_values().collect())
}

/// The (subscription, principal) pairs to list for these assignments.
pub fn listing_pairs<'a>(desired: impl IntoIterator<Item = &'a DesiredAssignment>) -> Vec<(String, String)> {
    desired
        .into_iter()
        .filter_map(|d| match (&d.principal_id, subscription_of(&d.scope)) {
            (Known::Known(p), Some(sub)) => Some((sub, p.clone())),
            _ => None,
        })
        .collect()
}

/// One assignment to make exist.
#[derive(Debug, Clone)]
pub struct CreateOp {
    pub key: String,
    pub scope: String,
    pub name: String,
    pub role_guid: String,
    pub principal_id: String,
    /// `ServicePrincipal`, `User`, `Group` or `ForeignGroup`, sent as configured.
    pub principal_type: String,
    /// The user's description (the ownership marker is added on write).
    pub description: Option<String>,
    /// The ownership token this write stamps (see `ownership`).
    pub token: String,
    /// State already records an assignment under this name: if ARM holds something else
    /// there, it is ours to replace. Otherwise a name held by an unrelated grant is a conflict.
    pub name_recorded: bool,
    /// The desired assignment, to recognise an equivalent one under another name.
    pub desired: DesiredAssignment,
}

/// How a create ended.
#[derive(Debug)]
pub enum Created {
    /// Created (or already there under our name, now stamped with our marker).
    Created(RoleAssignment),
    /// ARM said an equivalent exists under another name; we took that one over, unchanged.
    Adopted(RoleAssignment),
}

impl Created {
    pub fn assignment(&self) -> &RoleAssignment {
        match self {
            Created::Created(a) | Created::Adopted(a) => a,
        }
    }
}

/// Per-assignment locks of this provider process, and the marker each assignment last got
/// from a write in this process. Terraform applies every object of one provider configuration
/// in one process, so a destroy that races the create of its successor (a module refactor)
/// checks and deletes under the same lock the successor writes under.
#[derive(Default)]
struct Writes {
    by_id: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<String>>>>>,
}

impl Writes {
    fn global() -> &'static Writes {
        static WRITES: OnceLock<Writes> = OnceLock::new();
        WRITES.get_or_init(Writes::default)
    }

    fn slot(&self, id: &str) -> Arc<tokio::sync::Mutex<Option<String>>> {
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id.to_ascii_lowercase()).or_default().clone()
    }
}

async fn create_one(arm: &ArmClient, op: &CreateOp, deadline: Instant) -> Result<Created, ArmError> {
    let description = ownership::stamp(op.description.as_deref(), &op.token);
    let new = NewAssignment {
        scope: &op.scope,
        name: &op.name,
        role_definition_guid: &op.role_guid,
        principal_id: &op.principal_id,
        principal_type: &op.principal_type,
        description: Some(&description),
    };
    let id = ra::assignment_id(&op.scope, &op.name);
    let slot = Writes::global().slot(&id);
    let mut last_write = slot.lock().await;
    let result = match ra::create(arm, &new, deadline).await {
        Ok(a) => Ok(Created::Created(a)),
        Err(e) if e.code() == Some("RoleAssignmentExists") => {
            // Someone (portal, CLI, `az aks update --attach-acr`) made the same grant under
            // another name: find it and take it over instead of failing.
            let sub = subscription_of(&op.scope).unwrap_or_default();
            let existing = ra::list_for_principal(arm, &sub, &op.principal_id, deadline).await?;
            return existing
                .into_iter()
                .find(|a| equivalent(&op.desired, &to_actual(a)))
                .map(Created::Adopted)
                .ok_or(e);
        }
        Err(e) if e.code() == Some("RoleAssignmentUpdateNotPermitted") => {
            replace_stale(arm, op, &new, e, deadline).await
        }
        Err(e) => Err(e),
    };
    if result.is_ok() {
        *last_write = Some(op.token.clone());
    }
    result
}

/// Our name holds an assignment that cannot be updated into ours. Replace it only when it is
/// provably ours: it grants the same principal, role and scope (e.g. another principal type),
/// or state recorded it under this name. A name held by anything else is reported, never deleted.
async fn replace_stale(
    arm: &ArmClient,
    op: &CreateOp,
    new: &NewAssignment<'_>,
    conflict: ArmError,
    deadline: Instant,
) -> Result<Created, ArmError> {
    let id = ra::assignment_id(&op.scope, &op.name);
    let holder = ra::get(arm, &id, deadline).await?;
    let same_grant = holder.as_ref().is_some_and(|a| equivalent(&op.desired, &to_actual(a)));
    if !same_grant && !op.name_recorded {
        let what = holder.map_or_else(
            || "an assignment".to_string(),
            |a| format!("principal {} with role definition {} at {}", a.principal_id, a.role_definition_id, a.scope),
        );
        return Err(ArmError::Api {
            method: "PUT".into(),
            path: id,
            status: 409,
            code: "RoleAssignmentNameTaken".into(),
            message: format!(
                "the name {} is held by {what}, which this resource does not manage; it was left in place. \
                 Choose another name, or import that assignment if it should be managed here. ({conflict})",
                op.name
            ),
            request_id: String::new(),
            correlation_id: String::new(),
        });
    }
    tracing::info!(id, "replacing a stale role assignment that holds our name");
    ra::delete(arm, &id, deadline).await?;
    ra::create(arm, new, deadline).await.map(Created::Created)
}

/// Create every op with at most `parallelism` writes in flight; one result per op, in order.
pub async fn create_all(
    arm: &ArmClient,
    ops: &[CreateOp],
    parallelism: usize,
    deadline: Instant,
) -> Vec<Result<Created, ArmError>> {
    // Owned items keep the futures free of higher-ranked borrows (they must be Send).
    let items = ops.iter().cloned().enumerate();
    in_order(
        stream::iter(items)
            .map(|(i, op)| async move { (i, create_one(arm, &op, deadline).await) })
            .buffer_unordered(parallelism.max(1))
            .collect()
            .await,
    )
}

/// Results that finished in any order, back in the order of their ops. (`buffer_unordered`
/// starts the next op as soon as any finishes; `buffered` would let one slow write, e.g. one
/// waiting for the pacer or a Retry-After, hold up the slots behind it.)
fn in_order<T>(mut done: Vec<(usize, T)>) -> Vec<T> {
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// One assignment to delete if it is still ours.
#[derive(Debug, Clone)]
pub struct DeleteOp {
    pub id: String,
    /// The marker state recorded for it (see `ownership::decide`).
    pub recorded_marker: Option<String>,
    /// What it looks like now, when the caller listed it; `None` means "GET it first".
    pub current: Option<Option<RoleAssignment>>,
}

/// How a delete ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// Deleted, or already gone.
    Gone,
    /// Left in place: another aksid object stamped it since (its token).
    HeldByAnother(String),
}

async fn delete_one(arm: &ArmClient, op: DeleteOp, deadline: Instant) -> Result<Deleted, ArmError> {
    let slot = Writes::global().slot(&op.id);
    let last_write = slot.lock().await;
    let current = match op.current {
        Some(c) => c,
        None => ra::get(arm, &op.id, deadline).await?,
    };
    let Some(current) = current else { return Ok(Deleted::Gone) };
    // A write in this process since the listing is newer than what the listing showed.
    let marker = last_write.as_deref().or(ownership::marker(current.description.as_deref()));
    match ownership::decide(op.recorded_marker.as_deref(), marker) {
        DeleteDecision::Delete => ra::delete(arm, &op.id, deadline).await.map(|()| Deleted::Gone),
        DeleteDecision::HeldByAnother { token } => Ok(Deleted::HeldByAnother(token)),
    }
}

/// Delete every op that is still ours, at most `parallelism` in flight; one result per op, in order.
pub async fn delete_all(
    arm: &ArmClient,
    ops: &[DeleteOp],
    parallelism: usize,
    deadline: Instant,
) -> Vec<Result<Deleted, ArmError>> {
    let items = ops.iter().cloned().enumerate();
    in_order(
        stream::iter(items)
            .map(|(i, op)| async move { (i, delete_one(arm, op, deadline).await) })
            .buffer_unordered(parallelism.max(1))
            .collect()
            .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_of_scopes() {
        assert_eq!(subscription_of("/subscriptions/ABC/resourcegroups/rg").as_deref(), Some("abc"));
        assert_eq!(subscription_of("/providers/Microsoft.Management/managementGroups/mg"), None);
        assert_eq!(subscription_of("/"), None);
    }

    #[test]
    fn results_come_back_in_op_order() {
        assert_eq!(in_order(vec![(2, "c"), (0, "a"), (1, "b")]), vec!["a", "b", "c"]);
        assert!(in_order::<u8>(vec![]).is_empty());
    }
}
