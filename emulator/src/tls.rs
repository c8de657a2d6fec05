//! The emulator's certificate authority and server certificate.
//!
//! At start-up the emulator creates (or, with `--ca-dir` pointing at a directory
//! that already holds `ca.pem` + `ca-key.pem`, reuses) a CA, and signs a fresh
//! server certificate for `127.0.0.1`, `localhost` and `::1` with it. Clients
//! trust `ca.pem`. TLS runs on rustls with the aws-lc-rs provider; ALPN offers
//! `h2` and `http/1.1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// The CA written to disk plus a ready-to-use rustls server configuration.
pub struct Tls {
    pub ca_pem: String,
    pub ca_path: PathBuf,
    pub server_config: Arc<rustls::ServerConfig>,
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

fn ca_params() -> Result<CertificateParams, String> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA params", e))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "aksid-emulator local CA");
    dn.push(DnType::OrganizationName, "aksid-emulator");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(3650);
    Ok(p)
}

#[cfg(unix)]
fn write_private(path: &Path, data: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(data.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &str) -> std::io::Result<()> {
    std::fs::write(path, data)
}

/// Create the CA (or load it from `dir`), write `ca.pem`, and build the server config.
pub fn setup(dir: &Path) -> Result<Tls, String> {
    std::fs::create_dir_all(dir).map_err(|e| err(&format!("create {}", dir.display()), e))?;
    let ca_path = dir.join("ca.pem");
    let key_path = dir.join("ca-key.pem");

    let params = ca_params()?;
    let (ca_key, ca_pem) = match (std::fs::read_to_string(&ca_path), std::fs::read_to_string(&key_path)) {
        (Ok(cert), Ok(key)) => {
            let key = KeyPair::from_pem(&key).map_err(|e| err("load ca-key.pem", e))?;
            (key, cert)
        }
        _ => {
            let key = KeyPair::generate().map_err(|e| err("generate CA key", e))?;
            let cert = params.self_signed(&key).map_err(|e| err("self-sign CA", e))?;
            let pem = cert.pem();
            write_private(&key_path, &key.serialize_pem()).map_err(|e| err("write ca-key.pem", e))?;
            std::fs::write(&ca_path, &pem).map_err(|e| err("write ca.pem", e))?;
            (key, pem)
        }
    };
    // A reused CA must be the certificate whose key we hold: re-derive the issuer
    // from our params (same DN) and the loaded key.
    let issuer = Issuer::new(params, ca_key);

    let server_key = KeyPair::generate().map_err(|e| err("generate server key", e))?;
    let mut sp = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string(), "::1".to_string()])
        .map_err(|e| err("server params", e))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    sp.distinguished_name = dn;
    sp.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = OffsetDateTime::now_utc();
    sp.not_before = now - Duration::days(1);
    sp.not_after = now + Duration::days(365);
    let server_cert = sp.signed_by(&server_key, &issuer).map_err(|e| err("sign server certificate", e))?;

    let ca_der =
        rustls::pki_types::pem::PemObject::from_pem_slice(ca_pem.as_bytes()).map_err(|e| err("parse ca.pem", e))?;
    let chain: Vec<CertificateDer<'static>> = vec![server_cert.der().clone(), ca_der];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("TLS versions", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| err("TLS certificate", e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    // Report an absolute path: the ready line is consumed from other directories.
    let ca_path = std::fs::canonicalize(&ca_path).unwrap_or(ca_path);
    Ok(Tls { ca_pem, ca_path, server_config: Arc::new(config) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_and_reuses_ca() {
        let dir = tempfile::tempdir().unwrap();
        let a = setup(dir.path()).unwrap();
        assert!(a.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(dir.path().join("ca-key.pem").exists());
        let b = setup(dir.path()).unwrap();
        assert_eq!(a.ca_pem, b.ca_pem, "the CA is reused from --ca-dir");
        assert_eq!(b.server_config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        // The server certificate issued under the reused CA verifies against ca.pem.
        for name in ["localhost", "127.0.0.1", "::1"] {
            handshake(&b, name);
        }
    }

    /// Run a TLS handshake in memory between a client trusting ca.pem and the server config.
    fn handshake(tls: &Tls, server_name: &str) {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(tls.ca_pem.as_bytes()).unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).unwrap();
        let mut client = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
        let mut server = rustls::ServerConnection::new(tls.server_config.clone()).unwrap();
        for _ in 0..10 {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).unwrap();
            server.read_tls(&mut buf.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            let mut buf = Vec::new();
            server.write_tls(&mut buf).unwrap();
            client.read_tls(&mut buf.as_slice()).unwrap();
            client.process_new_packets().unwrap_or_else(|e| panic!("{server_name}: {e}"));
            if !client.is_handshaking() && !server.is_handshaking() {
                return;
            }
        }
        panic!("{server_name}: handshake did not complete");
    }
}
