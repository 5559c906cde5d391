//! Whether a host's newest sweep is recent enough to answer for "now": the
//! one rule the checks, the node repository and the Prometheus endpoint
//! apply before they believe a host's containers.
//!
//! A sweep is stale when it is older than three of the host's intervals
//! and older than [`STALE_FLOOR_MS`]. The floor is for short intervals: a
//! collector sweeping every 500 ms on a machine that 200 Hinemos monitors
//! have just woken is a second late without having stopped.

use std::fmt;

use crate::record::{sweep_interval, SweepRecord};
use crate::sample::UnixMillis;
use crate::{Reader, StoreError};

/// A sweep older than this many intervals may mean the collector stopped.
pub const STALE_INTERVALS: i64 = 3;
/// ... and one younger than this never does, ms.
pub const STALE_FLOOR_MS: i64 = 10_000;
/// The interval assumed when the store holds a single recent sweep, ms.
pub const DEFAULT_INTERVAL_MS: i64 = 10_000;
/// How far back sweeps are read to estimate the interval, ms.
const RECENT_MS: i64 = 3_600_000;

/// The age after which a host swept every `interval_ms` is stale, ms.
pub fn stale_after_ms(interval_ms: i64) -> i64 {
    interval_ms.saturating_mul(STALE_INTERVALS).max(STALE_FLOOR_MS)
}

/// A host's newest sweep at some time, and how old it is then.
#[derive(Clone, Debug, PartialEq)]
pub struct Freshness {
    /// The newest sweep that started at or before that time.
    pub sweep: SweepRecord,
    /// The host's interval, estimated from its recent sweeps, ms.
    pub interval_ms: i64,
    /// How long before that time the sweep started, ms.
    pub age_ms: i64,
}

impl Freshness {
    /// Whether the sweep is too old to be believed.
    pub fn is_stale(&self) -> bool {
        self.age_ms > stale_after_ms(self.interval_ms)
    }
}

/// "12.3 s ago (stale past 10.0 s: 3 intervals of 0.5 s, 10 s at
/// least)", for the error that reports a stale host.
impl fmt::Display for Freshness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} s ago (stale past {} s: {STALE_INTERVALS} intervals of {} s, {} s at least)",
            seconds(self.age_ms),
            seconds(stale_after_ms(self.interval_ms)),
            seconds(self.interval_ms),
            STALE_FLOOR_MS / 1000,
        )
    }
}

fn seconds(ms: i64) -> String {
    format!("{}.{}", ms / 1000, (ms % 1000).abs() / 100)
}

impl Reader {
    /// The newest sweep of `host` that started at or before `now`, its
    /// age then and the host's interval; `None` when there is none.
    pub fn freshness(&self, host: &str, now: UnixMillis) -> Result<Option<Freshness>, StoreError> {
        let recent = self.sweeps(host, now.saturating_sub(RECENT_MS), now)?;
        let sweep = match recent.last() {
            Some(sweep) => Some(sweep.clone()),
            None => self.latest_sweep(host)?.filter(|sweep| sweep.time <= now),
        };
        let interval_ms =
            sweep_interval(&recent.iter().map(|s| s.time).collect::<Vec<_>>()).unwrap_or(DEFAULT_INTERVAL_MS);
        Ok(sweep.map(|sweep| Freshness { age_ms: now.saturating_sub(sweep.time), interval_ms, sweep }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SweepOutcome;

    fn freshness(interval_ms: i64, age_ms: i64) -> Freshness {
        let sweep = SweepRecord { time: 0, outcome: SweepOutcome::Reached, latency_us: 0, containers: 0 };
        Freshness { sweep, interval_ms, age_ms }
    }

    #[test]
    fn a_sweep_is_stale_past_three_intervals_and_never_within_the_floor() {
        assert!(!freshness(10_000, 30_000).is_stale());
        assert!(freshness(10_000, 30_001).is_stale());
        // A short interval: three of them are not enough.
        assert!(!freshness(500, 9_999).is_stale());
        assert!(freshness(500, 10_001).is_stale());
    }

    #[test]
    fn the_reason_names_the_age_the_limit_and_the_interval() {
        assert_eq!(
            freshness(500, 12_345).to_string(),
            "12.3 s ago (stale past 10.0 s: 3 intervals of 0.5 s, 10 s at least)"
        );
        assert_eq!(
            freshness(20_000, 61_000).to_string(),
            "61.0 s ago (stale past 60.0 s: 3 intervals of 20.0 s, 10 s at least)"
        );
    }
}
