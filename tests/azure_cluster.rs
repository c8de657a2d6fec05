//! The Azure control plane end to end: real Terraform reads `aksid_cluster` from the emulator
//! over HTTPS with each credential type, survives throttling, and explains auth failures.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::emulator::*;
use common::*;
use serde_json::json;

fn cluster_config(provider: &str) -> String {
    format!(
        r#"{REQUIRED_AKSID}
{provider}
data "aksid_cluster" "aks" {{
  cluster_id = "{CLUSTER_ID}"
}}

output "control_plane" {{ value = data.aksid_cluster.aks.control_plane_principal_id }}
output "cp_type"       {{ value = data.aksid_cluster.aks.control_plane_identity_type }}
output "kubelet"       {{ value = data.aksid_cluster.aks.kubelet_identity }}
output "node_rg"       {{ value = data.aksid_cluster.aks.node_resource_group_id }}
output "oidc"          {{ value = data.aksid_cluster.aks.oidc_issuer_url }}
output "wi"            {{ value = data.aksid_cluster.aks.workload_identity_enabled }}
output "subnets"       {{ value = data.aksid_cluster.aks.subnet_ids }}
"#
    )
}

fn assert_seeded_cluster(out: &serde_json::Value) {
    assert_eq!(out["control_plane"]["value"], "b8f85bd4-6abc-4007-8e05-bc515255b609");
    assert_eq!(out["cp_type"]["value"], "SystemAssigned");
    assert_eq!(out["kubelet"]["value"]["object_id"], "dd045a39-4adf-491f-be2d-1611bf4e408e");
    assert_eq!(out["kubelet"]["value"]["client_id"], "08fa8b37-ccd5-4c15-90f7-752b77eb6450");
    assert_eq!(
        out["node_rg"]["value"],
        format!("/subscriptions/{SPOKE_SUB}/resourceGroups/MC_rg-spoke-aks_aks-spoke_westeurope")
    );
    assert_eq!(out["wi"]["value"], true);
    assert!(out["oidc"]["value"].as_str().unwrap().starts_with("https://westeurope.oic.prod-aks.azure.com/"));
    assert_eq!(out["subnets"]["value"].as_array().unwrap().len(), 2);
}

#[test]
fn reads_cluster_identities_with_client_secret_on_every_terraform() {
    let emu = Emulator::start(&example_seed());
    for tf in terraforms() {
        let ws = Workspace::new(tf, &cluster_config(&emu.provider_block()));
        ws.init();
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        assert_seeded_cluster(&ws.output_json());
        let (code, text) = ws.exit_code(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(code, 0, "{text}");
    }
}

/// An unsigned JWT as a CI system's OIDC provider would issue it (the emulator, like Entra,
/// matches issuer/subject/audience against the federated credential).
fn federated_token(issuer: &str, subject: &str) -> String {
    let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    format!(
        "{}.{}.{}",
        b64(json!({"alg": "RS256", "typ": "JWT"})),
        b64(
            json!({"iss": issuer, "sub": subject, "aud": "api://AzureADTokenExchange", "iat": now, "nbf": now, "exp": now + 3600})
        ),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"signature")
    )
}

#[test]
fn reads_cluster_with_workload_identity_token_file() {
    let emu = Emulator::start(&example_seed());
    for tf in terraforms() {
        let ws = Workspace::new(tf, "");
        let token_path = ws.path().join("oidc-token");
        std::fs::write(
            &token_path,
            federated_token("https://token.actions.githubusercontent.com", "repo:contoso/platform:environment:dev"),
        )
        .unwrap();
        let provider = format!(
            r#"provider "aksid" {{
  tenant_id            = "{}"
  client_id            = "{TF_CLIENT_ID}"
  use_oidc             = true
  oidc_token_file_path = "{}"
  arm_endpoint         = "{}"
  authority_host       = "{}"
  ca_certificate       = "{}"
}}"#,
            emu.ready.tenant_id,
            token_path.display(),
            emu.ready.arm_endpoint,
            emu.ready.authority_host,
            emu.ready.ca_certificate
        );
        ws.write("main.tf", &cluster_config(&provider));
        ws.init();
        ws.ok(&["apply", "-auto-approve", "-no-color"]);
        assert_seeded_cluster(&ws.output_json());
        // The token really came from the assertion flow: a token for another subject is refused.
        std::fs::write(
            &token_path,
            federated_token("https://token.actions.githubusercontent.com", "repo:evil/fork:pull_request"),
        )
        .unwrap();
        let text = squash(&ws.fails(&["plan", "-no-color"]));
        assert!(text.contains("AADSTS70021"), "{text}");
    }
}

#[test]
fn reads_cluster_with_managed_identity_endpoint() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let provider = format!(
        r#"provider "aksid" {{
  use_msi        = true
  arm_endpoint   = "{}"
  authority_host = "{}"
  ca_certificate = "{}"
}}"#,
        emu.ready.arm_endpoint, emu.ready.authority_host, emu.ready.ca_certificate
    );
    let mut ws = Workspace::new(tf, &cluster_config(&provider));
    ws.set_env("IDENTITY_ENDPOINT", &emu.ready.identity_endpoint);
    ws.set_env("IDENTITY_HEADER", &emu.ready.identity_header);
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_seeded_cluster(&ws.output_json());
}

#[test]
fn wrong_secret_fails_plan_naming_the_credential_and_the_aadsts_code() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let provider = emu.provider_block().replace(TF_SECRET, "not-the-secret");
    let ws = Workspace::new(tf, &cluster_config(&provider));
    ws.init();
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    assert!(text.contains("Azure authentication failed"), "{text}");
    assert!(text.contains("client secret"), "{text}");
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(!text.contains("not-the-secret"), "the secret must not be echoed: {text}");
}

#[test]
fn unknown_cluster_is_an_error_on_cluster_id() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let config = cluster_config(&emu.provider_block()).replace("managedClusters/aks-spoke", "managedClusters/nope");
    let ws = Workspace::new(tf, &config);
    ws.init();
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    assert!(text.contains("AKS cluster not found"), "{text}");
    assert!(text.contains("cluster_id = "), "points at cluster_id: {text}");
    assert!(text.contains("ResourceNotFound"), "{text}");
}

#[test]
fn throttled_half_the_time_still_succeeds_and_waits_retry_after() {
    let emu = Emulator::start(&example_seed());
    // Every other GET of the cluster is throttled (and the very first one for certain).
    emu.admin_post(
        "faults",
        json!({"method": "GET", "path_contains": "managedClusters", "status": 429, "count": 1, "retry_after_secs": 1}),
    );
    emu.admin_post(
        "faults",
        json!({"method": "GET", "path_contains": "managedClusters", "status": 429, "rate": 0.5, "retry_after_secs": 1}),
    );
    let tf = &terraforms()[0];
    let ws = Workspace::new(tf, &cluster_config(&emu.provider_block()));
    ws.init();
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_seeded_cluster(&ws.output_json());

    let log = emu.admin_get("requests");
    let calls: Vec<&serde_json::Value> = log
        .as_array()
        .expect("request log is an array")
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"].as_str().unwrap_or("").contains("managedClusters"))
        .collect();
    let throttled = calls.iter().filter(|r| r["status"] == 429).count();
    assert!(throttled >= 1, "faults were injected: {calls:?}");
    // After each 429 the next attempt came no sooner than Retry-After (1 s).
    for pair in calls.windows(2) {
        if pair[0]["status"] == 429 {
            let t0 = time::OffsetDateTime::parse(
                pair[0]["time"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            let t1 = time::OffsetDateTime::parse(
                pair[1]["time"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            let gap = t1 - t0;
            assert!(
                gap >= time::Duration::try_from(Duration::from_millis(1000)).unwrap(),
                "retried after {gap} < Retry-After: {pair:?}"
            );
        }
    }
}

#[test]
fn secrets_and_tokens_never_reach_provider_logs() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let mut ws = Workspace::new(tf, &cluster_config(&emu.provider_block()));
    ws.init();
    let log_path = ws.path().join("trace.log");
    ws.set_env("TF_LOG", "TRACE");
    ws.set_env("TF_LOG_PATH", log_path.to_str().unwrap());
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    let log = std::fs::read_to_string(&log_path).unwrap();
    let ours: Vec<&str> = log.lines().filter(|l| l.contains("provider.terraform-provider-aksid")).collect();
    assert!(ours.iter().any(|l| l.contains("ARM request")), "ARM calls are logged");
    for line in ours {
        assert!(!line.contains(TF_SECRET), "client secret in a provider log line: {line}");
        assert!(!line.contains("Bearer ey") && !line.contains("access_token"), "token in a provider log line: {line}");
    }
}
