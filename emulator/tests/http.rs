//! End-to-end behaviour over real TLS: tokens, ARM rules, faults, the request log,
//! concurrency, paging, persistence and the Kubernetes subset.

mod common;

use std::time::Duration;

use aksid_emulator::app::lock;
use base64::Engine;
use common::{start_with, Emu};
use serde_json::{json, Value};

const TENANT: &str = "4aca8002-c6b1-4e6a-8956-0d030db855bf";
const HUB: &str = "ad089f8f-9110-4b0c-9b4b-410b023815eb";
const SPOKE: &str = "9c195f54-5580-4cd2-9e24-3114522757f4";
const TF_APP: &str = "3b390046-4482-48ab-9d61-c1358b55d2bb";
const TF_OID: &str = "a9c04c4f-34a0-46c8-8b64-1e567add78cd";
const TF_SECRET: &str = "emulator-terraform-secret";
const KUBELET_OID: &str = "dd045a39-4adf-491f-be2d-1611bf4e408e";
const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const K8S_TOKEN: &str = "emulator-kubernetes-token-aks-spoke";
const GROUP_OID: &str = "a415012c-a49e-4e6c-9677-ec9ba59c1131";
const USER_OID: &str = "ec279bd3-97ca-4f76-8cfb-3a3489755f1a";

fn example_seed() -> Value {
    serde_json::from_str(include_str!("../examples/seed.json")).unwrap()
}

fn cluster_path() -> String {
    format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.ContainerService/managedClusters/aks-spoke?api-version=2025-01-01")
}

fn acr() -> String {
    format!("/subscriptions/{HUB}/resourceGroups/rg-hub-shared/providers/Microsoft.ContainerRegistry/registries/acrhubshared")
}

fn ra_path(scope: &str, name: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01")
}

fn ra_body(role: &str, principal: &str) -> Value {
    json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{HUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
        "principalId": principal,
        "principalType": "ServicePrincipal",
    }})
}

/// Poll `cond` until it holds, for at most 10 s: a bounded wait on an event, not a fixed sleep.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn emu() -> (Emu, String) {
    let e = start_with(example_seed(), None).await;
    let t = e.token(TENANT, TF_APP, TF_SECRET).await;
    (e, t)
}

#[tokio::test]
async fn tls_client_trusting_the_ca_gets_a_token_and_reads_the_cluster() {
    let (e, token) = emu().await;
    let info = &e.server.info;
    assert!(info.arm_endpoint.starts_with("https://127.0.0.1:") && info.arm_endpoint.ends_with('/'));
    assert_eq!(info.kubernetes_host, format!("{}k8s", info.arm_endpoint));
    assert_eq!(info.tenant_id, TENANT);
    assert!(std::path::Path::new(&info.ca_certificate).exists());

    let (status, c) = e.call("GET", &cluster_path(), Some(&token), None).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["type"], "Microsoft.ContainerService/ManagedClusters");
    assert!(c["id"].as_str().unwrap().contains("/resourcegroups/rg-spoke-aks/"));
    assert_eq!(c["identity"]["type"], "SystemAssigned");
    assert_eq!(c["properties"]["identityProfile"]["kubeletidentity"]["objectId"], KUBELET_OID);
    assert!(c["properties"]["identityProfile"]["kubeletidentity"]["resourceId"]
        .as_str()
        .unwrap()
        .contains("/resourcegroups/MC_rg-spoke-aks_aks-spoke_westeurope/"));
    assert_eq!(c["properties"]["oidcIssuerProfile"]["enabled"], true);
    assert_eq!(c["properties"]["securityProfile"]["workloadIdentity"]["enabled"], true);
    assert!(c["properties"]["agentPoolProfiles"][0]["vnetSubnetID"].as_str().unwrap().ends_with("/subnets/snet-nodes"));
    assert!(c["properties"]["apiServerAccessProfile"]["privateDNSZone"].as_str().unwrap().contains("privateDnsZones"));

    // A client that does not trust the emulator CA cannot connect.
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let untrusting = reqwest::Client::builder().use_preconfigured_tls(cfg).build().unwrap();
    assert!(untrusting.get(e.url("/k8s/version")).send().await.is_err());

    // Both HTTP/2 (ALPN) and HTTP/1.1 work.
    let resp = e.client.get(e.url(&cluster_path())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    e.server.shutdown().await;
}

#[tokio::test]
async fn arm_front_door_errors_and_headers() {
    let (e, token) = emu().await;
    let (s, b) = e.call("GET", &cluster_path(), None, None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (401, Some("AuthenticationFailed")));
    let (s, b) = e.call("GET", &cluster_path(), Some("abc.def.ghi"), None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str(), b["error"]["message"].as_str()),
        (401, Some("InvalidAuthenticationToken"), Some("The access token is invalid."))
    );
    let no_version = cluster_path().replace("?api-version=2025-01-01", "");
    let (s, b) = e.call("GET", &no_version, Some(&token), None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("MissingApiVersionParameter")));
    let (s, b) = e.call("GET", &cluster_path().replace("2025-01-01", "latest"), Some(&token), None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("InvalidApiVersionParameter")));
    let missing = cluster_path().replace("aks-spoke?", "nope?");
    let (s, b) = e.call("GET", &missing, Some(&token), None).await;
    assert_eq!(s, 404);
    assert_eq!(b["error"]["code"], "ResourceNotFound");
    assert_eq!(b["error"]["message"], "The Resource 'Microsoft.ContainerService/managedClusters/nope' under resource group 'rg-spoke-aks' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix");
    let (s, b) = e.call("GET", &cluster_path().replace("rg-spoke-aks", "rg-x"), Some(&token), None).await;
    assert_eq!((s, b["error"]["message"].as_str()), (404, Some("Resource group 'rg-x' could not be found.")));
    // Doubled slashes (endpoint with a trailing slash + path with a leading one) are fine.
    let (s, _) = e.call("GET", &format!("/{}", cluster_path()), Some(&token), None).await;
    assert_eq!(s, 200);
    let resp = e
        .client
        .post(e.url(&format!("//{TENANT}//oauth2/v2.0/token")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", TF_APP),
            ("client_secret", TF_SECRET),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (s, b) = e.call("GET", "/nowhere?api-version=2022-04-01", Some(&token), None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("NotFound")));
    // Malformed JSON.
    let resp = e
        .client
        .put(e.url(&ra_path(&acr(), "b3b3b3b3-0000-4000-8000-000000000001")))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["error"]["code"], "InvalidRequestContent");
    // Headers, with the correlation id echoed.
    let resp = e
        .client
        .get(e.url(&cluster_path()))
        .bearer_auth(&token)
        .header("x-ms-correlation-request-id", "corr-123")
        .send()
        .await
        .unwrap();
    let h = resp.headers();
    assert_eq!(h["x-ms-correlation-request-id"], "corr-123");
    assert!(h.contains_key("x-ms-request-id"));
    assert!(h.contains_key("x-ms-ratelimit-remaining-subscription-reads"));
    assert!(h.contains_key("x-ms-ratelimit-remaining-subscription-writes"));
    assert!(h.contains_key("x-ms-ratelimit-remaining-subscription-deletes"));
    // Resource groups (any casing) and seeded resources.
    let (s, b) = e
        .call(
            "GET",
            &format!("/subscriptions/{SPOKE}/resourcegroups/RG-SPOKE-AKS?api-version=2021-04-01"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!((s, b["name"].as_str()), (200, Some("rg-spoke-aks")));
    let subnet = format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-pods?api-version=2024-01-01");
    let (s, b) = e.call("GET", &subnet, Some(&token), None).await;
    assert_eq!((s, b["type"].as_str()), (200, Some("Microsoft.Network/virtualNetworks/subnets")));
    e.server.shutdown().await;
}

#[tokio::test]
async fn role_assignment_lifecycle_over_http() {
    let (e, token) = emu().await;
    let name = "b3b3b3b3-0000-4000-8000-000000000002";
    // The kubelet identity already has AcrPull (seeded, as if `--attach-acr`).
    let (s, b) = e.call("PUT", &ra_path(&acr(), name), Some(&token), Some(&ra_body(ACR_PULL, KUBELET_OID))).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("RoleAssignmentExists")));
    // Listing by principal finds the existing one.
    let list = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20'{KUBELET_OID}'",
        acr()
    );
    let (s, b) = e.call("GET", &list, Some(&token), None).await;
    assert_eq!(s, 200);
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        b["value"][0]["properties"]["roleDefinitionId"],
        format!("/subscriptions/{HUB}/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}")
    );
    // A new one: 201, then 200, then GET, DELETE 200, DELETE 204, GET 404.
    let acr_push = "8311e382-0749-4cb8-b61a-304f252e45ec";
    let (s, b) = e.call("PUT", &ra_path(&acr(), name), Some(&token), Some(&ra_body(acr_push, KUBELET_OID))).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["properties"]["scope"], acr());
    assert_eq!(b["properties"]["createdBy"], TF_OID);
    let (s, _) = e.call("PUT", &ra_path(&acr(), name), Some(&token), Some(&ra_body(acr_push, KUBELET_OID))).await;
    assert_eq!(s, 200);
    // The by-id form works too (no leading slash issues).
    let (s, _) = e.call("GET", &ra_path(&acr().to_lowercase(), name), Some(&token), None).await;
    assert_eq!(s, 200);
    let (s, b) = e.call("DELETE", &ra_path(&acr(), name), Some(&token), None).await;
    assert_eq!((s, b["name"].as_str()), (200, Some(name)));
    let (s, b) = e.call("DELETE", &ra_path(&acr(), name), Some(&token), None).await;
    assert_eq!((s, b), (204, Value::Null));
    let (s, b) = e.call("GET", &ra_path(&acr(), name), Some(&token), None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("RoleAssignmentNotFound")));
    // Role definitions by name at the ACR scope.
    let rd = format!(
        "{}/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-05-01-preview&$filter=roleName%20eq%20'AcrPull'",
        acr()
    );
    let (s, b) = e.call("GET", &rd, Some(&token), None).await;
    assert_eq!(s, 200);
    assert_eq!(b["value"][0]["name"], ACR_PULL);
    assert_eq!(b["value"][0]["properties"]["type"], "BuiltInRole");
    // Tenant-level GET by id, and an unknown GUID.
    let (s, b) = e
        .call(
            "GET",
            &format!("/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}?api-version=2022-04-01"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (s, b["id"].as_str()),
        (200, Some(format!("/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}").as_str()))
    );
    let unknown = "00000000-1111-2222-3333-444444444444";
    let (s, b) = e
        .call("GET", &format!("/subscriptions/{HUB}/providers/Microsoft.Authorization/roleDefinitions/{unknown}?api-version=2022-04-01"), Some(&token), None)
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("RoleDefinitionDoesNotExist")));
    e.server.shutdown().await;
}

#[tokio::test]
async fn principal_type_is_checked_against_the_directory() {
    let (e, token) = emu().await;
    let storage = format!(
        "/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.Storage/storageAccounts/stspokedata"
    );
    let body = |principal: &str, principal_type: Option<&str>| {
        let mut b = json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{SPOKE}/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"),
            "principalId": principal,
        }});
        if let Some(t) = principal_type {
            b["properties"]["principalType"] = json!(t);
        }
        b
    };
    let put = |name: &'static str, b: Value| {
        let (e, token, path) = (&e, &token, ra_path(&storage, name));
        async move { e.call("PUT", &path, Some(token), Some(&b)).await }
    };
    let (s, b) = put("c1c1c1c1-0000-4000-8000-000000000001", body(GROUP_OID, Some("User"))).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], "UnmatchedPrincipalType");
    assert_eq!(
        b["error"]["message"],
        format!(
            "The PrincipalId '{GROUP_OID}' has type 'Group' , which is different from specified PrinciaplType 'User'."
        )
    );
    let (s, b) = put("c1c1c1c1-0000-4000-8000-000000000001", body(GROUP_OID, Some("Group"))).await;
    assert_eq!((s, b["properties"]["principalType"].as_str()), (201, Some("Group")), "{b}");
    // Stored: GET and LIST return it.
    let (s, b) = e.call("GET", &ra_path(&storage, "c1c1c1c1-0000-4000-8000-000000000001"), Some(&token), None).await;
    assert_eq!((s, b["properties"]["principalType"].as_str()), (200, Some("Group")));
    let list = format!(
        "{storage}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20'{GROUP_OID}'"
    );
    let (_, b) = e.call("GET", &list, Some(&token), None).await;
    assert_eq!(b["value"][0]["properties"]["principalType"], "Group");
    // A missing principalType is inferred; a wrong or unknown one is refused.
    let (s, b) = put("c1c1c1c1-0000-4000-8000-000000000002", body(USER_OID, None)).await;
    assert_eq!((s, b["properties"]["principalType"].as_str()), (201, Some("User")), "{b}");
    let (s, b) = put("c1c1c1c1-0000-4000-8000-000000000003", body(KUBELET_OID, Some("User"))).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("UnmatchedPrincipalType")));
    assert!(b["error"]["message"].as_str().unwrap().contains("has type 'ServicePrincipal'"));
    let (s, b) = put("c1c1c1c1-0000-4000-8000-000000000003", body(USER_OID, Some("Robot"))).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("InvalidPrincipalType")));
    e.server.shutdown().await;
}

#[tokio::test]
async fn role_assignment_ids_get_canonical_casing_where_arm_knows_it() {
    let (e, token) = emu().await;
    let canonical = format!(
        "/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.Storage/storageAccounts/stspokedata"
    );
    let lower = canonical.to_lowercase();
    let name = "c2c2c2c2-0000-4000-8000-000000000001";
    let body = json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{SPOKE}/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"),
        "principalId": USER_OID,
    }});
    let expected_id = format!("{canonical}/providers/Microsoft.Authorization/roleAssignments/{name}");
    let (s, b) = e.call("PUT", &ra_path(&lower, name), Some(&token), Some(&body)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        (b["id"].as_str(), b["properties"]["scope"].as_str()),
        (Some(expected_id.as_str()), Some(canonical.as_str()))
    );
    let (s, b) = e.call("GET", &ra_path(&lower, name), Some(&token), None).await;
    assert_eq!((s, b["id"].as_str()), (200, Some(expected_id.as_str())));
    let list =
        format!("{lower}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()");
    let (_, b) = e.call("GET", &list, Some(&token), None).await;
    let listed = b["value"].as_array().unwrap().iter().find(|v| v["name"] == name).expect("listed");
    assert_eq!(
        (listed["id"].as_str(), listed["properties"]["scope"].as_str()),
        (Some(expected_id.as_str()), Some(canonical.as_str()))
    );
    // A subscription scope has no other spelling: the request's is echoed.
    let upper_sub = format!("/subscriptions/{}", SPOKE.to_uppercase());
    let name = "c2c2c2c2-0000-4000-8000-000000000002";
    let (s, b) = e.call("PUT", &ra_path(&upper_sub, name), Some(&token), Some(&body)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["properties"]["scope"], upper_sub);
    assert_eq!(b["id"], format!("{upper_sub}/providers/Microsoft.Authorization/roleAssignments/{name}"));
    e.server.shutdown().await;
}

/// Two emulators in one process: the ARM throttling buckets, fault rules and the store
/// are per instance.
#[tokio::test]
async fn two_emulators_in_one_process_share_nothing() {
    let (a, token_a) = emu().await;
    let (b, token_b) = emu().await;
    for e in [&a, &b] {
        let (s, _) = e.admin("PUT", "/settings", Some(&json!({"arm_throttling": {"enabled": true}}))).await;
        assert_eq!(s, 200);
    }
    let reads_left = |resp: &reqwest::Response| -> u64 {
        resp.headers()["x-ms-ratelimit-remaining-subscription-reads"].to_str().unwrap().parse().unwrap()
    };
    for _ in 0..3 {
        let resp = a.client.get(a.url(&cluster_path())).bearer_auth(&token_a).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    // B's first ARM read starts from a full bucket (250), whatever A has used.
    let resp = b.client.get(b.url(&cluster_path())).bearer_auth(&token_b).send().await.unwrap();
    assert_eq!(reads_left(&resp), 249);

    let (s, _) = a.admin("POST", "/faults", Some(&json!({"path_contains": "managedClusters", "status": 503}))).await;
    assert_eq!(s, 201);
    let (s, _) = a.call("GET", &cluster_path(), Some(&token_a), None).await;
    assert_eq!(s, 503);
    let (s, _) = b.call("GET", &cluster_path(), Some(&token_b), None).await;
    assert_eq!(s, 200, "A's fault rule does not apply to B");

    let name = "c3c3c3c3-0000-4000-8000-000000000001";
    let (s, _) = a
        .call(
            "PUT",
            &ra_path(&acr(), name),
            Some(&token_a),
            Some(&ra_body("8311e382-0749-4cb8-b61a-304f252e45ec", KUBELET_OID)),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = b.call("GET", &ra_path(&acr(), name), Some(&token_b), None).await;
    assert_eq!(s, 404, "A's role assignment is not in B's store");
    a.server.shutdown().await;
    b.server.shutdown().await;
}

#[tokio::test]
async fn paging_with_next_link() {
    let (e, token) = emu().await;
    let (s, _) = e.admin("PUT", "/settings", Some(&json!({"role_assignment_page_size": 2}))).await;
    assert_eq!(s, 200);
    for i in 0..5 {
        let (s, b) = e
            .admin(
                "POST",
                "/role-assignments",
                Some(&json!({"scope": format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks"), "role_definition_name": "Reader",
                    "principal_id": format!("b4b4b4b4-0000-4000-8000-00000000000{i}"), "principal_type": "User"})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let mut url = Some(e.url(&format!(
        "/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()"
    )));
    let mut seen = 0;
    let mut pages = 0;
    while let Some(u) = url.take() {
        let resp = e.client.get(&u).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let b: Value = resp.json().await.unwrap();
        let n = b["value"].as_array().unwrap().len();
        assert!(n <= 2);
        seen += n;
        pages += 1;
        url = b["nextLink"].as_str().map(String::from);
    }
    // 5 at the RG + 2 Owners at the subscription (terraform, runner).
    assert_eq!(seen, 7);
    assert_eq!(pages, 4);
    e.server.shutdown().await;
}

#[tokio::test]
async fn faults_request_log_and_counters() {
    let (e, token) = emu().await;
    let (s, b) = e
        .admin("POST", "/faults", Some(&json!({"method": "PUT", "path_contains": "roleAssignments", "status": 429, "count": 2, "retry_after_secs": 2})))
        .await;
    assert_eq!(s, 201);
    assert!(b["id"].is_u64());
    let (s, _) = e.admin("POST", "/faults", Some(&json!({"status": 999}))).await;
    assert_eq!(s, 400);
    let name = "b5b5b5b5-0000-4000-8000-000000000001";
    let body = ra_body("8311e382-0749-4cb8-b61a-304f252e45ec", KUBELET_OID);
    for _ in 0..2 {
        let resp = e.client.put(e.url(&ra_path(&acr(), name))).bearer_auth(&token).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "2");
        assert!(resp.headers().contains_key("x-ms-request-id"));
        let b: Value = resp.json().await.unwrap();
        assert_eq!(b["error"]["code"], "TooManyRequests");
    }
    let (s, _) = e.call("PUT", &ra_path(&acr(), name), Some(&token), Some(&body)).await;
    assert_eq!(s, 201);

    let (_, log) = e.admin("GET", "/requests", None).await;
    let puts: Vec<&Value> = log.as_array().unwrap().iter().filter(|r| r["method"] == "PUT").collect();
    assert_eq!(puts.len(), 3);
    assert_eq!(puts[0]["injected"], true);
    assert_eq!(puts[2]["injected"], false);
    assert_eq!(puts[2]["status"], 201);
    assert_eq!(puts[2]["caller_oid"], TF_OID);
    assert_eq!(puts[2]["route"], "role_assignment");
    assert!(puts[2]["time"].as_str().unwrap().ends_with('Z'));
    let (_, counters) = e.admin("GET", "/counters", None).await;
    assert_eq!(counters["PUT role_assignment 429"], 2);
    assert_eq!(counters["PUT role_assignment 201"], 1);

    // 500 on every GET of the cluster, then clear.
    e.admin("DELETE", "/faults", None).await;
    e.admin(
        "POST",
        "/faults",
        Some(&json!({"method": "GET", "path_contains": "managedClusters", "status": 500, "rate": 1.0})),
    )
    .await;
    let (s, b) = e.call("GET", &cluster_path(), Some(&token), None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (500, Some("InternalServerError")));
    e.admin("DELETE", "/faults", None).await;

    // Dropped connection: the client sees a transport error.
    e.admin("POST", "/faults", Some(&json!({"path_contains": "managedClusters", "drop_connection": true, "count": 1})))
        .await;
    let r = e.client.get(e.url(&cluster_path())).bearer_auth(&token).send().await;
    assert!(r.is_err(), "the connection must be dropped");
    let (s, _) = e.call("GET", &cluster_path(), Some(&token), None).await;
    assert_eq!(s, 200, "count 1: only the first request is dropped");

    // Latency only: the request is held, then answered by the service itself. The
    // emulator's own record of the request shows the rule acted and how long it held it
    // (at least latency_ms, since the delay is a sleep inside the timed span).
    let (_, rule) = e.admin("POST", "/faults", Some(&json!({"path_contains": "k8s/version", "latency_ms": 150}))).await;
    let (_, before) = e.admin("GET", "/requests", None).await;
    let since = before.as_array().unwrap().last().map_or(0, |r| r["seq"].as_u64().unwrap());
    let resp = e.client.get(e.url("/k8s/version")).bearer_auth(K8S_TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["gitVersion"], "v1.31.2", "passed on to the Kubernetes API");
    let (_, log) = e.admin("GET", &format!("/requests?since={since}"), None).await;
    let entry = &log.as_array().unwrap()[..];
    assert_eq!(entry.len(), 1, "{log}");
    assert_eq!((entry[0]["path"].as_str(), entry[0]["injected"].as_bool()), (Some("/k8s/version"), Some(true)));
    assert!(entry[0]["duration_ms"].as_u64().unwrap() >= 150, "{}", entry[0]);
    let (_, faults) = e.admin("GET", "/faults", None).await;
    let r = faults["value"].as_array().unwrap().iter().find(|r| r["id"] == rule["id"]).unwrap();
    assert_eq!((r["matched"].as_u64(), r["injected"].as_u64()), (Some(1), Some(1)));
    e.admin("DELETE", "/requests", None).await;
    let (_, log) = e.admin("GET", "/requests", None).await;
    assert!(log.as_array().unwrap().is_empty());
    e.server.shutdown().await;
}

#[tokio::test]
async fn uami_fic_and_workload_identity_token_exchange() {
    let (e, token) = emu().await;
    // Each FIC write holds its identity for 1 s, so a second write overlaps the first.
    e.admin("PUT", "/settings", Some(&json!({"principal_replication_delay_secs": 3600, "fic_write_latency_ms": 1000})))
        .await;
    let uami = format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-payments");
    let (s, i) = e
        .call("PUT", &format!("{uami}?api-version=2023-01-31"), Some(&token), Some(&json!({"location": "westeurope"})))
        .await;
    assert_eq!(s, 201, "{i}");
    let principal = i["properties"]["principalId"].as_str().unwrap().to_string();
    let client_id = i["properties"]["clientId"].as_str().unwrap().to_string();
    // Not replicated yet.
    let (s, b) = e
        .call(
            "PUT",
            &ra_path(&acr(), "b6b6b6b6-0000-4000-8000-000000000001"),
            Some(&token),
            Some(&ra_body(ACR_PULL, &principal)),
        )
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("PrincipalNotFound")));
    e.admin("PUT", "/settings", Some(&json!({"principal_type_skips_replication_check": true}))).await;
    let (s, _) = e
        .call(
            "PUT",
            &ra_path(&acr(), "b6b6b6b6-0000-4000-8000-000000000001"),
            Some(&token),
            Some(&ra_body(ACR_PULL, &principal)),
        )
        .await;
    assert_eq!(s, 201);

    // Two overlapping FIC writes on one identity: one 409.
    let issuer = "https://westeurope.oic.prod-aks.azure.com/4aca8002-c6b1-4e6a-8956-0d030db855bf/5872e63f-2638-457b-bcea-b653f405b523/";
    let fic = |n: &str, sub: &str| {
        (
            format!("{uami}/federatedIdentityCredentials/{n}?api-version=2023-01-31"),
            json!({"properties": {"issuer": issuer, "subject": sub, "audiences": ["api://AzureADTokenExchange"]}}),
        )
    };
    let (p1, b1) = fic("fic-payments", "system:serviceaccount:payments:api");
    let (p2, b2) = fic("fic-payments-worker", "system:serviceaccount:payments:worker");
    let (r1, r2) = tokio::join!(e.call("PUT", &p1, Some(&token), Some(&b1)), async {
        // The second write starts once the first one is in flight on the identity.
        wait_for("the first FIC write to be in flight", || !lock(&e.server.app.fic_inflight).is_empty()).await;
        e.call("PUT", &p2, Some(&token), Some(&b2)).await
    });
    assert_eq!(r1.0, 201, "{}", r1.1);
    assert_eq!(r2.0, 409, "{}", r2.1);
    assert_eq!(r2.1["error"]["code"], "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity");
    // Sequential retry works.
    e.admin("PUT", "/settings", Some(&json!({"fic_write_latency_ms": 0}))).await;
    let (s, _) = e.call("PUT", &p2, Some(&token), Some(&b2)).await;
    assert_eq!(s, 201);

    // Token exchange with a service-account assertion.
    let assertion = |sub: &str| {
        let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
        format!(
            "{}.{}.c2ln",
            enc(json!({"alg": "RS256", "typ": "JWT"})),
            enc(json!({"iss": issuer, "sub": sub, "aud": ["api://AzureADTokenExchange"], "exp": exp}))
        )
    };
    let exchange = |a: String| {
        let e = &e;
        let client_id = client_id.clone();
        async move {
            let resp = e
                .client
                .post(e.url(&format!("/{TENANT}/oauth2/v2.0/token")))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("scope", "https://storage.azure.com/.default"),
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    ("client_assertion", a.as_str()),
                ])
                .send()
                .await
                .unwrap();
            let s = resp.status().as_u16();
            (s, resp.json::<Value>().await.unwrap())
        }
    };
    // The identity itself is not yet "replicated" in the directory (1 h delay) → AAD does not know it.
    let (s, b) = exchange(assertion("system:serviceaccount:payments:api")).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("unauthorized_client")));
    e.admin("PUT", "/settings", Some(&json!({"principal_replication_delay_secs": 0}))).await;
    // Re-create the principal's availability: a new identity replicates immediately now.
    let (s, i2) = e
        .call("PUT", &format!("{uami}2?api-version=2023-01-31"), Some(&token), Some(&json!({"location": "westeurope"})))
        .await;
    assert_eq!(s, 201);
    let fic_path = format!("{uami}2/federatedIdentityCredentials/fic-api?api-version=2023-01-31");
    let (s, _) = e.call("PUT", &fic_path, Some(&token), Some(&b1)).await;
    assert_eq!(s, 201);
    let client2 = i2["properties"]["clientId"].as_str().unwrap().to_string();
    let form = |a: &str| {
        vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_id".to_string(), client2.clone()),
            ("scope".to_string(), "https://management.azure.com/.default".to_string()),
            ("client_assertion_type".to_string(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string()),
            ("client_assertion".to_string(), a.to_string()),
        ]
    };
    let resp = e
        .client
        .post(e.url(&format!("/{TENANT}/oauth2/v2.0/token")))
        .form(&form(&assertion("system:serviceaccount:payments:api")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 3599);
    let resp = e
        .client
        .post(e.url(&format!("/{TENANT}/oauth2/v2.0/token")))
        .form(&form(&assertion("system:serviceaccount:other:sa")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["error_codes"][0], 70021);
    // Delete: 200 then 204; the identity list works.
    let (s, _) = e.call("DELETE", &fic_path, Some(&token), None).await;
    assert_eq!(s, 200);
    let (s, _) = e.call("DELETE", &fic_path, Some(&token), None).await;
    assert_eq!(s, 204);
    let (s, l) = e
        .call("GET", &format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2023-01-31"), Some(&token), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(l["value"].as_array().unwrap().len(), 3);
    e.server.shutdown().await;
}

#[tokio::test]
async fn managed_identity_endpoint() {
    let (e, _) = emu().await;
    let header = e.server.info.identity_header.clone();
    let url = e.url("/msi/token?api-version=2019-08-01&resource=https://management.azure.com/");
    let resp = e.client.get(&url).header("metadata", "true").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let resp = e.client.get(&url).header("x-identity-header", "wrong").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = e.client.get(&url).header("x-identity-header", &header).header("metadata", "true").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let b: Value = resp.json().await.unwrap();
    assert!(b["expires_on"].is_string());
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["resource"], "https://management.azure.com/");
    assert_eq!(b["client_id"], "de39baf9-0029-442b-a4f1-74d07fad21b4");
    // The runner identity is Owner on the spoke: it can read the cluster.
    let t = b["access_token"].as_str().unwrap();
    let (s, _) = e.call("GET", &cluster_path(), Some(t), None).await;
    assert_eq!(s, 200);
    // …but not the hub ACR's role assignments.
    let (s, b) = e
        .call(
            "GET",
            &format!("{}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", acr()),
            Some(t),
            None,
        )
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("AuthorizationFailed")));
    // Selecting another identity by client id; its token has no ARM permissions.
    let resp = e
        .client
        .get(e.url("/msi/token?api-version=2019-08-01&resource=https://management.azure.com&client_id=f57ba24e-fdd9-4be7-8a91-6a17a3d663a7"))
        .header("x-identity-header", &header)
        .send()
        .await
        .unwrap();
    let b: Value = resp.json().await.unwrap();
    let (s, _) = e.call("GET", &cluster_path(), b["access_token"].as_str(), None).await;
    assert_eq!(s, 403);
    e.server.shutdown().await;
}

#[tokio::test]
async fn out_of_band_changes_through_admin() {
    let (e, token) = emu().await;
    let scope = format!(
        "/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.Storage/storageAccounts/stspokedata"
    );
    let blob_reader = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";
    let orders = "c08af55e-d954-4179-8d66-936d69f1b8be";
    let (s, b) = e
        .admin(
            "POST",
            "/role-assignments",
            Some(&json!({"scope": scope, "role_definition_id": blob_reader, "principal_id": orders})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let oob_id = b["id"].as_str().unwrap().to_string();
    // Terraform now tries the same triple under its own name → 409.
    let body = json!({"properties": {"roleDefinitionId": format!("/subscriptions/{SPOKE}/providers/Microsoft.Authorization/roleDefinitions/{blob_reader}"), "principalId": orders}});
    let (s, _) =
        e.call("PUT", &ra_path(&scope, "b7b7b7b7-0000-4000-8000-000000000001"), Some(&token), Some(&body)).await;
    assert_eq!(s, 409);
    let (s, _) = e.admin("DELETE", &format!("/role-assignments?id={oob_id}"), None).await;
    assert_eq!(s, 200);
    let (s, _) =
        e.call("PUT", &ra_path(&scope, "b7b7b7b7-0000-4000-8000-000000000001"), Some(&token), Some(&body)).await;
    assert_eq!(s, 201);
    // A principal that replicates later.
    let (s, p) = e.admin("POST", "/principals", Some(&json!({"kind": "ServicePrincipal", "delay_secs": 3600}))).await;
    assert_eq!(s, 201);
    let oid = p["object_id"].as_str().unwrap();
    let mut body2 = body.clone();
    body2["properties"]["principalId"] = json!(oid);
    let (s, b) =
        e.call("PUT", &ra_path(&scope, "b7b7b7b7-0000-4000-8000-000000000002"), Some(&token), Some(&body2)).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("PrincipalNotFound")));
    let (s, _) = e.admin("DELETE", &format!("/principals/{oid}"), None).await;
    assert_eq!(s, 200);
    let (s, st) = e.admin("GET", "/state", None).await;
    assert_eq!(s, 200);
    assert!(st["role_assignments"].as_array().unwrap().len() >= 5);
    let (s, all) = e.admin("GET", "/role-assignments", None).await;
    assert_eq!(s, 200);
    assert_eq!(all["value"].as_array().unwrap().len(), st["role_assignments"].as_array().unwrap().len());
    // Reset goes back to the seed.
    e.admin("POST", "/reset", None).await;
    let (_, st) = e.admin("GET", "/state", None).await;
    assert_eq!(st["role_assignments"].as_array().unwrap().len(), 4);
    e.server.shutdown().await;
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let e = start_with(example_seed(), Some(state.clone())).await;
    let token = e.token(TENANT, TF_APP, TF_SECRET).await;
    let name = "b8b8b8b8-0000-4000-8000-000000000001";
    let (s, _) = e
        .call(
            "PUT",
            &ra_path(&acr(), name),
            Some(&token),
            Some(&ra_body("8311e382-0749-4cb8-b61a-304f252e45ec", KUBELET_OID)),
        )
        .await;
    assert_eq!(s, 201);
    e.server.shutdown().await;
    assert!(state.exists());

    let e2 = start_with(example_seed(), Some(state.clone())).await;
    // The old token is still valid (the signing key is persisted) and the assignment is there.
    let (s, b) = e2.call("GET", &ra_path(&acr(), name), Some(&token), None).await;
    assert_eq!(s, 200, "{b}");
    e2.server.shutdown().await;
}

#[tokio::test]
async fn refuses_non_loopback_addresses() {
    let seed: aksid_emulator::Seed = serde_json::from_value(example_seed()).unwrap();
    let err = aksid_emulator::start(aksid_emulator::Options {
        addr: "0.0.0.0:0".parse().unwrap(),
        seed,
        state_path: None,
        ca_dir: None,
    })
    .await
    .err()
    .unwrap();
    assert!(err.contains("loopback"), "{err}");
}

#[tokio::test]
async fn kubernetes_subset() {
    let (e, token) = emu().await;
    let k = |path: &str| e.url(&format!("/k8s{path}"));
    let resp = e.client.get(k("/api/v1/namespaces")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let b: Value = resp.json().await.unwrap();
    assert_eq!((b["kind"].as_str(), b["reason"].as_str()), (Some("Status"), Some("Unauthorized")));

    let get = |path: &str| e.client.get(k(path)).bearer_auth(K8S_TOKEN);
    let v: Value = get("/version").send().await.unwrap().json().await.unwrap();
    assert_eq!(v["gitVersion"], "v1.31.2");
    let v: Value = get("/apis").send().await.unwrap().json().await.unwrap();
    let groups: Vec<&str> = v["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(groups, ["apiextensions.k8s.io", "aadpodidentity.k8s.io"]);
    let v: Value = get("/apis/aadpodidentity.k8s.io/v1").send().await.unwrap().json().await.unwrap();
    assert_eq!(v["resources"].as_array().unwrap().len(), 2);

    // Namespace + ServiceAccount with the workload identity annotation.
    let resp = e
        .client
        .post(k("/api/v1/namespaces"))
        .bearer_auth(K8S_TOKEN)
        .json(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "api", "annotations": {"azure.workload.identity/client-id": "f57ba24e-fdd9-4be7-8a91-6a17a3d663a7"}}});
    let resp = e
        .client
        .post(k("/api/v1/namespaces/payments/serviceaccounts"))
        .bearer_auth(K8S_TOKEN)
        .json(&sa)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let resp = e
        .client
        .post(k("/api/v1/namespaces/payments/serviceaccounts"))
        .bearer_auth(K8S_TOKEN)
        .json(&sa)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["reason"], "AlreadyExists");
    let resp = e
        .client
        .patch(k("/api/v1/namespaces/payments/serviceaccounts/api"))
        .bearer_auth(K8S_TOKEN)
        .header("content-type", "application/merge-patch+json")
        .body(json!({"metadata": {"labels": {"azure.workload.identity/use": "true"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = e
        .client
        .patch(k("/api/v1/namespaces/payments/serviceaccounts/api"))
        .bearer_auth(K8S_TOKEN)
        .header("content-type", "application/json-patch+json")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    // PUT with the stale resourceVersion → 409 Conflict.
    let resp = e
        .client
        .put(k("/api/v1/namespaces/payments/serviceaccounts/api"))
        .bearer_auth(K8S_TOKEN)
        .json(&created)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["reason"], "Conflict");
    let list: Value =
        get("/api/v1/namespaces/payments/serviceaccounts?labelSelector=azure.workload.identity/use%3Dtrue")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // AzureIdentity: schema validation, then a valid one.
    let ai = "/apis/aadpodidentity.k8s.io/v1/namespaces/payments/azureidentities";
    let bad = json!({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity", "metadata": {"name": "orders"}, "spec": {"type": "UserAssignedMSI"}});
    let resp = e.client.post(k(ai)).bearer_auth(K8S_TOKEN).json(&bad).send().await.unwrap();
    assert_eq!(resp.status(), 422);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["reason"], "Invalid");
    let good = json!({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentity", "metadata": {"name": "orders"},
        "spec": {"type": 0, "resourceID": "/subscriptions/x/resourcegroups/y/providers/Microsoft.ManagedIdentity/userAssignedIdentities/z", "clientID": "f57ba24e-fdd9-4be7-8a91-6a17a3d663a7"}});
    let resp = e.client.post(k(ai)).bearer_auth(K8S_TOKEN).json(&good).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let binding = json!({"apiVersion": "aadpodidentity.k8s.io/v1", "kind": "AzureIdentityBinding", "metadata": {"name": "orders-binding"},
        "spec": {"azureIdentity": "orders", "selector": "orders"}});
    let resp = e
        .client
        .post(k("/apis/aadpodidentity.k8s.io/v1/namespaces/payments/azureidentitybindings"))
        .bearer_auth(K8S_TOKEN)
        .json(&binding)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = e.client.delete(k(&format!("{ai}/orders"))).bearer_auth(K8S_TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = get(&format!("{ai}/orders")).send().await.unwrap();
    assert_eq!(resp.status(), 404);

    // The ARM credential action hands out a kubeconfig for this API.
    let (s, b) = e
        .call(
            "POST",
            &cluster_path().replace("?api-version", "/listClusterUserCredential?api-version"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let cfg = base64::engine::general_purpose::STANDARD.decode(b["kubeconfigs"][0]["value"].as_str().unwrap()).unwrap();
    let cfg = String::from_utf8(cfg).unwrap();
    assert!(cfg.contains(&format!("server: {}", e.server.info.kubernetes_host)));
    assert!(cfg.contains(K8S_TOKEN));
    e.server.shutdown().await;
}

/// Hostile or malformed input gets a structured 4xx, never a panic or a dropped connection.
#[tokio::test]
async fn malformed_input_never_breaks_the_server() {
    let (e, token) = emu().await;
    let ra = ra_path(&acr(), "b9b9b9b9-0000-4000-8000-000000000001");
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    for body in [
        "[]",
        "null",
        "5",
        "{\"properties\":5}",
        "{\"properties\":{\"roleDefinitionId\":5,\"principalId\":\"x\"}}",
        deep.as_str(),
        "\u{feff}{}",
    ] {
        let resp = e
            .client
            .put(e.url(&ra))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "body {body:.40}");
        let b: Value = resp.json().await.unwrap();
        assert!(b["error"]["code"].is_string());
    }
    let list = format!("{}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", acr());
    for q in [
        "&$skipToken=18446744073709551615",
        "&$skipToken=-1",
        "&$filter=and%20and",
        "&$filter=principalId%20eq%20'%C3%A9'",
        "&$filter=%C3%A9%C3%A9%C3%A9%20and%20x",
        "&$filter=atScope()%20and%20atScope()",
    ] {
        let (s, _) = e.call("GET", &format!("{list}{q}"), Some(&token), None).await;
        assert!(s == 200 || s == 400, "{q}: {s}");
    }
    for path in [
        "/subscriptions/%ZZ?api-version=2022-04-01",
        "/subscriptions/%FF%FE/resourceGroups/x?api-version=2022-04-01",
        "/subscriptions/a%2Fb/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01",
        "/subscriptions/%00/resourceGroups/rg/providers/A.B/c/d/e?api-version=2022-04-01",
        "/providers/Microsoft.Authorization/roleAssignments/x?api-version=2022-04-01",
        "/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter=type%20eq%20",
        "//////?api-version=2022-04-01",
    ] {
        let (s, _) = e.call("GET", path, Some(&token), None).await;
        assert!((400..500).contains(&s) || s == 200, "{path}: {s}");
    }
    for auth in ["Bearer", "Basic abc", "Bearer a.b", "Bearer ....", "Bearer é"] {
        let resp = e.client.get(e.url(&cluster_path())).header("authorization", auth.as_bytes()).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth}");
    }
    for form in ["", "grant_type=client_credentials", "%%%", "client_assertion=a.b.c&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&grant_type=client_credentials&client_id=3b390046-4482-48ab-9d61-c1358b55d2bb&scope=x/.default"] {
        let resp = e.client.post(e.url(&format!("/{TENANT}/oauth2/v2.0/token"))).body(form).send().await.unwrap();
        assert!(resp.status().is_client_error(), "{form}");
        let b: Value = resp.json().await.unwrap();
        assert!(b["error"].is_string());
    }
    // Absurd settings are accepted without overflowing anything.
    let (s, _) = e
        .admin(
            "PUT",
            "/settings",
            Some(&json!({"principal_replication_delay_secs": u64::MAX, "token_lifetime_secs": u64::MAX})),
        )
        .await;
    assert_eq!(s, 200);
    let t = e.token(TENANT, TF_APP, TF_SECRET).await;
    let uami = format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-x?api-version=2023-01-31");
    let (s, _) = e.call("PUT", &uami, Some(&t), Some(&json!({"location": "westeurope"}))).await;
    assert_eq!(s, 201);
    let (s, _) = e.admin("POST", "/principals", Some(&json!({"delay_secs": u64::MAX}))).await;
    assert_eq!(s, 201);
    for body in [
        "{",
        "[]",
        "{\"metadata\":{\"name\":5}}",
        "{\"metadata\":{\"labels\":{\"a\":1},\"name\":\"x\"}}",
        "{\"metadata\":[]}",
    ] {
        let resp = e
            .client
            .post(e.url("/k8s/api/v1/namespaces/default/serviceaccounts"))
            .bearer_auth(K8S_TOKEN)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{body}: {}", resp.status());
        let b: Value = resp.json().await.unwrap();
        assert_eq!(b["kind"], "Status");
    }
    // Still healthy.
    let (s, _) = e.call("GET", &cluster_path(), Some(&token), None).await;
    assert_eq!(s, 200);
    e.server.shutdown().await;
}

/// Permissions_ListForResourceGroup / Permissions_ListForResource: one entry per role the caller
/// holds at or above the scope, in the spec's shape; a role held only elsewhere is not listed.
#[tokio::test]
async fn permissions_list_the_callers_roles_at_or_above_the_scope() {
    let mut seed: Value = serde_json::from_str(include_str!("../examples/seed.json")).unwrap();
    // The Terraform principal: Reader on the hub subscription instead of Owner.
    for a in seed["role_assignments"].as_array_mut().unwrap() {
        if a["scope"] == "/subscriptions/ad089f8f-9110-4b0c-9b4b-410b023815eb" {
            a["role_definition_name"] = json!("Reader");
        }
    }
    let e = start_with(seed, None).await;
    let token = e
        .token(
            "4aca8002-c6b1-4e6a-8956-0d030db855bf",
            "3b390046-4482-48ab-9d61-c1358b55d2bb",
            "emulator-terraform-secret",
        )
        .await;
    let acr = "/subscriptions/ad089f8f-9110-4b0c-9b4b-410b023815eb/resourceGroups/rg-hub-shared/providers/Microsoft.ContainerRegistry/registries/acrhubshared";
    let (status, body) = e
        .call(
            "GET",
            &format!("{acr}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let entries = body["value"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "Reader only: {body}");
    assert_eq!(entries[0]["actions"], json!(["*/read"]));
    for key in ["notActions", "dataActions", "notDataActions"] {
        assert!(entries[0][key].is_array(), "{key} in the spec's shape: {body}");
    }
    let spoke_rg = "/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks";
    let (status, body) = e
        .call(
            "GET",
            &format!("{spoke_rg}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"][0]["actions"], json!(["*"]), "Owner of the spoke subscription: {body}");
}

fn throttled_seed(writes: u64, refill_per_sec: f64) -> Value {
    let mut seed = example_seed();
    seed["settings"]["arm_throttling"] =
        json!({"enabled": true, "writes": {"bucket_size": writes, "refill_per_sec": refill_per_sec}});
    seed
}

fn grant_name(scope: &str) -> String {
    let n = scope.len() % 1000;
    format!("d4d4d4d4-0000-4000-8000-{n:012}")
}

fn header_u64(resp: &reqwest::Response, name: &str) -> Option<u64> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
}

/// PUT a role assignment (a write) with its own client: the bucket belongs to the
/// subscription, not to a connection or a caller. One name per scope, so repeats are
/// idempotent writes.
async fn put_grant(e: &Emu, token: &str, scope: &str) -> reqwest::Response {
    let client = common::client_for(std::path::Path::new(&e.server.info.ca_certificate));
    let name = grant_name(scope);
    client
        .put(e.url(&ra_path(scope, &name)))
        .bearer_auth(token)
        .json(&ra_body(ACR_PULL, KUBELET_OID))
        .send()
        .await
        .unwrap()
}

/// ARM's token bucket: each write takes a token and reports what is left; an empty bucket
/// answers 429 SubscriptionRequestsThrottled with Retry-After, without doing the write;
/// deletes, reads and other subscriptions have buckets of their own. (The refill is slow
/// enough that no token comes back during the test.)
#[tokio::test]
async fn writes_drain_the_subscription_bucket_then_get_429_with_retry_after() {
    let e = start_with(throttled_seed(3, 0.001), None).await;
    let token = e.token(TENANT, TF_APP, TF_SECRET).await;
    let spoke = format!("/subscriptions/{SPOKE}");
    for left in [2, 1, 0] {
        let resp = put_grant(&e, &token, &spoke).await;
        assert!(resp.status().is_success(), "{}", resp.status());
        assert_eq!(header_u64(&resp, "x-ms-ratelimit-remaining-subscription-writes"), Some(left));
        assert_eq!(header_u64(&resp, "x-ms-ratelimit-remaining-subscription-deletes"), Some(200));
        assert_eq!(header_u64(&resp, "x-ms-ratelimit-remaining-subscription-reads"), Some(250));
    }
    let rg = format!("{spoke}/resourceGroups/rg-spoke-aks");
    let resp = put_grant(&e, &token, &rg).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header_u64(&resp, "x-ms-ratelimit-remaining-subscription-writes"), Some(0));
    let retry_after = header_u64(&resp, "retry-after").expect("Retry-After");
    assert!(retry_after >= 1, "{retry_after}");
    assert!(header_u64(&resp, "x-ms-retry-after-ms").is_some_and(|ms| ms > 900_000), "a token takes 1000 s");
    assert!(resp.headers().contains_key("x-ms-request-id"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "SubscriptionRequestsThrottled", "{body}");
    let (s, _) = e.call("GET", &ra_path(&rg, &grant_name(&rg)), Some(&token), None).await;
    assert_eq!(s, 404, "a throttled write is not carried out");

    let (s, _) = e.call("DELETE", &ra_path(&spoke, &grant_name(&spoke)), Some(&token), None).await;
    assert_eq!(s, 200, "deletes have their own bucket");
    let resp = put_grant(&e, &token, &format!("/subscriptions/{HUB}")).await;
    assert_eq!(resp.status(), 201, "another subscription has its own bucket");
    assert_eq!(header_u64(&resp, "x-ms-ratelimit-remaining-subscription-writes"), Some(2));

    let log = e.server.app.log.lock().unwrap().entries.clone();
    let throttled: Vec<_> = log.iter().filter(|l| l.status == 429).collect();
    assert_eq!(throttled.len(), 1, "the request log shows the 429");
    assert_eq!((throttled[0].method.as_str(), throttled[0].route), ("PUT", "role_assignment"));
    e.server.shutdown().await;
}

/// Sizes come from the admin API too; a change starts full buckets of the new size; bad
/// sizes are refused.
#[tokio::test]
async fn throttling_sizes_change_at_run_time_and_bad_ones_are_refused() {
    let e = start_with(throttled_seed(1, 0.001), None).await;
    let token = e.token(TENANT, TF_APP, TF_SECRET).await;
    let spoke = format!("/subscriptions/{SPOKE}");
    assert_eq!(put_grant(&e, &token, &spoke).await.status(), 201);
    assert_eq!(put_grant(&e, &token, &spoke).await.status(), 429);

    let patch = json!({"arm_throttling": {"writes": {"bucket_size": 5, "refill_per_sec": 0.001}}});
    let (s, b) = e.admin("PUT", "/settings", Some(&patch)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["arm_throttling"]["writes"]["bucket_size"], 5);
    assert_eq!(b["arm_throttling"]["enabled"], true, "a partial patch keeps the rest");
    let resp = put_grant(&e, &token, &spoke).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(header_u64(&resp, "x-ms-ratelimit-remaining-subscription-writes"), Some(4));

    for bad in [
        json!({"arm_throttling": {"writes": {"bucket_size": 0, "refill_per_sec": 1.0}}}),
        json!({"arm_throttling": {"deletes": {"bucket_size": 5, "refill_per_sec": 0.0}}}),
        json!({"arm_throttling": {"reads": {"bucket_size": 5, "refill": 1.0}}}),
    ] {
        let (s, b) = e.admin("PUT", "/settings", Some(&bad)).await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    let (s, _) = e.admin("PUT", "/settings", Some(&json!({"arm_throttling": {"enabled": false}}))).await;
    assert_eq!(s, 200);
    for _ in 0..8 {
        let resp = put_grant(&e, &token, &spoke).await;
        assert!(resp.status().is_success(), "throttling off: {}", resp.status());
        assert_eq!(header_u64(&resp, "x-ms-ratelimit-remaining-subscription-writes"), Some(5), "reported full");
    }
    e.server.shutdown().await;
}
