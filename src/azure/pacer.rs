//! Pacing ARM writes at the subscription's throttling bucket instead of bursting into 429s.
//!
//! ARM throttles each subscription with token buckets (writes, deletes, reads): a request
//! takes a token, tokens come back at a steady rate (10/s for writes), and every response
//! says how many are left (`x-ms-ratelimit-remaining-subscription-writes`). The pacer keeps an
//! estimate of that bucket per subscription and class: the last reported level, minus the
//! requests sent since that one, plus the refill since it was reported. A write goes out while
//! the estimate stays above the reserve left for other tools (`write_quota_reserve`); below
//! it, writes wait for the refill, so a long apply runs at the refill rate. The refill rate is
//! learned from the reports themselves (ARM does not send it); a 429 without headers counts as
//! an empty bucket and holds writes for its `Retry-After`.
//!
//! `BucketEstimate` is the pure arithmetic (times are seconds on a caller-supplied clock);
//! `Pacer` is the process-wide I/O part: one estimate per endpoint, subscription and class,
//! shared by every resource (Terraform applies resources in parallel), waited on with tokio.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The reserve when `write_quota_reserve` is not set: a tenth of ARM's write bucket.
pub const DEFAULT_RESERVE: u32 = 20;
/// ARM's published write refill rate: the guess until the responses tell better.
const ASSUMED_REFILL_PER_SEC: f64 = 10.0;
/// Bounds of the learned rate (a guess outside them is noise).
const MIN_RATE: f64 = 0.5;
const MAX_RATE: f64 = 100_000.0;
/// The refill rate is measured over at least this span, and over at most `HISTORY_SECS`.
const MIN_SPAN_SECS: f64 = 0.25;
const HISTORY_SECS: f64 = 10.0;
/// Shortest wait, so a thundering herd of waiting writers does not spin.
const MIN_WAIT_SECS: f64 = 0.001;

/// The bucket classes the pacer paces (reads have a larger bucket of their own and are not paced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Writes,
    Deletes,
}

impl Class {
    /// PUT, PATCH and POST write; DELETE deletes; GET and HEAD are not paced.
    pub fn of(method: &str) -> Option<Class> {
        match method.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" | "OPTIONS" => None,
            "DELETE" => Some(Class::Deletes),
            _ => Some(Class::Writes),
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            Class::Writes => "x-ms-ratelimit-remaining-subscription-writes",
            Class::Deletes => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }
}

/// One report of the bucket's level: after the request numbered `seq` was counted.
#[derive(Debug, Clone, Copy)]
struct Report {
    seq: u64,
    remaining: f64,
    at: f64,
}

/// What this process knows about one bucket.
#[derive(Debug, Clone)]
pub struct BucketEstimate {
    /// Requests sent so far (the number of the last one).
    sent: u64,
    /// The latest report, if any.
    last: Option<Report>,
    /// The highest level reported: about the bucket's size.
    max_seen: f64,
    /// Tokens per second, learned from reports.
    rate: f64,
    /// Recent reports while the bucket was not full, to learn the rate from.
    history: VecDeque<Report>,
    /// After a 429: nothing goes out before this.
    blocked_until: f64,
}

impl Default for BucketEstimate {
    fn default() -> Self {
        BucketEstimate {
            sent: 0,
            last: None,
            max_seen: 0.0,
            rate: ASSUMED_REFILL_PER_SEC,
            history: VecDeque::new(),
            blocked_until: f64::NEG_INFINITY,
        }
    }
}

impl BucketEstimate {
    /// The refill rate currently assumed (tokens per second).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Estimated tokens left at `now`, or `None` before the first report.
    pub fn estimate(&self, now: f64) -> Option<f64> {
        let r = self.last?;
        let unreported = self.sent.saturating_sub(r.seq) as f64;
        let refilled = self.rate * (now - r.at).max(0.0);
        let level = r.remaining - unreported + refilled;
        // The bucket never holds more than the most it was seen holding (unknown without headers).
        Some(if self.max_seen > 0.0 { level.min(self.max_seen) } else { level })
    }

    /// The reserve actually kept: a bucket smaller than twice the reserve keeps half of itself.
    fn effective_reserve(&self, reserve: u32) -> f64 {
        if self.max_seen > 0.0 {
            f64::from(reserve).min((self.max_seen / 2.0).floor())
        } else {
            f64::from(reserve)
        }
    }

    /// Send now (`Ok(number of this request)`, its token counted), or wait that many seconds and ask again.
    pub fn try_acquire(&mut self, reserve: u32, now: f64) -> Result<u64, f64> {
        if now < self.blocked_until {
            return Err((self.blocked_until - now).max(MIN_WAIT_SECS));
        }
        if let Some(est) = self.estimate(now) {
            let needed = self.effective_reserve(reserve) + 1.0;
            if est < needed {
                return Err(((needed - est) / self.rate).max(MIN_WAIT_SECS));
            }
        }
        self.sent += 1;
        Ok(self.sent)
    }

    /// The response to request `seq` reported `remaining` tokens at `now`.
    pub fn observe(&mut self, seq: u64, remaining: u64, now: f64) {
        let report = Report { seq, remaining: remaining as f64, at: now };
        self.max_seen = self.max_seen.max(report.remaining);
        self.record(report);
    }

    fn record(&mut self, report: Report) {
        self.last = Some(report);
        if report.remaining >= self.max_seen - 1.0 {
            // (About) full: refill was lost at the top, so older reports cannot measure it.
            self.history.clear();
            return;
        }
        self.learn_rate(report);
        self.history.push_back(report);
    }

    /// Refill over the longest recent span: the level change plus the tokens spent in between.
    /// Other clients of the subscription spend tokens too, which shows up as a slower refill:
    /// the rate this process may use.
    fn learn_rate(&mut self, now: Report) {
        while self.history.front().is_some_and(|r| now.at - r.at > HISTORY_SECS) {
            self.history.pop_front();
        }
        let Some(from) = self.history.iter().find(|r| r.seq < now.seq && now.at - r.at >= MIN_SPAN_SECS) else {
            return;
        };
        let refilled = now.remaining - from.remaining + (now.seq - from.seq) as f64;
        self.rate = (refilled / (now.at - from.at)).clamp(MIN_RATE, MAX_RATE);
    }

    /// Request `seq` was throttled (429): the bucket is empty (or at the reported level), and
    /// nothing goes out before `retry_after` seconds have passed.
    pub fn throttled(&mut self, seq: u64, remaining: Option<u64>, retry_after: Option<f64>, now: f64) {
        // The level "after" it is what is left; later requests stay unreported.
        match remaining {
            Some(r) => self.observe(seq, r, now),
            None => self.record(Report { seq, remaining: 0.0, at: now }),
        }
        let wait = retry_after.unwrap_or(1.0 / self.rate);
        self.blocked_until = self.blocked_until.max(now + wait);
    }
}

/// A request the pacer let through; hand it back with the response.
#[derive(Debug, Clone)]
pub struct Ticket {
    key: (String, Class),
    seq: u64,
}

type Estimates = Arc<Mutex<HashMap<(String, Class), BucketEstimate>>>;

/// The process's pacer for one ARM endpoint.
#[derive(Clone)]
pub struct Pacer {
    enabled: bool,
    reserve: u32,
    estimates: Estimates,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer").field("enabled", &self.enabled).field("reserve", &self.reserve).finish()
    }
}

/// Seconds on the process's monotonic clock.
fn now_secs() -> f64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_secs_f64()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The subscription a request path belongs to ("" outside any subscription).
pub fn subscription_of_path(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let mut segs = path.split('/').filter(|s| !s.is_empty());
    match (segs.next(), segs.next()) {
        (Some(first), Some(id)) if first.eq_ignore_ascii_case("subscriptions") => id.to_ascii_lowercase(),
        _ => String::new(),
    }
}

impl Pacer {
    /// The pacer of `endpoint`, shared by every client of this process that talks to it (the
    /// estimates are the process's; `reserve` and `enabled` are this client's).
    pub fn shared(endpoint: &str, reserve: u32, enabled: bool) -> Pacer {
        static ALL: OnceLock<Mutex<HashMap<String, Estimates>>> = OnceLock::new();
        let mut all = lock(ALL.get_or_init(Default::default));
        let estimates = all.entry(endpoint.trim_end_matches('/').to_ascii_lowercase()).or_default().clone();
        Pacer { enabled, reserve, estimates }
    }

    /// Wait until a request may go out (at most until `deadline`); `None` when it is not paced.
    pub async fn acquire(&self, method: &str, path: &str, deadline: Instant) -> Option<Ticket> {
        if !self.enabled {
            return None;
        }
        let key = (subscription_of_path(path), Class::of(method)?);
        loop {
            let decision = lock(&self.estimates).entry(key.clone()).or_default().try_acquire(self.reserve, now_secs());
            match decision {
                Ok(seq) => return Some(Ticket { key, seq }),
                Err(wait) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        // Out of time: send anyway and let the caller's deadline handling report it.
                        return None;
                    }
                    tokio::time::sleep(Duration::from_secs_f64(wait).min(left)).await;
                }
            }
        }
    }

    /// Feed back what ARM answered to a paced request: its status, the class's remaining-quota
    /// header, and the server's retry hint.
    pub fn record(&self, ticket: &Ticket, status: u16, remaining: Option<u64>, retry_after: Option<Duration>) {
        let mut estimates = lock(&self.estimates);
        let e = estimates.entry(ticket.key.clone()).or_default();
        let now = now_secs();
        if status == 429 {
            tracing::debug!(subscription = %ticket.key.0, class = ?ticket.key.1, "ARM throttled a paced request");
            e.throttled(ticket.seq, remaining, retry_after.map(|d| d.as_secs_f64()), now);
        } else if let Some(r) = remaining {
            e.observe(ticket.seq, r, now);
        }
    }

    /// The header that reports `ticket`'s bucket.
    pub fn header(ticket: &Ticket) -> &'static str {
        ticket.key.1.header()
    }
}

#[cfg(test)]
#[path = "pacer_tests.rs"]
mod tests;
