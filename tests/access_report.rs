//! `data "aksid_access_report"` end to end: real Terraform, the real provider binary and the
//! emulator. Grants made by aksid resources, out of band, broadly and for a deleted identity are
//! each reported with their status and flag, from one list per principal per subscription.

mod common;

use std::collections::BTreeMap;

use common::emulator::*;
use common::matrix::*;
use common::*;
use serde_json::{json, Value as Json};

const ORDERS_API: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders-api";
const ORDERS_PRINCIPAL: &str = "c08af55e-d954-4179-8d66-936d69f1b8be";
const OLD_APP: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-old-app";
/// The AcrPull the seed holds from `az aks update --attach-acr`, adopted by the resource.
const ATTACH_ACR_NAME: &str = "cc97febf-558a-4304-8434-c250813acd87";

fn managed_config(emu: &Emulator) -> String {
    config(
        emu,
        &format!(
            r#"
resource "aksid_cluster_identity_roles" "aks" {{
  cluster_id = "{CLUSTER_ID}"
  subnet_ids = ["{SUBNET_NODES}"]
  acr_ids    = ["{HUB_ACR}"]
}}

resource "aksid_role_assignment" "orders" {{
  scope        = "{HUB_ACR}"
  role         = "AcrPull"
  principal_id = "{ORDERS_PRINCIPAL}"
}}

output "managed_ids" {{
  value = concat([for a in aksid_cluster_identity_roles.aks.assignments : a.id], [aksid_role_assignment.orders.id])
}}
"#
        ),
    )
}

fn report_config(emu: &Emulator, managed_ids: &Json, old_principal: &str) -> String {
    config(
        emu,
        &format!(
            r#"
data "aksid_access_report" "aks" {{
  cluster_id             = "{CLUSTER_ID}"
  subscription_ids       = ["{SPOKE_SUB}", "{HUB_SUB}"]
  app_identity_ids       = ["{ORDERS_API}"]
  app_principal_ids      = {{ "{OLD_APP}" = "{old_principal}" }}
  managed_assignment_ids = {managed_ids}
}}

output "assignments" {{ value = data.aksid_access_report.aks.assignments }}
output "markdown" {{ value = data.aksid_access_report.aks.markdown }}
output "mermaid" {{ value = data.aksid_access_report.aks.mermaid }}
output "counts" {{ value = data.aksid_access_report.aks.counts }}
"#
        ),
    )
}

/// An app identity with AcrPull on the hub registry, then deleted: its grant stays behind.
fn deleted_app_identity(emu: &Emulator) -> String {
    let (status, body) =
        emu.arm("PUT", &format!("{OLD_APP}?api-version=2023-01-31"), Some(json!({"location": "westeurope"})));
    assert!(status == 200 || status == 201, "{status} {body}");
    let principal = body["properties"]["principalId"].as_str().unwrap().to_string();
    emu.admin_post(
        "role-assignments",
        json!({"scope": HUB_ACR, "role_definition_name": "AcrPull", "principal_id": principal}),
    );
    let (status, _) = emu.arm("DELETE", &format!("{OLD_APP}?api-version=2023-01-31"), None);
    assert_eq!(status, 200, "identity deleted");
    principal
}

/// (identity, role, lowercased scope) → element of the `assignments` output.
fn by_grant(out: &Json) -> BTreeMap<(String, String, String), Json> {
    out["assignments"]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            ((s("identity"), s("role_name"), s("scope").to_lowercase()), e.clone())
        })
        .collect()
}

#[test]
fn every_grant_is_classified_and_flagged_from_one_list_per_principal_per_subscription() {
    let emu = Emulator::start_with_custom_role();
    let tf = &terraforms()[0];
    let managed = Workspace::new(tf, &managed_config(&emu));
    managed.init();
    managed.ok(&["apply", "-auto-approve", "-no-color"]);
    let managed_ids = managed.output_json()["managed_ids"]["value"].clone();
    assert!(
        managed_ids.as_array().unwrap().iter().any(|i| i.as_str().unwrap().ends_with(ATTACH_ACR_NAME)),
        "the out-of-band AcrPull was adopted: {managed_ids}"
    );
    // Out of band: a plain Reader, and a broad Contributor on the resource group.
    emu.admin_post(
        "role-assignments",
        json!({"scope": SPOKE_RG, "role_definition_name": "Reader", "principal_id": KUBELET}),
    );
    emu.admin_post(
        "role-assignments",
        json!({"scope": SPOKE_RG, "role_definition_name": "Contributor", "principal_id": CP}),
    );
    emu.admin_post(
        "role-assignments",
        json!({"scope": HUB_ACR, "role_definition_id": format!("/providers/Microsoft.Authorization/roleDefinitions/{CUSTOM_ROLE_GUID}"), "principal_id": KUBELET}),
    );
    let old_principal = deleted_app_identity(&emu);

    let ws = Workspace::new(tf, &report_config(&emu, &managed_ids, &old_principal));
    ws.init();
    emu.admin_delete("requests");
    ws.ok(&["apply", "-auto-approve", "-no-color"]);

    // One list per principal per subscription, and nothing else listed.
    let lists: Vec<Json> = emu
        .admin_get("requests")
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"].as_str().unwrap_or("").ends_with("/roleAssignments"))
        .cloned()
        .collect();
    let mut pairs: Vec<(String, String)> = lists
        .iter()
        .map(|r| {
            let sub = r["path"].as_str().unwrap().split('/').nth(2).unwrap().to_lowercase();
            let q = r["query"].as_str().unwrap_or_default().to_lowercase();
            let principal = [CP, KUBELET, ORDERS_PRINCIPAL, old_principal.as_str()]
                .into_iter()
                .find(|p| q.contains(&p.to_lowercase()))
                .unwrap_or_else(|| panic!("list for no reported principal: {r}"));
            (sub, principal.to_string())
        })
        .collect();
    pairs.sort();
    let mut expected: Vec<(String, String)> = [SPOKE_SUB, HUB_SUB]
        .iter()
        .flat_map(|s| [CP, KUBELET, ORDERS_PRINCIPAL, old_principal.as_str()].map(|p| (s.to_string(), p.to_string())))
        .collect();
    expected.sort();
    assert_eq!(pairs, expected, "exactly one list per principal per subscription: {lists:?}");

    let out = ws.output_json();
    let rows = by_grant(&out);
    let row = |identity: &str, role: &str, scope: &str| {
        rows.get(&(identity.to_string(), role.to_string(), scope.to_lowercase()))
            .unwrap_or_else(|| panic!("no row {identity} {role} {scope} in {:?}", rows.keys()))
            .clone()
    };
    let check = |r: &Json, status: &str, broad: bool| {
        assert_eq!(r["status"], status, "{r}");
        assert_eq!(r["broader_than_needed"], broad, "{r}");
    };
    let nc = row("control_plane", "Network Contributor", SUBNET_NODES);
    check(&nc, "managed", false);
    assert!(nc["reason"].as_str().unwrap().contains("deterministic name"), "{nc}");
    let adopted = row("kubelet", "AcrPull", HUB_ACR);
    check(&adopted, "managed", false);
    assert!(adopted["assignment_id"].as_str().unwrap().ends_with(ATTACH_ACR_NAME), "{adopted}");
    assert!(adopted["reason"].as_str().unwrap().contains("managed_assignment_ids"), "{adopted}");
    check(&row("id-orders-api", "AcrPull", HUB_ACR), "managed", false);
    check(&row("kubelet", "Reader", SPOKE_RG), "unmanaged", false);
    let broad = row("control_plane", "Contributor", SPOKE_RG);
    check(&broad, "unmanaged", true);
    assert!(broad["reason"].as_str().unwrap().contains("Privileged role Contributor"), "{broad}");
    let orphan = row("id-old-app", "AcrPull", HUB_ACR);
    check(&orphan, "orphaned", false);
    assert_eq!(orphan["principal_id"], old_principal.as_str());
    assert!(orphan["reason"].as_str().unwrap().contains("not found"), "{orphan}");
    // A custom role is named as its definition says.
    check(&row("kubelet", "AKS Image Auditor", HUB_ACR), "unmanaged", false);
    assert_eq!(rows.len(), 7, "{:?}", rows.keys());
    let counts = &out["counts"]["value"];
    assert_eq!(
        (
            &counts["total"],
            &counts["managed"],
            &counts["unmanaged"],
            &counts["orphaned"],
            &counts["broader_than_needed"]
        ),
        (&json!(7), &json!(3), &json!(3), &json!(1), &json!(1)),
        "{counts}"
    );

    let markdown = out["markdown"]["value"].as_str().unwrap();
    assert_eq!(markdown.lines().count(), 2 + 7, "{markdown}");
    for want in [
        format!("| control_plane | Contributor | `{SPOKE_RG}` | unmanaged | yes |"),
        format!("| id-old-app | AcrPull | `{HUB_ACR}` | orphaned | no |"),
        format!("| kubelet | Reader | `{SPOKE_RG}` | unmanaged | no |"),
    ] {
        assert!(markdown.contains(&want), "{want} in:\n{markdown}");
    }
    let mermaid = out["mermaid"]["value"].as_str().unwrap();
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    for want in [
        "([\"control_plane<br/>",
        "[\"Contributor\"]",
        "[(\"resource group rg-spoke-aks\")]",
        "[(\"container registry acrhubshared\")]",
        "([\"id-old-app (deleted)<br/>",
        "-.->|\"unmanaged, broader than needed\"|",
        "-->|\"orphaned\"|",
    ] {
        assert!(mermaid.contains(want), "{want} in:\n{mermaid}");
    }
    // For the docs page: the diagram of a real run.
    if let Ok(path) = std::env::var("AKSID_ACCESS_REPORT_DUMP") {
        std::fs::write(path, format!("{markdown}\n```mermaid\n{mermaid}```\n")).unwrap();
    }
}

#[test]
fn a_missing_app_identity_is_an_error_on_its_element() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let body = format!(
        r#"
data "aksid_access_report" "aks" {{
  cluster_id       = "{CLUSTER_ID}"
  app_identity_ids = ["{ORDERS_API}", "{OLD_APP}"]
}}
"#
    );
    let ws = Workspace::new(tf, &config(&emu, &body));
    ws.init();
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    assert!(text.contains("App identity not found"), "{text}");
    assert!(text.contains("app_principal_ids"), "the error says what to do: {text}");
}

#[test]
fn shipped_example_reports_against_the_emulator_seed() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let example = std::fs::read_to_string(repo_root().join("examples/access-report/main.tf")).unwrap();
    let mut ws = Workspace::new(tf, &example);
    for (k, v) in emu.provider_env() {
        ws.set_env(&k, &v);
    }
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let out = ws.output_json();
    let report = out["report"]["value"].as_str().unwrap();
    assert!(report.contains("| kubelet | AcrPull |") && report.contains("```mermaid\nflowchart LR\n"), "{report}");
    // The matrix's grants are managed (the attach-acr AcrPull adopted); nothing else exists.
    assert_eq!(out["needs_attention"]["value"], json!([]), "{report}");
}
