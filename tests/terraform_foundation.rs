//! The plugin foundation driven by real Terraform through the real handshake and AutoMTLS:
//! init/validate/plan/apply/destroy, no-change plans, diagnostics that point at attributes,
//! and unknown values flowing through.

mod common;

use common::*;

fn role_config(name_expr: &str) -> String {
    format!(
        r#"{REQUIRED_AKSID}
provider "aksid" {{}}

data "aksid_role_definition" "acr" {{
  name = {name_expr}
}}

data "aksid_role_definition" "by_id" {{
  id = "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe"
}}

output "guid"        {{ value = data.aksid_role_definition.acr.guid }}
output "role_id"     {{ value = data.aksid_role_definition.acr.role_definition_id }}
output "privileged"  {{ value = data.aksid_role_definition.acr.privileged }}
output "actions"     {{ value = data.aksid_role_definition.acr.actions }}
output "by_id_name"  {{ value = data.aksid_role_definition.by_id.name }}
"#
    )
}

#[test]
fn role_definition_full_lifecycle_on_every_terraform() {
    for tf in terraforms() {
        let ws = Workspace::new(tf, &role_config(r#""acrpull""#));
        ws.init();
        ws.ok(&["validate", "-no-color"]);
        ws.ok(&["plan", "-no-color"]);
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        let out = ws.output_json();
        assert_eq!(out["guid"]["value"], "7f951dda-4ed3-4680-a7ca-43fe172d538d", "{}", tf.version);
        assert_eq!(
            out["role_id"]["value"],
            "/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"
        );
        assert_eq!(out["privileged"]["value"], false);
        assert_eq!(out["actions"]["value"], serde_json::json!(["Microsoft.ContainerRegistry/registries/pull/read"]));
        assert_eq!(out["by_id_name"]["value"], "Storage Blob Data Contributor");
        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "a plan after apply must be empty on {}:\n{text}", tf.version);
        ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    }
}

#[test]
fn misspelled_role_name_is_an_error_on_the_attribute_with_a_suggestion() {
    for tf in terraforms() {
        let ws = Workspace::new(tf, &role_config(r#""Storage Blod Data Reader""#));
        ws.init();
        let text = squash(&ws.fails(&["plan", "-no-color"]));
        assert!(text.contains("Unknown built-in role"), "{text}");
        assert!(text.contains(r#"Did you mean "Storage Blob Data Reader""#), "{text}");
        // Terraform highlights the attribute the diagnostic points at.
        assert!(
            text.contains(r#"name = "Storage Blod Data Reader""#),
            "no attribute highlight on {}:\n{text}",
            tf.version
        );
        assert!(!text.contains("panic"), "{text}");
    }
}

#[test]
fn unknown_values_stay_unknown_until_apply() {
    // The role name depends on null_resource.x.id, which the Go null provider only knows after
    // apply, so Terraform validates with an unknown and defers the read.
    let config = format!(
        r#"{REQUIRED_AKSID_AND_NULL}
provider "aksid" {{}}
resource "null_resource" "x" {{}}

data "aksid_role_definition" "late" {{
  name = substr("AcrPull${{null_resource.x.id}}", 0, 7)
}}

output "guid" {{ value = data.aksid_role_definition.late.guid }}
"#
    );
    for tf in terraforms() {
        let ws = Workspace::new(tf, &config);
        ws.init();
        let plan = ws.ok(&["plan", "-no-color"]);
        assert!(plan.contains("known after apply"), "{}:\n{plan}", tf.version);
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        assert_eq!(ws.output_json()["guid"]["value"], "7f951dda-4ed3-4680-a7ca-43fe172d538d");
        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "{text}");
        ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    }
}

fn provider_block_config(body: &str) -> String {
    format!(
        r#"{REQUIRED_AKSID}
provider "aksid" {{
{body}
}}

data "aksid_role_definition" "r" {{
  name = "Reader"
}}
"#
    )
}

#[test]
fn provider_configuration_errors_point_at_the_attribute() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"  arm_endpoint = "http://arm.example.com/""#,
            "Insecure or invalid arm_endpoint",
            "arm_endpoint = \"http://arm.example.com/\"",
        ),
        (r#"  tenant_id = "not-a-guid""#, "Invalid tenant_id", "tenant_id = \"not-a-guid\""),
        ("  use_msi = true\n  use_cli = true", "Conflicting authentication methods", "use_cli = true"),
        (r#"  environment = "mars""#, "Unknown Azure environment", "environment = \"mars\""),
    ];
    let tf = &terraforms()[0];
    for (body, summary, highlighted) in cases {
        let ws = Workspace::new(tf, &provider_block_config(body));
        ws.init();
        let text = squash(&ws.fails(&["validate", "-no-color"]));
        assert!(text.contains(summary), "{body}:\n{text}");
        assert!(text.contains(highlighted), "diagnostic should highlight {highlighted:?}:\n{text}");
    }
    // Loopback http (a local emulator) is fine.
    let ws = Workspace::new(tf, &provider_block_config(r#"  arm_endpoint = "http://127.0.0.1:8443/""#));
    ws.init();
    ws.ok(&["validate", "-no-color"]);
}

#[test]
fn sensitive_provider_values_never_reach_logs() {
    let tf = &terraforms()[0];
    let secret = "very-secret-value-4711";
    let body = format!(
        "  tenant_id = \"00000000-0000-0000-0000-000000000001\"\n  client_id = \"00000000-0000-0000-0000-000000000002\"\n  client_secret = \"{secret}\""
    );
    let mut ws = Workspace::new(tf, &provider_block_config(&body));
    ws.set_env("TF_LOG", "TRACE");
    ws.init();
    ws.ok(&["plan", "-no-color"]);
    let log_path = ws.path().join("tf.log");
    ws.set_env("TF_LOG_PATH", log_path.to_str().unwrap());
    ws.ok(&["plan", "-no-color"]);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("provider.terraform-provider-aksid"), "provider logs reach Terraform");
    // Terraform itself logs raw msgpack of the config at TRACE; what we check is that no log
    // line emitted by the provider carries the secret.
    for line in log.lines().filter(|l| l.contains("provider.terraform-provider-aksid")) {
        assert!(!line.contains(secret), "secret in provider log line: {line}");
    }
}

#[test]
fn shipped_example_applies_cleanly() {
    let example = repo_root().join("examples/role-definitions/main.tf");
    let config = std::fs::read_to_string(example).unwrap();
    for tf in terraforms() {
        let ws = Workspace::new(tf, &config);
        ws.init();
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        let out = ws.output_json();
        assert_eq!(out["owner_is_privileged"]["value"], true);
        assert_eq!(
            out["role_definition_ids"]["value"]["Managed Identity Operator"],
            "/providers/Microsoft.Authorization/roleDefinitions/f1a07417-d97a-45cb-824c-7a7467783830"
        );
        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "{text}");
    }
}
