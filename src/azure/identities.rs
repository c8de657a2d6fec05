//! User-assigned managed identities and their federated identity credentials on ARM
//! (Microsoft.ManagedIdentity, stable 2023-01-31: paths, bodies and status codes per
//! specs/azure-rest-api-specs/msi/stable/2023-01-31/ManagedIdentity.json and its examples).
//!
//! Azure refuses overlapping credential writes under one identity with 409
//! `ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity`, so every credential
//! PUT/DELETE of this process takes the identity's write lock first (other identities proceed
//! in parallel), and the 409 that another process may still cause is retried with backoff
//! until the caller's deadline.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::locks::KeyedLocks;
use std::time::Instant;

use reqwest::Method;
use serde_json::{json, Value as Json};

use super::arm::{ArmClient, ArmError, ArmResponse};
use super::retry::{Failed, RetryPolicy};
use crate::domain::ids::id_key;

pub const API_VERSION: &str = "2023-01-31";

/// The 409 Azure answers to overlapping credential writes under one identity.
pub const CONCURRENT_WRITES: &str = "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity";

/// A user-assigned managed identity as ARM returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAssignedIdentity {
    pub id: String,
    pub name: String,
    pub location: String,
    pub client_id: String,
    pub principal_id: String,
    pub tenant_id: String,
    pub tags: BTreeMap<String, String>,
}

/// A federated identity credential of a user-assigned identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedCredential {
    pub id: String,
    pub name: String,
    /// Exactly as ARM stores it: Entra compares it byte for byte with the token's `iss`.
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

fn text(v: &Json, k: &str) -> Option<String> {
    v.get(k).and_then(Json::as_str).map(str::to_string)
}

impl UserAssignedIdentity {
    /// `None` when the body lacks the id, name or any of the three identity GUIDs.
    pub fn from_json(v: &Json) -> Option<UserAssignedIdentity> {
        let p = v.get("properties")?;
        let tags = v
            .get("tags")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect();
        Some(UserAssignedIdentity {
            id: text(v, "id")?,
            name: text(v, "name")?,
            location: text(v, "location").unwrap_or_default(),
            client_id: text(p, "clientId")?,
            principal_id: text(p, "principalId")?,
            tenant_id: text(p, "tenantId")?,
            tags,
        })
    }
}

impl FederatedCredential {
    /// `None` when the body lacks the id, name, issuer or subject.
    pub fn from_json(v: &Json) -> Option<FederatedCredential> {
        let p = v.get("properties")?;
        let audiences = p
            .get("audiences")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        Some(FederatedCredential {
            id: text(v, "id")?,
            name: text(v, "name")?,
            issuer: text(p, "issuer")?,
            subject: text(p, "subject")?,
            audiences,
        })
    }
}

/// The id of credential `name` under `identity_id`.
pub fn credential_id(identity_id: &str, name: &str) -> String {
    format!("{}/federatedIdentityCredentials/{name}", identity_id.trim_end_matches('/'))
}

/// ARM answered 2xx with a body that is not what the operation returns.
fn unexpected(method: &Method, path: &str, resp: &ArmResponse, what: &str) -> ArmError {
    ArmError::Api {
        method: method.to_string(),
        path: path.to_string(),
        status: resp.status,
        code: "UnexpectedResponse".into(),
        message: format!("the response is not {what}: {}", resp.body),
        request_id: resp.request_id.clone(),
        correlation_id: String::new(),
    }
}

/// GET an identity by full id; `Ok(None)` when it does not exist.
pub async fn get_identity(
    arm: &ArmClient,
    id: &str,
    deadline: Instant,
) -> Result<Option<UserAssignedIdentity>, ArmError> {
    match arm.send(Method::GET, id, &[("api-version", API_VERSION)], None, deadline).await {
        Ok(resp) => UserAssignedIdentity::from_json(&resp.body)
            .map(Some)
            .ok_or_else(|| unexpected(&Method::GET, id, &resp, "a user-assigned identity")),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// PUT (create or update) an identity with `location` and exactly `tags`.
pub async fn put_identity(
    arm: &ArmClient,
    id: &str,
    location: &str,
    tags: &BTreeMap<String, String>,
    deadline: Instant,
) -> Result<UserAssignedIdentity, ArmError> {
    let body = json!({ "location": location, "tags": tags });
    let resp = arm.send(Method::PUT, id, &[("api-version", API_VERSION)], Some(&body), deadline).await?;
    UserAssignedIdentity::from_json(&resp.body)
        .ok_or_else(|| unexpected(&Method::PUT, id, &resp, "a user-assigned identity"))
}

/// DELETE an identity: `true` when it was deleted, `false` when it was already gone (204/404).
pub async fn delete_identity(arm: &ArmClient, id: &str, deadline: Instant) -> Result<bool, ArmError> {
    match arm.send(Method::DELETE, id, &[("api-version", API_VERSION)], None, deadline).await {
        Ok(resp) => Ok(resp.status != 204),
        Err(e) if e.status() == Some(404) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Every credential of the identity, following `nextLink` pages. A missing identity is an
/// error (404 `ParentResourceNotFound`).
pub async fn list_credentials(
    arm: &ArmClient,
    identity_id: &str,
    deadline: Instant,
) -> Result<Vec<FederatedCredential>, ArmError> {
    let path = format!("{}/federatedIdentityCredentials", identity_id.trim_end_matches('/'));
    let mut out = Vec::new();
    let mut resp = arm.send(Method::GET, &path, &[("api-version", API_VERSION)], None, deadline).await?;
    loop {
        out.extend(
            resp.body
                .get("value")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(FederatedCredential::from_json),
        );
        let Some(next) = resp.body.get("nextLink").and_then(Json::as_str).filter(|s| !s.is_empty()) else {
            return Ok(out);
        };
        resp = arm.send_absolute(Method::GET, next, None, deadline).await?;
    }
}

/// Every user-assigned identity of a subscription (import looks one up by client id).
pub async fn list_identities(
    arm: &ArmClient,
    subscription_id: &str,
    deadline: Instant,
) -> Result<Vec<UserAssignedIdentity>, ArmError> {
    let path = format!("/subscriptions/{subscription_id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities");
    let mut out = Vec::new();
    let mut resp = arm.send(Method::GET, &path, &[("api-version", API_VERSION)], None, deadline).await?;
    loop {
        let page = resp.body.get("value").and_then(Json::as_array).into_iter().flatten();
        out.extend(page.filter_map(UserAssignedIdentity::from_json));
        let Some(next) = resp.body.get("nextLink").and_then(Json::as_str).filter(|s| !s.is_empty()) else {
            return Ok(out);
        };
        resp = arm.send_absolute(Method::GET, next, None, deadline).await?;
    }
}

/// GET one credential; `Ok(None)` when it (or its identity) does not exist.
pub async fn get_credential(
    arm: &ArmClient,
    identity_id: &str,
    name: &str,
    deadline: Instant,
) -> Result<Option<FederatedCredential>, ArmError> {
    let id = credential_id(identity_id, name);
    match arm.send(Method::GET, &id, &[("api-version", API_VERSION)], None, deadline).await {
        Ok(resp) => FederatedCredential::from_json(&resp.body)
            .map(Some)
            .ok_or_else(|| unexpected(&Method::GET, &id, &resp, "a federated identity credential")),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// PUT (create or replace) a credential. The issuer is sent byte for byte as given.
pub async fn put_credential(
    arm: &ArmClient,
    identity_id: &str,
    name: &str,
    issuer: &str,
    subject: &str,
    audiences: &[String],
    deadline: Instant,
) -> Result<FederatedCredential, ArmError> {
    let id = credential_id(identity_id, name);
    let body = json!({ "properties": { "issuer": issuer, "subject": subject, "audiences": audiences } });
    let resp = credential_write(arm, identity_id, Method::PUT, &id, Some(&body), deadline).await?;
    FederatedCredential::from_json(&resp.body)
        .ok_or_else(|| unexpected(&Method::PUT, &id, &resp, "a federated identity credential"))
}

/// DELETE a credential: `true` when it was deleted, `false` when it was already gone (204/404).
pub async fn delete_credential(
    arm: &ArmClient,
    identity_id: &str,
    name: &str,
    deadline: Instant,
) -> Result<bool, ArmError> {
    let id = credential_id(identity_id, name);
    match credential_write(arm, identity_id, Method::DELETE, &id, None, deadline).await {
        Ok(resp) => Ok(resp.status != 204),
        Err(e) if e.status() == Some(404) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The write lock of each identity (by id key), held while one of its credentials is written.
fn write_lock(identity_id: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: KeyedLocks = KeyedLocks::new();
    LOCKS.get(&id_key(identity_id))
}

/// One credential write under the identity's lock; the concurrency 409 (another process
/// writing under the same identity) is retried with backoff until `deadline`.
async fn credential_write(
    arm: &ArmClient,
    identity_id: &str,
    method: Method,
    id: &str,
    body: Option<&Json>,
    deadline: Instant,
) -> Result<ArmResponse, ArmError> {
    let lock = write_lock(identity_id);
    let _guard = tokio::time::timeout_at(deadline.into(), lock.lock()).await.map_err(|_| {
        ArmError::Timeout(format!(
            "{method} {id}: timed out waiting for other writes of federated identity credentials of the same identity"
        ))
    })?;
    let policy = RetryPolicy::default();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let err = match arm.send(method.clone(), id, &[("api-version", API_VERSION)], body, deadline).await {
            Err(e) if e.code() == Some(CONCURRENT_WRITES) => e,
            other => return other,
        };
        let failed = Failed {
            attempts,
            server_hint: None,
            jitter: (uuid::Uuid::new_v4().as_u128() % 10_000) as f64 / 10_000.0,
            time_left: deadline.saturating_duration_since(Instant::now()),
            unreachable_for: None,
        };
        let Some(wait) = policy.next(&failed) else {
            return Err(err);
        };
        tracing::info!(%method, path = id, attempts, wait_ms = wait.as_millis() as u64, "another client is writing credentials of this identity; retrying");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Response bodies of the spec examples IdentityGet.json and FederatedIdentityCredentialList.json.
    const IDENTITY_GET: &str = r#"{
        "id": "/subscriptions/subid/resourcegroups/rgName/providers/Microsoft.ManagedIdentity/userAssignedIdentities/identityName",
        "location": "eastus",
        "name": "identityName",
        "properties": {
          "clientId": "4024ab25-56a8-4370-aea6-6389221caf29",
          "principalId": "25cc773c-7f05-40fc-a104-32d2300754ad",
          "tenantId": "b6c948ef-f6b5-4384-8354-da3a15eca969"
        },
        "tags": { "key1": "value1", "key2": "value2" },
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities"
    }"#;

    const CREDENTIAL_LIST: &str = r#"{
        "value": [
          {
            "id": "/subscriptions/subid/resourcegroups/rgName/providers/Microsoft.ManagedIdentity/userAssignedIdentities/identityName/federatedIdentityCredentials/ficResourceName",
            "name": "ficResourceName",
            "properties": {
              "issuer": "https://oidc.prod-aks.azure.com/TenantGUID/IssuerGUID",
              "subject": "system:serviceaccount:ns:svcaccount",
              "audiences": [ "api://AzureADTokenExchange" ]
            },
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
          }
        ],
        "nextLink": "https://serviceRoot/subscriptions/subId/resourcegroups/rgName/providers/Microsoft.ManagedIdentity/userAssignedIdentities/resourceName/federatedIdentityCredentials?api-version=2023-01-31&$skipToken=X'12345'"
    }"#;

    #[test]
    fn parses_the_spec_identity_example() {
        let v: Json = serde_json::from_str(IDENTITY_GET).unwrap();
        let i = UserAssignedIdentity::from_json(&v).unwrap();
        assert_eq!(i.name, "identityName");
        assert_eq!(i.location, "eastus");
        assert_eq!(i.client_id, "4024ab25-56a8-4370-aea6-6389221caf29");
        assert_eq!(i.principal_id, "25cc773c-7f05-40fc-a104-32d2300754ad");
        assert_eq!(i.tenant_id, "b6c948ef-f6b5-4384-8354-da3a15eca969");
        assert_eq!(i.tags.get("key2").map(String::as_str), Some("value2"));
        assert_eq!(i.tags.len(), 2);
    }

    #[test]
    fn identity_without_its_guids_is_rejected() {
        let mut v: Json = serde_json::from_str(IDENTITY_GET).unwrap();
        v["properties"].as_object_mut().unwrap().remove("principalId");
        assert_eq!(UserAssignedIdentity::from_json(&v), None);
        assert_eq!(UserAssignedIdentity::from_json(&json!({})), None);
        // No tags at all is an empty map, not a failure.
        let mut v: Json = serde_json::from_str(IDENTITY_GET).unwrap();
        v.as_object_mut().unwrap().remove("tags");
        assert!(UserAssignedIdentity::from_json(&v).unwrap().tags.is_empty());
    }

    #[test]
    fn parses_the_spec_credential_list_example() {
        let v: Json = serde_json::from_str(CREDENTIAL_LIST).unwrap();
        let f = FederatedCredential::from_json(&v["value"][0]).unwrap();
        assert_eq!(f.name, "ficResourceName");
        assert_eq!(f.issuer, "https://oidc.prod-aks.azure.com/TenantGUID/IssuerGUID");
        assert_eq!(f.subject, "system:serviceaccount:ns:svcaccount");
        assert_eq!(f.audiences, vec!["api://AzureADTokenExchange".to_string()]);
        assert!(f.id.ends_with("/federatedIdentityCredentials/ficResourceName"));
        let mut broken = v["value"][0].clone();
        broken["properties"].as_object_mut().unwrap().remove("issuer");
        assert_eq!(FederatedCredential::from_json(&broken), None);
    }

    #[test]
    fn credential_ids_and_lock_keys() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u";
        assert_eq!(credential_id(&format!("{id}/"), "f"), format!("{id}/federatedIdentityCredentials/f"));
        // One lock per identity whatever the casing; another identity has its own.
        let a = write_lock(id);
        assert!(Arc::ptr_eq(&a, &write_lock(&id.to_uppercase())));
        let b = write_lock(&format!("{id}2"));
        assert!(!Arc::ptr_eq(&a, &b));
        let _held = a.try_lock().unwrap();
        assert!(write_lock(id).try_lock().is_err(), "a second writer of the identity waits");
        assert!(b.try_lock().is_ok(), "another identity's writer does not");
    }
}
