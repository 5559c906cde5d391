//! A fast parser for the RFC 3339 times Docker writes (Go's
//! `time.RFC3339Nano`), with chrono as the fallback for other valid forms.

use chrono::Datelike;

use super::document::ReadTime;

/// Parses `text`; year 1 (Go's zero time) is [`ReadTime::Zero`].
pub(super) fn parse(text: &str) -> Option<ReadTime> {
    fast(text.as_bytes()).or_else(|| {
        let time = chrono::DateTime::parse_from_rfc3339(text).ok()?;
        Some(if time.year() == 1 { ReadTime::Zero } else { ReadTime::At(time.timestamp_millis()) })
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`; `None` for anything else
/// (including leap seconds), which the caller hands to chrono.
fn fast(text: &[u8]) -> Option<ReadTime> {
    let [y0, y1, y2, y3, b'-', mo0, mo1, b'-', d0, d1, b'T', h0, h1, b':', mi0, mi1, b':', s0, s1, rest @ ..] = text
    else {
        return None;
    };
    let year = digits(&[*y0, *y1, *y2, *y3])?;
    let month = digits(&[*mo0, *mo1])?;
    let day = digits(&[*d0, *d1])?;
    let hour = digits(&[*h0, *h1])?;
    let minute = digits(&[*mi0, *mi1])?;
    let second = digits(&[*s0, *s1])?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    if year == 1 {
        return Some(ReadTime::Zero);
    }

    let (millis, zone) = match rest {
        [b'.', fraction @ ..] => {
            let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
            if count == 0 || count > 9 {
                return None;
            }
            let (digits_, zone) = fraction.split_at(count);
            // Milliseconds: the first three digits, zero-padded.
            let millis =
                digits_.iter().chain(std::iter::repeat(&b'0')).take(3).fold(0, |acc, d| acc * 10 + i64::from(d - b'0'));
            (millis, zone)
        }
        zone => (0, zone),
    };
    let offset_minutes = match zone {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), oh0, oh1, b':', om0, om1] => {
            let hours = digits(&[*oh0, *oh1])?;
            let minutes = digits(&[*om0, *om1])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 60 + minutes;
            if *sign == b'-' {
                -offset
            } else {
                offset
            }
        }
        _ => return None,
    };

    let days = days_from_civil(year, month, day);
    let seconds = ((days * 24 + hour) * 60 + minute - offset_minutes) * 60 + second;
    Some(ReadTime::At(seconds * 1000 + millis))
}

/// The value of ASCII decimal digits.
fn digits(text: &[u8]) -> Option<i64> {
    text.iter().try_fold(0, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0')))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date: Howard Hinnant's
/// `days_from_civil` (<http://howardhinnant.github.io/date_algorithms.html>).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(text: &str) -> Option<i64> {
        match parse(text) {
            Some(ReadTime::At(ms)) => Some(ms),
            _ => None,
        }
    }

    #[test]
    fn fast_path_agrees_with_chrono() {
        for text in [
            "2026-11-23T00:48:38.78471862Z",
            "2015-09-05T21:59:08.423347821Z",
            "2023-08-05T08:37:20.278237885Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59.9Z",
            "2000-03-01T00:00:00.123456789+09:00",
            "1999-12-31T23:30:00-05:30",
            "1969-12-31T23:59:59.999Z",
            "9999-12-31T23:59:59.999999999Z",
        ] {
            let chrono = chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_millis()).ok();
            assert_eq!(fast(text.as_bytes()), chrono.map(ReadTime::At), "{text}");
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(millis("2026-11-23T00:48:38.78471862Z"), Some(1_795_394_918_784));
        assert_eq!(millis("1970-01-01T09:00:00.5+09:00"), Some(500));
    }

    #[test]
    fn go_zero_time_is_zero_in_any_spelling() {
        assert_eq!(parse("0001-01-01T00:00:00Z"), Some(ReadTime::Zero));
        assert_eq!(parse("0001-01-01T00:00:00.000+00:00"), Some(ReadTime::Zero));
    }

    #[test]
    fn other_valid_forms_fall_back_to_chrono() {
        assert_eq!(fast(b"2026-11-23t00:48:38z"), None);
        assert_eq!(millis("2026-11-23t00:48:38z"), Some(1_795_394_918_000));
        // chrono folds a leap second into the next second.
        assert_eq!(fast(b"2016-12-31T23:59:60Z"), None);
        assert_eq!(millis("2016-12-31T23:59:60Z"), Some(1_483_228_800_000));
    }

    #[test]
    fn invalid_times_are_rejected() {
        for text in [
            "",
            "2026-11-23",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T00:00:00",
            "2026-11-23T00:00:00.Z",
            "2026-11-23T00:00:00+9:00",
            "2026-11-23T00:00:00Zjunk",
            "２026-11-23T00:00:00Z",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
