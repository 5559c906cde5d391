//! The time zone rows are written in (`--tz`): UTC by default, or a zone
//! of the IANA database (`Asia/Tokyo`).

use chrono::{DateTime, Offset, SecondsFormat, TimeZone, Utc};
use kura_store::sample::UnixMillis;

/// A zone to write times in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Zone {
    /// UTC, written with `Z`.
    #[default]
    Utc,
    /// A named zone, written with its offset at each time.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// `UTC`, `Z` or an IANA name.
    pub fn parse(text: &str) -> Result<Zone, String> {
        match text {
            "UTC" | "utc" | "Z" => Ok(Zone::Utc),
            name => name
                .parse::<chrono_tz::Tz>()
                .map(Zone::Named)
                .map_err(|_| format!("--tz {name:?}: not a time zone name (e.g. UTC, Asia/Tokyo, Europe/Berlin)")),
        }
    }

    /// The zone's offset from UTC at `time`, ms.
    pub fn offset_ms(self, time: UnixMillis) -> i64 {
        match (self, DateTime::<Utc>::from_timestamp_millis(time)) {
            (Zone::Named(tz), Some(utc)) => {
                i64::from(tz.offset_from_utc_datetime(&utc.naive_utc()).fix().local_minus_utc()) * 1000
            }
            _ => 0,
        }
    }

    /// `time` as RFC 3339 in this zone, to the second.
    pub fn format(self, time: UnixMillis) -> String {
        let Some(utc) = DateTime::<Utc>::from_timestamp_millis(time) else {
            return time.to_string();
        };
        match self {
            Zone::Utc => utc.to_rfc3339_opts(SecondsFormat::Secs, true),
            Zone::Named(tz) => utc.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_in_the_zone_with_its_offset() {
        let t = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(Zone::Utc.format(t), "2026-01-01T00:00:00Z");
        let tokyo = Zone::parse("Asia/Tokyo").unwrap();
        assert_eq!(tokyo.format(t), "2026-01-01T09:00:00+09:00");
        assert_eq!(tokyo.offset_ms(t), 9 * 3_600_000);
        assert!(Zone::parse("Mars/Olympus").is_err());
    }
}
