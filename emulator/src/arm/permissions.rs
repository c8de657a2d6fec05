//! `GET {scope}/providers/Microsoft.Authorization/permissions` (Permissions_ListForResourceGroup
//! and Permissions_ListForResource, authorization 2022-04-01): the caller's effective permissions
//! at a resource group or resource, one entry per role the caller holds at or above it.

use std::sync::Arc;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{method_not_allowed, ok, Ctx};
use crate::app::App;
use crate::ids::Scope;

pub fn route(app: &Arc<App>, ctx: &Ctx, scope: &str) -> Option<Response> {
    let parsed = Scope::parse(scope).ok()?;
    // The spec defines the operation for resource groups and resources only.
    if !matches!(parsed, Scope::ResourceGroup { .. } | Scope::Resource { .. }) {
        return None;
    }
    if ctx.method != Method::GET {
        return Some(method_not_allowed(ctx));
    }
    let value: Vec<Value> = app.read(|s| {
        s.roles_of_caller_at(&ctx.caller.oid, &parsed)
            .into_iter()
            .map(|r| {
                json!({
                    "actions": r.actions,
                    "notActions": r.not_actions,
                    "dataActions": r.data_actions,
                    "notDataActions": r.not_data_actions,
                })
            })
            .collect()
    });
    Some(ok(200, &json!({ "value": value })).into_response())
}
