//! One container's history: its samples cut into time buckets, each
//! [`Metric`] of every interval summarised per bucket (and over the whole
//! period, for the sizing report).

#![deny(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

use kura_store::sample::{Field, SampleColumns, State, UnixMillis};

use super::metric::{Agg, Metric};
use super::summary::Summary;
use crate::rate::{self, approx_f64, CpuScale, IntervalRun, MemUse, RUN_INTERVALS};

/// Equal time buckets: bucket `i` is `[origin + i × step, origin + (i + 1) × step)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buckets {
    /// The first bucket's start.
    pub origin: UnixMillis,
    /// Each bucket's width, ms (at least 1).
    pub step_ms: i64,
    /// How many buckets.
    pub count: usize,
}

impl Buckets {
    /// The buckets of `step_ms` that cover `[from, to)`, aligned so that
    /// `origin + offset_ms` is a multiple of the step (the output zone's
    /// offset: daily buckets start at local midnight).
    pub fn covering(from: UnixMillis, to: UnixMillis, step_ms: i64, offset_ms: i64) -> Buckets {
        let step = step_ms.max(1);
        let origin = (from + offset_ms).div_euclid(step) * step - offset_ms;
        let count =
            usize::try_from((to - origin).max(0).div_euclid(step) + i64::from((to - origin) % step != 0)).unwrap_or(0);
        Buckets { origin, step_ms: step, count }
    }

    /// The bucket holding `time`, if any.
    #[inline]
    pub fn index_of(&self, time: UnixMillis) -> Option<usize> {
        let index = usize::try_from(time.checked_sub(self.origin)?.div_euclid(self.step_ms)).ok()?;
        (index < self.count).then_some(index)
    }

    /// Bucket `index`'s start.
    pub fn start(&self, index: usize) -> UnixMillis {
        self.origin + i64::try_from(index).unwrap_or(i64::MAX).saturating_mul(self.step_ms)
    }

    /// Bucket `index`'s end (exclusive).
    pub fn end(&self, index: usize) -> UnixMillis {
        self.start(index).saturating_add(self.step_ms)
    }
}

/// One bucket of one container.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketFigures {
    /// The bucket's index in its [`Buckets`].
    pub index: usize,
    /// The container's state at the bucket's end (its newest sample before it).
    pub state: Option<State>,
    /// `values[m × aggs + a]`: metric `Metric::ALL[m]` by aggregate `a`;
    /// `None` where the bucket has no interval with that figure.
    pub values: Vec<Option<f64>>,
    /// Restarts in the bucket.
    pub restarts: u32,
    /// OOM kills in the bucket.
    pub oom_kills: u32,
}

/// What the history of one container needs besides its samples.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The buckets.
    pub buckets: &'a Buckets,
    /// The aggregates, in column order.
    pub aggs: &'a [Agg],
    /// The host's memory, bytes (for percentages of the host, and the limit
    /// of a container without one).
    pub host_memory: Option<u64>,
    /// Times of the container's restarts.
    pub restarts: &'a [UnixMillis],
    /// Times of its OOM kills.
    pub oom_kills: &'a [UnixMillis],
    /// Whether to summarise the whole period too ([`Figures::period`]).
    pub period: bool,
}

/// A container's buckets, from the bucket of its first sample in range to
/// that of its last (buckets between without samples are there, empty), and
/// when asked the whole period's summary of each metric.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// The buckets, in time order.
    pub buckets: Vec<BucketFigures>,
    /// Over every interval in range, one per [`Metric::ALL`]; empty unless
    /// [`Context::period`].
    pub period: Vec<PeriodSummary>,
    /// How many intervals the range holds.
    pub intervals: usize,
    /// The time from the first to the last sample in range, ms.
    pub span_ms: i64,
}

/// One metric over a whole period.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PeriodSummary {
    /// The time-weighted average.
    pub avg: Option<f64>,
    /// The 95th percentile of the intervals' values.
    pub p95: Option<f64>,
    /// The largest interval's value.
    pub max: Option<f64>,
}

/// Cuts `columns` (one container's samples, in time order) into `context`'s
/// buckets. An interval belongs to the bucket its newer sample falls in.
pub fn figures(columns: &SampleColumns, context: &Context<'_>) -> Figures {
    let buckets = context.buckets;
    let in_range: Vec<usize> = columns.time.iter().filter_map(|&t| buckets.index_of(t)).collect();
    let (Some(&first), Some(&last)) = (in_range.first(), in_range.last()) else {
        return Figures::default();
    };
    let keep_values = context.aggs.iter().any(|agg| agg.needs_values());
    let mut period: Vec<Summary> =
        if context.period { Metric::ALL.iter().map(|_| Summary::new(true)).collect() } else { Vec::new() };
    let mut current: Vec<Summary> = Metric::ALL.iter().map(|_| Summary::new(keep_values)).collect();
    let mut out: Vec<BucketFigures> = (first..=last)
        .map(|index| BucketFigures {
            index,
            state: state_before(columns, buckets.end(index)),
            values: Vec::new(),
            restarts: count_in(context.restarts, buckets, index),
            oom_kills: count_in(context.oom_kills, buckets, index),
        })
        .collect();
    let close = |index: usize, current: &mut Vec<Summary>, out: &mut Vec<BucketFigures>| {
        if let Some(bucket) = out.get_mut(index - first) {
            bucket.values = current
                .iter_mut()
                .flat_map(|s| context.aggs.iter().map(|&agg| s.get(agg)).collect::<Vec<_>>())
                .collect();
        }
        current.iter_mut().for_each(Summary::clear);
    };
    let mut open = first;
    let mut intervals = 0;
    let mut runs = [[None; RUN_INTERVALS]; Metric::ALL.len()];
    let mut elapsed = [0.0; RUN_INTERVALS];
    let mut bucket = [usize::MAX; RUN_INTERVALS];
    rate::interval_runs(columns, |run| {
        fill(run, columns, context.host_memory, &mut runs);
        let n = run.len();
        for i in 0..n {
            let row = run.first_row() + i + 1;
            let (end, start) = (columns.time[row], columns.time[row - 1]);
            elapsed[i] = approx_f64(end.abs_diff(start));
            bucket[i] = buckets.index_of(end).unwrap_or(usize::MAX);
        }
        // Runs of intervals in one bucket, metric by metric.
        let mut first = 0;
        while first < n {
            let index = bucket[first];
            let end = (first..n).find(|&i| bucket[i] != index).unwrap_or(n);
            if index != usize::MAX {
                if index != open {
                    close(open, &mut current, &mut out);
                    open = index;
                }
                intervals += end - first;
                let span = first..end;
                for (column, summary) in runs.iter().zip(current.iter_mut()) {
                    summary.push_all(&column[span.clone()], &elapsed[span.clone()]);
                }
                for (column, summary) in runs.iter().zip(period.iter_mut()) {
                    summary.push_all(&column[span.clone()], &elapsed[span.clone()]);
                }
            }
            first = end;
        }
    });
    close(open, &mut current, &mut out);
    let width = Metric::ALL.len() * context.aggs.len();
    for bucket in &mut out {
        bucket.values.resize(width, None);
    }
    let period = period
        .iter_mut()
        .map(|s| PeriodSummary { avg: s.get(Agg::Avg), p95: s.get(Agg::Percentile(95)), max: s.get(Agg::Max) })
        .collect();
    let times = columns.time.iter().filter(|&&t| buckets.index_of(t).is_some());
    let span_ms = times.clone().next_back().zip(times.clone().next()).map_or(0, |(last, first)| last - first);
    Figures { buckets: out, period, intervals, span_ms }
}

/// The state of the newest sample before `end`.
fn state_before(columns: &SampleColumns, end: UnixMillis) -> Option<State> {
    let after = columns.time.partition_point(|&t| t < end);
    after.checked_sub(1).and_then(|row| columns.state.get(row).copied())
}

/// How many of `times` fall in bucket `index`.
fn count_in(times: &[UnixMillis], buckets: &Buckets, index: usize) -> u32 {
    let n = times.iter().filter(|&&t| buckets.index_of(t) == Some(index)).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Every metric of every interval of `run`, into `out[metric][interval]`.
fn fill(
    run: &IntervalRun<'_>,
    columns: &SampleColumns,
    host_memory: Option<u64>,
    out: &mut [[Option<f64>; RUN_INTERVALS]; Metric::ALL.len()],
) {
    // In `Metric::ALL` order (a test checks it).
    let [cpu_pct, cpu_cores, mem_bytes, mem_limit, mem_pct_limit, mem_pct_host, disk_read, disk_write, rx_bytes, tx_bytes, rx_packets, tx_packets, processes] =
        out.each_mut();
    run.cpu_percent_of_host(into(cpu_pct));
    let mut cores = into(cpu_cores);
    run.cpu_percent(CpuScale::Core, |percent| cores(percent.map(|p| p / 100.0)));
    for (column, field) in [
        (disk_read, Field::BlkReadBytes),
        (disk_write, Field::BlkWriteBytes),
        (rx_bytes, Field::NetRxBytes),
        (tx_bytes, Field::NetTxBytes),
        (rx_packets, Field::NetRxPackets),
        (tx_packets, Field::NetTxPackets),
    ] {
        run.per_second(field, into(column));
    }
    let (mut used, mut limit, mut of_limit, mut of_host) =
        (into(mem_bytes), into(mem_limit), into(mem_pct_limit), into(mem_pct_host));
    run.memory(MemUse::InUse, |reading| {
        used(reading.map(|r| approx_f64(r.used)));
        limit(reading.and_then(|r| rate::container_limit(r.limit, host_memory)).map(approx_f64));
        of_limit(reading.and_then(|r| r.percent_of_limit(host_memory)));
        of_host(reading.zip(host_memory).and_then(|(r, total)| r.percent_of_host(total)));
    });
    let pids = columns.column(Field::Pids);
    let mut processes = into(processes);
    for i in 0..run.len() {
        processes(pids.get(run.first_row() + i + 1).map(approx_f64));
    }
}

/// A writer of consecutive cells of `column`, from the first.
fn into(column: &mut [Option<f64>; RUN_INTERVALS]) -> impl FnMut(Option<f64>) + '_ {
    let mut cells = column.iter_mut();
    move |value| {
        if let Some(cell) = cells.next() {
            *cell = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::sample::Sample;

    fn sample(time: UnixMillis, cpu_ns: u64, mem: u64) -> Sample {
        let mut s = Sample::state_only(time, State::Running);
        s.fields[Field::CpuTotalNs.index()] = Some(cpu_ns);
        s.fields[Field::OnlineCpus.index()] = Some(2);
        s.fields[Field::MemUsage.index()] = Some(mem);
        s.fields[Field::MemInactiveFile.index()] = Some(0);
        s.fields[Field::MemLimit.index()] = Some(1 << 30);
        s
    }

    fn columns(samples: &[Sample]) -> SampleColumns {
        let mut columns = SampleColumns::default();
        for s in samples {
            columns.push(s);
        }
        columns
    }

    #[test]
    fn fill_writes_each_metric_into_its_own_row() {
        // `fill` destructures its rows in `Metric::ALL` order.
        assert_eq!(
            Metric::ALL.map(Metric::name),
            [
                "cpu_pct",
                "cpu_cores",
                "mem_bytes",
                "mem_limit_bytes",
                "mem_pct_limit",
                "mem_pct_host",
                "disk_read_bps",
                "disk_write_bps",
                "net_rx_bps",
                "net_tx_bps",
                "net_rx_pps",
                "net_tx_pps",
                "processes"
            ]
        );
    }

    #[test]
    fn buckets_align_to_the_step_in_the_output_zone() {
        let b = Buckets::covering(1_000, 25_000, 10_000, 0);
        assert_eq!((b.origin, b.count), (0, 3));
        assert_eq!(b.index_of(9_999), Some(0));
        assert_eq!(b.index_of(10_000), Some(1));
        assert_eq!(b.index_of(30_000), None);
        assert_eq!(b.index_of(-1), None);
        // +09:00: a daily bucket starts at 15:00 UTC.
        let day = 86_400_000;
        let tokyo = Buckets::covering(day, 2 * day, day, 9 * 3_600_000);
        assert_eq!(tokyo.origin, day - 9 * 3_600_000);
        assert_eq!(tokyo.count, 2);
    }

    #[test]
    fn a_rate_bucket_averages_to_its_increase_over_its_time() {
        // Half a core for 20 s, then a full core for 10 s; 2 CPUs.
        let s = [
            sample(0, 0, 100),
            sample(10_000, 5_000_000_000, 200),
            sample(20_000, 10_000_000_000, 300),
            sample(30_000, 20_000_000_000, 400),
        ];
        let buckets = Buckets::covering(0, 40_000, 40_000, 0);
        let aggs = [Agg::Avg, Agg::Max, Agg::Last];
        let context = Context {
            buckets: &buckets,
            aggs: &aggs,
            host_memory: Some(1 << 31),
            restarts: &[],
            oom_kills: &[25_000],
            period: true,
        };
        let figures = figures(&columns(&s), &context);
        assert_eq!(figures.buckets.len(), 1);
        let b = &figures.buckets[0];
        let value = |metric: Metric, agg: usize| b.values[metric.index() * aggs.len() + agg];
        let cores = value(Metric::CpuCores, 0).unwrap();
        assert!((cores - 20.0 / 30.0).abs() < 1e-9, "{cores}");
        assert_eq!(value(Metric::CpuCores, 1), Some(1.0));
        let pct = value(Metric::CpuPct, 0).unwrap();
        assert!((pct - 100.0 / 3.0).abs() < 1e-9, "{pct}");
        assert_eq!(value(Metric::MemBytes, 2), Some(400.0));
        assert_eq!(value(Metric::MemLimitBytes, 2), Some(f64::from(1u32 << 30)));
        assert_eq!(value(Metric::DiskReadBps, 0), None, "absent counters are empty cells");
        assert_eq!((b.state, b.restarts, b.oom_kills), (Some(State::Running), 0, 1));
        assert_eq!((figures.intervals, figures.span_ms), (3, 30_000));
        let cores = figures.period[Metric::CpuCores.index()];
        assert_eq!((cores.max, cores.p95), (Some(1.0), Some(1.0)));
    }

    #[test]
    fn a_bucket_without_samples_is_empty_and_keeps_the_state() {
        let mut stopped = Sample::state_only(35_000, State::Exited);
        stopped.fields = [None; kura_store::sample::FIELD_COUNT];
        let s = [sample(0, 0, 1), sample(5_000, 1_000_000, 1), stopped];
        let buckets = Buckets::covering(0, 40_000, 10_000, 0);
        let aggs = [Agg::Avg];
        let context =
            Context { buckets: &buckets, aggs: &aggs, host_memory: None, restarts: &[], oom_kills: &[], period: false };
        let figures = figures(&columns(&s), &context);
        let indexes: Vec<usize> = figures.buckets.iter().map(|b| b.index).collect();
        assert_eq!(indexes, [0, 1, 2, 3]);
        assert!(figures.buckets[0].values[Metric::CpuCores.index()].is_some());
        assert!(figures.buckets[1].values.iter().all(Option::is_none));
        assert_eq!(figures.buckets[1].state, Some(State::Running));
        assert_eq!(figures.buckets[3].state, Some(State::Exited));
    }
}
