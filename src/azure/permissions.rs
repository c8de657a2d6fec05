//! ARM's permissions API (`GET {scope}/providers/Microsoft.Authorization/permissions`,
//! Permissions_ListForResourceGroup / Permissions_ListForResource, authorization 2022-04-01):
//! what the caller may do at a resource group or resource. Used at plan so that a grant the
//! deployer may not write fails the plan, not the apply halfway through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reqwest::Method;
use serde_json::Value as Json;
use tokio::sync::OnceCell;

use super::arm::{ArmClient, ArmError};
use crate::domain::ids::{id_key, ResourceId, ScopeKind};

pub const API_VERSION: &str = "2022-04-01";
pub const ROLE_ASSIGNMENT_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";

/// One entry of the answer: the permissions of one role the caller holds there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permission {
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
}

fn strings(v: &Json, key: &str) -> Vec<String> {
    v.get(key).and_then(Json::as_array).into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect()
}

pub fn parse(body: &Json) -> Vec<Permission> {
    body.get("value")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|p| Permission { actions: strings(p, "actions"), not_actions: strings(p, "notActions") })
        .collect()
}

/// ARM's action wildcards: case-insensitive, `*` matches any run of characters.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == a;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !a.starts_with(first) || !a[first.len()..].ends_with(last) || a.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &a[first.len()..a.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Whether one of the roles grants `action` (within a role, `notActions` subtract).
pub fn permits(perms: &[Permission], action: &str) -> bool {
    perms.iter().any(|p| {
        p.actions.iter().any(|x| action_matches(x, action)) && !p.not_actions.iter().any(|x| action_matches(x, action))
    })
}

/// The scope the API can answer for: `scope` itself when it is a resource group or resource.
fn answerable(scope: &str) -> bool {
    ResourceId::parse(scope).is_ok_and(|id| matches!(id.scope_kind(), ScopeKind::ResourceGroup | ScopeKind::Resource))
}

async fn list(arm: &ArmClient, scope: &str, deadline: Instant) -> Result<Vec<Permission>, ArmError> {
    let path = format!("{}/providers/Microsoft.Authorization/permissions", scope.trim_end_matches('/'));
    let mut resp = arm.send(Method::GET, &path, &[("api-version", API_VERSION)], None, deadline).await?;
    let mut out = parse(&resp.body);
    while let Some(next) =
        resp.body.get("nextLink").and_then(Json::as_str).filter(|s| !s.is_empty()).map(str::to_string)
    {
        resp = arm.send_absolute(Method::GET, &next, None, deadline).await?;
        out.extend(parse(&resp.body));
    }
    Ok(out)
}

/// The resource group holding `scope`, when `scope` is a resource inside one (not the group).
fn enclosing_resource_group(scope: &str) -> Option<String> {
    let id = ResourceId::parse(scope).ok()?;
    if id.scope_kind() != ScopeKind::Resource {
        return None;
    }
    Some(format!("/subscriptions/{}/resourceGroups/{}", id.subscription_id()?, id.resource_group()?))
}

/// Answers per scope, asked once per scope and provider process (one Terraform run). Each
/// scope has one cell, so concurrent questions about one scope make one request.
#[derive(Default)]
pub struct PermissionCache {
    answers: Mutex<HashMap<String, Arc<OnceCell<Option<bool>>>>>,
}

impl PermissionCache {
    /// Whether the caller may write role assignments at `scope`; `None` when that cannot be
    /// told (a scope the API does not cover, or an error asking: the write itself will say).
    ///
    /// Role assignments inherit downwards, so a resource group that allows the write allows it
    /// on every resource inside: the group is asked first, and a resource only when the group
    /// says no (the caller may hold a role on that one resource). 1,000 subnets of one group
    /// cost one request, not 1,000. A deny assignment on the resource itself is not seen this
    /// way; the write then fails as it would without the check.
    pub async fn may_write_role_assignments(&self, arm: &ArmClient, scope: &str, deadline: Instant) -> Option<bool> {
        if !answerable(scope) {
            return None;
        }
        if let Some(group) = enclosing_resource_group(scope) {
            if self.ask(arm, &group, deadline).await == Some(true) {
                return Some(true);
            }
        }
        self.ask(arm, scope, deadline).await
    }

    async fn ask(&self, arm: &ArmClient, scope: &str, deadline: Instant) -> Option<bool> {
        let cell = {
            let mut answers = self.answers.lock().ok()?;
            answers.entry(id_key(scope)).or_default().clone()
        };
        *cell
            .get_or_init(|| async {
                match list(arm, scope, deadline).await {
                    Ok(perms) => Some(permits(&perms, ROLE_ASSIGNMENT_WRITE)),
                    Err(e) => {
                        tracing::debug!(scope, error = %e, "permission check skipped");
                        None
                    }
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_follow_arm() {
        assert!(action_matches("*", ROLE_ASSIGNMENT_WRITE));
        assert!(action_matches("Microsoft.Authorization/*", ROLE_ASSIGNMENT_WRITE));
        assert!(action_matches("microsoft.authorization/roleassignments/*", ROLE_ASSIGNMENT_WRITE));
        assert!(action_matches("*/write", ROLE_ASSIGNMENT_WRITE));
        assert!(action_matches("Microsoft.*/roleAssignments/*", ROLE_ASSIGNMENT_WRITE));
        assert!(!action_matches("*/read", ROLE_ASSIGNMENT_WRITE));
        assert!(!action_matches("Microsoft.Authorization/roleAssignments/read", ROLE_ASSIGNMENT_WRITE));
        assert!(!action_matches("Microsoft.Authorization/*/delete", ROLE_ASSIGNMENT_WRITE));
    }

    #[test]
    fn owner_may_contributor_may_not() {
        let body = |actions: Json, not: Json| json!({"value": [{"actions": actions, "notActions": not, "dataActions": [], "notDataActions": []}]});
        assert!(permits(&parse(&body(json!(["*"]), json!([]))), ROLE_ASSIGNMENT_WRITE), "Owner");
        let contributor =
            body(json!(["*"]), json!(["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write"]));
        assert!(!permits(&parse(&contributor), ROLE_ASSIGNMENT_WRITE), "Contributor");
        assert!(!permits(&parse(&json!({"value": []})), ROLE_ASSIGNMENT_WRITE), "no role");
        // Another role may grant what one role's notActions leave out.
        let mut both = parse(&contributor);
        both.extend(parse(&body(json!(["Microsoft.Authorization/roleAssignments/*"]), json!([]))));
        assert!(permits(&both, ROLE_ASSIGNMENT_WRITE));
    }

    #[test]
    fn only_resource_groups_and_resources_are_asked() {
        assert!(answerable("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"));
        assert!(answerable("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr"));
        assert!(!answerable("/subscriptions/00000000-0000-0000-0000-000000000001"));
        assert!(!answerable("/"));
    }

    #[test]
    fn a_resource_is_first_answered_by_its_resource_group() {
        let rg = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-spoke";
        let subnet = format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet");
        assert_eq!(enclosing_resource_group(&subnet).as_deref(), Some(rg));
        assert_eq!(enclosing_resource_group(rg), None, "a group is asked itself");
        assert_eq!(enclosing_resource_group("/subscriptions/00000000-0000-0000-0000-000000000001"), None);
    }
}
