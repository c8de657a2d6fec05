//! `aksid::azure::identities` and `aksid::azure::clusters_api` against the emulator's ARM:
//! identity and federated credential lifecycles, serialised credential writes under one
//! identity, the per-identity credential limit, the concurrency 409 from another writer,
//! `nextLink` paging, and the cluster user kubeconfig.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aksid::azure::arm::ArmClient;
use aksid::azure::credentials::CredentialChain;
use aksid::azure::{clusters_api, http, identities};
use aksid::domain::is_guid;
use aksid::settings::Settings;
use base64::Engine as _;
use common::emulator::{example_seed, Emulator, CLUSTER_ID, SPOKE_SUB, TF_CLIENT_ID, TF_SECRET};
use serde_json::{json, Value as Json};
use tokio::runtime::Runtime;

/// Generous: the bound only matters when something hangs.
const TIMEOUT: Duration = Duration::from_secs(30);
const AUDIENCE: &str = "api://AzureADTokenExchange";

fn identity_id(name: &str) -> String {
    format!(
        "/subscriptions/{SPOKE_SUB}/resourceGroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )
}

fn deadline() -> Instant {
    Instant::now() + TIMEOUT
}

fn audiences() -> Vec<String> {
    vec![AUDIENCE.to_string()]
}

/// The emulator, a runtime, and an ARM client signed in as the seed's Terraform principal
/// (Owner of the spoke subscription).
struct Setup {
    emu: Emulator,
    rt: Runtime,
    arm: Arc<ArmClient>,
}

fn setup() -> Setup {
    let emu = Emulator::start(&example_seed());
    let settings = Settings {
        tenant_id: Some(emu.ready.tenant_id.clone()),
        client_id: Some(TF_CLIENT_ID.into()),
        client_secret: Some(TF_SECRET.into()),
        environment: "public".into(),
        arm_endpoint: emu.ready.arm_endpoint.clone(),
        authority_host: emu.ready.authority_host.clone(),
        ca_certificate: Some(emu.ready.ca_certificate.clone()),
        ..Settings::default()
    };
    let client = http::build_client(settings.ca_certificate.as_deref()).unwrap();
    let chain = Arc::new(CredentialChain::new(&settings, client.clone()));
    let arm = ArmClient::new(client, &settings.arm_endpoint, chain, &settings.environment)
        .with_ca_certificate(settings.ca_certificate.as_deref());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    Setup { emu, rt, arm: Arc::new(arm) }
}

impl Setup {
    /// `PUT /_admin/settings` (a merge patch of the emulator's tunables).
    fn emulator_settings(&self, patch: Json) {
        let pem = std::fs::read(&self.emu.ready.ca_certificate).unwrap();
        let url = format!("{}/settings", self.emu.ready.admin.trim_end_matches('/'));
        self.rt.block_on(async {
            let http = reqwest::Client::builder()
                .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
                .build()
                .unwrap();
            let r = http.put(url).json(&patch).send().await.unwrap();
            assert!(r.status().is_success(), "admin PUT settings: {}", r.status());
        });
    }

    /// Requests the emulator logged with `method` whose path contains `part`.
    fn logged(&self, method: &str, part: &str) -> Vec<Json> {
        let log = self.emu.admin_get("requests");
        log.as_array()
            .expect("request log is an array")
            .iter()
            .filter(|r| r["method"] == method && r["path"].as_str().unwrap_or("").contains(part))
            .cloned()
            .collect()
    }

    fn new_identity(&self, name: &str) -> String {
        let id = identity_id(name);
        self.rt.block_on(identities::put_identity(&self.arm, &id, "westeurope", &BTreeMap::new(), deadline())).unwrap();
        id
    }
}

#[test]
fn identity_and_credential_lifecycle() {
    let s = setup();
    let arm = &s.arm;
    let id = identity_id("id-lifecycle");
    s.rt.block_on(async {
        assert_eq!(identities::get_identity(arm, &id, deadline()).await.unwrap(), None);
        let tags = BTreeMap::from([("team".to_string(), "orders".to_string())]);
        let created = identities::put_identity(arm, &id, "westeurope", &tags, deadline()).await.unwrap();
        let read = identities::get_identity(arm, &id, deadline()).await.unwrap().expect("created identity is found");
        assert_eq!(read, created);
        assert_eq!(read.name, "id-lifecycle");
        assert_eq!(read.location, "westeurope");
        assert_eq!(read.tags, tags);
        for guid in [&read.client_id, &read.principal_id, &read.tenant_id] {
            assert!(is_guid(guid), "{guid:?} is a GUID: {read:?}");
        }

        // Issuers are stored byte for byte: a trailing slash is a different issuer.
        let issuers =
            ["https://oidc.example/tenant/issuer/", "https://oidc.example/tenant/issuer", "https://Other.example/x"];
        for (n, issuer) in issuers.iter().enumerate() {
            let name = format!("fic-{n}");
            let subject = format!("system:serviceaccount:ns:sa-{n}");
            let f =
                identities::put_credential(arm, &id, &name, issuer, &subject, &audiences(), deadline()).await.unwrap();
            assert_eq!(
                (f.name.as_str(), f.issuer.as_str(), f.subject.as_str()),
                (name.as_str(), *issuer, subject.as_str())
            );
            assert_eq!(f.audiences, audiences());
        }
        let mut listed = identities::list_credentials(arm, &id, deadline()).await.unwrap();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(listed.iter().map(|f| f.issuer.as_str()).collect::<Vec<_>>(), issuers);

        let got = identities::get_credential(arm, &id, "fic-0", deadline()).await.unwrap().expect("fic-0 exists");
        assert_eq!(got, listed[0]);
        assert_eq!(identities::get_credential(arm, &id, "fic-nope", deadline()).await.unwrap(), None);

        assert!(identities::delete_credential(arm, &id, "fic-1", deadline()).await.unwrap());
        assert!(!identities::delete_credential(arm, &id, "fic-1", deadline()).await.unwrap(), "already gone");
        assert_eq!(identities::get_credential(arm, &id, "fic-1", deadline()).await.unwrap(), None);
        assert_eq!(identities::list_credentials(arm, &id, deadline()).await.unwrap().len(), 2);

        assert!(identities::delete_identity(arm, &id, deadline()).await.unwrap());
        assert!(!identities::delete_identity(arm, &id, deadline()).await.unwrap(), "already gone");
        assert_eq!(identities::get_identity(arm, &id, deadline()).await.unwrap(), None);
    });
}

/// 15 writes at once under one identity all succeed without Azure ever seeing two of them
/// overlap (the emulator answers 409 to overlapping writes, which would show in its log even
/// if a retry later succeeded); the 21st credential hits the per-identity limit.
#[test]
fn concurrent_credential_writes_are_serialised_and_the_limit_is_reported() {
    let s = setup();
    // Each write takes long enough in the emulator that unserialised writes would overlap.
    s.emulator_settings(json!({"fic_write_latency_ms": 50}));
    let id = s.new_identity("id-concurrent");
    let other = s.new_identity("id-concurrent-other");
    let results = s.rt.block_on(async {
        let writes = (0..15).map(|n| {
            let (arm, id) = (s.arm.clone(), id.clone());
            tokio::spawn(async move {
                let subject = format!("system:serviceaccount:ns:sa-{n}");
                identities::put_credential(
                    &arm,
                    &id,
                    &format!("fic-{n}"),
                    "https://oidc.example/i",
                    &subject,
                    &audiences(),
                    deadline(),
                )
                .await
            })
        });
        // A write under another identity at the same time goes through too.
        let aud = audiences();
        let unrelated =
            identities::put_credential(&s.arm, &other, "fic-x", "https://oidc.example/i", "sub", &aud, deadline());
        let (all, unrelated) = tokio::join!(futures_util::future::join_all(writes), unrelated);
        assert_eq!(unrelated.unwrap().name, "fic-x");
        all.into_iter().map(|r| r.unwrap().map(|f| f.name).map_err(|e| e.to_string())).collect::<Vec<_>>()
    });
    let expected: Vec<Result<String, String>> = (0..15).map(|n| Ok(format!("fic-{n}"))).collect();
    assert_eq!(results, expected);
    let statuses: Vec<u64> =
        s.logged("PUT", "/federatedIdentityCredentials/").iter().filter_map(|r| r["status"].as_u64()).collect();
    assert!(!statuses.contains(&409), "overlapping writes reached ARM: {statuses:?}");
    assert_eq!(statuses, [201; 16]);

    s.emulator_settings(json!({"fic_write_latency_ms": 0}));
    s.rt.block_on(async {
        for n in 15..20 {
            let subject = format!("system:serviceaccount:ns:sa-{n}");
            identities::put_credential(
                &s.arm,
                &id,
                &format!("fic-{n}"),
                "https://oidc.example/i",
                &subject,
                &audiences(),
                deadline(),
            )
            .await
            .unwrap();
        }
        assert_eq!(identities::list_credentials(&s.arm, &id, deadline()).await.unwrap().len(), 20);
        let err = identities::put_credential(
            &s.arm,
            &id,
            "fic-20",
            "https://oidc.example/i",
            "sub-20",
            &audiences(),
            deadline(),
        )
        .await
        .unwrap_err();
        assert_eq!((err.status(), err.code()), (Some(400), Some("BadRequest")), "{err}");
        assert!(err.to_string().contains("maximum number of federated identity credentials"), "{err}");
    });
}

/// Another process writing under the same identity: its 409 is retried until the write goes
/// through.
#[test]
fn concurrency_conflict_from_elsewhere_is_retried() {
    let s = setup();
    let id = s.new_identity("id-conflict");
    s.emu.admin_post(
        "faults",
        json!({"method": "PUT", "path_contains": "/federatedIdentityCredentials/", "status": 409,
               "code": identities::CONCURRENT_WRITES, "count": 2}),
    );
    s.emu.admin_post(
        "faults",
        json!({"method": "DELETE", "path_contains": "/federatedIdentityCredentials/", "status": 409,
               "code": identities::CONCURRENT_WRITES, "count": 1}),
    );
    s.rt.block_on(async {
        let f =
            identities::put_credential(&s.arm, &id, "fic-a", "https://oidc.example/i", "sub", &audiences(), deadline())
                .await
                .unwrap();
        assert_eq!(f.name, "fic-a");
        assert!(identities::delete_credential(&s.arm, &id, "fic-a", deadline()).await.unwrap());
    });
    let statuses =
        |m: &str| s.logged(m, "/federatedIdentityCredentials/").iter().map(|r| r["status"].clone()).collect::<Vec<_>>();
    assert_eq!(statuses("PUT"), [json!(409), json!(409), json!(201)]);
    assert_eq!(statuses("DELETE"), [json!(409), json!(200)]);
}

/// Other 409s are not retried.
#[test]
fn other_conflicts_are_not_retried() {
    let s = setup();
    let id = s.new_identity("id-other-conflict");
    s.emu.admin_post(
        "faults",
        json!({"method": "PUT", "path_contains": "/federatedIdentityCredentials/", "status": 409, "code": "Conflict", "count": 1}),
    );
    let err =
        s.rt.block_on(identities::put_credential(
            &s.arm,
            &id,
            "fic-a",
            "https://oidc.example/i",
            "sub",
            &audiences(),
            deadline(),
        ))
        .unwrap_err();
    assert_eq!(err.code(), Some("Conflict"), "{err}");
    assert_eq!(s.logged("PUT", "/federatedIdentityCredentials/").len(), 1);
}

#[test]
fn list_follows_next_links() {
    let s = setup();
    let id = s.new_identity("id-paged");
    s.rt.block_on(async {
        for n in 0..3 {
            let subject = format!("sub-{n}");
            identities::put_credential(
                &s.arm,
                &id,
                &format!("fic-{n}"),
                "https://oidc.example/i",
                &subject,
                &audiences(),
                deadline(),
            )
            .await
            .unwrap();
        }
    });
    // The first page is empty and links to one-item pages of the rest.
    let next = format!(
        "{}{id}/federatedIdentityCredentials?api-version={}&$top=1&$skiptoken=0",
        s.emu.ready.arm_endpoint.trim_end_matches('/'),
        identities::API_VERSION
    );
    s.emu.admin_post(
        "faults",
        json!({"method": "GET", "path_contains": "/federatedIdentityCredentials?", "status": 200,
               "body": {"value": [], "nextLink": next}, "count": 1}),
    );
    let listed = s.rt.block_on(identities::list_credentials(&s.arm, &id, deadline())).unwrap();
    let mut names: Vec<&str> = listed.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["fic-0", "fic-1", "fic-2"]);
    assert_eq!(s.logged("GET", "/federatedIdentityCredentials").len(), 4, "one empty page and three of one item");
}

#[test]
fn cluster_user_kubeconfig() {
    let s = setup();
    let body = s.rt.block_on(clusters_api::list_user_credential_kubeconfig(&s.arm, CLUSTER_ID, deadline())).unwrap();
    let value = body["kubeconfigs"][0]["value"].as_str().expect("kubeconfigs[0].value");
    let yaml = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(value).unwrap()).unwrap();
    assert!(yaml.contains("clusters:") && yaml.contains("server:"), "{yaml}");

    let missing = CLUSTER_ID.replace("managedClusters/aks-spoke", "managedClusters/nope");
    let err = s.rt.block_on(clusters_api::list_user_credential_kubeconfig(&s.arm, &missing, deadline())).unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
}
