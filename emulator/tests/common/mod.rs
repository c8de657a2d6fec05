//! Helpers shared by the integration tests: start an in-process emulator and talk
//! to it over real TLS with a client that trusts only the emulator's CA.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aksid_emulator::{start, Options, Seed, Server};
use serde_json::Value;

pub struct Emu {
    pub server: Server,
    pub client: reqwest::Client,
    pub base: String,
    pub _dir: tempfile::TempDir,
}

/// A reqwest client whose only trust anchor is the given CA (rustls on aws-lc-rs).
pub fn client_for(ca_pem_path: &Path) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let pem = std::fs::read(ca_pem_path).expect("CA PEM written");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.expect("valid PEM")).expect("CA accepted");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder().use_preconfigured_tls(cfg).build().expect("client")
}

pub async fn start_with(seed: Value, state: Option<PathBuf>) -> Emu {
    let dir = tempfile::tempdir().unwrap();
    let seed: Seed = serde_json::from_value(seed).expect("seed parses");
    let server = start(Options {
        addr: "127.0.0.1:0".parse().unwrap(),
        seed,
        state_path: state,
        ca_dir: Some(dir.path().join("ca")),
    })
    .await
    .expect("emulator starts");
    let client = client_for(Path::new(&server.info.ca_certificate));
    let base = server.info.arm_endpoint.trim_end_matches('/').to_string();
    Emu { server, client, base, _dir: dir }
}

impl Emu {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            format!("{}/{path}", self.base)
        }
    }

    /// Client-credentials token through the real token endpoint.
    pub async fn token(&self, tenant: &str, client_id: &str, secret: &str) -> String {
        let resp = self
            .client
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", "https://management.azure.com/.default"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "token request failed");
        let v: Value = resp.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    /// Send a request; returns (status, JSON body or Null).
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.client.request(m, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, v)
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call(method, &format!("/_admin{path}"), None, body).await
    }
}

pub mod kube;
