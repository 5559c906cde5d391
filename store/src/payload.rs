//! The documents the store keeps besides samples, typed, with their schema
//! in this one place: container details (from inspect), processes (`top`),
//! raw memory statistics, the daemon's `/info`, events, SNMP readings and
//! size sweeps. The collector parses the daemon's answers into these (or,
//! for inspect, derives [`ContainerDetails`] from it), the store writes them
//! as JSON under Docker's field names, and readers get them back as these
//! types: a renamed field is a compile error, not a silently missing item.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::sample::State;

/// `null` or absent -> the type's default (an empty list or map), for
/// collections Docker sends as `null` when they are empty.
pub fn null_as_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// What the store keeps of an inspect document, recorded when it changes.
///
/// Limits are kept as Docker reports them: 0 means "unlimited" (or "the
/// default" for `cpu_period` and `cpu_shares`), `memory_swap` -1 means
/// unlimited swap. `None` means the daemon did not say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerDetails {
    /// The state: `State.Status`, else derived from the flags.
    #[serde(default, with = "state_name")]
    pub state: Option<State>,
    /// Exit code of the last run.
    pub exit_code: i64,
    /// The last exit was caused by the OOM killer.
    pub oom_killed: bool,
    /// Restarts done by the restart policy.
    pub restart_count: i64,
    /// Health check status, for containers that have one.
    pub health: Option<String>,
    /// Consecutive failed health checks.
    pub failing_streak: Option<i64>,
    /// Last start, RFC 3339; `None` if never started.
    pub started_at: Option<String>,
    /// Last exit, RFC 3339; `None` if never exited.
    pub finished_at: Option<String>,
    /// The daemon's error for the last start; `None` if none.
    pub error: Option<String>,
    /// Memory limit, bytes; 0 = unlimited.
    pub memory_limit: Option<i64>,
    /// Memory plus swap limit, bytes; 0 = unset, -1 = unlimited.
    pub memory_swap: Option<i64>,
    /// CPU limit in 1e-9 CPUs; 0 = unlimited.
    pub nano_cpus: Option<i64>,
    /// CFS quota, µs per period; 0 = unlimited.
    pub cpu_quota: Option<i64>,
    /// CFS period, µs; 0 = the kernel's default.
    pub cpu_period: Option<i64>,
    /// Allowed CPUs; `None` when empty (all CPUs).
    pub cpuset_cpus: Option<String>,
    /// Relative CPU weight; 0 = the default.
    pub cpu_shares: Option<i64>,
    /// The restart policy as `docker run --restart` spells it (`always`,
    /// `on-failure:5`); `None` when there is none.
    pub restart_policy: Option<String>,
    /// The ports published at start (`docker run -p`, inspect's
    /// `HostConfig.PortBindings`), in container port order; empty when none
    /// (and left out of the stored document then, as format 1 wrote it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_bindings: Vec<PortBinding>,
}

/// One published port: a container port and where the host listens for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    /// The container's port and protocol, `80/tcp`.
    pub container_port: String,
    /// The host address it is bound to; `None`: every address.
    pub host_ip: Option<String>,
    /// The host port; `None`: one the daemon picks when the container starts.
    pub host_port: Option<String>,
}

impl fmt::Display for PortBinding {
    /// As `docker port` prints a binding: `8080->80/tcp`,
    /// `127.0.0.1:8080->80/tcp`; just `80/tcp` when the host port is the
    /// daemon's choice.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host_ip, &self.host_port) {
            (Some(ip), Some(port)) => write!(f, "{ip}:{port}->{}", self.container_port),
            (None, Some(port)) => write!(f, "{port}->{}", self.container_port),
            (_, None) => f.write_str(&self.container_port),
        }
    }
}

/// Serializes an `Option<State>` as Docker's state name.
mod state_name {
    use serde::{de, Deserialize, Deserializer, Serializer};

    use crate::sample::State;

    pub(super) fn serialize<S: Serializer>(state: &Option<State>, serializer: S) -> Result<S::Ok, S::Error> {
        match state {
            Some(state) => serializer.serialize_some(state.as_str()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<State>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|name| {
                State::from_docker(&name)
                    .ok_or_else(|| de::Error::invalid_value(de::Unexpected::Str(&name), &"a Docker state name"))
            })
            .transpose()
    }
}

/// `GET /containers/{id}/top`: `ps` output of a running container.
///
/// Docker runs `ps -ef` on the host and hands each column apart. Podman
/// 4 runs `ps -ef` inside the container when its own `ps` cannot take the
/// arguments, and splits that output on tabs that busybox's or procps'
/// `ps` never writes: one title (`"PID   USER     COMMAND"`) and one
/// string per process. Such a document is split on whitespace when read
/// (the last column keeps the rest of the line), so both daemons' answers
/// have the same columns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", from = "TopDocument")]
pub struct Top {
    /// Column titles (`UID`, `PID`, ..., `CMD`).
    pub titles: Vec<String>,
    /// One row per process, in the order of `titles`.
    pub processes: Vec<Vec<String>>,
}

/// [`Top`] as the daemon sends it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TopDocument {
    titles: Vec<String>,
    #[serde(deserialize_with = "null_as_empty")]
    processes: Vec<Vec<String>>,
}

impl From<TopDocument> for Top {
    fn from(document: TopDocument) -> Top {
        let TopDocument { titles, processes } = document;
        let one_unsplit_title = matches!(titles.as_slice(), [title] if title.split_whitespace().nth(1).is_some());
        if !one_unsplit_title || processes.iter().any(|process| process.len() != 1) {
            return Top { titles, processes };
        }
        let titles: Vec<String> = titles[0].split_whitespace().map(str::to_owned).collect();
        let processes = processes.iter().map(|process| split_columns(&process[0], titles.len())).collect();
        Top { titles, processes }
    }
}

/// `line` cut at whitespace into at most `columns` fields, the last one
/// keeping the rest of the line (a command line has spaces).
fn split_columns(line: &str, columns: usize) -> Vec<String> {
    let mut fields = Vec::with_capacity(columns);
    let mut rest = line.trim_start();
    while fields.len() + 1 < columns && !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        fields.push(rest[..end].to_owned());
        rest = rest[end..].trim_start();
    }
    if !rest.is_empty() {
        fields.push(rest.trim_end().to_owned());
    }
    fields
}

impl Top {
    /// The command line of each process: the `CMD` column (`COMMAND` with
    /// some `ps` options). Nothing when there is no such column.
    pub fn commands(&self) -> impl Iterator<Item = &str> {
        let column = self.command_column();
        self.processes
            .iter()
            .filter_map(move |process| column.and_then(|column| process.get(column)).map(String::as_str))
    }

    /// The index of the command line column (`CMD`, or `COMMAND` with some
    /// `ps` options), if there is one.
    pub fn command_column(&self) -> Option<usize> {
        self.titles.iter().position(|title| title == "CMD" || title == "COMMAND")
    }

    /// How many processes the container runs.
    pub fn process_count(&self) -> usize {
        self.processes.len()
    }
}

/// `GET /info`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    /// The daemon's id.
    #[serde(rename = "ID")]
    pub id: Option<String>,
    /// The host's name.
    pub name: Option<String>,
    /// CPUs of the host.
    #[serde(rename = "NCPU")]
    pub ncpu: Option<i64>,
    /// Memory of the host, bytes.
    pub mem_total: Option<i64>,
    /// Docker's version (`20.10.24+dfsg1`).
    pub server_version: Option<String>,
    /// `1` or `2`; API >= 1.40.
    pub cgroup_version: Option<String>,
    /// `cgroupfs` or `systemd`.
    pub cgroup_driver: Option<String>,
    /// The host's OS (`Debian GNU/Linux 12 (bookworm)`).
    pub operating_system: Option<String>,
    /// The host's kernel.
    pub kernel_version: Option<String>,
}

/// One line of `GET /events`. Since API 1.22 events carry `Type`, `Action`
/// and `Actor`; container events also keep the legacy `status`, `id`, `from`.
/// Absent fields stay absent when stored, so the stored bytes are the
/// daemon's document in canonical form (the store deduplicates by them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Event {
    /// `container`, `image`, `network`, `volume`, ...
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `create`, `start`, `die`, `oom`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The object the event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// `local` or `swarm`.
    #[serde(rename = "scope", skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Unix seconds.
    #[serde(rename = "time", skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    /// Unix nanoseconds.
    #[serde(rename = "timeNano", skip_serializing_if = "Option::is_none")]
    pub time_nano: Option<i64>,
    /// Legacy: the action.
    #[serde(rename = "status", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Legacy: the container id.
    #[serde(rename = "id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Legacy: the container's image.
    #[serde(rename = "from", skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// `Actor` of an event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Actor {
    /// The object's id (a container id for container events).
    #[serde(rename = "ID")]
    pub id: String,
    /// Labels and details (`name`, `image`, `exitCode`, ...).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// The id of the container a container event is about (`Actor.ID`, else
    /// the legacy `id`); `None` for other kinds of events. Events without
    /// `Type` (API < 1.22) are taken as container events.
    pub fn container_id(&self) -> Option<&str> {
        if self.kind.as_deref().is_some_and(|kind| kind != "container") {
            return None;
        }
        self.actor.as_ref().map(|actor| actor.id.as_str()).or(self.id.as_deref())
    }

    /// What happened: `Action`, else the legacy `status`.
    pub fn action(&self) -> Option<&str> {
        self.action.as_deref().or(self.status.as_deref())
    }
}

/// A running container's processes and raw memory statistics, as one sweep
/// read them (`top` on its share of sweeps, memory on every sweep).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latest {
    /// The processes, when `top` was read in this sweep.
    pub top: Option<Top>,
    /// The stats document's `memory_stats.stats` (cgroup v1 or v2 names).
    pub memory_stats: Option<MemoryStats>,
}

/// The raw memory statistics of a stats document (`memory_stats.stats`):
/// cgroup v1 names (`total_rss`, `total_inactive_file`, ...) or v2 names
/// (`anon`, `file`, `inactive_file`, ...), in bytes or counts as the kernel
/// reports them.
pub type MemoryStats = BTreeMap<String, u64>;

/// One reading of a host's agent. Every value is what the agent answered,
/// or `None` when it did not have the object (see [`HostReading::unsupported`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostReading {
    /// `sysUpTime.0` (.1.3.6.1.2.1.1.3.0): hundredths of a second since the
    /// agent started. It going backwards means the agent restarted (the CPU
    /// counters restart then too).
    pub sys_uptime: Option<u64>,
    /// Memory figures, in KiB.
    pub memory: MemoryKib,
    /// CPU time counters, in ticks summed over all CPUs.
    pub cpu: CpuTicks,
    /// The objects this agent did not answer, with the reason; the caller
    /// logs them once per host.
    pub unsupported: Vec<Unsupported>,
}

/// UCD-SNMP-MIB `memory` group (.1.3.6.1.4.1.2021.4), in KiB.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryKib {
    /// `memTotalReal` (.4.5.0): physical memory (Linux `MemTotal`).
    pub total_real: Option<u64>,
    /// `memAvailReal` (.4.6.0): unused physical memory (Linux `MemFree`, not `MemAvailable`).
    pub avail_real: Option<u64>,
    /// `memBuffer` (.4.14.0): Linux `Buffers`.
    pub buffer: Option<u64>,
    /// `memCached` (.4.15.0): Linux page cache.
    pub cached: Option<u64>,
    /// `memSysAvail` (.4.27.0, Counter64, net-snmp 5.9.1+): Linux `MemAvailable`.
    pub sys_avail: Option<u64>,
}

/// UCD-SNMP-MIB `systemStats` raw CPU counters (.1.3.6.1.4.1.2021.11.50-56
/// and .61), Counter32 ticks (1/100 s on Linux, as in /proc/stat) summed
/// over all CPUs; they wrap at 2^32.
///
/// The MIB warns that an agent may fold wait and kernel time into `system`;
/// net-snmp 5.9 on Linux does not (`system` follows /proc/stat's system
/// column, `kernel` stays 0), but a sum over all fields must keep it in mind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuTicks {
    /// `ssCpuRawUser` (.11.50.0).
    pub user: Option<u64>,
    /// `ssCpuRawNice` (.11.51.0).
    pub nice: Option<u64>,
    /// `ssCpuRawSystem` (.11.52.0).
    pub system: Option<u64>,
    /// `ssCpuRawIdle` (.11.53.0).
    pub idle: Option<u64>,
    /// `ssCpuRawWait` (.11.54.0): I/O wait.
    pub wait: Option<u64>,
    /// `ssCpuRawKernel` (.11.55.0); may also be counted in `system`.
    pub kernel: Option<u64>,
    /// `ssCpuRawInterrupt` (.11.56.0).
    pub interrupt: Option<u64>,
    /// `ssCpuRawSoftIRQ` (.11.61.0; .11.57 is `ssIORawSent`, a block count).
    pub soft_irq: Option<u64>,
}

/// An object the agent did not answer with a number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsupported {
    /// The object's MIB name, e.g. `memSysAvail`.
    pub object: String,
    /// Its numeric OID, e.g. `1.3.6.1.4.1.2021.4.27.0`.
    pub oid: String,
    /// What the agent answered instead, e.g. `noSuchObject`.
    pub reason: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.object, self.oid, self.reason)
    }
}

impl HostReading {
    /// Memory available for new work, in KiB: `memSysAvail` (the kernel's
    /// `MemAvailable`) when the agent has it, else `memAvailReal + memBuffer
    /// + memCached`, the 2015 Hinemos scripts' formula (M4c).
    ///
    /// `memAvailReal` alone is not "available": net-snmp fills it from
    /// `MemFree` (agent/mibgroup/hardware/memory/memory_linux.c), which leaves
    /// out the reclaimable buffers and page cache; the fallback adds them back
    /// (and so slightly overstates, as the cache is not all reclaimable).
    /// `None` when a needed object is missing.
    pub fn mem_available_kib(&self) -> Option<u64> {
        let m = &self.memory;
        m.sys_avail.or_else(|| m.avail_real?.checked_add(m.buffer?)?.checked_add(m.cached?))
    }
}

/// The sizes part of a sweep (`size=1` container list and `/images/json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sizes {
    /// Sum of image sizes, bytes.
    pub images: u64,
    /// Sum of containers' `SizeRw` per state name, bytes.
    pub containers: BTreeMap<String, u64>,
}
