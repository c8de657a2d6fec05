//! The one HTTP client the provider uses for Entra and ARM: rustls with the system roots plus,
//! when `ca_certificate` is set, the CA certificates from that PEM file.

use std::time::Duration;

pub fn build_client(ca_certificate: Option<&str>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("terraform-provider-aksid/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(120));
    if let Some(path) = ca_certificate {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read ca_certificate {path:?}: {e}"))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("ca_certificate {path:?} is not a PEM certificate bundle: {e}"))?;
        if certs.is_empty() {
            return Err(format!("ca_certificate {path:?} holds no certificate"));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| format!("cannot build the HTTP client: {e}"))
}
