//! Provider functions through real Terraform (1.8+ calls them; older versions are skipped).

mod common;

use common::*;

fn supports_functions(tf: &Terraform) -> bool {
    let mut parts = tf.version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    major > 1 || (major == 1 && minor >= 8)
}

#[test]
fn role_assignment_name_function_matches_the_resource_naming() {
    let config = format!(
        r#"{REQUIRED_AKSID}
provider "aksid" {{}}
output "by_name" {{
  value = provider::aksid::role_assignment_name("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-spoke-1/providers/Microsoft.Network/virtualNetworks/vnet/subnets/aks", "2a8f9b1c-0d3e-4f5a-8b6c-7d8e9f0a1b2c", "Network Contributor")
}}
output "by_id" {{
  value = provider::aksid::role_assignment_name("/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-spoke-1/providers/microsoft.network/virtualnetworks/vnet/subnets/aks", "2A8F9B1C-0D3E-4F5A-8B6C-7D8E9F0A1B2C", "/providers/Microsoft.Authorization/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7")
}}
"#
    );
    let mut ran = 0;
    for tf in terraforms().iter().filter(|t| supports_functions(t)) {
        ran += 1;
        let ws = Workspace::new(tf, &config);
        ws.init();
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        let out = ws.output_json();
        // Independent vector: Python's uuid5 over the documented joined string.
        assert_eq!(out["by_name"]["value"], "104ede2e-f554-5315-beda-e1db62835e87");
        assert_eq!(out["by_id"]["value"], out["by_name"]["value"]);
    }
    eprintln!("role_assignment_name function exercised on {ran} Terraform version(s)");
}

#[test]
fn function_errors_point_at_the_argument() {
    let config = format!(
        r#"{REQUIRED_AKSID}
provider "aksid" {{}}
output "bad" {{
  value = provider::aksid::role_assignment_name("/subscriptions/00000000-0000-0000-0000-000000000001", "2a8f9b1c-0d3e-4f5a-8b6c-7d8e9f0a1b2c", "AcrPul")
}}
"#
    );
    for tf in terraforms().iter().filter(|t| supports_functions(t)) {
        let ws = Workspace::new(tf, &config);
        ws.init();
        let text = squash(&ws.fails(&["plan", "-no-color"]));
        assert!(text.contains(r#"Did you mean "AcrPull"?"#), "{text}");
    }
}
