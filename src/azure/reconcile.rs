//! Bringing ARM in line with a set of desired role assignments: listing what exists (one list
//! per subscription and principal, not one GET per assignment), creating with bounded
//! parallelism, adopting equivalents created outside Terraform, replacing stale names, and
//! deleting. Every operation reports its own outcome, so callers can record exactly what
//! happened when some writes fail.

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};

use super::arm::{ArmClient, ArmError};
use super::role_assignments::{self as ra, NewAssignment, RoleAssignment};
use crate::planner::{equivalent, ActualAssignment, DesiredAssignment, Known};

pub fn to_actual(a: &RoleAssignment) -> ActualAssignment {
    ActualAssignment {
        id: a.id.clone(),
        name: a.name.clone(),
        scope: a.scope.clone(),
        role_definition_id: a.role_definition_id.clone(),
        principal_id: a.principal_id.clone(),
        description: a.description.clone(),
    }
}

/// The subscription an ARM scope belongs to, if any.
pub fn subscription_of(scope: &str) -> Option<String> {
    let mut parts = scope.split('/').filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (Some(kw), Some(sub)) if kw.eq_ignore_ascii_case("subscriptions") => Some(sub.to_ascii_lowercase()),
        _ => None,
    }
}

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
    pub description: Option<String>,
    /// The desired assignment, to recognise an equivalent one under another name.
    pub desired: DesiredAssignment,
}

/// How a create ended.
#[derive(Debug)]
pub enum Created {
    /// Created (or already there under our name).
    Created(RoleAssignment),
    /// ARM said an equivalent exists under another name; we took that one over.
    Adopted(RoleAssignment),
}

impl Created {
    pub fn assignment(&self) -> &RoleAssignment {
        match self {
            Created::Created(a) | Created::Adopted(a) => a,
        }
    }
}

async fn create_one(arm: &ArmClient, op: &CreateOp, deadline: Instant) -> Result<Created, ArmError> {
    let new = NewAssignment {
        scope: &op.scope,
        name: &op.name,
        role_definition_guid: &op.role_guid,
        principal_id: &op.principal_id,
        description: op.description.as_deref(),
    };
    match ra::create(arm, &new, deadline).await {
        Ok(a) => Ok(Created::Created(a)),
        Err(e) if e.code() == Some("RoleAssignmentExists") => {
            // Someone (portal, CLI, `az aks update --attach-acr`) made the same grant under
            // another name: find it and take it over instead of failing.
            let sub = subscription_of(&op.scope).unwrap_or_default();
            let existing = ra::list_for_principal(arm, &sub, &op.principal_id, deadline).await?;
            existing.into_iter().find(|a| equivalent(&op.desired, &to_actual(a))).map(Created::Adopted).ok_or(e)
        }
        Err(e) if e.code() == Some("RoleAssignmentUpdateNotPermitted") => {
            // Our deterministic name is taken by a stale assignment (e.g. of a deleted and
            // recreated identity): remove it, then create ours.
            let id = ra::assignment_id(&op.scope, &op.name);
            tracing::info!(id, "replacing a stale role assignment that reuses our name");
            ra::delete(arm, &id, deadline).await?;
            ra::create(arm, &new, deadline).await.map(Created::Created)
        }
        Err(e) => Err(e),
    }
}

/// Create every op with at most `parallelism` writes in flight; one result per op, in order.
pub async fn create_all(
    arm: &ArmClient,
    ops: &[CreateOp],
    parallelism: usize,
    deadline: Instant,
) -> Vec<Result<Created, ArmError>> {
    // Owned items keep the futures free of higher-ranked borrows (they must be Send).
    stream::iter(ops.to_vec())
        .map(|op| async move { create_one(arm, &op, deadline).await })
        .buffered(parallelism.max(1))
        .collect()
        .await
}

/// Delete every id with at most `parallelism` in flight; one result per id, in order.
pub async fn delete_all(
    arm: &ArmClient,
    ids: &[String],
    parallelism: usize,
    deadline: Instant,
) -> Vec<Result<(), ArmError>> {
    stream::iter(ids.to_vec())
        .map(|id| async move { ra::delete(arm, &id, deadline).await })
        .buffered(parallelism.max(1))
        .collect()
        .await
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
}
