//! The collector's clock, and each daemon's offset from it.
//!
//! Sweep and sample times come from the wall clock, which an operator or
//! NTP may step. The store keeps each host's history in time order and
//! drops what does not move forward, so a [`Clock`] never goes back: after
//! the wall clock steps back, its times continue from where they were at
//! the real pace (the wall clock plus the step), so that nothing is
//! dropped and rates stay right; the step is logged once, as a warning. A
//! clock stepped forward is followed (retention guards the history, see
//! [`crate::retention`]). At start the clock begins after the newest stored
//! sweep, so a collector started after a step back stores its sweeps too.
//!
//! Samples of running containers carry the daemon's own `read` time, and a
//! remote daemon's clock may be off from the collector's: a container
//! whose samples switch between the daemon's times (running) and the
//! sweep's (stopped) would then go back in time at each state change. A
//! [`DaemonOffset`] tracks how far the daemon's clock is from the
//! collector's, from the window of each request (a `read` time is taken
//! between the request's send and its answer), and translates every `read`
//! time into the collector's clock, inside its request's window: every
//! sample of a sweep is then at or after the sweep's start and before the
//! next one's, whatever the daemon's clock says.

use std::sync::{Mutex, PoisonError};

use kura_store::sample::UnixMillis;

/// A step back shorter than this is not worth a warning.
const QUIET_STEP_MS: i64 = 1_000;

/// The wall clock, in Unix milliseconds.
pub fn wall_millis() -> UnixMillis {
    chrono::Utc::now().timestamp_millis()
}

/// A clock that follows the wall clock forward and never goes back.
#[derive(Debug)]
pub struct Clock {
    wall: fn() -> UnixMillis,
    state: Mutex<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    /// Added to the wall clock: the sum of the steps back seen.
    offset: i64,
    /// The last time given.
    last: UnixMillis,
}

impl Clock {
    /// A clock whose first time is after `floor` (the newest stored sweep).
    pub fn new(floor: Option<UnixMillis>) -> Clock {
        Clock::with_wall(floor, wall_millis)
    }

    /// A clock over another wall clock (tests).
    pub fn with_wall(floor: Option<UnixMillis>, wall: fn() -> UnixMillis) -> Clock {
        let mut state = ClockState { offset: 0, last: UnixMillis::MIN };
        if let Some(floor) = floor {
            let behind = floor.saturating_sub(wall());
            if behind >= 0 {
                state.offset = behind.saturating_add(1);
            }
            if behind >= QUIET_STEP_MS {
                tracing::warn!(
                    "the system clock is {} behind the newest stored sweep: sweep times continue after it at the real pace, {} ahead of the system clock",
                    seconds(behind),
                    seconds(state.offset)
                );
            }
            state.last = floor;
        }
        Clock { wall, state: Mutex::new(state) }
    }

    /// The time now: the wall clock plus the steps back seen, never before
    /// a time given earlier.
    pub fn now(&self) -> UnixMillis {
        let wall = (self.wall)();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let time = wall.saturating_add(state.offset);
        if time < state.last {
            let step = state.last - time;
            state.offset = state.offset.saturating_add(step);
            if step >= QUIET_STEP_MS {
                tracing::warn!(
                    "the system clock went back by {}: sweep times continue at the real pace, {} ahead of the system clock, so that no sweep is dropped",
                    seconds(step),
                    seconds(state.offset)
                );
            }
            return state.last;
        }
        state.last = time;
        time
    }

    /// How far ahead of the wall clock this clock runs (the steps back seen), ms.
    pub fn offset(&self) -> i64 {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).offset
    }
}

/// `12.3 s`.
fn seconds(ms: i64) -> String {
    format!("{}{}.{} s", if ms < 0 { "-" } else { "" }, (ms / 1000).abs(), (ms % 1000 / 100).abs())
}

/// Where a daemon's `read` time was taken, in the collector's clock: after
/// the request was sent and before its answer came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadWindow {
    /// The daemon's `read` time.
    pub read: UnixMillis,
    /// The collector's time when the request was sent.
    pub sent: UnixMillis,
    /// The collector's time when the answer had come.
    pub answered: UnixMillis,
}

impl ReadWindow {
    /// The daemon's clock minus the collector's, as this window allows it:
    /// between these two, ms (one either side for the truncation to ms).
    fn bounds(&self) -> (i64, i64) {
        (
            self.read.saturating_sub(self.answered).saturating_sub(1),
            self.read.saturating_sub(self.sent).saturating_add(1),
        )
    }
}

/// How far one daemon's clock is from the collector's.
#[derive(Clone, Debug, Default)]
pub struct DaemonOffset {
    /// The daemon's clock minus the collector's, ms.
    offset: i64,
    /// The offset last logged.
    logged: i64,
}

impl DaemonOffset {
    /// Takes in one sweep's read windows: the offset moves (as little as
    /// it can) only when it no longer fits every window.
    pub fn observe(&mut self, host: &str, windows: &[ReadWindow]) {
        let (mut low, mut high) = (i64::MIN, i64::MAX);
        for window in windows {
            let (lo, hi) = window.bounds();
            low = low.max(lo);
            high = high.min(hi);
        }
        if windows.is_empty() || low > high {
            // No window, or windows that disagree (the daemon's clock
            // stepped during the sweep): each sample is placed in its own.
            return;
        }
        self.offset = self.offset.clamp(low, high);
        if (self.offset - self.logged).abs() >= QUIET_STEP_MS {
            tracing::warn!(
                host,
                "the daemon's clock is {} {} the collector's: its sample times are translated into the collector's clock",
                seconds(self.offset.abs()),
                if self.offset > 0 { "ahead of" } else { "behind" }
            );
            self.logged = self.offset;
        }
    }

    /// The time of a sample read in `window`, in the collector's clock:
    /// the `read` time less the offset, kept inside the window.
    pub fn translate(&self, window: &ReadWindow) -> UnixMillis {
        window.read.saturating_sub(self.offset).clamp(window.sent, window.answered.max(window.sent))
    }

    /// The daemon's clock minus the collector's, ms.
    pub fn offset(&self) -> i64 {
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    // One fake wall clock per test: tests run in parallel.
    static WALL: AtomicI64 = AtomicI64::new(0);
    static WALL_BEHIND: AtomicI64 = AtomicI64::new(0);

    fn fake_wall() -> UnixMillis {
        WALL.load(Ordering::SeqCst)
    }

    fn fake_wall_behind() -> UnixMillis {
        WALL_BEHIND.load(Ordering::SeqCst)
    }

    #[test]
    fn the_clock_follows_the_wall_clock_forward_and_never_goes_back() {
        WALL.store(1_000_000, Ordering::SeqCst);
        let clock = Clock::with_wall(Some(900_000), fake_wall);
        assert_eq!(clock.now(), 1_000_000);
        WALL.store(1_010_000, Ordering::SeqCst);
        assert_eq!(clock.now(), 1_010_000);
        // A step back of an hour: times go on from where they were, at the real pace.
        WALL.store(1_010_000 - 3_600_000, Ordering::SeqCst);
        assert_eq!(clock.now(), 1_010_000);
        WALL.fetch_add(10_000, Ordering::SeqCst);
        assert_eq!(clock.now(), 1_020_000);
        assert_eq!(clock.offset(), 3_600_000);
        // Forward again: followed, the offset kept.
        WALL.fetch_add(40 * 86_400_000, Ordering::SeqCst);
        assert_eq!(clock.now(), 1_020_000 + 40 * 86_400_000);
    }

    #[test]
    fn a_clock_behind_the_newest_stored_sweep_starts_after_it() {
        WALL_BEHIND.store(5_000_000, Ordering::SeqCst);
        let clock = Clock::with_wall(Some(5_000_000 + 600_000), fake_wall_behind);
        let first = clock.now();
        assert!(first > 5_600_000, "{first}");
        WALL_BEHIND.fetch_add(10_000, Ordering::SeqCst);
        assert_eq!(clock.now(), first + 10_000);
    }

    fn window(read: i64, sent: i64, answered: i64) -> ReadWindow {
        ReadWindow { read, sent, answered }
    }

    #[test]
    fn a_daemon_on_the_same_clock_keeps_its_read_times() {
        let mut offset = DaemonOffset::default();
        let windows = [window(1_005, 1_000, 1_020), window(1_012, 1_001, 1_030)];
        offset.observe("h", &windows);
        assert_eq!(offset.offset(), 0);
        assert_eq!(offset.translate(&windows[0]), 1_005);
    }

    #[test]
    fn a_daemon_ahead_or_behind_is_translated_into_the_window_and_stays_steady() {
        for skew in [300_000, -300_000] {
            let mut offset = DaemonOffset::default();
            let mut translated = Vec::new();
            for sweep in 0..5 {
                let start = 1_000_000 + sweep * 10_000;
                // Requests take 20-60 ms; the daemon reads 10 ms in.
                let windows: Vec<ReadWindow> = (0..4)
                    .map(|i| window(start + i * 5 + 10 + skew, start + i * 5, start + i * 5 + 20 + i * 10))
                    .collect();
                offset.observe("h", &windows);
                for w in &windows {
                    let time = offset.translate(w);
                    assert!((w.sent..=w.answered).contains(&time), "{time} outside {w:?}");
                }
                translated.push(offset.translate(&windows[0]));
            }
            // Steady: consecutive samples 10 s apart, as the daemon read them.
            assert!(translated.windows(2).all(|pair| pair[1] - pair[0] == 10_000), "{translated:?}");
            assert!((offset.offset() - skew).abs() <= 20, "{}", offset.offset());
        }
    }

    #[test]
    fn windows_that_disagree_leave_the_offset_and_each_sample_in_its_window() {
        let mut offset = DaemonOffset::default();
        // The daemon's clock stepped by a minute between two requests.
        let windows = [window(1_005, 1_000, 1_010), window(61_012, 1_001, 1_020)];
        offset.observe("h", &windows);
        assert_eq!(offset.offset(), 0);
        assert_eq!(offset.translate(&windows[1]), 1_020);
    }
}
