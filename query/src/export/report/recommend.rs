//! Limit recommendations and flags for the sizing report. The rules, as
//! the report prints them ([`RULES`]):
//!
//! - CPU limit = p95 of the cores used × 1.15, the upper bound of
//!   Kubernetes' Vertical Pod Autoscaler (its p95 target plus its 15 %
//!   safety margin), rounded up to 0.05 CPU.
//! - Memory limit = the period's peak in use × 1.15 (krr's rule), raised to
//!   max(peak × 1.2, peak + 100 MiB) when the container was OOM-killed in the
//!   period (VPA's OOM bump), rounded up to 16 MiB.
//! - No recommendation with less than 3 hours or 100 samples of history.
//! - Too tight: OOM kills, p95 memory above 90 % of the limit, throttled
//!   periods above 5 %. Far too loose: a limit above 3 × the recommendation.
//!   Containers without limits are flagged too.

#![deny(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]

use crate::history::metric::Metric;
use crate::history::ContainerHistory;
use crate::rate::{approx_f64, round_to_u64};

/// The rules, in the words the report prints.
pub const RULES: [&str; 5] = [
    "CPU limit = p95 of cores used × 1.15 (the upper bound of Kubernetes' Vertical Pod Autoscaler: p95 plus its 15 % safety margin), rounded up to 0.05 CPU.",
    "Memory limit = the period's peak in use × 1.15 (krr's rule); when the container was OOM-killed in the period, max(peak × 1.2, peak + 100 MiB) (VPA's OOM bump); rounded up to 16 MiB.",
    "No recommendation for a container with less than 3 hours or 100 samples of history.",
    "Too tight: OOM kills, p95 memory above 90 % of the limit, or throttled periods above 5 %. Far too loose: a limit above 3 × the recommendation.",
    "Memory in use is usage minus inactive file cache, as docker stats shows it; CPU is cores (1.0 = one full core).",
];

const CPU_MARGIN: f64 = 1.15;
const CPU_UNIT: f64 = 0.05;
const MEMORY_MARGIN: f64 = 1.15;
const OOM_FACTOR: f64 = 1.2;
const OOM_EXTRA: u64 = 100 << 20;
const MEMORY_UNIT: u64 = 16 << 20;
const TIGHT_MEMORY_PCT: f64 = 90.0;
const THROTTLED_PCT: f64 = 5.0;
const LOOSE_FACTOR: f64 = 3.0;

/// A recommended limit: the rule's raw figure and the rounded limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Advice<T> {
    /// Before rounding.
    pub raw: f64,
    /// Rounded up to the unit.
    pub limit: T,
}

/// Something the report points out about a container's limits.
#[derive(Clone, Debug, PartialEq)]
pub enum Flag {
    /// OOM-killed this many times in the period.
    OomKilled(usize),
    /// p95 memory in use is this percent of the limit (above 90).
    MemoryNearLimit(f64),
    /// This percent of CFS periods were throttled (above 5).
    Throttled(f64),
    /// The CPU limit is more than 3 × the recommendation.
    CpuLoose,
    /// The memory limit is more than 3 × the recommendation.
    MemoryLoose,
    /// No CPU limit.
    NoCpuLimit,
    /// No memory limit.
    NoMemoryLimit,
}

impl Flag {
    /// Whether the flag says the limit is too tight (drawn in red).
    pub fn tight(&self) -> bool {
        matches!(self, Flag::OomKilled(_) | Flag::MemoryNearLimit(_) | Flag::Throttled(_))
    }

    /// The flag as a word, for scripts (`oom`, `memory-tight`, `throttled`,
    /// `cpu-loose`, `memory-loose`, `no-cpu-limit`, `no-memory-limit`).
    pub fn key(&self) -> &'static str {
        match self {
            Flag::OomKilled(_) => "oom",
            Flag::MemoryNearLimit(_) => "memory-tight",
            Flag::Throttled(_) => "throttled",
            Flag::CpuLoose => "cpu-loose",
            Flag::MemoryLoose => "memory-loose",
            Flag::NoCpuLimit => "no-cpu-limit",
            Flag::NoMemoryLimit => "no-memory-limit",
        }
    }

    /// The flag in words.
    pub fn text(&self) -> String {
        match self {
            Flag::OomKilled(n) => format!("OOM-killed {n}×: memory limit too tight"),
            Flag::MemoryNearLimit(pct) => format!("p95 memory at {pct:.0} % of its limit: too tight"),
            Flag::Throttled(pct) => format!("{pct:.1} % of CPU periods throttled: CPU limit too tight"),
            Flag::CpuLoose => "CPU limit above 3 × the recommendation: far too loose".to_owned(),
            Flag::MemoryLoose => "memory limit above 3 × the recommendation: far too loose".to_owned(),
            Flag::NoCpuLimit => "no CPU limit".to_owned(),
            Flag::NoMemoryLimit => "no memory limit".to_owned(),
        }
    }
}

/// The report's verdict on one container.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recommendation {
    /// The CPU limit to set, cores.
    pub cpu: Option<Advice<f64>>,
    /// The memory limit to set, bytes.
    pub memory: Option<Advice<u64>>,
    /// Why there is no recommendation, if there is none.
    pub withheld: Option<String>,
    /// What stands out.
    pub flags: Vec<Flag>,
}

/// How much history a recommendation needs (3 hours and 100 samples by
/// default, as [`RULES`] say).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enough {
    /// The least time from the first to the last sample, ms.
    pub span_ms: i64,
    /// The fewest intervals between samples.
    pub samples: usize,
}

impl Default for Enough {
    fn default() -> Enough {
        Enough { span_ms: 3 * 3_600_000, samples: 100 }
    }
}

/// Applies [`RULES`] to a container's history; `throttled_pct` is the
/// share of its CFS periods that were throttled, when known.
pub fn recommend(history: &ContainerHistory, throttled_pct: Option<f64>, enough: Enough) -> Recommendation {
    let figures = &history.figures;
    let limits = history.limits;
    let period = |metric: Metric| figures.period.get(metric.index()).copied().unwrap_or_default();
    let mut flags = Vec::new();
    if history.oom_kills > 0 {
        flags.push(Flag::OomKilled(history.oom_kills));
    }
    if let (Some(p95), Some(limit)) = (period(Metric::MemBytes).p95, limits.memory_bytes) {
        let pct = p95 / approx_f64(limit) * 100.0;
        if pct > TIGHT_MEMORY_PCT {
            flags.push(Flag::MemoryNearLimit(pct));
        }
    }
    if let Some(pct) = throttled_pct.filter(|&p| p > THROTTLED_PCT) {
        flags.push(Flag::Throttled(pct));
    }
    let withheld = if figures.span_ms < enough.span_ms {
        Some(format!("only {} of history (at least {} needed)", hours(figures.span_ms), hours(enough.span_ms)))
    } else if figures.intervals < enough.samples {
        Some(format!("only {} samples (at least {} needed)", figures.intervals, enough.samples))
    } else {
        None
    };
    let mut recommendation = Recommendation { withheld, ..Recommendation::default() };
    if recommendation.withheld.is_none() {
        recommendation.cpu = period(Metric::CpuCores).p95.map(|p95| {
            let raw = p95 * CPU_MARGIN;
            Advice { raw, limit: ((raw / CPU_UNIT).ceil().max(1.0)) * CPU_UNIT }
        });
        recommendation.memory = period(Metric::MemBytes).max.and_then(|peak| {
            let raw = if history.oom_kills > 0 {
                (peak * OOM_FACTOR).max(peak + approx_f64(OOM_EXTRA))
            } else {
                peak * MEMORY_MARGIN
            };
            let units = round_to_u64((raw / approx_f64(MEMORY_UNIT)).ceil())?.max(1);
            Some(Advice { raw, limit: units.saturating_mul(MEMORY_UNIT) })
        });
    }
    match (limits.cpu_cores, recommendation.cpu) {
        (None, _) => flags.push(Flag::NoCpuLimit),
        (Some(limit), Some(advice)) if limit > LOOSE_FACTOR * advice.limit => flags.push(Flag::CpuLoose),
        _ => {}
    }
    match (limits.memory_bytes, recommendation.memory) {
        (None, _) => flags.push(Flag::NoMemoryLimit),
        (Some(limit), Some(advice)) if approx_f64(limit) > LOOSE_FACTOR * approx_f64(advice.limit) => {
            flags.push(Flag::MemoryLoose);
        }
        _ => {}
    }
    recommendation.flags = flags;
    recommendation
}

fn hours(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    match seconds {
        s if s < 60 => format!("{s} s"),
        s => format!("{} h {:02} min", s / 3600, s / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::container::{Figures, PeriodSummary};
    use crate::history::Limits;
    use kura_store::record::{ContainerInfo, SeriesInfo};

    fn history(cores_p95: f64, mem_peak: f64, limits: Limits, oom_kills: usize) -> ContainerHistory {
        let mut period = vec![PeriodSummary::default(); Metric::ALL.len()];
        period[Metric::CpuCores.index()] =
            PeriodSummary { avg: Some(cores_p95 / 2.0), p95: Some(cores_p95), max: Some(cores_p95) };
        period[Metric::MemBytes.index()] =
            PeriodSummary { avg: Some(mem_peak / 2.0), p95: Some(mem_peak), max: Some(mem_peak) };
        ContainerHistory {
            host: "h".into(),
            series: SeriesInfo {
                series: kura_store::SeriesId(1),
                host: "h".into(),
                container: ContainerInfo::default(),
                first_seen: 0,
                last_seen: None,
            },
            figures: Figures { buckets: Vec::new(), period, intervals: 2_000, span_ms: 6 * 3_600_000 },
            limits,
            oom_kills,
            restarts: 0,
        }
    }

    #[test]
    fn a_cpu_bound_container_gets_its_p95_plus_fifteen_percent() {
        let limits = Limits { cpu_cores: Some(0.5), memory_bytes: Some(128 << 20) };
        let r = recommend(&history(0.5, f64::from(50u32 << 20), limits, 0), Some(40.0), Enough::default());
        let cpu = r.cpu.unwrap();
        assert!((cpu.raw - 0.575).abs() < 1e-9);
        assert!((cpu.limit - 0.6).abs() < 1e-9);
        assert_eq!(r.memory.unwrap().limit, 64 << 20, "50 MiB × 1.15 = 57.5 MiB, up to 64 MiB");
        assert_eq!(r.flags, [Flag::Throttled(40.0)]);
    }

    #[test]
    fn an_oom_killed_container_gets_more_than_its_old_limit() {
        let limits = Limits { cpu_cores: None, memory_bytes: Some(8 << 20) };
        let r = recommend(&history(0.01, f64::from(8u32 << 20), limits, 2), None, Enough::default());
        let memory = r.memory.unwrap();
        assert!(memory.limit > 8 << 20);
        assert_eq!(memory.limit, 112 << 20, "8 MiB + 100 MiB, up to 112 MiB");
        assert!(r.flags.contains(&Flag::OomKilled(2)));
        assert!(r.flags.contains(&Flag::NoCpuLimit));
        assert!(r.flags.iter().any(|f| matches!(f, Flag::MemoryNearLimit(_))));
    }

    #[test]
    fn loose_limits_and_short_histories_are_said() {
        let limits = Limits { cpu_cores: Some(4.0), memory_bytes: Some(4 << 30) };
        let r = recommend(&history(0.1, f64::from(100u32 << 20), limits, 0), None, Enough::default());
        assert!(r.flags.contains(&Flag::CpuLoose) && r.flags.contains(&Flag::MemoryLoose), "{:?}", r.flags);
        let mut short = history(0.1, 1.0, limits, 0);
        short.figures.span_ms = 3_600_000;
        let r = recommend(&short, None, Enough::default());
        assert_eq!((r.cpu, r.memory), (None, None));
        assert_eq!(r.withheld.as_deref(), Some("only 1 h 00 min of history (at least 3 h 00 min needed)"));
    }
}
