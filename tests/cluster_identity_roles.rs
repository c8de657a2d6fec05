//! `aksid_cluster_identity_roles` end to end: real Terraform, the real provider binary and the
//! emulator. Each test names the behaviour from the issue it proves.

mod common;

use std::collections::BTreeSet;

use common::emulator::*;
use common::matrix::*;
use common::*;
use serde_json::{json, Value as Json};

#[test]
fn create_yields_exactly_the_matrix_and_adopts_the_out_of_band_acr_pull() {
    for tf in terraforms() {
        let emu = Emulator::start(&example_seed());
        let ws = Workspace::new(tf, &config(&emu, &matrix_body(&cluster_line())));
        ws.init();
        let plan = squash(&ws.ok(&["plan", "-no-color"]));
        // The seed has AcrPull from `az aks update --attach-acr` under a random name.
        let plan_all = squash(&describe(&ws.run(&["plan", "-no-color"])));
        assert!(plan_all.contains("Adopting an existing role assignment"), "{plan_all}");
        assert!(plan.contains("kubelet/AcrPull/acrhubshared"), "{plan}");
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        assert_eq!(grants(&emu), expected_matrix(), "on {}", tf.version);
        let out = ws.output_json();
        let elems = out["assignments"]["value"].as_array().unwrap();
        assert_eq!(elems.len(), 8);
        assert!(elems.iter().all(|e| e["principal_type"] == "ServicePrincipal"));
        let acr = elems.iter().find(|e| e["key"] == "kubelet/AcrPull/acrhubshared").unwrap();
        assert_eq!(acr["name"], "cc97febf-558a-4304-8434-c250813acd87", "the out-of-band assignment was adopted");
        // Idempotent, with and without refresh.
        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "{text}");
        let (code, text) = ws.exit_code(&["plan", "-refresh=false", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "{text}");
        // Destroy removes exactly what this resource created; the adopted AcrPull (access the
        // cluster had before Terraform) stays, and a warning says so.
        let text = squash(&ws.ok(&["destroy", "-auto-approve", "-no-color"]));
        assert!(text.contains("Left 1 adopted role assignment(s) in place"), "{text}");
        assert!(text.contains("kubelet/AcrPull/acrhubshared"), "{text}");
        assert_eq!(grants(&emu), adopted_acr_pull(), "on {}", tf.version);
    }
}

#[test]
fn unknown_principals_plan_and_apply() {
    let emu = Emulator::start(&example_seed());
    let body = format!(
        r#"
resource "null_resource" "identity" {{}}

resource "aksid_cluster_identity_roles" "aks" {{
  # Unknown until null_resource.identity exists: as with a cluster created in the same apply.
  control_plane_principal_id = substr("{CP}${{null_resource.identity.id}}", 0, 36)
  kubelet_principal_id       = substr("{KUBELET}${{null_resource.identity.id}}", 0, 36)
  subnet_ids = ["{SUBNET_NODES}"]
  acr_ids    = ["{HUB_ACR}"]
}}

output "keys" {{ value = [for a in aksid_cluster_identity_roles.aks.assignments : a.key] }}

# A module can fan out over the grants: the keys are known at plan.
resource "null_resource" "per_grant" {{
  for_each = {{ for a in aksid_cluster_identity_roles.aks.assignments : a.key => a.id }}
  triggers = {{ assignment = each.value }}
}}
"#
    );
    for tf in terraforms() {
        let ws = Workspace::new(tf, &format!("{REQUIRED_AKSID_AND_NULL}\n{}\n{body}", emu.provider_block()));
        ws.init();
        let plan = ws.ok(&["plan", "-no-color"]);
        assert!(
            plan.contains("control_plane/Network Contributor/vnet-spoke/snet-nodes"),
            "keys are known at plan:\n{plan}"
        );
        assert!(plan.contains("known after apply"), "{plan}");
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "{text}");
        ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    }
}

#[test]
fn drift_is_detected_and_exactly_the_missing_assignment_is_recreated() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let ws = Workspace::new(tf, &config(&emu, &matrix_body(&cluster_line())));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let victim = assignment_output(&ws, "control_plane/Network Contributor/vnet-spoke/snet-pods")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emu.rt_delete_assignment(&victim);
    let (code, text) = ws.exit_code(&["plan", "-refresh-only", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 2, "drift must show:\n{text}");
    assert!(text.contains("control_plane/Network Contributor/vnet-spoke/snet-pods"), "drift names the grant:\n{text}");
    emu.admin_delete("requests");
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(count_requests(&emu, "PUT", "roleAssignments"), 1, "exactly one PUT recreates it");
    assert_eq!(grants(&emu), expected_matrix());
}

#[test]
fn a_stale_assignment_reusing_our_name_is_replaced() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let ws = Workspace::new(tf, &config(&emu, &matrix_body(&cluster_line())));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let elem = assignment_output(&ws, "kubelet/DNS Zone Contributor/apps.contoso.example");
    // Out of band, the name now holds a grant for another principal (identity recreated).
    emu.rt_delete_assignment(elem["id"].as_str().unwrap());
    emu.admin_post(
        "principals",
        json!({"object_id": "0f0f0f0f-0000-4000-8000-000000000001", "display_name": "old-kubelet", "delay_secs": 0}),
    );
    emu.admin_post(
        "role-assignments",
        json!({"scope": DNS_ZONE, "role_definition_name": "DNS Zone Contributor", "principal_id": "0f0f0f0f-0000-4000-8000-000000000001", "name": elem["name"]}),
    );
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 2, "{text}");
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(grants(&emu), expected_matrix());
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn casing_and_role_forms_plan_no_changes() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let extra = |role: &str, scope: &str| {
        format!(
            r#"
  extra_assignment {{
    identity = "kubelet"
    role     = "{role}"
    scope    = "{scope}"
  }}"#
        )
    };
    let kv = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.Storage/storageAccounts/stspokedata";
    let body = |cluster: &str, subnets: &str, acr: &str, role: &str, scope: &str| {
        format!(
            r#"
resource "aksid_cluster_identity_roles" "aks" {{
  {cluster}
  subnet_ids = {subnets}
  acr_ids    = ["{acr}"]
  {}
}}
"#,
            extra(role, scope)
        )
    };
    let ws = Workspace::new(
        tf,
        &config(
            &emu,
            &body(
                &cluster_line(),
                &format!(r#"["{SUBNET_NODES}", "{SUBNET_PODS}"]"#),
                HUB_ACR,
                "Storage Blob Data Reader",
                kv,
            ),
        ),
    );
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let lower =
        |s: &str| s.replace("resourceGroups", "resourcegroups").replace("Microsoft.Network", "microsoft.network");
    let variants = [
        // ids in other casing and order
        body(&cluster_line().replace("resourceGroups", "resourcegroups"), &format!(r#"["{}", "{}"]"#, lower(SUBNET_PODS), lower(SUBNET_NODES)), &HUB_ACR.to_uppercase(), "Storage Blob Data Reader", kv),
        // role as GUID, tenant id, subscription-scoped id
        body(&cluster_line(), &format!(r#"["{SUBNET_NODES}", "{SUBNET_PODS}"]"#), HUB_ACR, "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", kv),
        body(&cluster_line(), &format!(r#"["{SUBNET_NODES}", "{SUBNET_PODS}"]"#), HUB_ACR, "/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", kv),
        body(&cluster_line(), &format!(r#"["{SUBNET_NODES}", "{SUBNET_PODS}"]"#), HUB_ACR, "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", &lower(kv)),
    ];
    for v in variants {
        ws.write("main.tf", &config(&emu, &v));
        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "no false drift for:\n{v}\n{text}");
    }
}

fn dns_zone_forbidden(emu: &Emulator) {
    // Writes on the DNS zone fail for good: the caller "lacks" permission there.
    emu.admin_post(
        "faults",
        json!({"method": "PUT", "path_contains": "dnszones/apps.contoso.example", "status": 403,
            "body": {"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write'."}}}),
    );
}

fn without_dns_grant() -> BTreeSet<(String, String, String)> {
    let mut g = expected_matrix();
    g.remove(&(KUBELET.to_string(), DNS_CONTRIB.to_string(), DNS_ZONE.to_lowercase()));
    g
}

#[test]
fn a_failed_write_loses_nothing_and_a_reapply_creates_only_the_missing_one() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    // The resource exists with part of the matrix; the change adds the rest.
    let small = format!(
        "resource \"aksid_cluster_identity_roles\" \"aks\" {{\n  {}\n  subnet_ids = [\"{SUBNET_NODES}\"]\n}}\n",
        cluster_line()
    );
    let ws = Workspace::new(tf, &config(&emu, &small));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.write("main.tf", &config(&emu, &matrix_body(&cluster_line())));
    dns_zone_forbidden(&emu);
    let text = squash(&ws.fails(&["apply", "-auto-approve", "-no-color"]));
    assert!(text.contains("Not allowed to create role assignments"), "{text}");
    assert!(text.contains("kubelet/DNS Zone Contributor/apps.contoso.example"), "the error names the grant: {text}");
    let state = ws.ok(&["state", "show", "-no-color", "aksid_cluster_identity_roles.aks"]);
    assert_eq!(state.matches("principal_type").count(), 7, "the 7 grants that exist are in state:\n{state}");
    assert_eq!(grants(&emu), without_dns_grant());
    // Fix the cause and re-apply: only the missing assignment is written.
    emu.admin_delete("faults");
    emu.admin_delete("requests");
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(count_requests(&emu, "PUT", "roleAssignments"), 1);
    assert_eq!(grants(&emu), expected_matrix());
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(grants(&emu), adopted_acr_pull());
}

#[test]
fn a_failed_first_create_keeps_what_exists_and_untaint_finishes_it() {
    // Terraform taints a resource whose create reported an error. The state still holds every
    // assignment that exists, so nothing is orphaned; `terraform untaint` + apply completes
    // the matrix with only the missing write (a replacement would briefly revoke access).
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let ws = Workspace::new(tf, &config(&emu, &matrix_body(&cluster_line())));
    ws.init();
    dns_zone_forbidden(&emu);
    let text = squash(&ws.fails(&["apply", "-auto-approve", "-no-color"]));
    assert!(text.contains("Not allowed to create role assignments"), "{text}");
    let state = ws.ok(&["state", "show", "-no-color", "aksid_cluster_identity_roles.aks"]);
    assert_eq!(state.matches("principal_type").count(), 7, "{state}");
    assert_eq!(grants(&emu), without_dns_grant());
    emu.admin_delete("faults");
    emu.admin_delete("requests");
    ws.ok(&["untaint", "-no-color", "aksid_cluster_identity_roles.aks"]);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(count_requests(&emu, "PUT", "roleAssignments"), 1);
    assert_eq!(count_requests(&emu, "DELETE", "roleAssignments"), 0);
    assert_eq!(grants(&emu), expected_matrix());
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(grants(&emu), adopted_acr_pull(), "destroy leaves only the grant that existed before");
}

#[test]
fn replication_delay_is_waited_out_and_a_missing_principal_fails_clearly() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let fresh = "5eed5eed-0000-4000-8000-000000000020";
    emu.admin_post("principals", json!({"object_id": fresh, "display_name": "new-kubelet", "delay_secs": 20}));
    let body = |kubelet: &str, timeout: &str| {
        format!(
            r#"
resource "aksid_cluster_identity_roles" "aks" {{
  control_plane_principal_id = "{CP}"
  kubelet_principal_id       = "{kubelet}"
  acr_ids                    = ["{HUB_ACR}"]
  timeouts {{
    create = "{timeout}"
  }}
}}
"#
        )
    };
    let ws = Workspace::new(tf, &config(&emu, &body(fresh, "2m")));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let log = emu.admin_get("requests");
    let not_found = log.as_array().unwrap().iter().filter(|r| r["method"] == "PUT" && r["status"] == 400).count();
    assert!(not_found >= 1, "the first PUTs met PrincipalNotFound");
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);

    let ghost = "dead0000-0000-4000-8000-00000000dead";
    let ws = Workspace::new(tf, &config(&emu, &body(ghost, "15s")));
    ws.init();
    let started = std::time::Instant::now();
    let text = squash(&ws.fails(&["apply", "-auto-approve", "-no-color"]));
    assert!(text.contains("Principal not found in Entra ID"), "{text}");
    assert!(text.contains("PrincipalNotFound"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(120), "bounded by the create timeout");
}

#[test]
fn throttled_writes_still_converge() {
    let emu = Emulator::start(&example_seed());
    emu.admin_post(
        "faults",
        json!({"method": "PUT", "path_contains": "roleAssignments", "status": 429, "rate": 0.3, "retry_after_secs": 1}),
    );
    let tf = &terraforms()[0];
    let ws = Workspace::new(tf, &config(&emu, &matrix_body(&cluster_line())));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(grants(&emu), expected_matrix());
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn import_then_matching_config_plans_no_changes() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    // The matrix exists (made by an earlier configuration whose state was lost). No outputs:
    // only the resource is compared.
    let body = matrix_body(&cluster_line());
    let body = body.split("output \"assignments\"").next().unwrap();
    let ws = Workspace::new(tf, &config(&emu, body));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.ok(&["state", "rm", "-no-color", "aksid_cluster_identity_roles.aks"]);
    ws.ok(&["import", "-no-color", "aksid_cluster_identity_roles.aks", CLUSTER_ID]);
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "import + matching config plans no changes:\n{text}");
}

#[test]
fn least_privilege_is_the_default() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let cases = [
        (format!(r#"acr_ids = ["{SPOKE_RG}"]"#), "acr_ids"),
        (format!(r#"subnet_ids = ["{}"]"#, SUBNET_NODES.split("/subnets/").next().unwrap()), "subnet_ids"),
        (
            format!("extra_assignment {{\n    identity = \"kubelet\"\n    role = \"Owner\"\n    scope = \"{SPOKE_RG}\"\n  }}"),
            "role",
        ),
        (
            format!("extra_assignment {{\n    identity = \"kubelet\"\n    role = \"Reader\"\n    scope = \"/subscriptions/{SPOKE_SUB}\"\n  }}"),
            "scope",
        ),
    ];
    for (input, attr) in &cases {
        let body =
            format!("resource \"aksid_cluster_identity_roles\" \"aks\" {{\n  {}\n  {input}\n}}\n", cluster_line());
        let ws = Workspace::new(tf, &config(&emu, &body));
        ws.init();
        let text = squash(&ws.fails(&["plan", "-no-color"]));
        assert!(text.contains(attr), "error points at {attr}: {text}");
        assert!(!text.contains("panic"), "{text}");
    }
    // With a justification it is a warning, and the justification lands in the description.
    let body = format!(
        "resource \"aksid_cluster_identity_roles\" \"aks\" {{\n  {}\n  acr_ids = [\"{SPOKE_RG}\"]\n  allow_broad_scope {{\n    justification = \"TICKET-42 temporary\"\n  }}\n}}\n",
        cluster_line()
    );
    let ws = Workspace::new(tf, &config(&emu, &body));
    ws.init();
    let out = describe(&ws.run(&["apply", "-auto-approve", "-no-color"]));
    assert!(out.contains("Warning"), "{out}");
    let all = emu.admin_get("role-assignments");
    let broad = all["value"].as_array().unwrap().iter().find(|a| {
        a["properties"]["principalId"] == KUBELET
            && a["properties"]["scope"].as_str().unwrap().eq_ignore_ascii_case(SPOKE_RG)
    });
    let desc = broad.map(|a| a["properties"]["description"].clone()).unwrap_or(Json::Null);
    assert!(desc.as_str().unwrap_or_default().contains("TICKET-42"), "{desc}");
}

#[test]
fn shipped_example_applies_against_the_emulator() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let dir = repo_root().join("examples/cluster-identity-roles");
    let main = std::fs::read_to_string(dir.join("main.tf")).unwrap();
    let mut ws = Workspace::new(tf, &main);
    for (k, v) in emu.provider_env() {
        ws.set_env(&k, &v);
    }
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "{text}");
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
}

#[test]
fn custom_role_names_in_extra_assignments_resolve_through_arm() {
    let emu = Emulator::start_with_custom_role();
    let tf = &terraforms()[0];
    let body = format!(
        "resource \"aksid_cluster_identity_roles\" \"aks\" {{\n  {}\n  extra_assignment {{\n    identity = \"kubelet\"\n    role = \"AKS Image Auditor\"\n    scope = \"{HUB_ACR}\"\n  }}\n}}\n",
        cluster_line()
    );
    let ws = Workspace::new(tf, &config(&emu, &body));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(grants(&emu).contains(&(KUBELET.to_string(), CUSTOM_ROLE_GUID.to_string(), HUB_ACR.to_lowercase())));
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "{text}");
    ws.write("main.tf", &config(&emu, &body.replace("AKS Image Auditor", "AKS Image Auditr")));
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    assert!(text.contains("Unknown role"), "{text}");
}

#[test]
fn a_grant_the_deployer_may_not_write_fails_at_plan_naming_scope_action_and_remedy() {
    // A spoke deployer: Owner of the spoke subscription, only Reader on the hub.
    let dir = tempfile::tempdir().unwrap();
    let mut seed: Json = serde_json::from_str(&std::fs::read_to_string(example_seed()).unwrap()).unwrap();
    for a in seed["role_assignments"].as_array_mut().unwrap() {
        if a["scope"] == format!("/subscriptions/{HUB_SUB}") {
            a["role_definition_name"] = json!("Reader");
        }
    }
    let path = dir.path().join("seed.json");
    std::fs::write(&path, seed.to_string()).unwrap();
    let emu = Emulator::start(&path);
    let body = format!(
        "resource \"aksid_cluster_identity_roles\" \"aks\" {{\n  {}\n  subnet_ids   = [\"{SUBNET_NODES}\"]\n  dns_zone_ids = [\"{DNS_ZONE}\"]\n}}\n",
        cluster_line()
    );
    let ws = Workspace::new(&terraforms()[0], &config(&emu, &body));
    ws.init();
    emu.admin_delete("requests");
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    assert!(text.contains("Missing permission to create role assignments"), "{text}");
    assert!(text.contains("Microsoft.Authorization/roleAssignments/write"), "names the action: {text}");
    assert!(text.contains(DNS_ZONE), "names the hub DNS zone scope: {text}");
    assert!(
        !text.contains(SUBNET_NODES.rsplit('/').next().unwrap()) || !text.contains("snet-nodes would fail"),
        "the spoke subnet is writable: {text}"
    );
    assert!(text.contains("Role Based Access Control Administrator"), "says what would grant it: {text}");
    assert!(text.contains(&format!("dns_zone_ids = [\"{DNS_ZONE}\"]")), "points at dns_zone_ids: {text}");
    let log = emu.admin_get("requests");
    let writes = log.as_array().unwrap().iter().filter(|e| e["method"] == "PUT" || e["method"] == "DELETE").count();
    assert_eq!(writes, 0, "nothing written: {log}");
    let asked = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.ends_with("/permissions") && p.contains("dnszones")))
        .count();
    assert_eq!(asked, 1, "the zone's permissions are asked once");
    // The spoke's resource group allows the write, which answers for the subnet inside it.
    let subnet_asked = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.ends_with("/permissions") && p.contains("/subnets/")))
        .count();
    assert_eq!(subnet_asked, 0, "the subnet is answered by its resource group: {log}");
}

#[test]
fn the_subscription_role_assignment_limit_is_one_diagnostic_naming_subscription_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed: Json = serde_json::from_str(&std::fs::read_to_string(example_seed()).unwrap()).unwrap();
    // Azure's limit is 4,000 per subscription; the emulator takes it from the seed.
    seed["settings"]["role_assignment_limit"] = json!(4);
    let path = dir.path().join("seed.json");
    std::fs::write(&path, seed.to_string()).unwrap();
    let emu = Emulator::start(&path);
    let ws = Workspace::new(&terraforms()[0], &config(&emu, &matrix_body(&cluster_line())));
    ws.init();
    let text = squash(&ws.fails(&["apply", "-auto-approve", "-no-color"]));
    let summary = format!("Role assignment limit reached: in subscription {SPOKE_SUB}");
    assert_eq!(text.matches(&summary).count(), 1, "one diagnostic: {text}");
    assert!(text.contains("4,000 role assignments per subscription"), "{text}");
}
