//! Client assertions for `azure_identity::ClientAssertionCredential`, which asks for one per
//! Entra token request: a token given directly, one fetched from GitHub Actions' or Azure
//! DevOps' OIDC endpoint, or an RS256 JWT signed with a PKCS#12 client certificate (the SDK
//! only has certificates over OpenSSL).
//!
//! Errors name the variable or argument the user set, never a secret's value.

use std::fmt;

use aws_lc_rs::{digest, rand::SystemRandom, rsa::KeyPair, signature};
use azure_core::credentials::Secret;
use azure_core::error::ErrorKind;
use azure_core::http::{ClientMethodOptions, StatusCode};
use azure_identity::ClientAssertion;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// The audience Entra expects in federated tokens.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The Azure DevOps OIDC API version azurerm and the Azure SDKs use.
const ADO_API_VERSION: &str = "7.1";
/// Lifetime of a certificate assertion (Entra accepts at most ten minutes' skew).
const ASSERTION_SECS: i64 = 600;

/// A federated token given directly (`oidc_token`).
#[derive(Debug)]
pub struct StaticToken(pub Secret);

#[async_trait::async_trait]
impl ClientAssertion for StaticToken {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        Ok(self.0.secret().to_string())
    }
}

/// Which CI system's token endpoint, with the names its settings came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET {url}&audience=…` → `{"value": "<jwt>"}`.
    GitHub,
    /// `POST {url}?api-version=7.1&serviceConnectionId=…` → `{"oidcToken": "<jwt>"}`.
    AzureDevOps { service_connection_id: String },
}

/// Asks a CI system's OIDC endpoint for a token for each Entra request (the tokens are short
/// lived, and the pipeline may run longer than one).
pub struct RequestedToken {
    pub endpoint: Endpoint,
    pub url: url::Url,
    /// Where the URL came from (argument or variable name), for messages.
    pub url_from: String,
    pub token: Secret,
    pub token_from: String,
    pub http: reqwest::Client,
}

impl fmt::Debug for RequestedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestedToken").field("endpoint", &self.endpoint).field("url_from", &self.url_from).finish()
    }
}

impl RequestedToken {
    /// The URL without its query (which may carry run identifiers), for messages.
    fn shown_url(&self) -> String {
        let mut u = self.url.clone();
        u.set_query(None);
        u.to_string()
    }

    fn request(&self) -> reqwest::RequestBuilder {
        let mut url = self.url.clone();
        match &self.endpoint {
            Endpoint::GitHub => {
                url.query_pairs_mut().append_pair("audience", FEDERATED_AUDIENCE);
                self.http.get(url)
            }
            Endpoint::AzureDevOps { service_connection_id } => {
                url.query_pairs_mut()
                    .append_pair("api-version", ADO_API_VERSION)
                    .append_pair("serviceConnectionId", service_connection_id);
                // Without it, a rejected token is answered with a sign-in redirect.
                self.http.post(url).header("X-TFS-FedAuthRedirect", "Suppress").body("")
            }
        }
        .bearer_auth(self.token.secret())
        .header(reqwest::header::ACCEPT, "application/json")
    }
}

#[async_trait::async_trait]
impl ClientAssertion for RequestedToken {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        let shown = self.shown_url();
        let resp = self.request().send().await.map_err(|e| {
            azure_core::Error::with_error(
                ErrorKind::Io,
                e,
                format!("the token request to {shown} ({}) failed", self.url_from),
            )
        })?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            let hint = match status {
                401 | 403 => format!(": check {}", self.token_from),
                404 => format!(": check {} and the service connection id", self.url_from),
                _ => String::new(),
            };
            return Err(azure_core::Error::with_message(
                ErrorKind::HttpResponse { status: StatusCode::from(status), error_code: None, raw_response: None },
                format!("the token request to {shown} ({}) was answered {status}{hint}", self.url_from),
            ));
        }
        let field = match self.endpoint {
            Endpoint::GitHub => "value",
            Endpoint::AzureDevOps { .. } => "oidcToken",
        };
        let body: serde_json::Value = resp.json().await.map_err(|e| {
            azure_core::Error::with_error(ErrorKind::DataConversion, e, format!("{shown} did not answer JSON"))
        })?;
        body.get(field).and_then(|v| v.as_str()).filter(|v| !v.is_empty()).map(str::to_string).ok_or_else(|| {
            azure_core::Error::with_message(
                ErrorKind::DataConversion,
                format!("the answer of {shown} ({}) has no \"{field}\"", self.url_from),
            )
        })
    }
}

/// Signs a fresh client assertion with a certificate's RSA key for each token request.
pub struct CertificateAssertion {
    key: KeyPair,
    /// base64url SHA-256 and SHA-1 thumbprints of the certificate (`x5t#S256`, `x5t`).
    x5t_s256: String,
    x5t: String,
    client_id: String,
    /// The token endpoint, which Entra expects as `aud`.
    audience: String,
}

impl fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertion").field("x5t#S256", &self.x5t_s256).finish_non_exhaustive()
    }
}

/// Where the certificate comes from, for messages.
pub const CERT_SOURCES: &str =
    "client_certificate_path/ARM_CLIENT_CERTIFICATE_PATH or client_certificate/ARM_CLIENT_CERTIFICATE";
const PASSWORD_SOURCE: &str = "client_certificate_password/ARM_CLIENT_CERTIFICATE_PASSWORD";

impl CertificateAssertion {
    /// Open a PKCS#12 file's first key and certificate. `source` names where it came from.
    pub fn new(
        pfx: &[u8],
        password: Option<&str>,
        client_id: &str,
        audience: String,
    ) -> Result<CertificateAssertion, String> {
        use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
        let store = KeyStore::from_pkcs12(pfx, password.unwrap_or_default(), Pkcs12ImportPolicy::Relaxed)
            .map_err(|e| {
                let why = if password.is_some() { "the password is wrong or" } else { "it needs a password, or" };
                format!("cannot open the certificate ({CERT_SOURCES}) with {PASSWORD_SOURCE}: {why} it is not PKCS#12 ({e})")
            })?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| format!("the certificate ({CERT_SOURCES}) holds no private key"))?;
        let cert = chain
            .certs()
            .first()
            .ok_or_else(|| format!("the certificate ({CERT_SOURCES}) holds a key but no certificate"))?;
        let key = KeyPair::from_pkcs8(chain.key().as_der())
            .map_err(|e| format!("the key of the certificate ({CERT_SOURCES}) is not a usable RSA key: {e}"))?;
        let der = cert.as_der();
        Ok(CertificateAssertion {
            key,
            x5t_s256: URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, der)),
            x5t: URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der)),
            client_id: client_id.to_string(),
            audience,
        })
    }

    /// The PKCS#12 bytes: a file, or base64 data.
    pub fn read(path: Option<&str>, data: Option<&str>) -> Result<Vec<u8>, String> {
        match (path, data) {
            (Some(p), _) => std::fs::read(p)
                .map_err(|e| format!("cannot read client_certificate_path/ARM_CLIENT_CERTIFICATE_PATH {p:?}: {e}")),
            (None, Some(d)) => STANDARD
                .decode(d.trim())
                .map_err(|e| format!("client_certificate/ARM_CLIENT_CERTIFICATE is not base64: {e}")),
            (None, None) => Err(format!("{CERT_SOURCES} is not set")),
        }
    }

    fn sign(&self) -> Result<String, String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t#S256": self.x5t_s256, "x5t": self.x5t});
        let claims = serde_json::json!({
            "aud": self.audience, "iss": self.client_id, "sub": self.client_id,
            "jti": uuid::Uuid::new_v4().to_string(), "iat": now, "nbf": now, "exp": now + ASSERTION_SECS,
        });
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .map_err(|_| "signing the client assertion failed".to_string())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        self.sign().map_err(|m| azure_core::Error::with_message(ErrorKind::Credential, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PKCS#12 file of a fresh RSA key and self-signed certificate.
    pub fn pfx(password: &str) -> (Vec<u8>, Vec<u8>) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["aksid-test".into()]).unwrap().self_signed(&key).unwrap();
        let chain = p12_keystore::PrivateKeyChain::new(
            vec![1u8; 20],
            p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap(),
            [p12_keystore::Certificate::from_der(cert.der()).unwrap()],
        );
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry("aksid", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        (store.writer(password).write().unwrap(), cert.der().to_vec())
    }

    #[test]
    fn certificate_assertion_is_rs256_with_thumbprint_and_verifies() {
        let (pfx, der) = pfx("pw");
        let a =
            CertificateAssertion::new(&pfx, Some("pw"), "client", "https://login/t/oauth2/v2.0/token".into()).unwrap();
        let jwt = a.sign().unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t#S256"], URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &der)));
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!((claims["iss"].as_str(), claims["sub"].as_str()), (Some("client"), Some("client")));
        assert_eq!(claims["aud"], "https://login/t/oauth2/v2.0/token");
        let public = signature::KeyPair::public_key(&a.key).as_ref().to_vec();
        let key = signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public);
        let input = format!("{}.{}", parts[0], parts[1]);
        key.verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).expect("valid signature");
    }

    #[test]
    fn a_wrong_password_names_the_variable_not_the_password() {
        let (pfx, _) = pfx("right-password");
        let e = CertificateAssertion::new(&pfx, Some("wrong-password"), "c", "a".into()).unwrap_err();
        assert!(e.contains("ARM_CLIENT_CERTIFICATE_PASSWORD") && e.contains("password is wrong"), "{e}");
        assert!(!e.contains("wrong-password") && !e.contains("right-password"), "{e}");
    }
}
