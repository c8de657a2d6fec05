//! AutoMTLS as go-plugin does it: Terraform hands us its client certificate in
//! `PLUGIN_CLIENT_CERT`; we answer with a fresh self-signed server certificate in the handshake
//! line and accept only connections that present exactly Terraform's certificate.
//!
//! Terraform's certificate is ECDSA P-521 and flagged as a CA. webpki refuses a CA certificate
//! as a client leaf, and only the aws-lc-rs backend verifies P-521 signatures, so instead of a
//! chain-validating verifier we pin the certificate bytes and check the handshake signature
//! with aws-lc-rs ourselves.

use std::sync::Arc;

use base64::Engine as _;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, ServerConfig, SignatureScheme};

/// The crypto backend for everything TLS in this process.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Our server identity for one process lifetime.
pub struct ServerIdentity {
    pub cert_der: CertificateDer<'static>,
    key_der: PrivatePkcs8KeyDer<'static>,
}

impl ServerIdentity {
    /// A new self-signed ECDSA P-256 certificate for `localhost` (the name Terraform verifies).
    pub fn generate() -> Result<Self, rcgen::Error> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
        params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "terraform-provider-aksid");
        // Terraform trusts exactly this certificate as its root, so it acts as its own CA.
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(1);
        params.not_after = now + time::Duration::days(365);
        let cert = params.self_signed(&key)?;
        Ok(ServerIdentity { cert_der: cert.der().clone(), key_der: PrivatePkcs8KeyDer::from(key.serialize_der()) })
    }

    /// The certificate as go-plugin expects it in the handshake line: DER, standard base64
    /// alphabet, no padding.
    pub fn handshake_cert(&self) -> String {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(self.cert_der.as_ref())
    }

    /// A server config that requires the client to present `client_cert_der`.
    pub fn server_config(&self, client_cert_der: CertificateDer<'static>) -> Result<ServerConfig, Error> {
        let provider = crypto_provider();
        let verifier = Arc::new(PinnedClientCert {
            cert: client_cert_der,
            algorithms: provider.signature_verification_algorithms,
        });
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.cert_der.clone()], PrivateKeyDer::Pkcs8(self.key_der.clone_key()))?;
        // grpc-go ≥1.67 refuses TLS connections that did not negotiate h2.
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

/// Parse the PEM certificate Terraform passes in `PLUGIN_CLIENT_CERT`.
pub fn parse_client_cert(pem: &str) -> Result<CertificateDer<'static>, String> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("PLUGIN_CLIENT_CERT does not hold a PEM certificate: {e:?}"))
}

/// Accepts exactly one client certificate, byte for byte, and verifies that the client holds
/// its private key (the handshake signature).
#[derive(Debug)]
struct PinnedClientCert {
    cert: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: Go then offers its only certificate.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_cert_is_unpadded_base64_der() {
        let id = ServerIdentity::generate().unwrap();
        let b64 = id.handshake_cert();
        assert!(!b64.ends_with('='));
        assert!(b64.len() > 50, "go-plugin ignores a cert field of 50 characters or less");
        let der = base64::engine::general_purpose::STANDARD_NO_PAD.decode(&b64).unwrap();
        assert_eq!(der, id.cert_der.as_ref());
    }

    #[test]
    fn verifier_pins_exact_bytes_and_offers_p521() {
        let a = ServerIdentity::generate().unwrap();
        let b = ServerIdentity::generate().unwrap();
        let v = PinnedClientCert {
            cert: a.cert_der.clone(),
            algorithms: crypto_provider().signature_verification_algorithms,
        };
        assert!(v.verify_client_cert(&a.cert_der, &[], UnixTime::now()).is_ok());
        assert!(v.verify_client_cert(&b.cert_der, &[], UnixTime::now()).is_err());
        assert!(v.client_auth_mandatory());
        assert!(v.supported_verify_schemes().contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }

    #[test]
    fn client_cert_pem_parsing_reports_problems() {
        assert!(parse_client_cert("").is_err());
        assert!(parse_client_cert("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").is_err());
    }
}
