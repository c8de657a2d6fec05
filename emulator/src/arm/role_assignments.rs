//! `/{scope}/providers/Microsoft.Authorization/roleAssignments[/{name}]`

use std::sync::Arc;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use super::{empty, method_not_allowed, ok, Ctx};
use crate::app::App;
use crate::errors::ArmError;
use crate::ids::Scope;
use crate::store::rbac::{parse_ra_filter, RaRequest};
use crate::store::RoleAssignment;
use crate::util::arm_time;

/// Characters left as-is in query values of nextLinks.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// The role definition id as live ARM returns it: subscription-qualified for
/// assignments at or below a subscription, tenant form otherwise.
pub fn role_definition_id_for(scope: &str, guid: &str) -> String {
    match Scope::parse(scope).ok().as_ref().and_then(Scope::subscription) {
        Some(sub) => format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
        None => format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
    }
}

/// The wire form of a role assignment.
pub fn ra_body(ra: &RoleAssignment) -> Value {
    json!({
        "properties": {
            "roleDefinitionId": role_definition_id_for(&ra.scope, &ra.role_definition_guid),
            "principalId": ra.principal_id,
            "principalType": ra.principal_type,
            "scope": ra.scope,
            "condition": ra.condition,
            "conditionVersion": ra.condition_version,
            "description": ra.description,
            "delegatedManagedIdentityResourceId": ra.delegated_managed_identity_resource_id,
            "createdOn": arm_time(ra.created_on),
            "updatedOn": arm_time(ra.updated_on),
            "createdBy": ra.created_by,
            "updatedBy": ra.updated_by,
        },
        "id": ra.id(),
        "type": "Microsoft.Authorization/roleAssignments",
        "name": ra.name,
    })
}

fn opt_string(props: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, ArmError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ArmError::invalid_request_content(format!(
            "Error converting value {other} to type 'System.String'. Path 'properties.{key}'"
        ))),
    }
}

/// Parse a `RoleAssignmentCreateParameters` body.
pub fn parse_body(v: &Value) -> Result<RaRequest, ArmError> {
    let props = v.get("properties").and_then(Value::as_object).ok_or_else(|| {
        ArmError::invalid_request_content("Required property 'properties' not found in JSON. Path ''")
    })?;
    let required = |key: &str| -> Result<String, ArmError> {
        opt_string(props, key)?.ok_or_else(|| {
            ArmError::invalid_request_content(format!("Required property '{key}' not found in JSON. Path 'properties'"))
        })
    };
    Ok(RaRequest {
        role_definition_id: required("roleDefinitionId")?,
        principal_id: required("principalId")?,
        principal_type: opt_string(props, "principalType")?,
        description: opt_string(props, "description")?,
        condition: opt_string(props, "condition")?,
        condition_version: opt_string(props, "conditionVersion")?,
        delegated_managed_identity_resource_id: opt_string(props, "delegatedManagedIdentityResourceId")?,
    })
}

pub fn route(app: &Arc<App>, ctx: &Ctx, scope: &str, name: Option<&str>) -> Response {
    let result = match (&ctx.method, name) {
        (&Method::PUT, Some(name)) => put(app, ctx, scope, name),
        (&Method::GET, Some(name)) => {
            app.read(|s| s.get_role_assignment(&ctx.caller, scope, name)).map(|ra| ok(200, &ra_body(&ra)))
        }
        (&Method::DELETE, Some(name)) => {
            app.write(|s| s.delete_role_assignment(Some(&ctx.caller), scope, name)).map(|r| match r {
                Some(ra) => ok(200, &ra_body(&ra)),
                None => empty(204),
            })
        }
        (&Method::GET, None) => list(app, ctx, scope),
        _ => return method_not_allowed(ctx),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn put(app: &Arc<App>, ctx: &Ctx, scope: &str, name: &str) -> Result<Response, ArmError> {
    let body = ctx.json()?;
    let req = parse_body(&body)?;
    let (status, ra) = app.write(|s| s.put_role_assignment(Some(&ctx.caller), scope, name, req, ctx.now))?;
    Ok(ok(status, &ra_body(&ra)))
}

fn list(app: &Arc<App>, ctx: &Ctx, scope: &str) -> Result<Response, ArmError> {
    let raw_filter = ctx.q("$filter");
    let filter = parse_ra_filter(raw_filter)?;
    let skip = match ctx.q("$skipToken") {
        None => 0usize,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ArmError::bad_request("InvalidSkipToken", format!("The skip token '{t}' is not valid.")))?,
    };
    let (items, page) = app.read(|s| {
        s.list_role_assignments(Some(&ctx.caller), scope, &filter)
            .map(|v| (v, s.settings().role_assignment_page_size.max(1)))
    })?;
    let end = skip.saturating_add(page).min(items.len());
    let values: Vec<Value> = items.get(skip.min(items.len())..end).unwrap_or_default().iter().map(ra_body).collect();
    let mut out = json!({ "value": values });
    if end < items.len() {
        let mut link =
            format!("{}{}?api-version={}", ctx.base, ctx.path, utf8_percent_encode(&ctx.api_version, QUERY_VALUE));
        if let Some(f) = raw_filter {
            link.push_str(&format!("&$filter={}", utf8_percent_encode(f, QUERY_VALUE)));
        }
        link.push_str(&format!("&$skipToken={end}"));
        out["nextLink"] = json!(link);
    }
    Ok(ok(200, &out))
}
