//! `Microsoft.ManagedIdentity/userAssignedIdentities` and their
//! `federatedIdentityCredentials` (2023-01-31).

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::{empty, method_not_allowed, ok, Ctx};
use crate::app::{lock, App};
use crate::errors::ArmError;
use crate::store::identities::{FicRequest, IdentityRef, UAMI_TYPE};
use crate::store::{Fic, Identity};

pub const FIC_TYPE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials";

pub fn identity_body(i: &Identity) -> Value {
    json!({
        "id": i.id(),
        "name": i.name,
        "type": UAMI_TYPE,
        "location": i.location,
        "tags": i.tags,
        "properties": {
            "tenantId": i.tenant_id,
            "principalId": i.principal_id,
            "clientId": i.client_id,
        },
    })
}

pub fn fic_body(i: &Identity, f: &Fic) -> Value {
    json!({
        "id": format!("{}/federatedIdentityCredentials/{}", i.id(), f.name),
        "name": f.name,
        "type": FIC_TYPE,
        "properties": {
            "issuer": f.issuer,
            "subject": f.subject,
            "audiences": f.audiences,
        },
    })
}

fn tags_of(v: &Value) -> Result<Option<Map<String, Value>>, ArmError> {
    match v.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            if let Some((k, _)) = m.iter().find(|(_, v)| !v.is_string()) {
                return Err(ArmError::invalid_request_content(format!(
                    "Error converting value to type 'System.String'. Path 'tags.{k}'"
                )));
            }
            Ok(Some(m.clone()))
        }
        Some(_) => Err(ArmError::invalid_request_content("Error converting value to a dictionary. Path 'tags'")),
    }
}

fn location_of(v: &Value) -> Result<Option<String>, ArmError> {
    match v.get("location") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => {
            Err(ArmError::invalid_request_content("Error converting value to type 'System.String'. Path 'location'"))
        }
    }
}

pub async fn route(app: &Arc<App>, ctx: &Ctx) -> Response {
    let segs = ctx.segs();
    let result = match segs.len() {
        // /subscriptions/{s}/providers/Microsoft.ManagedIdentity/userAssignedIdentities
        5 => match ctx.method {
            Method::GET => list(app, ctx, segs[1], None),
            _ => return method_not_allowed(ctx),
        },
        7 => match ctx.method {
            Method::GET => list(app, ctx, segs[1], Some(segs[3])),
            _ => return method_not_allowed(ctx),
        },
        8 => {
            let r = IdentityRef { sub: segs[1].into(), rg: segs[3].into(), name: segs[7].into() };
            match ctx.method {
                Method::PUT => put_identity(app, ctx, &r),
                Method::PATCH => patch_identity(app, ctx, &r),
                Method::GET => app.read(|s| s.get_identity(&ctx.caller, &r)).map(|i| ok(200, &identity_body(&i))),
                Method::DELETE => app.write(|s| s.delete_identity(&ctx.caller, &r)).map(|d| match d {
                    Some(_) => empty(200),
                    None => empty(204),
                }),
                _ => return method_not_allowed(ctx),
            }
        }
        9 | 10 if crate::ids::seg_eq(segs[8], "federatedIdentityCredentials") => {
            let r = IdentityRef { sub: segs[1].into(), rg: segs[3].into(), name: segs[7].into() };
            match (segs.get(9).copied(), &ctx.method) {
                (None, &Method::GET) => list_fics(app, ctx, &r),
                (Some(name), &Method::GET) => {
                    app.read(|s| s.get_fic(&ctx.caller, &r, name)).map(|(i, f)| ok(200, &fic_body(&i, &f)))
                }
                (Some(name), &Method::PUT) => fic_write(app, ctx, &r, name, false).await,
                (Some(name), &Method::DELETE) => fic_write(app, ctx, &r, name, true).await,
                _ => return method_not_allowed(ctx),
            }
        }
        _ => return super::resources::route(app, ctx),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn put_identity(app: &App, ctx: &Ctx, r: &IdentityRef) -> Result<Response, ArmError> {
    let body = ctx.json()?;
    if !body.is_object() {
        return Err(ArmError::invalid_request_content("The request body must be a JSON object."));
    }
    let (location, tags) = (location_of(&body)?, tags_of(&body)?);
    let (status, i) = app.write(|s| s.put_identity(&ctx.caller, r, location, tags, ctx.now))?;
    Ok(ok(status, &identity_body(&i)))
}

fn patch_identity(app: &App, ctx: &Ctx, r: &IdentityRef) -> Result<Response, ArmError> {
    let body = ctx.json()?;
    if !body.is_object() {
        return Err(ArmError::invalid_request_content("The request body must be a JSON object."));
    }
    let (location, tags) = (location_of(&body)?, tags_of(&body)?);
    let i = app.write(|s| s.patch_identity(&ctx.caller, r, location, tags))?;
    Ok(ok(200, &identity_body(&i)))
}

fn list(app: &App, ctx: &Ctx, sub: &str, rg: Option<&str>) -> Result<Response, ArmError> {
    let items = app.read(|s| s.list_identities(&ctx.caller, sub, rg))?;
    let v: Vec<Value> = items.iter().map(identity_body).collect();
    Ok(ok(200, &json!({ "value": v })))
}

fn list_fics(app: &App, ctx: &Ctx, r: &IdentityRef) -> Result<Response, ArmError> {
    let top = match ctx.q("$top") {
        None => None,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err(ArmError::bad_request(
                    "InvalidQueryParameterValue",
                    format!("The value '{t}' of query parameter '$top' is not valid; it must be a positive integer."),
                ))
            }
        },
    };
    let skip = match ctx.q("$skiptoken") {
        None => 0,
        Some(t) => t.parse::<usize>().map_err(|_| {
            ArmError::bad_request("InvalidQueryParameterValue", format!("The skip token '{t}' is not valid."))
        })?,
    };
    let ident = app.read(|s| s.list_fics(&ctx.caller, r))?;
    let total = ident.fics.len();
    let start = skip.min(total);
    let end = top.map_or(total, |t| start.saturating_add(t).min(total));
    let v: Vec<Value> = ident.fics[start..end].iter().map(|f| fic_body(&ident, f)).collect();
    let mut out = json!({ "value": v });
    if end < total {
        out["nextLink"] = json!(format!(
            "{}{}?api-version={}&$top={}&$skiptoken={end}",
            ctx.base,
            ctx.path,
            ctx.api_version,
            top.unwrap_or(total)
        ));
    }
    Ok(ok(200, &out))
}

/// Clears the in-flight marker of an identity when the write finishes.
struct InFlight<'a> {
    app: &'a App,
    key: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(&self.app.fic_inflight).remove(&self.key);
    }
}

fn parse_fic(v: &Value) -> Result<FicRequest, ArmError> {
    let Some(props) = v.get("properties").and_then(Value::as_object) else {
        return Err(ArmError::bad_request(
            "BadRequest",
            "Federated Identity Credential from HTTP body has empty properties",
        ));
    };
    let s = |k: &str| -> Result<Option<String>, ArmError> {
        match props.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ArmError::invalid_request_content(format!(
                "Error converting value to type 'System.String'. Path 'properties.{k}'"
            ))),
        }
    };
    let audiences = match props.get("audiences") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for x in a {
                match x.as_str() {
                    Some(s) => out.push(s.to_string()),
                    None => {
                        return Err(ArmError::invalid_request_content(
                            "Error converting value to type 'System.String'. Path 'properties.audiences'",
                        ))
                    }
                }
            }
            Some(out)
        }
        Some(_) => {
            return Err(ArmError::invalid_request_content(
                "Error converting value to a list. Path 'properties.audiences'",
            ))
        }
    };
    Ok(FicRequest { issuer: s("issuer")?, subject: s("subject")?, audiences })
}

/// PUT/DELETE of a FIC. Overlapping writes under one identity get 409.
async fn fic_write(app: &App, ctx: &Ctx, r: &IdentityRef, name: &str, delete: bool) -> Result<Response, ArmError> {
    let req = if delete { None } else { Some(parse_fic(&ctx.json()?)?) };
    app.read(|s| s.authorize_fic_write(&ctx.caller, r, name, delete))?;
    let key = r.scope().key();
    {
        let mut inflight = lock(&app.fic_inflight);
        if !inflight.insert(key.clone()) {
            return Err(ArmError::new(
                409,
                "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
                format!(
                    "Too many Federated Identity Credentials are written concurrently for the managed identity '{key}'. Concurrent Federated Identity Credentials writes under the same managed identity are not supported."
                ),
            ));
        }
    }
    let _guard = InFlight { app, key };
    let latency = app.read(|s| s.settings().fic_write_latency_ms);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match req {
        None => app.write(|s| s.delete_fic(r, name)).map(|d| match d {
            Some(_) => empty(200),
            None => empty(204),
        }),
        Some(req) => {
            let (status, fic) = app.write(|s| s.put_fic(r, name, req))?;
            let ident = app.read(|s| s.identity(&r.display()).cloned());
            let body = match ident {
                Some(i) => fic_body(&i, &fic),
                None => json!({}),
            };
            Ok(ok(status, &body))
        }
    }
}
