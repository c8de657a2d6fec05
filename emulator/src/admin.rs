//! The admin API at `/_admin` (loopback only, no authentication): fault rules,
//! the request log and counters, out-of-band changes, settings, state dump, reset.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::app::{lock, App};
use crate::errors::{json_response, ArmError};
use crate::faults::FaultSpec;
use crate::ids;
use crate::reqlog::LogEntry;
use crate::store::rbac::RaRequest;
use crate::store::{FederatedSubject, Principal, PrincipalKind, Settings};
use crate::util::is_guid;

fn bad(msg: impl Into<String>) -> Response {
    json_response(400, &json!({"error": {"code": "BadRequest", "message": msg.into()}}))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/faults", post(add_fault).get(list_faults).delete(clear_faults))
        .route("/faults/{id}", delete(remove_fault))
        .route("/requests", get(list_requests).delete(clear_requests))
        .route("/counters", get(counters).delete(clear_counters))
        .route("/role-assignments", post(add_role_assignment).get(all_role_assignments).delete(delete_role_assignment))
        .route("/principals", post(add_principal).get(list_principals))
        .route("/principals/{oid}", delete(delete_principal))
        .route("/settings", get(get_settings).put(put_settings))
        .route("/state", get(dump_state))
        .route("/reset", post(reset))
        .route("/token", post(mint_token))
}

async fn add_fault(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let spec: FaultSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    if let Err(e) = spec.validate() {
        return bad(e);
    }
    let id = lock(&app.faults).add(spec);
    json_response(201, &json!({ "id": id }))
}

async fn list_faults(State(app): State<Arc<App>>) -> Response {
    let faults = lock(&app.faults);
    json_response(200, &json!({ "value": faults.rules }))
}

async fn clear_faults(State(app): State<Arc<App>>) -> Response {
    let n = lock(&app.faults).clear();
    json_response(200, &json!({ "cleared": n }))
}

async fn remove_fault(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return bad("fault ids are numbers");
    };
    if lock(&app.faults).remove(id) {
        json_response(200, &json!({ "removed": id }))
    } else {
        json_response(404, &json!({"error": {"code": "NotFound", "message": format!("no fault {id}")}}))
    }
}

#[derive(Deserialize)]
struct Since {
    since: Option<u64>,
}

async fn list_requests(State(app): State<Arc<App>>, Query(q): Query<Since>) -> Response {
    let log = lock(&app.log);
    let since = q.since.unwrap_or(0);
    let items: Vec<&LogEntry> = log.entries.iter().filter(|e| e.seq > since).collect();
    json_response(200, &serde_json::to_value(items).unwrap_or(Value::Null))
}

async fn clear_requests(State(app): State<Arc<App>>) -> Response {
    let mut log = lock(&app.log);
    let n = log.entries.len();
    log.entries.clear();
    json_response(200, &json!({ "cleared": n }))
}

async fn counters(State(app): State<Arc<App>>) -> Response {
    let log = lock(&app.log);
    json_response(200, &serde_json::to_value(&log.counters).unwrap_or(Value::Null))
}

async fn clear_counters(State(app): State<Arc<App>>) -> Response {
    lock(&app.log).counters.clear();
    json_response(200, &json!({}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminRa {
    name: Option<String>,
    scope: String,
    role_definition_id: Option<String>,
    role_definition_name: Option<String>,
    principal_id: String,
    principal_type: Option<String>,
    description: Option<String>,
    condition: Option<String>,
}

async fn add_role_assignment(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let req: AdminRa = match parse(&body) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let now = OffsetDateTime::now_utc();
    let result = app.write(|s| {
        let role_id = match (&req.role_definition_id, &req.role_definition_name) {
            (Some(id), None) => id.clone(),
            (None, Some(n)) => s
                .role_by_name(n)
                .map(|r| r.id.clone())
                .ok_or_else(|| ArmError::bad_request("RoleDefinitionDoesNotExist", format!("No role named '{n}'.")))?,
            _ => {
                return Err(ArmError::bad_request(
                    "BadRequest",
                    "Set exactly one of role_definition_id and role_definition_name.",
                ))
            }
        };
        let name = req.name.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        s.put_role_assignment(
            None,
            &req.scope,
            &name,
            RaRequest {
                role_definition_id: role_id,
                principal_id: req.principal_id.clone(),
                principal_type: req.principal_type.clone(),
                description: req.description.clone(),
                condition: req.condition.clone(),
                condition_version: None,
                delegated_managed_identity_resource_id: None,
            },
            now,
        )
    });
    match result {
        Ok((status, ra)) => json_response(status, &crate::arm::role_assignments::ra_body(&ra)),
        Err(e) => e.into_response(),
    }
}

async fn all_role_assignments(State(app): State<Arc<App>>) -> Response {
    let items: Vec<Value> =
        app.read(|s| s.state.role_assignments.iter().map(crate::arm::role_assignments::ra_body).collect());
    json_response(200, &json!({ "value": items }))
}

#[derive(Deserialize)]
struct IdQuery {
    id: Option<String>,
}

async fn delete_role_assignment(State(app): State<Arc<App>>, Query(q): Query<IdQuery>) -> Response {
    let Some(id) = q.id else {
        return bad("pass ?id=<role assignment id or name>");
    };
    let removed = app.write(|s| {
        let name = ids::segments(&id).last().map(|n| n.to_string()).unwrap_or_default();
        let pos = s.state.role_assignments.iter().position(|r| {
            if id.contains('/') {
                ids::id_eq(&r.id(), &id)
            } else {
                r.name.eq_ignore_ascii_case(&name)
            }
        });
        Ok::<_, ()>(pos.map(|p| s.state.role_assignments.remove(p)))
    });
    match removed {
        Ok(Some(ra)) => json_response(200, &crate::arm::role_assignments::ra_body(&ra)),
        _ => json_response(
            404,
            &json!({"error": {"code": "RoleAssignmentNotFound", "message": format!("No role assignment '{id}'.")}}),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminPrincipal {
    object_id: Option<String>,
    client_id: Option<String>,
    display_name: Option<String>,
    /// ServicePrincipal (default), ManagedIdentity, User or Group.
    kind: Option<String>,
    tenant: Option<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    federated: Vec<FederatedSubject>,
    /// Seconds until the principal is replicated; defaults to the replication delay setting.
    delay_secs: Option<u64>,
}

fn principal_json(p: &Principal) -> Value {
    json!({
        "object_id": p.object_id,
        "client_id": p.app_id,
        "display_name": p.display_name,
        "kind": p.kind,
        "tenant_id": p.tenant_id,
        "available_at": crate::util::rfc3339_ms(p.available_at),
    })
}

async fn add_principal(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let req: AdminPrincipal = match parse(&body) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let now = OffsetDateTime::now_utc();
    let result = app.write(|s| {
        let kind = match &req.kind {
            None => PrincipalKind::ServicePrincipal,
            Some(k) => PrincipalKind::parse(k).ok_or_else(|| format!("unknown kind {k}"))?,
        };
        let oid = req.object_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if !is_guid(&oid) {
            return Err(format!("object_id '{oid}' is not a GUID"));
        }
        if s.principal(&oid).is_some() {
            return Err(format!("principal {oid} already exists"));
        }
        let app_id = match (&req.client_id, kind) {
            (Some(c), _) => Some(c.clone()),
            (None, PrincipalKind::ServicePrincipal | PrincipalKind::ManagedIdentity) => {
                Some(uuid::Uuid::new_v4().to_string())
            }
            (None, _) => None,
        };
        if let Some(a) = &app_id {
            if !is_guid(a) {
                return Err(format!("client_id '{a}' is not a GUID"));
            }
            if s.principal_by_app_id(a).is_some() {
                return Err(format!("client id {a} is already used"));
            }
        }
        let tenant_id = match &req.tenant {
            Some(t) => s.tenant(t).map(|t| t.id.clone()).ok_or_else(|| format!("unknown tenant {t}"))?,
            None => s.default_tenant().to_string(),
        };
        let delay = req.delay_secs.unwrap_or(s.settings().principal_replication_delay_secs);
        let p = Principal {
            object_id: oid.to_ascii_lowercase(),
            kind,
            display_name: req.display_name.clone().unwrap_or_else(|| oid.clone()),
            tenant_id,
            app_id: app_id.map(|a| a.to_ascii_lowercase()),
            secrets: req.secrets.clone(),
            federated: req.federated.clone(),
            identity_resource_id: None,
            available_at: crate::util::add_secs(now, delay),
        };
        s.state.principals.push(p.clone());
        Ok(p)
    });
    match result {
        Ok(p) => json_response(201, &principal_json(&p)),
        Err(e) => bad(e),
    }
}

async fn list_principals(State(app): State<Arc<App>>) -> Response {
    let items: Vec<Value> = app.read(|s| s.state.principals.iter().map(principal_json).collect());
    json_response(200, &json!({ "value": items }))
}

async fn delete_principal(State(app): State<Arc<App>>, Path(oid): Path<String>) -> Response {
    let removed = app.write(|s| {
        let pos = s.state.principals.iter().position(|p| p.object_id.eq_ignore_ascii_case(&oid));
        Ok::<_, ()>(pos.map(|i| s.state.principals.remove(i)))
    });
    match removed {
        Ok(Some(p)) => json_response(200, &principal_json(&p)),
        _ => json_response(404, &json!({"error": {"code": "NotFound", "message": format!("No principal '{oid}'.")}})),
    }
}

async fn get_settings(State(app): State<Arc<App>>) -> Response {
    let s = app.read(|s| s.settings().clone());
    json_response(200, &serde_json::to_value(s).unwrap_or(Value::Null))
}

async fn put_settings(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let patch: Value = match parse(&body) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    if !patch.is_object() {
        return bad("settings must be a JSON object");
    }
    let result = app.write(|s| {
        let mut current = serde_json::to_value(s.settings()).map_err(|e| e.to_string())?;
        crate::store::k8s::merge_patch(&mut current, &patch);
        let new: Settings = serde_json::from_value(current).map_err(|e| format!("invalid settings: {e}"))?;
        if new.role_assignment_page_size == 0 {
            return Err("role_assignment_page_size must be at least 1".to_string());
        }
        new.arm_throttling.validate()?;
        if let Some(mi) = &new.default_managed_identity {
            if s.principal_by_app_id(mi).is_none() {
                return Err(format!("default_managed_identity: no principal with client id {mi}"));
            }
        }
        let throttling_changed = s.state.settings.arm_throttling != new.arm_throttling;
        s.state.settings = new.clone();
        Ok((new, throttling_changed))
    });
    match result {
        Ok((s, throttling_changed)) => {
            if throttling_changed {
                // New sizes start from full buckets, so a benchmark's first burst is predictable.
                lock(&app.throttle).reset();
            }
            json_response(200, &serde_json::to_value(s).unwrap_or(Value::Null))
        }
        Err(e) => bad(e),
    }
}

async fn dump_state(State(app): State<Arc<App>>) -> Response {
    let v = app.read(|s| serde_json::to_value(&s.state).unwrap_or(Value::Null));
    json_response(200, &v)
}

async fn reset(State(app): State<Arc<App>>) -> Response {
    let now = OffsetDateTime::now_utc();
    match app.write(|s| s.reset(now)) {
        Ok(()) => {
            lock(&app.fic_inflight).clear();
            lock(&app.throttle).reset();
            json_response(200, &json!({"reset": true}))
        }
        Err(e) => json_response(500, &json!({"error": {"code": "InternalServerError", "message": e}})),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    client_id: Option<String>,
    object_id: Option<String>,
    /// Defaults to `https://management.azure.com/`.
    audience: Option<String>,
    lifetime_secs: Option<u64>,
}

/// Mint an access token for any principal without credentials (a test helper).
async fn mint_token(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let req: TokenRequest = match parse(&body) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let now = OffsetDateTime::now_utc();
    let result = app.read(|s| {
        let p = match (&req.client_id, &req.object_id) {
            (Some(c), _) => s.principal_by_app_id(c),
            (None, Some(o)) => s.principal(o),
            (None, None) => None,
        }
        .ok_or("no principal matches client_id/object_id")?;
        let aud = req.audience.clone().unwrap_or_else(|| "https://management.azure.com/".into());
        let lifetime = req.lifetime_secs.unwrap_or(s.settings().token_lifetime_secs);
        let claims = crate::entra::token_claims(p, &aud, now, lifetime, "1");
        Ok::<_, &str>(json!({
            "access_token": crate::entra::mint_token(&s.state.token_key, &claims),
            "expires_in": lifetime,
            "token_type": "Bearer",
        }))
    });
    match result {
        Ok(v) => json_response(200, &v),
        Err(e) => bad(e),
    }
}
