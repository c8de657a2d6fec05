//! The Kubernetes client layer (`aksid::kube`) against the emulator's Kubernetes API: a client
//! built from the kubeconfig ARM's listClusterUserCredential returns, object lifecycles,
//! discovery of the AAD Pod Identity CRDs, and the errors a user sees for bad credentials or an
//! API server that cannot be reached; and `Connections`, which picks the provider's
//! `kubernetes` block or ARM's credentials for a cluster and caches the clients.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aksid::azure::arm::ArmClient;
use aksid::azure::credentials::CredentialChain;
use aksid::azure::http::build_client;
use aksid::kube::objects::{self, Meta, ObjectKind};
use aksid::kube::settings::{self, KubeSettings, ResolvedKube};
use aksid::kube::{Connections, KubeClient, KubeError};
use aksid::settings::Settings;
use common::emulator::{example_seed, Emulator, CLUSTER_ID, TF_CLIENT_ID, TF_SECRET};
use serde_json::{json, Value as Json};
use tokio::runtime::Runtime;

/// Generous: the bound only matters when something hangs.
const TIMEOUT: Duration = Duration::from_secs(20);
const ORDERS_RID: &str = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders-api";
const ORDERS_CLIENT: &str = "f57ba24e-fdd9-4be7-8a91-6a17a3d663a7";
const K8S_TOKEN: &str = "emulator-kubernetes-token-aks-spoke";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The emulator, and the cluster user kubeconfig fetched from its ARM endpoint the way
/// `az aks get-credentials` does.
struct Setup {
    emu: Emulator,
    rt: Runtime,
    resolved: ResolvedKube,
}

fn setup() -> Setup {
    let emu = Emulator::start(&example_seed());
    let token =
        emu.admin_post("token", json!({ "client_id": TF_CLIENT_ID }))["access_token"].as_str().unwrap().to_string();
    let rt = runtime();
    let body = rt.block_on(list_cluster_user_credential(&emu, &token));
    let yaml = settings::kubeconfig_from_credential_results(&body, None).unwrap();
    let resolved = rt.block_on(settings::from_kubeconfig_yaml(&yaml, None)).unwrap();
    Setup { emu, rt, resolved }
}

async fn list_cluster_user_credential(emu: &Emulator, token: &str) -> Json {
    let pem = std::fs::read(&emu.ready.ca_certificate).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
        .build()
        .unwrap();
    let url = format!(
        "{}/{}/listClusterUserCredential?api-version=2025-01-01",
        emu.ready.arm_endpoint.trim_end_matches('/'),
        CLUSTER_ID.trim_start_matches('/')
    );
    let resp = http.post(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

impl Setup {
    fn client(&self) -> KubeClient {
        self.rt.block_on(KubeClient::new(self.resolved.clone(), TIMEOUT)).unwrap()
    }

    /// Explicit `kubernetes` block settings for the emulator's API server.
    fn block(&self, token: &str) -> KubeSettings {
        KubeSettings {
            host: Some(self.emu.ready.kubernetes_host.clone()),
            token: Some(token.into()),
            cluster_ca_certificate: Some(std::fs::read_to_string(&self.emu.ready.ca_certificate).unwrap()),
            ..Default::default()
        }
    }

    fn client_from(&self, s: &KubeSettings, timeout: Duration) -> KubeClient {
        let resolved = self.rt.block_on(s.resolve()).unwrap();
        self.rt.block_on(KubeClient::new(resolved, timeout)).unwrap()
    }
}

#[test]
fn arm_kubeconfig_points_at_the_cluster_with_its_token() {
    let s = setup();
    // Each cluster's API is at its own path below the emulator's Kubernetes host.
    assert!(s.resolved.host().starts_with(&format!("{}/", s.emu.ready.kubernetes_host)), "{}", s.resolved.host());
    assert_eq!(s.resolved.source.to_string(), "ARM listClusterUserCredential kubeconfig context aks-spoke (token)");
}

#[test]
fn service_account_get_create_delete() {
    let s = setup();
    let c = s.client();
    let meta = Meta::new("orders-api", "default");
    let sa = objects::to_dynamic(&objects::service_account(
        &meta,
        ORDERS_CLIENT,
        Some("4aca8002-c6b1-4e6a-8956-0d030db855bf"),
    ))
    .unwrap();
    s.rt.block_on(async {
        assert!(c.get(ObjectKind::ServiceAccount, "default", "orders-api").await.unwrap().is_none());
        let created = c.create(&sa).await.unwrap();
        assert!(created.metadata.uid.is_some());
        let read = c.get(ObjectKind::ServiceAccount, "default", "orders-api").await.unwrap().expect("created");
        let annotations = read.metadata.annotations.unwrap();
        assert_eq!(annotations[objects::WORKLOAD_CLIENT_ID_ANNOTATION], ORDERS_CLIENT);
        assert_eq!(read.metadata.labels.unwrap()[objects::MANAGED_BY_LABEL], "terraform-provider-aksid");

        let again = c.create(&sa).await.unwrap_err();
        assert!(matches!(again, KubeError::AlreadyExists { .. }), "{again}");
        assert!(again.to_string().contains("ServiceAccount default/orders-api"), "{again}");

        assert!(c.delete(ObjectKind::ServiceAccount, "default", "orders-api").await.unwrap());
        assert!(c.get(ObjectKind::ServiceAccount, "default", "orders-api").await.unwrap().is_none());
        // Already gone is not an error.
        assert!(!c.delete(ObjectKind::ServiceAccount, "default", "orders-api").await.unwrap());
    });
}

#[test]
fn azure_identity_and_binding_get_create_delete() {
    let s = setup();
    let c = s.client();
    let identity = objects::azure_identity(&Meta::new("orders", "default"), ORDERS_RID, ORDERS_CLIENT);
    let binding = objects::azure_identity_binding(&Meta::new("orders-binding", "default"), "orders", "orders-api");
    s.rt.block_on(async {
        c.create(&identity).await.unwrap();
        c.create(&binding).await.unwrap();
        let read = c.get(ObjectKind::AzureIdentity, "default", "orders").await.unwrap().expect("created");
        // The emulator validates against the CRD schema: the values come back as sent.
        assert_eq!(read.data["spec"], json!({"type": 0, "resourceID": ORDERS_RID, "clientID": ORDERS_CLIENT}));
        let read =
            c.get(ObjectKind::AzureIdentityBinding, "default", "orders-binding").await.unwrap().expect("created");
        assert_eq!(read.data["spec"]["azureIdentity"], "orders");

        assert!(c.delete(ObjectKind::AzureIdentityBinding, "default", "orders-binding").await.unwrap());
        assert!(c.delete(ObjectKind::AzureIdentity, "default", "orders").await.unwrap());
        assert!(c.get(ObjectKind::AzureIdentity, "default", "orders").await.unwrap().is_none());
    });
}

#[test]
fn invalid_objects_get_the_api_servers_message() {
    let s = setup();
    let c = s.client();
    let mut identity = objects::azure_identity(&Meta::new("orders", "default"), ORDERS_RID, ORDERS_CLIENT);
    identity.data["spec"]["type"] = json!("UserAssignedMSI");
    let e = s.rt.block_on(c.create(&identity)).unwrap_err();
    assert!(matches!(e, KubeError::Api { code: 422, .. }), "{e}");
    assert!(e.to_string().contains("spec.type"), "{e}");
}

#[test]
fn pod_identity_crds_are_discovered() {
    let s = setup();
    let c = s.client();
    assert!(s.rt.block_on(c.crds_present()).unwrap());
    s.rt.block_on(c.require_pod_identity_crds()).unwrap();

    // A cluster without AAD Pod Identity answers 404 for the group version.
    s.emu.admin_post(
        "faults",
        json!({"method": "GET", "path_contains": "/apis/aadpodidentity.k8s.io/v1", "status": 404}),
    );
    assert!(!s.rt.block_on(c.crds_present()).unwrap());
    let e = s.rt.block_on(c.require_pod_identity_crds()).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, KubeError::CrdsMissing { .. }), "{text}");
    assert!(text.contains("azureidentities and azureidentitybindings") && text.contains("Helm chart"), "{text}");
    assert!(text.contains(&s.emu.ready.kubernetes_host), "{text}");
}

#[test]
fn explicit_host_token_and_ca_work_and_a_wrong_token_is_named() {
    let s = setup();
    let good = s.client_from(&s.block(K8S_TOKEN), TIMEOUT);
    assert_eq!(good.credentials().to_string(), "kubernetes.token");
    assert!(s.rt.block_on(good.crds_present()).unwrap());

    let bad = s.client_from(&s.block("not-the-token"), TIMEOUT);
    let e = s.rt.block_on(bad.get(ObjectKind::ServiceAccount, "default", "default")).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, KubeError::Unauthorized { .. }), "{text}");
    assert!(text.contains("kubernetes.token") && text.contains(&s.emu.ready.kubernetes_host), "{text}");
}

#[test]
fn exec_credentials_authenticate() {
    let s = setup();
    // A client-go credential plugin printing an ExecCredential with the cluster's token.
    let credential = json!({
        "apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
        "status": {"token": K8S_TOKEN}
    });
    let exec = settings::ExecSettings {
        api_version: "client.authentication.k8s.io/v1beta1".into(),
        command: "sh".into(),
        args: vec!["-c".into(), format!("echo '{credential}'")],
        env: Default::default(),
    };
    let block = KubeSettings { token: None, exec: Some(exec), ..s.block("") };
    let c = s.client_from(&block, TIMEOUT);
    assert_eq!(c.credentials().to_string(), "kubernetes.exec sh");
    let default_sa = s.rt.block_on(c.get(ObjectKind::ServiceAccount, "default", "default")).unwrap();
    assert!(default_sa.is_some());
}

#[test]
fn an_unreachable_api_server_is_an_error_naming_host_and_credentials() {
    let s = setup();
    // A port nobody listens on: the connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = KubeSettings { host: Some(format!("https://127.0.0.1:{port}")), ..s.block(K8S_TOKEN) };
    let c = s.client_from(&settings, TIMEOUT);
    let e = s.rt.block_on(c.get(ObjectKind::ServiceAccount, "default", "default")).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, KubeError::Unreachable { .. }), "{text}");
    assert!(text.contains(&format!("https://127.0.0.1:{port}")) && text.contains("kubernetes.token"), "{text}");
}

#[test]
fn a_silent_api_server_times_out_naming_host_and_credentials() {
    let s = setup();
    // Accepts TCP connections (backlog) but never answers the TLS handshake.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("https://{}", silent.local_addr().unwrap());
    let settings = KubeSettings { host: Some(host.clone()), ..s.block(K8S_TOKEN) };
    let c = s.client_from(&settings, Duration::from_secs(1));
    let e = s.rt.block_on(c.crds_present()).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, KubeError::Timeout { .. }), "{text}");
    assert!(text.contains(&host) && text.contains("kubernetes.token"), "{text}");
    drop(silent);
}

// Server-side apply: PATCH with application/apply-patch+yaml, ?fieldManager=…&force=…, which the
// emulator serves with the API server's ownership and conflict rules.

#[test]
fn apply_sends_a_server_side_apply_patch_as_aksid() {
    let s = setup();
    let c = s.client();
    let identity = objects::azure_identity(&Meta::new("orders", "default"), ORDERS_RID, ORDERS_CLIENT);
    s.emu.admin_delete("requests");
    for force in [false, true] {
        // The request is what is checked here.
        let _ = s.rt.block_on(c.apply(&identity, force));
    }
    let log = s.emu.admin_get("requests");
    let patches: Vec<&Json> = log.as_array().unwrap().iter().filter(|r| r["method"] == "PATCH").collect();
    assert_eq!(patches.len(), 2, "{log}");
    for (entry, force) in patches.iter().zip(["false", "true"]) {
        let path = entry["path"].as_str().unwrap_or_default();
        assert!(path.ends_with("/apis/aadpodidentity.k8s.io/v1/namespaces/default/azureidentities/orders"), "{path}");
        let query = entry["query"].as_str().unwrap_or_default();
        assert!(query.contains("fieldManager=terraform-provider-aksid"), "{query}");
        assert_eq!(query.contains("force=true"), force == "true", "{query}");
    }
}

#[test]
fn apply_creates_then_updates_as_field_manager_aksid() {
    let s = setup();
    let c = s.client();
    let meta = Meta::new("orders", "default");
    s.rt.block_on(async {
        let created = c.apply(&objects::azure_identity(&meta, ORDERS_RID, ORDERS_CLIENT), false).await.unwrap();
        assert_eq!(created.data["spec"]["clientID"], ORDERS_CLIENT);
        let managers: Vec<String> =
            created.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
        assert!(managers.iter().any(|m| m == "terraform-provider-aksid"), "{managers:?}");

        let updated = c.apply(&objects::azure_identity(&meta, ORDERS_RID, "0000-new-client"), false).await.unwrap();
        assert_eq!(updated.data["spec"]["clientID"], "0000-new-client");
        let read = c.get(ObjectKind::AzureIdentity, "default", "orders").await.unwrap().unwrap();
        assert_eq!(read.data["spec"]["clientID"], "0000-new-client");
    });
}

#[test]
fn apply_conflict_names_the_other_manager_unless_forced() {
    let s = setup();
    let c = s.client();
    let meta = Meta::new("orders", "default");
    // Another tool applies the same object first and so owns spec.clientID.
    // kube's client spawns its buffer task: it needs the runtime's context.
    let _runtime = s.rt.enter();
    let other = kube::Client::try_from(s.resolved.config.clone()).unwrap();
    let api: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(other, "default", &ObjectKind::AzureIdentity.api_resource());
    let theirs = objects::azure_identity(&meta, ORDERS_RID, "1111-their-client");
    s.rt.block_on(async {
        api.patch("orders", &kube::api::PatchParams::apply("other-tool"), &kube::api::Patch::Apply(&theirs))
            .await
            .unwrap();
        let ours = objects::azure_identity(&meta, ORDERS_RID, ORDERS_CLIENT);
        let e = c.apply(&ours, false).await.unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, KubeError::ApplyConflict { .. }), "{text}");
        assert!(text.contains("\"other-tool\"") && text.contains(".spec.clientID"), "{text}");

        let forced = c.apply(&ours, true).await.unwrap();
        assert_eq!(forced.data["spec"]["clientID"], ORDERS_CLIENT);
    });
}

// `Connections`: the provider's kubernetes block, or ARM's listClusterUserCredential per cluster.

/// An ARM client as Configure builds it, signed in as the emulator's Terraform principal.
fn arm_client(emu: &Emulator, arm_endpoint: &str) -> ArmClient {
    let settings = Settings {
        tenant_id: Some(emu.ready.tenant_id.clone()),
        client_id: Some(TF_CLIENT_ID.into()),
        client_secret: Some(TF_SECRET.into()),
        authority_host: emu.ready.authority_host.clone(),
        arm_endpoint: arm_endpoint.into(),
        ca_certificate: Some(emu.ready.ca_certificate.clone()),
        environment: "public".into(),
        ..Default::default()
    };
    let http = build_client(settings.ca_certificate.as_deref()).unwrap();
    let chain = Arc::new(CredentialChain::new(&settings, http.clone()));
    ArmClient::new(http, arm_endpoint, chain, "public").with_ca_certificate(settings.ca_certificate.as_deref())
}

/// How many listClusterUserCredential calls the emulator has seen since its log was cleared.
fn credential_calls(emu: &Emulator) -> usize {
    let log = emu.admin_get("requests");
    log.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or_default().contains("listClusterUserCredential"))
        .count()
}

#[test]
fn without_a_block_the_cluster_is_reached_with_arm_credentials_once() {
    let s = setup();
    let arm = arm_client(&s.emu, &s.emu.ready.arm_endpoint);
    let connections = Connections::default();
    let none = KubeSettings::default();
    s.emu.admin_delete("requests");
    let c = s.rt.block_on(connections.client(&arm, &none, Some(CLUSTER_ID), TIMEOUT)).unwrap();
    assert_eq!(c.credentials().to_string(), "ARM listClusterUserCredential kubeconfig context aks-spoke (token)");
    assert!(s.rt.block_on(c.crds_present()).unwrap());
    assert_eq!(credential_calls(&s.emu), 1);

    // The same cluster in another spelling: the cached client.
    let again = s.rt.block_on(connections.client(&arm, &none, Some(&CLUSTER_ID.to_uppercase()), TIMEOUT)).unwrap();
    assert!(Arc::ptr_eq(&c, &again));
    // Another timeout needs another client, but not another ARM call.
    let short = s.rt.block_on(connections.client(&arm, &none, Some(CLUSTER_ID), Duration::from_secs(3))).unwrap();
    assert!(!Arc::ptr_eq(&c, &short));
    assert!(s.rt.block_on(short.crds_present()).unwrap());
    assert_eq!(credential_calls(&s.emu), 1);
}

#[test]
fn the_kubernetes_block_wins_over_the_cluster_id() {
    let s = setup();
    let arm = arm_client(&s.emu, &s.emu.ready.arm_endpoint);
    let connections = Connections::default();
    let block = s.block(K8S_TOKEN);
    s.emu.admin_delete("requests");
    let c = s.rt.block_on(connections.client(&arm, &block, Some(CLUSTER_ID), TIMEOUT)).unwrap();
    assert_eq!(c.credentials().to_string(), "kubernetes.token");
    assert_eq!(c.host().trim_end_matches('/'), s.emu.ready.kubernetes_host.trim_end_matches('/'));
    assert!(s.rt.block_on(c.crds_present()).unwrap());
    // One client for every cluster, and ARM is never asked.
    let other = s.rt.block_on(connections.client(&arm, &block, Some("/subscriptions/x/other"), TIMEOUT)).unwrap();
    assert!(Arc::ptr_eq(&c, &other));
    assert_eq!(credential_calls(&s.emu), 0);
}

#[test]
fn neither_block_nor_cluster_id_says_what_to_set() {
    let s = setup();
    let arm = arm_client(&s.emu, &s.emu.ready.arm_endpoint);
    let connections = Connections::default();
    for cluster in [None, Some(""), Some("  ")] {
        let e = s.rt.block_on(connections.client(&arm, &KubeSettings::default(), cluster, TIMEOUT)).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, KubeError::Settings(settings::SettingsError::NotConfigured)), "{text}");
        assert!(
            text.contains("set the provider's kubernetes block") && text.contains("the resource's cluster_id"),
            "{text}"
        );
    }
}

#[test]
fn an_unreachable_block_host_fails_naming_host_and_credentials() {
    let s = setup();
    let arm = arm_client(&s.emu, &s.emu.ready.arm_endpoint);
    let connections = Connections::default();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let host = format!("https://127.0.0.1:{port}");
    let block = KubeSettings { host: Some(host.clone()), ..s.block(K8S_TOKEN) };
    let timeout = Duration::from_secs(2);
    let e = s.rt.block_on(async {
        let c = connections.client(&arm, &block, Some(CLUSTER_ID), timeout).await?;
        c.crds_present().await
    });
    let e = e.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, KubeError::Unreachable { .. } | KubeError::Timeout { .. }), "{text}");
    assert!(text.contains(&host) && text.contains("kubernetes.token"), "{text}");
}

#[test]
fn arm_refusing_the_credentials_names_the_cluster_and_the_permission() {
    let s = setup();
    let arm = arm_client(&s.emu, &s.emu.ready.arm_endpoint);
    s.emu.admin_post(
        "faults",
        json!({"method": "POST", "path_contains": "listClusterUserCredential", "status": 403, "code": "AuthorizationFailed"}),
    );
    let connections = Connections::default();
    let e = s.rt.block_on(connections.client(&arm, &KubeSettings::default(), Some(CLUSTER_ID), TIMEOUT)).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, KubeError::ClusterCredentials { .. }), "{text}");
    for want in
        [CLUSTER_ID, "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action", "kubernetes block"]
    {
        assert!(text.contains(want), "{want} in {text}");
    }
}

#[test]
fn an_unreachable_arm_endpoint_fails_within_the_timeout_naming_the_cluster() {
    let s = setup();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let arm = arm_client(&s.emu, &format!("https://127.0.0.1:{port}"));
    let connections = Connections::default();
    let timeout = Duration::from_secs(1);
    let e = s.rt.block_on(connections.client(&arm, &KubeSettings::default(), Some(CLUSTER_ID), timeout)).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, KubeError::ClusterCredentials { .. }), "{text}");
    assert!(text.contains(CLUSTER_ID) && text.contains(&format!("127.0.0.1:{port}")), "{text}");
}
