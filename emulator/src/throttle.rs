//! ARM's request throttling: a token bucket per subscription and operation class (reads,
//! writes, deletes). Each request takes one token; an empty bucket answers 429 with
//! `Retry-After`; tokens come back at a steady refill rate up to the bucket size. Every ARM
//! response reports what is left in `x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`.
//!
//! Pure: the caller passes the time (seconds on a monotonic clock) and the sizes from the
//! settings, so the arithmetic is unit-tested without a server or a clock. Buckets live in
//! `App`, so several provider processes that use one subscription of one emulator share them.

use std::collections::HashMap;

use crate::settings::{BucketSettings, Throttling};

/// The three classes ARM counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpClass {
    Reads,
    Writes,
    Deletes,
}

impl OpClass {
    /// GET and HEAD read, DELETE deletes, everything else (PUT, PATCH, POST) writes.
    pub fn of(method: &str) -> OpClass {
        match method.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" => OpClass::Reads,
            "DELETE" => OpClass::Deletes,
            _ => OpClass::Writes,
        }
    }

    pub const ALL: [OpClass; 3] = [OpClass::Reads, OpClass::Writes, OpClass::Deletes];

    pub fn header(self) -> &'static str {
        match self {
            OpClass::Reads => "x-ms-ratelimit-remaining-subscription-reads",
            OpClass::Writes => "x-ms-ratelimit-remaining-subscription-writes",
            OpClass::Deletes => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }

    fn of_settings(self, t: &Throttling) -> &BucketSettings {
        match self {
            OpClass::Reads => &t.reads,
            OpClass::Writes => &t.writes,
            OpClass::Deletes => &t.deletes,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// When `tokens` was last brought up to date (seconds).
    at: f64,
}

impl Bucket {
    fn level(&self, s: &BucketSettings, now: f64) -> f64 {
        let elapsed = (now - self.at).max(0.0);
        (self.tokens + elapsed * s.refill_per_sec).min(s.bucket_size as f64)
    }
}

/// What one request got.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `None`: admitted. `Some(wait)`: throttled; the next token arrives in `wait` seconds.
    pub throttled: Option<f64>,
    /// Whole tokens left in each class's bucket, for the response headers.
    pub remaining: [(OpClass, u64); 3],
}

/// The buckets of one emulator, keyed by lower-cased subscription id ("" for requests outside
/// any subscription) and class. A bucket starts full the first time it is used.
#[derive(Debug, Default)]
pub struct Buckets {
    buckets: HashMap<(String, OpClass), Bucket>,
}

impl Buckets {
    /// Forget every bucket (they start full again), e.g. when the sizes change.
    pub fn reset(&mut self) {
        self.buckets.clear();
    }

    /// Count one request of `class` on `subscription` at `now` (seconds). With throttling off
    /// nothing is counted and every bucket reports itself full.
    pub fn take(&mut self, t: &Throttling, subscription: &str, class: OpClass, now: f64) -> Outcome {
        let sub = subscription.to_ascii_lowercase();
        let mut throttled = None;
        if t.enabled {
            let s = class.of_settings(t);
            let b = self.bucket(&sub, class, s, now);
            let level = b.level(s, now);
            if level >= 1.0 {
                *b = Bucket { tokens: level - 1.0, at: now };
            } else {
                *b = Bucket { tokens: level, at: now };
                throttled = Some((1.0 - level) / s.refill_per_sec.max(f64::MIN_POSITIVE));
            }
        }
        let remaining = OpClass::ALL.map(|c| (c, self.remaining(t, &sub, c, now)));
        Outcome { throttled, remaining }
    }

    fn bucket(&mut self, sub: &str, class: OpClass, s: &BucketSettings, now: f64) -> &mut Bucket {
        self.buckets.entry((sub.to_string(), class)).or_insert(Bucket { tokens: s.bucket_size as f64, at: now })
    }

    fn remaining(&self, t: &Throttling, sub: &str, class: OpClass, now: f64) -> u64 {
        let s = class.of_settings(t);
        if !t.enabled {
            return s.bucket_size;
        }
        match self.buckets.get(&(sub.to_string(), class)) {
            Some(b) => b.level(s, now).floor() as u64,
            None => s.bucket_size,
        }
    }
}

/// `Retry-After` in whole seconds (at least 1, as ARM never sends 0) for a wait in seconds.
pub fn retry_after_secs(wait: f64) -> u64 {
    (wait.ceil() as u64).max(1)
}

/// The same wait in milliseconds (at least 1), for `x-ms-retry-after-ms`: a scaled-down bucket
/// refills in well under a second, which whole seconds cannot express.
pub fn retry_after_ms(wait: f64) -> u64 {
    ((wait * 1000.0).ceil() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(size: u64, refill: f64) -> Throttling {
        let b = BucketSettings { bucket_size: size, refill_per_sec: refill };
        Throttling { enabled: true, reads: b.clone(), writes: b.clone(), deletes: b }
    }

    fn left(o: &Outcome, class: OpClass) -> u64 {
        o.remaining.iter().find(|(c, _)| *c == class).map(|(_, n)| *n).unwrap()
    }

    #[test]
    fn a_full_bucket_drains_then_throttles_until_a_token_refills() {
        let t = small(3, 10.0);
        let mut b = Buckets::default();
        for expected in [2, 1, 0] {
            let o = b.take(&t, "S", OpClass::Writes, 0.0);
            assert_eq!(o.throttled, None);
            assert_eq!(left(&o, OpClass::Writes), expected);
        }
        let o = b.take(&t, "s", OpClass::Writes, 0.0);
        assert_eq!(o.throttled, Some(0.1), "the subscription id is case-insensitive");
        assert_eq!(left(&o, OpClass::Writes), 0);
        // Half a token later: still throttled, for the other half.
        let o = b.take(&t, "s", OpClass::Writes, 0.05);
        assert!((o.throttled.unwrap() - 0.05).abs() < 1e-9, "{o:?}");
        // A whole token later it is admitted.
        assert_eq!(b.take(&t, "s", OpClass::Writes, 0.1).throttled, None);
        // Refill stops at the bucket size.
        assert_eq!(left(&b.take(&t, "s", OpClass::Writes, 100.0), OpClass::Writes), 2);
    }

    #[test]
    fn classes_and_subscriptions_have_their_own_buckets() {
        let t = small(1, 1.0);
        let mut b = Buckets::default();
        assert_eq!(b.take(&t, "a", OpClass::Writes, 0.0).throttled, None);
        assert!(b.take(&t, "a", OpClass::Writes, 0.0).throttled.is_some());
        let o = b.take(&t, "a", OpClass::Deletes, 0.0);
        assert_eq!(o.throttled, None);
        assert_eq!((left(&o, OpClass::Writes), left(&o, OpClass::Deletes), left(&o, OpClass::Reads)), (0, 0, 1));
        assert_eq!(b.take(&t, "a", OpClass::Reads, 0.0).throttled, None);
        assert_eq!(b.take(&t, "b", OpClass::Writes, 0.0).throttled, None);
        b.reset();
        assert_eq!(b.take(&t, "a", OpClass::Writes, 0.0).throttled, None, "reset refills");
    }

    #[test]
    fn disabled_throttling_admits_everything_and_reports_full_buckets() {
        let t = Throttling { enabled: false, ..small(2, 1.0) };
        let mut b = Buckets::default();
        for _ in 0..10 {
            let o = b.take(&t, "a", OpClass::Writes, 0.0);
            assert_eq!(o.throttled, None);
            assert_eq!(left(&o, OpClass::Writes), 2);
        }
    }

    #[test]
    fn classes_and_retry_after() {
        assert_eq!(OpClass::of("get"), OpClass::Reads);
        assert_eq!(OpClass::of("HEAD"), OpClass::Reads);
        assert_eq!(OpClass::of("DELETE"), OpClass::Deletes);
        assert_eq!(OpClass::of("PUT"), OpClass::Writes);
        assert_eq!(OpClass::of("POST"), OpClass::Writes);
        assert_eq!(OpClass::of("PATCH"), OpClass::Writes);
        assert_eq!((retry_after_secs(0.01), retry_after_secs(1.0), retry_after_secs(1.2)), (1, 1, 2));
        assert_eq!((retry_after_ms(0.0101), retry_after_ms(0.0)), (11, 1));
    }
}
