//! The layers every request passes through (outermost first): the request log, then
//! fault injection. (The ARM response headers are added in between, by `arm`.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use time::OffsetDateTime;

use crate::app::{lock, App};
use crate::faults::{fault_response, DropConnection, Injected};
use crate::reqlog::{route_kind, CallerOid, LogEntry};
use crate::util::rfc3339_ms;

/// Middleware: record every non-admin request in the log (and the stderr log).
pub async fn record(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let now = OffsetDateTime::now_utc();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(String::from);
    let resp = next.run(req).await;
    if path.starts_with("/_admin") {
        return resp;
    }
    let dropped = resp.extensions().get::<DropConnection>().is_some();
    let entry = LogEntry {
        seq: 0,
        time: rfc3339_ms(now),
        method: method.clone(),
        route: route_kind(&path),
        path: path.clone(),
        query,
        status: if dropped { 0 } else { resp.status().as_u16() },
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        injected: resp.extensions().get::<Injected>().is_some(),
        dropped,
        caller_oid: resp.extensions().get::<CallerOid>().map(|c| c.0.clone()),
    };
    tracing::info!(
        method = %entry.method,
        path = %entry.path,
        status = entry.status,
        ms = entry.duration_ms,
        injected = entry.injected,
        "request"
    );
    lock(&app.log).push(entry);
    resp
}

/// Middleware: apply the first matching fault rule (admin paths are exempt).
pub async fn inject(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_admin") {
        return next.run(req).await;
    }
    let target = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let action = lock(&app.faults).decide(req.method().as_str(), &target, &mut crate::util::random_unit);
    let Some(a) = action else {
        return next.run(req).await;
    };
    if a.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(a.latency_ms)).await;
    }
    if a.drop_connection {
        let mut resp = Response::new(axum::body::Body::empty());
        resp.extensions_mut().insert(DropConnection);
        resp.extensions_mut().insert(Injected);
        return resp;
    }
    if a.status.is_some() {
        return fault_response(&path, &a);
    }
    // Latency-only rule: pass the request on.
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(Injected);
    resp
}
