//! The records the store keeps besides samples: what a sweep hands over
//! ([`SweepBatch`]), what the reader hands back ([`SeriesInfo`],
//! [`SweepRecord`], [`Timed`], [`EventRecord`]) and the small binary
//! encodings of the frequent ones.
//!
//! Documents (details, processes and memory statistics, events, host info,
//! sizes, SNMP readings) are the typed [`payload`](crate::payload)s; they
//! are stored as canonical JSON ([`json_bytes`]).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::key::{self, SeriesId};
use super::varint::{self, VarintError};
use crate::payload::{ContainerDetails, Event, HostReading, Info, Latest, Sizes};
use crate::sample::{Sample, UnixMillis};

/// What the collector knows about a container, kept with its series and
/// rewritten when it changes (a rename, a new label).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// The full container id (64 hex characters).
    pub id: String,
    /// The name, without Docker's leading `/`.
    pub name: String,
    /// The image, as the container list names it.
    pub image: String,
    /// The command line.
    pub command: String,
    /// When the container was created.
    pub created: Option<UnixMillis>,
    /// The container's labels.
    pub labels: BTreeMap<String, String>,
}

/// A container series as the reader describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesInfo {
    /// The series' number.
    pub series: SeriesId,
    /// The host's name.
    pub host: String,
    /// The container, as last seen.
    pub container: ContainerInfo,
    /// The time of the first sweep that listed the container.
    pub first_seen: UnixMillis,
    /// The time of the newest stored sample (derived when read, not stored).
    #[serde(skip)]
    pub last_seen: Option<UnixMillis>,
}

/// How a sweep of one host went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SweepOutcome {
    /// The daemon answered.
    Reached,
    /// The daemon could not be reached; the reason, as logged.
    Down(String),
}

/// One sweep of one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepRecord {
    /// When the sweep started.
    pub time: UnixMillis,
    /// Whether the daemon answered.
    pub outcome: SweepOutcome,
    /// How long the sweep took, µs.
    pub latency_us: u64,
    /// How many containers the sweep listed.
    pub containers: u32,
}

/// The longest down reason stored, in bytes (cut at a character boundary).
pub const MAX_REASON_LEN: usize = 1024;

const REACHED: u8 = 0;
const DOWN: u8 = 1;

impl SweepRecord {
    /// The `sweeps` value: outcome byte, latency and container count varints,
    /// then the down reason (UTF-8, at most [`MAX_REASON_LEN`] bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8);
        out.push(match self.outcome {
            SweepOutcome::Reached => REACHED,
            SweepOutcome::Down(_) => DOWN,
        });
        varint::put(&mut out, self.latency_us);
        varint::put(&mut out, u64::from(self.containers));
        if let SweepOutcome::Down(reason) = &self.outcome {
            let mut end = reason.len().min(MAX_REASON_LEN);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            out.extend_from_slice(&reason.as_bytes()[..end]);
        }
        out
    }

    /// Reads a record stored under `time`.
    pub fn decode(time: UnixMillis, mut value: &[u8]) -> Result<SweepRecord, VarintError> {
        let tag = varint::byte(&mut value)?;
        let latency_us = varint::get(&mut value)?;
        let containers = u32::try_from(varint::get(&mut value)?).map_err(|_| VarintError::Overlong)?;
        let outcome = match tag {
            REACHED if value.is_empty() => SweepOutcome::Reached,
            DOWN => SweepOutcome::Down(String::from_utf8_lossy(value).into_owned()),
            _ => return Err(VarintError::Truncated),
        };
        Ok(SweepRecord { time, outcome, latency_us, containers })
    }
}

/// The interval a host is swept at, estimated from sweep times (ascending):
/// the median gap between the last seven, so one gap while the collector
/// was stopped does not stretch it. `None` with fewer than two sweeps.
pub fn sweep_interval(times: &[UnixMillis]) -> Option<UnixMillis> {
    let recent = &times[times.len().saturating_sub(7)..];
    let mut gaps: Vec<i64> = recent.windows(2).map(|w| w[1].saturating_sub(w[0])).filter(|g| *g > 0).collect();
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).copied()
}

/// A value and the time it was recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Timed<T> {
    /// When it was recorded.
    pub time: UnixMillis,
    /// What was recorded.
    pub value: T,
}

impl<T> Timed<T> {
    /// The same time with a part of the value (`None`: the value has none).
    pub fn map_value<U>(self, part: impl FnOnce(T) -> Option<U>) -> Option<Timed<U>> {
        Some(Timed { time: self.time, value: part(self.value)? })
    }
}

/// A Docker event with the daemon's time of it.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    /// The event's `timeNano`.
    pub time_ns: i64,
    /// The event document.
    pub event: Event,
}

/// Everything one sweep of one host learnt, written by
/// [`Store::write_sweep`](super::Store::write_sweep) in one call.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepBatch {
    /// The host's name as configured.
    pub host: String,
    /// The sweep itself.
    pub sweep: SweepRecord,
    /// Every container the sweep listed.
    pub containers: Vec<ContainerSweep>,
    /// Events since the previous sweep (storing one twice stores it once).
    pub events: Vec<EventRecord>,
    /// The host's SNMP reading, if taken in this sweep.
    pub snmp: Option<HostReading>,
    /// The size sweep, if taken in this sweep.
    pub sizes: Option<Sizes>,
    /// The daemon's `/info`; stored only when it differs from the stored one.
    pub host_info: Option<Info>,
}

/// What one sweep learnt about one container.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerSweep {
    /// The container's description (stored when new or changed).
    pub info: ContainerInfo,
    /// Its state and counters (none if the stats call failed).
    pub sample: Option<Sample>,
    /// Its inspect details; stored only when they differ from the stored ones.
    pub details: Option<ContainerDetails>,
    /// Its newest processes and raw memory stats; replaces the stored ones.
    pub latest: Option<Latest>,
}

/// A document as stored: canonical JSON, its object keys in sorted order
/// (as format 1 wrote them), so equal documents are equal bytes (the
/// writer compares and deduplicates them by hash).
pub fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain data into a `Value` and a `Value` into bytes cannot
    // fail (no maps with non-string keys in the payloads).
    serde_json::to_value(value).and_then(|v| serde_json::to_vec(&v)).unwrap_or_default()
}

/// A time and a document, as stored in `latest`: 8 time bytes, then the
/// JSON.
pub fn encode_timed<T: Serialize>(time: UnixMillis, value: &T) -> Vec<u8> {
    let mut out = key::time_bytes(time).to_vec();
    out.extend_from_slice(&json_bytes(value));
    out
}

/// Reads what [`encode_timed`] wrote.
pub fn decode_timed<T: DeserializeOwned>(bytes: &[u8]) -> Result<Timed<T>, String> {
    let time = key::time_of(bytes, 0).ok_or("value shorter than its time")?;
    let value = serde_json::from_slice(&bytes[key::TIME_LEN..]).map_err(|e| e.to_string())?;
    Ok(Timed { time, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_records_round_trip_and_cut_long_reasons_on_a_char_boundary() {
        let reached = SweepRecord { time: 5, outcome: SweepOutcome::Reached, latency_us: 1_234_567, containers: 100 };
        assert_eq!(SweepRecord::decode(5, &reached.encode()).unwrap(), reached);
        let down = SweepRecord { outcome: SweepOutcome::Down("é".repeat(MAX_REASON_LEN)), ..reached };
        let decoded = SweepRecord::decode(5, &down.encode()).unwrap();
        let SweepOutcome::Down(reason) = decoded.outcome else {
            panic!("not down: {decoded:?}");
        };
        assert_eq!(reason, "é".repeat(MAX_REASON_LEN / 2));
        assert!(SweepRecord::decode(5, &[7, 0, 0]).is_err());
    }

    #[test]
    fn the_interval_is_the_median_recent_gap() {
        assert_eq!(sweep_interval(&[]), None);
        assert_eq!(sweep_interval(&[5]), None);
        assert_eq!(sweep_interval(&[0, 10_000, 20_000, 30_500, 40_000]), Some(10_000));
        // A gap while the collector was stopped does not stretch the estimate.
        assert_eq!(sweep_interval(&[0, 2_000, 4_000, 600_000, 602_000]), Some(2_000));
    }

    #[test]
    fn timed_documents_round_trip() {
        let value = serde_json::json!({"Processes": [["1", "sh"]]});
        let bytes = encode_timed(-3, &value);
        assert_eq!(decode_timed::<serde_json::Value>(&bytes).unwrap(), Timed { time: -3, value });
        assert!(decode_timed::<serde_json::Value>(&bytes[..4]).is_err());
    }
}
