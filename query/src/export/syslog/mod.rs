//! Syslog messages for Hinemos' syslog monitor (システムログ監視), byte by
//! byte as its receiver reads them (see shared/reference/hinemos-formats.md):
//!
//! `<PRI>MMM dd HH:mm:ss HOSTNAME TAG: MSG`, RFC 3164 with the day padded
//! by a space (`Nov  8`), in the receiver's local time, since it reads a
//! 3164 timestamp as its own; or RFC 3339 with an explicit offset in the
//! date's place (Hinemos 6.2+). HOSTNAME is made of `[A-Za-z0-9./_-]` only
//! (Hinemos takes anything else for the TAG and files the message under
//! the sender's address); over TCP every message ends with LF, without
//! octet counting, at most 4 096 bytes; a UDP datagram stays within 1 024.
//!
//! kura formats the line itself and sends it over std sockets
//! ([`target`]): the `syslog` crate (7.0) writes the 3164 timestamp in UTC
//! with a zero-padded day, stamps the send time rather than the event's and
//! does not frame TCP messages; `fasyslog` ends TCP messages with CR LF.
//!
//! The message text never breaks the header or the framing: every control
//! character left in it (CR, LF, NUL, TAB, ...) is written as `\u{..}`
//! ([`escape`]), and a message longer than the limit is cut at a character
//! boundary, never split into two.

pub mod target;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Local, SecondsFormat, TimeZone};

/// A message over TCP, with its LF, is at most this long (Hinemos' limit).
pub const TCP_MAX_BYTES: usize = 4096;
/// A UDP datagram is at most this long (RFC 3164's limit).
pub const UDP_MAX_BYTES: usize = 1024;
/// The longest TAG (RFC 3164).
pub const MAX_TAG_CHARS: usize = 32;
/// The longest HOSTNAME (a DNS name).
pub const MAX_HOSTNAME_CHARS: usize = 255;

/// The facility of the messages (RFC 3164 section 4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(u8);

impl Facility {
    /// `user`: user-level messages (the default).
    pub const USER: Facility = Facility(1);
    /// `daemon`.
    pub const DAEMON: Facility = Facility(3);

    const NAMES: [&'static str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];

    /// The facility's code, 0 to 23.
    pub fn code(self) -> u8 {
        self.0
    }
}

impl FromStr for Facility {
    type Err = String;

    fn from_str(name: &str) -> Result<Facility, String> {
        Facility::NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|code| u8::try_from(code).ok())
            .map(Facility)
            .ok_or_else(|| format!("unknown facility {name:?} (one of {})", Facility::NAMES.join(", ")))
    }
}

/// The severity of a message (RFC 3164 section 4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// 0.
    Emergency = 0,
    /// 1.
    Alert = 1,
    /// 2.
    Critical = 2,
    /// 3.
    Error = 3,
    /// 4.
    Warning = 4,
    /// 5.
    Notice = 5,
    /// 6.
    Info = 6,
    /// 7.
    Debug = 7,
}

impl Severity {
    /// The severity's code, 0 to 7.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The name syslog uses (`err`, `warning`, `info`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Emergency => "emerg",
            Severity::Alert => "alert",
            Severity::Critical => "crit",
            Severity::Error => "err",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
            Severity::Info => "info",
            Severity::Debug => "debug",
        }
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(name: &str) -> Result<Severity, String> {
        Ok(match name {
            "emerg" | "emergency" => Severity::Emergency,
            "alert" => Severity::Alert,
            "crit" | "critical" => Severity::Critical,
            "err" | "error" => Severity::Error,
            "warning" | "warn" => Severity::Warning,
            "notice" => Severity::Notice,
            "info" => Severity::Info,
            "debug" => Severity::Debug,
            _ => {
                return Err(format!(
                    "unknown severity {name:?} (emerg, alert, crit, err, warning, notice, info, debug)"
                ))
            }
        })
    }
}

/// How the date is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stamp {
    /// `Nov  8 01:02:03`: RFC 3164, the receiver's local time, no year.
    #[default]
    Rfc3164,
    /// `2026-11-08T01:02:03.123456+09:00`: RFC 3339 with its offset.
    Rfc3339,
}

/// The zone dates are written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Zone {
    /// This machine's local time (`TZ`, else `/etc/localtime`): the
    /// receiver's, when kura runs beside it or in the same zone.
    #[default]
    Local,
    /// A fixed offset.
    Fixed(FixedOffset),
}

impl Zone {
    /// A Unix time in this zone.
    pub fn datetime(self, time_ns: i64) -> DateTime<FixedOffset> {
        match self {
            Zone::Local => Local.timestamp_nanos(time_ns).fixed_offset(),
            Zone::Fixed(offset) => offset.timestamp_nanos(time_ns),
        }
    }
}

/// How messages are written: the same for every message of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogFormat {
    /// The facility.
    pub facility: Facility,
    /// The TAG (without its `:`).
    pub tag: String,
    /// The date's form.
    pub stamp: Stamp,
    /// The date's zone.
    pub zone: Zone,
}

impl Default for SyslogFormat {
    fn default() -> SyslogFormat {
        SyslogFormat { facility: Facility::USER, tag: "kura".to_owned(), stamp: Stamp::Rfc3164, zone: Zone::Local }
    }
}

/// One message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// When it happened, Unix ns (written in the header's date).
    pub time_ns: i64,
    /// Its severity.
    pub severity: Severity,
    /// The HOSTNAME: a [`valid_hostname`], which the caller chose.
    pub hostname: String,
    /// The text (MSG); control characters are escaped when it is written.
    pub text: String,
}

impl SyslogFormat {
    /// A format with this TAG, refused unless it is 1 to 32 characters of
    /// `[A-Za-z0-9._-]` (a TAG ends at the first other character).
    pub fn with_tag(self, tag: &str) -> Result<SyslogFormat, String> {
        let usable = !tag.is_empty()
            && tag.chars().count() <= MAX_TAG_CHARS
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !usable {
            return Err(format!("syslog tag {tag:?}: 1 to {MAX_TAG_CHARS} letters, digits, '.', '_' or '-'"));
        }
        Ok(SyslogFormat { tag: tag.to_owned(), ..self })
    }

    /// The message as sent, without framing, at most `max_bytes` long (the
    /// text cut at a character boundary to fit; the header is never cut).
    pub fn encode(&self, message: &Message, max_bytes: usize) -> Vec<u8> {
        let pri = u16::from(self.facility.code()) * 8 + u16::from(message.severity.code());
        let time = self.zone.datetime(message.time_ns);
        let date = match self.stamp {
            // %e pads the day with a space; chrono's month names are English.
            Stamp::Rfc3164 => time.format("%b %e %H:%M:%S").to_string(),
            Stamp::Rfc3339 => time.to_rfc3339_opts(SecondsFormat::Micros, false),
        };
        let mut line = format!("<{pri}>{date} {} {}: ", message.hostname, self.tag);
        line.push_str(&escape(&message.text));
        cut(&mut line, max_bytes);
        line.into_bytes()
    }
}

/// Whether `name` can be a HOSTNAME: 1 to 255 characters of `[A-Za-z0-9./_-]`.
pub fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_HOSTNAME_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '_' | '-'))
}

/// The first of `candidates` that can be a HOSTNAME.
pub fn first_hostname<'a>(candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates.into_iter().find(|name| valid_hostname(name))
}

/// `text` with every control character (C0, DEL, C1, and the Unicode line
/// and paragraph separators) written as `\u{..}`: nothing in a message can
/// end it, or start a line of its own in a log file.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Cuts `line` to at most `max_bytes`, at a character boundary.
pub fn cut(line: &mut String, max_bytes: usize) {
    if line.len() <= max_bytes {
        return;
    }
    let mut end = max_bytes;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokyo() -> Zone {
        Zone::Fixed(FixedOffset::east_opt(9 * 3600).unwrap())
    }

    /// 2026-11-07T16:02:03.5Z = 2026-11-08 01:02:03.5 in Tokyo.
    const TIME_NS: i64 = 1_794_067_323_500_000_000;

    fn message(text: &str) -> Message {
        Message {
            time_ns: TIME_NS,
            severity: Severity::Error,
            hostname: "90b56eb899e7".to_owned(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn rfc3164_lines_are_exact_bytes_in_the_receivers_zone_with_a_space_padded_day() {
        let format = SyslogFormat { zone: tokyo(), ..SyslogFormat::default() };
        let line = format.encode(&message("90b56eb899e7 exited"), TCP_MAX_BYTES);
        assert_eq!(String::from_utf8(line).unwrap(), "<11>Nov  8 01:02:03 90b56eb899e7 kura: 90b56eb899e7 exited");
        let utc = SyslogFormat { zone: Zone::Fixed(FixedOffset::east_opt(0).unwrap()), ..format.clone() };
        assert!(String::from_utf8(utc.encode(&message("x"), 100)).unwrap().starts_with("<11>Nov  7 16:02:03 "));
        let local0 = SyslogFormat { facility: "local0".parse().unwrap(), ..format };
        let info = Message { severity: Severity::Info, ..message("x") };
        assert!(String::from_utf8(local0.encode(&info, 100)).unwrap().starts_with("<134>"));
    }

    #[test]
    fn rfc3339_dates_carry_their_offset() {
        let format = SyslogFormat { zone: tokyo(), stamp: Stamp::Rfc3339, ..SyslogFormat::default() };
        let line = String::from_utf8(format.encode(&message("m"), 200)).unwrap();
        assert_eq!(line, "<11>2026-11-08T01:02:03.500000+09:00 90b56eb899e7 kura: m");
        let parsed = syslog_loose::parse_message(&line, syslog_loose::Variant::RFC3164);
        assert_eq!(parsed.timestamp.map(|t| t.timestamp_nanos_opt()), Some(Some(TIME_NS)));
        assert_eq!(parsed.hostname, Some("90b56eb899e7"));
    }

    #[test]
    fn what_a_parser_reads_back_is_what_was_meant() {
        let format = SyslogFormat { zone: tokyo(), ..SyslogFormat::default() }.with_tag("kura-events").unwrap();
        let text = "web\u{e9} line1\nline2\r\0tab\there \u{2028}end";
        let line = String::from_utf8(format.encode(&message(text), TCP_MAX_BYTES)).unwrap();
        assert!(!line.contains(['\n', '\r', '\0', '\t', '\u{2028}']), "{line:?}");
        let tokyo = FixedOffset::east_opt(9 * 3600).unwrap();
        let parsed =
            syslog_loose::parse_message_with_year_tz(&line, |_| 2026, Some(tokyo), syslog_loose::Variant::RFC3164);
        assert_eq!(parsed.hostname, Some("90b56eb899e7"));
        assert_eq!(parsed.appname, Some("kura-events"));
        assert_eq!(parsed.severity, Some(syslog_loose::SyslogSeverity::SEV_ERR));
        assert_eq!(parsed.facility, Some(syslog_loose::SyslogFacility::LOG_USER));
        assert_eq!(parsed.msg, "web\u{e9} line1\\u{a}line2\\u{d}\\u{0}tab\\u{9}here \\u{2028}end");
        // The 3164 date read in the receiver's zone is the event's second.
        assert_eq!(parsed.timestamp.map(|t| t.timestamp()), Some(TIME_NS / 1_000_000_000));
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary_to_the_limit() {
        let format = SyslogFormat { zone: tokyo(), ..SyslogFormat::default() };
        let text = "é".repeat(3000);
        let line = format.encode(&message(&text), TCP_MAX_BYTES - 1);
        assert!(line.len() < TCP_MAX_BYTES && line.len() >= TCP_MAX_BYTES - 2, "{}", line.len());
        let line = String::from_utf8(line).expect("cut on a character boundary");
        assert!(line.ends_with('é'));
        assert!(format.encode(&message(&text), UDP_MAX_BYTES).len() <= UDP_MAX_BYTES);
    }

    #[test]
    fn hostnames_tags_facilities_and_severities_are_checked() {
        assert!(valid_hostname("90b56eb899e7"));
        assert!(valid_hostname("docker_host1.example/a-b"));
        assert!(!valid_hostname("web server"));
        assert!(!valid_hostname("wébserver"));
        assert!(!valid_hostname(""));
        assert!(!valid_hostname("tag:"));
        assert_eq!(first_hostname(["web server", "90b56eb899e7"]), Some("90b56eb899e7"));
        assert!(SyslogFormat::default().with_tag("kura").is_ok());
        assert!(SyslogFormat::default().with_tag("ku ra").is_err());
        assert!(SyslogFormat::default().with_tag(&"k".repeat(33)).is_err());
        assert_eq!("local7".parse::<Facility>().map(Facility::code), Ok(23));
        assert!("local8".parse::<Facility>().is_err());
        assert_eq!("warn".parse::<Severity>(), Ok(Severity::Warning));
        assert_eq!(Severity::Error.as_str().parse::<Severity>(), Ok(Severity::Error));
    }
}
