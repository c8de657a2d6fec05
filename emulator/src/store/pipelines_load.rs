//! The seed's CI token endpoints and application certificates, checked and stored.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::State;
use crate::seed::Seed;

/// GitHub Actions' token issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

pub(super) fn add_pipelines_and_certificates(st: &mut State, seed: &Seed) -> Result<(), String> {
    for p in &seed.pipelines {
        let mut p = p.clone();
        if p.request_token.trim().is_empty() {
            return Err(format!("pipeline {}: request_token must not be empty", p.subject));
        }
        p.issuer = Some(match (p.kind.as_str(), &p.issuer, &p.service_connection_id) {
            (_, Some(i), _) => i.clone(),
            ("github", None, _) => GITHUB_ISSUER.to_string(),
            ("azure_devops", None, Some(id)) => format!("https://vstoken.dev.azure.com/{id}"),
            ("azure_devops", None, None) => {
                return Err(format!("pipeline {}: azure_devops needs a service_connection_id", p.subject))
            }
            (other, _, _) => {
                return Err(format!("pipeline {}: kind {other:?} is not github or azure_devops", p.subject))
            }
        });
        st.pipelines.push(p);
    }
    for sp in &seed.service_principals {
        let mut ders = Vec::new();
        for c in &sp.certificates {
            ders.push(certificate_der(c).map_err(|e| format!("service principal {}: {e}", sp.display_name))?);
        }
        if !ders.is_empty() {
            st.app_certificates.insert(sp.client_id.to_ascii_lowercase(), ders);
        }
    }
    Ok(())
}

/// PEM (`-----BEGIN CERTIFICATE-----`) or bare base64 of a DER certificate.
fn certificate_der(text: &str) -> Result<Vec<u8>, String> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    let der = STANDARD.decode(body).map_err(|e| format!("certificate is neither PEM nor base64: {e}"))?;
    x509_parser::parse_x509_certificate(&der).map_err(|e| format!("certificate does not parse: {e}"))?;
    Ok(der)
}
