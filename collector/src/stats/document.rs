//! The values of a stats document that a [`Sample`](kura_store::sample::Sample)
//! needs, as both readers (`json`, `scan`) produce them. A section or value
//! the document lacks (or sends as `null`) is `None`.

use serde::Deserialize;

use super::json::{networks, object};
use super::rfc3339;
use kura_store::sample::UnixMillis;

/// The fields of a stats document that a sample needs.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub(super) struct Document {
    pub(super) read: Option<ReadTime>,
    #[serde(default, deserialize_with = "object")]
    pub(super) cpu_stats: Option<CpuStats>,
    #[serde(default, deserialize_with = "object")]
    pub(super) memory_stats: Option<MemoryStats>,
    #[serde(default, deserialize_with = "object")]
    pub(super) blkio_stats: Option<BlkioStats>,
    /// API >= 1.21: one entry per interface, summed.
    #[serde(default, deserialize_with = "networks")]
    pub(super) networks: Option<NetTotals>,
    /// Docker 1.6 (API < 1.21): a single interface.
    #[serde(default, deserialize_with = "object")]
    pub(super) network: Option<NetTotals>,
    #[serde(default, deserialize_with = "object")]
    pub(super) pids_stats: Option<PidsStats>,
}

/// `cpu_stats`.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub(super) struct CpuStats {
    #[serde(default, deserialize_with = "object")]
    pub(super) cpu_usage: Option<CpuUsage>,
    pub(super) online_cpus: Option<u64>,
    #[serde(default, deserialize_with = "object")]
    pub(super) throttling_data: Option<Throttling>,
}

/// `cpu_stats.cpu_usage`.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub(super) struct CpuUsage {
    pub(super) total_usage: Option<u64>,
    pub(super) percpu_usage: Option<Vec<u64>>,
    pub(super) usage_in_usermode: Option<u64>,
    pub(super) usage_in_kernelmode: Option<u64>,
}

/// `cpu_stats.throttling_data`.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub(super) struct Throttling {
    pub(super) periods: Option<u64>,
    pub(super) throttled_periods: Option<u64>,
    pub(super) throttled_time: Option<u64>,
}

/// `memory_stats`.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub(super) struct MemoryStats {
    pub(super) usage: Option<u64>,
    pub(super) limit: Option<u64>,
    /// cgroup v1 only, and left out by Docker when it is 0.
    pub(super) failcnt: Option<u64>,
    #[serde(default, deserialize_with = "object")]
    pub(super) stats: Option<MemoryDetail>,
}

/// `memory_stats.stats`: cgroup v1 keys (`total_*` include sub-cgroups) and
/// cgroup v2 keys (`anon`, `file`).
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub(super) struct MemoryDetail {
    pub(super) total_inactive_file: Option<u64>,
    pub(super) inactive_file: Option<u64>,
    pub(super) total_rss: Option<u64>,
    pub(super) rss: Option<u64>,
    pub(super) anon: Option<u64>,
    pub(super) total_cache: Option<u64>,
    pub(super) cache: Option<u64>,
    pub(super) file: Option<u64>,
}

/// `blkio_stats`.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub(super) struct BlkioStats {
    pub(super) io_service_bytes_recursive: Option<BlkioTotals>,
}

/// `pids_stats`.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub(super) struct PidsStats {
    pub(super) current: Option<u64>,
}

/// The `read` time: Go's zero time (year 1, or an empty string) means the
/// daemon had no sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadTime {
    Zero,
    At(UnixMillis),
}

impl ReadTime {
    /// Reads the text of `read`; `None` when it is not an RFC 3339 time.
    pub(super) fn from_text(text: &str) -> Option<ReadTime> {
        if text.is_empty() {
            return Some(ReadTime::Zero);
        }
        rfc3339::parse(text)
    }
}

/// Counters of one interface (the 2015 `network` object, an entry of
/// `networks`) or summed over interfaces. Docker always sends the byte and
/// packet counters (a missing one is an error rather than a zero) and, in
/// every version kura knows, the drop and error counters too; those are
/// optional all the same (a sum lacks one when any interface does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub(super) struct NetTotals {
    pub(super) rx_bytes: u64,
    pub(super) rx_packets: u64,
    pub(super) tx_bytes: u64,
    pub(super) tx_packets: u64,
    pub(super) rx_dropped: Option<u64>,
    pub(super) rx_errors: Option<u64>,
    pub(super) tx_dropped: Option<u64>,
    pub(super) tx_errors: Option<u64>,
}

impl NetTotals {
    /// The sum over no interface: every counter 0.
    pub(super) const ZERO: NetTotals = NetTotals {
        rx_bytes: 0,
        rx_packets: 0,
        tx_bytes: 0,
        tx_packets: 0,
        rx_dropped: Some(0),
        rx_errors: Some(0),
        tx_dropped: Some(0),
        tx_errors: Some(0),
    };

    /// The sum of two interfaces; `None` on overflow.
    pub(super) fn checked_add(self, other: NetTotals) -> Option<NetTotals> {
        let optional = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => a.checked_add(b).map(Some),
            _ => Some(None),
        };
        Some(NetTotals {
            rx_bytes: self.rx_bytes.checked_add(other.rx_bytes)?,
            rx_packets: self.rx_packets.checked_add(other.rx_packets)?,
            tx_bytes: self.tx_bytes.checked_add(other.tx_bytes)?,
            tx_packets: self.tx_packets.checked_add(other.tx_packets)?,
            rx_dropped: optional(self.rx_dropped, other.rx_dropped)?,
            rx_errors: optional(self.rx_errors, other.rx_errors)?,
            tx_dropped: optional(self.tx_dropped, other.tx_dropped)?,
            tx_errors: optional(self.tx_errors, other.tx_errors)?,
        })
    }
}

/// `io_service_bytes_recursive`, summed by op over devices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct BlkioTotals {
    pub(super) read: u64,
    pub(super) write: u64,
}

impl BlkioTotals {
    /// Adds one entry's `value` under its op; `None` on overflow.
    pub(super) fn add(&mut self, op: BlkioOp, value: u64) -> Option<()> {
        let sum = match op {
            BlkioOp::Read => &mut self.read,
            BlkioOp::Write => &mut self.write,
            BlkioOp::Other => return Some(()),
        };
        *sum = sum.checked_add(value)?;
        Some(())
    }
}

/// The ops kura sums; cgroup v1 says `Read`, v2 says `read`. Others (`Sync`,
/// `Async`, `Total`, `Discard`) are skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BlkioOp {
    Read,
    Write,
    Other,
}

impl BlkioOp {
    /// The op named `name`.
    pub(super) fn from_name(name: &str) -> BlkioOp {
        match name {
            "Read" | "read" => BlkioOp::Read,
            "Write" | "write" => BlkioOp::Write,
            _ => BlkioOp::Other,
        }
    }
}
