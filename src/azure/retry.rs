//! When and how long to wait before retrying an ARM request. Pure: the caller supplies the
//! clock readings and the randomness, so the schedule is unit-tested exactly.
//!
//! Retried: 408, 429, 500, 502, 503, 504, connections that broke, and (briefly) endpoints that
//! do not answer. Not retried: certificate and TLS failures, which only a configuration change
//! fixes (see `http::classify`).
//!
//! The wait before a retry is the larger of
//! - our exponential backoff, capped at `cap` (2 s) and spread by jitter to [½, 1) of its value,
//!   so that work resumes within a couple of seconds after an outage ends; and
//! - the server's `Retry-After` (sent with 429/503), plus up to 10% jitter: the server's budget
//!   is a floor we never undercut, and a `Retry-After: 0` does not turn into a busy loop.
//!
//! A retry happens only if attempts are left and the wait ends before the operation's deadline.
//! An endpoint that does not answer at all (connection refused, no DNS name, connect timeout)
//! is retried only while the streak of such failures stays within `unreachable_budget` (5 s):
//! long enough for a server that is starting, short enough to report a wrong endpoint quickly.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
    pub unreachable_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(2),
            // With waits of at most 2 s: a persistent 5xx is retried for about a minute.
            max_attempts: 40,
            unreachable_budget: Duration::from_secs(5),
        }
    }
}

pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// What the retry decision needs to know about the attempt that just failed transiently.
#[derive(Debug, Clone, Copy)]
pub struct Failed {
    /// Attempts made so far (1 after the first).
    pub attempts: u32,
    /// The server's `Retry-After`, if it sent one.
    pub server_hint: Option<Duration>,
    /// In [0, 1).
    pub jitter: f64,
    /// Until the operation's deadline.
    pub time_left: Duration,
    /// `Some(how long)` when the endpoint did not answer, for how long it has not (0 at the
    /// first such failure); `None` when it answered or the connection broke mid-request.
    pub unreachable_for: Option<Duration>,
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1 for the first retry). `jitter` in [0, 1)
    /// spreads concurrent clients apart; `server_hint` is the parsed `Retry-After`.
    pub fn delay(&self, attempt: u32, server_hint: Option<Duration>, jitter: f64) -> Duration {
        let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
        let exp = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.cap);
        // Backoff in [capped/2, capped): never zero, never in lockstep.
        let ours = capped.mul_f64(0.5 + jitter * 0.5);
        match server_hint {
            Some(hint) => ours.max(hint.saturating_add(hint.mul_f64(jitter * 0.1))),
            None => ours,
        }
    }

    /// Whether another attempt fits: attempts left and the wait ends before the deadline.
    pub fn should_retry(&self, attempts_made: u32, wait: Duration, time_left: Duration) -> bool {
        attempts_made < self.max_attempts && wait < time_left
    }

    /// The wait before retrying `failed`, or `None` to give up now.
    pub fn next(&self, failed: &Failed) -> Option<Duration> {
        let wait = self.delay(failed.attempts, failed.server_hint, failed.jitter);
        if !self.should_retry(failed.attempts, wait, failed.time_left) {
            return None;
        }
        match failed.unreachable_for {
            Some(so_far) if so_far.saturating_add(wait) > self.unreachable_budget => None,
            _ => Some(wait),
        }
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

    const HOUR: Duration = Duration::from_secs(3600);

    fn failed(attempts: u32, jitter: f64) -> Failed {
        Failed { attempts, server_hint: None, jitter, time_left: HOUR, unreachable_for: None }
    }

    #[test]
    fn server_hint_is_a_floor() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, Some(Duration::from_secs(3)), 0.0), Duration::from_secs(3));
        let d = p.delay(6, Some(Duration::from_secs(2)), 0.9);
        assert!(d >= Duration::from_secs(2) && d <= Duration::from_millis(2200), "{d:?}");
        // A hint beyond our cap is still honoured.
        assert_eq!(p.delay(20, Some(Duration::from_secs(10)), 0.0), Duration::from_secs(10));
        // A hint below our backoff does not shorten it: `Retry-After: 0` is no busy loop.
        assert_eq!(p.delay(3, Some(Duration::ZERO), 0.0), Duration::from_millis(1000));
    }

    #[test]
    fn backoff_grows_and_is_capped_at_two_seconds() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, None, 0.0), Duration::from_millis(250));
        assert_eq!(p.delay(3, None, 0.0), Duration::from_millis(1000));
        for attempt in 1..=64 {
            for jitter in [0.0, 0.5, 0.999, 7.0, f64::NAN] {
                let d = p.delay(attempt, None, jitter);
                assert!(d > Duration::ZERO && d <= Duration::from_secs(2), "attempt {attempt}, jitter {jitter}: {d:?}");
            }
        }
    }

    #[test]
    fn deadline_bounds_retries() {
        let p = RetryPolicy::default();
        assert!(p.should_retry(1, Duration::from_secs(1), Duration::from_secs(5)));
        assert!(!p.should_retry(1, Duration::from_secs(6), Duration::from_secs(5)));
        assert!(!p.should_retry(p.max_attempts, Duration::ZERO, Duration::from_secs(60)));
        let tight = Failed { time_left: Duration::from_millis(100), ..failed(1, 0.0) };
        assert_eq!(p.next(&tight), None);
    }

    /// The whole schedule of a 5xx outage: no wait exceeds the cap, so the first retry after
    /// the outage ends comes within 2 s; attempts run out after about a minute.
    #[test]
    fn outage_schedule_resumes_within_the_cap() {
        let p = RetryPolicy::default();
        for jitter in [0.0, 0.5, 0.999] {
            let mut total = Duration::ZERO;
            let mut attempts = 1;
            while let Some(wait) = p.next(&failed(attempts, jitter)) {
                assert!(wait <= p.cap, "{wait:?}");
                total += wait;
                attempts += 1;
            }
            assert_eq!(attempts, p.max_attempts);
            assert!(total >= Duration::from_secs(35) && total <= Duration::from_secs(80), "{total:?}");
        }
    }

    /// An endpoint that never answers: a few quick retries within 5 s, then give up.
    #[test]
    fn unreachable_endpoints_get_a_short_bounded_retry() {
        let p = RetryPolicy::default();
        for jitter in [0.0, 0.5, 0.999] {
            let mut elapsed = Duration::ZERO;
            let mut attempts = 1;
            let step = Duration::from_millis(20); // the refused connect itself
            while let Some(wait) = p.next(&Failed { unreachable_for: Some(elapsed), ..failed(attempts, jitter) }) {
                elapsed += wait + step;
                attempts += 1;
            }
            assert!(attempts >= 3, "a starting server gets several chances: {attempts}");
            assert!(elapsed <= p.unreachable_budget + step, "{elapsed:?}");
        }
        // Once the streak exceeds the budget, no more retries even with time left.
        let late = Failed { unreachable_for: Some(Duration::from_secs(5)), ..failed(2, 0.0) };
        assert_eq!(p.next(&late), None);
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
