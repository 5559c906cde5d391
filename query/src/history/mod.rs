//! History for sizing: every selected container's figures per time bucket
//! over a period, read from the store container by container on every core,
//! and handed over in order (host, then container name). `kura export`
//! writes them as rows; `kura report` draws them.
//!
//! # Layout
//! - [`metric`]: the metrics and aggregates.
//! - [`summary`]: one metric's values over a bucket, reduced to aggregates.
//! - [`container`]: one container's samples cut into buckets.
//! - [`hosts`]: one row per host and bucket (availability, states, disk, SNMP).

pub mod container;
pub mod hosts;
pub mod metric;
pub mod summary;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use kura_store::payload::ContainerDetails;
use kura_store::sample::UnixMillis;
use kura_store::{Reader, SeriesInfo};

use crate::checks::host_memory;
use crate::error::QueryError;
use crate::rate;
use crate::scope::Matcher;
use crate::transition::Transition;
use container::{Buckets, Context, Figures};
use metric::Agg;

/// How far before the period samples are read, so that the period's first
/// interval has its older end.
const LOOKBACK_MS: i64 = 10 * 60 * 1000;

/// What to compute.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The period's start (inclusive).
    pub from: UnixMillis,
    /// The period's end (exclusive).
    pub to: UnixMillis,
    /// The buckets covering it.
    pub buckets: Buckets,
    /// The aggregates per metric, in column order.
    pub aggs: Vec<Agg>,
    /// Whether each container's whole period is summarised too (the report).
    pub period: bool,
}

/// A container's configured limits, as in force at the period's end.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
    /// CPU limit, cores (`--cpus`, or CFS quota / period); `None`: none.
    pub cpu_cores: Option<f64>,
    /// Memory limit, bytes (`--memory`); `None`: none.
    pub memory_bytes: Option<u64>,
}

impl Limits {
    /// The limits an inspect document sets (0 means none in every field).
    pub fn of(details: &ContainerDetails) -> Limits {
        let nano = details.nano_cpus.filter(|&n| n > 0).map(|n| rate::approx_f64(n.unsigned_abs()) / 1e9);
        let quota = details.cpu_quota.filter(|&q| q > 0).map(|q| {
            let period = details.cpu_period.filter(|&p| p > 0).unwrap_or(100_000);
            rate::approx_f64(q.unsigned_abs()) / rate::approx_f64(period.unsigned_abs())
        });
        Limits {
            cpu_cores: nano.or(quota),
            memory_bytes: details.memory_limit.filter(|&m| m > 0).map(i64::unsigned_abs),
        }
    }
}

/// One container's history.
#[derive(Clone, Debug)]
pub struct ContainerHistory {
    /// Its host.
    pub host: String,
    /// Its series (name, id, image, labels).
    pub series: SeriesInfo,
    /// Its buckets and period summaries.
    pub figures: Figures,
    /// Its limits at the period's end.
    pub limits: Limits,
    /// Its OOM kills in the period.
    pub oom_kills: usize,
    /// Its restarts in the period.
    pub restarts: usize,
}

/// The containers of `host` with samples in the period that `matcher`
/// selects, by name.
pub fn selected(reader: &Reader, host: &str, spec: &Spec, matcher: &Matcher) -> Result<Vec<SeriesInfo>, QueryError> {
    let mut series: Vec<SeriesInfo> = reader
        .series(host)?
        .into_iter()
        .filter(|s| s.first_seen < spec.to && s.last_seen.is_some_and(|t| t >= spec.from))
        .filter(|s| matcher.matches(s))
        .collect();
    series.sort_by(|a, b| a.container.name.cmp(&b.container.name).then(a.first_seen.cmp(&b.first_seen)));
    Ok(series)
}

/// Each container's restarts and OOM kills in the period, by full
/// container id: the times of its transitions (events and sweeps
/// together, [`crate::transition`]), counted as `kura restarts` and `kura
/// oom` count them.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    by_container: HashMap<String, (Vec<UnixMillis>, Vec<UnixMillis>)>,
}

impl Lifecycle {
    /// Derives the host's transitions of the period.
    pub fn read(reader: &Reader, host: &str, spec: &Spec) -> Result<Lifecycle, QueryError> {
        let ns = |ms: UnixMillis| ms.saturating_mul(1_000_000);
        let transitions = crate::transition::history(reader, host, ns(spec.from), ns(spec.to))?;
        Ok(Lifecycle::from_transitions(&transitions))
    }

    fn from_transitions(transitions: &[Transition]) -> Lifecycle {
        let mut by_container: HashMap<String, (Vec<UnixMillis>, Vec<UnixMillis>)> = HashMap::new();
        for transition in transitions {
            let time = transition.time_ns.div_euclid(1_000_000);
            let entry = by_container.entry(transition.id.clone()).or_default();
            if transition.is_restart() {
                entry.0.push(time);
            }
            if transition.oom_killed {
                entry.1.push(time);
            }
        }
        Lifecycle { by_container }
    }

    fn of(&self, id: &str) -> (&[UnixMillis], &[UnixMillis]) {
        self.by_container.get(id).map_or((&[], &[]), |(restarts, ooms)| (restarts.as_slice(), ooms.as_slice()))
    }
}

/// One container's history: its samples of the period (and a little
/// before), cut into the spec's buckets.
pub fn history(
    reader: &Reader,
    host: &str,
    series: &SeriesInfo,
    spec: &Spec,
    host_memory: Option<u64>,
    lifecycle: &Lifecycle,
) -> Result<ContainerHistory, QueryError> {
    let columns = reader.samples(series.series, spec.from.saturating_sub(LOOKBACK_MS), spec.to.saturating_sub(1))?;
    let (restarts, oom_kills) = lifecycle.of(&series.container.id);
    let context =
        Context { buckets: &spec.buckets, aggs: &spec.aggs, host_memory, restarts, oom_kills, period: spec.period };
    let figures = container::figures(&columns, &context);
    let limits = reader.details_at(series.series, spec.to)?.map(|d| Limits::of(&d.value)).unwrap_or_default();
    Ok(ContainerHistory {
        host: host.to_owned(),
        series: series.clone(),
        figures,
        limits,
        oom_kills: oom_kills.len(),
        restarts: restarts.len(),
    })
}

/// The containers a history covers, and what is read once per host.
#[derive(Debug)]
pub struct Plan {
    work: Vec<(String, SeriesInfo)>,
    memory: BTreeMap<String, Option<u64>>,
    lifecycles: BTreeMap<String, Lifecycle>,
}

impl Plan {
    /// The selected containers of every host in `hosts`, in order (host,
    /// then name).
    pub fn new(reader: &Reader, hosts: &[String], spec: &Spec, matcher: &Matcher) -> Result<Plan, QueryError> {
        let mut plan = Plan { work: Vec::new(), memory: BTreeMap::new(), lifecycles: BTreeMap::new() };
        for host in hosts {
            plan.memory.insert(host.clone(), host_memory(reader, host, spec.to)?);
            plan.lifecycles.insert(host.clone(), Lifecycle::read(reader, host, spec)?);
            plan.work.extend(selected(reader, host, spec, matcher)?.into_iter().map(|series| (host.clone(), series)));
        }
        Ok(plan)
    }

    /// How many containers.
    pub fn len(&self) -> usize {
        self.work.len()
    }

    /// Whether there is no container.
    pub fn is_empty(&self) -> bool {
        self.work.is_empty()
    }

    /// Computes every container's history on up to `threads` cores and
    /// hands them to `each` in order. `each` may stop the run by failing.
    pub fn run(
        &self,
        reader: &Reader,
        spec: &Spec,
        threads: usize,
        mut each: impl FnMut(ContainerHistory) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        let none = Lifecycle::default();
        let work_on = |(host, series): &(String, SeriesInfo)| {
            let memory = self.memory.get(host).copied().flatten();
            history(reader, host, series, spec, memory, self.lifecycles.get(host).unwrap_or(&none))
        };
        in_order(&self.work, threads, work_on, &mut each)
    }
}

/// Runs `work` over `items` on `threads` threads (at least one) and hands
/// the results to `each` in the items' order. Stops at the first error,
/// of `work` or of `each`.
fn in_order<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> Result<R, QueryError> + Sync,
    each: &mut impl FnMut(R) -> Result<(), QueryError>,
) -> Result<(), QueryError> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (send, receive) = mpsc::channel();
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            let send = send.clone();
            let (next, stop, work) = (&next, &stop, &work);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    if send.send((i, work(item))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(send);
        let mut pending = BTreeMap::new();
        let mut wanted = 0;
        for (i, result) in receive {
            pending.insert(i, result);
            while let Some(result) = pending.remove(&wanted) {
                wanted += 1;
                if let Err(e) = result.and_then(&mut *each) {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_order_whatever_the_threads() {
        let items: Vec<u64> = (0..200).collect();
        let mut seen = Vec::new();
        let result = in_order(&items, 4, |&n| Ok(n * 2), &mut |r| {
            seen.push(r);
            Ok(())
        });
        assert!(result.is_ok());
        assert_eq!(seen, items.iter().map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_error_stops_the_run() {
        let items: Vec<u64> = (0..50).collect();
        let mut seen = 0;
        let result =
            in_order(&items, 2, |&n| if n == 7 { Err(QueryError::Usage("seven".into())) } else { Ok(n) }, &mut |_| {
                seen += 1;
                Ok(())
            });
        assert!(matches!(result, Err(QueryError::Usage(_))));
        assert_eq!(seen, 7);
    }

    #[test]
    fn limits_read_like_docker_sets_them() {
        let cpus = ContainerDetails {
            nano_cpus: Some(500_000_000),
            memory_limit: Some(64 << 20),
            ..ContainerDetails::default()
        };
        assert_eq!(Limits::of(&cpus), Limits { cpu_cores: Some(0.5), memory_bytes: Some(64 << 20) });
        let quota = ContainerDetails { cpu_quota: Some(150_000), cpu_period: Some(0), ..ContainerDetails::default() };
        assert_eq!(Limits::of(&quota).cpu_cores, Some(1.5));
        let none = ContainerDetails { nano_cpus: Some(0), memory_limit: Some(0), ..ContainerDetails::default() };
        assert_eq!(Limits::of(&none), Limits::default());
    }
}
