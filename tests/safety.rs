//! The provider fails fast, clearly and safely: bad input is an error on the attribute before
//! anything is sent, destroy never takes away access it did not grant or that another object
//! now holds, and many failures of one cause make one diagnostic. Real Terraform, the real
//! provider binary and the emulator.

mod common;

use std::collections::BTreeSet;

use common::emulator::*;
use common::matrix::*;
use common::*;
use serde_json::json;

const STORAGE: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.Storage/storageAccounts/stspokedata";

fn requests(emu: &Emulator) -> usize {
    emu.admin_get("requests").as_array().map_or(0, Vec::len)
}

fn no_drift(ws: &Workspace) {
    let (code, text) = ws.exit_code(&["plan", "-refresh-only", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "refresh-only shows no drift:\n{text}");
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "no changes:\n{text}");
}

#[test]
fn bad_input_is_an_error_on_the_attribute_before_any_request() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let cases = [
        (format!(r#"cluster_id = "{STORAGE}""#), "Wrong kind of Azure resource", "Microsoft.ContainerService/managedClusters"),
        (
            r#"cluster_id = "/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks""#
                .to_string(),
            "Invalid subscription id",
            "not-a-guid",
        ),
        (
            format!(r#"{}
  subnet_ids = ["/subscriptions/hub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"]"#, cluster_line()),
            "Invalid subscription id",
            "\"hub\" in",
        ),
        (format!("{}\n  max_parallel_writes = 0", cluster_line()), "Invalid max_parallel_writes", "1–64"),
        (format!("{}\n  max_parallel_writes = -5", cluster_line()), "Invalid max_parallel_writes", "max_parallel_writes"),
        (format!("{}\n  max_parallel_writes = 100000", cluster_line()), "Invalid max_parallel_writes", "100000"),
        (
            format!("{}\n  timeouts {{\n    create = \"3000000000000000h\"\n  }}", cluster_line()),
            "Invalid timeout",
            "longer than the maximum of 24h",
        ),
        (
            format!("{}\n  timeouts {{\n    delete = \"9999999999999999h\"\n  }}", cluster_line()),
            "Invalid timeout",
            "\"9999999999999999h\" is longer than the maximum",
        ),
    ];
    for (body, summary, detail) in cases {
        let ws = Workspace::new(
            tf,
            &config(&emu, &format!("resource \"aksid_cluster_identity_roles\" \"aks\" {{\n  {body}\n}}\n")),
        );
        ws.init();
        emu.admin_delete("requests");
        let text = squash(&ws.fails(&["plan", "-no-color"]));
        assert!(text.contains(summary) && text.contains(detail), "{body}:\n{text}");
        assert!(text.contains("on main.tf line"), "points at the configuration:\n{text}");
        assert!(!text.contains("panic"), "{text}");
        assert_eq!(requests(&emu), 0, "nothing was sent to ARM for {body}");
    }
}

#[test]
fn delete_adopted_on_destroy_opts_in_to_deleting_adopted_grants() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let body = format!(
        "resource \"aksid_cluster_identity_roles\" \"aks\" {{\n  {}\n  acr_ids = [\"{HUB_ACR}\"]\n  delete_adopted_on_destroy = true\n}}\n",
        cluster_line()
    );
    let ws = Workspace::new(tf, &config(&emu, &body));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(grants(&emu), adopted_acr_pull());
    let state = ws.ok(&["state", "show", "-no-color", "aksid_cluster_identity_roles.aks"]);
    assert!(state.contains(r#"origin             = "adopted""#) || state.contains("\"adopted\""), "{state}");
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(grants(&emu).is_empty(), "{:?}", grants(&emu));
}

#[test]
fn shrinking_releases_an_adopted_grant_instead_of_deleting_it() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let with = |acr: bool| {
        let acr = if acr { format!("acr_ids = [\"{HUB_ACR}\"]") } else { String::new() };
        config(
            &emu,
            &format!(
                "resource \"aksid_cluster_identity_roles\" \"aks\" {{\n  {}\n  subnet_ids = [\"{SUBNET_NODES}\"]\n  {acr}\n}}\n",
                cluster_line()
            ),
        )
    };
    let ws = Workspace::new(tf, &with(true));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    ws.write("main.tf", &with(false));
    let text = squash(&ws.ok(&["apply", "-auto-approve", "-no-color"]));
    assert!(text.contains("adopted role assignment(s) in place"), "{text}");
    let subnet = (CP.to_string(), NETWORK_CONTRIBUTOR.to_string(), SUBNET_NODES.to_lowercase());
    let mut want = adopted_acr_pull();
    want.insert(subnet);
    assert_eq!(grants(&emu), want);
    no_drift(&ws);
}

/// After each way of replacing the object, every grant exists and nothing drifts.
#[test]
fn replacement_never_deletes_the_grants_its_successor_holds() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let cbd = |on: bool| {
        let lifecycle = if on { "lifecycle {\n    create_before_destroy = true\n  }" } else { "" };
        let body = matrix_body(&cluster_line());
        config(&emu, &body.replacen("aad_pod_identity {", &format!("{lifecycle}\n  aad_pod_identity {{"), 1))
    };
    let ws = Workspace::new(tf, &cbd(true));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(grants(&emu), expected_matrix());
    for (label, on, args) in [
        (
            "-replace with create_before_destroy",
            true,
            vec!["apply", "-auto-approve", "-no-color", "-replace=aksid_cluster_identity_roles.aks"],
        ),
        (
            "-replace without create_before_destroy",
            false,
            vec!["apply", "-auto-approve", "-no-color", "-replace=aksid_cluster_identity_roles.aks"],
        ),
    ] {
        ws.write("main.tf", &cbd(on));
        let text = squash(&ws.ok(&args));
        assert_eq!(grants(&emu), expected_matrix(), "{label}:\n{text}");
        no_drift(&ws);
    }
    ws.ok(&["taint", "-no-color", "aksid_cluster_identity_roles.aks"]);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(grants(&emu), expected_matrix(), "taint + apply");
    no_drift(&ws);
}

/// A module refactor without `moved`: the old address is destroyed and the new one created in
/// the same apply, in whatever order Terraform picks.
#[test]
fn a_refactor_that_swaps_objects_keeps_every_grant() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let body = matrix_body(&cluster_line());
    let ws = Workspace::new(tf, &config(&emu, &body));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let renamed = body
        .replace("\"aks\"", "\"cluster\"")
        .replace("aksid_cluster_identity_roles.aks.assignments", "aksid_cluster_identity_roles.cluster.assignments");
    ws.write("main.tf", &config(&emu, &renamed));
    let text = squash(&ws.ok(&["apply", "-auto-approve", "-no-color"]));
    assert_eq!(grants(&emu), expected_matrix(), "{text}");
    no_drift(&ws);
}

#[test]
fn many_failures_of_one_cause_are_one_diagnostic() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    // 300 grants on 300 subnets of one VNet (scopes need not exist for the write to be tried).
    let subnets: Vec<String> = (0..300)
        .map(|i| format!("\"/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/s{i}\""))
        .collect();
    let body = format!(
        "resource \"aksid_cluster_identity_roles\" \"aks\" {{\n  {}\n  subnet_ids = [{}]\n  max_parallel_writes = 16\n}}\n",
        cluster_line(),
        subnets.join(", ")
    );
    let ws = Workspace::new(tf, &config(&emu, &body));
    ws.init();
    emu.admin_post(
        "faults",
        json!({"method": "PUT", "path_contains": "roleAssignments", "status": 403,
            "body": {"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write'."}}}),
    );
    let text = squash(&ws.fails(&["apply", "-auto-approve", "-no-color"]));
    assert_eq!(text.matches("Error: ").count(), 1, "one diagnostic for one cause:\n{text}");
    assert!(text.contains("Not allowed to create role assignments (300 grants)"), "{text}");
    assert!(text.contains("control_plane/Network Contributor/vnet-spoke/s0"), "names the first grants: {text}");
    assert!(text.contains("and 100 more"), "the list is capped: {text}");
}

#[test]
fn config_driven_import_generates_a_configuration_that_applies_and_plans_empty() {
    let Some(tf) = terraforms().iter().rev().find(|t| version_at_least(&t.version, 1, 5)) else {
        eprintln!("no Terraform >= 1.5 found: config-driven import cannot be exercised");
        return;
    };
    let emu = Emulator::start(&example_seed());
    // The grants exist, made by a configuration whose state was lost.
    let made = Workspace::new(tf, &config(&emu, &matrix_body(&cluster_line())));
    made.init();
    made.ok(&["apply", "-auto-approve", "-no-color"]);
    let import = format!(
        "{REQUIRED_AKSID}\n{}\nimport {{\n  to = aksid_cluster_identity_roles.aks\n  id = \"{CLUSTER_ID}\"\n}}\n",
        emu.provider_block()
    );
    let ws = Workspace::new(tf, &import);
    ws.init();
    ws.ok(&["plan", "-no-color", "-generate-config-out=generated.tf"]);
    let generated = std::fs::read_to_string(ws.path().join("generated.tf")).unwrap();
    ws.ok(&["validate", "-no-color"]);
    let text = ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(text.contains("1 imported"), "{text}\n{generated}");
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "the next plan is empty:\n{text}\n{generated}");
    let grants_before: BTreeSet<_> = grants(&emu);
    assert_eq!(grants_before, expected_matrix());
}

fn version_at_least(v: &str, major: u64, minor: u64) -> bool {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

#[test]
fn config_driven_import_of_a_single_assignment_round_trips() {
    let Some(tf) = terraforms().iter().rev().find(|t| version_at_least(&t.version, 1, 5)) else {
        eprintln!("no Terraform >= 1.5 found: config-driven import cannot be exercised");
        return;
    };
    let emu = Emulator::start(&example_seed());
    // The seed's AcrPull from `az aks update --attach-acr`.
    let id =
        format!("{HUB_ACR}/providers/Microsoft.Authorization/roleAssignments/cc97febf-558a-4304-8434-c250813acd87");
    let import = format!(
        "{REQUIRED_AKSID}\n{}\nimport {{\n  to = aksid_role_assignment.pull\n  id = \"{id}\"\n}}\n",
        emu.provider_block()
    );
    let ws = Workspace::new(tf, &import);
    ws.init();
    ws.ok(&["plan", "-no-color", "-generate-config-out=generated.tf"]);
    let generated = std::fs::read_to_string(ws.path().join("generated.tf")).unwrap();
    ws.ok(&["validate", "-no-color"]);
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(code, 0, "the next plan is empty:\n{text}\n{generated}");
    // Imported means managed: destroy deletes it.
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(grants(&emu).is_empty(), "{:?}", grants(&emu));
}

/// ARM answers role assignments in resource groups in canonical casing; every planned spelling
/// survives apply, and nothing shows as a change afterwards.
#[test]
fn lower_case_ids_in_the_matrix_keep_their_planned_spelling() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let lower =
        |s: &str| s.replace("resourceGroups", "resourcegroups").replace("Microsoft.Network", "microsoft.network");
    let body = format!(
        "resource \"aksid_cluster_identity_roles\" \"aks\" {{\n  {}\n  subnet_ids = [\"{}\"]\n  dns_zone_ids = [\"{}\"]\n}}\n",
        cluster_line(),
        lower(SUBNET_NODES),
        lower(DNS_ZONE)
    );
    let ws = Workspace::new(tf, &config(&emu, &body));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    no_drift(&ws);
    ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(grants(&emu), adopted_acr_pull(), "only the seed's own grant is left");
}
