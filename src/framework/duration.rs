//! Go-style durations as Terraform users write them in `timeouts` blocks (`"90s"`, `"5m"`,
//! `"1h30m"`, `"1.5h"`). Pure and total: any string yields a value or an error, never a panic,
//! and every value is at most [`MAX`], so `Instant::now() + d` cannot overflow.

use std::time::Duration;

/// The longest timeout accepted: 24 hours. Longer waits are never what an apply needs, and a
/// bound keeps deadline arithmetic far from overflow.
pub const MAX: Duration = Duration::from_secs(24 * 3600);

/// Why a string is not an acceptable duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("{0:?} is not a duration like \"90s\", \"5m\" or \"1h30m\"")]
    Malformed(String),
    #[error("{0:?} is zero; give a positive duration")]
    Zero(String),
    #[error("{0:?} is longer than the maximum of 24h")]
    TooLong(String),
}

/// Nanoseconds per unit, longest unit names first so that "ms" is not read as "m".
const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parse a positive duration of at most [`MAX`]: one or more `<number><unit>` parts, where the
/// number may have a fraction and the unit is one of ns, us, µs, ms, s, m, h.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let malformed = || DurationError::Malformed(text.to_string());
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(malformed());
    }
    let max_nanos = MAX.as_nanos();
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(malformed)?;
        let (number, tail) = rest.split_at(digits);
        let (unit, per) =
            UNITS.iter().filter(|(u, _)| tail.starts_with(u)).max_by_key(|(u, _)| u.len()).ok_or_else(malformed)?;
        rest = &tail[unit.len()..];
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return Err(malformed());
        }
        // Anything with more than 20 digits is far over the maximum; stop before overflow.
        if whole.len() > 20 {
            return Err(DurationError::TooLong(text.to_string()));
        }
        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| malformed())? };
        let mut part = whole.checked_mul(*per).ok_or_else(|| DurationError::TooLong(text.to_string()))?;
        // Fractions beyond nanosecond precision are dropped, as Go does.
        let mut scale = *per;
        for d in fraction.chars().take(18) {
            scale /= 10;
            part += u128::from(d.to_digit(10).ok_or_else(malformed)?) * scale;
        }
        total = total.saturating_add(part);
        if total > max_nanos {
            return Err(DurationError::TooLong(text.to_string()));
        }
    }
    if total == 0 {
        return Err(DurationError::Zero(text.to_string()));
    }
    Ok(Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn go_forms() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse(" 5m "), Ok(Duration::from_secs(300)));
        assert_eq!(parse("24h"), Ok(MAX));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in ["", "5", "5x", "m", "1..5s", ".s", "-5m", "5m3", "h1"] {
            assert!(matches!(parse(bad), Err(DurationError::Malformed(_))), "{bad:?} -> {:?}", parse(bad));
        }
        assert!(matches!(parse("0s"), Err(DurationError::Zero(_))));
    }

    #[test]
    fn huge_values_are_errors_not_panics() {
        for big in ["3000000000000000h", "9999999999999999h", "24h1ns", "99999999999999999999999999h", "25h"] {
            assert!(matches!(parse(big), Err(DurationError::TooLong(_))), "{big:?} -> {:?}", parse(big));
        }
    }

    proptest! {
        #[test]
        fn any_string_parses_or_errs_within_the_bound(s in "\\PC{0,40}") {
            if let Ok(d) = parse(&s) {
                prop_assert!(d <= MAX && d > Duration::ZERO);
            }
        }

        #[test]
        fn any_digits_and_units_stay_bounded(n in "[0-9]{1,30}(\\.[0-9]{0,25})?", u in "(ns|us|ms|s|m|h)") {
            let s = format!("{n}{u}");
            if let Ok(d) = parse(&s) {
                prop_assert!(d <= MAX);
                let _ = std::time::Instant::now() + d;
            }
        }
    }
}
