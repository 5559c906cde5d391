//! One scrape: the views and the collector's own figures as metric
//! families, with cAdvisor's names, labels and types where cAdvisor has
//! the figure, and `kura_` names for kura's own.
//!
//! # Which containers
//! cAdvisor reports the containers that have a cgroup: running and
//! paused ones. Its families here do the same, so dashboards that count
//! `container_last_seen` series count what they always did. kura's own
//! container families (`kura_container_state`, `kura_container_restarts_total`)
//! cover every container the newest sweep listed. A host whose newest
//! stored sweep is stale (older than three of its intervals and 10 s: the collector
//! cannot sweep it, or the store refuses writes) has no container series
//! at all, so Prometheus marks them stale instead of showing old values
//! as current; `kura_host_up` says 0 then.
//!
//! # Labels
//! `id` is the cgroup path, as cAdvisor shows it (`/docker/<id>` with
//! the cgroupfs driver, `/system.slice/docker-<id>.scope` with systemd,
//! from the daemon's `/info`); `name` has no leading `/`; `image` is the
//! container's image as listed; `host` is kura's name of the Docker host
//! (one collector serves several); `container_label_<k>` per Docker
//! label, its name cleaned to `[a-zA-Z0-9_]` (the first of two labels
//! that clean to the same name wins), unless turned off.
//!
//! kura stores network and block IO totals summed over interfaces and
//! devices, so those families carry one series with `interface="total"`
//! and `device="total"`, as cAdvisor labels its CPU total `cpu="total"`.

use std::collections::HashSet;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use kura_query::rate::{approx_f64, mem_in_use};
use kura_store::freshness::stale_after_ms;
use kura_store::sample::{Field, State, UnixMillis};

use super::telemetry::{ErrorKind, HostTelemetry, Telemetry};
use super::text::{label_name, Family, Kind, LabelSet, TextWriter, Value};
use super::view::{ContainerView, HostView, Views};
use crate::writer::WriteCounters;

/// The CFS period the kernel uses when none is set, and the one the
/// daemon sets with `--cpus`, µs.
const DEFAULT_CPU_PERIOD_US: i64 = 100_000;
/// The CPU weight of a container without `--cpu-shares`.
const DEFAULT_CPU_SHARES: i64 = 1024;

/// A host the endpoint serves, and its sweep interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedHost {
    /// Its name.
    pub name: String,
    /// Its sweep interval.
    pub interval: Duration,
}

/// Everything one scrape reads.
pub struct Scrape<'a> {
    /// The hosts, in configuration order.
    pub hosts: &'a [ServedHost],
    /// Their newest sweeps.
    pub views: &'a Views,
    /// The collector's sweep figures.
    pub telemetry: &'a Telemetry,
    /// The writer's counts (`None` outside the collector).
    pub writes: Option<&'a WriteCounters>,
    /// The store's size on disk, bytes, if known.
    pub store_bytes: Option<u64>,
    /// Whether Docker labels become `container_label_*` labels.
    pub container_labels: bool,
    /// The time of the scrape.
    pub now: UnixMillis,
}

const fn gauge(name: &'static str, help: &'static str) -> Family {
    Family { name, help, kind: Kind::Gauge }
}

const fn counter(name: &'static str, help: &'static str) -> Family {
    Family { name, help, kind: Kind::Counter }
}

const CPU_USAGE: Family = counter(
    "container_cpu_usage_seconds_total",
    "Cumulative CPU time consumed, per CPU (cpu=\"total\" where the daemon reports no per-CPU figures), seconds.",
);
const WORKING_SET: Family = gauge(
    "container_memory_working_set_bytes",
    "Memory in use: usage minus the inactive file cache, floored at 0 (as docker stats and kura mem), bytes.",
);
const SPEC_MEMORY_LIMIT: Family = gauge(
    "container_spec_memory_limit_bytes",
    "Memory limit of the container (inspect HostConfig.Memory), bytes; 0 when unlimited.",
);
const SPEC_CPU_PERIOD: Family = gauge("container_spec_cpu_period", "CFS period of the container, microseconds.");
const SPEC_CPU_QUOTA: Family =
    gauge("container_spec_cpu_quota", "CFS quota of the container per period, microseconds (--cpus sets NanoCpus, which the daemon turns into this); absent when unlimited.");
const SPEC_CPU_SHARES: Family = gauge("container_spec_cpu_shares", "CPU shares (relative weight) of the container.");
const LAST_SEEN: Family = gauge("container_last_seen", "When the container was last sampled, Unix seconds.");
const START_TIME: Family = gauge("container_start_time_seconds", "When the container last started, Unix seconds.");
const OOM_EVENTS: Family = counter(
    "container_oom_events_total",
    "OOM kills in the container (Docker oom events), since the collector started.",
);
const HEALTH: Family =
    gauge("container_health_state", "Health check status: 1 healthy, 0 unhealthy or starting, -1 no health check.");
const MACHINE_CORES: Family = gauge("machine_cpu_cores", "CPUs of the Docker host (the daemon's NCPU).");
const MACHINE_MEMORY: Family =
    gauge("machine_memory_bytes", "Memory of the Docker host (the daemon's MemTotal), bytes.");
const HOST_UP: Family = gauge(
    "kura_host_up",
    "1 when the host's newest stored sweep reached its Docker daemon and is not stale (older than three intervals and 10 s), else 0.",
);
const SWEEP_DURATION: Family = gauge("kura_sweep_duration_seconds", "How long the host's newest sweep took, seconds.");
const SWEEP_ERRORS: Family =
    counter("kura_sweep_errors_total", "Failures in the host's sweeps since the collector started, by kind.");
const CONTAINER_STATE: Family = gauge(
    "kura_container_state",
    "The container's state in the newest sweep: one series per state, 1 for the current one.",
);
const RESTARTS: Family = counter(
    "kura_container_restarts_total",
    "Starts of the container after an exit (by policy or by hand), from Docker events, since the collector started.",
);
const STORE_BYTES: Family = gauge("kura_store_bytes", "Size of the store on disk, bytes.");
const STORE_WRITE_ERRORS: Family = counter(
    "kura_store_write_errors_total",
    "Writes the store refused (full disk, read-only file system), each retry counted.",
);
const STORE_DROPPED: Family = counter(
    "kura_store_dropped_sweeps_total",
    "Sweeps lost because the store refused writes longer than the backlog holds.",
);

/// How a stored field becomes a value.
#[derive(Clone, Copy)]
enum Unit {
    /// As stored.
    Same,
    /// Nanoseconds to seconds.
    Seconds,
}

/// A family that is one stored field of the sample, optionally with a
/// fixed extra label.
struct FieldFamily {
    family: Family,
    field: Field,
    unit: Unit,
    extra: Option<(&'static str, &'static str)>,
}

const fn field(family: Family, field: Field, unit: Unit, extra: Option<(&'static str, &'static str)>) -> FieldFamily {
    FieldFamily { family, field, unit, extra }
}

const TOTAL_INTERFACE: Option<(&str, &str)> = Some(("interface", "total"));
const TOTAL_DEVICE: Option<(&str, &str)> = Some(("device", "total"));

/// The families that come straight from one stored field, in output order
/// after CPU usage.
const FIELD_FAMILIES: [FieldFamily; 19] = [
    field(
        counter("container_cpu_user_seconds_total", "Cumulative CPU time consumed in user mode, seconds."),
        Field::CpuUserNs,
        Unit::Seconds,
        None,
    ),
    field(
        counter("container_cpu_system_seconds_total", "Cumulative CPU time consumed in kernel mode, seconds."),
        Field::CpuSystemNs,
        Unit::Seconds,
        None,
    ),
    field(
        counter(
            "container_cpu_cfs_periods_total",
            "CFS enforcement periods in which the container could run (0 without a CPU limit).",
        ),
        Field::CfsPeriods,
        Unit::Same,
        None,
    ),
    field(
        counter(
            "container_cpu_cfs_throttled_periods_total",
            "CFS periods in which the container used its whole quota and was throttled.",
        ),
        Field::CfsThrottledPeriods,
        Unit::Same,
        None,
    ),
    field(
        counter(
            "container_cpu_cfs_throttled_seconds_total",
            "Total time the container was throttled by its CFS quota, seconds.",
        ),
        Field::ThrottledNs,
        Unit::Seconds,
        None,
    ),
    field(
        gauge("container_memory_usage_bytes", "Memory usage, page cache included, bytes."),
        Field::MemUsage,
        Unit::Same,
        None,
    ),
    field(
        gauge("container_memory_rss", "Anonymous memory (cgroup v1 total_rss, v2 anon), bytes."),
        Field::MemRss,
        Unit::Same,
        None,
    ),
    field(
        gauge("container_memory_cache", "Page cache (cgroup v1 total_cache, v2 file), bytes."),
        Field::MemCache,
        Unit::Same,
        None,
    ),
    // A count that only grows, typed gauge: promtool's lint wants counter
    // names to end in _total, and the name is cAdvisor's. PromQL's rate()
    // and increase() read it the same either way.
    field(
        gauge("container_memory_failcnt", "Times the memory usage hit the limit (cgroup v1), cumulative."),
        Field::MemFailcnt,
        Unit::Same,
        None,
    ),
    field(
        counter("container_network_receive_bytes_total", "Bytes received, all interfaces."),
        Field::NetRxBytes,
        Unit::Same,
        TOTAL_INTERFACE,
    ),
    field(
        counter("container_network_receive_packets_total", "Packets received, all interfaces."),
        Field::NetRxPackets,
        Unit::Same,
        TOTAL_INTERFACE,
    ),
    field(
        counter("container_network_receive_packets_dropped_total", "Packets dropped on receive, all interfaces."),
        Field::NetRxDropped,
        Unit::Same,
        TOTAL_INTERFACE,
    ),
    field(
        counter("container_network_receive_errors_total", "Receive errors, all interfaces."),
        Field::NetRxErrors,
        Unit::Same,
        TOTAL_INTERFACE,
    ),
    field(
        counter("container_network_transmit_bytes_total", "Bytes sent, all interfaces."),
        Field::NetTxBytes,
        Unit::Same,
        TOTAL_INTERFACE,
    ),
    field(
        counter("container_network_transmit_packets_total", "Packets sent, all interfaces."),
        Field::NetTxPackets,
        Unit::Same,
        TOTAL_INTERFACE,
    ),
    field(
        counter("container_network_transmit_packets_dropped_total", "Packets dropped on send, all interfaces."),
        Field::NetTxDropped,
        Unit::Same,
        TOTAL_INTERFACE,
    ),
    field(
        counter("container_network_transmit_errors_total", "Send errors, all interfaces."),
        Field::NetTxErrors,
        Unit::Same,
        TOTAL_INTERFACE,
    ),
    field(
        counter("container_fs_reads_bytes_total", "Bytes read from block devices, all devices."),
        Field::BlkReadBytes,
        Unit::Same,
        TOTAL_DEVICE,
    ),
    field(
        counter("container_fs_writes_bytes_total", "Bytes written to block devices, all devices."),
        Field::BlkWriteBytes,
        Unit::Same,
        TOTAL_DEVICE,
    ),
];

/// A container this scrape writes, with its labels rendered once.
struct Subject<'a> {
    container: &'a ContainerView,
    labels: LabelSet,
    /// Running or paused: it has a cgroup, and cAdvisor's families.
    cgroup: bool,
}

/// A served host in this scrape.
struct Served<'a> {
    host: &'a ServedHost,
    /// Its view, if fresh.
    fresh: Option<Arc<HostView>>,
    telemetry: HostTelemetry,
}

/// Writes one scrape's exposition into `sink`; fails with the sink's
/// first error (a scraper that went away).
pub fn render<W: io::Write>(scrape: &Scrape<'_>, sink: W) -> io::Result<W> {
    let hosts: Vec<Served<'_>> = scrape
        .hosts
        .iter()
        .map(|host| Served {
            host,
            fresh: fresh_view(scrape.views, host, scrape.now),
            telemetry: scrape.telemetry.host(&host.name),
        })
        .collect();
    let subjects: Vec<Subject<'_>> = hosts
        .iter()
        .filter_map(|served| served.fresh.as_deref())
        .flat_map(|view| view.containers.iter().map(move |container| (view, container)))
        .map(|(view, container)| Subject {
            container,
            labels: container_labels(view, container, scrape.container_labels),
            cgroup: matches!(container.sample.state, State::Running | State::Paused),
        })
        .collect();
    let cgroups: Vec<&Subject<'_>> = subjects.iter().filter(|s| s.cgroup).collect();

    let mut out = TextWriter::new(sink);
    containers(&mut out, &cgroups);
    machines(&mut out, &hosts);
    own(&mut out, &hosts, &subjects, scrape);
    out.finish()
}

/// The view of `host` if it is fresh at `now`: its newest sweep not
/// stale (the rule of [`kura_store::freshness`]).
pub fn fresh_view(views: &Views, host: &ServedHost, now: UnixMillis) -> Option<Arc<HostView>> {
    let stale_after = stale_after_ms(i64::try_from(host.interval.as_millis()).unwrap_or(i64::MAX));
    views.host(&host.name).filter(|view| now.saturating_sub(view.sweep.time) <= stale_after)
}

/// cAdvisor's container families.
fn containers(out: &mut TextWriter<impl io::Write>, subjects: &[&Subject<'_>]) {
    for s in subjects {
        let sample = &s.container.sample;
        if sample.percpu_ns.is_empty() {
            if let Some(ns) = sample.get(Field::CpuTotalNs) {
                out.sample(&CPU_USAGE, &s.labels, Some(("cpu", "total")), seconds(ns));
            }
        } else {
            for (cpu, &ns) in sample.percpu_ns.iter().enumerate() {
                out.sample(&CPU_USAGE, &s.labels, Some(("cpu", &format!("cpu{cpu:02}"))), seconds(ns));
            }
        }
    }
    for family in &FIELD_FAMILIES {
        for s in subjects {
            if let Some(value) = s.container.sample.get(family.field) {
                let value = match family.unit {
                    Unit::Same => Value::Int(value),
                    Unit::Seconds => seconds(value),
                };
                out.sample(&family.family, &s.labels, family.extra, value);
            }
        }
    }
    for s in subjects {
        let sample = &s.container.sample;
        if let Some(usage) = sample.get(Field::MemUsage) {
            out.sample(
                &WORKING_SET,
                &s.labels,
                None,
                Value::Int(mem_in_use(usage, sample.get(Field::MemInactiveFile))),
            );
        }
    }
    let details: Vec<_> = subjects.iter().filter_map(|s| Some((*s, s.container.details.as_ref()?))).collect();
    for (s, d) in &details {
        if let Some(limit) = d.memory_limit {
            out.sample(&SPEC_MEMORY_LIMIT, &s.labels, None, Value::Signed(limit.max(0)));
        }
    }
    for (s, d) in &details {
        out.sample(&SPEC_CPU_PERIOD, &s.labels, None, Value::Signed(cpu_period(d.cpu_period)));
    }
    for (s, d) in &details {
        if let Some(quota) = cpu_quota(d.cpu_quota, d.nano_cpus) {
            out.sample(&SPEC_CPU_QUOTA, &s.labels, None, Value::Signed(quota));
        }
    }
    for (s, d) in &details {
        let shares = d.cpu_shares.filter(|&s| s > 0).unwrap_or(DEFAULT_CPU_SHARES);
        out.sample(&SPEC_CPU_SHARES, &s.labels, None, Value::Signed(shares));
    }
    for s in subjects {
        out.sample(&LAST_SEEN, &s.labels, None, Value::Float(millis_to_seconds(s.container.sample.time)));
    }
    for s in subjects {
        if let Some(started) = s.container.started_at {
            out.sample(&START_TIME, &s.labels, None, Value::Float(started));
        }
    }
    for s in subjects {
        out.sample(&OOM_EVENTS, &s.labels, None, Value::Int(s.container.lifecycle.oom_kills));
    }
    for (s, d) in &details {
        let state = match d.health.as_deref() {
            None => -1,
            Some("healthy") => 1,
            Some(_) => 0,
        };
        out.sample(&HEALTH, &s.labels, None, Value::Signed(state));
    }
}

/// cAdvisor's machine families, per fresh host.
fn machines(out: &mut TextWriter<impl io::Write>, hosts: &[Served<'_>]) {
    let infos: Vec<_> =
        hosts.iter().filter_map(|h| Some((host_labels(&h.host.name), h.fresh.as_ref()?.info.as_ref()?))).collect();
    for (labels, info) in &infos {
        if let Some(cpus) = info.ncpu {
            out.sample(&MACHINE_CORES, labels, None, Value::Signed(cpus));
        }
    }
    for (labels, info) in &infos {
        if let Some(bytes) = info.mem_total {
            out.sample(&MACHINE_MEMORY, labels, None, Value::Signed(bytes));
        }
    }
}

/// kura's own families.
fn own(out: &mut TextWriter<impl io::Write>, hosts: &[Served<'_>], subjects: &[Subject<'_>], scrape: &Scrape<'_>) {
    for h in hosts {
        let up = h.fresh.as_ref().is_some_and(|view| view.reached());
        out.sample(&HOST_UP, &host_labels(&h.host.name), None, Value::Int(u64::from(up)));
    }
    for h in hosts {
        if let Some(took) = h.telemetry.last_sweep {
            out.sample(&SWEEP_DURATION, &host_labels(&h.host.name), None, Value::Float(took.as_secs_f64()));
        }
    }
    for h in hosts {
        let labels = host_labels(&h.host.name);
        for kind in ErrorKind::ALL {
            out.sample(&SWEEP_ERRORS, &labels, Some(("kind", kind.as_str())), Value::Int(h.telemetry.errors(kind)));
        }
    }
    for s in subjects {
        for state in State::ALL {
            let current = s.container.sample.state == state;
            out.sample(&CONTAINER_STATE, &s.labels, Some(("state", state.as_str())), Value::Int(u64::from(current)));
        }
    }
    for s in subjects {
        out.sample(&RESTARTS, &s.labels, None, Value::Int(s.container.lifecycle.restarts));
    }
    if let Some(bytes) = scrape.store_bytes {
        out.sample(&STORE_BYTES, &LabelSet::new(), None, Value::Int(bytes));
    }
    if let Some(writes) = scrape.writes {
        out.sample(&STORE_WRITE_ERRORS, &LabelSet::new(), None, Value::Int(writes.refused()));
        out.sample(&STORE_DROPPED, &LabelSet::new(), None, Value::Int(writes.dropped()));
    }
}

fn host_labels(host: &str) -> LabelSet {
    LabelSet::new().with("host", host)
}

/// `id`, `image`, `name`, `host` and the Docker labels of a container.
fn container_labels(view: &HostView, container: &ContainerView, docker_labels: bool) -> LabelSet {
    let info = &container.info;
    let systemd = view.info.as_ref().and_then(|i| i.cgroup_driver.as_deref()) == Some("systemd");
    let id = if systemd { format!("/system.slice/docker-{}.scope", info.id) } else { format!("/docker/{}", info.id) };
    let mut labels = LabelSet::new();
    labels.push("id", &id);
    labels.push("image", &info.image);
    labels.push("name", &info.name);
    labels.push("host", &view.host);
    if docker_labels {
        let mut seen = HashSet::with_capacity(info.labels.len());
        for (key, value) in &info.labels {
            let name = label_name("container_label_", key);
            if seen.insert(name.clone()) {
                labels.push(&name, value);
            }
        }
    }
    labels
}

/// The CFS period in force: the container's, else the kernel's default.
fn cpu_period(period: Option<i64>) -> i64 {
    period.filter(|&p| p > 0).unwrap_or(DEFAULT_CPU_PERIOD_US)
}

/// The CFS quota in force, µs per period: `--cpu-quota` as set, or the
/// daemon's translation of `--cpus`, which it does not allow together
/// with a quota or period (moby `daemon/daemon_unix.go`: period 100 000
/// µs, quota `NanoCpus * period / 1e9`); `None` when unlimited.
fn cpu_quota(quota: Option<i64>, nano_cpus: Option<i64>) -> Option<i64> {
    if let Some(quota) = quota.filter(|&q| q > 0) {
        return Some(quota);
    }
    let nano = nano_cpus.filter(|&n| n > 0)?;
    nano.checked_mul(DEFAULT_CPU_PERIOD_US).map(|x| x / 1_000_000_000)
}

fn seconds(ns: u64) -> Value {
    Value::Float(approx_f64(ns) / 1e9)
}

fn millis_to_seconds(ms: UnixMillis) -> f64 {
    approx_f64(u64::try_from(ms).unwrap_or(0)) / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_become_period_and_quota_as_the_daemon_sets_them() {
        assert_eq!(cpu_quota(None, Some(500_000_000)), Some(50_000));
        assert_eq!(cpu_quota(Some(0), Some(1_500_000_000)), Some(150_000));
        assert_eq!(cpu_quota(Some(20_000), None), Some(20_000));
        assert_eq!(cpu_quota(Some(0), Some(0)), None);
        assert_eq!(cpu_period(Some(0)), 100_000);
        assert_eq!(cpu_period(Some(50_000)), 50_000);
    }
}
