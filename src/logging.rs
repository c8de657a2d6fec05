//! Logs as go-plugin wants them: one JSON object per line on stderr with `@level`, `@message`,
//! `@module` and `@timestamp` (exactly six fractional digits, or Terraform logs the raw line).
//! The level comes from `TF_LOG_PROVIDER_AKSID`, then `TF_LOG_PROVIDER`, then `TF_LOG`.
//!
//! Secrets: callers never pass secret values to tracing; as a second line of defence, fields
//! whose names look secret are written as `[redacted]`.

use std::io::Write;

use serde_json::{Map, Value as Json};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

const MODULE: &str = "provider.terraform-provider-aksid";

/// The most verbose level to emit, or `None` for no logs at all.
pub fn level_from_env(get: impl Fn(&str) -> Option<String>) -> Option<Level> {
    let raw = ["TF_LOG_PROVIDER_AKSID", "TF_LOG_PROVIDER", "TF_LOG"]
        .iter()
        .find_map(|k| get(k).filter(|v| !v.trim().is_empty()))?;
    match raw.trim().to_ascii_uppercase().as_str() {
        "TRACE" | "JSON" => Some(Level::TRACE),
        "DEBUG" => Some(Level::DEBUG),
        "INFO" => Some(Level::INFO),
        "WARN" => Some(Level::WARN),
        "ERROR" => Some(Level::ERROR),
        "OFF" => None,
        // Terraform treats unknown levels as TRACE.
        _ => Some(Level::TRACE),
    }
}

/// Install the stderr JSON logger and the panic hook.
pub fn init() {
    install_panic_hook();
    if let Some(max) = level_from_env(|k| std::env::var(k).ok()) {
        let _ = tracing_subscriber::registry().with(JsonLines { max }).try_init();
    }
}

/// Terraform reports a plugin crash when stderr carries a line starting with `panic: `.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let bt = std::backtrace::Backtrace::force_capture();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "panic: {msg}\n\ngoroutine 1 [running]:\n{at}\n{bt}");
        // A panic on the main thread ends the process (tokio catches those in its tasks, and the
        // server keeps serving): then the socket must not outlive it.
        if cfg!(panic = "abort") || std::thread::current().name() == Some("main") {
            crate::plugin::serve::remove_socket_file();
        }
    }));
}

struct JsonLines {
    max: Level,
}

impl<S: Subscriber> Layer<S> for JsonLines {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        // Library internals (h2 frames, hyper) only when TRACE is asked for, and then no
        // deeper than DEBUG: their trace output can include raw request headers.
        let ours = meta.target().starts_with("aksid") || meta.target().starts_with("terraform_provider_aksid");
        let max = match (ours, self.max) {
            (true, max) => max,
            (false, Level::TRACE) => Level::DEBUG,
            (false, _) => Level::WARN,
        };
        *meta.level() <= max
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let line = render(event.metadata().level(), fields.0, time::OffsetDateTime::now_utc());
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

/// One log line. Kept separate from I/O so the exact format is unit-tested.
fn render(level: &Level, mut fields: Map<String, Json>, now: time::OffsetDateTime) -> String {
    let message = fields.remove("message").unwrap_or(Json::String(String::new()));
    let mut out = Map::new();
    out.insert("@level".into(), Json::from(level.as_str().to_ascii_lowercase()));
    out.insert("@message".into(), message);
    out.insert("@module".into(), Json::from(MODULE));
    out.insert("@timestamp".into(), Json::from(timestamp(now)));
    out.extend(fields);
    Json::Object(out).to_string()
}

/// `2006-01-02T15:04:05.000000Z` (UTC, microseconds).
fn timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["secret", "password", "token", "assertion", "private_key", "client_key", "authorization"]
        .iter()
        .any(|s| n.contains(s))
}

struct Fields(Map<String, Json>);

impl Fields {
    fn put(&mut self, field: &Field, v: Json) {
        let v = if looks_secret(field.name()) { Json::from("[redacted]") } else { v };
        self.0.insert(field.name().to_string(), v);
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Json::from(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Json::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Json::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Json::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Json::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_precedence() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(level_from_env(env(&[("TF_LOG", "info"), ("TF_LOG_PROVIDER", "debug")])), Some(Level::DEBUG));
        assert_eq!(
            level_from_env(env(&[("TF_LOG_PROVIDER", "debug"), ("TF_LOG_PROVIDER_AKSID", "error")])),
            Some(Level::ERROR)
        );
        assert_eq!(level_from_env(env(&[("TF_LOG", "off")])), None);
        assert_eq!(level_from_env(env(&[])), None);
    }

    #[test]
    fn line_format_matches_go_plugin() {
        let t = time::macros::datetime!(2026-11-27 09:05:07.000042 UTC);
        let mut f = Map::new();
        f.insert("message".into(), Json::from("hello"));
        f.insert("tf_rpc".into(), Json::from("GetSchema"));
        let line: Json = serde_json::from_str(&render(&Level::WARN, f, t)).unwrap();
        assert_eq!(line["@level"], "warn");
        assert_eq!(line["@message"], "hello");
        assert_eq!(line["@module"], MODULE);
        assert_eq!(line["@timestamp"], "2026-11-27T09:05:07.000042Z");
        assert_eq!(line["tf_rpc"], "GetSchema");
    }

    #[test]
    fn secret_looking_fields_are_redacted() {
        assert!(looks_secret("client_secret"));
        assert!(looks_secret("access_token"));
        assert!(!looks_secret("subscription_id"));
    }
}
