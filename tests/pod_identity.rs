//! `aksid_pod_identity` end to end: real Terraform, the real provider binary, the emulator's
//! ARM and Kubernetes API, and the real `kubectl` to look at (and tamper with) the cluster.
//! Each test names the behaviour from the issue it proves.

mod common;

use std::time::Instant;

use common::emulator::*;
use common::pods::*;
use common::*;
use serde_json::{json, Value as Json};

const NEW_IDENTITY: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-billing";

fn resource(name: &str, mode: &str, identity: &str, extra: &str) -> String {
    format!(
        r#"
resource "aksid_pod_identity" "{name}" {{
  name       = "{name}"
  namespace  = "apps"
  mode       = "{mode}"
  cluster_id = "{CLUSTER_ID}"
  {identity}
  {extra}
}}
"#
    )
}

fn existing_identity() -> String {
    format!("identity_id = \"{ORDERS_IDENTITY}\"")
}

fn new_identity() -> String {
    format!("identity {{\n    name = \"id-billing\"\n    resource_group_id = \"{SPOKE_RG}\"\n    location = \"westeurope\"\n  }}")
}

fn blob_reader() -> String {
    format!("role {{\n    role = \"Storage Blob Data Reader\"\n    scope = \"{STORAGE}\"\n  }}")
}

/// The example seed's emulator with the namespace `apps` in its cluster.
fn start() -> Emulator {
    let emu = Emulator::start(&example_seed());
    emu.namespace(CLUSTER_ID, "apps");
    emu
}

fn workspace(emu: &Emulator, body: &str) -> Workspace {
    let ws = Workspace::new(&terraforms()[0], &pod_config(emu, body));
    ws.init();
    ws
}

fn plan_is_empty(ws: &Workspace) {
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color", "-out=check.tfplan"]);
    if code != 0 {
        // What changes, attribute by attribute (Terraform 1.0 hides some diffs in its text).
        let plan: Json = serde_json::from_str(&ws.ok(&["show", "-json", "check.tfplan"])).unwrap_or(Json::Null);
        let mut changed = Vec::new();
        for rc in plan["resource_changes"].as_array().into_iter().flatten() {
            let (before, after) = (&rc["change"]["before"], &rc["change"]["after"]);
            for (k, v) in after.as_object().into_iter().flatten() {
                if before.get(k) != Some(v) {
                    changed.push(format!("{}.{k}: {} -> {v}", rc["address"], before.get(k).unwrap_or(&Json::Null)));
                }
            }
        }
        panic!("second plan not empty:\n{}\n{text}", changed.join("\n"));
    }
}

fn refresh_shows_drift(ws: &Workspace, what: &str) -> String {
    let (code, text) = ws.exit_code(&["plan", "-refresh-only", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 2, "plan -refresh-only shows {what}:\n{text}");
    text
}

#[test]
fn aad_pod_identity_creates_identity_roles_kubelet_grant_and_objects() {
    for tf in terraforms() {
        let emu = start();
        let body = resource("billing", "aad_pod_identity", &new_identity(), &blob_reader());
        let ws = Workspace::new(tf, &pod_config(&emu, &body));
        ws.init();
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        let (status, identity) = emu.arm("GET", &format!("{NEW_IDENTITY}?api-version={IDENTITY_API}"), None);
        assert_eq!(status, 200, "the identity was created: {identity}");
        let principal = identity["properties"]["principalId"].as_str().unwrap().to_string();
        let client = identity["properties"]["clientId"].as_str().unwrap().to_string();
        assert_eq!(emu.assignments_of(&principal), [(BLOB_READER.to_string(), STORAGE.to_lowercase())]);
        assert!(
            emu.assignments_of(KUBELET).contains(&(MIO.to_string(), NEW_IDENTITY.to_lowercase())),
            "kubelet holds Managed Identity Operator on the one identity"
        );
        let k = emu.kubectl();
        let ai = k.get("azureidentity", "apps", "billing").expect("AzureIdentity");
        assert_eq!(ai["spec"]["type"], 0);
        assert_eq!(ai["spec"]["resourceID"], NEW_IDENTITY);
        assert_eq!(ai["spec"]["clientID"], client.as_str());
        let binding = k.get("azureidentitybinding", "apps", "billing-binding").expect("binding");
        assert_eq!(
            (binding["spec"]["azureIdentity"].as_str(), binding["spec"]["selector"].as_str()),
            (Some("billing"), Some("billing"))
        );
        assert!(k.get("serviceaccount", "apps", "billing").is_none(), "no workload identity objects");
        assert!(emu.credentials(NEW_IDENTITY).is_empty());
        let out = ws.output_json();
        let _ = out;
        plan_is_empty(&ws);
        ws.ok(&["destroy", "-auto-approve", "-no-color"]);
        assert!(!emu.identity_exists(NEW_IDENTITY), "the identity it created is deleted");
        assert!(emu.assignments_of(&principal).is_empty());
        assert!(!emu.assignments_of(KUBELET).iter().any(|(r, _)| r == MIO));
        assert!(k.get("azureidentity", "apps", "billing").is_none());
        assert!(k.get("azureidentitybinding", "apps", "billing-binding").is_none());
    }
}

#[test]
fn workload_identity_creates_the_credential_and_annotated_service_account() {
    let emu = start();
    let body = format!(
        "{}\noutput \"labels\" {{ value = aksid_pod_identity.orders.pod_labels }}\noutput \"client\" {{ value = aksid_pod_identity.orders.client_id }}\n",
        resource("orders", "workload_identity", &existing_identity(), &blob_reader())
    );
    let ws = workspace(&emu, &body);
    let kubelet_before = emu.assignments_of(KUBELET);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let creds = emu.credentials(ORDERS_IDENTITY);
    assert_eq!(creds.len(), 1, "{creds:?}");
    let p = &creds[0]["properties"];
    assert_eq!(p["issuer"], ISSUER, "the cluster's issuer, byte for byte");
    assert_eq!(p["subject"], "system:serviceaccount:apps:orders");
    assert_eq!(p["audiences"], json!(["api://AzureADTokenExchange"]));
    let sa = emu.kubectl().get("serviceaccount", "apps", "orders").expect("ServiceAccount");
    assert_eq!(sa["metadata"]["annotations"]["azure.workload.identity/client-id"], ORDERS_CLIENT);
    assert_eq!(sa["metadata"]["annotations"]["azure.workload.identity/tenant-id"], emu.ready.tenant_id.as_str());
    assert_eq!(emu.assignments_of(KUBELET), kubelet_before, "no kubelet grant in workload identity mode");
    assert_eq!(emu.assignments_of(ORDERS_PRINCIPAL), [(BLOB_READER.to_string(), STORAGE.to_lowercase())]);
    let out = ws.output_json();
    assert_eq!(out["labels"]["value"], json!({"azure.workload.identity/use": "true"}));
    assert_eq!(out["client"]["value"], ORDERS_CLIENT);
    plan_is_empty(&ws);
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(emu.identity_exists(ORDERS_IDENTITY), "an identity given by id is left alone");
    assert!(emu.credentials(ORDERS_IDENTITY).is_empty());
    assert!(emu.kubectl().get("serviceaccount", "apps", "orders").is_none());
    assert!(emu.assignments_of(ORDERS_PRINCIPAL).is_empty());
}

/// The sequence number of the first request matching `pred` after `since`.
fn first(log: &[Json], pred: impl Fn(&str, &str) -> bool) -> Option<u64> {
    log.iter()
        .find(|e| pred(e["method"].as_str().unwrap_or(""), e["path"].as_str().unwrap_or("")))
        .and_then(|e| e["seq"].as_u64())
}

fn last(log: &[Json], pred: impl Fn(&str, &str) -> bool) -> Option<u64> {
    log.iter()
        .rev()
        .find(|e| pred(e["method"].as_str().unwrap_or(""), e["path"].as_str().unwrap_or("")))
        .and_then(|e| e["seq"].as_u64())
}

#[test]
fn migration_creates_workload_identity_objects_before_removing_pod_identity_ones() {
    let emu = start();
    let config = |mode: &str| resource("orders", mode, &existing_identity(), "");
    let ws = workspace(&emu, &config("aad_pod_identity"));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let k = emu.kubectl();
    assert!(k.get("azureidentity", "apps", "orders").is_some());
    ws.write("main.tf", &pod_config(&emu, &config("both")));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(k.get("azureidentity", "apps", "orders").is_some(), "both: pod identity objects stay");
    assert!(k.get("serviceaccount", "apps", "orders").is_some(), "both: the ServiceAccount exists");
    assert_eq!(emu.credentials(ORDERS_IDENTITY).len(), 1);
    plan_is_empty(&ws);
    emu.admin_delete("requests");
    ws.write("main.tf", &pod_config(&emu, &config("workload_identity")));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let log: Vec<Json> = emu.admin_get("requests").as_array().cloned().unwrap();
    let wi_written = last(&log, |m, p| {
        (m == "PUT" && p.contains("federatedIdentityCredentials"))
            || (m == "PATCH" && p.contains("/serviceaccounts/orders"))
    })
    .expect("the workload identity objects are applied again");
    let pod_removed = first(&log, |m, p| {
        m == "DELETE"
            && (p.contains("/azureidentities/")
                || p.contains("/azureidentitybindings/")
                || p.contains("roleAssignments"))
    })
    .expect("pod identity objects are removed");
    assert!(wi_written < pod_removed, "workload identity objects exist before any pod identity object is removed");
    assert!(k.get("azureidentity", "apps", "orders").is_none());
    assert!(k.get("azureidentitybinding", "apps", "orders-binding").is_none());
    assert!(!emu.assignments_of(KUBELET).contains(&(MIO.to_string(), ORDERS_IDENTITY.to_lowercase())));
    assert!(k.get("serviceaccount", "apps", "orders").is_some());
    plan_is_empty(&ws);
}

#[test]
fn drift_is_shown_by_refresh_only_and_restored_by_apply() {
    let emu = start();
    let ws = workspace(&emu, &resource("orders", "both", &existing_identity(), &blob_reader()));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let k = emu.kubectl();
    let cred = emu.credentials(ORDERS_IDENTITY)[0]["id"].as_str().unwrap().to_string();
    let grant = emu.admin_get("role-assignments")["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["properties"]["principalId"] == ORDERS_PRINCIPAL)
        .map(|a| a["id"].as_str().unwrap().to_string())
        .unwrap();
    type Tamper<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let tamper: Vec<Tamper> = vec![
        (
            "an edited selector",
            Box::new(|| {
                k.ok(&[
                    "patch",
                    "azureidentitybinding",
                    "orders-binding",
                    "-n",
                    "apps",
                    "--type",
                    "merge",
                    "-p",
                    r#"{"spec":{"selector":"hijacked"}}"#,
                ]);
            }),
        ),
        (
            "a deleted AzureIdentity",
            Box::new(|| {
                k.ok(&["delete", "azureidentity", "orders", "-n", "apps"]);
            }),
        ),
        (
            "a deleted federated credential",
            Box::new(|| {
                assert_eq!(emu.arm("DELETE", &format!("{cred}?api-version={IDENTITY_API}"), None).0, 200);
            }),
        ),
        ("a deleted role assignment", Box::new(|| emu.rt_delete_assignment(&grant))),
        (
            "a removed ServiceAccount annotation",
            Box::new(|| {
                k.ok(&["annotate", "serviceaccount", "orders", "-n", "apps", "azure.workload.identity/client-id-"]);
            }),
        ),
    ];
    for (what, change) in tamper {
        change();
        refresh_shows_drift(&ws, what);
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        plan_is_empty(&ws);
    }
    let binding = k.get("azureidentitybinding", "apps", "orders-binding").unwrap();
    assert_eq!(binding["spec"]["selector"], "orders");
    assert!(k.get("azureidentity", "apps", "orders").is_some());
    assert_eq!(emu.credentials(ORDERS_IDENTITY).len(), 1);
    assert_eq!(emu.assignments_of(ORDERS_PRINCIPAL).len(), 1);
    let sa = k.get("serviceaccount", "apps", "orders").unwrap();
    assert_eq!(sa["metadata"]["annotations"]["azure.workload.identity/client-id"], ORDERS_CLIENT);
}

#[test]
fn a_twenty_first_federated_credential_is_a_plan_error() {
    let emu = start();
    for i in 0..20 {
        let body = json!({"properties": {"issuer": format!("https://issuer.example/{i}"), "subject": "system:serviceaccount:x:y", "audiences": ["api://AzureADTokenExchange"]}});
        let (status, resp) = emu.arm(
            "PUT",
            &format!("{ORDERS_IDENTITY}/federatedIdentityCredentials/other-{i}?api-version={IDENTITY_API}"),
            Some(body),
        );
        assert!(status == 200 || status == 201, "{resp}");
    }
    let ws = workspace(&emu, &resource("orders", "workload_identity", &existing_identity(), ""));
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    assert!(text.contains("Too many federated credentials on one identity"), "{text}");
    assert!(text.contains("identity_id"), "points at the identity: {text}");
}

#[test]
fn fifteen_pod_identities_share_one_identity_in_one_apply() {
    let emu = start();
    let body = format!(
        r#"
resource "aksid_pod_identity" "app" {{
  count       = 15
  name        = "app-${{count.index}}"
  namespace   = "apps"
  mode        = "both"
  cluster_id  = "{CLUSTER_ID}"
  identity_id = "{ORDERS_IDENTITY}"
}}
"#
    );
    let ws = workspace(&emu, &body);
    let text = ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(!text.contains("ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity"), "{text}");
    assert_eq!(emu.credentials(ORDERS_IDENTITY).len(), 15);
    let kubelet_mio = (MIO.to_string(), ORDERS_IDENTITY.to_lowercase());
    assert!(emu.assignments_of(KUBELET).contains(&kubelet_mio));
    plan_is_empty(&ws);
    // Removing the pod identities one at a time, from the first (which created the shared
    // grant): the kubelet keeps Managed Identity Operator while any other still uses it.
    for remaining in (0..15).rev() {
        ws.write(
            "main.tf",
            &pod_config(&emu, &body.replace("count       = 15", &format!("count       = {remaining}"))),
        );
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        let held = emu.assignments_of(KUBELET).contains(&kubelet_mio);
        assert_eq!(held, remaining > 0, "with {remaining} pod identities left");
        if remaining == 12 {
            break;
        }
    }
    let text = ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    let text = text[text.find("Destroy complete").or(text.find("Warning")).unwrap_or(0)..].to_string();
    assert!(emu.credentials(ORDERS_IDENTITY).is_empty());
    assert!(!emu.assignments_of(KUBELET).contains(&kubelet_mio), "the last user removes the shared grant: {text}");
}

#[test]
fn fifty_pod_identities_apply_in_one_run() {
    let emu = start();
    let body = format!(
        r#"
resource "aksid_pod_identity" "app" {{
  count      = 50
  name       = "app-${{count.index}}"
  namespace  = "apps"
  mode       = "workload_identity"
  cluster_id = "{CLUSTER_ID}"
  identity {{
    name              = "id-app-${{count.index}}"
    resource_group_id = "{SPOKE_RG}"
    location          = "westeurope"
  }}
  role {{
    role  = "Storage Blob Data Reader"
    scope = "{STORAGE}"
  }}
}}
"#
    );
    let ws = workspace(&emu, &body);
    let started = Instant::now();
    ws.ok(&["apply", "-auto-approve", "-no-color", "-parallelism=10"]);
    // Reported, not asserted: timing belongs in the closing note, not in pass/fail.
    eprintln!("50 pod identities applied in {:.1}s", started.elapsed().as_secs_f64());
    let sas = emu.kubectl().ok(&["get", "serviceaccounts", "-n", "apps", "-o", "name"]);
    assert_eq!(sas.lines().filter(|l| l.contains("app-")).count(), 50);
    plan_is_empty(&ws);
}

#[test]
fn least_privilege_needs_a_justification() {
    let emu = start();
    for (role, scope, at) in [
        ("Owner", STORAGE, "role[0].role"),
        ("Contributor", STORAGE, "role[0].role"),
        ("Storage Blob Data Owner", STORAGE, "role[0].role"),
        ("Storage Blob Data Reader", "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4", "role[0].scope"),
    ] {
        let role_block = format!("role {{\n    role = \"{role}\"\n    scope = \"{scope}\"\n  }}");
        let ws = workspace(&emu, &resource("orders", "workload_identity", &existing_identity(), &role_block));
        let text = squash(&ws.fails(&["plan", "-no-color"]));
        assert!(text.contains("allow_broad_scope"), "{role} on {scope}: {text}");
        // Terraform shows the configuration line of the attribute the diagnostic points at.
        let line = if at.ends_with(".role") { format!("role = \"{role}\"") } else { format!("scope = \"{scope}\"") };
        assert!(text.contains(&line), "{role}: points at {at} ({line}): {text}");
        let allowed = format!("{role_block}\n  allow_broad_scope {{\n    justification = \"ticket SEC-42\"\n  }}");
        ws.write(
            "main.tf",
            &pod_config(&emu, &resource("orders", "workload_identity", &existing_identity(), &allowed)),
        );
        ws.ok(&["plan", "-no-color"]);
    }
}

#[test]
fn import_rebuilds_the_state_and_a_matching_config_plans_no_changes() {
    let emu = start();
    let ws = workspace(&emu, &resource("orders", "both", &existing_identity(), &blob_reader()));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.ok(&["state", "rm", "aksid_pod_identity.orders"]);
    ws.ok(&["import", "-no-color", "aksid_pod_identity.orders", &format!("{CLUSTER_ID}/apps/orders")]);
    plan_is_empty(&ws);
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(emu.credentials(ORDERS_IDENTITY).is_empty());
    assert!(emu.assignments_of(ORDERS_PRINCIPAL).is_empty());
}

#[test]
fn destroy_leaves_objects_other_managers_own() {
    let emu = start();
    let k = emu.kubectl();
    k.apply("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: orders\n  namespace: apps\n  labels:\n    team: payments\n", "helm");
    let ws = workspace(&emu, &resource("orders", "workload_identity", &existing_identity(), ""));
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let sa = k.get("serviceaccount", "apps", "orders").unwrap();
    assert_eq!(sa["metadata"]["annotations"]["azure.workload.identity/client-id"], ORDERS_CLIENT);
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    let sa = k.get("serviceaccount", "apps", "orders").expect("the ServiceAccount another manager owns stays");
    assert_eq!(sa["metadata"]["labels"]["team"], "payments");
    assert!(
        sa["metadata"]["annotations"].get("azure.workload.identity/client-id").is_none(),
        "our annotation is gone: {sa}"
    );
    assert!(emu.identity_exists(ORDERS_IDENTITY));
}

#[test]
fn a_field_another_manager_owns_is_a_conflict_naming_it_unless_forced() {
    let emu = start();
    let k = emu.kubectl();
    k.apply(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: orders\n  namespace: apps\n  annotations:\n    azure.workload.identity/client-id: 00000000-0000-0000-0000-000000000000\n",
        "helm",
    );
    let ws = workspace(&emu, &resource("orders", "workload_identity", &existing_identity(), ""));
    let text = squash(&ws.fails(&["apply", "-auto-approve", "-no-color"]));
    assert!(text.contains("helm"), "the conflict names the other manager: {text}");
    ws.write(
        "main.tf",
        &pod_config(&emu, &resource("orders", "workload_identity", &existing_identity(), "force_conflicts = true")),
    );
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let sa = k.get("serviceaccount", "apps", "orders").unwrap();
    assert_eq!(sa["metadata"]["annotations"]["azure.workload.identity/client-id"], ORDERS_CLIENT);
}

fn two_cluster_seed(dir: &std::path::Path) -> std::path::PathBuf {
    let mut seed: Json = serde_json::from_str(&std::fs::read_to_string(example_seed()).unwrap()).unwrap();
    let mut second = seed["managed_clusters"][0].clone();
    second["id"] = json!(CLUSTER_ID.replace("aks-spoke", "aks-spoke2"));
    second["dns_prefix"] = json!("aks-spoke2");
    second["node_resource_group"] = json!("MC_rg-spoke-aks_aks-spoke2_westeurope");
    second["oidc_issuer_url"] = json!("https://westeurope.oic.prod-aks.azure.com/4aca8002-c6b1-4e6a-8956-0d030db855bf/11111111-2222-3333-4444-555555555555/");
    second["kubernetes_token"] = json!("emulator-kubernetes-token-aks-spoke2");
    second["kubelet_identity"] = json!({"client_id": "0c5f1f42-0000-4000-8000-00000000c1e2", "object_id": "5d1c1f42-0000-4000-8000-00000000c1e2"});
    second["identity"] = json!({"type": "SystemAssigned", "principal_id": "6e2c1f42-0000-4000-8000-00000000c1e2"});
    seed["managed_clusters"].as_array_mut().unwrap().push(second);
    let path = dir.join("seed.json");
    std::fs::write(&path, seed.to_string()).unwrap();
    path
}

#[test]
fn one_identity_federated_to_two_clusters_applies_and_destroys_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(&two_cluster_seed(dir.path()));
    let second = CLUSTER_ID.replace("aks-spoke", "aks-spoke2");
    emu.namespace(CLUSTER_ID, "apps");
    emu.namespace(&second, "apps");
    let body = format!(
        "{}\n{}",
        resource("orders", "workload_identity", &existing_identity(), ""),
        resource("orders2", "workload_identity", &existing_identity(), "")
            .replace(CLUSTER_ID, &second)
            .replace("\"orders2\"", "\"orders\"")
            .replace("aksid_pod_identity\" \"orders\"", "aksid_pod_identity\" \"spoke2\"")
    );
    let ws = workspace(&emu, &body);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let creds = emu.credentials(ORDERS_IDENTITY);
    let mut issuers: Vec<&str> = creds.iter().map(|c| c["properties"]["issuer"].as_str().unwrap()).collect();
    issuers.sort();
    assert_eq!(issuers.len(), 2, "one credential per cluster: {creds:?}");
    assert_ne!(issuers[0], issuers[1]);
    assert!(Kubectl::new(&emu.kubeconfig(&second)).get("serviceaccount", "apps", "orders").is_some());
    assert!(emu.kubectl().get("serviceaccount", "apps", "orders").is_some());
    plan_is_empty(&ws);
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(emu.credentials(ORDERS_IDENTITY).is_empty());
    assert!(Kubectl::new(&emu.kubeconfig(&second)).get("serviceaccount", "apps", "orders").is_none());
}

#[test]
fn bad_input_is_an_error_on_the_attribute_before_anything_is_written() {
    let emu = start();
    // (configuration, the line Terraform shows for the attribute the error points at, summary)
    for (body, at, summary) in [
        (
            resource("orders", "workload_identity", &existing_identity(), "")
                .replace("namespace  = \"apps\"", "namespace  = \"Apps\""),
            "namespace = \"Apps\"".to_string(),
            "Invalid Kubernetes namespace",
        ),
        (
            resource("orders", "workload_identity", &existing_identity(), "")
                .replace("name       = \"orders\"", "name       = \"orders_api\""),
            "name = \"orders_api\"".to_string(),
            "Invalid Kubernetes name",
        ),
        (
            resource("orders", "workload_identity", &format!("identity_id = \"{STORAGE}\""), ""),
            format!("identity_id = \"{STORAGE}\""),
            "Wrong kind of Azure resource",
        ),
        (
            resource("orders", "workload-identity", &existing_identity(), ""),
            "mode = \"workload-identity\"".to_string(),
            "Invalid mode",
        ),
        (
            resource("orders", "aad_pod_identity", &existing_identity(), "selector = \"my app\""),
            "selector = \"my app\"".to_string(),
            "Invalid selector",
        ),
    ] {
        emu.admin_delete("requests");
        let ws = workspace(&emu, &body);
        let text = squash(&ws.fails(&["plan", "-no-color"]));
        assert!(text.contains(summary), "{summary}: {text}");
        assert!(text.contains(&at), "points at {at}: {text}");
        let log = emu.admin_get("requests");
        let writes = log
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["method"] != "GET" && e["route"] != "token" && e["route"] != "admin")
            .count();
        assert_eq!(writes, 0, "nothing written for {summary}: {log}");
    }
    let ws = workspace(&emu, &resource("orders", "workload-identity", &existing_identity(), ""));
    let text = squash(&ws.fails(&["validate", "-no-color"]));
    assert!(text.contains("Did you mean \"workload_identity\"?"), "{text}");
}

#[test]
fn write_kubernetes_objects_false_outputs_manifests_that_kubectl_applies() {
    let emu = start();
    let body = format!(
        "{}\noutput \"manifests\" {{ value = aksid_pod_identity.orders.manifests }}\n",
        resource("orders", "both", &existing_identity(), "write_kubernetes_objects = false")
    );
    let ws = workspace(&emu, &body);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let k = emu.kubectl();
    assert!(k.get("serviceaccount", "apps", "orders").is_none(), "nothing written to the cluster");
    assert_eq!(emu.credentials(ORDERS_IDENTITY).len(), 1, "the Azure side is managed");
    let manifests = ws.output_json()["manifests"]["value"].as_str().unwrap().to_string();
    k.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n", "gitops");
    k.apply(&manifests, "gitops");
    let ai = k.get("azureidentity", "apps", "orders").expect("kubectl applied the AzureIdentity");
    assert_eq!(ai["spec"]["clientID"], ORDERS_CLIENT);
    assert!(k.get("serviceaccount", "apps", "orders").is_some());
    assert!(k.get("azureidentitybinding", "apps", "orders-binding").is_some());
    plan_is_empty(&ws);
}

#[test]
fn missing_pod_identity_crds_are_a_plan_error_saying_how_to_install_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed: Json = serde_json::from_str(&std::fs::read_to_string(example_seed()).unwrap()).unwrap();
    seed["managed_clusters"][0]["aad_pod_identity_crds"] = json!(false);
    let path = dir.path().join("seed.json");
    std::fs::write(&path, seed.to_string()).unwrap();
    let emu = Emulator::start(&path);
    emu.namespace(CLUSTER_ID, "apps");
    let ws = workspace(&emu, &resource("orders", "aad_pod_identity", &existing_identity(), ""));
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    assert!(text.contains("AAD Pod Identity is not installed"), "{text}");
    assert!(text.contains("helm") || text.contains("Helm"), "says how to install: {text}");
}

#[test]
fn shipped_examples_apply_against_the_emulator() {
    for example in ["pod-identity", "workload-identity-migration"] {
        let emu = start();
        for ns in ["reports", "orders"] {
            emu.namespace(CLUSTER_ID, ns);
        }
        let dir = repo_root().join("examples").join(example);
        let main = std::fs::read_to_string(dir.join("main.tf")).unwrap_or_else(|e| panic!("{example}: {e}"));
        let mut ws = Workspace::new(&terraforms()[0], &main);
        for (k, v) in emu.provider_env() {
            ws.set_env(&k, &v);
        }
        ws.set_env("ARM_SUBSCRIPTION_ID", SPOKE_SUB);
        ws.init();
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        if example == "workload-identity-migration" {
            for mode in ["both", "workload_identity"] {
                ws.ok(&["apply", "-auto-approve", "-no-color", "-var", &format!("mode={mode}")]);
            }
        }
        let mut plan = vec!["plan", "-detailed-exitcode", "-no-color"];
        if example == "workload-identity-migration" {
            plan.extend(["-var", "mode=workload_identity"]);
        }
        let (code, text) = ws.exit_code(&plan);
        assert_eq!(code, 0, "{example}: a second plan is empty:\n{text}");
        ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    }
}
