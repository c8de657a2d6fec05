//! Subscriptions, resource groups and GET of any seeded resource.

use std::sync::Arc;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{method_not_allowed, ok, Ctx};
use crate::app::App;
use crate::errors::ArmError;
use crate::ids::{seg_eq, Scope};
use crate::store::{resource_not_found, Resource, ResourceGroup, Store, Subscription};

pub const SUB_READ: &str = "Microsoft.Resources/subscriptions/read";
pub const RG_READ: &str = "Microsoft.Resources/subscriptions/resourceGroups/read";

pub fn subscription_body(s: &Subscription) -> Value {
    json!({
        "id": format!("/subscriptions/{}", s.id),
        "authorizationSource": "RoleBased",
        "subscriptionId": s.id,
        "tenantId": s.tenant_id,
        "displayName": s.display_name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    })
}

pub fn resource_group_body(g: &ResourceGroup) -> Value {
    let mut v = json!({
        "id": g.id(),
        "name": g.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": g.location,
        "tags": g.tags,
        "properties": {"provisioningState": "Succeeded"},
    });
    if let Some(m) = &g.managed_by {
        v["managedBy"] = json!(m);
    }
    v
}

pub fn resource_body(r: &Resource) -> Value {
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "type": r.resource_type,
        "tags": r.tags,
        "properties": r.properties,
    });
    if let Some(l) = &r.location {
        v["location"] = json!(l);
    }
    if let Some(k) = &r.kind {
        v["kind"] = json!(k);
    }
    if let Some(s) = &r.sku {
        v["sku"] = s.clone();
    }
    v
}

/// Does the caller hold anything at, above or below the subscription?
fn can_see_subscription(s: &Store, oid: &str, sub: &str) -> bool {
    let scope = Scope::Subscription { sub: sub.into() };
    s.is_authorized(oid, SUB_READ, &scope)
        || s.state.role_assignments.iter().any(|ra| {
            ra.principal_id.eq_ignore_ascii_case(oid)
                && Scope::parse(&ra.scope)
                    .ok()
                    .and_then(|x| x.subscription().map(|v| v.eq_ignore_ascii_case(sub)))
                    .unwrap_or(false)
        })
}

pub fn route(app: &Arc<App>, ctx: &Ctx) -> Response {
    let segs = ctx.segs();
    let result = route_inner(app, ctx, &segs);
    result.unwrap_or_else(IntoResponse::into_response)
}

fn route_inner(app: &App, ctx: &Ctx, segs: &[&str]) -> Result<Response, ArmError> {
    let is = |i: usize, lit: &str| segs.get(i).is_some_and(|s| seg_eq(s, lit));
    if !is(0, "subscriptions") {
        return Err(no_route(ctx));
    }
    if ctx.method != Method::GET {
        return Ok(method_not_allowed(ctx));
    }
    match segs.len() {
        1 => {
            let list = app.read(|s| {
                s.state
                    .subscriptions
                    .iter()
                    .filter(|x| x.tenant_id.eq_ignore_ascii_case(&ctx.caller.tid))
                    .filter(|x| can_see_subscription(s, &ctx.caller.oid, &x.id))
                    .map(subscription_body)
                    .collect::<Vec<_>>()
            });
            Ok(ok(200, &json!({ "value": list })))
        }
        2 => app.read(|s| {
            s.check_subscription(segs[1])?;
            let sub = s.subscription(segs[1]).cloned().ok_or_else(|| no_route(ctx))?;
            if !can_see_subscription(s, &ctx.caller.oid, &sub.id) {
                return Err(crate::store::authorization_failed(
                    &ctx.caller,
                    SUB_READ,
                    &format!("/subscriptions/{}", segs[1]),
                ));
            }
            Ok(ok(200, &subscription_body(&sub)))
        }),
        3 if is(2, "resourceGroups") => app.read(|s| {
            let scope = Scope::Subscription { sub: segs[1].into() };
            s.authorize(&ctx.caller, RG_READ, &scope, &format!("/subscriptions/{}/resourceGroups", segs[1]))?;
            s.check_subscription(segs[1])?;
            let v: Vec<Value> = s
                .state
                .resource_groups
                .iter()
                .filter(|g| g.subscription.eq_ignore_ascii_case(segs[1]))
                .map(resource_group_body)
                .collect();
            Ok(ok(200, &json!({ "value": v })))
        }),
        4 if is(2, "resourceGroups") => app.read(|s| {
            let scope = Scope::ResourceGroup { sub: segs[1].into(), rg: segs[3].into() };
            s.authorize(&ctx.caller, RG_READ, &scope, &scope.display())?;
            s.check_subscription(segs[1])?;
            s.check_resource_group(segs[1], segs[3])?;
            let g = s.resource_group(segs[1], segs[3]).cloned().ok_or_else(|| no_route(ctx))?;
            Ok(ok(200, &resource_group_body(&g)))
        }),
        n if n >= 8 && is(2, "resourceGroups") && is(4, "providers") => {
            let Some(scope) = Scope::from_segments(segs) else {
                return Err(invalid_resource_type(ctx, segs));
            };
            let action = format!("{}/read", scope.resource_type().unwrap_or_default());
            app.read(|s| {
                s.authorize(&ctx.caller, &action, &scope, &scope.display())?;
                s.check_subscription(segs[1])?;
                s.check_resource_group(segs[1], segs[3])?;
                let r = s.generic_resource(&scope.display()).cloned().ok_or_else(|| resource_not_found(&scope))?;
                Ok(ok(200, &resource_body(&r)))
            })
        }
        n if n >= 6 && is(2, "resourceGroups") && is(4, "providers") => Err(invalid_resource_type(ctx, segs)),
        _ => Err(no_route(ctx)),
    }
}

fn invalid_resource_type(ctx: &Ctx, segs: &[&str]) -> ArmError {
    let ns = segs.get(5).copied().unwrap_or_default();
    let ty = segs.get(6).copied().unwrap_or_default();
    ArmError::not_found(
        "InvalidResourceType",
        format!(
            "The resource type '{ty}' could not be found in the namespace '{ns}' for api version '{}'.",
            ctx.api_version
        ),
    )
}

fn no_route(ctx: &Ctx) -> ArmError {
    ArmError::not_found("NotFound", format!("The emulator has no route for {} '{}'.", ctx.method, ctx.path))
}
