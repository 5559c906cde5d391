//! The sample model: raw cumulative counters of one container at one instant.
//!
//! A [`Sample`] is what one sweep learns about one container: its state and,
//! for a running container, the counters of its stats document. Counters are
//! stored as the daemon reported them (cumulative since the container
//! started); rates are derived at query time. A counter the document did not
//! carry is `None`, never a zero that looks real.

use std::fmt;

mod columns;

pub use columns::{Column, SampleColumns};

/// Milliseconds since the Unix epoch, UTC.
pub type UnixMillis = i64;

/// `time` in RFC 3339, UTC, for messages (the milliseconds themselves
/// when chrono cannot represent them).
pub fn rfc3339(time: UnixMillis) -> String {
    chrono::DateTime::from_timestamp_millis(time).map_or_else(|| format!("{time} ms"), |t| t.to_rfc3339())
}

/// A container's coarse state, as Docker's `State` field names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum State {
    /// Created, never started.
    Created = 0,
    /// Running (and not paused).
    Running = 1,
    /// Paused (frozen cgroup).
    Paused = 2,
    /// Restarting under a restart policy.
    Restarting = 3,
    /// Being removed.
    Removing = 4,
    /// Exited (stopped).
    Exited = 5,
    /// Dead: removal failed half way.
    Dead = 6,
}

impl State {
    /// Every state, in code order.
    pub const ALL: [State; 7] =
        [State::Created, State::Running, State::Paused, State::Restarting, State::Removing, State::Exited, State::Dead];

    /// The name Docker uses, e.g. `running`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Removing => "removing",
            State::Exited => "exited",
            State::Dead => "dead",
        }
    }

    /// Parses Docker's `State` string (`running`, `exited`, ...).
    pub fn from_docker(state: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == state)
    }

    /// Maps a human `Status` string to a state, as the 2015 scripts did, for
    /// daemons whose container list lacks `State`: empty or `Exited ...` ->
    /// exited, `Restarting ...` -> restarting, `Up ... (Paused)` -> paused,
    /// `Up ...` -> running, `Created` -> created, `Removal In Progress` ->
    /// removing, `Dead` -> dead.
    pub fn from_status(status: &str) -> Option<State> {
        let status = status.trim();
        if status.is_empty() || status.starts_with("Exited") {
            Some(State::Exited)
        } else if status.starts_with("Restarting") {
            Some(State::Restarting)
        } else if status.starts_with("Up") {
            Some(if status.ends_with("(Paused)") { State::Paused } else { State::Running })
        } else if status.starts_with("Created") {
            Some(State::Created)
        } else if status.starts_with("Removal") {
            Some(State::Removing)
        } else if status.starts_with("Dead") {
            Some(State::Dead)
        } else {
            None
        }
    }

    /// The state with this code (see the discriminants).
    pub fn from_code(code: u8) -> Option<State> {
        State::ALL.get(usize::from(code)).copied()
    }

    /// This state's one-byte code, as stored.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One scalar counter or gauge of a stats document. The discriminant is the
/// field's index in [`Sample::fields`] and its column in the store codec:
/// append new fields at the end only (the store format depends on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Field {
    /// `cpu_stats.cpu_usage.total_usage`, ns of CPU time, cumulative.
    CpuTotalNs = 0,
    /// `cpu_stats.online_cpus` (or the length of `percpu_usage`).
    OnlineCpus = 1,
    /// `cpu_stats.throttling_data.throttled_time`, ns, cumulative.
    ThrottledNs = 2,
    /// `memory_stats.usage`, bytes (includes page cache).
    MemUsage = 3,
    /// `memory_stats.limit`, bytes (the host's memory when unlimited).
    MemLimit = 4,
    /// Inactive file cache, bytes: `total_inactive_file` (v1) or
    /// `inactive_file` (v2). Usage minus this is "in use", as the docker CLI
    /// computes it.
    MemInactiveFile = 5,
    /// Anonymous memory, bytes: `total_rss`/`rss` (v1) or `anon` (v2), the
    /// 2015 scripts' definition of use.
    MemRss = 6,
    /// Page cache, bytes: `total_cache`/`cache` (v1) or `file` (v2).
    MemCache = 7,
    /// Block IO bytes read (op `Read`/`read`, all devices), cumulative.
    BlkReadBytes = 8,
    /// Block IO bytes written (op `Write`/`write`, all devices), cumulative.
    BlkWriteBytes = 9,
    /// Network bytes received, all interfaces, cumulative.
    NetRxBytes = 10,
    /// Network packets received, all interfaces, cumulative.
    NetRxPackets = 11,
    /// Network bytes sent, all interfaces, cumulative.
    NetTxBytes = 12,
    /// Network packets sent, all interfaces, cumulative.
    NetTxPackets = 13,
    /// `pids_stats.current`: processes and threads in the container.
    Pids = 14,
    /// `cpu_stats.cpu_usage.usage_in_usermode`, ns of CPU time in user
    /// mode, cumulative (cgroup v1 counts it in ticks of 10 ms, v2 in µs).
    CpuUserNs = 15,
    /// `cpu_stats.cpu_usage.usage_in_kernelmode`, ns of CPU time in kernel
    /// mode, cumulative.
    CpuSystemNs = 16,
    /// `cpu_stats.throttling_data.periods`: CFS enforcement periods in which
    /// the container could run (0 without a CPU limit), cumulative.
    CfsPeriods = 17,
    /// `cpu_stats.throttling_data.throttled_periods`: periods in which the
    /// container used its whole quota and was throttled, cumulative.
    CfsThrottledPeriods = 18,
    /// `memory_stats.failcnt`: times the memory usage hit the limit,
    /// cumulative (cgroup v1 only: Docker leaves it out when it is 0, so a
    /// v1 document without it reads 0; v2 documents have none).
    MemFailcnt = 19,
    /// Network packets dropped on receive, all interfaces, cumulative.
    NetRxDropped = 20,
    /// Network receive errors, all interfaces, cumulative.
    NetRxErrors = 21,
    /// Network packets dropped on send, all interfaces, cumulative.
    NetTxDropped = 22,
    /// Network send errors, all interfaces, cumulative.
    NetTxErrors = 23,
}

/// How many [`Field`]s there are.
pub const FIELD_COUNT: usize = 24;

impl Field {
    /// Every field, in index order.
    pub const ALL: [Field; FIELD_COUNT] = [
        Field::CpuTotalNs,
        Field::OnlineCpus,
        Field::ThrottledNs,
        Field::MemUsage,
        Field::MemLimit,
        Field::MemInactiveFile,
        Field::MemRss,
        Field::MemCache,
        Field::BlkReadBytes,
        Field::BlkWriteBytes,
        Field::NetRxBytes,
        Field::NetRxPackets,
        Field::NetTxBytes,
        Field::NetTxPackets,
        Field::Pids,
        Field::CpuUserNs,
        Field::CpuSystemNs,
        Field::CfsPeriods,
        Field::CfsThrottledPeriods,
        Field::MemFailcnt,
        Field::NetRxDropped,
        Field::NetRxErrors,
        Field::NetTxDropped,
        Field::NetTxErrors,
    ];

    /// This field's index in [`Sample::fields`].
    pub fn index(self) -> usize {
        usize::from(self as u8)
    }

    /// Whether the field is a cumulative counter (rates are derived from
    /// it) rather than a gauge.
    pub fn is_counter(self) -> bool {
        matches!(
            self,
            Field::CpuTotalNs
                | Field::ThrottledNs
                | Field::BlkReadBytes
                | Field::BlkWriteBytes
                | Field::NetRxBytes
                | Field::NetRxPackets
                | Field::NetTxBytes
                | Field::NetTxPackets
                | Field::CpuUserNs
                | Field::CpuSystemNs
                | Field::CfsPeriods
                | Field::CfsThrottledPeriods
                | Field::MemFailcnt
                | Field::NetRxDropped
                | Field::NetRxErrors
                | Field::NetTxDropped
                | Field::NetTxErrors
        )
    }

    /// A short snake_case name, used in CSV headers and the store docs.
    pub fn name(self) -> &'static str {
        match self {
            Field::CpuTotalNs => "cpu_total_ns",
            Field::OnlineCpus => "online_cpus",
            Field::ThrottledNs => "throttled_ns",
            Field::MemUsage => "mem_usage",
            Field::MemLimit => "mem_limit",
            Field::MemInactiveFile => "mem_inactive_file",
            Field::MemRss => "mem_rss",
            Field::MemCache => "mem_cache",
            Field::BlkReadBytes => "blk_read_bytes",
            Field::BlkWriteBytes => "blk_write_bytes",
            Field::NetRxBytes => "net_rx_bytes",
            Field::NetRxPackets => "net_rx_packets",
            Field::NetTxBytes => "net_tx_bytes",
            Field::NetTxPackets => "net_tx_packets",
            Field::Pids => "pids",
            Field::CpuUserNs => "cpu_user_ns",
            Field::CpuSystemNs => "cpu_system_ns",
            Field::CfsPeriods => "cfs_periods",
            Field::CfsThrottledPeriods => "cfs_throttled_periods",
            Field::MemFailcnt => "mem_failcnt",
            Field::NetRxDropped => "net_rx_dropped",
            Field::NetRxErrors => "net_rx_errors",
            Field::NetTxDropped => "net_tx_dropped",
            Field::NetTxErrors => "net_tx_errors",
        }
    }
}

/// What one sweep recorded for one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// When the values were read: the stats document's `read` time for a
    /// running container, the sweep's time otherwise.
    pub time: UnixMillis,
    /// The container's state in that sweep's container list.
    pub state: State,
    /// Scalar counters and gauges, indexed by [`Field::index`]; `None` where
    /// the document did not carry the value (or the container was not
    /// running).
    pub fields: [Option<u64>; FIELD_COUNT],
    /// `percpu_usage`, ns per CPU, cumulative; empty where the daemon does not
    /// report it (cgroup v2) or the container was not running.
    pub percpu_ns: Vec<u64>,
}

impl Sample {
    /// A sample that carries only a state (a container that is not running).
    pub fn state_only(time: UnixMillis, state: State) -> Sample {
        Sample { time, state, fields: [None; FIELD_COUNT], percpu_ns: Vec::new() }
    }

    /// The value of one field, if the document carried it.
    pub fn get(&self, field: Field) -> Option<u64> {
        self.fields[field.index()]
    }

    /// Sets one field.
    pub fn set(&mut self, field: Field, value: Option<u64>) {
        self.fields[field.index()] = value;
    }

    /// Whether any counter is present (false for state-only samples).
    pub fn has_counters(&self) -> bool {
        self.fields.iter().any(Option::is_some) || !self.percpu_ns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_codes_round_trip_and_names_parse() {
        for state in State::ALL {
            assert_eq!(State::from_code(state.code()), Some(state));
            assert_eq!(State::from_docker(state.as_str()), Some(state));
        }
        assert_eq!(State::from_code(7), None);
        assert_eq!(State::from_docker("Running"), None);
    }

    #[test]
    fn status_strings_map_as_the_2015_scripts_did() {
        assert_eq!(State::from_status(""), Some(State::Exited));
        assert_eq!(State::from_status("Exited (0) 2 minutes ago"), Some(State::Exited));
        assert_eq!(State::from_status("Restarting (1) 3 seconds ago"), Some(State::Restarting));
        assert_eq!(State::from_status("Up 2 minutes (Paused)"), Some(State::Paused));
        assert_eq!(State::from_status("Up 4 minutes"), Some(State::Running));
        assert_eq!(State::from_status("Created"), Some(State::Created));
        assert_eq!(State::from_status("Gone fishing"), None);
    }

    #[test]
    fn field_indexes_match_their_position() {
        for (i, field) in Field::ALL.into_iter().enumerate() {
            assert_eq!(field.index(), i);
        }
        assert!(Field::CpuTotalNs.is_counter());
        assert!(!Field::MemUsage.is_counter());
    }
}
