//! Stats documents (`GET /containers/{id}/stats?stream=false`) -> [`Sample`].
//!
//! One parser reads the three shapes kura meets: cgroup v1 (Docker 17.x to
//! 20.10), cgroup v2 (Docker 20.10+ on a unified hierarchy: no
//! `percpu_usage`, v2 memory keys, lower-case blkio ops) and the 2015 form of
//! Docker 1.6 (one `network` object instead of the `networks` map).
//!
//! A document is read into a `Document` (only the fields a
//! [`Sample`] needs) by one of two paths, then mapped to a sample:
//! - `scan`, the fast path: one pass over the bytes that answers only for
//!   documents it is sure of (no escapes, no floats, no duplicate keys, ...)
//!   and otherwise gives up;
//! - `json`, serde_json: the reference, which reads what the scanner gave
//!   up on and is the only source of errors. Its tests (`oracle`) check that
//!   whenever the scanner answers, serde_json gives the same document.
//!
//! An object where a JSON array or scalar belongs (or the reverse) is an
//! error, as are numbers outside `u64` and sums that overflow it: a bad
//! document is reported, never turned into zeros.
//!
//! # Layout
//!
//! - `document`: the values read from a document, before mapping.
//! - `json`: serde_json into a `Document`.
//! - `scan`: the single-pass scanner into a `Document`.
//! - `rfc3339`: the `read` time.
//! - [`cgroup`]: the same document read from a local container's cgroup files and `/proc/<pid>/net/dev`.
//! - [`quirks`]: what some daemons (Podman before 5.0) report wrongly, set right after parsing.

pub mod cgroup;
mod document;
mod json;
#[cfg(test)]
mod oracle;
pub mod quirks;
mod rfc3339;
mod scan;
#[cfg(test)]
mod tests;

use kura_store::sample::{Field, Sample, State};

use self::document::{Document, ReadTime};
pub use self::quirks::Quirks;

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
/// - `CpuUserNs` / `CpuSystemNs`: `cpu_usage.usage_in_usermode` /
///   `usage_in_kernelmode`; `CfsPeriods` / `CfsThrottledPeriods`:
///   `throttling_data.periods` / `throttled_periods`.
/// - `MemFailcnt`: `memory_stats.failcnt`. Docker omits it when it is 0
///   (`omitempty`), and cgroup v2 has no such counter: a document with
///   cgroup v1 memory keys (`total_rss`, `rss`, `total_cache`, `cache`)
///   and no `failcnt` reads 0, any other `None`.
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
///   empty map gives `Some(0)`. The drop and error counters are `None`
///   when any interface lacks them.
pub fn parse_stats(doc: &[u8], state: State) -> Result<Option<Sample>, StatsError> {
    let document = match scan::document(doc) {
        Some(document) => document,
        None => json::document(doc)?,
    };
    Ok(sample(document, state))
}

/// Maps a read document to a sample (see [`parse_stats`]).
fn sample(doc: Document, state: State) -> Option<Sample> {
    let Some(ReadTime::At(time)) = doc.read else {
        return None;
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
    sample.set(Field::CpuUserNs, usage.usage_in_usermode);
    sample.set(Field::CpuSystemNs, usage.usage_in_kernelmode);
    sample.set(Field::OnlineCpus, online);
    let throttling = cpu.throttling_data.unwrap_or_default();
    sample.set(Field::ThrottledNs, throttling.throttled_time);
    sample.set(Field::CfsPeriods, throttling.periods);
    sample.set(Field::CfsThrottledPeriods, throttling.throttled_periods);
    sample.percpu_ns = percpu_ns;

    let memory = doc.memory_stats.unwrap_or_default();
    let detail = memory.stats.unwrap_or_default();
    sample.set(Field::MemUsage, memory.usage);
    sample.set(Field::MemLimit, memory.limit);
    sample.set(Field::MemInactiveFile, detail.total_inactive_file.or(detail.inactive_file));
    sample.set(Field::MemRss, detail.total_rss.or(detail.rss).or(detail.anon));
    sample.set(Field::MemCache, detail.total_cache.or(detail.cache).or(detail.file));
    // Docker leaves `failcnt` out when it is 0; cgroup v2 has none at all.
    let cgroup_v1 = detail.total_rss.or(detail.rss).or(detail.total_cache).or(detail.cache).is_some();
    sample.set(Field::MemFailcnt, memory.failcnt.or(cgroup_v1.then_some(0)));

    let blkio = doc.blkio_stats.and_then(|b| b.io_service_bytes_recursive);
    sample.set(Field::BlkReadBytes, blkio.map(|b| b.read));
    sample.set(Field::BlkWriteBytes, blkio.map(|b| b.write));

    let net = doc.networks.or(doc.network);
    sample.set(Field::NetRxBytes, net.map(|n| n.rx_bytes));
    sample.set(Field::NetRxPackets, net.map(|n| n.rx_packets));
    sample.set(Field::NetTxBytes, net.map(|n| n.tx_bytes));
    sample.set(Field::NetTxPackets, net.map(|n| n.tx_packets));
    sample.set(Field::NetRxDropped, net.and_then(|n| n.rx_dropped));
    sample.set(Field::NetRxErrors, net.and_then(|n| n.rx_errors));
    sample.set(Field::NetTxDropped, net.and_then(|n| n.tx_dropped));
    sample.set(Field::NetTxErrors, net.and_then(|n| n.tx_errors));

    sample.set(Field::Pids, doc.pids_stats.and_then(|p| p.current));
    Some(sample)
}
