//! What the history export measures ([`Metric`]) and how a bucket's
//! intervals are summarised ([`Agg`]).

use std::fmt;
use std::str::FromStr;

/// A figure of one container over one interval between two samples. Every
/// one is defined by [`crate::rate`], as `kura cpu`, `kura mem`, `kura disk`
/// and `kura net` print it, so the export and the checks agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// CPU, percent of the host's CPUs (0-100): `kura cpu`.
    CpuPct,
    /// CPU, cores (1.0 = one full core): `kura cpu --scale core` / 100.
    CpuCores,
    /// Memory in use (usage minus inactive file cache, as docker stats), bytes.
    MemBytes,
    /// The limit memory is measured against: the container's, or the
    /// host's memory when it has none (`kura mem --limit`), bytes.
    MemLimitBytes,
    /// Memory in use, percent of that limit: `kura mem --limit`.
    MemPctLimit,
    /// Memory in use, percent of the host's memory: `kura mem`.
    MemPctHost,
    /// Block IO read, bytes per second: `kura disk`.
    DiskReadBps,
    /// Block IO written, bytes per second.
    DiskWriteBps,
    /// Network received, bytes per second: `kura net`.
    NetRxBps,
    /// Network sent, bytes per second.
    NetTxBps,
    /// Network received, packets per second.
    NetRxPps,
    /// Network sent, packets per second.
    NetTxPps,
    /// Processes and threads (`pids_stats.current`).
    Processes,
}

impl Metric {
    /// Every metric, in column order.
    pub const ALL: [Metric; 13] = [
        Metric::CpuPct,
        Metric::CpuCores,
        Metric::MemBytes,
        Metric::MemLimitBytes,
        Metric::MemPctLimit,
        Metric::MemPctHost,
        Metric::DiskReadBps,
        Metric::DiskWriteBps,
        Metric::NetRxBps,
        Metric::NetTxBps,
        Metric::NetRxPps,
        Metric::NetTxPps,
        Metric::Processes,
    ];

    /// The column name's stem (`cpu_pct` in `cpu_pct_avg`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::CpuPct => "cpu_pct",
            Metric::CpuCores => "cpu_cores",
            Metric::MemBytes => "mem_bytes",
            Metric::MemLimitBytes => "mem_limit_bytes",
            Metric::MemPctLimit => "mem_pct_limit",
            Metric::MemPctHost => "mem_pct_host",
            Metric::DiskReadBps => "disk_read_bps",
            Metric::DiskWriteBps => "disk_write_bps",
            Metric::NetRxBps => "net_rx_bps",
            Metric::NetTxBps => "net_tx_bps",
            Metric::NetRxPps => "net_rx_pps",
            Metric::NetTxPps => "net_tx_pps",
            Metric::Processes => "processes",
        }
    }

    /// Decimals printed: enough for the unit, no false precision.
    pub fn decimals(self) -> usize {
        match self {
            Metric::CpuPct | Metric::MemPctLimit | Metric::MemPctHost | Metric::NetRxPps | Metric::NetTxPps => 2,
            Metric::CpuCores => 4,
            Metric::Processes => 1,
            Metric::MemBytes
            | Metric::MemLimitBytes
            | Metric::DiskReadBps
            | Metric::DiskWriteBps
            | Metric::NetRxBps
            | Metric::NetTxBps => 0,
        }
    }

    /// The metric's index in [`Metric::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How the intervals of a bucket are summarised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Agg {
    /// The average weighted by each interval's length: for a rate, the
    /// increase over the bucket divided by its time, as the checks compute
    /// a window's figure.
    Avg,
    /// The smallest interval's value.
    Min,
    /// The largest.
    Max,
    /// The newest (the reading at the bucket's last sample, for gauges).
    Last,
    /// A percentile (nearest rank) of the intervals' values, 1-99.
    Percentile(u8),
}

impl Agg {
    /// Whether summarising needs every value kept (percentiles do).
    pub fn needs_values(self) -> bool {
        matches!(self, Agg::Percentile(_))
    }
}

impl fmt::Display for Agg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Agg::Avg => f.write_str("avg"),
            Agg::Min => f.write_str("min"),
            Agg::Max => f.write_str("max"),
            Agg::Last => f.write_str("last"),
            Agg::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

impl FromStr for Agg {
    type Err = String;

    fn from_str(text: &str) -> Result<Agg, String> {
        match text.trim() {
            "avg" | "mean" => Ok(Agg::Avg),
            "min" => Ok(Agg::Min),
            "max" => Ok(Agg::Max),
            "last" => Ok(Agg::Last),
            other => other
                .strip_prefix('p')
                .and_then(|p| p.parse::<u8>().ok())
                .filter(|p| (1..=99).contains(p))
                .map(Agg::Percentile)
                .ok_or_else(|| format!("{other:?} is not an aggregate (avg, min, max, last, p1 ... p99)")),
        }
    }
}

/// Parses `avg,max,p95`: at least one, no repeats.
pub fn parse_aggs(text: &str) -> Result<Vec<Agg>, String> {
    let mut aggs: Vec<Agg> = Vec::new();
    for part in text.split(',') {
        let agg: Agg = part.parse()?;
        if aggs.contains(&agg) {
            return Err(format!("{agg} is given twice"));
        }
        aggs.push(agg);
    }
    Ok(aggs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_parse_and_print_back() {
        assert_eq!(parse_aggs("avg,max,p95").unwrap(), [Agg::Avg, Agg::Max, Agg::Percentile(95)]);
        assert_eq!(
            parse_aggs("p1,last,min").unwrap().iter().map(Agg::to_string).collect::<Vec<_>>(),
            ["p1", "last", "min"]
        );
        for bad in ["", "avg,avg", "p0", "p100", "median", "p9x"] {
            assert!(parse_aggs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metrics_are_listed_in_index_order() {
        for (i, metric) in Metric::ALL.iter().enumerate() {
            assert_eq!(metric.index(), i);
        }
    }
}
