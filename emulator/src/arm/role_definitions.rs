//! `/{scope}/providers/Microsoft.Authorization/roleDefinitions[/{guid}]`

use std::sync::Arc;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{method_not_allowed, ok, Ctx};
use crate::app::App;
use crate::ids::Scope;
use crate::store::rbac::parse_rd_filter;
use crate::store::RoleDefinition;

/// The wire form of a role definition read at `scope`.
pub fn rd_body(rd: &RoleDefinition, scope: &Scope) -> Value {
    let id = match scope.subscription() {
        Some(sub) => format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{}", rd.id),
        None => format!("/providers/Microsoft.Authorization/roleDefinitions/{}", rd.id),
    };
    json!({
        "properties": {
            "roleName": rd.role_name,
            "type": rd.role_type,
            "description": rd.description,
            "assignableScopes": rd.assignable_scopes,
            "permissions": [{
                "actions": rd.actions,
                "notActions": rd.not_actions,
                "dataActions": rd.data_actions,
                "notDataActions": rd.not_data_actions,
            }],
        },
        "id": id,
        "type": "Microsoft.Authorization/roleDefinitions",
        "name": rd.id,
    })
}

pub fn route(app: &Arc<App>, ctx: &Ctx, scope: &str, guid: Option<&str>) -> Response {
    let result = match (&ctx.method, guid) {
        (&Method::GET, Some(guid)) => {
            app.read(|s| s.get_role_definition(&ctx.caller, scope, guid)).map(|(rd, sc)| ok(200, &rd_body(&rd, &sc)))
        }
        (&Method::GET, None) => parse_rd_filter(ctx.q("$filter")).and_then(|f| {
            app.read(|s| s.list_role_definitions(&ctx.caller, scope, &f)).map(|(list, sc)| {
                let v: Vec<Value> = list.iter().map(|r| rd_body(r, &sc)).collect();
                ok(200, &json!({ "value": v }))
            })
        }),
        _ => return method_not_allowed(ctx),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}
