//! The Hinemos checks: each command's items, derived from stored history.
//!
//! Every figure comes from [`crate::window`] and [`crate::rate`]; this
//! module only decides which containers, which counters and which keys.

use std::collections::BTreeMap;
use std::time::Duration;

use kura_store::duration::parse_duration;
use kura_store::payload::{HostReading, Sizes, Top};
use kura_store::sample::UnixMillis;
use kura_store::sample::{Field, SampleColumns, State};
use kura_store::{Reader, Timed};

use crate::cli::{CpuArgs, DiskArgs, MemArgs, NetArgs, ProcArgs, Scale, SelectArgs};
use crate::error::QueryError;
use crate::export::hinemos::{Item, Value};
use crate::rate::{self, CpuScale, Increase, MemReading, MemUse, SnmpCpuTicks};
use crate::scope::{Scope, Selection, Target};
use crate::transition::{self, NS_PER_MS};
use crate::window::{self, Rows, Window};

/// A command's answer: the items to print, and why selected items have none.
#[derive(Debug, Default)]
pub struct Answer {
    /// The items, in print order.
    pub items: Vec<Item>,
    /// One line per selected item that printed nothing, for stderr.
    pub missing: Vec<String>,
    /// Other remarks for stderr (e.g. no per-core figures on cgroup v2).
    pub notes: Vec<String>,
}

/// `kura status`: `Status,0` when the newest sweep reached the daemon.
pub fn status(scope: &Scope) -> Answer {
    let down = !matches!(scope.sweep.outcome, kura_store::SweepOutcome::Reached);
    Answer { items: vec![Item::new("Status", Value::Integer(u64::from(down)))], ..Answer::default() }
}

/// The states `count` and `size` print, in the 2015 scripts' order then the rest.
const COUNTED: [State; 6] =
    [State::Running, State::Restarting, State::Paused, State::Exited, State::Created, State::Dead];

fn require_up(scope: &Scope) -> Result<(), QueryError> {
    match &scope.sweep.outcome {
        kura_store::SweepOutcome::Reached => Ok(()),
        kura_store::SweepOutcome::Down(reason) => {
            Err(QueryError::HostDown { host: scope.host.clone(), reason: reason.clone() })
        }
    }
}

/// `kura count`: containers per state in the newest sweep.
pub fn count(scope: &Scope, selection: &Selection) -> Result<Answer, QueryError> {
    require_up(scope)?;
    let mut counts: BTreeMap<State, u64> = BTreeMap::new();
    for sample in scope.sweep_samples(&selection.targets)?.into_iter().flatten() {
        *counts.entry(sample.state).or_default() += 1;
    }
    let items = COUNTED
        .iter()
        .map(|state| Item::new(state.as_str(), Value::Integer(counts.get(state).copied().unwrap_or(0))))
        .collect();
    Ok(Answer { items, ..Answer::default() })
}

/// `kura size`: image bytes, then containers' writable layers per state.
pub fn size(scope: &Scope) -> Result<Answer, QueryError> {
    let sizes = scope.reader.sizes_at(&scope.host, scope.now)?.ok_or_else(|| {
        QueryError::Usage(format!(
            "host {} has no size sweep yet (sizes are sampled every size_interval, 1h by default)",
            scope.host
        ))
    })?;
    let sizes: Sizes = sizes.value;
    let mut items = vec![Item::new("image", Value::Integer(sizes.images))];
    for state in COUNTED {
        let bytes = sizes.containers.get(state.as_str()).copied().unwrap_or(0);
        items.push(Item::new(state.as_str(), Value::Integer(bytes)));
    }
    Ok(Answer { items, ..Answer::default() })
}

/// The window a rate command covers, ms (`--window`, at least 1 s).
pub fn width_ms(select: &SelectArgs) -> Result<u64, QueryError> {
    let width = parse_duration(&select.window).map_err(|e| QueryError::Usage(format!("--window: {e}")))?;
    if width < Duration::from_secs(1) {
        return Err(QueryError::Usage("--window: at least 1s".to_owned()));
    }
    Ok(u64::try_from(width.as_millis()).unwrap_or(u64::MAX))
}

/// One target's window: its samples and the rows the figure covers.
struct Windowed<'a> {
    target: &'a Target,
    columns: SampleColumns,
    rows: Rows,
}

impl Windowed<'_> {
    fn increase(&self, field: Field) -> Option<Increase> {
        rate::counter_increase(&self.columns.time, self.columns.column(field), self.rows)
    }

    /// Why a counter has no figure: too few readings, or none at all (the
    /// daemon does not report it).
    fn why_none(&self, field: Field) -> &'static str {
        let column = self.columns.column(field);
        if self.rows.range().any(|row| column.get(row).is_some()) {
            "no counter in the window"
        } else {
            "the daemon reports no such counter (Podman before 5.0 counts no packets)"
        }
    }
}

/// Loads every target's window; a target with no sample in it is reported
/// (when selected explicitly) and left out.
fn windows<'a>(
    scope: &Scope,
    selection: &'a Selection,
    width: u64,
    answer: &mut Answer,
) -> Result<Vec<Windowed<'a>>, QueryError> {
    let mut out = Vec::with_capacity(selection.targets.len());
    let window = Window { end: scope.now, width_ms: width };
    let samples = scope.window_samples(&selection.targets, width)?;
    for (target, columns) in selection.targets.iter().zip(samples) {
        match window::select(&columns.time, &columns.state, window) {
            Some(rows) => out.push(Windowed { target, columns, rows }),
            None if selection.explicit => {
                let state = columns.state.last().map_or("no sample", |s| s.as_str());
                answer.missing.push(format!("{}: not running in the window ({state})", target.key));
            }
            None => {}
        }
    }
    Ok(out)
}

/// Adds an item, or explains why it has no value.
fn push(answer: &mut Answer, key: String, value: Option<Value>, why: &str) {
    match value {
        Some(value) => answer.items.push(Item::new(key, value)),
        None => answer.missing.push(format!("{key}: {why}")),
    }
}

/// `kura cpu`.
pub fn cpu(scope: &Scope, selection: &Selection, args: &CpuArgs) -> Result<Answer, QueryError> {
    let width = width_ms(&args.select)?;
    let mut answer = Answer::default();
    let windows = windows(scope, selection, width, &mut answer)?;
    let mut host_scale_sum = 0.0;
    for w in &windows {
        let key = &w.target.key;
        let increase = w.increase(Field::CpuTotalNs);
        let host_scale = rate::online_cpus(&w.columns, w.rows.last()).map(|online_cpus| CpuScale::Host { online_cpus });
        if let (Some(increase), Some(scale)) = (increase, host_scale) {
            host_scale_sum += increase.cpu_percent(scale);
        }
        let scale = match args.scale {
            Scale::Host => host_scale,
            Scale::Core => Some(CpuScale::Core),
        };
        let value = increase.zip(scale).map(|(increase, scale)| Value::Ratio(increase.cpu_percent(scale)));
        push(&mut answer, format!("cpu_usage:{key}"), value, "fewer than two samples in the window");
        if args.core {
            if w.columns.percpu().is_empty() {
                answer.notes.push(format!("{key}: no per-core figures (cgroup v2 does not report them)"));
            }
            for (cpu, column) in w.columns.percpu().iter().enumerate() {
                let value = rate::counter_increase(&w.columns.time, column, w.rows)
                    .map(|increase| Value::Ratio(increase.cpu_percent(CpuScale::Core)));
                push(&mut answer, format!("cpu_usage#{cpu}:{key}"), value, "fewer than two samples in the window");
            }
        }
    }
    if args.with_host {
        let busy = snmp_cpu_busy(scope, width)?;
        let value = rate::host_cpu_residual(busy, host_scale_sum).map(Value::Ratio);
        push(&mut answer, "cpu_usage:host".to_owned(), value, "no usable SNMP CPU figure");
    }
    Ok(answer)
}

/// The SNMP readings of the window, oldest first.
fn snmp_readings(scope: &Scope, width: u64) -> Result<Vec<Timed<HostReading>>, QueryError> {
    let from = scope.now.saturating_sub(i64::try_from(width).unwrap_or(i64::MAX).saturating_add(scope.interval_ms));
    let readings = scope.reader.snmp(&scope.host, from, scope.now)?;
    if readings.is_empty() {
        return Err(QueryError::NoSnmp(scope.host.clone()));
    }
    Ok(readings)
}

/// The host's busy percentage over the window, from its SNMP CPU ticks
/// ([`rate::snmp_cpu_busy_since`] the window's start).
fn snmp_cpu_busy(scope: &Scope, width: u64) -> Result<f64, QueryError> {
    let readings: Vec<(i64, SnmpCpuTicks)> = snmp_readings(scope, width)?
        .iter()
        .filter_map(|reading| Some((reading.time, SnmpCpuTicks::of(&reading.value)?)))
        .collect();
    let start = scope.now.saturating_sub(i64::try_from(width).unwrap_or(i64::MAX));
    rate::snmp_cpu_busy_since(&readings, start).ok_or_else(|| QueryError::NoSnmp(scope.host.clone()))
}

/// The host's memory in bytes: the daemon's MemTotal, else SNMP memTotalReal.
pub fn host_memory(reader: &Reader, host: &str, at: UnixMillis) -> Result<Option<u64>, QueryError> {
    let info = reader.host_info_at(host, at)?;
    if let Some(total) = info.and_then(|info| u64::try_from(info.value.mem_total?).ok()) {
        return Ok(Some(total));
    }
    let newest = reader.snmp(host, at.saturating_sub(3_600_000), at)?;
    Ok(newest.last().and_then(|r| r.value.memory.total_real).and_then(|kib| kib.checked_mul(1024)))
}

/// `kura mem`.
pub fn mem(scope: &Scope, selection: &Selection, args: &MemArgs) -> Result<Answer, QueryError> {
    if args.detail {
        return mem_detail(scope, selection);
    }
    let width = width_ms(&args.select)?;
    let mut answer = Answer::default();
    let windows = windows(scope, selection, width, &mut answer)?;
    let host_total = host_memory(&scope.reader, &scope.host, scope.now)?;
    let what = if args.rss { MemUse::Rss } else { MemUse::InUse };
    let mut used_sum: u64 = 0;
    for w in &windows {
        let reading = MemReading::latest(&w.columns, w.rows, what);
        used_sum = used_sum.saturating_add(reading.as_ref().map_or(0, |r| r.used));
        let (key, value) = if args.limit {
            (format!("mem_usage:{}", w.target.key), reading.and_then(|r| r.percent_of_limit(host_total)))
        } else {
            let percent = reading.zip(host_total).and_then(|(r, total)| r.percent_of_host(total));
            (format!("host_mem_usage:{}", w.target.key), percent)
        };
        push(&mut answer, key, value.map(Value::Ratio), "no memory figure in the window");
    }
    if args.with_host {
        let readings = snmp_readings(scope, width)?;
        let newest = readings.last().map(|r| &r.value);
        let kib = |v: Option<u64>| v.and_then(|k| k.checked_mul(1024));
        let total = kib(newest.and_then(|r| r.memory.total_real));
        let available = kib(newest.and_then(HostReading::mem_available_kib));
        let value = total
            .zip(available)
            .and_then(|(total, available)| rate::host_mem_residual_percent(total, available, used_sum))
            .map(Value::Ratio);
        push(&mut answer, "host_mem_usage:host".to_owned(), value, "no usable SNMP memory figure");
    }
    Ok(answer)
}

fn mem_detail(scope: &Scope, selection: &Selection) -> Result<Answer, QueryError> {
    let [target] = selection.targets.as_slice() else {
        return Err(QueryError::Usage(format!(
            "--detail needs exactly one container (-n NAME or -c ID); {} selected",
            selection.targets.len()
        )));
    };
    let Some(stats) = scope.reader.memory_stats_at(target.series.series, scope.now)? else {
        return Err(QueryError::Usage(format!(
            "{}: no memory statistics stored as of then (they are sampled with top, every top_interval)",
            target.key
        )));
    };
    if stats.value.is_empty() {
        return Err(QueryError::Usage(format!(
            "{}: the daemon reports no raw memory statistics (Podman's Docker API leaves memory_stats.stats out); kura mem without --detail still answers",
            target.key
        )));
    }
    let items = stats.value.into_iter().map(|(name, value)| Item::new(name, Value::Integer(value))).collect();
    Ok(Answer { items, ..Answer::default() })
}

/// How a counter is printed.
#[derive(Clone, Copy)]
enum Unit {
    /// Bytes per second (integer), or per window.
    Bytes,
    /// Packets per second (two decimals), or per window (integer).
    Packets,
}

fn counter_items(
    scope: &Scope,
    selection: &Selection,
    select: &SelectArgs,
    per_window: bool,
    counters: &[(&str, Field, Unit)],
) -> Result<Answer, QueryError> {
    let width = width_ms(select)?;
    let mut answer = Answer::default();
    for w in &windows(scope, selection, width, &mut answer)? {
        for (prefix, field, unit) in counters {
            let value = w.increase(*field).and_then(|increase| match (per_window, unit) {
                (true, _) => Value::rounded(increase.per_window(width)),
                (false, Unit::Bytes) => Value::rounded(increase.per_second()),
                (false, Unit::Packets) => Some(Value::Ratio(increase.per_second())),
            });
            push(&mut answer, format!("{prefix}:{}", w.target.key), value, w.why_none(*field));
        }
    }
    Ok(answer)
}

/// `kura disk`.
pub fn disk(scope: &Scope, selection: &Selection, args: &DiskArgs) -> Result<Answer, QueryError> {
    let both = !args.read && !args.write;
    let mut counters = Vec::new();
    if args.read || both {
        counters.push(("disk_read", Field::BlkReadBytes, Unit::Bytes));
    }
    if args.write || both {
        counters.push(("disk_write", Field::BlkWriteBytes, Unit::Bytes));
    }
    counter_items(scope, selection, &args.select, args.per_window, &counters)
}

/// `kura net`.
pub fn net(scope: &Scope, selection: &Selection, args: &NetArgs) -> Result<Answer, QueryError> {
    let all_kinds = !args.bytes && !args.packets;
    let all_ways = !args.rx && !args.tx;
    let mut counters = Vec::new();
    for (prefix, field, unit, kind, way) in [
        ("nw_rxkb", Field::NetRxBytes, Unit::Bytes, args.bytes, args.rx),
        ("nw_txkb", Field::NetTxBytes, Unit::Bytes, args.bytes, args.tx),
        ("nw_rxpck", Field::NetRxPackets, Unit::Packets, args.packets, args.rx),
        ("nw_txpck", Field::NetTxPackets, Unit::Packets, args.packets, args.tx),
    ] {
        if (kind || all_kinds) && (way || all_ways) {
            counters.push((prefix, field, unit));
        }
    }
    counter_items(scope, selection, &args.select, args.per_window, &counters)
}

/// `kura proc`: processes whose command line matches, in the process list
/// in force at the query's time (the newest `top` at or before it).
pub fn proc(scope: &Scope, selection: &Selection, args: &ProcArgs) -> Result<Answer, QueryError> {
    let pattern = match &args.args {
        Some(more) => format!("{} {more}", args.prog),
        None => args.prog.clone(),
    };
    let regex = regex::Regex::new(&pattern).map_err(|e| QueryError::Usage(format!("--prog/--args: {e}")))?;
    let mut answer = Answer::default();
    for target in &selection.targets {
        let top = scope.reader.processes_at(target.series.series, scope.now)?;
        let key = format!("{}:{}", args.prog, target.key);
        match top.and_then(|top| count_matching(&top.value, &regex)) {
            Some(n) => answer.items.push(Item::new(key, Value::Integer(n))),
            None if selection.explicit => answer.missing.push(format!("{key}: no process list stored (not running?)")),
            None => {}
        }
    }
    Ok(answer)
}

/// The tally of every container over the window `(now - width, now]`.
fn window_tallies(scope: &Scope, select: &SelectArgs) -> Result<BTreeMap<String, transition::Tally>, QueryError> {
    let width = i64::try_from(width_ms(select)?).unwrap_or(i64::MAX);
    let to_ns = scope.now.saturating_mul(NS_PER_MS);
    let from_ns = scope.now.saturating_sub(width).saturating_mul(NS_PER_MS).saturating_add(1);
    let transitions = transition::history(&scope.reader, &scope.host, from_ns, to_ns)?;
    Ok(transition::tally(&transitions))
}

/// `kura restarts`: restarts (by the policy or by `docker restart`) per
/// container in the window.
pub fn restarts(scope: &Scope, selection: &Selection, select: &SelectArgs) -> Result<Answer, QueryError> {
    tally_items(scope, selection, select, "restarts", transition::Tally::restarts)
}

/// `kura oom`: OOM kills per container in the window.
pub fn oom(scope: &Scope, selection: &Selection, select: &SelectArgs) -> Result<Answer, QueryError> {
    tally_items(scope, selection, select, "oom_kills", |tally| tally.oom_kills)
}

/// `<prefix>:<c>,N` for every target, N counted from its tally in the
/// window (0 without a transition).
fn tally_items(
    scope: &Scope,
    selection: &Selection,
    select: &SelectArgs,
    prefix: &str,
    count: impl Fn(&transition::Tally) -> u64,
) -> Result<Answer, QueryError> {
    let tallies = window_tallies(scope, select)?;
    let items = selection
        .targets
        .iter()
        .map(|t| {
            let n = tallies.get(&t.series.container.id).map_or(0, &count);
            Item::new(format!("{prefix}:{}", t.key), Value::Integer(n))
        })
        .collect();
    Ok(Answer { items, ..Answer::default() })
}

/// The value `kura health` prints for a health status: 0 healthy, 1
/// starting, 2 unhealthy.
pub fn health_value(status: &str) -> Option<u64> {
    match status {
        "healthy" => Some(0),
        "starting" => Some(1),
        "unhealthy" => Some(2),
        _ => None,
    }
}

/// `kura health`: the health check status of each running container that
/// has one, as inspect reported it in the sweep in force.
pub fn health(scope: &Scope, selection: &Selection) -> Result<Answer, QueryError> {
    require_up(scope)?;
    let mut answer = Answer::default();
    let samples = scope.sweep_samples(&selection.targets)?;
    for (target, sample) in selection.targets.iter().zip(samples) {
        let key = format!("health:{}", target.key);
        if sample.map(|s| s.state) != Some(State::Running) {
            if selection.explicit {
                answer.missing.push(format!("{key}: not running"));
            }
            continue;
        }
        let details = scope.reader.details_at(target.series.series, scope.now)?;
        match details.as_ref().and_then(|d| d.value.health.as_deref()) {
            Some(status) => match health_value(status) {
                Some(value) => answer.items.push(Item::new(key, Value::Integer(value))),
                None => answer.missing.push(format!("{key}: unknown health status {status:?}")),
            },
            None if selection.explicit => answer.missing.push(format!("{key}: no health check")),
            None => {}
        }
    }
    Ok(answer)
}

/// Counts the processes of a stored `top` whose command line matches;
/// `None` when it has no command column.
fn count_matching(top: &Top, regex: &regex::Regex) -> Option<u64> {
    top.command_column()?;
    u64::try_from(top.commands().filter(|cmd| regex.is_match(cmd)).count()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_are_counted_on_the_command_column() {
        let top: Top = serde_json::from_value(serde_json::json!({
            "Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
            "Processes": [
                ["root", "1", "0", "0", "10:00", "?", "00:00:00", "httpd -f -p 80"],
                ["root", "7", "1", "0", "10:00", "?", "00:00:00", "httpd -f -p 80"],
                ["root", "9", "1", "0", "10:00", "?", "00:00:00", "sleep 100"],
            ]
        }))
        .unwrap();
        let count = |pattern: &str| regex::Regex::new(pattern).ok().and_then(|r| count_matching(&top, &r));
        assert_eq!(count(".*"), Some(3));
        assert_eq!(count("httpd"), Some(2));
        assert_eq!(count("httpd -f"), Some(2));
        assert_eq!(count("nginx"), Some(0));
        assert_eq!(count_matching(&Top::default(), &regex::Regex::new(".*").unwrap()), None);
    }
}
