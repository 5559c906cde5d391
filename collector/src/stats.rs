//! Stats documents (`GET /containers/{id}/stats?stream=false`) -> [`Sample`].
//!
//! One parser reads the three shapes kura meets: cgroup v1 (Docker 17.x to
//! 20.10), cgroup v2 (Docker 20.10+ on a unified hierarchy: no
//! `percpu_usage`, v2 memory keys, lower-case blkio ops) and the 2015 form of
//! Docker 1.6 (one `network` object instead of the `networks` map).
//!
//! The document is deserialized with serde_json into private structs that
//! hold only the fields a [`Sample`] needs; everything else is skipped. No
//! string is copied (the `read` time and blkio ops are decoded in place): the
//! only allocation is `percpu_usage`, the vector the sample keeps. An object where
//! a JSON array or scalar belongs (or the reverse) is an error, as are numbers
//! outside `u64` and sums that overflow it: a bad document is reported, never
//! turned into zeros.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::sample::{Field, Sample, State, UnixMillis};

/// Why a stats document could not be read. Each variant carries serde's
/// message, which names the line and column.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The document ends early (a truncated body).
    #[error("stats document ends early: {0}")]
    Truncated(serde_json::Error),
    /// The document is not JSON.
    #[error("stats document is not valid JSON: {0}")]
    Syntax(serde_json::Error),
    /// Valid JSON with unexpected content: `null`, wrong types, numbers
    /// beyond `u64`, a `read` time that is not RFC 3339.
    #[error("stats document has unexpected content: {0}")]
    Content(serde_json::Error),
}

impl From<serde_json::Error> for StatsError {
    fn from(error: serde_json::Error) -> StatsError {
        match error.classify() {
            serde_json::error::Category::Eof => StatsError::Truncated(error),
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => StatsError::Syntax(error),
            serde_json::error::Category::Data => StatsError::Content(error),
        }
    }
}

/// Reads one stats document into a [`Sample`] of a container in `state`.
///
/// Returns `Ok(None)` when the document carries no data: the all-zero
/// document the daemon sends for a stopped or restarting container (`read` =
/// `0001-01-01T00:00:00Z`), a document without `read` (or with an empty one),
/// and `{}`.
///
/// Field mapping (see [`Field`]); a value the document lacks is `None`:
/// - `OnlineCpus` is `cpu_stats.online_cpus`, or the length of
///   `percpu_usage` when that is absent or 0, as the docker CLI does
///   (`calculateCPUPercentUnix`, cli/command/container/stats_helpers.go).
///   When `online_cpus` is smaller than `percpu_usage` (old daemons list
///   every possible CPU), only the first `online_cpus` entries are kept.
/// - `MemInactiveFile`, `MemRss`, `MemCache`: the cgroup v1 `total_*` key,
///   then the plain v1 key, then the v2 key (`inactive_file`, `anon`,
///   `file`); the CLI's `calculateMemUsageUnixNoCache` uses
///   `total_inactive_file` on v1 and `inactive_file` on v2.
/// - `BlkReadBytes` / `BlkWriteBytes`: sums over
///   `blkio_stats.io_service_bytes_recursive` of the entries with op
///   `Read`/`read` resp. `Write`/`write`. A `null` or absent list gives
///   `None`; an empty list gives `Some(0)`, as the docker CLI reads it
///   (`calculateBlockIO`): the cgroup exists and has done no IO.
/// - `Net*`: sums over every interface of `networks`, or the single 2015
///   `network` object; neither present (`--network none`) gives `None`, an
///   empty map gives `Some(0)`.
pub fn parse_stats(doc: &[u8], state: State) -> Result<Option<Sample>, StatsError> {
    let Object(doc) = serde_json::from_slice::<Object<StatsDoc>>(doc)?;
    let Some(ReadTime::At(time)) = doc.read else {
        return Ok(None);
    };
    let mut sample = Sample::state_only(time, state);

    let cpu = doc.cpu_stats.unwrap_or_default();
    let usage = cpu.cpu_usage.unwrap_or_default();
    let mut percpu_ns = usage.percpu_usage.unwrap_or_default();
    // Docker reports 0 (Go's zero value) when it does not know.
    let online = cpu.online_cpus.filter(|&n| n > 0);
    if let Some(online) = online.and_then(|n| usize::try_from(n).ok()) {
        percpu_ns.truncate(online);
    }
    let online = online.or_else(|| u64::try_from(percpu_ns.len()).ok().filter(|&n| n > 0));
    sample.set(Field::CpuTotalNs, usage.total_usage);
    sample.set(Field::OnlineCpus, online);
    sample.set(Field::ThrottledNs, cpu.throttling_data.and_then(|t| t.throttled_time));
    sample.percpu_ns = percpu_ns;

    let memory = doc.memory_stats.unwrap_or_default();
    let detail = memory.stats.unwrap_or_default();
    sample.set(Field::MemUsage, memory.usage);
    sample.set(Field::MemLimit, memory.limit);
    sample.set(Field::MemInactiveFile, detail.total_inactive_file.or(detail.inactive_file));
    sample.set(Field::MemRss, detail.total_rss.or(detail.rss).or(detail.anon));
    sample.set(Field::MemCache, detail.total_cache.or(detail.cache).or(detail.file));

    let blkio = doc.blkio_stats.and_then(|b| b.io_service_bytes_recursive);
    sample.set(Field::BlkReadBytes, blkio.map(|b| b.read));
    sample.set(Field::BlkWriteBytes, blkio.map(|b| b.write));

    let net = doc.networks.map(|NetworksTotal(total)| total).or(doc.network);
    sample.set(Field::NetRxBytes, net.map(|n| n.rx_bytes));
    sample.set(Field::NetRxPackets, net.map(|n| n.rx_packets));
    sample.set(Field::NetTxBytes, net.map(|n| n.tx_bytes));
    sample.set(Field::NetTxPackets, net.map(|n| n.tx_packets));

    sample.set(Field::Pids, doc.pids_stats.and_then(|p| p.current));
    Ok(Some(sample))
}

/// The fields of a stats document that a [`Sample`] needs.
#[derive(Deserialize)]
struct StatsDoc {
    read: Option<ReadTime>,
    #[serde(default, deserialize_with = "object")]
    cpu_stats: Option<CpuStats>,
    #[serde(default, deserialize_with = "object")]
    memory_stats: Option<MemoryStats>,
    #[serde(default, deserialize_with = "object")]
    blkio_stats: Option<BlkioStats>,
    /// API >= 1.21: one entry per interface.
    networks: Option<NetworksTotal>,
    /// Docker 1.6 (API < 1.21): a single interface.
    #[serde(default, deserialize_with = "object")]
    network: Option<NetTotals>,
    #[serde(default, deserialize_with = "object")]
    pids_stats: Option<PidsStats>,
}

#[derive(Default, Deserialize)]
struct CpuStats {
    #[serde(default, deserialize_with = "object")]
    cpu_usage: Option<CpuUsage>,
    online_cpus: Option<u64>,
    #[serde(default, deserialize_with = "object")]
    throttling_data: Option<Throttling>,
}

#[derive(Default, Deserialize)]
struct CpuUsage {
    total_usage: Option<u64>,
    percpu_usage: Option<Vec<u64>>,
}

#[derive(Deserialize)]
struct Throttling {
    throttled_time: Option<u64>,
}

#[derive(Default, Deserialize)]
struct MemoryStats {
    usage: Option<u64>,
    limit: Option<u64>,
    #[serde(default, deserialize_with = "object")]
    stats: Option<MemoryDetail>,
}

/// `memory_stats.stats`: cgroup v1 keys (`total_*` include sub-cgroups) and
/// cgroup v2 keys (`anon`, `file`).
#[derive(Default, Deserialize)]
struct MemoryDetail {
    total_inactive_file: Option<u64>,
    inactive_file: Option<u64>,
    total_rss: Option<u64>,
    rss: Option<u64>,
    anon: Option<u64>,
    total_cache: Option<u64>,
    cache: Option<u64>,
    file: Option<u64>,
}

#[derive(Deserialize)]
struct BlkioStats {
    io_service_bytes_recursive: Option<BlkioTotals>,
}

#[derive(Deserialize)]
struct PidsStats {
    current: Option<u64>,
}

/// Deserializes `Option<T>` from `null` or a JSON object only. serde's derived
/// structs also accept an array (fields by position), which would read
/// garbage such as `"memory_stats": [1, 2]` as real values.
fn object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Object<T>>::deserialize(deserializer).map(|o| o.map(|Object(inner)| inner))
}

/// A `T` that must come from a JSON object (see [`object`]). Its keys are
/// matched as raw bytes (see [`ByteKeys`]).
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(ByteKeys(map))).map(Object)
            }
        }

        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

/// A map whose keys are handed to the field visitor as raw bytes: serde_json
/// then skips the UTF-8 and control-character checks of a key (as it does for
/// every string of a skipped value): 16% fewer instructions on a cgroup v1
/// document. A key that is not valid UTF-8 is just an unknown field.
struct ByteKeys<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for ByteKeys<A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(KeySeed(seed))
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// Wraps a key's seed so that it sees a [`ByteKey`] deserializer.
struct KeySeed<K>(K);

impl<'de, K: de::DeserializeSeed<'de>> de::DeserializeSeed<'de> for KeySeed<K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<K::Value, D::Error> {
        self.0.deserialize(ByteKey(deserializer))
    }
}

/// A key deserializer that reads identifiers as bytes.
struct ByteKey<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ByteKey<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_bytes(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_ignored_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum
    }
}

/// The `read` time: Go's zero time (year 1, or an empty string) means the
/// daemon had no sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadTime {
    Zero,
    At(UnixMillis),
}

impl<'de> Deserialize<'de> for ReadTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReadTimeVisitor;

        impl Visitor<'_> for ReadTimeVisitor {
            type Value = ReadTime;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<ReadTime, E> {
                if text.is_empty() {
                    return Ok(ReadTime::Zero);
                }
                rfc3339::parse(text).ok_or_else(|| {
                    // Quote at most 40 characters of a bad time.
                    let shown = text.char_indices().nth(40).map_or(text, |(end, _)| &text[..end]);
                    E::invalid_value(de::Unexpected::Str(shown), &"an RFC 3339 time")
                })
            }
        }

        deserializer.deserialize_str(ReadTimeVisitor)
    }
}

/// Byte and packet counters of one interface (the 2015 `network` object, an
/// entry of `networks`) or summed over interfaces. Docker always sends the
/// four counters; a missing one is an error rather than a zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
struct NetTotals {
    rx_bytes: u64,
    rx_packets: u64,
    tx_bytes: u64,
    tx_packets: u64,
}

impl NetTotals {
    fn checked_add(self, other: NetTotals) -> Option<NetTotals> {
        Some(NetTotals {
            rx_bytes: self.rx_bytes.checked_add(other.rx_bytes)?,
            rx_packets: self.rx_packets.checked_add(other.rx_packets)?,
            tx_bytes: self.tx_bytes.checked_add(other.tx_bytes)?,
            tx_packets: self.tx_packets.checked_add(other.tx_packets)?,
        })
    }
}

/// The `networks` map: sums every interface.
impl<'de> Deserialize<'de> for NetworksTotal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NetworksVisitor;

        impl<'de> Visitor<'de> for NetworksVisitor {
            type Value = NetworksTotal;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of interface names to network counters")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NetworksTotal, A::Error> {
                let mut total = NetTotals::default();
                while map.next_key::<IgnoredAny>()?.is_some() {
                    let Object(interface) = map.next_value::<Object<NetTotals>>()?;
                    total = total
                        .checked_add(interface)
                        .ok_or_else(|| de::Error::custom("network counters summed over interfaces overflow u64"))?;
                }
                Ok(NetworksTotal(total))
            }
        }

        deserializer.deserialize_map(NetworksVisitor)
    }
}

/// `networks`, summed.
struct NetworksTotal(NetTotals);

/// `io_service_bytes_recursive`, summed by op over devices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct BlkioTotals {
    read: u64,
    write: u64,
}

#[derive(Deserialize)]
struct BlkioEntry {
    op: BlkioOp,
    value: u64,
}

/// The ops kura sums; cgroup v1 says `Read`, v2 says `read`. Others (`Sync`,
/// `Async`, `Total`, `Discard`) are skipped.
enum BlkioOp {
    Read,
    Write,
    Other,
}

impl<'de> Deserialize<'de> for BlkioOp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OpVisitor;

        impl Visitor<'_> for OpVisitor {
            type Value = BlkioOp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a blkio op name")
            }

            fn visit_str<E: de::Error>(self, op: &str) -> Result<BlkioOp, E> {
                Ok(match op {
                    "Read" | "read" => BlkioOp::Read,
                    "Write" | "write" => BlkioOp::Write,
                    _ => BlkioOp::Other,
                })
            }
        }

        deserializer.deserialize_str(OpVisitor)
    }
}

impl<'de> Deserialize<'de> for BlkioTotals {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = BlkioTotals;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of blkio entries")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BlkioTotals, A::Error> {
                let mut total = BlkioTotals::default();
                while let Some(Object(entry)) = seq.next_element::<Object<BlkioEntry>>()? {
                    let sum = match entry.op {
                        BlkioOp::Read => &mut total.read,
                        BlkioOp::Write => &mut total.write,
                        BlkioOp::Other => continue,
                    };
                    *sum = sum
                        .checked_add(entry.value)
                        .ok_or_else(|| de::Error::custom("blkio bytes summed over devices overflow u64"))?;
                }
                Ok(total)
            }
        }

        deserializer.deserialize_seq(EntriesVisitor)
    }
}

/// A fast parser for the RFC 3339 times Docker writes (Go's
/// `time.RFC3339Nano`), with chrono as the fallback for other valid forms.
mod rfc3339 {
    use chrono::Datelike;

    use super::ReadTime;

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
        let [y0, y1, y2, y3, b'-', mo0, mo1, b'-', d0, d1, b'T', h0, h1, b':', mi0, mi1, b':', s0, s1, rest @ ..] =
            text
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
                let millis = digits_
                    .iter()
                    .chain(std::iter::repeat(&b'0'))
                    .take(3)
                    .fold(0, |acc, d| acc * 10 + i64::from(d - b'0'));
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
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The shared fixtures folder: `<workspace>/../shared/fixtures`.
    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../shared/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
    }

    fn v1(name: &str) -> Vec<u8> {
        fixture(&format!("docker-20.10-cgroup-v1/{name}"))
    }

    fn running(doc: &[u8]) -> Sample {
        parse_stats(doc, State::Running).unwrap().unwrap()
    }

    /// Every stats fixture, by name, read once.
    fn all_stats_fixtures() -> &'static [(String, Vec<u8>)] {
        static DOCS: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
        DOCS.get_or_init(read_stats_fixtures)
    }

    fn read_stats_fixtures() -> Vec<(String, Vec<u8>)> {
        let dir = format!("{}/../../shared/fixtures/docker-20.10-cgroup-v1", env!("CARGO_MANIFEST_DIR"));
        let mut docs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with("stats_"))
            .map(|name| {
                let doc = v1(&name);
                (name, doc)
            })
            .collect();
        for name in ["docker-cgroup-v2-stats-2023.json", "docker-1.6-stats-2015.json"] {
            docs.push((name.to_owned(), fixture(name)));
        }
        docs.sort();
        docs
    }

    #[test]
    fn v1_stream_false_document() {
        let s = running(&v1("stats_burn.json"));
        assert_eq!(s.time, 1_795_394_918_784);
        assert_eq!(s.state, State::Running);
        assert_eq!(s.get(Field::CpuTotalNs), Some(8_420_285_708));
        assert_eq!(s.percpu_ns, vec![3_549_734_151, 4_870_551_557]);
        assert_eq!(s.get(Field::OnlineCpus), Some(2));
        assert_eq!(s.get(Field::ThrottledNs), Some(5_941_587_195));
        assert_eq!(s.get(Field::MemUsage), Some(335_872));
        assert_eq!(s.get(Field::MemLimit), Some(25_276_502_016));
        assert_eq!(s.get(Field::MemInactiveFile), Some(0));
        assert_eq!(s.get(Field::MemRss), Some(61_440));
        assert_eq!(s.get(Field::MemCache), Some(0));
        // Empty blkio list on this kernel: zero bytes, as the docker CLI says.
        assert_eq!(s.get(Field::BlkReadBytes), Some(0));
        assert_eq!(s.get(Field::BlkWriteBytes), Some(0));
        assert_eq!(s.get(Field::NetRxBytes), Some(656));
        assert_eq!(s.get(Field::NetRxPackets), Some(8));
        assert_eq!(s.get(Field::NetTxBytes), Some(0));
        assert_eq!(s.get(Field::NetTxPackets), Some(0));
        assert_eq!(s.get(Field::Pids), Some(1));
    }

    #[test]
    fn v1_one_shot_document() {
        let s = parse_stats(&v1("stats_oneshot_burn.json"), State::Paused).unwrap().unwrap();
        assert_eq!(s.state, State::Paused);
        assert_eq!(s.time, 1_795_394_919_788);
        assert_eq!(s.get(Field::CpuTotalNs), Some(8_914_563_318));
        assert_eq!(s.percpu_ns, vec![3_777_079_333, 5_137_483_985]);
        assert_eq!(s.get(Field::ThrottledNs), Some(6_245_702_668));
    }

    #[test]
    fn cgroup_v2_document() {
        let s = running(&fixture("docker-cgroup-v2-stats-2023.json"));
        assert_eq!(s.time, 1_691_224_640_278);
        assert_eq!(s.get(Field::CpuTotalNs), Some(167_978_000));
        assert!(s.percpu_ns.is_empty());
        assert_eq!(s.get(Field::OnlineCpus), Some(4));
        assert_eq!(s.get(Field::ThrottledNs), Some(0));
        assert_eq!(s.get(Field::MemUsage), Some(856_064));
        assert_eq!(s.get(Field::MemLimit), Some(4_124_508_160));
        assert_eq!(s.get(Field::MemInactiveFile), Some(0));
        assert_eq!(s.get(Field::MemRss), Some(507_904));
        assert_eq!(s.get(Field::MemCache), Some(4096));
        assert_eq!(s.get(Field::BlkReadBytes), Some(4096));
        assert_eq!(s.get(Field::BlkWriteBytes), Some(0));
        assert_eq!(s.get(Field::NetRxBytes), Some(2276));
        assert_eq!(s.get(Field::NetRxPackets), Some(30));
        assert_eq!(s.get(Field::Pids), Some(1));
    }

    #[test]
    fn docker_1_6_document() {
        let s = running(&fixture("docker-1.6-stats-2015.json"));
        assert_eq!(s.time, 1_441_490_348_423);
        assert_eq!(s.get(Field::CpuTotalNs), Some(19_377_187_586));
        assert_eq!(s.percpu_ns, vec![10_738_949_512, 8_638_238_074]);
        // No online_cpus in 2015: the length of percpu_usage.
        assert_eq!(s.get(Field::OnlineCpus), Some(2));
        assert_eq!(s.get(Field::MemUsage), Some(14_479_360));
        assert_eq!(s.get(Field::MemInactiveFile), Some(5_312_512));
        assert_eq!(s.get(Field::MemRss), Some(8_556_544));
        assert_eq!(s.get(Field::MemCache), Some(5_922_816));
        assert_eq!(s.get(Field::BlkReadBytes), Some(5_640_192));
        assert_eq!(s.get(Field::BlkWriteBytes), Some(0));
        assert_eq!(s.get(Field::NetRxBytes), Some(1854));
        assert_eq!(s.get(Field::NetRxPackets), Some(23));
        assert_eq!(s.get(Field::NetTxBytes), Some(738));
        assert_eq!(s.get(Field::NetTxPackets), Some(9));
        assert_eq!(s.get(Field::Pids), None);
    }

    #[test]
    fn every_fixture_parses_and_zero_documents_have_no_data() {
        let zero = [
            "stats_created.json",
            "stats_exited0.json",
            "stats_flappy.json",
            "stats_oom.json",
            "stats_oneshot_created.json",
            "stats_oneshot_exited0.json",
            "stats_oneshot_flappy.json",
            "stats_oneshot_oom.json",
        ];
        let docs = all_stats_fixtures();
        assert_eq!(docs.len(), 20);
        for (name, doc) in docs {
            let sample = parse_stats(doc, State::Running).unwrap_or_else(|e| panic!("{name}: {e}"));
            if zero.contains(&name.as_str()) {
                assert_eq!(sample, None, "{name}");
            } else {
                let sample = sample.unwrap_or_else(|| panic!("{name}: no data"));
                assert!(sample.time > 1_400_000_000_000, "{name}");
                for field in [Field::CpuTotalNs, Field::MemUsage, Field::MemLimit] {
                    assert!(sample.get(field).is_some(), "{name}: {field:?}");
                }
            }
        }
    }

    #[test]
    fn running_v1_fixtures_hold_their_values() {
        let procs = running(&v1("stats_procs.json"));
        assert_eq!(procs.get(Field::Pids), Some(4));
        let web1 = running(&v1("stats_web1.json"));
        assert_eq!(web1.get(Field::MemLimit), Some(64 * 1024 * 1024));
        let writer = running(&v1("stats_oneshot_writer.json"));
        assert!(writer.get(Field::MemCache).unwrap() > 0);
    }

    #[test]
    fn no_data_documents() {
        for doc in [
            &b"{}"[..],
            br#"{"read":"0001-01-01T00:00:00Z","cpu_stats":{"cpu_usage":{"total_usage":0}}}"#,
            br#"{"cpu_stats":{"cpu_usage":{"total_usage":5}}}"#,
            br#"{"read":null}"#,
            br#"{"read":""}"#,
            b" {}\n",
        ] {
            assert_eq!(parse_stats(doc, State::Running).unwrap(), None, "{}", String::from_utf8_lossy(doc));
        }
    }

    fn error(doc: &str) -> String {
        match parse_stats(doc.as_bytes(), State::Running) {
            Err(e) => e.to_string(),
            Ok(s) => panic!("{doc} parsed as {s:?}"),
        }
    }

    #[test]
    fn bad_documents_are_errors_that_say_why() {
        let read = r#""read":"2026-11-23T00:48:38Z""#;
        let cases = [
            ("null".to_owned(), "invalid type: null"),
            ("[]".to_owned(), "invalid type: sequence"),
            (String::new(), "ends early"),
            (r#"{"read":"2026-11"#.to_owned(), "ends early"),
            ("{'read': 1}".to_owned(), "not valid JSON"),
            (r#"{"read":42}"#.to_owned(), "invalid type: integer `42`"),
            (r#"{"read":"yesterday"}"#.to_owned(), "RFC 3339"),
            (format!(r#"{{"read":"{}"}}"#, "x".repeat(100)), &format!("\"{}\"", "x".repeat(40))),
            (format!(r#"{{{read},"memory_stats":{{"usage":-1}}}}"#), "invalid value: integer `-1`"),
            (format!(r#"{{{read},"memory_stats":{{"usage":18446744073709551616}}}}"#), "invalid type: floating point"),
            (format!(r#"{{{read},"memory_stats":{{"usage":1.5}}}}"#), "invalid type: floating point"),
            (format!(r#"{{{read},"memory_stats":[1,2]}}"#), "expected a JSON object"),
            (format!(r#"{{{read},"pids_stats":{{"current":"4"}}}}"#), "invalid type: string"),
            (format!(r#"{{{read},"networks":{{"eth0":{{"rx_bytes":1}}}}}}"#), "missing field `rx_packets`"),
            (
                format!(
                    r#"{{{read},"blkio_stats":{{"io_service_bytes_recursive":[{{"op":"Read","value":18446744073709551615}},{{"op":"read","value":1}}]}}}}"#
                ),
                "overflow u64",
            ),
            (format!(r#"{{{read}}} trailing"#), "trailing characters"),
            (format!(r#"{{{read},{read}}}"#), "duplicate field"),
        ];
        for (doc, expected) in cases {
            let message = error(&doc);
            assert!(message.contains(expected), "{doc}: {message}");
        }
        assert!(error("{\n\"read\": 7}").contains("line 2 column"));
    }

    #[test]
    fn percpu_is_cut_to_online_cpus() {
        let doc = br#"{"read":"2026-11-23T00:48:38Z","cpu_stats":{"cpu_usage":{"total_usage":30,"percpu_usage":[10,20,0,0]},"online_cpus":2}}"#;
        let s = running(doc);
        assert_eq!(s.percpu_ns, vec![10, 20]);
        assert_eq!(s.get(Field::OnlineCpus), Some(2));
        let doc = br#"{"read":"2026-11-23T00:48:38Z","cpu_stats":{"cpu_usage":{"total_usage":30,"percpu_usage":[10,20,0]},"online_cpus":0}}"#;
        let s = running(doc);
        assert_eq!(s.percpu_ns, vec![10, 20, 0]);
        assert_eq!(s.get(Field::OnlineCpus), Some(3));
    }

    #[test]
    fn missing_sections_are_none_not_zero() {
        let s = running(br#"{"read":"2026-11-23T00:48:38Z","memory_stats":{}}"#);
        assert_eq!(s.fields, [None; crate::sample::FIELD_COUNT]);
        assert!(s.percpu_ns.is_empty());
        let s = running(
            br#"{"read":"2026-11-23T00:48:38Z","blkio_stats":{"io_service_bytes_recursive":null},"networks":null}"#,
        );
        assert_eq!(s.get(Field::BlkReadBytes), None);
        assert_eq!(s.get(Field::NetRxBytes), None);
    }

    #[test]
    fn networks_sum_over_interfaces_and_win_over_network() {
        let doc = br#"{"read":"2026-11-23T00:48:38Z",
            "networks":{"eth0":{"rx_bytes":1,"rx_packets":2,"tx_bytes":3,"tx_packets":4},
                        "eth1":{"rx_bytes":10,"rx_packets":20,"tx_bytes":30,"tx_packets":40}},
            "network":{"rx_bytes":7,"rx_packets":7,"tx_bytes":7,"tx_packets":7}}"#;
        let s = running(doc);
        assert_eq!(s.get(Field::NetRxBytes), Some(11));
        assert_eq!(s.get(Field::NetRxPackets), Some(22));
        assert_eq!(s.get(Field::NetTxBytes), Some(33));
        assert_eq!(s.get(Field::NetTxPackets), Some(44));
    }

    #[test]
    fn every_truncation_of_every_fixture_is_an_error() {
        for (name, doc) in all_stats_fixtures() {
            for len in 0..doc.trim_ascii_end().len() {
                assert!(parse_stats(&doc[..len], State::Running).is_err(), "{name} cut at {len}");
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(doc in proptest::collection::vec(any::<u8>(), 0..512)) {
            check_any(&doc)?;
        }

        #[test]
        fn json_like_text_never_panics(doc in "[{}\\[\\]\":,.0-9eE+ -]{0,64}") {
            check_any(doc.as_bytes())?;
        }

        #[test]
        fn mutated_fixtures_never_panic(
            pick in any::<prop::sample::Index>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let docs = all_stats_fixtures();
            let mut doc = docs[pick.index(docs.len())].1.clone();
            for (at, byte) in edits {
                let at = at.index(doc.len());
                doc[at] = byte;
            }
            check_any(&doc)?;
        }
    }

    /// Whatever the input: a sample of the given state, no data, or an error
    /// with a message.
    fn check_any(doc: &[u8]) -> Result<(), TestCaseError> {
        match parse_stats(doc, State::Dead) {
            Ok(Some(sample)) => prop_assert_eq!(sample.state, State::Dead),
            Ok(None) => {}
            Err(error) => prop_assert!(error.to_string().len() > 30),
        }
        Ok(())
    }
}
