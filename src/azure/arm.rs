//! Azure Resource Manager client: bearer tokens from the credential chain, retries on
//! throttling and transient failures (honouring `Retry-After`, bounded by the caller's
//! deadline; see `retry` for the schedule), and errors that carry ARM's code, message and
//! request/correlation ids. Certificate and TLS failures of ARM or of the token endpoint are
//! not retried; an endpoint that does not answer is retried for a few seconds only. Both are
//! reported as `ArmError::Endpoint`, naming the endpoint. Tokens and secrets are never logged.
//! Writes and deletes are paced at the subscription's throttling bucket (`pacer`), each
//! attempt taking its turn, so a long apply does not burst into 429s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::credentials::AccessToken;
use reqwest::{Method, StatusCode};
use serde_json::Value as Json;

use super::credentials::{CredentialChain, TokenError};
use super::http::{self, EndpointError, Failure};
use super::pacer::{Pacer, Ticket};
use super::retry::{is_retryable_status, parse_retry_after, Failed, RetryPolicy};

/// What went wrong with an ARM call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ArmError {
    /// ARM answered with an error envelope `{"error":{"code","message"}}`.
    #[error("{method} {path}: HTTP {status} {code}: {message} (x-ms-request-id {request_id}, correlation id {correlation_id})")]
    Api {
        method: String,
        path: String,
        status: u16,
        code: String,
        message: String,
        request_id: String,
        correlation_id: String,
    },
    #[error("authentication failed: {0}")]
    Auth(String),
    /// ARM or the token endpoint cannot be used: its TLS certificate is not accepted, or it
    /// does not answer. A problem of the provider's configuration (or the network).
    #[error("{0}")]
    Endpoint(EndpointError),
    #[error("{method} {path}: {message} (correlation id {correlation_id})")]
    Transport { method: String, path: String, message: String, correlation_id: String },
    #[error("{0}")]
    Timeout(String),
}

impl ArmError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ArmError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
    pub fn code(&self) -> Option<&str> {
        match self {
            ArmError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A successful ARM response.
#[derive(Debug, Clone)]
pub struct ArmResponse {
    pub status: u16,
    pub body: Json,
    pub request_id: String,
}

pub struct ArmClient {
    http: reqwest::Client,
    endpoint: String,
    credentials: Arc<CredentialChain>,
    token_scope: String,
    policy: RetryPolicy,
    ca_certificate: Option<String>,
    /// Paces writes at the subscription's throttling bucket (see `pacer`).
    pacer: Pacer,
}

/// The outcome of one attempt.
enum Step {
    Done(ArmResponse),
    Fail(ArmError),
    /// Transient; `unreachable` when the endpoint did not answer at all.
    Retry {
        error: ArmError,
        hint: Option<Duration>,
        unreachable: bool,
    },
}

/// One logical request, as each attempt sends it and names it in errors and logs.
struct Call<'a> {
    method: &'a Method,
    url: &'a str,
    /// The path as the caller gave it, for messages.
    path: &'a str,
    query: &'a [(&'a str, &'a str)],
    body: Option<&'a Json>,
    correlation_id: &'a str,
}

/// The token audience of each cloud's Resource Manager.
pub fn token_scope(environment: &str) -> &'static str {
    match environment {
        "usgovernment" => "https://management.usgovcloudapi.net/.default",
        "china" => "https://management.chinacloudapi.cn/.default",
        _ => "https://management.azure.com/.default",
    }
}

impl ArmClient {
    pub fn new(http: reqwest::Client, endpoint: &str, credentials: Arc<CredentialChain>, environment: &str) -> Self {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        ArmClient {
            http,
            pacer: Pacer::shared(&endpoint, super::pacer::DEFAULT_RESERVE, true),
            endpoint,
            credentials,
            token_scope: token_scope(environment).to_string(),
            policy: RetryPolicy::default(),
            ca_certificate: None,
        }
    }

    /// Write pacing: the tokens left to other tools (`write_quota_reserve`), or none at all.
    pub fn with_pacing(mut self, reserve: u32, enabled: bool) -> Self {
        self.pacer = Pacer::shared(&self.endpoint, reserve, enabled);
        self
    }

    /// The `ca_certificate` the HTTP client trusts, named in TLS errors.
    pub fn with_ca_certificate(mut self, path: Option<&str>) -> Self {
        self.ca_certificate = path.map(str::to_string);
        self
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// GET `path` (an ARM id or collection path) at `api_version`.
    pub async fn get(&self, path: &str, api_version: &str, deadline: Instant) -> Result<ArmResponse, ArmError> {
        self.send(Method::GET, path, &[("api-version", api_version)], None, deadline).await
    }

    /// Follow an absolute URL ARM handed out (a `nextLink`). Only URLs on our own endpoint are
    /// followed, so a token is never sent elsewhere.
    pub async fn send_absolute(
        &self,
        method: Method,
        url: &str,
        body: Option<&Json>,
        deadline: Instant,
    ) -> Result<ArmResponse, ArmError> {
        let parsed = url::Url::parse(url).map_err(|e| ArmError::Transport {
            method: method.to_string(),
            path: url.to_string(),
            message: format!("invalid link: {e}"),
            correlation_id: String::new(),
        })?;
        let own = url::Url::parse(&self.endpoint).ok();
        let same_origin = own.is_some_and(|o| o.origin() == parsed.origin());
        if !same_origin {
            return Err(ArmError::Transport {
                method: method.to_string(),
                path: url.to_string(),
                message: "refusing to follow a link to another host".into(),
                correlation_id: String::new(),
            });
        }
        let path_and_query = &url[url.find(parsed.path()).unwrap_or(0)..];
        self.send(method, path_and_query, &[], body, deadline).await
    }

    /// Send one logical request, retrying transient failures until `deadline`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Json>,
        deadline: Instant,
    ) -> Result<ArmResponse, ArmError> {
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let url =
            format!("{}{}", self.endpoint, if path.starts_with('/') { path.to_string() } else { format!("/{path}") });
        let call = Call { method: &method, url: &url, path, query, body, correlation_id: &correlation_id };
        let mut attempt: u32 = 0;
        let mut unreachable_since: Option<Instant> = None;
        loop {
            attempt += 1;
            let started = Instant::now();
            let (error, hint, unreachable) = match self.attempt(&call, deadline, attempt).await {
                Step::Done(resp) => return Ok(resp),
                Step::Fail(e) => return Err(e),
                Step::Retry { error, hint, unreachable } => (error, hint, unreachable),
            };
            // The streak of "nobody answers" starts with the first attempt that got no answer.
            let unreachable_for = if unreachable {
                Some(unreachable_since.get_or_insert(started).elapsed())
            } else {
                unreachable_since = None;
                None
            };
            let failed = Failed {
                attempts: attempt,
                server_hint: hint,
                jitter: (uuid::Uuid::new_v4().as_u128() % 10_000) as f64 / 10_000.0,
                time_left: deadline.saturating_duration_since(Instant::now()),
                unreachable_for,
            };
            let Some(wait) = self.policy.next(&failed) else {
                return Err(match error {
                    ArmError::Endpoint(mut e) => {
                        e.retried_for = unreachable_for.filter(|_| attempt > 1);
                        ArmError::Endpoint(e)
                    }
                    other => {
                        let why = if attempt >= self.policy.max_attempts {
                            "the retry limit"
                        } else {
                            "the operation's timeout"
                        };
                        ArmError::Timeout(format!("gave up after {attempt} attempts ({why}); last error: {other}"))
                    }
                });
            };
            tracing::info!(method = %method, path, attempt, wait_ms = wait.as_millis() as u64, correlation_id, "retrying ARM request: {error}");
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: a token, then the request.
    async fn attempt(&self, call: &Call<'_>, deadline: Instant, attempt: u32) -> Step {
        let token = match self.bearer_token().await {
            Ok(token) => token,
            Err(step) => return step,
        };
        let mut req = self
            .http
            .request(call.method.clone(), call.url)
            .query(call.query)
            .bearer_auth(token.token.secret())
            .header("x-ms-correlation-request-id", call.correlation_id);
        if let Some(b) = call.body {
            req = req.json(b);
        }
        let ticket = self.pacer.acquire(call.method.as_str(), call.path, deadline).await;
        let remaining = deadline.saturating_duration_since(Instant::now());
        match req.timeout(remaining.max(Duration::from_millis(1))).send().await {
            Ok(resp) => {
                if let Some(t) = &ticket {
                    self.report_to_pacer(t, &resp);
                }
                response_step(call, resp, attempt).await
            }
            Err(e) => self.send_error_step(call, &e),
        }
    }

    /// What the bucket has left (and, on a 429, when to try again), for the pacer.
    fn report_to_pacer(&self, ticket: &Ticket, resp: &reqwest::Response) {
        let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok());
        let remaining = header(Pacer::header(ticket)).and_then(|v| v.trim().parse::<u64>().ok());
        let hint = parse_retry_after(
            header("retry-after"),
            header("retry-after-ms").or_else(|| header("x-ms-retry-after-ms")),
            time::OffsetDateTime::now_utc().unix_timestamp(),
        );
        self.pacer.record(ticket, resp.status().as_u16(), remaining, hint);
    }

    /// A token for ARM, or the step to take when none can be had.
    async fn bearer_token(&self) -> Result<AccessToken, Step> {
        match self.credentials.token(&self.token_scope).await {
            Ok((token, _)) => Ok(token),
            Err(TokenError::Rejected(why)) => Err(Step::Fail(ArmError::Auth(why))),
            Err(TokenError::Endpoint(e)) if e.failure.is_permanent() => Err(Step::Fail(ArmError::Endpoint(e))),
            Err(TokenError::Endpoint(e)) => {
                Err(Step::Retry { error: ArmError::Endpoint(e), hint: None, unreachable: true })
            }
            Err(TokenError::Transient(why)) => {
                Err(Step::Retry { error: ArmError::Auth(why), hint: None, unreachable: false })
            }
        }
    }

    /// The request got no HTTP answer: TLS failures are final, an endpoint that does not
    /// answer is retried, and a broken exchange is retried when it may not have been processed.
    fn send_error_step(&self, call: &Call<'_>, e: &reqwest::Error) -> Step {
        let failure = http::classify(e);
        let endpoint = || {
            ArmError::Endpoint(EndpointError::new(
                call.url,
                Some("arm_endpoint"),
                failure,
                self.ca_certificate.as_deref(),
                http::chain_text(e),
            ))
        };
        match failure {
            Failure::Tls(_) => Step::Fail(endpoint()),
            Failure::Unreachable(_) => Step::Retry { error: endpoint(), hint: None, unreachable: true },
            Failure::Interrupted => {
                let error = ArmError::Transport {
                    method: call.method.to_string(),
                    path: call.path.to_string(),
                    message: http::chain_text(e),
                    correlation_id: call.correlation_id.to_string(),
                };
                if e.is_connect() || e.is_request() || e.is_body() || e.is_timeout() {
                    Step::Retry { error, hint: None, unreachable: false }
                } else {
                    Step::Fail(error)
                }
            }
        }
    }
}

/// ARM answered: success, an error worth retrying (with the server's `Retry-After`), or a
/// final error.
async fn response_step(call: &Call<'_>, resp: reqwest::Response, attempt: u32) -> Step {
    let (method, path, correlation_id) = (call.method, call.path, call.correlation_id);
    let status = resp.status();
    let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let request_id = header("x-ms-request-id").unwrap_or_default();
    let hint = parse_retry_after(
        header("retry-after").as_deref(),
        header("retry-after-ms").or_else(|| header("x-ms-retry-after-ms")).as_deref(),
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    let text = resp.text().await.unwrap_or_default();
    let json: Json =
        if text.trim().is_empty() { Json::Null } else { serde_json::from_str(&text).unwrap_or(Json::String(text)) };
    if status.is_success() {
        tracing::debug!(method = %method, path, status = status.as_u16(), request_id, correlation_id, attempt, "ARM request");
        return Step::Done(ArmResponse { status: status.as_u16(), body: json, request_id });
    }
    let err = api_error(method, path, status, &json, &request_id, correlation_id);
    tracing::debug!(method = %method, path, status = status.as_u16(), request_id, correlation_id, attempt, "ARM request failed");
    if is_retryable_status(status.as_u16()) {
        Step::Retry { error: err, hint, unreachable: false }
    } else {
        Step::Fail(err)
    }
}

/// Build an error from ARM's envelope (`{"error":{"code","message"}}`), tolerating bodies
/// that are not in that shape.
fn api_error(
    method: &Method,
    path: &str,
    status: StatusCode,
    body: &Json,
    request_id: &str,
    correlation_id: &str,
) -> ArmError {
    let e = body.get("error").unwrap_or(body);
    let code = e.get("code").and_then(Json::as_str).unwrap_or(status.canonical_reason().unwrap_or("Error")).to_string();
    let message = e.get("message").and_then(Json::as_str).map(str::to_string).unwrap_or_else(|| {
        if body.is_null() {
            String::new()
        } else {
            body.to_string()
        }
    });
    ArmError::Api {
        method: method.to_string(),
        path: path.to_string(),
        status: status.as_u16(),
        code,
        message,
        request_id: request_id.to_string(),
        correlation_id: correlation_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope_is_parsed() {
        let body = serde_json::json!({"error": {"code": "AuthorizationFailed", "message": "no"}});
        let e = api_error(&Method::PUT, "/x", StatusCode::FORBIDDEN, &body, "req-1", "corr-1");
        assert_eq!(e.code(), Some("AuthorizationFailed"));
        assert_eq!(e.status(), Some(403));
        let text = e.to_string();
        assert!(text.contains("req-1") && text.contains("corr-1"), "{text}");
        let odd = api_error(&Method::GET, "/x", StatusCode::BAD_GATEWAY, &Json::Null, "", "");
        assert_eq!(odd.code(), Some("Bad Gateway"));
    }
}
