//! Rates and percentages derived from stored counters: pure functions.
//!
//! # Counters and resets
//! A counter's increase is computed as Prometheus' `increase()`/`rate()` do
//! with resets: walking consecutive readings, a value lower than its
//! predecessor means the counter was reset (the container restarted) and
//! counted again from zero, so the increase across that step is the new value
//! itself. An increase is therefore never negative and never a wrapped-around
//! huge number. (Unlike Prometheus, kura does not extrapolate to the window's
//! edges: the figure covers exactly the time between the readings used.)
//!
//! # Gaps
//! An absent reading (`None`: the daemon did not report it, or the container
//! was not running) is a gap. Over a window ([`counter_increase`]) gaps are
//! skipped: the next present reading pairs with the previous present one, and
//! the elapsed time runs from the first present reading to the last. Over a
//! single interval ([`Interval`]) a gap at either end leaves that figure
//! without a value, so a series shows gaps as gaps, never as zeros.
//!
//! # Numbers
//! No figure is NaN or infinite: an elapsed time of zero, a single reading or
//! a zero denominator gives `None`. A `u64` becomes an `f64` only through
//! [`approx_f64`] and an `f64` an integer only through [`round_to_u64`]; the
//! cast lints below keep every other conversion lossless or checked.

#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap
)]

use std::num::{NonZeroU32, NonZeroU64};

use kura_store::payload::HostReading;
use kura_store::sample::{Column, Field, SampleColumns, UnixMillis};

use crate::window::Rows;

/// `u64` -> `f64`, to the nearest representable value.
///
/// Exact up to 2^53 (about 9.0e15: 104 days of CPU time in ns, 9 PB in
/// bytes); above that the relative error is at most 2^-53, far below the two
/// decimals any figure is printed with. Rates convert increases (deltas), not
/// cumulative totals, so real values stay in the exact range.
///
/// Values below 2^63 go through `i64`: on baseline x86-64 that is one
/// instruction, where `u64 as f64` takes about ten.
#[allow(clippy::cast_precision_loss)]
#[inline]
pub fn approx_f64(x: u64) -> f64 {
    match i64::try_from(x) {
        Ok(signed) => signed as f64,
        Err(_) => x as f64,
    }
}

/// Rounds `x` to the nearest `u64`, ties to even (IEEE 754's default);
/// `None` for NaN, infinities, values below -0.5 and values of 2^64 or more.
///
/// On the rate benchmark's hot path, so written without `f64::round` (a libm
/// call on baseline x86-64) and, below 2^52, without a float-to-integer
/// cast: adding 2^52 leaves `x` rounded to an integer in the mantissa of a
/// float whose exponent is that of 2^52 (spacing 1), so subtracting the bit
/// patterns gives the integer.
#[inline]
pub fn round_to_u64(x: f64) -> Option<u64> {
    /// 2^52: from here on every `f64` is an integer.
    const TWO_POW_52: f64 = 4_503_599_627_370_496.0;
    /// 2^64, exactly representable as an `f64`.
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    if (0.0..TWO_POW_52).contains(&x) {
        // x + 2^52 may round up to 2^53, whose pattern is again 2^52 above.
        Some((x + TWO_POW_52).to_bits() - TWO_POW_52.to_bits())
    } else if (-0.5..0.0).contains(&x) {
        Some(0)
    } else if (TWO_POW_52..TWO_POW_64).contains(&x) {
        // An integer in [2^52, 2^64): the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(x as u64)
    } else {
        None
    }
}

/// `part / whole × 100`; `None` when `whole` is zero.
#[inline]
pub fn percent_of(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| approx_f64(part) / approx_f64(whole) * 100.0)
}

/// A positive time between two readings, with the factor that turns a count
/// over it into a count per second, computed once and shared by every figure
/// of the same interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Elapsed {
    ms: NonZeroU64,
    per_second: f64,
}

impl Elapsed {
    /// `ms` milliseconds; `None` for zero.
    #[inline]
    pub fn from_ms(ms: u64) -> Option<Elapsed> {
        let ms = NonZeroU64::new(ms)?;
        Some(Elapsed { ms, per_second: 1000.0 / approx_f64(ms.get()) })
    }

    /// The time from `earlier` to `later`; `None` unless `later > earlier`.
    #[inline]
    pub fn between(earlier: UnixMillis, later: UnixMillis) -> Option<Elapsed> {
        Elapsed::from_ms(u64::try_from(later.checked_sub(earlier)?).ok()?)
    }

    /// The elapsed time, ms.
    pub fn ms(self) -> u64 {
        self.ms.get()
    }

    /// `count` over this time, per second.
    #[inline]
    pub fn per_second(self, count: u64) -> f64 {
        approx_f64(count) * self.per_second
    }

    /// `count` over this time, per period of `period_ms` (e.g. per window).
    pub fn per_period(self, count: u64, period_ms: u64) -> f64 {
        approx_f64(count) * (approx_f64(period_ms) / approx_f64(self.ms.get()))
    }

    /// `cpu_ns` of CPU time used over this time, as a percentage on `scale`.
    ///
    /// Ported from the docker CLI's `calculateCPUPercentUnix`
    /// (cli/command/container/stats_helpers.go):
    /// `cpuDelta / systemDelta × onlineCPUs × 100`, where `systemDelta` is the
    /// host's CPU time (all CPUs) between two readings of `system_cpu_usage`.
    /// kura pairs two stored one-shot stats documents, which carry no
    /// `precpu_stats`, and stores no `system_cpu_usage`; it uses wall time ×
    /// online CPUs as the host's capacity instead: `Δcpu_ns / (Δt_ns × cpus)
    /// × 100` on the host scale, `Δcpu_ns / Δt_ns × 100` on the core scale
    /// (docker stats' figure, as `systemDelta ≈ Δt × cpus`).
    #[inline]
    pub fn cpu_percent(self, cpu_ns: u64, scale: CpuScale) -> f64 {
        // ns / (ms × 10^6) × 100 = ns × (1000 / ms) × 10^-7.
        let of_one_core = approx_f64(cpu_ns) * self.per_second * 1e-7;
        match scale {
            CpuScale::Core => of_one_core,
            CpuScale::Host { online_cpus } => of_one_core / f64::from(online_cpus.get()),
        }
    }
}

/// What 100 % of CPU means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuScale {
    /// The host's whole capacity: 100 = every online CPU busy (kura's default).
    Host {
        /// CPUs online on the host (see [`online_cpus`]).
        online_cpus: NonZeroU32,
    },
    /// One CPU: 100 = one core busy (`--scale core`, docker stats' scale);
    /// also the scale of per-core figures.
    Core,
}

/// The CPUs online at `row`: [`Field::OnlineCpus`], or where that is absent
/// or zero the number of per-CPU counters present (the docker CLI's fallback
/// to `len(percpu_usage)`).
#[inline]
pub fn online_cpus(columns: &SampleColumns, row: usize) -> Option<NonZeroU32> {
    let reported =
        columns.column(Field::OnlineCpus).get(row).and_then(|n| u32::try_from(n).ok()).and_then(NonZeroU32::new);
    reported.or_else(|| {
        let present = columns.percpu().iter().filter(|cpu| cpu.is_present(row)).count();
        NonZeroU32::new(u32::try_from(present).ok()?)
    })
}

/// The increase of a counter from one reading to the next: `cur - prev`, or
/// `cur` when the counter went down (a reset: it counted again from zero).
#[inline]
pub fn step_increase(prev: u64, cur: u64) -> u64 {
    cur.checked_sub(prev).unwrap_or(cur)
}

/// A counter's increase over a stretch of readings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Increase {
    /// The increase, counting from zero after each reset.
    pub delta: u64,
    /// From the first reading used to the last.
    pub elapsed: Elapsed,
    /// How many times the counter went down.
    pub resets: u32,
}

impl Increase {
    /// The increase per second.
    pub fn per_second(&self) -> f64 {
        self.elapsed.per_second(self.delta)
    }

    /// The increase per window of `width_ms` (the 2015 scripts' "per
    /// interval" unit): the rate scaled to the window, so a container that
    /// started inside the window is not under-reported.
    pub fn per_window(&self, width_ms: u64) -> f64 {
        self.elapsed.per_period(self.delta, width_ms)
    }

    /// For a CPU-time counter (ns): the CPU use as a percentage on `scale`.
    pub fn cpu_percent(&self, scale: CpuScale) -> f64 {
        self.elapsed.cpu_percent(self.delta, scale)
    }
}

/// The increase of one counter column over `rows`, skipping gaps (see the
/// module docs); `None` with fewer than two present readings, when no time
/// passed between the first and the last, or if the sum overflows `u64`.
pub fn counter_increase(times: &[UnixMillis], values: &Column, rows: Rows) -> Option<Increase> {
    let mut readings = rows.range().filter_map(|row| Some((*times.get(row)?, values.get(row)?)));
    let (first_time, mut prev) = readings.next()?;
    let mut last_time = first_time;
    let mut delta = 0u64;
    let mut resets = 0u32;
    for (time, value) in readings {
        if value < prev {
            resets = resets.saturating_add(1);
        }
        delta = delta.checked_add(step_increase(prev, value))?;
        prev = value;
        last_time = time;
    }
    Some(Increase { delta, elapsed: Elapsed::between(first_time, last_time)?, resets })
}

/// The interval between rows `row - 1` and `row` of one container's columns:
/// the per-interval form of every figure (for series: exports, charts).
/// Unlike a window, an interval does not skip gaps: a figure whose reading is
/// absent at either end has no value.
#[derive(Clone, Copy, Debug)]
pub struct Interval<'a> {
    columns: &'a SampleColumns,
    /// The older row; the newer is `prev + 1`.
    prev: usize,
    end: UnixMillis,
    elapsed: Elapsed,
}

/// Every interval between consecutive rows of `columns` whose times increase
/// (rows with equal times give no interval).
pub fn intervals(columns: &SampleColumns) -> impl Iterator<Item = Interval<'_>> {
    columns.time.windows(2).zip(0..).filter_map(move |(pair, prev)| match *pair {
        [earlier, later] => Some(Interval { columns, prev, end: later, elapsed: Elapsed::between(earlier, later)? }),
        _ => None,
    })
}

impl Interval<'_> {
    /// The interval's newer row.
    pub fn row(&self) -> usize {
        self.prev + 1
    }

    /// The time of the newer row.
    pub fn end(&self) -> UnixMillis {
        self.end
    }

    /// The time between the two rows.
    pub fn elapsed(&self) -> Elapsed {
        self.elapsed
    }

    /// The increase of counter `field` over the interval; `None` for a gauge
    /// or a gap.
    #[inline]
    pub fn increase(&self, field: Field) -> Option<u64> {
        if field.is_counter() {
            self.step(self.columns.column(field))
        } else {
            None
        }
    }

    /// The increase of counter `field` per second.
    #[inline]
    pub fn per_second(&self, field: Field) -> Option<f64> {
        Some(self.elapsed.per_second(self.increase(field)?))
    }

    /// The container's CPU use as a percentage on `scale`.
    #[inline]
    pub fn cpu_percent(&self, scale: CpuScale) -> Option<f64> {
        Some(self.elapsed.cpu_percent(self.increase(Field::CpuTotalNs)?, scale))
    }

    /// The container's use of CPU `cpu` (0-based), percent of that core.
    #[inline]
    pub fn core_percent(&self, cpu: usize) -> Option<f64> {
        let ns = self.step(self.columns.percpu().get(cpu)?)?;
        Some(self.elapsed.cpu_percent(ns, CpuScale::Core))
    }

    /// The CPUs online at the newer row (see [`online_cpus`]).
    #[inline]
    pub fn online_cpus(&self) -> Option<NonZeroU32> {
        online_cpus(self.columns, self.row())
    }

    /// The container's memory at the newer row.
    #[inline]
    pub fn memory(&self, what: MemUse) -> Option<MemReading> {
        MemReading::at(self.columns, self.row(), what)
    }

    #[inline]
    fn step(&self, column: &Column) -> Option<u64> {
        Some(step_increase(column.get(self.prev)?, column.get(self.prev + 1)?))
    }
}

/// The most intervals in one [`IntervalRun`]: the buffer of their elapsed
/// times lives on the stack.
pub const RUN_INTERVALS: usize = 256;

/// Consecutive intervals of one container's columns, figure by figure: the
/// column-wise form of [`Interval`] for long series (exports, charts, the
/// rate benchmark), whose loops run over plain slices wherever the run's
/// values are all present. A run covers rows `first_row()..=first_row() +
/// len()`, every row's time after the one before. Each figure method calls
/// `each` once per interval, in order, with what the same method of the
/// interval's [`Interval`] gives.
#[derive(Clone, Copy, Debug)]
pub struct IntervalRun<'a> {
    columns: &'a SampleColumns,
    first: usize,
    /// One per interval.
    elapsed: &'a [Elapsed],
}

/// The intervals of `columns` (those of [`intervals`], in the same order) in
/// runs of at most [`RUN_INTERVALS`]: calls `each` with each run.
pub fn interval_runs(columns: &SampleColumns, mut each: impl FnMut(&IntervalRun<'_>)) {
    const UNUSED: Elapsed = Elapsed { ms: NonZeroU64::MIN, per_second: 1000.0 };
    let mut buffer = [UNUSED; RUN_INTERVALS];
    let mut first = 0;
    while let Some(times) = columns.time.get(first..).filter(|times| times.len() >= 2) {
        let mut len = 0;
        let mut broken = false;
        for (slot, pair) in buffer.iter_mut().zip(times.windows(2)) {
            match Elapsed::between(pair[0], pair[1]) {
                Some(elapsed) => {
                    *slot = elapsed;
                    len += 1;
                }
                None => {
                    broken = true;
                    break;
                }
            }
        }
        if let Some(elapsed) = buffer.get(..len).filter(|e| !e.is_empty()) {
            each(&IntervalRun { columns, first, elapsed });
        }
        // A pair whose time does not increase is no interval: skip it.
        first += len + usize::from(broken);
    }
}

impl IntervalRun<'_> {
    /// How many intervals the run holds (at least one).
    pub fn len(&self) -> usize {
        self.elapsed.len()
    }

    /// Whether the run holds no interval (never: runs are not empty).
    pub fn is_empty(&self) -> bool {
        self.elapsed.is_empty()
    }

    /// The older row of the first interval; interval `i` ends at row
    /// `first_row() + i + 1`.
    pub fn first_row(&self) -> usize {
        self.first
    }

    /// Calls `each` with each interval's index, increase of `column`
    /// (`None` for a gap) and elapsed time.
    #[inline]
    fn steps(&self, column: &Column, mut each: impl FnMut(usize, Option<u64>, Elapsed)) {
        let n = self.len();
        let rows = self.first..self.first + n + 1;
        match column.values().get(rows.clone()) {
            Some(values) if column.all_present_in(rows) => {
                // Three slices of one length: no bounds checks in the loop.
                let (older, newer, elapsed) = (&values[..n], &values[1..], &self.elapsed[..n]);
                for i in 0..n {
                    each(i, Some(step_increase(older[i], newer[i])), elapsed[i]);
                }
            }
            _ => {
                for (i, (row, &elapsed)) in (self.first..).zip(self.elapsed).enumerate() {
                    let increase = column.get(row).zip(column.get(row + 1)).map(|(p, c)| step_increase(p, c));
                    each(i, increase, elapsed);
                }
            }
        }
    }

    /// [`Interval::per_second`] of every interval.
    #[inline]
    pub fn per_second(&self, field: Field, mut each: impl FnMut(Option<f64>)) {
        if field.is_counter() {
            self.steps(self.columns.column(field), |_, increase, elapsed| {
                each(increase.map(|count| elapsed.per_second(count)));
            });
        } else {
            self.elapsed.iter().for_each(|_| each(None));
        }
    }

    /// [`Interval::cpu_percent`] of every interval on `scale`.
    #[inline]
    pub fn cpu_percent(&self, scale: CpuScale, mut each: impl FnMut(Option<f64>)) {
        self.steps(self.columns.column(Field::CpuTotalNs), |_, increase, elapsed| {
            each(increase.map(|ns| elapsed.cpu_percent(ns, scale)));
        });
    }

    /// [`Interval::cpu_percent`] of every interval on the host scale of its
    /// newer row's [`Interval::online_cpus`] (kura's default figure).
    #[inline]
    pub fn cpu_percent_of_host(&self, mut each: impl FnMut(Option<f64>)) {
        let mut online = [None; RUN_INTERVALS];
        let rows = self.first + 1..self.first + self.len() + 1;
        let reported = self.columns.column(Field::OnlineCpus);
        let reported = reported.values().get(rows.clone()).filter(|_| reported.all_present_in(rows.clone()));
        for ((slot, row), i) in online.iter_mut().zip(rows).zip(0..) {
            let cpus = reported.and_then(|values| values.get(i)).and_then(|&n| u32::try_from(n).ok());
            // Absent or zero: as `online_cpus`, from the per-CPU counters.
            *slot = cpus.and_then(NonZeroU32::new).or_else(|| online_cpus(self.columns, row));
        }
        self.steps(self.columns.column(Field::CpuTotalNs), |i, increase, elapsed| {
            let scale = online.get(i).copied().flatten().map(|online_cpus| CpuScale::Host { online_cpus });
            each(increase.zip(scale).map(|(ns, scale)| elapsed.cpu_percent(ns, scale)));
        });
    }

    /// [`Interval::core_percent`] of CPU `cpu` for every interval.
    #[inline]
    pub fn core_percent(&self, cpu: usize, mut each: impl FnMut(Option<f64>)) {
        match self.columns.percpu().get(cpu) {
            Some(column) => self.steps(column, |_, increase, elapsed| {
                each(increase.map(|ns| elapsed.cpu_percent(ns, CpuScale::Core)));
            }),
            None => self.elapsed.iter().for_each(|_| each(None)),
        }
    }

    /// [`Interval::memory`] of every interval (the reading at its newer row).
    #[inline]
    pub fn memory(&self, what: MemUse, mut each: impl FnMut(Option<MemReading>)) {
        let rows = self.first + 1..self.first + self.len() + 1;
        let column = |field: Field| {
            let column = self.columns.column(field);
            column.values().get(rows.clone()).filter(|_| column.all_present_in(rows.clone()))
        };
        match (column(what.field()), column(Field::MemInactiveFile), column(Field::MemLimit)) {
            (Some(readings), Some(inactive), Some(limits)) => {
                for (row, ((&reading, &inactive), &limit)) in
                    rows.clone().zip(readings.iter().zip(inactive).zip(limits))
                {
                    each(Some(MemReading::from_values(row, what, reading, Some(inactive), Some(limit))));
                }
            }
            _ => rows.for_each(|row| each(MemReading::at(self.columns, row, what))),
        }
    }
}

/// Which reading counts as a container's memory use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemUse {
    /// Usage minus inactive file cache ([`mem_in_use`]), as docker stats shows.
    InUse,
    /// Anonymous memory ([`Field::MemRss`]): the 2015 scripts' definition (`--rss`).
    Rss,
}

impl MemUse {
    /// The field this reading starts from: usage, or the anonymous memory.
    pub fn field(self) -> Field {
        match self {
            MemUse::InUse => Field::MemUsage,
            MemUse::Rss => Field::MemRss,
        }
    }
}

/// Memory "in use": `usage - inactive_file` when the inactive file cache is
/// known and smaller than usage, else `usage`. Ported from the docker CLI's
/// `calculateMemUsageUnixNoCache` (cli/command/container/stats_helpers.go),
/// which reads `total_inactive_file` on cgroup v1 and `inactive_file` on v2
/// (both stored as [`Field::MemInactiveFile`]).
#[inline]
pub fn mem_in_use(usage: u64, inactive_file: Option<u64>) -> u64 {
    match inactive_file {
        Some(inactive) if inactive < usage => usage - inactive,
        _ => usage,
    }
}

/// The limit a container's memory percentage is taken against: the stats
/// document's limit, or the host's memory where the container has no limit
/// (a missing or zero limit, or one above the host's memory). `None` when
/// neither is known.
#[inline]
pub fn container_limit(stats_limit: Option<u64>, host_total: Option<u64>) -> Option<u64> {
    let limit = stats_limit.filter(|&l| l > 0);
    let host = host_total.filter(|&h| h > 0);
    match (limit, host) {
        (Some(limit), Some(host)) => Some(limit.min(host)),
        (limit, host) => limit.or(host),
    }
}

/// A container's memory use at one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemReading {
    /// The row read.
    pub row: usize,
    /// Bytes in use, by the chosen [`MemUse`].
    pub used: u64,
    /// The stats document's limit, bytes.
    pub limit: Option<u64>,
}

impl MemReading {
    /// The reading at `row`; `None` where the needed value is absent.
    #[inline]
    pub fn at(columns: &SampleColumns, row: usize, what: MemUse) -> Option<MemReading> {
        let value = |field: Field| columns.column(field).get(row);
        let reading = value(what.field())?;
        Some(MemReading::from_values(row, what, reading, value(Field::MemInactiveFile), value(Field::MemLimit)))
    }

    /// The reading at `row` from its values: `reading` is `what`'s
    /// [`MemUse::field`].
    #[inline]
    fn from_values(row: usize, what: MemUse, reading: u64, inactive: Option<u64>, limit: Option<u64>) -> MemReading {
        let used = match what {
            MemUse::InUse => mem_in_use(reading, inactive),
            MemUse::Rss => reading,
        };
        MemReading { row, used, limit }
    }

    /// The newest reading within `rows` (memory is a gauge: the window's
    /// newest value is the figure).
    pub fn latest(columns: &SampleColumns, rows: Rows, what: MemUse) -> Option<MemReading> {
        rows.range().rev().find_map(|row| MemReading::at(columns, row, what))
    }

    /// Use as a percentage of the host's memory (`host_mem_usage`).
    #[inline]
    pub fn percent_of_host(&self, host_total: u64) -> Option<f64> {
        percent_of(self.used, host_total)
    }

    /// Use as a percentage of the container's limit (`mem_usage`, see
    /// [`container_limit`]).
    #[inline]
    pub fn percent_of_limit(&self, host_total: Option<u64>) -> Option<f64> {
        percent_of(self.used, container_limit(self.limit, host_total)?)
    }
}

/// The host's own CPU use (`cpu_usage:host`): the host's busy percentage
/// minus the sum of its containers' (both on the host scale), floored at 0;
/// `None` if either is not finite.
pub fn host_cpu_residual(host_busy_percent: f64, containers_percent: f64) -> Option<f64> {
    let residual = host_busy_percent - containers_percent;
    residual.is_finite().then(|| residual.max(0.0))
}

/// The host's memory used by everything but its containers
/// (`host_mem_usage:host`): `((total - available) - containers) / total ×
/// 100`, floored at 0; all in bytes (UCD-SNMP-MIB reports KiB: multiply by
/// 1024 first). `None` when `total` is zero.
pub fn host_mem_residual_percent(total: u64, available: u64, containers_used: u64) -> Option<f64> {
    let others = total.saturating_sub(available).saturating_sub(containers_used);
    percent_of(others, total)
}

/// One reading of a host's raw CPU counters from UCD-SNMP-MIB (`ssCpuRaw*`,
/// .1.3.6.1.4.1.2021.11.50-): Counter32 ticks summed over all CPUs, and the
/// agent's `sysUpTime` (TimeTicks, 1/100 s).
///
/// `ssCpuRawKernel` is left out on purpose: net-snmp reports it as 0 on Linux
/// and as a part of `ssCpuRawSystem` elsewhere (its BSD backends), so adding
/// it would count kernel time twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnmpCpuTicks {
    /// `sysUpTime.0`.
    pub uptime: u32,
    /// `ssCpuRawUser`.
    pub user: u32,
    /// `ssCpuRawNice`.
    pub nice: u32,
    /// `ssCpuRawSystem`.
    pub system: u32,
    /// `ssCpuRawIdle`.
    pub idle: u32,
    /// `ssCpuRawWait` (I/O wait: counted as not busy).
    pub wait: u32,
    /// `ssCpuRawInterrupt`.
    pub interrupt: u32,
    /// `ssCpuRawSoftIRQ`.
    pub softirq: u32,
}

impl SnmpCpuTicks {
    /// A reading's CPU counters as Counter32 ticks (the agent's wrap);
    /// `None` when the uptime or a needed counter is missing.
    pub fn of(reading: &HostReading) -> Option<SnmpCpuTicks> {
        let counter = |value: Option<u64>| value.and_then(|v| u32::try_from(v & u64::from(u32::MAX)).ok());
        let cpu = &reading.cpu;
        Some(SnmpCpuTicks {
            uptime: counter(reading.sys_uptime)?,
            user: counter(cpu.user)?,
            nice: counter(cpu.nice)?,
            system: counter(cpu.system)?,
            idle: counter(cpu.idle)?,
            wait: counter(cpu.wait).unwrap_or(0),
            interrupt: counter(cpu.interrupt).unwrap_or(0),
            softirq: counter(cpu.soft_irq).unwrap_or(0),
        })
    }

    /// Whether the agent has read the CPU counters yet: net-snmp answers 0
    /// for every one of them until its first poll, a few seconds after it
    /// starts. Such a reading is no reading: the next real one would
    /// "increase" by everything since boot.
    pub fn polled(&self) -> bool {
        [self.user, self.nice, self.system, self.idle].iter().any(|&ticks| ticks > 0)
    }
}

/// Where the agent's current run starts among timed readings, oldest
/// first: the index of the first reading after the last restart between
/// two of them. A restart is `sysUpTime` going backwards, or advancing
/// more than 5 s less than the wall clock did (a reading's time is its
/// sweep's, up to the SNMP timeout before the answer): an agent restarted
/// between two readings far enough apart counts its uptime past the old
/// one again. Figures are measured within one run, as
/// a container that started inside the window is measured from its first
/// sample.
pub fn snmp_run_start(readings: &[(UnixMillis, SnmpCpuTicks)]) -> usize {
    let restarted = |(t0, a): &(UnixMillis, SnmpCpuTicks), (t1, b): &(UnixMillis, SnmpCpuTicks)| {
        if b.uptime < a.uptime {
            return true;
        }
        let uptime_ms = u64::from(b.uptime - a.uptime).saturating_mul(10);
        let wall_ms = u64::try_from(t1.saturating_sub(*t0)).unwrap_or(0);
        uptime_ms.saturating_add(5_000) < wall_ms
    };
    readings.windows(2).rposition(|pair| restarted(&pair[0], &pair[1])).map_or(0, |before| before + 1)
}

/// The host's CPU busy percentage over timed readings (oldest first),
/// from the one nearest `start` to the newest: within the agent's current
/// run ([`snmp_run_start`]: a restart moves the start after it), readings
/// the agent had not polled yet left out. `None` with fewer than two such
/// readings. `kura cpu --with-host` and the export's host rows both read it.
pub fn snmp_cpu_busy_since(readings: &[(UnixMillis, SnmpCpuTicks)], start: UnixMillis) -> Option<f64> {
    let polled: Vec<(UnixMillis, SnmpCpuTicks)> = readings.iter().copied().filter(|(_, t)| t.polled()).collect();
    let run = &polled[snmp_run_start(&polled)..];
    let (oldest, _) = run.iter().enumerate().min_by_key(|(_, (t, _))| t.abs_diff(start))?;
    let (_, newest) = run.last()?;
    if oldest + 1 >= run.len() {
        return None;
    }
    snmp_cpu_busy_percent(&run[oldest].1, newest)
}

/// The host's CPU busy percentage between two readings: (user + nice +
/// system + interrupt + softirq) / (those + idle + wait) × 100 over the
/// counters' deltas, each taken modulo 2^32 (Counter32 wraps). `None` when
/// the agent restarted (`sysUpTime` went backwards: its counters started
/// again, so this interval has no figure) or no tick passed.
pub fn snmp_cpu_busy_percent(prev: &SnmpCpuTicks, cur: &SnmpCpuTicks) -> Option<f64> {
    if cur.uptime < prev.uptime {
        return None;
    }
    let delta = |counter: fn(&SnmpCpuTicks) -> u32| u64::from(counter(cur).wrapping_sub(counter(prev)));
    let busy =
        delta(|t| t.user) + delta(|t| t.nice) + delta(|t| t.system) + delta(|t| t.interrupt) + delta(|t| t.softirq);
    let total = busy + delta(|t| t.idle) + delta(|t| t.wait);
    percent_of(busy, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::sample::{Sample, State};
    use proptest::prelude::*;

    const SECOND: u64 = 1000;

    fn all(len: usize) -> Rows {
        Rows::new(0, len - 1).unwrap()
    }

    fn increase(times: &[UnixMillis], values: &[Option<u64>]) -> Option<Increase> {
        counter_increase(times, &values.iter().copied().collect(), all(times.len()))
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn a_plain_counter_increase() {
        let inc = increase(&[0, 10_000, 20_000], &[Some(100), Some(150), Some(400)]).unwrap();
        assert_eq!((inc.delta, inc.elapsed.ms(), inc.resets), (300, 20_000, 0));
        assert!(close(inc.per_second(), 15.0));
        assert!(close(inc.per_window(300_000), 4_500.0));
    }

    #[test]
    fn an_snmp_agent_run_starts_after_its_last_restart() {
        let ticks = |uptime: u32| SnmpCpuTicks { uptime, idle: 1, ..SnmpCpuTicks::default() };
        // 10 s apart, uptime in hundredths of a second.
        let steady = [(0, ticks(100)), (10_000, ticks(1_100)), (20_000, ticks(2_100))];
        assert_eq!(snmp_run_start(&steady), 0);
        let backwards = [(0, ticks(5_000)), (10_000, ticks(6_000)), (20_000, ticks(300)), (30_000, ticks(1_300))];
        assert_eq!(snmp_run_start(&backwards), 2);
        // Restarted 5 s after the first reading, read again 60 s later: its
        // uptime (55 s) is past the old one's (1 s), yet a restart.
        let past = [(0, ticks(100)), (60_000, ticks(5_500)), (70_000, ticks(6_500))];
        assert_eq!(snmp_run_start(&past), 1);
        assert_eq!(snmp_run_start(&[]), 0);
        assert!(!SnmpCpuTicks { uptime: 200, ..SnmpCpuTicks::default() }.polled());
        assert!(ticks(200).polled());
    }

    #[test]
    fn a_reset_counts_from_zero() {
        // 100 -> 150 (+50), restart, 30 (+30), 70 (+40).
        let values = [Some(100), Some(150), Some(30), Some(70)];
        let inc = increase(&[0, 1, 2, 3], &values).unwrap();
        assert_eq!((inc.delta, inc.resets), (120, 1));
    }

    #[test]
    fn gaps_are_skipped_and_pair_the_neighbours() {
        let times = [0, 1_000, 2_000, 3_000, 4_000];
        let values = [None, Some(10), None, Some(25), None];
        let inc = increase(&times, &values).unwrap();
        assert_eq!((inc.delta, inc.elapsed.ms()), (15, 2_000));
    }

    #[test]
    fn one_reading_or_no_elapsed_time_has_no_increase() {
        assert_eq!(increase(&[0], &[Some(5)]), None);
        assert_eq!(increase(&[0, 1], &[Some(5), None]), None);
        assert_eq!(increase(&[7, 7], &[Some(5), Some(9)]), None);
        assert_eq!(Elapsed::between(5, 4), None);
        assert_eq!(Elapsed::from_ms(0), None);
    }

    #[test]
    fn an_overflowing_sum_has_no_increase() {
        let values = [Some(u64::MAX), Some(u64::MAX - 1), Some(u64::MAX - 1)];
        // Reset to MAX-1 counts MAX-1: fine. A second one overflows.
        assert!(increase(&[0, 1, 2], &values).is_some());
        let values = [Some(u64::MAX), Some(u64::MAX - 1), Some(0), Some(u64::MAX)];
        assert_eq!(increase(&[0, 1, 2, 3], &values), None);
    }

    #[test]
    fn cpu_percent_on_both_scales() {
        // 1.5 s of CPU over 10 s on 2 CPUs: 15 % of one core, 7.5 % of the host.
        let elapsed = Elapsed::from_ms(10 * SECOND).unwrap();
        let two = CpuScale::Host { online_cpus: NonZeroU32::new(2).unwrap() };
        assert!(close(elapsed.cpu_percent(1_500_000_000, CpuScale::Core), 15.0));
        assert!(close(elapsed.cpu_percent(1_500_000_000, two), 7.5));
        // Both cores fully busy: 100 % of the host, 200 % on docker's scale.
        assert!(close(elapsed.cpu_percent(20_000_000_000, two), 100.0));
        assert!(close(elapsed.cpu_percent(20_000_000_000, CpuScale::Core), 200.0));
    }

    fn running(time: UnixMillis, cpu: u64, percpu: Vec<u64>) -> Sample {
        let mut sample = Sample::state_only(time, State::Running);
        sample.set(Field::CpuTotalNs, Some(cpu));
        sample.set(Field::MemUsage, Some(1_000));
        sample.set(Field::MemInactiveFile, Some(400));
        sample.set(Field::MemRss, Some(300));
        sample.set(Field::MemLimit, Some(2_000));
        sample.percpu_ns = percpu;
        sample
    }

    #[test]
    fn intervals_give_every_figure_and_show_gaps_as_gaps() {
        let mut columns = SampleColumns::default();
        columns.push(&running(0, 0, vec![0, 0]));
        columns.push(&running(1_000, 500_000_000, vec![100_000_000, 400_000_000]));
        columns.push(&Sample::state_only(2_000, State::Exited));
        columns.push(&running(2_000, 10, vec![5, 5]));
        columns.push(&running(3_000, 200_000_010, vec![5, 200_000_005]));
        let all: Vec<_> = intervals(&columns).collect();
        // Rows 2 and 3 share a time: no interval between them.
        assert_eq!(all.iter().map(Interval::row).collect::<Vec<_>>(), vec![1, 2, 4]);
        let first = all[0];
        assert_eq!((first.end(), first.elapsed().ms()), (1_000, 1_000));
        assert_eq!(first.online_cpus(), NonZeroU32::new(2));
        let host = CpuScale::Host { online_cpus: first.online_cpus().unwrap() };
        assert!(close(first.cpu_percent(host).unwrap(), 25.0));
        assert!(close(first.cpu_percent(CpuScale::Core).unwrap(), 50.0));
        assert!(close(first.core_percent(0).unwrap(), 10.0));
        assert!(close(first.core_percent(1).unwrap(), 40.0));
        assert_eq!(first.core_percent(2), None);
        assert!(close(first.per_second(Field::CpuTotalNs).unwrap(), 5e8));
        assert_eq!(first.increase(Field::MemUsage), None, "a gauge has no increase");
        assert_eq!(first.memory(MemUse::InUse).unwrap().used, 600);
        assert_eq!(first.memory(MemUse::Rss).unwrap().used, 300);
        // Into the stopped row: a gap.
        assert_eq!(all[1].cpu_percent(CpuScale::Core), None);
        assert_eq!(all[1].memory(MemUse::InUse), None);
        // After the restart (same time as the stop row), from row 3 to 4.
        assert!(close(all[2].cpu_percent(CpuScale::Core).unwrap(), 20.0));
    }

    /// Every figure of every interval, the run way (`Some`) or the
    /// interval way: the rows, then one list per figure.
    #[derive(Debug, Default, PartialEq)]
    struct AllFigures {
        rows: Vec<usize>,
        ratios: [Vec<Option<f64>>; 6],
        memory: [Vec<Option<MemReading>>; 2],
    }

    fn by_runs(columns: &SampleColumns) -> (AllFigures, Vec<usize>) {
        let mut all = AllFigures::default();
        let mut lengths = Vec::new();
        interval_runs(columns, |run| {
            lengths.push(run.len());
            all.rows.extend((run.first_row() + 1..).take(run.len()));
            let [host, core, cpu0, cpu2, rx, gauge] = &mut all.ratios;
            run.cpu_percent_of_host(|v| host.push(v));
            run.cpu_percent(CpuScale::Core, |v| core.push(v));
            run.core_percent(0, |v| cpu0.push(v));
            run.core_percent(2, |v| cpu2.push(v));
            run.per_second(Field::NetRxBytes, |v| rx.push(v));
            run.per_second(Field::MemUsage, |v| gauge.push(v));
            run.memory(MemUse::InUse, |m| all.memory[0].push(m));
            run.memory(MemUse::Rss, |m| all.memory[1].push(m));
        });
        (all, lengths)
    }

    fn by_intervals(columns: &SampleColumns) -> AllFigures {
        let mut all = AllFigures::default();
        for interval in intervals(columns) {
            all.rows.push(interval.row());
            let host =
                interval.online_cpus().and_then(|online_cpus| interval.cpu_percent(CpuScale::Host { online_cpus }));
            let figures = [
                host,
                interval.cpu_percent(CpuScale::Core),
                interval.core_percent(0),
                interval.core_percent(2),
                interval.per_second(Field::NetRxBytes),
                interval.per_second(Field::MemUsage),
            ];
            for (list, figure) in all.ratios.iter_mut().zip(figures) {
                list.push(figure);
            }
            all.memory[0].push(interval.memory(MemUse::InUse));
            all.memory[1].push(interval.memory(MemUse::Rss));
        }
        all
    }

    /// Columns with gaps, resets, repeated times, ragged per-CPU counters
    /// and missing or zero CPU counts; long enough for several runs.
    fn any_columns() -> impl Strategy<Value = SampleColumns> {
        // How often a row or a value is there: some series have no gap, so
        // that runs over plain slices are tested too.
        let present = prop_oneof![Just(0.999_99), Just(0.999), Just(0.97)];
        let rows = present.prop_flat_map(|present| {
            let values = proptest::collection::vec(proptest::option::weighted(present, 0u64..1 << 40), 7);
            let row = (
                prop_oneof![1 => Just(0i64), 150 => 1i64..20_000],
                proptest::option::weighted(present, values),
                proptest::collection::vec(0u64..1 << 35, 2..4),
            );
            proptest::collection::vec(row, 1..700)
        });
        rows.prop_map(|rows| {
            let mut columns = SampleColumns::default();
            let mut time = 1_700_000_000_000;
            for (step, values, percpu) in rows {
                time += step;
                let mut sample = Sample::state_only(time, State::Exited);
                if let Some(values) = values {
                    sample.state = State::Running;
                    let fields = [
                        Field::CpuTotalNs,
                        Field::MemUsage,
                        Field::MemInactiveFile,
                        Field::MemLimit,
                        Field::MemRss,
                        Field::NetRxBytes,
                        Field::OnlineCpus,
                    ];
                    for (field, value) in fields.into_iter().zip(values) {
                        sample.set(field, value);
                    }
                    sample.set(Field::OnlineCpus, sample.get(Field::OnlineCpus).map(|n| n % 3));
                    sample.percpu_ns = percpu;
                }
                columns.push(&sample);
            }
            columns
        })
    }

    #[test]
    fn runs_hold_at_most_their_limit_and_skip_repeated_times() {
        let mut columns = SampleColumns::default();
        for i in 0..600 {
            // Row 300 repeats row 299's time: no interval between them.
            columns.push(&running(if i < 300 { i } else { i - 1 } * 1_000, i.unsigned_abs(), vec![]));
        }
        let (runs, lengths) = by_runs(&columns);
        assert_eq!(lengths, vec![256, 43, 256, 43]);
        assert_eq!(runs.rows.len(), 598);
        assert!(!runs.rows.contains(&300));
        assert_eq!(runs, by_intervals(&columns));
    }

    #[test]
    fn online_cpus_falls_back_to_the_per_cpu_counters() {
        let mut sample = running(0, 0, vec![1, 2, 3]);
        let mut columns = SampleColumns::default();
        columns.push(&sample);
        sample.set(Field::OnlineCpus, Some(4));
        columns.push(&sample);
        sample.set(Field::OnlineCpus, Some(0));
        sample.percpu_ns.clear();
        columns.push(&sample);
        assert_eq!(online_cpus(&columns, 0), NonZeroU32::new(3));
        assert_eq!(online_cpus(&columns, 1), NonZeroU32::new(4));
        assert_eq!(online_cpus(&columns, 2), None);
    }

    #[test]
    fn memory_in_use_follows_the_docker_cli() {
        assert_eq!(mem_in_use(1_000, Some(400)), 600);
        assert_eq!(mem_in_use(1_000, Some(1_000)), 1_000);
        assert_eq!(mem_in_use(1_000, Some(5_000)), 1_000);
        assert_eq!(mem_in_use(1_000, None), 1_000);
    }

    #[test]
    fn memory_percentages_against_host_and_limit() {
        let mut columns = SampleColumns::default();
        columns.push(&running(0, 0, vec![]));
        columns.push(&Sample::state_only(1, State::Running));
        let rows = all(2);
        let reading = MemReading::latest(&columns, rows, MemUse::InUse).unwrap();
        assert_eq!(reading.row, 0, "the newest row with a value");
        assert!(close(reading.percent_of_host(6_000).unwrap(), 10.0));
        assert!(close(reading.percent_of_limit(Some(6_000)).unwrap(), 30.0));
        // A limit above the host's memory means unlimited.
        assert!(close(reading.percent_of_limit(Some(1_200)).unwrap(), 50.0));
        assert_eq!(reading.percent_of_host(0), None);
        assert_eq!(container_limit(Some(0), None), None);
        assert_eq!(container_limit(None, Some(7)), Some(7));
        assert_eq!(container_limit(Some(9), None), Some(9));
    }

    #[test]
    fn host_residuals_are_floored_at_zero() {
        assert!(close(host_cpu_residual(65.0, 40.0).unwrap(), 25.0));
        assert_eq!(host_cpu_residual(10.0, 40.0), Some(0.0));
        assert_eq!(host_cpu_residual(f64::NAN, 1.0), None);
        assert_eq!(host_cpu_residual(1.0, f64::INFINITY), None);
        // 8 GiB total, 2 GiB available, containers 1 GiB: 5/8 used by others.
        let gib = 1u64 << 30;
        assert!(close(host_mem_residual_percent(8 * gib, 2 * gib, gib).unwrap(), 62.5));
        assert_eq!(host_mem_residual_percent(8, 2, 100), Some(0.0));
        assert_eq!(host_mem_residual_percent(0, 0, 0), None);
    }

    fn ticks(uptime: u32, busy: u32, idle: u32) -> SnmpCpuTicks {
        SnmpCpuTicks { uptime, user: busy, idle, ..SnmpCpuTicks::default() }
    }

    #[test]
    fn snmp_cpu_busy_percent_over_all_counters() {
        let prev = SnmpCpuTicks {
            uptime: 100,
            user: 10,
            nice: 10,
            system: 10,
            idle: 10,
            wait: 10,
            interrupt: 10,
            softirq: 10,
        };
        let cur = SnmpCpuTicks {
            uptime: 200,
            user: 20,
            nice: 15,
            system: 25,
            idle: 100,
            wait: 20,
            interrupt: 15,
            softirq: 20,
        };
        // busy 10+5+15+5+10 = 45, idle 90 + wait 10: 45 / 145.
        let percent = snmp_cpu_busy_percent(&prev, &cur).unwrap();
        assert!(close(percent, 45.0 / 145.0 * 100.0));
    }

    #[test]
    fn snmp_counter32_wraps_are_modular() {
        let prev = ticks(100, u32::MAX - 9, u32::MAX - 29);
        let cur = ticks(200, 10, 50);
        // busy 20, idle 80.
        assert!(close(snmp_cpu_busy_percent(&prev, &cur).unwrap(), 20.0));
    }

    #[test]
    fn snmp_agent_restart_or_no_ticks_gives_no_figure() {
        let prev = ticks(5_000, 900, 9_000);
        assert_eq!(snmp_cpu_busy_percent(&prev, &ticks(20, 1, 10)), None);
        assert_eq!(snmp_cpu_busy_percent(&prev, &prev), None);
    }

    #[test]
    fn snmp_busy_since_a_start_skips_unpolled_readings_and_an_agent_restart() {
        // 10 s apart; the agent restarts before the fourth reading, whose
        // counters are still 0 (not polled), and counts 20 % busy after it.
        let readings = [
            (0, ticks(100, 0, 100)),
            (10_000, ticks(1_100, 500, 600)),
            (20_000, ticks(2_100, 1_000, 1_100)),
            (30_000, SnmpCpuTicks { uptime: 300, ..SnmpCpuTicks::default() }),
            (40_000, ticks(1_300, 100, 400)),
            (50_000, ticks(2_300, 300, 1_200)),
        ];
        // Before the restart: 50 % from the reading nearest the start.
        assert!(close(snmp_cpu_busy_since(&readings[..3], 1_000).unwrap(), 50.0));
        // Across it: from the first polled reading of the new run only.
        assert!(close(snmp_cpu_busy_since(&readings, 0).unwrap(), 20.0));
        // A single reading of the run, or none, is no figure.
        assert_eq!(snmp_cpu_busy_since(&readings[..5], 0), None);
        assert_eq!(snmp_cpu_busy_since(&[], 0), None);
    }

    #[test]
    fn rounding_to_integers() {
        assert_eq!(round_to_u64(2.5), Some(2));
        assert_eq!(round_to_u64(3.5), Some(4));
        assert_eq!(round_to_u64(2.500_000_000_000_000_4), Some(3));
        assert_eq!(round_to_u64(4_503_599_627_370_495.5), Some(4_503_599_627_370_496));
        assert_eq!(round_to_u64(-0.4), Some(0));
        assert_eq!(round_to_u64(-0.6), None);
        assert_eq!(round_to_u64(f64::NAN), None);
        assert_eq!(round_to_u64(f64::INFINITY), None);
        assert_eq!(round_to_u64(18_446_744_073_709_551_616.0), None);
        assert_eq!(round_to_u64(18_446_744_073_709_549_568.0), Some(u64::MAX - 2047));
        assert_eq!(round_to_u64(0.499_999_999_999_999_94), Some(0));
        assert_eq!(round_to_u64(4_503_599_627_370_497.0), Some(4_503_599_627_370_497));
        assert_eq!(round_to_u64(-0.5), Some(0));
        assert_eq!(approx_f64(1 << 53), 9_007_199_254_740_992.0);
        assert_eq!(approx_f64(u64::MAX), 18_446_744_073_709_551_616.0);
    }

    /// Ascending times with at least one ms between rows.
    fn times_strategy(len: usize) -> impl Strategy<Value = Vec<UnixMillis>> {
        proptest::collection::vec(1i64..120_000, len).prop_map(|steps| {
            steps
                .into_iter()
                .scan(1_700_000_000_000i64, |t, step| {
                    *t += step;
                    Some(*t)
                })
                .collect()
        })
    }

    /// A counter series with occasional resets and gaps.
    fn series_strategy() -> impl Strategy<Value = (Vec<UnixMillis>, Vec<Option<u64>>)> {
        (2usize..60).prop_flat_map(|len| {
            let values = proptest::collection::vec(
                prop_oneof![
                    8 => (0u64..1 << 40).prop_map(Some),
                    1 => Just(None),
                ],
                len,
            );
            (times_strategy(len), values)
        })
    }

    proptest! {
        #[test]
        fn runs_give_what_intervals_give(columns in any_columns()) {
            prop_assert_eq!(by_runs(&columns).0, by_intervals(&columns));
        }

        #[test]
        fn rounding_matches_f64_round_ties_even(x in -1.0f64..2e19) {
            let expected = x.round_ties_even();
            if (0.0..18_446_744_073_709_551_616.0).contains(&expected) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let expected = expected as u64;
                prop_assert_eq!(round_to_u64(x), Some(expected));
            } else {
                prop_assert_eq!(round_to_u64(x), None);
            }
        }

        #[test]
        fn rates_are_never_negative_nor_absurd((times, values) in series_strategy()) {
            if let Some(inc) = increase(&times, &values) {
                // Never more than the sum of every present reading.
                let bound: u64 = values.iter().flatten().sum();
                prop_assert!(inc.delta <= bound);
                let rate = inc.per_second();
                prop_assert!(rate.is_finite() && rate >= 0.0);
                let cpu = inc.cpu_percent(CpuScale::Core);
                prop_assert!(cpu.is_finite() && cpu >= 0.0);
            }
        }

        #[test]
        fn a_reset_adds_up_the_pieces(
            pieces in proptest::collection::vec(
                (0u64..1 << 40, proptest::collection::vec(0u64..1 << 30, 1..10)),
                1..6,
            ),
        ) {
            // Each piece restarts from `start` (below the previous piece's
            // last value, so it is a reset) and climbs by `steps`.
            let mut values: Vec<Option<u64>> = Vec::new();
            let mut expected = 0u64;
            let mut resets = 0u32;
            for (start, steps) in pieces {
                let start = match values.last() {
                    Some(&Some(last)) => start % last.max(1),
                    _ => start,
                };
                if matches!(values.last(), Some(&Some(last)) if start < last) {
                    resets += 1;
                    expected += start;
                }
                values.push(Some(start));
                let mut value = start;
                for step in steps {
                    value += step;
                    expected += step;
                    values.push(Some(value));
                }
            }
            let times: Vec<UnixMillis> = (0..).step_by(10_000).take(values.len()).collect();
            let inc = increase(&times, &values).unwrap();
            prop_assert_eq!(inc.delta, expected);
            prop_assert_eq!(inc.resets, resets);
        }

        #[test]
        fn rate_times_elapsed_is_the_increase((times, values) in series_strategy()) {
            if let Some(inc) = increase(&times, &values) {
                let seconds = approx_f64(inc.elapsed.ms()) / 1000.0;
                prop_assert!(close(inc.per_second() * seconds, approx_f64(inc.delta)));
                let window = inc.per_window(inc.elapsed.ms());
                prop_assert!(close(window, approx_f64(inc.delta)));
            }
        }

        #[test]
        fn split_windows_add_up(
            (times, values) in series_strategy(),
            split in any::<proptest::sample::Index>(),
        ) {
            let last = times.len() - 1;
            let b = split.index(times.len());
            // Splitting at a gap loses the pair that straddles it: split at a reading.
            prop_assume!(values[b].is_some() && b > 0 && b < last);
            let column: Column = values.iter().copied().collect();
            let whole = counter_increase(&times, &column, Rows::new(0, last).unwrap());
            let left = counter_increase(&times, &column, Rows::new(0, b).unwrap());
            let right = counter_increase(&times, &column, Rows::new(b, last).unwrap());
            match (whole, left, right) {
                (whole, Some(left), Some(right)) => {
                    let whole = whole.unwrap();
                    prop_assert_eq!(whole.delta, left.delta + right.delta);
                    prop_assert_eq!(whole.elapsed.ms(), left.elapsed.ms() + right.elapsed.ms());
                    prop_assert_eq!(whole.resets, left.resets + right.resets);
                }
                // One side has a single reading: the whole is the other side.
                (whole, None, right) => prop_assert_eq!(whole, right),
                (whole, left, None) => prop_assert_eq!(whole, left),
            }
        }

        #[test]
        fn gaps_do_not_change_the_increase(
            (times, values) in series_strategy(),
            gaps in proptest::collection::vec(any::<bool>(), 60),
        ) {
            // Interleave a gap row (same time as the next reading would be
            // odd; give it a time between neighbours) after chosen rows.
            let mut gapped_times = Vec::new();
            let mut gapped_values = Vec::new();
            for (i, (&time, &value)) in times.iter().zip(&values).enumerate() {
                gapped_times.push(time * 2);
                gapped_values.push(value);
                if gaps[i] {
                    gapped_times.push(time * 2 + 1);
                    gapped_values.push(None);
                }
            }
            let doubled: Vec<UnixMillis> = times.iter().map(|t| t * 2).collect();
            prop_assert_eq!(
                increase(&gapped_times, &gapped_values),
                increase(&doubled, &values)
            );
        }

        #[test]
        fn a_sample_exactly_at_the_window_start_bounds_the_window(
            times in times_strategy(30),
            pick in any::<proptest::sample::Index>(),
            counter_steps in proptest::collection::vec(0u64..1_000_000, 30),
        ) {
            let start = pick.index(times.len() - 1);
            let t_new = times[times.len() - 1];
            let width = u64::try_from(t_new - times[start]).unwrap();
            let states = vec![State::Running; times.len()];
            let window = crate::window::Window { end: t_new, width_ms: width };
            let rows = crate::window::select(&times, &states, window).unwrap();
            prop_assert_eq!(rows.first(), start);
            let values: Column = counter_steps
                .iter()
                .scan(0u64, |total, step| { *total += step; Some(Some(*total)) })
                .collect();
            let inc = counter_increase(&times, &values, rows).unwrap();
            prop_assert_eq!(inc.elapsed.ms(), width);
            let expected: u64 = counter_steps[start + 1..].iter().sum();
            prop_assert_eq!(inc.delta, expected);
        }
    }
}
