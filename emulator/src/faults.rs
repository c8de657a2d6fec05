//! Fault injection: rules registered through `POST /_admin/faults` that delay,
//! fail or drop matching requests before they reach the emulated services.

use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors::{json_response, AadError, ArmError, K8sError};

/// Response extension: this response was produced by a fault rule.
#[derive(Debug, Clone, Copy)]
pub struct Injected;

/// Response extension: close the connection instead of answering.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

fn star() -> String {
    "*".into()
}

/// A rule as posted to `/_admin/faults`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// HTTP method to match, or `*`.
    #[serde(default = "star")]
    pub method: String,
    /// Case-insensitive substring of the path (and query) to match; empty = all.
    #[serde(default)]
    pub path_contains: String,
    /// Status to answer with; omit for latency-only or drop rules.
    #[serde(default)]
    pub status: Option<u16>,
    /// Probability (0..=1) that a matching request is hit.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Hit only the first N matching requests.
    #[serde(default)]
    pub count: Option<u64>,
    /// `Retry-After` header value (429 defaults to 1).
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    /// Delay before answering (or before passing the request on).
    #[serde(default)]
    pub latency_ms: u64,
    /// Close the connection without a response.
    #[serde(default)]
    pub drop_connection: bool,
    /// Response body override (JSON).
    #[serde(default)]
    pub body: Option<Value>,
    /// Error code override for the default ARM/AAD/Kubernetes body.
    #[serde(default)]
    pub code: Option<String>,
}

impl FaultSpec {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(s) = self.status {
            if !(200..=599).contains(&s) {
                return Err(format!("status {s} is out of range 200..=599"));
            }
        }
        if let Some(r) = self.rate {
            if !(0.0..=1.0).contains(&r) || r.is_nan() {
                return Err(format!("rate {r} must be between 0 and 1"));
            }
        }
        if self.status.is_none() && !self.drop_connection && self.latency_ms == 0 {
            return Err("a fault needs status, drop_connection or latency_ms".into());
        }
        if self.method != "*" && Method::from_bytes(self.method.as_bytes()).is_err() {
            return Err(format!("invalid method {}", self.method));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Requests that matched method and path.
    pub matched: u64,
    /// Requests the rule acted on.
    pub injected: u64,
}

#[derive(Debug, Default)]
pub struct Faults {
    next_id: u64,
    pub rules: Vec<Fault>,
}

/// What to do with one request.
#[derive(Debug, Clone)]
pub struct Action {
    pub rule: u64,
    pub latency_ms: u64,
    pub status: Option<u16>,
    pub retry_after_secs: Option<u64>,
    pub drop_connection: bool,
    pub body: Option<Value>,
    pub code: Option<String>,
}

impl Faults {
    pub fn add(&mut self, spec: FaultSpec) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.rules.push(Fault { id, spec, matched: 0, injected: 0 });
        id
    }

    pub fn clear(&mut self) -> usize {
        let n = self.rules.len();
        self.rules.clear();
        n
    }

    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        before != self.rules.len()
    }

    /// First rule that fires for this request (rules are tried in creation order).
    /// `roll` supplies the random number for `rate` (injected for tests).
    pub fn decide(&mut self, method: &str, target: &str, roll: &mut dyn FnMut() -> f64) -> Option<Action> {
        let target = target.to_ascii_lowercase();
        for r in self.rules.iter_mut() {
            let s = &r.spec;
            if s.method != "*" && !s.method.eq_ignore_ascii_case(method) {
                continue;
            }
            if !s.path_contains.is_empty() && !target.contains(&s.path_contains.to_ascii_lowercase()) {
                continue;
            }
            r.matched += 1;
            if let Some(c) = s.count {
                if r.injected >= c {
                    continue;
                }
            }
            if let Some(rate) = s.rate {
                if roll() >= rate {
                    continue;
                }
            }
            r.injected += 1;
            return Some(Action {
                rule: r.id,
                latency_ms: s.latency_ms,
                status: s.status,
                retry_after_secs: s.retry_after_secs,
                drop_connection: s.drop_connection,
                body: s.body.clone(),
                code: s.code.clone(),
            });
        }
        None
    }
}

fn default_code(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "InjectedFault",
    }
}

/// Build the injected response in the style of the API the path belongs to.
pub fn fault_response(path: &str, a: &Action) -> Response {
    let status = a.status.unwrap_or(500);
    let retry_after = a.retry_after_secs.or(if status == 429 { Some(1) } else { None });
    let code = a.code.clone().unwrap_or_else(|| default_code(status).to_string());
    let message = match (status, retry_after) {
        (429, Some(s)) => {
            format!("The request is being throttled. Please retry after {s} seconds. (injected fault {})", a.rule)
        }
        _ => format!("Injected fault {} ({status} {code}).", a.rule),
    };
    let mut resp = if let Some(body) = &a.body {
        json_response(status, body)
    } else if path.starts_with("/k8s") {
        let reason = match status {
            429 => "TooManyRequests",
            500 => "InternalError",
            503 => "ServiceUnavailable",
            409 => "Conflict",
            404 => "NotFound",
            _ => "InternalError",
        };
        K8sError::new(status, reason, message).into_response()
    } else if path.contains("/oauth2/") || path.starts_with("/msi/") {
        let err = if status == 429 || status >= 500 { "temporarily_unavailable" } else { "invalid_request" };
        let mut r = AadError::new(status, err, 90033, message).into_response();
        *r.status_mut() =
            axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        r
    } else {
        ArmError::new(status, code, message).into_response()
    };
    if let Some(s) = retry_after {
        if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp.extensions_mut().insert(Injected);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> FaultSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn count_limits_hits() {
        let mut f = Faults::default();
        f.add(spec(json!({"method": "PUT", "path_contains": "roleAssignments", "status": 429, "count": 2})));
        let mut roll = || 0.0;
        let path = "/subscriptions/s/providers/Microsoft.Authorization/roleassignments/x";
        assert!(f.decide("GET", path, &mut roll).is_none());
        assert!(f.decide("put", path, &mut roll).is_some());
        assert!(f.decide("PUT", path, &mut roll).is_some());
        assert!(f.decide("PUT", path, &mut roll).is_none());
        assert_eq!(f.rules[0].injected, 2);
        assert_eq!(f.rules[0].matched, 3);
    }

    #[test]
    fn rate_uses_roll() {
        let mut f = Faults::default();
        f.add(spec(json!({"status": 500, "rate": 0.5})));
        assert!(f.decide("GET", "/x", &mut || 0.4).is_some());
        assert!(f.decide("GET", "/x", &mut || 0.6).is_none());
    }

    #[test]
    fn validation() {
        assert!(spec(json!({"status": 429})).validate().is_ok());
        assert!(spec(json!({"latency_ms": 5})).validate().is_ok());
        assert!(spec(json!({"path_contains": "x"})).validate().is_err());
        assert!(spec(json!({"status": 700})).validate().is_err());
        assert!(spec(json!({"status": 500, "rate": 1.5})).validate().is_err());
        assert!(serde_json::from_value::<FaultSpec>(json!({"stauts": 1})).is_err());
    }

    #[test]
    fn throttling_body_and_header() {
        let a = Action {
            rule: 1,
            latency_ms: 0,
            status: Some(429),
            retry_after_secs: Some(3),
            drop_connection: false,
            body: None,
            code: None,
        };
        let r = fault_response("/subscriptions/x", &a);
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
    }
}
