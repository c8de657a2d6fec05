//! Federated identity credentials over ARM and the token endpoint: the per-identity
//! limit, the concurrent-write 409 (for PUT and DELETE, per identity), and the exact
//! issuer match of the workload identity token exchange.

mod common;

use std::time::Duration;

use aksid_emulator::app::lock;
use base64::Engine;
use common::kube::{start_two_clusters, SPOKE, TENANT};
use common::Emu;
use serde_json::{json, Value};

const ISSUER: &str = "https://westeurope.oic.prod-aks.azure.com/4aca8002-c6b1-4e6a-8956-0d030db855bf/5872e63f-2638-457b-bcea-b653f405b523/";

fn identity(name: &str) -> String {
    format!("/subscriptions/{SPOKE}/resourceGroups/rg-spoke-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}")
}

fn fic_path(identity_name: &str, fic: &str) -> String {
    format!("{}/federatedIdentityCredentials/{fic}?api-version=2023-01-31", identity(identity_name))
}

fn fic_body(issuer: &str, subject: &str) -> Value {
    json!({"properties": {"issuer": issuer, "subject": subject, "audiences": ["api://AzureADTokenExchange"]}})
}

/// Create a user-assigned identity; returns its client id.
async fn new_identity(e: &Emu, token: &str, name: &str) -> String {
    let path = format!("{}?api-version=2023-01-31", identity(name));
    let (s, b) = e.call("PUT", &path, Some(token), Some(&json!({"location": "westeurope"}))).await;
    assert_eq!(s, 201, "{b}");
    b["properties"]["clientId"].as_str().unwrap().to_string()
}

/// Poll `cond` until it holds, for at most 10 s: a bounded wait on an event.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn at_most_twenty_credentials_per_identity() {
    let (e, token) = start_two_clusters().await;
    new_identity(&e, &token, "id-many").await;
    for n in 0..20 {
        let (s, b) = e
            .call(
                "PUT",
                &fic_path("id-many", &format!("fic-{n:02}")),
                Some(&token),
                Some(&fic_body(ISSUER, &format!("system:serviceaccount:ns:sa{n}"))),
            )
            .await;
        assert_eq!(s, 201, "{n}: {b}");
    }
    let (s, b) = e
        .call(
            "PUT",
            &fic_path("id-many", "fic-20"),
            Some(&token),
            Some(&fic_body(ISSUER, "system:serviceaccount:ns:sa20")),
        )
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("BadRequest")));
    assert!(b["error"]["message"].as_str().unwrap().contains("(20)"), "{b}");
    // Updating one of the twenty is not a new credential.
    let (s, _) = e
        .call(
            "PUT",
            &fic_path("id-many", "fic-00"),
            Some(&token),
            Some(&fic_body(ISSUER, "system:serviceaccount:ns:other")),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = e.call("DELETE", &fic_path("id-many", "fic-19"), Some(&token), None).await;
    assert_eq!(s, 200);
    let (s, _) = e
        .call(
            "PUT",
            &fic_path("id-many", "fic-20"),
            Some(&token),
            Some(&fic_body(ISSUER, "system:serviceaccount:ns:sa20")),
        )
        .await;
    assert_eq!(s, 201);
    // The limit is per identity.
    new_identity(&e, &token, "id-other").await;
    let (s, _) = e
        .call(
            "PUT",
            &fic_path("id-other", "fic-00"),
            Some(&token),
            Some(&fic_body(ISSUER, "system:serviceaccount:ns:sa0")),
        )
        .await;
    assert_eq!(s, 201);
    e.server.shutdown().await;
}

#[tokio::test]
async fn concurrent_writes_conflict_per_identity_including_deletes() {
    let (e, token) = start_two_clusters().await;
    new_identity(&e, &token, "id-a").await;
    new_identity(&e, &token, "id-b").await;
    let (s, _) = e
        .call("PUT", &fic_path("id-a", "existing"), Some(&token), Some(&fic_body(ISSUER, "system:serviceaccount:a:x")))
        .await;
    assert_eq!(s, 201);
    // Each write now holds its identity for a second, so writes overlap.
    e.admin("PUT", "/settings", Some(&json!({"fic_write_latency_ms": 1000}))).await;
    let in_flight = || !lock(&e.server.app.fic_inflight).is_empty();
    let body = fic_body(ISSUER, "system:serviceaccount:a:y");
    let first = fic_path("id-a", "new");
    let (put, delete, other) = tokio::join!(
        e.call("PUT", &first, Some(&token), Some(&body)),
        async {
            wait_for("the PUT to be in flight", in_flight).await;
            e.call("DELETE", &fic_path("id-a", "existing"), Some(&token), None).await
        },
        async {
            wait_for("the PUT to be in flight", in_flight).await;
            e.call("PUT", &fic_path("id-b", "new"), Some(&token), Some(&body)).await
        }
    );
    assert_eq!(put.0, 201, "{}", put.1);
    assert_eq!(other.0, 201, "another identity's write does not conflict: {}", other.1);
    assert_eq!(delete.0, 409, "{}", delete.1);
    assert_eq!(delete.1["error"]["code"], "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity");
    let message = delete.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("/userassignedidentities/id-a'"), "{message}");
    // The refused delete changed nothing.
    e.admin("PUT", "/settings", Some(&json!({"fic_write_latency_ms": 0}))).await;
    let (s, _) = e.call("GET", &fic_path("id-a", "existing"), Some(&token), None).await;
    assert_eq!(s, 200);
    e.server.shutdown().await;
}

fn assertion(issuer: &str, subject: &str) -> String {
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
    let claims = json!({"iss": issuer, "sub": subject, "aud": ["api://AzureADTokenExchange"], "exp": exp});
    format!("{}.{}.c2ln", enc(json!({"alg": "RS256", "typ": "JWT"})), enc(claims))
}

/// Token exchange at the real token endpoint: (status, AADSTS code or 0).
async fn exchange(e: &Emu, client_id: &str, assertion: &str) -> (u16, u64) {
    let resp = e
        .client
        .post(e.url(&format!("/{TENANT}/oauth2/v2.0/token")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("scope", "https://vault.azure.net/.default"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let b: Value = resp.json().await.unwrap();
    (status, b["error_codes"][0].as_u64().unwrap_or(0))
}

#[tokio::test]
async fn token_exchange_matches_the_issuer_byte_for_byte() {
    let (e, token) = start_two_clusters().await;
    let client = new_identity(&e, &token, "id-wi").await;
    let sub = "system:serviceaccount:payments:api";
    let (s, _) = e.call("PUT", &fic_path("id-wi", "payments-api"), Some(&token), Some(&fic_body(ISSUER, sub))).await;
    assert_eq!(s, 201);
    assert_eq!(exchange(&e, &client, &assertion(ISSUER, sub)).await, (200, 0));
    let without_slash = ISSUER.trim_end_matches('/');
    let upper_host = ISSUER.replace("westeurope.oic", "WESTEUROPE.oic");
    for iss in [without_slash, upper_host.as_str(), &format!("{ISSUER}/")] {
        assert_eq!(exchange(&e, &client, &assertion(iss, sub)).await, (400, 70021), "{iss}");
    }
    e.server.shutdown().await;
}
