//! Durations as operators write them: `500ms`, `10s`, `5m`, `1h`, `35d`, or a
//! combination such as `1h30m`.

use std::time::Duration;

/// Why a duration was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad duration {text:?}: {reason} (write e.g. 500ms, 10s, 5m, 1h, 35d)")]
pub struct DurationError {
    text: String,
    reason: &'static str,
}

/// Parses `10s`, `5m`, `1h30m`, `35d`, `250ms`. A bare number is refused:
/// its unit would be a guess.
///
/// ```
/// use std::time::Duration;
/// use kura_store::duration::parse_duration;
///
/// assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert!(parse_duration("10").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let error = |reason| DurationError { text: text.to_owned(), reason };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(error("empty"));
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(error("expected a number"));
        }
        let number: u64 = rest[..digits].parse().map_err(|_| error("number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let millis_per_unit: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(error("missing unit")),
            _ => return Err(error("unknown unit")),
        };
        rest = &rest[unit_len..];
        let millis = number.checked_mul(millis_per_unit).ok_or_else(|| error("too large"))?;
        total = total.checked_add(Duration::from_millis(millis)).ok_or_else(|| error("too large"))?;
    }
    Ok(total)
}

/// Formats a duration the way [`parse_duration`] reads it, largest units
/// first (`1h30m`, `10s`, `250ms`).
pub fn format_duration(duration: Duration) -> String {
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if millis >= size {
            out.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_combinations_parse() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("35d"), Ok(Duration::from_secs(35 * 86_400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn bad_durations_are_refused() {
        for bad in ["", "10", "s", "10x", "-5s", "1.5s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["10s", "5m", "1h30m", "35d", "250ms", "1d1h1m1s1ms"] {
            let parsed = parse_duration(text);
            assert_eq!(parsed.map(format_duration).as_deref(), Ok(text));
        }
    }
}
