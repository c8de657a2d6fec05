//! Contract tests: replay every x-ms-example of the implemented operations from the
//! official Azure REST API specs against a running emulator, and check that the
//! status is one the example documents and the body has the example's shape
//! (same keys, same JSON types; extra keys must be properties the spec defines).
//!
//! The specs are the upstream copies in the repository's `specs/` directory (see
//! `specs/README.md`). The test fails when they cannot be found.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

const TENANT: &str = "b6c948ef-f6b5-4384-8354-da3a15eca969";
const RUNNER_APP: &str = "c0c0c0c0-0000-4000-8000-000000000002";

/// Example parameter values that are placeholders rather than usable ids, and
/// what the replay uses instead: (parameter, placeholder, replacement).
const PLACEHOLDERS: &[(&str, &str, &str)] = &[
    ("scope", "scope", "subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2"),
    ("roleDefinitionId", "roleDefinitionId", "0b5fe924-9a61-425c-96af-cfe6e287ca2d"),
];

/// Objects whose keys are data (maps), not schema properties.
const DICTIONARIES: &[&str] = &["tags", "userAssignedIdentities", "identityProfile", "addonProfiles"];

/// Keys whose presence depends on the data (a nextLink only exists when there is another page).
const OPTIONAL_KEYS: &[&str] = &["nextLink"];

/// Keys every ARM resource/list may carry (defined in common-types, not copied).
const COMMON_KEYS: &[&str] =
    &["id", "name", "type", "location", "tags", "systemData", "properties", "etag", "eTag", "value", "nextLink"];

fn specs_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    assert!(
        dir.join("azure-rest-api-specs").is_dir(),
        "Azure specs not found at {} (the repository's specs/azure-rest-api-specs directory)",
        dir.join("azure-rest-api-specs").display()
    );
    dir
}

#[derive(Debug, Clone)]
struct Operation {
    id: String,
    method: String,
    path: String,
    body_param: Option<String>,
    query_params: Vec<String>,
    known_keys: HashSet<String>,
}

fn collect_property_names(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(props)) = m.get("properties") {
                if props.values().all(Value::is_object) {
                    out.extend(props.keys().cloned());
                }
            }
            for x in m.values() {
                collect_property_names(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_property_names(x, out)),
        _ => {}
    }
}

/// Resolve a parameter: inline, or a `#/parameters/X` reference into the same file.
fn resolve_param(doc: &Value, p: &Value) -> Option<Value> {
    match p.get("$ref").and_then(Value::as_str) {
        None => Some(p.clone()),
        Some(r) => {
            if let Some(local) = r.strip_prefix("#/parameters/") {
                return doc["parameters"].get(local).cloned();
            }
            // External common-types parameters: only their role matters here.
            let name = r.rsplit('/').next().unwrap_or_default();
            let (n, loc) = match name {
                "ApiVersionParameter" => ("api-version", "query"),
                "SubscriptionIdParameter" => ("subscriptionId", "path"),
                "ResourceGroupNameParameter" => ("resourceGroupName", "path"),
                _ => return None,
            };
            Some(json!({"name": n, "in": loc}))
        }
    }
}

/// Every operation of a spec file with the example files (absolute paths) it references.
fn load_operations(spec: &Path) -> Vec<(PathBuf, Operation)> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(spec).unwrap()).unwrap();
    let mut known = HashSet::new();
    collect_property_names(&doc, &mut known);
    known.extend(COMMON_KEYS.iter().map(|s| s.to_string()));
    let base = spec.parent().unwrap();
    let mut out = Vec::new();
    for section in ["paths", "x-ms-paths"] {
        let Some(paths) = doc.get(section).and_then(Value::as_object) else { continue };
        for (path, item) in paths {
            let shared: Vec<Value> = item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let mut params = shared.clone();
                params.extend(op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default());
                let resolved: Vec<Value> = params.iter().filter_map(|p| resolve_param(&doc, p)).collect();
                let body_param =
                    resolved.iter().find(|p| p["in"] == "body").and_then(|p| p["name"].as_str()).map(String::from);
                let query_params = resolved
                    .iter()
                    .filter(|p| p["in"] == "query" && p["name"] != "api-version")
                    .filter_map(|p| p["name"].as_str().map(String::from))
                    .collect();
                let operation = Operation {
                    id: op["operationId"].as_str().unwrap_or_default().to_string(),
                    method: method.to_uppercase(),
                    path: path.split('?').next().unwrap().to_string(),
                    body_param,
                    query_params,
                    known_keys: known.clone(),
                };
                if let Some(examples) = op.get("x-ms-examples").and_then(Value::as_object) {
                    for ex in examples.values() {
                        if let Some(r) = ex["$ref"].as_str() {
                            out.push((base.join(r.trim_start_matches("./")), operation.clone()));
                        }
                    }
                }
            }
        }
    }
    out
}

fn find_files(dir: &Path, pred: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            find_files(&p, pred, out);
        } else if pred(&p) {
            out.push(p);
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Recursive shape comparison. `problems` get failures; `extras` records accepted extra keys.
fn compare(
    example: &Value,
    actual: &Value,
    path: &str,
    dict: bool,
    op: &Operation,
    problems: &mut Vec<String>,
    extras: &mut Vec<String>,
) {
    match (example, actual) {
        (Value::Null, _) => {}
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    // Paging links appear only when there is a further page.
                    None if OPTIONAL_KEYS.contains(&k.as_str()) => {}
                    None => problems.push(format!("{p}: missing")),
                    Some(av) => compare(ev, av, &p, DICTIONARIES.contains(&k.as_str()), op, problems, extras),
                }
            }
            if !dict {
                for (k, av) in a {
                    if e.contains_key(k) {
                        continue;
                    }
                    if op.known_keys.contains(k) {
                        if !av.is_null() {
                            extras.push(format!("{path}.{k}"));
                        }
                    } else {
                        problems.push(format!("{path}.{k}: not a property defined by the spec"));
                    }
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let Some(first) = e.first() {
                if a.is_empty() {
                    problems.push(format!("{path}: expected at least one element"));
                }
                for (i, av) in a.iter().enumerate() {
                    compare(first, av, &format!("{path}[{i}]"), false, op, problems, extras);
                }
            }
        }
        (e, a) if kind(e) == kind(a) => {}
        (e, a) => problems.push(format!("{path}: expected {}, got {} ({a})", kind(e), kind(a))),
    }
}

fn param_value(params: &Value, name: &str) -> Option<String> {
    let v = params.get(name).or_else(|| params.get(name.trim_start_matches('$')))?;
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    Some(
        PLACEHOLDERS
            .iter()
            .find(|(p, placeholder, _)| *p == name && *placeholder == s)
            .map(|(_, _, r)| r.to_string())
            .unwrap_or(s),
    )
}

/// Make the state an example assumes: the role assignments its response shows
/// exist before GET/DELETE/list; an identity (and FIC) exists before anything but
/// its creation. Create examples start from a state without the resource, so the
/// first PUT gives 201 and the replayed second PUT gives 200.
async fn preconditions(emu: &common::Emu, token: &str, op: &Operation, example: &Value) {
    let params = &example["parameters"];
    let body = &example["responses"]["200"]["body"];
    if op.id.starts_with("RoleAssignments_") && op.method != "PUT" {
        let items: Vec<Value> = match body.get("value") {
            Some(Value::Array(v)) => v.clone(),
            _ if body.is_object() => vec![body.clone()],
            _ => vec![],
        };
        for it in items {
            let p = &it["properties"];
            let (status, resp) = emu
                .admin(
                    "POST",
                    "/role-assignments",
                    Some(&json!({
                        "name": it["name"],
                        "scope": p["scope"],
                        "role_definition_id": p["roleDefinitionId"],
                        "principal_id": p["principalId"],
                        "principal_type": p["principalType"],
                    })),
                )
                .await;
            assert!(status == 201 || status == 200, "precondition for {}: {status} {resp}", op.id);
        }
    }
    let identity_path = || {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}?api-version=2023-01-31",
            params["subscriptionId"].as_str().unwrap(),
            params["resourceGroupName"].as_str().unwrap(),
            params["resourceName"].as_str().unwrap()
        )
    };
    let needs_identity = (op.id.starts_with("UserAssignedIdentities_") && op.method != "PUT")
        || op.id.starts_with("FederatedIdentityCredentials_");
    if needs_identity {
        let mut ident = json!({"location": body.get("location").cloned().unwrap_or(json!("eastus"))});
        if let Some(tags) = body.get("tags") {
            ident["tags"] = tags.clone();
        }
        let (status, resp) = emu.call("PUT", &identity_path(), Some(token), Some(&ident)).await;
        assert_eq!(status, 201, "precondition identity for {}: {resp}", op.id);
    }
    if op.id.starts_with("FederatedIdentityCredentials_") && op.method != "PUT" {
        let fics: Vec<Value> = match body.get("value") {
            Some(Value::Array(v)) => v.clone(),
            _ if body.is_object() => vec![body.clone()],
            _ => vec![json!({
                "name": params["federatedIdentityCredentialResourceName"],
                "properties": {"issuer": "https://issuer.example/", "subject": "system:serviceaccount:ns:sa", "audiences": ["api://AzureADTokenExchange"]},
            })],
        };
        for f in fics {
            let path = identity_path().replace(
                "?api-version",
                &format!("/federatedIdentityCredentials/{}?api-version", f["name"].as_str().unwrap()),
            );
            let (status, resp) =
                emu.call("PUT", &path, Some(token), Some(&json!({"properties": f["properties"]}))).await;
            assert_eq!(status, 201, "precondition FIC for {}: {resp}", op.id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_spec_examples() {
    let specs = specs_dir().join("azure-rest-api-specs");
    let mut spec_files = Vec::new();
    find_files(
        &specs,
        &|p| p.extension().is_some_and(|e| e == "json") && !p.components().any(|c| c.as_os_str() == "examples"),
        &mut spec_files,
    );
    let mut by_example: BTreeMap<PathBuf, Vec<Operation>> = BTreeMap::new();
    for spec in &spec_files {
        for (ex, op) in load_operations(spec) {
            by_example.entry(ex).or_default().push(op);
        }
    }
    let mut example_files = Vec::new();
    find_files(
        &specs,
        &|p| p.extension().is_some_and(|e| e == "json") && p.parent().is_some_and(|d| d.ends_with("examples")),
        &mut example_files,
    );
    example_files.sort();
    assert!(!example_files.is_empty(), "no example files under {}", specs.display());

    let seed: Value = serde_json::from_str(include_str!("fixtures/contract-seed.json")).unwrap();
    let emu = common::start_with(seed, None).await;
    let token = emu.token(TENANT, RUNNER_APP, "contract-secret").await;

    let mut replayed = 0usize;
    let mut failures = Vec::new();
    for ex_path in &example_files {
        let rel = ex_path.strip_prefix(&specs).unwrap().display().to_string();
        let Some(ops) = by_example.get(ex_path) else {
            failures.push(format!("{rel}: not referenced by any operation of the copied specs"));
            continue;
        };
        let example: Value = serde_json::from_str(&std::fs::read_to_string(ex_path).unwrap()).unwrap();
        let params = &example["parameters"];
        for op in ops {
            let (status, _) = emu.admin("POST", "/reset", None).await;
            assert_eq!(status, 200);
            preconditions(&emu, &token, op, &example).await;

            let mut path = op.path.clone();
            let names: Vec<String> =
                path.split('{').skip(1).filter_map(|s| s.split('}').next().map(String::from)).collect();
            let mut missing = false;
            for n in names {
                match param_value(params, &n) {
                    Some(v) => path = path.replace(&format!("{{{n}}}"), v.trim_start_matches('/')),
                    None => missing = true,
                }
            }
            if missing {
                failures.push(format!("{rel} ({}): a path parameter is missing from the example", op.id));
                continue;
            }
            let mut query = vec![format!("api-version={}", params["api-version"].as_str().unwrap_or("2022-04-01"))];
            for q in &op.query_params {
                if let Some(v) = param_value(params, q) {
                    query.push(format!("{q}={v}"));
                }
            }
            let url = format!("{path}?{}", query.join("&"));
            let body = op.body_param.as_ref().and_then(|b| params.get(b));
            let responses = example["responses"].as_object().unwrap();
            let codes: Vec<&String> = responses.keys().collect();
            // A create documented with 201 and 200 is replayed twice: create, then update.
            let expect: Vec<Option<u16>> =
                if op.method == "PUT" && responses.contains_key("201") && responses.contains_key("200") {
                    vec![Some(201), Some(200)]
                } else {
                    vec![None]
                };
            for want in expect {
                let (status, actual) = emu.call(&op.method, &url, Some(&token), body).await;
                replayed += 1;
                println!("REPLAY {rel} [{}] {} {url} -> {status} (documented: {codes:?})", op.id, op.method);
                if let Some(w) = want {
                    if w != status {
                        failures
                            .push(format!("{rel} ({}): expected {w} on this replay, got {status}: {actual}", op.id));
                        continue;
                    }
                }
                let Some(expected) = responses.get(&status.to_string()) else {
                    failures.push(format!("{rel} ({}): status {status} not in {codes:?}; body {actual}", op.id));
                    continue;
                };
                let mut problems = Vec::new();
                let mut extras = Vec::new();
                match expected.get("body") {
                    Some(b) => compare(b, &actual, "$", false, op, &mut problems, &mut extras),
                    None => {
                        if !actual.is_null() {
                            problems.push(format!("$: expected no body, got {actual}"));
                        }
                    }
                }
                if !extras.is_empty() {
                    println!("       extra spec-defined keys: {}", extras.join(", "));
                }
                for p in problems {
                    failures.push(format!("{rel} ({}): {p}", op.id));
                }
            }
        }
    }
    println!("replayed {replayed} example operations from {} example files", example_files.len());
    emu.server.shutdown().await;
    assert!(failures.is_empty(), "contract failures:\n{}", failures.join("\n"));
    assert!(replayed >= example_files.len(), "every example must be replayed");
}
