//! Migrating an `azurerm_role_assignment` to `aksid_role_assignment` without destroying or
//! creating anything: a `moved` block (Terraform ≥1.8 calls MoveResourceState on aksid) or, on
//! older Terraform, `terraform state rm` + `terraform import`. The source state is written as
//! azurerm stores it (schema version 0) for an assignment that exists in the emulator.

mod common;

use common::emulator::*;
use common::*;

const KUBELET: &str = "dd045a39-4adf-491f-be2d-1611bf4e408e";
const HUB_SUB: &str = "ad089f8f-9110-4b0c-9b4b-410b023815eb";
const HUB_ACR: &str = "/subscriptions/ad089f8f-9110-4b0c-9b4b-410b023815eb/resourceGroups/rg-hub-shared/providers/Microsoft.ContainerRegistry/registries/acrhubshared";
/// The seed's AcrPull from `az aks update --attach-acr`, here as if azurerm had created it.
const NAME: &str = "cc97febf-558a-4304-8434-c250813acd87";
const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const DESCRIPTION: &str = "Created out of band by 'az aks update --attach-acr'";

fn assignment_id() -> String {
    format!("{HUB_ACR}/providers/Microsoft.Authorization/roleAssignments/{NAME}")
}

/// A terraform.tfstate holding `azurerm_role_assignment.acr_pull` exactly as azurerm writes it:
/// every attribute present, "" for unset strings, the subscription form of the role id.
fn azurerm_state() -> String {
    let attributes = serde_json::json!({
        "condition": "",
        "condition_version": "",
        "delegated_managed_identity_resource_id": "",
        "description": DESCRIPTION,
        "id": assignment_id(),
        "name": NAME,
        "principal_id": KUBELET,
        "principal_type": "ServicePrincipal",
        "role_definition_id": format!("/subscriptions/{HUB_SUB}/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"),
        "role_definition_name": "AcrPull",
        "scope": HUB_ACR,
        "skip_service_principal_aad_check": false,
        "timeouts": null
    });
    serde_json::to_string_pretty(&serde_json::json!({
        "version": 4,
        "terraform_version": "1.5.7",
        "serial": 1,
        "lineage": "5d3c8a52-7a8e-4f7b-9d07-1c2f0e6b9a10",
        "outputs": {},
        "resources": [{
            "mode": "managed",
            "type": "azurerm_role_assignment",
            "name": "acr_pull",
            "provider": "provider[\"registry.terraform.io/hashicorp/azurerm\"]",
            "instances": [{
                "schema_version": 0,
                "attributes": attributes,
                "sensitive_attributes": [],
                "private": "eyJzY2hlbWFfdmVyc2lvbiI6IjAifQ=="
            }]
        }],
        "check_results": null
    }))
    .unwrap()
}

/// The azurerm block with only its type changed (azurerm's argument names), plus `extra`.
fn config(emu: &Emulator, extra: &str) -> String {
    format!(
        r#"{REQUIRED_AKSID}
{}
resource "aksid_role_assignment" "acr_pull" {{
  scope                = "{HUB_ACR}"
  role_definition_name = "AcrPull"
  principal_id         = "{KUBELET}"
  description          = "{DESCRIPTION}"
}}
{extra}
"#,
        emu.provider_block()
    )
}

const MOVED: &str = r#"
output "id" { value = aksid_role_assignment.acr_pull.id }
moved {
  from = azurerm_role_assignment.acr_pull
  to   = aksid_role_assignment.acr_pull
}
"#;

/// Terraform's CLI configuration for a workspace whose state still names hashicorp/azurerm:
/// `init` insists on installing every provider state refers to, and the tests run offline. The
/// stand-in is the null provider under azurerm's address: it has no azurerm_role_assignment, so
/// a passing move also proves Terraform never asked azurerm about the moved resource.
fn with_azurerm_stand_in(ws: &Workspace) {
    let stand_in = ws.path().join("stand-in");
    let dir = stand_in.join("registry.terraform.io/hashicorp/azurerm/4.0.0/linux_amd64");
    std::fs::create_dir_all(&dir).unwrap();
    let null = repo_root().join(".tools/mirror/registry.terraform.io/hashicorp/null/2.1.2/linux_amd64");
    let binary = std::fs::read_dir(&null).unwrap().next().unwrap().unwrap().path();
    std::fs::copy(&binary, dir.join("terraform-provider-azurerm_v4.0.0")).unwrap();
    let rc = format!(
        r#"provider_installation {{
  filesystem_mirror {{
    path    = "{}"
    include = ["registry.terraform.io/aksid/aksid"]
  }}
  filesystem_mirror {{
    path    = "{}"
    include = ["registry.terraform.io/hashicorp/azurerm"]
  }}
  direct {{
    exclude = ["registry.terraform.io/aksid/aksid", "registry.terraform.io/hashicorp/azurerm"]
  }}
}}
"#,
        mirror_dir().display(),
        stand_in.display()
    );
    ws.write("terraform.rc", &rc);
}

fn version_at_least(v: &str, major: u64, minor: u64) -> bool {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

/// What exists in the emulator under the assignment's id: (principal, role definition id).
fn remote(emu: &Emulator) -> Vec<(String, String)> {
    emu.admin_get("role-assignments")["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["properties"]["scope"].as_str().unwrap_or_default().eq_ignore_ascii_case(HUB_ACR))
        .map(|a| {
            let p = &a["properties"];
            (
                format!("{}:{}", a["name"].as_str().unwrap(), p["principalId"].as_str().unwrap()),
                p["roleDefinitionId"].as_str().unwrap().to_ascii_lowercase(),
            )
        })
        .collect()
}

fn assert_only_the_original_exists(emu: &Emulator, when: &str) {
    let found = remote(emu);
    assert_eq!(found.len(), 1, "{when}: exactly the one assignment: {found:?}");
    assert_eq!(found[0].0, format!("{NAME}:{KUBELET}"), "{when}: the same assignment, not a new one");
    assert!(found[0].1.ends_with(ACR_PULL), "{when}: {found:?}");
}

/// Terraform ≥1.8: `moved` across providers; the plan moves and changes nothing.
fn moved_route(tf: &Terraform) {
    let emu = Emulator::start(&example_seed());
    let ws = Workspace::new(tf, &config(&emu, MOVED));
    with_azurerm_stand_in(&ws);
    ws.write("terraform.tfstate", &azurerm_state());
    ws.init();
    let (code, plan) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    let plan = squash(&plan);
    assert!(plan.contains("azurerm_role_assignment.acr_pull has moved to aksid_role_assignment.acr_pull"), "{plan}");
    assert!(plan.contains("0 to add, 0 to change, 0 to destroy"), "no destroy, no create: {plan}");
    assert!(!plan.contains("must be replaced") && !plan.contains("will be updated"), "{plan}");
    assert_eq!(code, 2, "moves (and the new output) are changes to state: {plan}");
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(ws.output_json()["id"]["value"], assignment_id(), "the id is kept");
    let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
    assert!(!state.contains("hashicorp/azurerm"), "after apply, state no longer needs azurerm:\n{state}");
    let state = ws.ok(&["state", "show", "-no-color", "aksid_role_assignment.acr_pull"]);
    assert!(squash(&state).contains("origin = \"imported\""), "{state}");
    assert_only_the_original_exists(&emu, "after the move");
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "the next plan is empty:\n{text}");
    // Managed now: destroy deletes it, as azurerm would have.
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(remote(&emu).is_empty(), "{:?}", remote(&emu));
}

/// Any Terraform: forget the azurerm resource, then import the same assignment.
fn import_route(tf: &Terraform) {
    let emu = Emulator::start(&example_seed());
    let ws = Workspace::new(tf, &config(&emu, ""));
    ws.write("terraform.tfstate", &azurerm_state());
    // `state rm` needs no provider, so azurerm never has to be installed.
    ws.ok(&["state", "rm", "-no-color", "azurerm_role_assignment.acr_pull"]);
    ws.init();
    ws.ok(&["import", "-no-color", "aksid_role_assignment.acr_pull", &assignment_id()]);
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "azurerm's arguments plan no changes after import:\n{text}");
    assert_only_the_original_exists(&emu, "after the import");
}

#[test]
fn an_azurerm_assignment_moves_without_destroy_or_create() {
    let mut ran = Vec::new();
    // The pinned 1.0.3 predates `moved` across types: the import route.
    let oldest = &terraforms()[0];
    import_route(oldest);
    ran.push(format!("import route on {}", oldest.version));
    for tf in terraforms().iter().filter(|t| version_at_least(&t.version, 1, 8)) {
        moved_route(tf);
        ran.push(format!("moved route on {}", tf.version));
    }
    // Which routes ran depends on the binaries found; the log says which.
    eprintln!("migration routes exercised: {ran:?}");
}
