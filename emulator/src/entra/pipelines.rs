//! CI systems' OIDC token endpoints, which mint the federated tokens pipelines exchange at
//! Entra: GitHub Actions' (`GET {ACTIONS_ID_TOKEN_REQUEST_URL}&audience=…` with
//! `Authorization: Bearer {ACTIONS_ID_TOKEN_REQUEST_TOKEN}` → `{"value": jwt}`) and Azure
//! DevOps' (`POST {SYSTEM_OIDCREQUESTURI}?api-version=7.1&serviceConnectionId=…` with
//! `Authorization: Bearer {SYSTEM_ACCESSTOKEN}` → `{"oidcToken": jwt}`). The tokens carry the
//! issuer and subject seeded for the pipeline, so Entra's federated credential check applies.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use serde_json::json;
use time::OffsetDateTime;

use super::{mint_token, FIC_AUDIENCE};
use crate::app::App;
use crate::errors::json_response;
use crate::seed::SeedPipeline;
use crate::util::{constant_time_eq, unix};

/// Lifetime of minted CI tokens (GitHub's are valid for minutes).
const TOKEN_SECS: i64 = 300;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn query(q: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The seeded pipeline of `kind` whose request token is presented.
fn caller(app: &App, headers: &HeaderMap, kind: &str) -> Option<SeedPipeline> {
    let presented = bearer(headers)?;
    app.read(|s| {
        s.state
            .pipelines
            .iter()
            .find(|p| p.kind == kind && constant_time_eq(p.request_token.as_bytes(), presented.as_bytes()))
            .cloned()
    })
}

fn mint(app: &App, p: &SeedPipeline, aud: &str) -> String {
    let now = unix(OffsetDateTime::now_utc());
    let claims = json!({
        "iss": p.issuer.clone().unwrap_or_default(), "sub": p.subject, "aud": aud,
        "iat": now, "nbf": now, "exp": now + TOKEN_SECS, "jti": uuid::Uuid::new_v4().to_string(),
    });
    app.read(|s| mint_token(&s.state.token_key, &claims))
}

/// `GET /github/idtoken?api-version=2.0&audience=…`
pub async fn github_endpoint(State(app): State<Arc<App>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let Some(p) = caller(&app, &headers, "github") else {
        return json_response(401, &json!({"message": "Bad credentials"}));
    };
    let params = query(q);
    // GitHub's default audience is the repository owner's URL.
    let aud = params.iter().find(|(k, _)| k == "audience").map(|(_, v)| v.clone());
    let aud = aud.unwrap_or_else(|| "https://github.com".to_string());
    json_response(200, &json!({"count": 1, "value": mint(&app, &p, &aud)}))
}

/// `POST /ado/oidctoken?api-version=7.1&serviceConnectionId=…`
pub async fn ado_endpoint(State(app): State<Arc<App>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let Some(p) = caller(&app, &headers, "azure_devops") else {
        return json_response(
            401,
            &json!({"message": "TF400813: The user '' is not authorized to access this resource.", "typeKey": "UnauthorizedRequestException"}),
        );
    };
    let params = query(q);
    let get = |k: &str| params.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    if get("api-version").is_none() {
        return json_response(
            400,
            &json!({"message": "No api-version was supplied for the POST request.", "typeKey": "VssVersionNotSpecifiedException"}),
        );
    }
    let id = get("serviceConnectionId").unwrap_or_default();
    if !p.service_connection_id.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(&id)) {
        return json_response(
            404,
            &json!({"message": format!("Service connection {id:?} was not found or the pipeline may not use it."), "typeKey": "ServiceEndpointNotFoundException"}),
        );
    }
    json_response(200, &json!({"oidcToken": mint(&app, &p, FIC_AUDIENCE)}))
}
