//! `aksid_role_assignment` end to end against the emulator: the single-grant drop-in for
//! `azurerm_role_assignment`, on the same engine as the matrix resource.

mod common;

use common::emulator::*;
use common::*;

const CP: &str = "b8f85bd4-6abc-4007-8e05-bc515255b609";
const KUBELET: &str = "dd045a39-4adf-491f-be2d-1611bf4e408e";
const SUBNET: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-nodes";
const HUB_ACR: &str = "/subscriptions/ad089f8f-9110-4b0c-9b4b-410b023815eb/resourceGroups/rg-hub-shared/providers/Microsoft.ContainerRegistry/registries/acrhubshared";
const STORAGE: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.Storage/storageAccounts/stspokedata";

fn one(scope: &str, role: &str, principal: &str, extra: &str) -> String {
    format!(
        r#"
resource "aksid_role_assignment" "ra" {{
  scope        = "{scope}"
  role         = "{role}"
  principal_id = "{principal}"
  {extra}
}}
output "name" {{ value = aksid_role_assignment.ra.name }}
output "id"   {{ value = aksid_role_assignment.ra.id }}
"#
    )
}

fn config(emu: &Emulator, body: &str) -> String {
    format!("{REQUIRED_AKSID}\n{}\n{body}", emu.provider_block())
}

/// Assignments (name, principal) at `scope` in the emulator.
fn at_scope(emu: &Emulator, scope: &str) -> Vec<(String, String)> {
    emu.admin_get("role-assignments")["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["properties"]["scope"].as_str().unwrap_or_default().eq_ignore_ascii_case(scope))
        .map(|a| {
            (a["name"].as_str().unwrap().to_string(), a["properties"]["principalId"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn lifecycle_with_a_deterministic_name_known_at_plan() {
    for tf in terraforms() {
        let emu = Emulator::start(&example_seed());
        let ws = Workspace::new(tf, &config(&emu, &one(SUBNET, "Network Contributor", CP, "")));
        ws.init();
        let plan = ws.ok(&["plan", "-no-color"]);
        assert!(plan.contains("/providers/Microsoft.Authorization/roleAssignments/"), "id known at plan:\n{plan}");
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        let name = ws.output_json()["name"]["value"].as_str().unwrap().to_string();
        assert_eq!(at_scope(&emu, SUBNET), vec![(name, CP.to_string())]);
        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "{text}");
        ws.ok(&["destroy", "-auto-approve", "-no-color"]);
        assert!(at_scope(&emu, SUBNET).is_empty());
    }
}

#[test]
fn role_forms_and_scope_casing_plan_no_changes() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let ws = Workspace::new(tf, &config(&emu, &one(SUBNET, "Network Contributor", CP, "")));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    for (scope, role) in [
        (SUBNET.replace("resourceGroups", "resourcegroups"), "network contributor".to_string()),
        (SUBNET.to_string(), "4d97b98b-1d4f-4787-a291-c67834d212e7".to_string()),
        (SUBNET.to_string(), "/providers/Microsoft.Authorization/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7".to_string()),
        (
            SUBNET.to_string(),
            "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/providers/Microsoft.Authorization/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7".to_string(),
        ),
    ] {
        ws.write("main.tf", &config(&emu, &one(&scope, &role, &CP.to_uppercase(), "")));
        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "{scope} {role}:\n{text}");
    }
    // A different role is a replacement.
    ws.write("main.tf", &config(&emu, &one(SUBNET, "Reader", CP, "")));
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(plan.contains("must be replaced"), "{plan}");
}

#[test]
fn adopts_an_equivalent_assignment_made_outside_terraform() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let ws = Workspace::new(tf, &config(&emu, &one(HUB_ACR, "AcrPull", KUBELET, "")));
    ws.init();
    let plan = squash(&describe(&ws.run(&["plan", "-no-color"])));
    assert!(plan.contains("Adopting an existing role assignment"), "the plan says so: {plan}");
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(ws.output_json()["name"]["value"], "cc97febf-558a-4304-8434-c250813acd87");
    assert_eq!(at_scope(&emu, HUB_ACR).len(), 1, "no duplicate was created");
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn drift_and_import() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let body = one(STORAGE, "Storage Blob Data Reader", KUBELET, "");
    let body = body.split("output \"name\"").next().unwrap();
    let ws = Workspace::new(tf, &config(&emu, body));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let id = at_scope(&emu, STORAGE)[0].0.clone();
    let full = format!("{STORAGE}/providers/Microsoft.Authorization/roleAssignments/{id}");
    emu.rt_delete_assignment(&full);
    let (code, text) = ws.exit_code(&["plan", "-refresh-only", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 2, "{text}");
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(at_scope(&emu, STORAGE).len(), 1);
    ws.ok(&["state", "rm", "-no-color", "aksid_role_assignment.ra"]);
    ws.ok(&["import", "-no-color", "aksid_role_assignment.ra", &full]);
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "import + matching config plans no changes:\n{text}");
}

#[test]
fn least_privilege_errors_point_at_role_and_scope() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let rg = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks";
    for (body, highlighted) in [
        (one(rg, "Owner", KUBELET, ""), "role = \"Owner\""),
        (
            one("/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4", "Reader", KUBELET, ""),
            "scope = \"/subscriptions/",
        ),
        (one(rg, "AcrPull", KUBELET, ""), "scope = \"/subscriptions/"),
    ] {
        let ws = Workspace::new(tf, &config(&emu, &body));
        ws.init();
        let text = squash(&ws.fails(&["plan", "-no-color"]));
        assert!(text.contains(highlighted), "{text}");
    }
    let ws = Workspace::new(
        tf,
        &config(
            &emu,
            &one(
                rg,
                "AcrPull",
                KUBELET,
                "allow_broad_scope {\n    justification = \"CHG-7 all registries of the team\"\n  }",
            ),
        ),
    );
    ws.init();
    let out = describe(&ws.run(&["apply", "-auto-approve", "-no-color"]));
    assert!(out.contains("Warning"), "{out}");
    let all = emu.admin_get("role-assignments");
    let desc = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["properties"]["scope"].as_str().unwrap_or_default().eq_ignore_ascii_case(rg)
                && a["properties"]["principalId"] == KUBELET
        })
        .map(|a| a["properties"]["description"].clone())
        .unwrap_or_default();
    assert!(desc.as_str().unwrap_or_default().contains("CHG-7"), "{desc}");
}

#[test]
fn custom_role_names_resolve_through_arm() {
    let emu = Emulator::start_with_custom_role();
    let tf = &terraforms()[0];
    let ws = Workspace::new(tf, &config(&emu, &one(HUB_ACR, "AKS Image Auditor", KUBELET, "")));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let all = emu.admin_get("role-assignments");
    assert!(all["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["properties"]["roleDefinitionId"].as_str().unwrap_or_default().ends_with(CUSTOM_ROLE_GUID)));
    // A name that is neither built-in nor custom suggests built-ins.
    ws.write("main.tf", &config(&emu, &one(HUB_ACR, "AcrPul", KUBELET, "")));
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    assert!(text.contains("Did you mean \"AcrPull\""), "{text}");
}

#[test]
fn a_user_chosen_name_held_by_another_grant_is_a_conflict_not_a_delete() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    // Someone else's grant holds the GUID the configuration names.
    let taken = "5a5a5a5a-0000-4000-8000-00000000abcd";
    emu.admin_post(
        "role-assignments",
        serde_json::json!({"scope": SUBNET, "role_definition_name": "Reader", "principal_id": KUBELET, "name": taken}),
    );
    let ws = Workspace::new(tf, &config(&emu, &one(SUBNET, "Network Contributor", CP, &format!("name = \"{taken}\""))));
    ws.init();
    let text = squash(&ws.fails(&["apply", "-auto-approve", "-no-color"]));
    assert!(text.contains("RoleAssignmentNameTaken"), "{text}");
    assert!(text.contains(KUBELET), "the conflict names the holder: {text}");
    assert_eq!(at_scope(&emu, SUBNET), vec![(taken.to_string(), KUBELET.to_string())], "left untouched");
}

#[test]
fn replace_with_create_before_destroy_keeps_the_assignment() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let body = one(SUBNET, "Network Contributor", CP, "lifecycle {\n    create_before_destroy = true\n  }");
    let ws = Workspace::new(tf, &config(&emu, &body));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let before = at_scope(&emu, SUBNET);
    let text = squash(&ws.ok(&["apply", "-auto-approve", "-no-color", "-replace=aksid_role_assignment.ra"]));
    assert!(text.contains("another aksid resource now holds"), "{text}");
    assert_eq!(at_scope(&emu, SUBNET), before, "the successor's assignment survives the old object's destroy");
    let (code, text) = ws.exit_code(&["plan", "-refresh-only", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "{text}");
}

/// The seed's group `aks-cluster-admins`.
const GROUP: &str = "a415012c-a49e-4e6c-9677-ec9ba59c1131";

#[test]
fn principal_type_is_sent_as_configured() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let reader = |t: &str| one(STORAGE, "Storage Blob Data Reader", GROUP, &format!("principal_type = \"{t}\""));
    // A group assigned as a group: ARM records the configured type.
    let ws = Workspace::new(tf, &config(&emu, &reader("Group")));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let stored: Vec<String> = emu.admin_get("role-assignments")["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["properties"]["principalId"] == GROUP)
        .map(|a| a["properties"]["principalType"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(stored, ["Group"]);
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "{text}");
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    // The same group claimed to be a user: ARM refuses, and the error says what to fix.
    let ws = Workspace::new(tf, &config(&emu, &reader("User")));
    ws.init();
    let text = squash(&ws.fails(&["apply", "-auto-approve", "-no-color"]));
    assert!(text.contains("Principal type does not match the directory"), "{text}");
    assert!(text.contains("UnmatchedPrincipalType"), "{text}");
    assert!(at_scope(&emu, STORAGE).is_empty());
}

#[test]
fn a_lower_case_scope_applies_when_arm_answers_in_canonical_casing() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let lower = STORAGE.replace("resourceGroups", "resourcegroups").to_lowercase();
    let ws = Workspace::new(tf, &config(&emu, &one(&lower, "Storage Blob Data Reader", CP, "")));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    // The emulator answered in the seeded spelling, as ARM does for storage accounts.
    let stored = emu.admin_get("role-assignments")["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["properties"]["principalId"] == CP
                && a["properties"]["scope"].as_str().unwrap().eq_ignore_ascii_case(STORAGE)
        })
        .map(|a| a["properties"]["scope"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(stored, STORAGE, "ARM's canonical casing");
    // State keeps the spelling that was planned.
    let id = ws.output_json()["id"]["value"].as_str().unwrap().to_string();
    assert!(id.starts_with(&lower), "{id}");
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = ws.exit_code(&["plan", "-refresh-only", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "{text}");
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(at_scope(&emu, STORAGE).is_empty());
}
