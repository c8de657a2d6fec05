//! Endpoint and trust failures end to end with real Terraform: a CA that did not sign the
//! endpoint's certificate is reported at Configure on the provider block, an endpoint nobody
//! listens on fails within seconds naming it, and an ARM outage that ends lets the apply
//! finish. Time bounds here are generous (30 s against the ~80 s the defect took); the measured
//! timings are printed, not asserted.

mod common;

use std::time::{Duration, Instant};

use common::emulator::*;
use common::*;
use serde_json::json;

/// Generous: the defect took about 82 s; the fixed paths take a few seconds plus Terraform.
const BOUND: Duration = Duration::from_secs(30);

const SUBNET: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-nodes";
const CP: &str = "b8f85bd4-6abc-4007-8e05-bc515255b609";

fn provider(emu: &Emulator, arm: &str, authority: &str, ca: Option<&str>) -> String {
    let ca_line = ca.map(|p| format!("ca_certificate  = \"{p}\"")).unwrap_or_default();
    format!(
        r#"provider "aksid" {{
  subscription_id = "{SPOKE_SUB}"
  tenant_id       = "{}"
  client_id       = "{TF_CLIENT_ID}"
  client_secret   = "{TF_SECRET}"
  arm_endpoint    = "{arm}"
  authority_host  = "{authority}"
  {ca_line}
}}
"#,
        emu.ready.tenant_id
    )
}

fn cluster_config(provider: &str) -> String {
    format!(
        r#"{REQUIRED_AKSID}
{provider}
data "aksid_cluster" "aks" {{
  cluster_id = "{CLUSTER_ID}"
}}
"#
    )
}

/// `https://127.0.0.1:<port>/` where nothing listens (the port was free a moment ago).
fn closed_endpoint() -> (String, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    (format!("https://127.0.0.1:{port}/"), format!("https://127.0.0.1:{port}"))
}

/// `https://127.0.0.1:<port>` of the emulator.
fn origin(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

/// A CA certificate of our own, which did not sign the emulator's certificate.
fn foreign_ca(dir: &std::path::Path) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, "Some other CA");
    let ca = params.self_signed(&key).unwrap();
    let path = dir.join("other-ca.pem");
    std::fs::write(&path, ca.pem()).unwrap();
    path.display().to_string()
}

fn requests(emu: &Emulator) -> Vec<serde_json::Value> {
    emu.admin_get("requests").as_array().cloned().unwrap_or_default()
}

#[test]
fn a_ca_that_did_not_sign_the_endpoint_fails_plan_at_configure() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let dir = tempfile::tempdir().unwrap();
    let ca = foreign_ca(dir.path());
    let p = provider(&emu, &emu.ready.arm_endpoint, &emu.ready.authority_host, Some(&ca));
    let ws = Workspace::new(tf, &cluster_config(&p));
    ws.init();

    let started = Instant::now();
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    let took = started.elapsed();
    eprintln!("plan with a foreign ca_certificate failed after {took:?}:\n{text}");

    let endpoint = origin(&emu.ready.arm_endpoint);
    assert!(text.contains("not issued by a trusted CA"), "{text}");
    assert!(text.contains(&format!("{endpoint} (arm_endpoint and authority_host)")), "names the endpoint: {text}");
    assert!(text.contains(&format!("the system roots + ca_certificate \"{ca}\"")), "names the CA: {text}");
    // On the provider block, at the attribute to fix; not on the data source.
    assert!(text.contains(r#"in provider "aksid""#), "{text}");
    assert!(text.contains(&format!("ca_certificate = \"{ca}\"")), "points at ca_certificate: {text}");
    assert!(!text.contains("data.aksid_cluster"), "{text}");
    // Nothing got past TLS, and nothing was retried for minutes.
    assert!(requests(&emu).is_empty(), "no request reached the emulator: {:?}", requests(&emu));
    assert!(took < BOUND, "took {took:?}: {text}");
}

#[test]
fn without_ca_certificate_the_error_names_the_system_roots_and_the_endpoint_attribute() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let p = provider(&emu, &emu.ready.arm_endpoint, &emu.ready.authority_host, None);
    let ws = Workspace::new(tf, &cluster_config(&p));
    ws.init();

    let started = Instant::now();
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    let took = started.elapsed();
    eprintln!("plan trusting only the system roots failed after {took:?}:\n{text}");

    assert!(text.contains("Trusted CAs: the system roots."), "{text}");
    assert!(text.contains("set ca_certificate"), "says what to check: {text}");
    assert!(text.contains(r#"in provider "aksid""#), "{text}");
    assert!(text.contains(&format!("arm_endpoint = \"{}\"", emu.ready.arm_endpoint)), "points at arm_endpoint: {text}");
    assert!(took < BOUND, "took {took:?}: {text}");
}

#[test]
fn arm_endpoint_on_a_closed_port_fails_within_seconds_naming_it() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let (closed, closed_origin) = closed_endpoint();
    let p = provider(&emu, &closed, &emu.ready.authority_host, Some(&emu.ready.ca_certificate));
    let ws = Workspace::new(tf, &cluster_config(&p));
    ws.init();

    let started = Instant::now();
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    let took = started.elapsed();
    eprintln!("plan against a closed arm_endpoint failed after {took:?}:\n{text}");

    // Not a Configure error (the endpoint may come up later): the data source fails.
    assert!(text.contains("Provider configuration: cannot connect to arm_endpoint"), "{text}");
    assert!(text.contains(&format!("{closed_origin} (arm_endpoint): connection refused")), "{text}");
    assert!(text.contains("retried for"), "{text}");
    // About the provider, so not pinned on the data source's cluster_id.
    assert!(!text.contains("cluster_id = "), "{text}");
    assert!(took < BOUND, "took {took:?}: {text}");
}

#[test]
fn authority_host_on_a_closed_port_fails_within_seconds_naming_it() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let (closed, closed_origin) = closed_endpoint();
    let p = provider(&emu, &emu.ready.arm_endpoint, &closed, Some(&emu.ready.ca_certificate));
    let ws = Workspace::new(tf, &cluster_config(&p));
    ws.init();

    let started = Instant::now();
    let text = squash(&ws.fails(&["plan", "-no-color"]));
    let took = started.elapsed();
    eprintln!("plan against a closed authority_host failed after {took:?}:\n{text}");

    assert!(text.contains("Provider configuration: cannot connect to authority_host"), "{text}");
    assert!(text.contains(&format!("{closed_origin} (authority_host): connection refused")), "{text}");
    assert!(text.contains("client secret"), "names the credential tried: {text}");
    assert!(!text.contains("cluster_id = "), "{text}");
    // Without a token no authenticated ARM request was sent (only Configure's probe came).
    let log = requests(&emu);
    assert!(log.iter().all(|r| r["caller_oid"].is_null()), "{log:?}");
    assert!(took < BOUND, "took {took:?}: {text}");
}

fn parse_time(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

#[test]
fn an_arm_outage_that_ends_lets_the_apply_finish() {
    let emu = Emulator::start(&example_seed());
    let tf = &terraforms()[0];
    let config = format!(
        r#"{REQUIRED_AKSID}
{}
resource "aksid_role_assignment" "ra" {{
  scope        = "{SUBNET}"
  role         = "Network Contributor"
  principal_id = "{CP}"
}}
"#,
        emu.provider_block()
    );
    let ws = Workspace::new(tf, &config);
    ws.init();
    // ARM is down for role assignment writes (503 without Retry-After: our own backoff).
    emu.admin_post("faults", json!({"method": "PUT", "path_contains": "roleAssignments", "status": 503}));

    let (out, ended_at, finished_after) = std::thread::scope(|s| {
        let apply = s.spawn(|| {
            let out = ws.run(&["apply", "-auto-approve", "-no-color"]);
            (out, Instant::now())
        });
        // The outage lasts until the provider has retried a few times.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let faults = emu.admin_get("faults");
            let injected = faults["value"][0]["injected"].as_u64().unwrap_or(0);
            if injected >= 4 || apply.is_finished() || Instant::now() > deadline {
                break;
            }
            // Poll interval of a bounded wait, not a synchronising sleep.
            std::thread::sleep(Duration::from_millis(100));
        }
        emu.admin_delete("faults");
        let ended = Instant::now();
        let ended_at = time::OffsetDateTime::now_utc();
        let (out, done) = apply.join().unwrap();
        (out, ended_at, done.saturating_duration_since(ended))
    });
    let text = describe(&out);
    assert!(out.status.success(), "the apply completes once the outage ends:\n{text}");

    let puts: Vec<serde_json::Value> = requests(&emu)
        .into_iter()
        .filter(|r| r["method"] == "PUT" && r["path"].as_str().unwrap_or("").contains("roleAssignments"))
        .collect();
    let injected = puts.iter().filter(|r| r["status"] == 503).count();
    assert!(injected >= 4, "the outage was seen and retried: {puts:?}");
    assert!(puts.iter().any(|r| r["status"] == 201), "{puts:?}");
    let first_ok = puts.iter().find(|r| r["status"] == 201).map(|r| parse_time(r["time"].as_str().unwrap()));
    let idle = first_ok.map_or("?".to_string(), |t| format!("{:.2}s", (t - ended_at).as_seconds_f64()));
    eprintln!(
        "outage of {injected} failed PUTs; after it ended: first successful PUT {idle} later, apply finished {:.2}s later",
        finished_after.as_secs_f64()
    );
}
