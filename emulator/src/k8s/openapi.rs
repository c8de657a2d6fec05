//! OpenAPI v3 documents (`/openapi/v3` and one per group-version), generated from the
//! same kind table and structural schemas the server validates with, and an empty
//! OpenAPI v2 document.
//!
//! kubectl reads the v3 documents before `apply` and `create` to learn that the server
//! validates fields itself (the `fieldValidation` parameter of the PATCH operation of
//! the object's group-version-kind); then it sends `fieldValidation=Strict` instead of
//! validating on the client. Only for a kind the server does not serve (a custom
//! resource without its CRD) does it validate on the client, against the v2 document:
//! that one has no definitions, so kubectl skips the check and reports the missing kind.

use serde_json::{json, Map, Value};

use super::{crds, ClusterApi};
use crate::store::k8s::schema::Schema;
use crate::store::k8s::{Kind, KINDS, POD_IDENTITY_GROUP};

/// The group-versions served: (path below `/openapi/v3/`, group).
fn group_versions(api: &ClusterApi) -> Vec<(String, &'static str)> {
    let mut out = vec![("api/v1".to_string(), ""), (format!("apis/{}/v1", crds::GROUP), crds::GROUP)];
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

/// `/openapi/v2`: (content type, body). kubectl asks for the protobuf encoding.
pub fn v2_document(api: &ClusterApi, protobuf: bool) -> (&'static str, Vec<u8>) {
    let version = format!("v{}", api.version);
    if !protobuf {
        let doc = json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": version}, "paths": {}});
        return ("application/json", doc.to_string().into_bytes());
    }
    // The gnostic `Document` message: swagger (field 1) and info (field 2: title = 1,
    // version = 2), each length-delimited.
    let field = |tag: u8, bytes: &[u8]| {
        let mut out = vec![tag << 3 | 2];
        let mut len = bytes.len();
        // Base-128 varint, low groups first.
        while len >= 0x80 {
            out.push((len & 0x7f) as u8 | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(bytes);
        out
    };
    let info = [field(1, b"Kubernetes"), field(2, version.as_bytes())].concat();
    let doc = [field(1, b"2.0"), field(2, &info)].concat();
    // The type the API server answers with for that request (`@` is not valid in a
    // Content-Type, so the requested subtype is not echoed).
    ("application/octet-stream", doc)
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
    if group == crds::GROUP {
        let (path, item) = crd_paths();
        paths.insert(path, item);
    }
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

/// The CRD item path: read-only, but with the PATCH operation kubectl looks for to learn
/// that the server validates custom resources' fields (patching a CRD answers 405).
fn crd_paths() -> (String, Value) {
    let gvk = json!({"group": crds::GROUP, "version": "v1", "kind": "CustomResourceDefinition"});
    let op = |action: &str, params: Vec<Value>| {
        json!({"operationId": format!("{action}CustomResourceDefinition"), "parameters": params,
            "responses": {"200": {"description": "OK"}}, "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk})
    };
    let patch_params =
        ["dryRun", "fieldManager", "fieldValidation", "force"].iter().map(|p| query(p, "string")).collect();
    (
        format!("/apis/{}/v1/{}/{{name}}", crds::GROUP, crds::PLURAL),
        json!({"parameters": path_params(&["name"]), "get": op("get", Vec::new()), "patch": op("patch", patch_params)}),
    )
}

pub(super) fn to_openapi(s: &Schema) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api(version: &str, crds: bool) -> ClusterApi {
        ClusterApi { key: "k".into(), version: version.into(), crds }
    }

    #[test]
    fn v2_protobuf_lengths_are_varints() {
        let long = "9".repeat(200);
        let (_, doc) = v2_document(&api(&long, true), true);
        // info = title (12 bytes) + version ("v" + 200 bytes, 3 bytes of tag and length):
        // 216 bytes, the varint 0xd8 0x01; the version's length 201 is 0xc9 0x01.
        assert_eq!(&doc[..8], b"\x0a\x032.0\x12\xd8\x01");
        assert_eq!(&doc[20..23], b"\x12\xc9\x01");
        assert_eq!(doc.len(), 8 + 216);
    }

    #[test]
    fn root_lists_the_pod_identity_group_only_with_the_crds() {
        let paths = |crds| document(&api("1.31.2", crds), &[]).unwrap()["paths"].as_object().unwrap().len();
        assert_eq!((paths(true), paths(false)), (3, 2));
        assert!(document(&api("1.31.2", false), &["apis", "aadpodidentity.k8s.io", "v1"]).is_none());
        assert!(document(&api("1.31.2", true), &["apis", "aadpodidentity.k8s.io", "v1"]).is_some());
    }
}
