//! Client assertions signed with a certificate registered on the application: the JWT names
//! the certificate by thumbprint (`x5t#S256` or `x5t`) and is signed RS256 or PS256 with its
//! key; `iss` and `sub` are the client id and `aud` the token endpoint.

use aws_lc_rs::{digest, signature};
use serde_json::Value;
use time::OffsetDateTime;

use crate::errors::AadError;
use crate::util::{b64url, b64url_decode, unix};

/// Whether an assertion's claims are a certificate's (self-issued by the client).
pub fn is_self_issued(claims: &serde_json::Map<String, Value>, client_id: &str) -> bool {
    let s = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    s("iss") == client_id.to_ascii_lowercase() && s("sub") == client_id.to_ascii_lowercase()
}

fn invalid(code: u32, msg: impl Into<String>) -> AadError {
    AadError::new(401, "invalid_client", code, msg)
}

/// Check the assertion against the DER certificates registered for `client_id`.
pub fn verify(
    assertion: &str,
    certificates: &[Vec<u8>],
    client_id: &str,
    token_url_suffix: &str,
    now: OffsetDateTime,
) -> Result<(), AadError> {
    let malformed = || AadError::new(400, "invalid_client", 50027, "JWT token is invalid or malformed.");
    let (input, sig) = assertion.rsplit_once('.').ok_or_else(malformed)?;
    let (header, _) = input.split_once('.').ok_or_else(malformed)?;
    let header: Value = b64url_decode(header).and_then(|h| serde_json::from_slice(&h).ok()).ok_or_else(malformed)?;
    let claims = super::decode_payload(assertion).ok_or_else(malformed)?;
    let thumb = |k: &str| header.get(k).and_then(Value::as_str).map(str::to_string);
    let cert = certificates.iter().find(|der| {
        thumb("x5t#S256") == Some(b64url(digest::digest(&digest::SHA256, der).as_ref()))
            || thumb("x5t") == Some(b64url(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref()))
    });
    let Some(cert) = cert else {
        return Err(invalid(
            700027,
            format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'.]", thumb("x5t#S256").or_else(|| thumb("x5t")).unwrap_or_default()),
        ));
    };
    let alg: &dyn signature::VerificationAlgorithm = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
        Some("PS256") => &signature::RSA_PSS_2048_8192_SHA256,
        _ => {
            return Err(invalid(
                700027,
                "Client assertion contains an invalid signature. [Reason - The algorithm is not supported.]",
            ))
        }
    };
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).map_err(|_| malformed())?;
    let public = parsed.public_key().subject_public_key.data.to_vec();
    let sig = b64url_decode(sig).ok_or_else(malformed)?;
    signature::UnparsedPublicKey::new(alg, public)
        .verify(input.as_bytes(), &sig)
        .map_err(|_| invalid(700027, "Client assertion failed signature validation."))?;
    let aud = claims.get("aud").and_then(Value::as_str).unwrap_or_default();
    if !aud.trim_end_matches('/').ends_with(token_url_suffix) {
        return Err(invalid(700021, format!("Client assertion audience claim does not match Realm issuer. Review the documentation at https://aka.ms/certCredentials . Audience: '{aud}'")));
    }
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(malformed)?;
    if exp <= unix(now) {
        return Err(invalid(700024, "Client assertion is not within its valid time range."));
    }
    Ok(())
}
