//! Entra ID (AAD) token endpoint, the App-Service-style managed identity endpoint,
//! and the access tokens both issue.
//!
//! Access tokens are JWTs signed with HMAC-SHA256 under a key kept in the store
//! (persisted with `--state`, so tokens survive restarts). Only this emulator can
//! verify them; clients treat them as opaque, like real tokens.

use std::sync::Arc;

use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::app::App;
use crate::errors::{json_response, AadError, ArmError};
use crate::reqlog::CallerOid;
use crate::store::{Caller, Principal, Store};
use crate::util::{aad_timestamp, b64url, b64url_decode, unix};

mod certificate;
pub mod pipelines;

pub const FIC_AUDIENCE: &str = "api://AzureADTokenExchange";
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Audiences ARM accepts.
pub const ARM_AUDIENCES: [&str; 4] = [
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];

fn hmac_key(key_b64: &str) -> hmac::Key {
    let raw = b64url_decode(key_b64).unwrap_or_else(|| key_b64.as_bytes().to_vec());
    hmac::Key::new(hmac::HMAC_SHA256, &raw)
}

/// Sign a JWT with the store's key.
pub fn mint_token(key_b64: &str, claims: &Value) -> String {
    let header = json!({"typ": "JWT", "alg": "HS256", "kid": "aksid-emulator"});
    let signing_input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let tag = hmac::sign(&hmac_key(key_b64), signing_input.as_bytes());
    format!("{signing_input}.{}", b64url(tag.as_ref()))
}

/// Decode a JWT's payload without verifying anything.
pub fn decode_payload(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (_h, p, _s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = b64url_decode(p)?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Verify signature and structure of a token issued by this emulator; returns its claims.
pub fn verify_token(key_b64: &str, token: &str) -> Option<Map<String, Value>> {
    let (signing_input, sig) = token.rsplit_once('.')?;
    let sig = b64url_decode(sig)?;
    hmac::verify(&hmac_key(key_b64), signing_input.as_bytes(), &sig).ok()?;
    decode_payload(token)
}

/// Claims for an access token issued to `p` for audience `aud`.
pub fn token_claims(p: &Principal, aud: &str, now: OffsetDateTime, lifetime: u64, appidacr: &str) -> Value {
    let iat = unix(now);
    let exp = iat.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
    let iss = format!("https://sts.windows.net/{}/", p.tenant_id);
    let mut c = json!({
        "aud": aud,
        "iss": iss,
        "idp": iss,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "appid": p.app_id.clone().unwrap_or_default(),
        "appidacr": appidacr,
        "idtyp": "app",
        "oid": p.object_id,
        "sub": p.object_id,
        "tid": p.tenant_id,
        "uti": uuid::Uuid::new_v4().simple().to_string(),
        "ver": "1.0",
    });
    if let Some(rid) = &p.identity_resource_id {
        c["xms_mirid"] = json!(rid);
    }
    c
}

/// Authenticate an ARM request from its `Authorization` header.
pub fn authenticate_arm(store: &Store, headers: &HeaderMap, now: OffsetDateTime) -> Result<Caller, ArmError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ArmError::new(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let value = value.to_str().unwrap_or_default().trim();
    let token = match value.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => t.trim(),
        _ => {
            return Err(ArmError::new(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            ))
        }
    };
    let invalid = || ArmError::new(401, "InvalidAuthenticationToken", "The access token is invalid.");
    let claims = verify_token(&store.state.token_key, token).ok_or_else(invalid)?;
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(invalid)?;
    if exp <= unix(now) {
        let fmt = |t: i64| {
            OffsetDateTime::from_unix_timestamp(t)
                .map(|t| {
                    format!(
                        "{}/{}/{} {}:{:02}:{:02} {}",
                        u8::from(t.month()),
                        t.day(),
                        t.year(),
                        if t.hour() % 12 == 0 { 12 } else { t.hour() % 12 },
                        t.minute(),
                        t.second(),
                        if t.hour() < 12 { "AM" } else { "PM" }
                    )
                })
                .unwrap_or_default()
        };
        return Err(ArmError::new(
            401,
            "ExpiredAuthenticationToken",
            format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                fmt(exp),
                fmt(unix(now))
            ),
        ));
    }
    let aud = claims.get("aud").and_then(Value::as_str).unwrap_or_default();
    if !ARM_AUDIENCES.contains(&aud) {
        return Err(ArmError::new(
            401,
            "InvalidAuthenticationTokenAudience",
            format!(
                "The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."
            ),
        ));
    }
    let s = |k: &str| claims.get(k).and_then(Value::as_str).map(String::from);
    let oid = s("oid").ok_or_else(invalid)?;
    let tid = s("tid").ok_or_else(invalid)?;
    Ok(Caller { oid, tid, appid: s("appid").filter(|a| !a.is_empty()) })
}

fn form(body: &[u8]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in form_urlencoded::parse(body) {
        m.entry(k.into_owned()).or_insert(Value::String(v.into_owned()));
    }
    m
}

fn missing_param(name: &str) -> AadError {
    AadError::new(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// A non-empty, trimmed form parameter.
fn param<'f>(form: &'f Map<String, Value>, name: &str) -> Option<&'f str> {
    form.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// The pure part of the token endpoint: validate the form and pick the principal.
/// Returns the principal, the token audience and the `appidacr` value (`1` for a secret, `2`
/// for a federated assertion).
pub fn check_client_credentials(
    store: &Store,
    tenant: &str,
    form: &Map<String, Value>,
    now: OffsetDateTime,
) -> Result<(Principal, String, &'static str), AadError> {
    let t = known_tenant(store, tenant)?;
    let grant = param(form, "grant_type").ok_or_else(|| missing_param("grant_type"))?;
    if grant != "client_credentials" {
        return Err(AadError::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        ));
    }
    let client_id = param(form, "client_id").ok_or_else(|| missing_param("client_id"))?;
    let aud = requested_audience(form)?;
    let p = store
        .principal_by_app_id(client_id)
        .filter(|p| p.tenant_id.eq_ignore_ascii_case(&t.id))
        .filter(|p| p.available_at <= now)
        .ok_or_else(|| unknown_client(client_id, &t.display_name))?;

    if let Some(secret) = param(form, "client_secret") {
        if p.secrets.iter().any(|s| s == secret) {
            return Ok((p.clone(), aud, "1"));
        }
        return Err(AadError::new(
            401,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        ));
    }
    if let Some(raw) = param(form, "client_assertion") {
        if decode_payload(raw).is_some_and(|c| certificate::is_self_issued(&c, client_id)) {
            if param(form, "client_assertion_type") != Some(ASSERTION_TYPE) {
                return Err(missing_param("client_assertion_type"));
            }
            let certs = store.state.app_certificates.get(&client_id.to_ascii_lowercase());
            let suffix = format!("/{tenant}/oauth2/v2.0/token");
            certificate::verify(raw, certs.map(Vec::as_slice).unwrap_or_default(), client_id, &suffix, now)?;
            return Ok((p.clone(), aud, "2"));
        }
    }
    let assertion = Assertion::from_form(form)?;
    assertion.check_time_and_audience(now)?;
    assertion.check_federated_with(store, p)?;
    Ok((p.clone(), aud, "2"))
}

fn known_tenant<'s>(store: &'s Store, tenant: &str) -> Result<&'s crate::store::Tenant, AadError> {
    store.tenant(tenant).ok_or_else(|| {
        AadError::new(
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    })
}

/// The audience of the token asked for: the resource of the single `{resource}/.default`
/// scope that client credential flows allow.
fn requested_audience(form: &Map<String, Value>) -> Result<String, AadError> {
    let scope = param(form, "scope").ok_or_else(|| missing_param("scope"))?;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let resource = match scopes.as_slice() {
        [one] if one.ends_with("/.default") => one.trim_end_matches(".default").trim_end_matches('/').to_string(),
        [one] => {
            return Err(AadError::new(
                400,
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {one} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            ))
        }
        _ => {
            return Err(AadError::new(
                400,
                "invalid_scope",
                70011,
                format!("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."),
            ))
        }
    };
    // A scope like `https://management.core.windows.net//.default` names the
    // resource with its trailing slash.
    Ok(if scope.ends_with("//.default") { format!("{resource}/") } else { resource })
}

fn unknown_client(client_id: &str, tenant_name: &str) -> AadError {
    AadError::new(
        400,
        "unauthorized_client",
        700016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant_name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

fn malformed_assertion() -> AadError {
    AadError::new(400, "invalid_client", 50027, "JWT token is invalid or malformed.")
}

/// The claims of a federated client assertion that the token endpoint checks.
struct Assertion {
    iss: String,
    sub: String,
    auds: Vec<String>,
    exp: i64,
    /// `nbf`, else `iat`, else `exp`: only shown in the expiry message.
    valid_from: i64,
}

impl Assertion {
    /// The `client_assertion` of the form (with the JWT-bearer assertion type), decoded.
    fn from_form(form: &Map<String, Value>) -> Result<Assertion, AadError> {
        let Some(assertion) = param(form, "client_assertion") else {
            return Err(AadError::new(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        };
        if param(form, "client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(missing_param("client_assertion_type"));
        }
        let claims = decode_payload(assertion).ok_or_else(malformed_assertion)?;
        let cs = |k: &str| claims.get(k).and_then(Value::as_str).map(String::from);
        let (Some(iss), Some(sub)) = (cs("iss"), cs("sub")) else {
            return Err(malformed_assertion());
        };
        let auds: Vec<String> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(String::from).collect(),
            _ => return Err(malformed_assertion()),
        };
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(malformed_assertion)?;
        let valid_from = claims.get("nbf").or_else(|| claims.get("iat")).and_then(Value::as_i64).unwrap_or(exp);
        Ok(Assertion { iss, sub, auds, exp, valid_from })
    }

    /// Meant for the token exchange audience, and not expired.
    fn check_time_and_audience(&self, now: OffsetDateTime) -> Result<(), AadError> {
        if !self.auds.iter().any(|a| a == FIC_AUDIENCE) {
            return Err(AadError::new(
                400,
                "invalid_client",
                700212,
                format!(
                    "No matching federated identity record found for presented assertion audience '{}'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion.",
                    self.auds.join(",")
                ),
            ));
        }
        if self.exp <= unix(now) {
            let show = |t: i64| OffsetDateTime::from_unix_timestamp(t).map(aad_timestamp).unwrap_or_default();
            return Err(AadError::new(
                400,
                "invalid_client",
                700024,
                format!(
                    "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
                    show(unix(now)),
                    show(self.valid_from),
                    show(self.exp)
                ),
            ));
        }
        Ok(())
    }

    /// Trusted by the principal itself, or by a federated credential of the managed identity
    /// behind it.
    fn check_federated_with(&self, store: &Store, p: &Principal) -> Result<(), AadError> {
        let (iss, sub, auds) = (&self.iss, &self.sub, &self.auds);
        let sp_match = p.federated.iter().any(|f| &f.issuer == iss && &f.subject == sub);
        let fic_match = p.identity_resource_id.as_deref().and_then(|rid| store.identity(rid)).is_some_and(|i| {
            i.fics.iter().any(|f| &f.issuer == iss && &f.subject == sub && f.audiences.iter().any(|a| auds.contains(a)))
        });
        if sp_match || fic_match {
            return Ok(());
        }
        Err(AadError::new(
            400,
            "invalid_client",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
                auds.join(",")
            ),
        ))
    }
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
    resp
}

/// `POST /{tenant}/oauth2/v2.0/token`
pub async fn token_endpoint(State(app): State<Arc<App>>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let now = OffsetDateTime::now_utc();
    let form = form(&body);
    let result = app.read(|s| {
        check_client_credentials(s, &tenant, &form, now).map(|(p, aud, acr)| {
            let lifetime = s.settings().token_lifetime_secs;
            let claims = token_claims(&p, &aud, now, lifetime, acr);
            (mint_token(&s.state.token_key, &claims), lifetime, p.object_id)
        })
    });
    match result {
        Ok((token, lifetime, oid)) => {
            let mut resp = no_store(json_response(
                200,
                &json!({
                    "token_type": "Bearer",
                    "expires_in": lifetime,
                    "ext_expires_in": lifetime,
                    "access_token": token,
                }),
            ));
            resp.extensions_mut().insert(CallerOid(oid));
            resp
        }
        Err(e) => no_store(e.into_response()),
    }
}

fn msi_error(status: u16, msg: &str) -> Response {
    json_response(
        status,
        &json!({"error": "invalid_request", "error_description": msg, "statusCode": status, "message": msg}),
    )
}

/// `GET /msi/token?api-version=2019-08-01&resource=…[&client_id|object_id|mi_res_id]`
pub async fn msi_endpoint(State(app): State<Arc<App>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let now = OffsetDateTime::now_utc();
    let presented = headers.get("x-identity-header").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if presented.is_empty() {
        return msi_error(400, "The 'X-IDENTITY-HEADER' header is required.");
    }
    if !crate::util::constant_time_eq(presented.as_bytes(), app.identity_header.as_bytes()) {
        return msi_error(401, "The 'X-IDENTITY-HEADER' header does not match.");
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    if get("api-version").is_none() {
        return msi_error(400, "The 'api-version' query parameter is required.");
    }
    let Some(resource) = get("resource").filter(|r| !r.is_empty()) else {
        return msi_error(400, "The 'resource' query parameter is required.");
    };
    let aud = resource.strip_suffix("/.default").unwrap_or(&resource).to_string();
    let result = app.read(|s| {
        let p = if let Some(cid) = get("client_id") {
            s.principal_by_app_id(&cid)
        } else if let Some(oid) = get("object_id").or_else(|| get("principal_id")) {
            s.principal(&oid)
        } else if let Some(rid) = get("mi_res_id").or_else(|| get("msi_res_id")) {
            s.identity(&rid).and_then(|i| s.principal(&i.principal_id))
        } else {
            s.settings().default_managed_identity.as_deref().and_then(|c| s.principal_by_app_id(c))
        };
        let p =
            p.cloned().ok_or("No managed identity matches the request (and no default_managed_identity is set).")?;
        let lifetime = s.settings().token_lifetime_secs;
        let claims = token_claims(&p, &aud, now, lifetime, "2");
        Ok::<_, &str>((mint_token(&s.state.token_key, &claims), lifetime, p))
    });
    match result {
        Ok((token, lifetime, p)) => {
            let expires_on = unix(now).saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
            let mut resp = json_response(
                200,
                &json!({
                    "access_token": token,
                    "expires_on": expires_on.to_string(),
                    "resource": resource,
                    "token_type": "Bearer",
                    "client_id": p.app_id.clone().unwrap_or_default(),
                }),
            );
            resp.extensions_mut().insert(CallerOid(p.object_id));
            no_store(resp)
        }
        Err(msg) => msi_error(400, msg),
    }
}

#[cfg(test)]
mod token_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PrincipalKind;

    #[test]
    fn tokens_roundtrip_and_reject_tampering() {
        let key = crate::util::random_secret();
        let t = mint_token(&key, &json!({"oid": "a", "exp": 5}));
        let c = verify_token(&key, &t).unwrap();
        assert_eq!(c["oid"], "a");
        assert!(verify_token(&crate::util::random_secret(), &t).is_none());
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = b64url(br#"{"oid":"b","exp":5}"#);
        parts[1] = &forged;
        assert!(verify_token(&key, &parts.join(".")).is_none());
        assert!(verify_token(&key, "garbage").is_none());
        assert!(verify_token(&key, "a.b.c.d").is_none());
    }

    #[test]
    fn claims_carry_identity() {
        let p = Principal {
            object_id: "o".into(),
            kind: PrincipalKind::ServicePrincipal,
            display_name: "x".into(),
            tenant_id: "t".into(),
            app_id: Some("app".into()),
            secrets: vec![],
            federated: vec![],
            identity_resource_id: None,
            available_at: OffsetDateTime::UNIX_EPOCH,
        };
        let c = token_claims(&p, "https://management.azure.com", OffsetDateTime::UNIX_EPOCH, 100, "1");
        assert_eq!(c["oid"], "o");
        assert_eq!(c["tid"], "t");
        assert_eq!(c["appid"], "app");
        assert_eq!(c["exp"], 100);
        assert_eq!(c["iat"], 0);
    }
}
