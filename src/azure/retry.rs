//! When and how long to wait before retrying an ARM request. Pure: the caller supplies the
//! clock and the randomness, so the schedule is unit-tested exactly.
//!
//! Retried: 408, 429, 500, 502, 503, 504 and connection failures. The wait is the larger of
//! the server's `Retry-After` and our capped exponential backoff with jitter, and a retry is
//! only attempted if it can start before the operation's deadline.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { base: Duration::from_millis(500), cap: Duration::from_secs(30), max_attempts: 12 }
    }
}

pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1 for the first retry). `jitter` in [0, 1)
    /// spreads concurrent clients apart; `server_hint` is the parsed `Retry-After`.
    pub fn delay(&self, attempt: u32, server_hint: Option<Duration>, jitter: f64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.cap);
        // Full backoff in [capped/2, capped): never zero, never in lockstep.
        let ours = capped.mul_f64(0.5 + jitter.clamp(0.0, 1.0) * 0.5);
        match server_hint {
            // The server knows its budget: wait what it says, plus a little spread.
            Some(hint) => hint + hint.mul_f64(jitter.clamp(0.0, 1.0) * 0.1),
            None => ours,
        }
    }

    /// Whether another attempt fits: attempts left and the wait ends before the deadline.
    pub fn should_retry(&self, attempts_made: u32, wait: Duration, time_left: Duration) -> bool {
        attempts_made < self.max_attempts && wait < time_left
    }
}

/// Parse the server's hint: `retry-after-ms` / `x-ms-retry-after-ms` (milliseconds), or
/// `Retry-After` as seconds or an HTTP date (relative to `now_unix`).
pub fn parse_retry_after(retry_after: Option<&str>, retry_after_ms: Option<&str>, now_unix: i64) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_millis(ms));
    }
    let v = retry_after?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    Some(Duration::from_secs(u64::try_from(when.unix_timestamp() - now_unix).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_hint_is_a_floor() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, Some(Duration::from_secs(3)), 0.0), Duration::from_secs(3));
        let d = p.delay(6, Some(Duration::from_secs(2)), 0.9);
        assert!(d >= Duration::from_secs(2) && d <= Duration::from_millis(2200), "{d:?}");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        let d1 = p.delay(1, None, 0.0);
        let d3 = p.delay(3, None, 0.0);
        assert_eq!(d1, Duration::from_millis(250));
        assert_eq!(d3, Duration::from_millis(1000));
        assert!(p.delay(40, None, 0.99) <= p.cap);
        assert!(p.delay(1, None, 0.0) > Duration::ZERO);
    }

    #[test]
    fn deadline_bounds_retries() {
        let p = RetryPolicy::default();
        assert!(p.should_retry(1, Duration::from_secs(1), Duration::from_secs(5)));
        assert!(!p.should_retry(1, Duration::from_secs(6), Duration::from_secs(5)));
        assert!(!p.should_retry(p.max_attempts, Duration::ZERO, Duration::from_secs(60)));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(Some("7"), None, 0), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(Some("7"), Some("1500"), 0), Some(Duration::from_millis(1500)));
        let now = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after(Some("Sun, 06 Nov 1994 08:49:47 GMT"), None, now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after(Some("soon"), None, 0), None);
        assert!(is_retryable_status(429) && is_retryable_status(503) && !is_retryable_status(409));
    }
}
