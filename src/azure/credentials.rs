//! Entra credentials from the Azure SDK (`azure_identity`), arranged as the provider's own
//! ordered chain (the crate has none). The user's explicit choice is the whole chain; with no
//! choice, we try workload identity (if its token file is present), managed identity, then the
//! Azure CLI, and the final error names every method with the reason it failed.
//!
//! The SDK's own retries are off: they retried TLS failures and refused connections for up to
//! a minute. The ARM client retries token requests as part of its own attempts instead, so the
//! chain's error says how it failed (`TokenError`), classified like ARM's transport errors.

mod assertions;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertion, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use super::http::{self as transport, EndpointError, Failure};
use super::retry::is_retryable_status;
use crate::settings::{AuthMethod, Settings};

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The token endpoint's TLS is not acceptable (permanent), or it does not answer (worth a
    /// short retry). The detail names every method tried.
    Endpoint(EndpointError),
    /// Entra answered 408/429/5xx or the connection broke: retrying may succeed.
    Transient(String),
    /// Credentials rejected, nothing configured, a tool missing: retrying does not help.
    Rejected(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Endpoint(e) => e.fmt(f),
            TokenError::Transient(m) | TokenError::Rejected(m) => f.write_str(m),
        }
    }
}

/// How one method failed, most serious first (the chain reports the most serious).
#[derive(Debug, Clone, PartialEq, Eq)]
enum LinkFailure {
    Tls(EndpointError),
    Unreachable(EndpointError),
    Transient,
    Rejected,
}

impl LinkFailure {
    fn rank(&self) -> u8 {
        match self {
            LinkFailure::Tls(_) => 0,
            LinkFailure::Unreachable(_) => 1,
            LinkFailure::Transient => 2,
            LinkFailure::Rejected => 3,
        }
    }
}

/// One link of the chain: a named method and its credential.
struct Link {
    method: &'static str,
    credential: Arc<dyn TokenCredential>,
    /// What to check when Entra refuses the method's credential (names the settings).
    hint: Option<String>,
}

/// Tries each configured method in order; the first token wins.
pub struct CredentialChain {
    links: Vec<Link>,
    /// Methods that could not even be constructed, with why (reported if all else fails).
    unavailable: Vec<(&'static str, String)>,
    /// `scheme://host:port` of `authority_host`, to tell its failures from other endpoints'.
    authority: String,
    ca_certificate: Option<String>,
}

impl fmt::Debug for CredentialChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialChain").field("methods", &self.methods()).finish()
    }
}

pub fn method_name(m: &AuthMethod) -> &'static str {
    match m {
        AuthMethod::ClientSecret => "client secret",
        AuthMethod::ClientCertificate => "client certificate",
        AuthMethod::Oidc => "workload identity (OIDC token)",
        AuthMethod::GitHubOidc => "GitHub Actions OIDC",
        AuthMethod::AzureDevOpsOidc => "Azure DevOps workload identity federation",
        AuthMethod::AksWorkloadIdentity => "AKS workload identity",
        AuthMethod::ManagedIdentity => "managed identity",
        AuthMethod::AzureCli => "Azure CLI",
    }
}

impl CredentialChain {
    /// Build the chain for `settings`. `http` is the client every credential uses, so that
    /// `ca_certificate` applies to token requests too.
    pub fn new(settings: &Settings, http: reqwest::Client) -> CredentialChain {
        let explicit = settings.auth_methods();
        let methods = if explicit.is_empty() {
            let mut auto = Vec::new();
            if settings.oidc_token_file_path.is_some() || std::env::var_os("AZURE_FEDERATED_TOKEN_FILE").is_some() {
                auto.push(AuthMethod::Oidc);
            }
            auto.push(AuthMethod::ManagedIdentity);
            auto.push(AuthMethod::AzureCli);
            auto
        } else {
            explicit
        };
        let mut chain = CredentialChain {
            links: Vec::new(),
            unavailable: Vec::new(),
            authority: transport::origin_of(&settings.authority_host),
            ca_certificate: settings.ca_certificate.clone(),
        };
        for m in methods {
            let name = method_name(&m);
            match build(&m, settings, &http) {
                Ok(credential) => chain.links.push(Link { method: name, credential, hint: hint(&m, settings) }),
                Err(why) => chain.unavailable.push((name, why)),
            }
        }
        chain
    }

    pub fn methods(&self) -> Vec<&'static str> {
        self.links.iter().map(|l| l.method).chain(self.unavailable.iter().map(|(m, _)| *m)).collect()
    }

    /// A token for `scope`, or an error naming each method tried and why it failed, classified
    /// by its most serious failure.
    pub async fn token(&self, scope: &str) -> Result<(AccessToken, &'static str), TokenError> {
        let mut failures: Vec<String> = self.unavailable.iter().map(|(m, why)| format!("{m}: {why}")).collect();
        let mut worst = LinkFailure::Rejected;
        for link in &self.links {
            match link.credential.get_token(&[scope], None::<TokenRequestOptions>).await {
                Ok(t) => return Ok((t, link.method)),
                Err(e) => {
                    let text = describe_error(&e);
                    let failure = self.classify(&e, &text);
                    let hint = match (&failure, &link.hint) {
                        (LinkFailure::Rejected, Some(h)) if text.contains("AADSTS") => format!(" ({h})"),
                        _ => String::new(),
                    };
                    if failure.rank() < worst.rank() {
                        worst = failure;
                    }
                    failures.push(format!("{}: {text}{hint}", link.method));
                }
            }
        }
        let message = if failures.is_empty() {
            "no authentication method is configured".to_string()
        } else {
            format!("no credential could obtain a token:\n  - {}", failures.join("\n  - "))
        };
        Err(match worst {
            LinkFailure::Tls(e) | LinkFailure::Unreachable(e) => {
                TokenError::Endpoint(EndpointError { detail: message, ..e })
            }
            LinkFailure::Transient => TokenError::Transient(message),
            LinkFailure::Rejected => TokenError::Rejected(message),
        })
    }

    /// One method's failure. A TLS failure is permanent wherever it happens; an endpoint that
    /// does not answer is worth a short retry only if it is `authority_host` (the managed
    /// identity endpoints have their own retries in the SDK, and a machine without one must
    /// not wait for it).
    fn classify(&self, e: &azure_core::Error, text: &str) -> LinkFailure {
        // Entra's answer, or our HTTP client's failure, whichever the chain holds first.
        let mut node: Option<&(dyn std::error::Error + 'static)> = Some(e);
        let mut depth = 0;
        while let Some(err) = node.filter(|_| depth < 32) {
            depth += 1;
            if let Some(az) = err.downcast_ref::<azure_core::Error>() {
                if let ErrorKind::HttpResponse { status, .. } = az.kind() {
                    let status = u16::from(*status);
                    return if is_retryable_status(status) { LinkFailure::Transient } else { LinkFailure::Rejected };
                }
            }
            if let Some(r) = err.downcast_ref::<reqwest::Error>() {
                let failure = transport::classify(r);
                let url = r.url().map(|u| u.as_str().to_string()).unwrap_or_default();
                let ours = !url.is_empty() && transport::origin_of(&url) == self.authority;
                let endpoint = || {
                    EndpointError::new(
                        &url,
                        ours.then_some("authority_host"),
                        failure,
                        self.ca_certificate.as_deref(),
                        text.to_string(),
                    )
                };
                return match failure {
                    Failure::Tls(_) => LinkFailure::Tls(endpoint()),
                    Failure::Unreachable(_) if ours => LinkFailure::Unreachable(endpoint()),
                    Failure::Unreachable(_) => LinkFailure::Rejected,
                    Failure::Interrupted => LinkFailure::Transient,
                };
            }
            node = err.source();
        }
        // No transport error of ours (e.g. the Azure CLI failed): nothing a retry fixes.
        LinkFailure::Rejected
    }
}

/// The SDK's error text, which for Entra failures includes the `AADSTS…` code and description.
fn describe_error(e: &azure_core::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn client_options(settings: &Settings, http: &reqwest::Client) -> ClientOptions {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = settings.authority_host.trim_end_matches('/').to_string();
    ClientOptions {
        transport: Some(Transport::new(Arc::new(http.clone()))),
        cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
        // The ARM client retries, with knowledge of which failures are permanent.
        retry: RetryOptions::none(),
        ..Default::default()
    }
}

fn build(m: &AuthMethod, s: &Settings, http: &reqwest::Client) -> Result<Arc<dyn TokenCredential>, String> {
    let need = |v: &Option<String>, what: &str| v.clone().ok_or_else(|| format!("{what} is not set"));
    match m {
        AuthMethod::ClientSecret => {
            let tenant = need(&s.tenant_id, "tenant_id")?;
            let client = need(&s.client_id, "client_id")?;
            let secret = need(&s.client_secret, "client_secret")?;
            let opts = ClientSecretCredentialOptions { client_options: client_options(s, http) };
            let c = ClientSecretCredential::new(&tenant, client, Secret::new(secret), Some(opts))
                .map_err(|e| describe_error(&e))?;
            Ok(c)
        }
        AuthMethod::ClientCertificate => {
            let tenant = need(&s.tenant_id, "tenant_id")?;
            let client = need(&s.client_id, "client_id")?;
            let pfx = assertions::CertificateAssertion::read(
                s.client_certificate_path.as_deref(),
                s.client_certificate.as_deref(),
            )?;
            let audience = format!("{}/{tenant}/oauth2/v2.0/token", s.authority_host.trim_end_matches('/'));
            let a = assertions::CertificateAssertion::new(
                &pfx,
                s.client_certificate_password.as_deref(),
                &client,
                audience,
            )?;
            assertion_credential(s, http, a)
        }
        AuthMethod::Oidc if s.oidc_token.is_some() => {
            let token = need(&s.oidc_token, "oidc_token")?;
            assertion_credential(s, http, assertions::StaticToken(Secret::new(token)))
        }
        AuthMethod::Oidc => {
            let path = s
                .oidc_token_file_path
                .clone()
                .or_else(|| std::env::var("AZURE_FEDERATED_TOKEN_FILE").ok())
                .ok_or("none of oidc_token/ARM_OIDC_TOKEN, oidc_token_file_path/ARM_OIDC_TOKEN_FILE_PATH, oidc_request_url/ARM_OIDC_REQUEST_URL or AZURE_FEDERATED_TOKEN_FILE is set")?;
            token_file_credential(s, http, s.client_id.clone(), s.tenant_id.clone(), path)
        }
        AuthMethod::AksWorkloadIdentity => {
            let path = need(&s.aks_token_file, "AZURE_FEDERATED_TOKEN_FILE")?;
            token_file_credential(s, http, s.client_id.clone(), s.tenant_id.clone(), path)
        }
        AuthMethod::GitHubOidc | AuthMethod::AzureDevOpsOidc => requested_token_credential(m, s, http),
        AuthMethod::ManagedIdentity => {
            let opts = ManagedIdentityCredentialOptions {
                user_assigned_id: s.client_id.clone().map(UserAssignedId::ClientId),
                client_options: client_options(s, http),
            };
            let c = ManagedIdentityCredential::new(Some(opts)).map_err(|e| describe_error(&e))?;
            Ok(c)
        }
        AuthMethod::AzureCli => {
            let opts = AzureCliCredentialOptions {
                subscription: s.subscription_id.clone(),
                tenant_id: s.tenant_id.clone(),
                ..Default::default()
            };
            let c = AzureCliCredential::new(Some(opts)).map_err(|e| describe_error(&e))?;
            Ok(c)
        }
    }
}

/// Entra's client-assertion flow for the settings' client and tenant.
fn assertion_credential<A: ClientAssertion + 'static>(
    s: &Settings,
    http: &reqwest::Client,
    assertion: A,
) -> Result<Arc<dyn TokenCredential>, String> {
    let tenant = s.tenant_id.clone().ok_or("tenant_id is not set")?;
    let client = s.client_id.clone().ok_or("client_id is not set")?;
    let opts = ClientAssertionCredentialOptions { client_options: client_options(s, http) };
    let c = ClientAssertionCredential::new(tenant, client, assertion, Some(opts)).map_err(|e| describe_error(&e))?;
    Ok(c)
}

/// A federated token read from a file at each request (the file is rotated underneath).
fn token_file_credential(
    s: &Settings,
    http: &reqwest::Client,
    client_id: Option<String>,
    tenant_id: Option<String>,
    path: String,
) -> Result<Arc<dyn TokenCredential>, String> {
    let opts = WorkloadIdentityCredentialOptions {
        credential_options: ClientAssertionCredentialOptions { client_options: client_options(s, http) },
        client_id,
        tenant_id,
        token_file_path: Some(PathBuf::from(path)),
    };
    let c = WorkloadIdentityCredential::new(Some(opts)).map_err(|e| describe_error(&e))?;
    Ok(c)
}

/// GitHub Actions' or Azure DevOps' OIDC endpoint, asked for a token at each request.
fn requested_token_credential(
    m: &AuthMethod,
    s: &Settings,
    http: &reqwest::Client,
) -> Result<Arc<dyn TokenCredential>, String> {
    let url = s.oidc_request_url.clone().ok_or("oidc_request_url (ARM_OIDC_REQUEST_URL) is not set")?;
    let token = s.oidc_request_token.clone().ok_or("oidc_request_token (ARM_OIDC_REQUEST_TOKEN) is not set")?;
    let endpoint = match (m, &s.ado_service_connection_id) {
        (AuthMethod::AzureDevOpsOidc, Some(id)) => {
            assertions::Endpoint::AzureDevOps { service_connection_id: id.value.clone() }
        }
        _ => assertions::Endpoint::GitHub,
    };
    let parsed = url::Url::parse(&url.value).map_err(|e| format!("{} is not a URL: {e}", url.from))?;
    let assertion = assertions::RequestedToken {
        endpoint,
        url: parsed,
        url_from: url.from,
        token: Secret::new(token.value),
        token_from: token.from,
        http: http.clone(),
    };
    assertion_credential(s, http, assertion)
}

/// What to check when Entra refuses a method's credential, by the names the user set.
fn hint(m: &AuthMethod, s: &Settings) -> Option<String> {
    let from = |v: &Option<crate::settings::Sourced>, default: &str| {
        v.as_ref().map(|v| v.from.clone()).unwrap_or_else(|| default.to_string())
    };
    let federated = "a federated credential of the application client_id/ARM_CLIENT_ID names must match the token's issuer and subject";
    match m {
        AuthMethod::ClientCertificate => Some(
            "the certificate in client_certificate_path/ARM_CLIENT_CERTIFICATE_PATH (or client_certificate) must be registered on the application client_id/ARM_CLIENT_ID names".into(),
        ),
        AuthMethod::GitHubOidc => {
            Some(format!("token from {}: {federated}", from(&s.oidc_request_url, "ARM_OIDC_REQUEST_URL")))
        }
        AuthMethod::AzureDevOpsOidc => Some(format!(
            "token of service connection {}: {federated}",
            from(&s.ado_service_connection_id, "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID")
        )),
        AuthMethod::AksWorkloadIdentity => Some(format!(
            "token in AZURE_FEDERATED_TOKEN_FILE for AZURE_CLIENT_ID: {federated} (the cluster's OIDC issuer and the pod's service account)"
        )),
        AuthMethod::Oidc => Some(format!("token in oidc_token/ARM_OIDC_TOKEN or oidc_token_file_path: {federated}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::http::{build_client, TlsProblem, Unreachable};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const SCOPE: &str = "https://management.azure.com/.default";

    fn chain(authority: &str, ca: Option<&str>) -> CredentialChain {
        let settings = Settings {
            tenant_id: Some("00000000-0000-0000-0000-000000000001".into()),
            client_id: Some("00000000-0000-0000-0000-000000000002".into()),
            client_secret: Some("s3cret".into()),
            authority_host: authority.into(),
            ca_certificate: ca.map(str::to_string),
            ..Default::default()
        };
        CredentialChain::new(&settings, build_client(ca).unwrap())
    }

    /// A token endpoint (TLS, trusted through the returned `ca_certificate`) that answers every
    /// request with `status` and an Entra error body, counting the connections it gets (one
    /// per attempt: it closes after answering).
    async fn entra_answering(dir: &std::path::Path, status: u16) -> (String, String, Arc<AtomicUsize>) {
        let (ca, config) = crate::azure::http::tests::trusted_server_config(dir);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let Ok(mut tls) = acceptor.accept(tcp).await else { continue };
                // Read the whole request (headers, then the form body) before answering.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(n) = tls.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                            .unwrap_or(0usize);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let body = r#"{"error":"temporarily_unavailable","error_description":"AADSTS90033: try later","error_codes":[90033]}"#;
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            }
        });
        (url, ca, count)
    }

    #[tokio::test]
    async fn entra_5xx_is_transient_and_4xx_rejected_each_tried_once() {
        for (status, transient) in [(503, true), (500, true), (429, true), (401, false), (400, false)] {
            let dir = tempfile::tempdir().unwrap();
            let (url, ca, count) = entra_answering(dir.path(), status).await;
            let err = chain(&url, Some(&ca)).token(SCOPE).await.unwrap_err();
            match (&err, transient) {
                (TokenError::Transient(m), true) | (TokenError::Rejected(m), false) => {
                    assert!(m.contains("client secret") && m.contains("AADSTS90033"), "{m}")
                }
                _ => panic!("{status}: {err:?}"),
            }
            // The SDK's own retries are off: our ARM client decides.
            assert_eq!(count.load(Ordering::SeqCst), 1, "{status}");
        }
    }

    #[tokio::test]
    async fn a_closed_authority_host_is_unreachable_and_named() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = chain(&format!("https://127.0.0.1:{port}/"), None).token(SCOPE).await.unwrap_err();
        let TokenError::Endpoint(e) = err else { panic!("{err:?}") };
        assert_eq!(e.failure, Failure::Unreachable(Unreachable::Refused));
        assert_eq!(e.attribute, Some("authority_host"));
        assert_eq!(e.endpoint, format!("https://127.0.0.1:{port}"));
        assert!(e.detail.contains("client secret"), "names the method: {}", e.detail);
    }

    #[tokio::test]
    async fn an_untrusted_authority_certificate_is_permanent() {
        let (addr, accepted) = crate::azure::http::tests::untrusted_tls_server().await;
        let err = chain(&format!("https://{addr}/"), None).token(SCOPE).await.unwrap_err();
        let TokenError::Endpoint(e) = err else { panic!("{err:?}") };
        assert_eq!(e.failure, Failure::Tls(TlsProblem::UnknownIssuer));
        assert_eq!(e.attribute, Some("authority_host"));
        assert!(e.to_string().contains("Trusted CAs: the system roots."), "{e}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one handshake, no retries");
    }
}
