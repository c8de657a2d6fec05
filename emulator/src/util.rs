//! Small helpers shared by the modules: time formatting, randomness, GUID checks, base64url.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `2024-05-01T10:11:12.1234567Z`: the 7-digit form ARM uses for createdOn/updatedOn.
pub fn arm_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 100
    )
}

/// RFC 3339 with millisecond precision (request log).
pub fn rfc3339_ms(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// RFC 3339 with second precision (Kubernetes creationTimestamp).
pub fn rfc3339_s(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// `2024-05-01 10:11:12Z`, the format AAD uses in error descriptions.
pub fn aad_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Fill a buffer with cryptographically secure random bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // aws-lc's RNG only fails if the platform has no entropy source at all;
    // fall back to a v4 UUID (getrandom based) rather than panicking.
    if aws_lc_rs::rand::fill(&mut buf).is_err() {
        for chunk in buf.chunks_mut(16) {
            let u = uuid::Uuid::new_v4();
            chunk.copy_from_slice(&u.as_bytes()[..chunk.len()]);
        }
    }
    buf
}

/// A uniformly distributed float in [0, 1).
pub fn random_unit() -> f64 {
    let b = random_bytes::<8>();
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Random URL-safe secret of 32 bytes of entropy.
pub fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decode base64url, tolerating padding.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Is `s` a GUID in the 8-4-4-4-12 hex form (braces not accepted)?
pub fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// `t` plus `secs` seconds, saturating at the largest representable instant
/// (seed and admin values are untrusted and may be huge).
pub fn add_secs(t: OffsetDateTime, secs: u64) -> OffsetDateTime {
    i64::try_from(secs).ok().and_then(|s| t.checked_add(time::Duration::seconds(s))).unwrap_or_else(|| {
        time::PrimitiveDateTime::new(
            time::Date::from_calendar_date(9999, time::Month::December, 31).unwrap_or(time::Date::MAX),
            time::Time::MIDNIGHT,
        )
        .assume_utc()
    })
}

/// Unix seconds.
pub fn unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// Compare secrets without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(arm_time(t), "2023-11-14T22:13:20.1234567Z");
        assert_eq!(rfc3339_ms(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_s(t), "2023-11-14T22:13:20Z");
        assert_eq!(aad_timestamp(t), "2023-11-14 22:13:20Z");
    }

    #[test]
    fn guid_check() {
        assert!(is_guid("05c5a614-a7d6-4502-b150-c2fb455033ff"));
        assert!(is_guid("05C5A614-A7D6-4502-B150-C2FB455033FF"));
        assert!(!is_guid("05c5a614a7d64502b150c2fb455033ff"));
        assert!(!is_guid("not-a-guid"));
        assert!(!is_guid("{05c5a614-a7d6-4502-b150-c2fb455033ff}"));
    }

    #[test]
    fn random_unit_in_range() {
        for _ in 0..100 {
            let x = random_unit();
            assert!((0.0..1.0).contains(&x));
        }
    }

    #[test]
    fn add_secs_saturates() {
        let t = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(unix(add_secs(t, 5)), 5);
        assert_eq!(add_secs(t, u64::MAX).year(), 9999);
    }

    #[test]
    fn b64_roundtrip() {
        assert_eq!(b64url_decode(&b64url(b"hello?")).unwrap(), b"hello?");
        assert_eq!(b64url_decode("aGk=").unwrap(), b"hi");
        assert!(b64url_decode("***").is_none());
    }
}
