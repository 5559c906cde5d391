//! Which stored rows a figure is computed over.
//!
//! The query issue defines a window figure as the change between the newest
//! sample `t_new` and the sample nearest to `t_new - w` (`w` defaults to 5
//! minutes), restricted to the container's current run: a container that
//! started inside the window is measured from its first sample after the
//! start, never across the time it was down.
//!
//! A run is a sequence of rows whose state is `running` or `paused` (the
//! states in which the daemon reports counters). A row in any other state
//! (`exited`, `restarting`, `created`, ...) ends a run. A restart that no
//! sweep saw (the container was down between two sweeps) does not end a run;
//! the counters' reset handling in [`crate::rate`] accounts for it.

use std::ops::RangeInclusive;

use kura_store::sample::{State, UnixMillis};

/// The default window width: 5 minutes.
pub const DEFAULT_WIDTH_MS: u64 = 5 * 60 * 1000;

/// What a query asks for: a window `width_ms` wide whose newest sample lies
/// in `[end - width_ms, end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The query's time (usually now): samples after it are ignored.
    pub end: UnixMillis,
    /// The window's width, ms.
    pub width_ms: u64,
}

impl Window {
    /// A window of the default width ([`DEFAULT_WIDTH_MS`]) ending at `end`.
    pub fn ending_at(end: UnixMillis) -> Window {
        Window { end, width_ms: DEFAULT_WIDTH_MS }
    }
}

/// Rows `first..=last` of one container's columns (never empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows {
    first: usize,
    last: usize,
}

impl Rows {
    /// Rows `first..=last`; `None` when `first > last`.
    pub fn new(first: usize, last: usize) -> Option<Rows> {
        (first <= last).then_some(Rows { first, last })
    }

    /// The oldest row.
    pub fn first(self) -> usize {
        self.first
    }

    /// The newest row.
    pub fn last(self) -> usize {
        self.last
    }

    /// The rows as an index range.
    pub fn range(self) -> RangeInclusive<usize> {
        self.first..=self.last
    }
}

/// Selects the rows a window figure is computed over, from one container's
/// sample times (ascending) and states.
///
/// - The newest row is the last one at or before `window.end`. It must lie
///   within `[end - width, end]` ("no sample in the window prints nothing")
///   and the container must be up in it (a stopped container has no rate).
/// - The oldest row is the one whose time is nearest to `t_new - width`; of
///   two equally near, the older one (so the window is at least `width`).
/// - If the container's current run began after that row, the oldest row is
///   the run's first row instead.
///
/// The result may be a single row: enough for a gauge (memory), not for a
/// rate, which then has no value.
pub fn select(times: &[UnixMillis], states: &[State], window: Window) -> Option<Rows> {
    let newest = times.partition_point(|&t| t <= window.end).checked_sub(1)?;
    let t_new = *times.get(newest)?;
    let width = i64::try_from(window.width_ms).unwrap_or(i64::MAX);
    if t_new < window.end.saturating_sub(width) || !is_up(states, newest) {
        return None;
    }
    let nearest = nearest_row(times.get(..=newest)?, t_new.saturating_sub(width));
    let mut first = newest;
    while first > nearest && is_up(states, first - 1) {
        first -= 1;
    }
    Rows::new(first, newest)
}

/// Whether the container is up (running or paused) in `row`; a row without a
/// state counts as down.
fn is_up(states: &[State], row: usize) -> bool {
    matches!(states.get(row), Some(State::Running | State::Paused))
}

/// The index of the time nearest to `target` in ascending, non-empty
/// `times`; ties go to the older row.
fn nearest_row(times: &[UnixMillis], target: UnixMillis) -> usize {
    let after = times.partition_point(|&t| t < target);
    let Some(before) = after.checked_sub(1) else {
        return 0;
    };
    match (times.get(before), times.get(after)) {
        (Some(&older), Some(&newer)) if newer.abs_diff(target) < older.abs_diff(target) => after,
        _ => before,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UP: State = State::Running;
    const DOWN: State = State::Exited;

    fn window(end: UnixMillis, width_ms: u64) -> Window {
        Window { end, width_ms }
    }

    #[test]
    fn takes_the_newest_sample_and_the_one_nearest_to_the_window_start() {
        let times = [0, 60_000, 120_000, 170_000, 240_000, 300_000, 360_000];
        let states = [UP; 7];
        // t_new = 360 000, target = 60 000: exactly on a sample.
        let rows = select(&times, &states, window(365_000, 300_000)).unwrap();
        assert_eq!((rows.first(), rows.last()), (1, 6));
        // target = 180 000 lies between 170 000 (10 s away) and 240 000.
        let rows = select(&times, &states, window(365_000, 180_000)).unwrap();
        assert_eq!((rows.first(), rows.last()), (3, 6));
    }

    #[test]
    fn the_default_window_is_five_minutes() {
        let times = [0, 240_000, 300_000, 600_000];
        let rows = select(&times, &[UP; 4], Window::ending_at(600_000)).unwrap();
        assert_eq!((rows.first(), rows.last()), (2, 3));
    }

    #[test]
    fn a_tie_goes_to_the_older_sample() {
        let times = [0, 100, 200];
        let rows = select(&times, &[UP; 3], window(200, 150)).unwrap();
        assert_eq!(rows.first(), 0);
    }

    #[test]
    fn samples_after_the_end_are_ignored() {
        let times = [0, 100, 200, 300];
        let rows = select(&times, &[UP; 4], window(250, 1_000)).unwrap();
        assert_eq!((rows.first(), rows.last()), (0, 2));
    }

    #[test]
    fn no_sample_in_the_window_selects_nothing() {
        let times = [0, 100];
        assert_eq!(select(&times, &[UP; 2], window(401, 300)), None);
        assert!(select(&times, &[UP; 2], window(400, 300)).is_some());
        assert_eq!(select(&times, &[UP; 2], window(-1, 300)), None);
        assert_eq!(select(&[], &[], window(0, 300)), None);
    }

    #[test]
    fn a_stopped_container_has_no_window() {
        let times = [0, 100, 200];
        assert_eq!(select(&times, &[UP, UP, DOWN], window(200, 300)), None);
    }

    #[test]
    fn a_container_started_inside_the_window_is_measured_from_its_first_sample() {
        let times = [0, 100, 200, 300, 400];
        let states = [UP, DOWN, State::Created, UP, State::Paused];
        let rows = select(&times, &states, window(400, 1_000)).unwrap();
        assert_eq!((rows.first(), rows.last()), (3, 4));
        // A run that began before the window does not move the start.
        let rows = select(&times, &states, window(400, 20)).unwrap();
        assert_eq!((rows.first(), rows.last()), (4, 4));
    }

    #[test]
    fn missing_states_count_as_down() {
        let times = [0, 100, 200];
        assert_eq!(select(&times, &[UP, UP], window(200, 300)), None);
        let rows = select(&times[..2], &[UP, UP], window(200, 300)).unwrap();
        assert_eq!(rows.range(), 0..=1);
    }

    #[test]
    fn huge_widths_and_times_do_not_overflow() {
        let times = [i64::MIN, 0, i64::MAX];
        // target = i64::MAX - i64::MAX = 0, which is exactly row 1.
        let rows = select(&times, &[UP; 3], window(i64::MAX, u64::MAX)).unwrap();
        assert_eq!((rows.first(), rows.last()), (1, 2));
    }

    proptest! {
        #[test]
        fn the_oldest_row_is_nearest_to_the_window_start(
            mut times in proptest::collection::vec(0i64..10_000, 1..40),
            width in 0u64..12_000,
        ) {
            times.sort_unstable();
            let states = vec![UP; times.len()];
            let newest = times.len() - 1;
            let t_new = times[newest];
            let rows = select(&times, &states, window(t_new, width)).unwrap();
            prop_assert_eq!(rows.last(), newest);
            let target = t_new - i64::try_from(width).unwrap();
            let best = times.iter().map(|t| t.abs_diff(target)).min().unwrap();
            prop_assert_eq!(times[rows.first()].abs_diff(target), best);
            // Among equally near rows, the oldest distinct time was taken.
            prop_assert!(times[..rows.first()].iter().all(|t| t.abs_diff(target) > best || *t == times[rows.first()]));
        }
    }
}
