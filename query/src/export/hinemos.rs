//! Hinemos custom monitor output: one `key,value` line per item.
//!
//! What the Hinemos agent and manager accept (see
//! shared/reference/hinemos-formats.md): lines split on LF; each must match
//! `^(.+),\s*(-?[0-9.]+)$` (6.1 to 7.1), and kura keeps to the stricter
//! `^([^,]+),([0-9.]+)$` of 6.0 and older (no comma in keys, no negative
//! values). A repeated key, `NaN`, `inf`, an exponent, a `+` or a trailing
//! space makes a line invalid. The agent reads stdout only up to
//! `monitor.custom.buffer` bytes (Agent.properties, default 512).
//!
//! [`render`] checks every item before writing anything: items that cannot
//! be printed validly are left out with a [`Warning`]; duplicate keys are a
//! [`RenderError`] and nothing is written. The library never prints to
//! stderr itself: the caller shows the warnings.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io;

use crate::rate::round_to_u64;

/// The agent's default `monitor.custom.buffer`, bytes.
pub const DEFAULT_MAX_BYTES: usize = 512;

/// Keys longer than this many characters draw a warning.
pub const MAX_KEY_CHARS: usize = 64;

/// A figure to print.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A percentage or other ratio: printed with two decimals (`0.07`, `50.00`).
    Ratio(f64),
    /// Bytes or a count: printed as an integer.
    Integer(u64),
}

impl Value {
    /// An integer figure from a rate (e.g. bytes per second), rounded to the
    /// nearest integer (ties to even); `None` when `x` is NaN, infinite,
    /// negative or too large for a `u64`.
    pub fn rounded(x: f64) -> Option<Value> {
        round_to_u64(x).map(Value::Integer)
    }

    /// The value as printed: a plain decimal, two places for ratios; `None`
    /// when it has no such form (NaN, infinite, negative ratio).
    pub fn plain(self) -> Option<String> {
        format_value(self)
    }
}

/// One `key,value` line.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The item's key: Hinemos' display name for the series (e.g.
    /// `cpu_usage:web1`).
    pub key: String,
    /// The figure.
    pub value: Value,
    /// What the item measures, for messages (e.g. a container's full id and
    /// name); `None` to name the item by its position.
    pub origin: Option<String>,
}

impl Item {
    /// An item without an origin.
    pub fn new(key: impl Into<String>, value: Value) -> Item {
        Item { key: key.into(), value, origin: None }
    }

    /// The same item, naming what it measures in messages.
    pub fn with_origin(self, origin: impl Into<String>) -> Item {
        Item { origin: Some(origin.into()), ..self }
    }
}

/// How to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// Warn when the output exceeds this many bytes (the agent's
    /// `monitor.custom.buffer`); 0 turns the warning off.
    pub max_bytes: usize,
}

impl Default for RenderOptions {
    fn default() -> RenderOptions {
        RenderOptions { max_bytes: DEFAULT_MAX_BYTES }
    }
}

/// Something the caller should tell the user (on stderr); the output is
/// still valid.
#[derive(Clone, Debug, PartialEq)]
pub enum Warning {
    /// The item was left out: its value has no plain decimal form.
    ValueNotPrintable {
        /// The item's key.
        key: String,
        /// The value, as Rust debug-prints it.
        value: String,
    },
    /// The item was left out: its key is empty, or holds a comma (6.0 and
    /// older would split it there) or a line break or other control
    /// character (it would break the line).
    KeyNotPrintable {
        /// The key, as Rust debug-prints it (escapes shown).
        key: String,
    },
    /// The item was printed, but its key is long.
    KeyTooLong {
        /// The key.
        key: String,
        /// Its length in characters.
        chars: usize,
    },
    /// The output is larger than the agent reads.
    OverBuffer {
        /// The output's size, bytes.
        bytes: usize,
        /// The limit it was checked against.
        max_bytes: usize,
        /// How many items' lines end after the limit.
        lost: usize,
        /// The first of them: the agent may read its line cut short.
        first_lost: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::ValueNotPrintable { key, value } => {
                write!(f, "left out `{key}`: its value {value} has no plain decimal form Hinemos accepts")
            }
            Warning::KeyNotPrintable { key } => write!(
                f,
                "left out the item with key {key}: a Hinemos key must be non-empty, \
                 without commas, line breaks or control characters"
            ),
            Warning::KeyTooLong { key, chars } => write!(
                f,
                "key `{key}` is {chars} characters long (over {MAX_KEY_CHARS}): \
                 Hinemos may not show or store it whole"
            ),
            Warning::OverBuffer { bytes, max_bytes, lost, first_lost } => write!(
                f,
                "the output is {bytes} bytes, over the Hinemos agent's buffer of {max_bytes} \
                 bytes: {lost} item(s) would be lost (from `{first_lost}`, which may be read \
                 cut short); raise monitor.custom.buffer in Agent.properties, or run one \
                 monitor per container node with `-n #[NODE_NAME]`"
            ),
        }
    }
}

/// Why nothing was rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Two items share a key: Hinemos rejects the repeated line.
    #[error("duplicate Hinemos key `{key}` for {first} and {second}: keys must be unique in one output")]
    DuplicateKey {
        /// The shared key.
        key: String,
        /// The first item's origin (or position).
        first: String,
        /// The second item's origin (or position).
        second: String,
    },
    /// Writing the output failed.
    #[error("cannot write the Hinemos output")]
    Write(#[from] io::Error),
}

/// Writes `items` as `key,value` lines to `out`, in order, and returns the
/// warnings to show. Items with an unprintable key or value are left out
/// (with a warning each); duplicate keys among the rest are an error and
/// nothing is written.
pub fn render(items: &[Item], opts: &RenderOptions, out: &mut impl io::Write) -> Result<Vec<Warning>, RenderError> {
    let mut warnings = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    let mut text = String::new();
    // (key, byte offset where its line's text ends), for the buffer check.
    let mut line_ends: Vec<(&str, usize)> = Vec::with_capacity(items.len());
    for (position, item) in items.iter().enumerate() {
        if !key_is_printable(&item.key) {
            warnings.push(Warning::KeyNotPrintable { key: format!("{:?}", item.key) });
            continue;
        }
        let Some(value) = format_value(item.value) else {
            warnings.push(Warning::ValueNotPrintable { key: item.key.clone(), value: format!("{:?}", item.value) });
            continue;
        };
        if let Some(&earlier) = seen.get(item.key.as_str()) {
            return Err(RenderError::DuplicateKey {
                key: item.key.clone(),
                first: describe(items, earlier),
                second: describe(items, position),
            });
        }
        seen.insert(&item.key, position);
        let chars = item.key.chars().count();
        if chars > MAX_KEY_CHARS {
            warnings.push(Warning::KeyTooLong { key: item.key.clone(), chars });
        }
        text.push_str(&item.key);
        text.push(',');
        text.push_str(&value);
        line_ends.push((&item.key, text.len()));
        text.push('\n');
    }
    if opts.max_bytes > 0 && text.len() > opts.max_bytes {
        let lost: Vec<&str> = line_ends.iter().filter(|&&(_, end)| end > opts.max_bytes).map(|&(key, _)| key).collect();
        if let Some(first_lost) = lost.first() {
            warnings.push(Warning::OverBuffer {
                bytes: text.len(),
                max_bytes: opts.max_bytes,
                lost: lost.len(),
                first_lost: (*first_lost).to_owned(),
            });
        }
    }
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(warnings)
}

/// Whether `key` can start a valid line: non-empty; no comma; no control
/// character (LF, CR, NUL, NEL ...) and no Unicode line or paragraph
/// separator, which Java's `.` does not match.
fn key_is_printable(key: &str) -> bool {
    !key.is_empty() && !key.chars().any(|c| c == ',' || c.is_control() || c == '\u{2028}' || c == '\u{2029}')
}

/// The value as a plain decimal (no sign, exponent, NaN or infinity);
/// `None` for a non-finite or negative ratio. A ratio that rounds to zero
/// from below prints as `0.00`, never `-0.00`.
fn format_value(value: Value) -> Option<String> {
    match value {
        Value::Integer(n) => Some(n.to_string()),
        Value::Ratio(x) if x.is_finite() && x > -0.005 => {
            let mut text = String::new();
            // `{:.2}` never uses an exponent; `max` turns -0.00.. into 0.
            write!(text, "{:.2}", x.max(0.0)).ok()?;
            Some(text)
        }
        Value::Ratio(_) => None,
    }
}

/// How messages name the item at `position`.
fn describe(items: &[Item], position: usize) -> String {
    match items.get(position).and_then(|item| item.origin.as_deref()) {
        Some(origin) => origin.to_owned(),
        None => format!("item #{}", position + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `^(.+),\s*(-?[0-9.]+)$` (Hinemos 6.1 to 7.1), by hand: the greedy key
    /// takes everything up to the last comma after which the rest matches.
    fn matches_hinemos_61(line: &str) -> bool {
        let Some((key, rest)) = line.rsplit_once(',') else {
            return false;
        };
        let dot_matches = |c: char| !matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}');
        let number = rest.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
        let digits = number.strip_prefix('-').unwrap_or(number);
        !key.is_empty()
            && key.chars().all(dot_matches)
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
    }

    /// `^([^,]+),([0-9.]+)$` (Hinemos before 6.0; 6.0 also allows `-`).
    fn matches_hinemos_50(line: &str) -> bool {
        let Some((key, value)) = line.split_once(',') else {
            return false;
        };
        !key.is_empty() && !value.is_empty() && value.chars().all(|c| c.is_ascii_digit() || c == '.')
    }

    fn render_to_string(items: &[Item], opts: RenderOptions) -> (String, Vec<Warning>) {
        let mut out = Vec::new();
        let warnings = render(items, &opts, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), warnings)
    }

    /// Every line parsed back as CSV and against both Hinemos patterns.
    fn check_lines(text: &str, items: &[(&str, f64)]) {
        assert!(text.is_empty() || text.ends_with('\n'));
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), items.len());
        for ((record, line), (key, value)) in records.iter().zip(text.lines()).zip(items) {
            assert!(matches_hinemos_61(line), "6.1+ rejects {line:?}");
            assert!(matches_hinemos_50(line), "6.0- rejects {line:?}");
            assert_eq!(record.len(), 2);
            assert_eq!(&record[0], *key);
            let parsed: f64 = record[1].parse().unwrap();
            assert!((parsed - value).abs() < 0.005 + 1e-9, "{line}: {parsed} vs {value}");
        }
    }

    #[test]
    fn golden_output() {
        let items = [
            Item::new("cpu_usage:web1", Value::Ratio(0.0712)),
            Item::new("cpu_usage:db", Value::Ratio(50.0)),
            Item::new("cpu_usage#1:db", Value::Ratio(99.999)),
            Item::new("cpu_usage:idle", Value::Ratio(-0.001)),
            Item::new("disk_read:90b56eb8", Value::Integer(1_048_576)),
            Item::new("nw_rxpck:90b56eb8", Value::Integer(0)),
        ];
        let (text, warnings) = render_to_string(&items, RenderOptions::default());
        assert_eq!(
            text,
            "cpu_usage:web1,0.07\n\
             cpu_usage:db,50.00\n\
             cpu_usage#1:db,100.00\n\
             cpu_usage:idle,0.00\n\
             disk_read:90b56eb8,1048576\n\
             nw_rxpck:90b56eb8,0\n"
        );
        assert_eq!(warnings, vec![]);
        check_lines(
            &text,
            &[
                ("cpu_usage:web1", 0.07),
                ("cpu_usage:db", 50.0),
                ("cpu_usage#1:db", 100.0),
                ("cpu_usage:idle", 0.0),
                ("disk_read:90b56eb8", 1_048_576.0),
                ("nw_rxpck:90b56eb8", 0.0),
            ],
        );
    }

    #[test]
    fn extreme_values_stay_plain_decimals() {
        let items = [
            Item::new("big", Value::Ratio(1e20)),
            Item::new("tiny", Value::Ratio(1e-20)),
            Item::new("max", Value::Integer(u64::MAX)),
        ];
        let (text, warnings) = render_to_string(&items, RenderOptions::default());
        assert_eq!(text, "big,100000000000000000000.00\ntiny,0.00\nmax,18446744073709551615\n");
        assert!(warnings.is_empty());
        check_lines(&text, &[("big", 1e20), ("tiny", 0.0), ("max", 1.8446744073709552e19)]);
    }

    #[test]
    fn unprintable_values_are_left_out_with_a_warning() {
        let items = [
            Item::new("a", Value::Ratio(f64::NAN)),
            Item::new("b", Value::Ratio(f64::INFINITY)),
            Item::new("c", Value::Ratio(f64::NEG_INFINITY)),
            Item::new("d", Value::Ratio(-1.5)),
            Item::new("e", Value::Ratio(12.3456)),
        ];
        let (text, warnings) = render_to_string(&items, RenderOptions::default());
        assert_eq!(text, "e,12.35\n");
        let skipped: Vec<&str> = warnings
            .iter()
            .map(|w| match w {
                Warning::ValueNotPrintable { key, .. } => key.as_str(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(skipped, ["a", "b", "c", "d"]);
        assert!(warnings[0].to_string().contains("NaN"));
    }

    #[test]
    fn keys_with_commas_or_line_breaks_are_left_out() {
        let items = [
            Item::new("cpu_usage:a,b", Value::Integer(1)),
            Item::new("cpu_usage:a\nb", Value::Integer(2)),
            Item::new("cpu_usage:a\rb", Value::Integer(3)),
            Item::new("cpu_usage:a\u{2028}b", Value::Integer(4)),
            Item::new("", Value::Integer(5)),
            Item::new("cpu_usage:ok", Value::Integer(6)),
        ];
        let (text, warnings) = render_to_string(&items, RenderOptions::default());
        assert_eq!(text, "cpu_usage:ok,6\n");
        assert_eq!(warnings.len(), 5);
        assert_eq!(warnings[1], Warning::KeyNotPrintable { key: "\"cpu_usage:a\\nb\"".to_owned() });
        assert!(warnings[1].to_string().contains(r"cpu_usage:a\nb"));
        check_lines(&text, &[("cpu_usage:ok", 6.0)]);
    }

    #[test]
    fn long_keys_are_printed_with_a_warning() {
        let key = format!("cpu_usage:{}", "x".repeat(60));
        let items = [Item::new(key.clone(), Value::Ratio(1.0))];
        let (text, warnings) = render_to_string(&items, RenderOptions::default());
        assert_eq!(text, format!("{key},1.00\n"));
        assert_eq!(warnings, vec![Warning::KeyTooLong { key, chars: 70 }]);
    }

    #[test]
    fn duplicate_keys_are_an_error_naming_both_and_nothing_is_written() {
        let items = [
            Item::new("cpu_usage:90b56eb8", Value::Ratio(1.0)).with_origin("container 90b56eb899e7aaaa (web1)"),
            Item::new("cpu_usage:other", Value::Ratio(2.0)),
            Item::new("cpu_usage:90b56eb8", Value::Ratio(3.0)).with_origin("container 90b56eb8f00dbbbb (web2)"),
        ];
        let mut out = Vec::new();
        let error = render(&items, &RenderOptions::default(), &mut out).unwrap_err();
        assert!(out.is_empty());
        let message = error.to_string();
        assert!(message.contains("cpu_usage:90b56eb8"), "{message}");
        assert!(message.contains("(web1)") && message.contains("(web2)"), "{message}");
        // Without origins, items are named by position.
        let items = [Item::new("k", Value::Integer(1)), Item::new("k", Value::Integer(2))];
        let error = render(&items, &RenderOptions::default(), &mut out).unwrap_err();
        assert!(error.to_string().contains("item #1 and item #2"), "{error}");
    }

    #[test]
    fn a_left_out_item_does_not_count_as_a_duplicate() {
        let items = [Item::new("k", Value::Ratio(f64::NAN)), Item::new("k", Value::Ratio(1.0))];
        let (text, warnings) = render_to_string(&items, RenderOptions::default());
        assert_eq!(text, "k,1.00\n");
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn output_over_the_agent_buffer_is_printed_whole_with_a_warning() {
        // Each line is "key_N,100.00\n": 13 bytes; text ends at 12, 25, 38, ...
        let items: Vec<Item> = (0..5).map(|i| Item::new(format!("key_{i}"), Value::Ratio(100.0))).collect();
        let (text, warnings) = render_to_string(&items, RenderOptions { max_bytes: 25 });
        assert_eq!(text.len(), 65);
        assert_eq!(text.lines().count(), 5);
        assert_eq!(
            warnings,
            vec![Warning::OverBuffer { bytes: 65, max_bytes: 25, lost: 3, first_lost: "key_2".to_owned() }]
        );
        let message = warnings[0].to_string();
        assert!(message.contains("65 bytes") && message.contains("3 item(s)"), "{message}");
        assert!(message.contains("monitor.custom.buffer"), "{message}");
        assert!(message.contains("-n #[NODE_NAME]"), "{message}");
        // A line whose text ends exactly at the limit is read whole; 0 turns the check off.
        let (_, warnings) = render_to_string(&items, RenderOptions { max_bytes: 64 });
        assert_eq!(warnings, vec![]);
        let (_, warnings) = render_to_string(&items, RenderOptions { max_bytes: 0 });
        assert_eq!(warnings, vec![]);
    }

    #[test]
    fn the_default_buffer_is_the_agents() {
        // 40 lines of 20 bytes ("cpu_usage:c000,1.00\n"): 800 bytes; the
        // text of line k ends at 20k + 19, past 512 from k = 25 on.
        let items: Vec<Item> = (0..40).map(|i| Item::new(format!("cpu_usage:c{i:03}"), Value::Ratio(1.0))).collect();
        let (_, warnings) = render_to_string(&items, RenderOptions::default());
        assert!(matches!(warnings.as_slice(), [Warning::OverBuffer { bytes: 800, max_bytes: 512, lost: 15, .. }]));
    }

    #[test]
    fn write_failures_are_reported() {
        struct Broken;
        impl io::Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let items = [Item::new("k", Value::Integer(1))];
        let error = render(&items, &RenderOptions::default(), &mut Broken).unwrap_err();
        assert!(matches!(error, RenderError::Write(e) if e.kind() == io::ErrorKind::BrokenPipe));
    }

    #[test]
    fn the_hand_written_patterns_reject_what_hinemos_rejects() {
        for bad in ["k,NaN", "k,1e5", "k,+2", "k,1 ", ",1", "k,", "k"] {
            assert!(!matches_hinemos_61(bad), "{bad}");
        }
        assert!(matches_hinemos_61("a,b, -7.5"));
        assert!(!matches_hinemos_50("a,b,7"));
        assert!(!matches_hinemos_50("k,-1"));
        assert!(matches_hinemos_50("k,0.07"));
    }

    #[test]
    fn rounded_integers() {
        assert_eq!(Value::rounded(1234.5), Some(Value::Integer(1234)));
        assert_eq!(Value::rounded(1234.51), Some(Value::Integer(1235)));
        assert_eq!(Value::rounded(f64::NAN), None);
        assert_eq!(Value::rounded(-3.0), None);
    }
}
