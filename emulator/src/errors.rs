//! Error bodies of the three API families the emulator speaks.
//!
//! * ARM: `{"error":{"code":"…","message":"…"}}` with the HTTP status of the failure.
//! * Entra (AAD) token endpoint: `{"error":"invalid_client","error_description":"AADSTS…","error_codes":[…],…}`.
//! * Kubernetes: a `Status` object (`kind: Status`, `status: Failure`, `reason`, `code`).
//!
//! Everything here is plain data plus `IntoResponse`, so the store can return
//! [`ArmError`] from pure functions and the HTTP layer renders it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// An ARM error: HTTP status + `error.code` + `error.message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Seconds for a `Retry-After` header (throttling).
    pub retry_after: Option<u64>,
}

impl ArmError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        ArmError { status, code: code.into(), message: message.into(), retry_after: None }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(404, code, message)
    }

    pub fn invalid_request_content(detail: impl std::fmt::Display) -> Self {
        Self::new(
            400,
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{detail}'."),
        )
    }

    pub fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl std::fmt::Display for ArmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ArmError {}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// JSON response with the given status.
pub fn json_response(code: u16, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = (status(code), bytes).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    resp
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        let mut resp = json_response(self.status, &self.body());
        resp.headers_mut().insert("x-ms-failure-cause", HeaderValue::from_static("gateway"));
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if self.status == 401 {
            let v = format!(
                "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\", error_description=\"{}\"",
                self.message.replace('"', "'")
            );
            if let Ok(v) = HeaderValue::from_str(&v) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

/// An Entra ID (AAD v2 token endpoint) error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AadError {
    pub status: u16,
    /// OAuth2 error, e.g. `invalid_client`.
    pub error: String,
    /// Numeric AADSTS code.
    pub aadsts: u32,
    /// Description without the `AADSTSnnn: ` prefix and without the trace suffix.
    pub description: String,
}

impl AadError {
    pub fn new(status: u16, error: &str, aadsts: u32, description: impl Into<String>) -> Self {
        AadError { status, error: error.to_string(), aadsts, description: description.into() }
    }

    /// The wire body. `now` is the timestamp used in the description and the `timestamp` field.
    pub fn body(&self, now: time::OffsetDateTime) -> Value {
        let trace = uuid::Uuid::new_v4().to_string();
        let corr = uuid::Uuid::new_v4().to_string();
        let ts = crate::util::aad_timestamp(now);
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {} Correlation ID: {} Timestamp: {}",
                self.aadsts, self.description, trace, corr, ts
            ),
            "error_codes": [self.aadsts],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.aadsts),
        })
    }
}

impl IntoResponse for AadError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body(time::OffsetDateTime::now_utc()))
    }
}

/// A Kubernetes `Status` failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// `details` object (name, group, kind, causes); `Value::Null` to omit.
    pub details: Value,
}

impl K8sError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        K8sError { code, reason: reason.to_string(), message: message.into(), details: Value::Null }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn body(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !self.details.is_null() {
            v["details"] = self.details.clone();
        }
        v
    }
}

impl IntoResponse for K8sError {
    fn into_response(self) -> Response {
        json_response(self.code, &self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_envelope_shape() {
        let e = ArmError::not_found("RoleAssignmentNotFound", "x");
        assert_eq!(e.body(), json!({"error":{"code":"RoleAssignmentNotFound","message":"x"}}));
    }

    #[test]
    fn aad_body_has_all_fields() {
        let e = AadError::new(401, "invalid_client", 7000215, "Invalid client secret provided.");
        let b = e.body(time::OffsetDateTime::UNIX_EPOCH);
        assert_eq!(b["error"], "invalid_client");
        assert_eq!(b["error_codes"][0], 7000215);
        let d = b["error_description"].as_str().unwrap();
        assert!(d.starts_with("AADSTS7000215: Invalid client secret provided. Trace ID: "));
        assert!(d.contains("Correlation ID: ") && d.contains("Timestamp: 1970-01-01 00:00:00Z"));
    }

    #[test]
    fn k8s_status_shape() {
        let b = K8sError::new(404, "NotFound", "nope").body();
        assert_eq!(b["kind"], "Status");
        assert_eq!(b["status"], "Failure");
        assert_eq!(b["code"], 404);
        assert!(b.get("details").is_none());
    }
}
