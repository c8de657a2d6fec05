//! Role assignment operations on ARM (Microsoft.Authorization/roleAssignments, 2022-04-01):
//! PUT with `principalType` (which sidesteps most replication failures) and a bounded retry on
//! `PrincipalNotFound`, GET, DELETE (200/204/404 all mean gone), and list by principal with
//! `nextLink` paging. Bodies and codes per the spec in specs/azure-rest-api-specs.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value as Json};

use super::arm::{ArmClient, ArmError};

pub const API_VERSION: &str = "2022-04-01";

/// A role assignment as ARM returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub principal_type: String,
    pub description: Option<String>,
}

impl RoleAssignment {
    pub fn from_json(v: &Json) -> Option<RoleAssignment> {
        let p = v.get("properties")?;
        let s = |o: &Json, k: &str| o.get(k).and_then(Json::as_str).map(str::to_string);
        Some(RoleAssignment {
            id: s(v, "id")?,
            name: s(v, "name")?,
            scope: s(p, "scope").unwrap_or_default(),
            role_definition_id: s(p, "roleDefinitionId")?,
            principal_id: s(p, "principalId")?,
            principal_type: s(p, "principalType").unwrap_or_default(),
            description: s(p, "description"),
        })
    }
}

/// What to create.
#[derive(Debug, Clone)]
pub struct NewAssignment<'a> {
    pub scope: &'a str,
    pub name: &'a str,
    pub role_definition_guid: &'a str,
    pub principal_id: &'a str,
    /// `ServicePrincipal`, `User`, `Group` or `ForeignGroup`: ARM checks it against the directory.
    pub principal_type: &'a str,
    pub description: Option<&'a str>,
}

/// The role definition id to send: subscription-qualified when the scope is in a
/// subscription (what ARM itself returns), the tenant form otherwise.
pub fn role_definition_id_for(scope: &str, guid: &str) -> String {
    let parts: Vec<&str> = scope.split('/').collect();
    match parts.get(1..3) {
        Some([kw, sub]) if kw.eq_ignore_ascii_case("subscriptions") && !sub.is_empty() => {
            format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}")
        }
        _ => format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
    }
}

pub fn assignment_id(scope: &str, name: &str) -> String {
    format!("{}/providers/Microsoft.Authorization/roleAssignments/{name}", scope.trim_end_matches('/'))
}

/// Waiting for a new principal to replicate: how long between tries.
const PRINCIPAL_RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// PUT the assignment. `PrincipalNotFound` (a principal not yet replicated to Entra) is retried
/// every few seconds until `deadline`; the last error is returned if it never appears.
pub async fn create(arm: &ArmClient, new: &NewAssignment<'_>, deadline: Instant) -> Result<RoleAssignment, ArmError> {
    let id = assignment_id(new.scope, new.name);
    let mut props = json!({
        "roleDefinitionId": role_definition_id_for(new.scope, new.role_definition_guid),
        "principalId": new.principal_id,
        "principalType": new.principal_type,
    });
    if let Some(d) = new.description {
        props["description"] = json!(d);
    }
    let body = json!({ "properties": props });
    loop {
        match arm.send(Method::PUT, &id, &[("api-version", API_VERSION)], Some(&body), deadline).await {
            Ok(resp) => {
                return RoleAssignment::from_json(&resp.body).ok_or_else(|| ArmError::Api {
                    method: "PUT".into(),
                    path: id.clone(),
                    status: resp.status,
                    code: "UnexpectedResponse".into(),
                    message: format!("the response is not a role assignment: {}", resp.body),
                    request_id: resp.request_id,
                    correlation_id: String::new(),
                })
            }
            Err(e) if e.code() == Some("PrincipalNotFound") => {
                if Instant::now() + PRINCIPAL_RETRY_INTERVAL >= deadline {
                    return Err(e);
                }
                tracing::info!(principal_id = new.principal_id, "principal not replicated yet; retrying");
                tokio::time::sleep(PRINCIPAL_RETRY_INTERVAL).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// GET by full id; `Ok(None)` when it does not exist.
pub async fn get(arm: &ArmClient, id: &str, deadline: Instant) -> Result<Option<RoleAssignment>, ArmError> {
    match arm.send(Method::GET, id, &[("api-version", API_VERSION)], None, deadline).await {
        Ok(resp) => Ok(RoleAssignment::from_json(&resp.body)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// DELETE by full id; an assignment that is already gone is fine.
pub async fn delete(arm: &ArmClient, id: &str, deadline: Instant) -> Result<(), ArmError> {
    match arm.send(Method::DELETE, id, &[("api-version", API_VERSION)], None, deadline).await {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(404) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Every assignment of `principal_id` visible from `subscription_id` (at, above or below it).
pub async fn list_for_principal(
    arm: &ArmClient,
    subscription_id: &str,
    principal_id: &str,
    deadline: Instant,
) -> Result<Vec<RoleAssignment>, ArmError> {
    let scope = format!("/subscriptions/{subscription_id}");
    list(arm, &scope, &format!("principalId eq '{principal_id}'"), deadline).await
}

/// Assignments of `principal_id` at or above `scope` (`atScope() and assignedTo('…')`): what a
/// single grant needs to find an equivalent, in one request whatever the principal holds
/// elsewhere.
pub async fn list_at_scope_for_principal(
    arm: &ArmClient,
    scope: &str,
    principal_id: &str,
    deadline: Instant,
) -> Result<Vec<RoleAssignment>, ArmError> {
    list(arm, scope, &format!("atScope() and assignedTo('{principal_id}')"), deadline).await
}

/// List at `scope` with `filter`, following `nextLink` pages.
async fn list(arm: &ArmClient, scope: &str, filter: &str, deadline: Instant) -> Result<Vec<RoleAssignment>, ArmError> {
    let path = format!("{}/providers/Microsoft.Authorization/roleAssignments", scope.trim_end_matches('/'));
    let mut out = Vec::new();
    let mut resp =
        arm.send(Method::GET, &path, &[("api-version", API_VERSION), ("$filter", filter)], None, deadline).await?;
    loop {
        out.extend(
            resp.body.get("value").and_then(Json::as_array).into_iter().flatten().filter_map(RoleAssignment::from_json),
        );
        let Some(next) = resp.body.get("nextLink").and_then(Json::as_str).filter(|s| !s.is_empty()) else {
            return Ok(out);
        };
        resp = arm.send_absolute(Method::GET, next, None, deadline).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_definition_id_form_follows_scope() {
        assert_eq!(
            role_definition_id_for("/subscriptions/s/resourceGroups/rg", "g"),
            "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/g"
        );
        assert_eq!(
            role_definition_id_for("/providers/Microsoft.Management/managementGroups/mg", "g"),
            "/providers/Microsoft.Authorization/roleDefinitions/g"
        );
    }

    #[test]
    fn parses_the_spec_example_body() {
        let v = serde_json::json!({"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/0b5fe924-9a61-425c-96af-cfe6e287ca2d","principalId":"ce2ce14e-85d7-4629-bdbc-454d0519d987","principalType":"User","scope":"/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2/resourceGroups/testrg"},"id":"/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2/resourceGroups/testrg/providers/Microsoft.Authorization/roleAssignments/05c5a614-a7d6-4502-b150-c2fb455033ff","type":"Microsoft.Authorization/roleAssignments","name":"05c5a614-a7d6-4502-b150-c2fb455033ff"});
        let a = RoleAssignment::from_json(&v).unwrap();
        assert_eq!(a.name, "05c5a614-a7d6-4502-b150-c2fb455033ff");
        assert_eq!(a.principal_type, "User");
        assert!(RoleAssignment::from_json(&serde_json::json!({"id": "x"})).is_none());
    }
}
