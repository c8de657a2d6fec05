//! OpenAPI v3 documents (`/openapi/v3` and one per group-version), generated from the
//! same kind table and structural schemas the server validates with.
//!
//! kubectl reads them before `apply` and `create` to learn that the server validates
//! fields itself (the `fieldValidation` parameter of the PATCH operation of the
//! object's group-version-kind); then it sends `fieldValidation=Strict` instead of
//! validating on the client, which would need the full OpenAPI v2 document.

use serde_json::{json, Map, Value};

use super::ClusterApi;
use crate::store::k8s::schema::Schema;
use crate::store::k8s::{Kind, KINDS, POD_IDENTITY_GROUP};

/// The group-versions served: (path below `/openapi/v3/`, group).
fn group_versions(api: &ClusterApi) -> Vec<(String, &'static str)> {
    let mut out = vec![("api/v1".to_string(), "")];
    if api.crds {
        out.push((format!("apis/{POD_IDENTITY_GROUP}/v1"), POD_IDENTITY_GROUP));
    }
    out
}

/// The document at `/openapi/v3/{segs}`, if any.
pub fn document(api: &ClusterApi, segs: &[&str]) -> Option<Value> {
    let gvs = group_versions(api);
    if segs.is_empty() {
        let paths: Map<String, Value> = gvs
            .iter()
            .map(|(p, g)| {
                let hash = crate::store::derived_guid(&group_document(api, g).to_string()).replace('-', "");
                (p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", hash.to_uppercase())}))
            })
            .collect();
        return Some(json!({ "paths": paths }));
    }
    let wanted = segs.join("/");
    gvs.iter().find(|(p, _)| *p == wanted).map(|(_, g)| group_document(api, g))
}

fn schema_name(k: &Kind) -> String {
    if k.group.is_empty() {
        format!("io.k8s.api.core.{}.{}", k.version, k.kind)
    } else {
        let reversed: Vec<&str> = k.group.split('.').rev().collect();
        format!("{}.{}.{}", reversed.join("."), k.version, k.kind)
    }
}

fn group_document(api: &ClusterApi, group: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for k in KINDS.iter().filter(|k| k.group == group) {
        let mut schema = to_openapi(k.schema);
        schema["x-kubernetes-group-version-kind"] = json!([{"group": k.group, "kind": k.kind, "version": k.version}]);
        schemas.insert(schema_name(k), schema);
        for (path, item) in kind_paths(k) {
            paths.insert(path, item);
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v{}", api.version)},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

fn to_openapi(s: &Schema) -> Value {
    match s {
        Schema::Object(props) => {
            let p: Map<String, Value> = props.iter().map(|(n, sub)| (n.to_string(), to_openapi(sub))).collect();
            json!({"type": "object", "properties": p})
        }
        Schema::AnyObject => json!({"type": "object"}),
        Schema::StringMap => json!({"type": "object", "additionalProperties": {"type": "string"}}),
        Schema::String => json!({"type": "string"}),
        Schema::Boolean => json!({"type": "boolean"}),
        Schema::Integer { nullable } => json!({"type": "integer", "nullable": nullable}),
        Schema::Array { items, nullable } => json!({"type": "array", "items": to_openapi(items), "nullable": nullable}),
    }
}

fn query(name: &str, kind: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": kind}, "uniqueItems": true})
}

/// One operation; `body` lists the request body's media types (none: no body).
fn operation(k: &Kind, action: &str, params: &[&str], body: &[&str]) -> Value {
    let reference = json!({"$ref": format!("#/components/schemas/{}", schema_name(k))});
    let content = json!({"application/json": {"schema": reference}});
    let mut op = json!({
        "operationId": format!("{action}{}", k.kind),
        "parameters": params.iter().map(|p| query(p, if *p == "force" { "boolean" } else { "string" })).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK", "content": content}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": k.group, "version": k.version, "kind": k.kind},
    });
    if !body.is_empty() {
        let types: Map<String, Value> = body.iter().map(|t| (t.to_string(), json!({"schema": reference}))).collect();
        op["requestBody"] = json!({"required": true, "content": types});
    }
    op
}

fn path_params(names: &[&str]) -> Value {
    names.iter().map(|n| json!({"name": n, "in": "path", "required": true, "schema": {"type": "string"}})).collect()
}

/// The collection and item paths of a kind, with their operations.
fn kind_paths(k: &Kind) -> Vec<(String, Value)> {
    let root = if k.group.is_empty() { "/api/v1".to_string() } else { format!("/apis/{}/{}", k.group, k.version) };
    let scope = if k.namespaced { format!("{root}/namespaces/{{namespace}}") } else { root.clone() };
    let write = ["dryRun", "fieldManager", "fieldValidation"];
    let json = ["application/json"];
    let mut patch_types = vec!["application/apply-patch+yaml", "application/merge-patch+json"];
    if !k.custom {
        patch_types.push("application/strategic-merge-patch+json");
    }
    let (coll_params, item_params) = if k.namespaced {
        (path_params(&["namespace"]), path_params(&["name", "namespace"]))
    } else {
        (json!([]), path_params(&["name"]))
    };
    let mut out = vec![
        (
            format!("{scope}/{}", k.plural),
            json!({
                "parameters": coll_params,
                "get": operation(k, "list", &["labelSelector", "fieldSelector"], &[]),
                "post": operation(k, "post", &write, &json),
            }),
        ),
        (
            format!("{scope}/{}/{{name}}", k.plural),
            json!({
                "parameters": item_params,
                "get": operation(k, "get", &[], &[]),
                "put": operation(k, "put", &write, &json),
                "patch": operation(k, "patch", &["dryRun", "fieldManager", "fieldValidation", "force"], &patch_types),
                "delete": operation(k, "delete", &["dryRun"], &[]),
            }),
        ),
    ];
    if k.namespaced {
        let list = operation(k, "list", &["labelSelector", "fieldSelector"], &[]);
        out.push((format!("{root}/{}", k.plural), json!({ "get": list })));
    }
    out
}
