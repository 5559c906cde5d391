//! Where one sweep's wall time went, phase by phase, for the debug log's
//! `sweep` line (`--log debug`).
//!
//! The per-container requests of a sweep overlap, so a phase is not a slice
//! of the sweep: it is the span from its first request sent to its last one
//! answered, with the count and the slowest single request. `queued` is the
//! longest any request waited for one of the host's `concurrency` permits:
//! non-zero means the cap held requests back.

use std::fmt;
use std::time::{Duration, Instant};

/// When one request was sent and answered.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    sent: Instant,
    answered: Instant,
}

impl Span {
    /// A request sent at `sent` and answered now.
    pub fn until_now(sent: Instant) -> Span {
        Span { sent, answered: Instant::now() }
    }
}

/// The requests of one kind in a sweep.
#[derive(Clone, Copy, Debug, Default)]
pub struct Phase {
    requests: u32,
    first_sent: Option<Instant>,
    last_answered: Option<Instant>,
    slowest: Duration,
}

impl Phase {
    /// Counts one request of this kind.
    pub fn add(&mut self, span: Span) {
        self.requests = self.requests.saturating_add(1);
        self.first_sent = Some(self.first_sent.map_or(span.sent, |first| first.min(span.sent)));
        self.last_answered = Some(self.last_answered.map_or(span.answered, |last| last.max(span.answered)));
        self.slowest = self.slowest.max(span.answered.saturating_duration_since(span.sent));
    }

    /// From the first request sent to the last answered; zero for none.
    pub fn wall(&self) -> Duration {
        match (self.first_sent, self.last_answered) {
            (Some(first), Some(last)) => last.saturating_duration_since(first),
            _ => Duration::ZERO,
        }
    }

    /// How many requests of this kind the sweep made.
    pub fn requests(&self) -> u32 {
        self.requests
    }
}

impl fmt::Display for Phase {
    /// `100x 812ms (slowest 640ms)`; `-` when none was made.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.requests == 0 {
            return f.write_str("-");
        }
        write!(f, "{}x {}ms (slowest {}ms)", self.requests, ms(self.wall()), ms(self.slowest))
    }
}

/// The requests of one container in a sweep.
#[derive(Clone, Copy, Debug, Default)]
pub struct ContainerSpans {
    /// Its inspect, when due.
    pub inspect: Option<Span>,
    /// Its stats, when it has counters and they come from the API.
    pub stats: Option<Span>,
    /// The read of its cgroup files, when they come from there.
    pub cgroupfs: Option<Span>,
    /// Its `top`, when due.
    pub top: Option<Span>,
    /// The longest any of them waited for a permit.
    pub queued: Duration,
}

/// The phases of one sweep.
#[derive(Clone, Copy, Debug, Default)]
pub struct SweepPhases {
    /// `_ping` and, after a (re)connect, `/version`.
    pub ping: Option<Duration>,
    /// The container list.
    pub list: Option<Duration>,
    /// Container inspects.
    pub inspect: Phase,
    /// One-shot stats.
    pub stats: Phase,
    /// Reads of cgroup files (the local source).
    pub cgroupfs: Phase,
    /// `top`.
    pub top: Phase,
    /// The size sweep (list with sizes and images), when one finished in
    /// this sweep; it runs beside the sweeps, so it adds nothing to them.
    pub sizes: Option<Duration>,
    /// The SNMP reading, when configured (concurrent with the Docker requests).
    pub snmp: Option<Duration>,
    /// The longest wait of a request for a permit.
    pub queued: Duration,
    /// Handing the sweep to the store's writer (set by the daemon once sent).
    pub handoff: Option<Duration>,
}

impl SweepPhases {
    /// Counts one container's requests.
    pub fn add(&mut self, spans: &ContainerSpans) {
        for (phase, span) in [
            (&mut self.inspect, spans.inspect),
            (&mut self.stats, spans.stats),
            (&mut self.cgroupfs, spans.cgroupfs),
            (&mut self.top, spans.top),
        ] {
            if let Some(span) = span {
                phase.add(span);
            }
        }
        self.queued = self.queued.max(spans.queued);
    }
}

impl fmt::Display for SweepPhases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let optional = |d: Option<Duration>| d.map_or_else(|| "-".to_owned(), |d| format!("{}ms", ms(d)));
        write!(
            f,
            "ping {} list {} inspect {} stats {} cgroupfs {} top {} sizes {} snmp {} queued {}ms handoff {}",
            optional(self.ping),
            optional(self.list),
            self.inspect,
            self.stats,
            self.cgroupfs,
            self.top,
            optional(self.sizes),
            optional(self.snmp),
            ms(self.queued),
            optional(self.handoff),
        )
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_spans_its_overlapping_requests() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut phase = Phase::default();
        assert_eq!(phase.to_string(), "-");
        phase.add(Span { sent: at(10), answered: at(50) });
        phase.add(Span { sent: at(0), answered: at(30) });
        phase.add(Span { sent: at(20), answered: at(90) });
        assert_eq!(phase.requests(), 3);
        assert_eq!(phase.wall(), Duration::from_millis(90));
        assert_eq!(phase.to_string(), "3x 90ms (slowest 70ms)");
    }

    #[test]
    fn the_log_line_names_every_phase() {
        let phases = SweepPhases { list: Some(Duration::from_millis(4)), ..SweepPhases::default() };
        assert_eq!(
            phases.to_string(),
            "ping - list 4ms inspect - stats - cgroupfs - top - sizes - snmp - queued 0ms handoff -"
        );
    }
}
