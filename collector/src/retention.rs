//! Where retention cuts history, guarded against time that jumps.
//!
//! The cut is the newest stored sweep minus the retention, never the clock
//! alone: a clock stepped forward past the retention deletes nothing by
//! itself. And a cut moves forward by at most twice the real (monotonic)
//! time since the previous prune, so that when sweeps at a stepped clock
//! are stored, the history before the step is not deleted at once: it is
//! pruned at twice the pace of time, with one loud line, and whoever
//! corrects the clock meanwhile keeps it. The previous cut is kept in the
//! store ([`kura_store::Store::pruned_before`]), so a restart does not
//! lift the bound.

use std::time::{Duration, Instant};

use kura_store::sample::UnixMillis;

/// A cut held back by more than this is said loudly.
const LOUD_LAG_MS: i64 = 3_600_000;

/// The retention policy and where its cut stands.
#[derive(Clone, Debug)]
pub struct Retention {
    keep_ms: i64,
    /// The least a cut may move at one prune (twice the prune interval).
    step_ms: i64,
    /// The previous cut, and when (monotonic) it was made.
    previous: Option<(UnixMillis, Instant)>,
    /// How far behind its target the last cut was held, when it was.
    held_back: Option<i64>,
}

impl Retention {
    /// Keeps `retention` of history, pruned every `every`. `stored_cut` is
    /// the cut of the last completed prune (kept in the store), else the
    /// store's newest sweep at start stands for it: nothing stored newer
    /// than what the store held then decides a first cut.
    pub fn new(
        retention: Duration,
        every: Duration,
        stored_cut: Option<UnixMillis>,
        newest_at_start: Option<UnixMillis>,
        now: Instant,
    ) -> Retention {
        let keep_ms = millis(retention);
        let previous = stored_cut.or_else(|| newest_at_start.map(|newest| newest.saturating_sub(keep_ms)));
        Retention {
            keep_ms,
            step_ms: millis(every).saturating_mul(2),
            previous: previous.map(|cut| (cut, now)),
            held_back: None,
        }
    }

    /// The cut of a prune at `now` when the store's newest sweep is
    /// `newest`; `None` when nothing is stored. Logs when the cut is held
    /// back by more than an hour, and when it has caught up.
    pub fn cut(&mut self, newest: Option<UnixMillis>, now: Instant) -> Option<UnixMillis> {
        let target = newest?.saturating_sub(self.keep_ms);
        let cut = match self.previous {
            Some((previous, at)) => {
                let elapsed = millis(now.saturating_duration_since(at)).saturating_mul(2);
                let allowed = previous.saturating_add(elapsed.max(self.step_ms));
                target.min(allowed)
            }
            None => target,
        };
        let lag = target.saturating_sub(cut);
        match self.held_back {
            None if lag > LOUD_LAG_MS => {
                tracing::error!(
                    "retention held back: pruning to the newest sweep minus the retention would delete {} more of history at once than time has passed (the clock stepped forward, the collector was stopped, or retention was shortened); pruning at twice the real pace instead until it catches up",
                    human(lag)
                );
                self.held_back = Some(lag);
            }
            Some(_) if lag == 0 => {
                tracing::info!("retention caught up: history older than the retention is pruned again as it ages");
                self.held_back = None;
            }
            Some(_) => self.held_back = Some(lag),
            None => {}
        }
        self.previous = Some((cut, now));
        Some(cut)
    }

    /// How far the last cut was held behind its target, ms, while it is.
    pub fn held_back(&self) -> Option<i64> {
        self.held_back
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// `3d 4h`, `25m`: a span for a log line.
fn human(ms: i64) -> String {
    let minutes = ms / 60_000;
    match (minutes / 1440, minutes % 1440 / 60, minutes % 60) {
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    const EVERY: Duration = Duration::from_secs(600);

    fn retention(stored_cut: Option<UnixMillis>, newest: Option<UnixMillis>, start: Instant) -> Retention {
        Retention::new(Duration::from_secs(35 * 86_400), EVERY, stored_cut, newest, start)
    }

    #[test]
    fn the_cut_follows_the_newest_sweep_not_the_clock() {
        let start = Instant::now();
        let t0 = 100 * DAY;
        let mut policy = retention(Some(t0 - 35 * DAY - 600_000), Some(t0), start);
        // Every 10 minutes a prune; sweeps stored meanwhile.
        for step in 1..=6 {
            let now = start + EVERY * step;
            let newest = t0 + i64::from(step) * 600_000;
            assert_eq!(policy.cut(Some(newest), now), Some(newest - 35 * DAY));
            assert_eq!(policy.held_back(), None);
        }
        assert_eq!(policy.cut(None, start + EVERY * 7), None, "an empty store has nothing to cut");
    }

    #[test]
    fn a_clock_stepped_forward_past_the_retention_prunes_at_twice_the_pace_of_time() {
        let start = Instant::now();
        let t0 = 100 * DAY;
        let first_cut = t0 - 35 * DAY;
        let mut policy = retention(Some(first_cut), Some(t0), start);
        // The first sweep after a step of 40 days is stored; then prunes.
        let stepped = t0 + 40 * DAY;
        let cut = policy.cut(Some(stepped), start + EVERY).unwrap_or(i64::MAX);
        assert_eq!(cut, first_cut + 20 * 60_000, "one prune moves the cut by two prune intervals");
        assert!(policy.held_back().is_some_and(|lag| lag > 39 * DAY));
        let mut now = start + EVERY;
        let mut cut_after_a_day = 0;
        for _ in 0..144 {
            now += EVERY;
            cut_after_a_day = policy.cut(Some(stepped), now).unwrap_or(i64::MAX);
        }
        assert_eq!(cut_after_a_day, first_cut + 2 * DAY + 20 * 60_000, "a day of real time prunes two days");
        assert!(cut_after_a_day < t0, "the history before the step is still mostly there");
    }

    #[test]
    fn a_restart_keeps_the_bound_and_a_store_without_a_stored_cut_starts_from_its_newest_sweep() {
        let start = Instant::now();
        let t0 = 100 * DAY;
        // The collector restarted after the step: the store's newest sweep
        // is already 40 days ahead, but the stored cut holds.
        let mut policy = retention(Some(t0 - 35 * DAY), Some(t0 + 40 * DAY), start);
        assert_eq!(policy.cut(Some(t0 + 40 * DAY), start), Some(t0 - 35 * DAY + 20 * 60_000));
        // No cut stored yet (a store older than the stored cut): the
        // newest sweep at start stands for it.
        let mut policy = retention(None, Some(t0), start);
        assert_eq!(policy.cut(Some(t0 + 40 * DAY), start + EVERY), Some(t0 - 35 * DAY + 20 * 60_000));
    }

    #[test]
    fn a_cut_held_back_catches_up_and_says_so() {
        let start = Instant::now();
        let t0 = 100 * DAY;
        // Stopped for 3 hours: the cut lags 3 hours, then catches up.
        let mut policy = retention(Some(t0 - 35 * DAY), Some(t0), start);
        let newest = t0 + 3 * HOUR;
        let mut now = start;
        let mut prunes = 0;
        loop {
            now += EVERY;
            prunes += 1;
            let cut = policy.cut(Some(newest + i64::from(prunes) * 600_000), now);
            if policy.held_back().is_none() && prunes > 1 {
                assert_eq!(cut, Some(newest + i64::from(prunes) * 600_000 - 35 * DAY));
                break;
            }
            assert!(prunes < 100, "never caught up");
        }
        // 3 hours of lag at 10 minutes gained per prune: about 18 prunes.
        assert!((15..=20).contains(&prunes), "{prunes}");
    }

    #[test]
    fn spans_read_as_days_hours_minutes() {
        assert_eq!(human(25 * 60_000), "25m");
        assert_eq!(human(HOUR + 60_000), "1h 1m");
        assert_eq!(human(40 * DAY + 3 * HOUR), "40d 3h");
    }
}
