//! Following a host's Docker events: one long-lived `/events` stream per
//! host, read promptly (the daemon drops events for a listener that lags
//! 100 ms), handed to the next sweep's batch, and resumed after a
//! disconnect from the newest event seen (`since`), so that none is lost.
//! The store keys an event by its daemon time and a hash of its content, so
//! the event at `since`, which the daemon sends again, is stored once.
//!
//! With no stored event, the stream starts at `since=0`: the daemon answers
//! with what it still holds (its last 256 events), then follows live.
//!
//! Each (re)connection negotiates the API version anew, so that a daemon
//! restarted as another version is spoken to in its own. Docker sends
//! nothing on a quiet stream, so a half-open connection (a remote daemon
//! gone without a word) cannot be told from quiet: a stream silent for
//! [`idle_timeout`] is reopened from its cursor, which loses nothing. A
//! line longer than [`MAX_LINE`](crate::docker::MAX_LINE) (an event with
//! huge labels) is skipped with a warning rather than met again at every
//! reconnection.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::docker::{DockerClient, LineStream};
use kura_store::payload::Event;
use kura_store::sample::UnixMillis;
use kura_store::EventRecord;

/// Events waiting for the next sweep's batch, and the newest time seen.
#[derive(Clone, Debug, Default)]
pub struct EventBuffer(Arc<Mutex<Pending>>);

#[derive(Debug, Default)]
struct Pending {
    events: VecDeque<EventRecord>,
    newest_ns: Option<i64>,
    /// Long lines the current stream skipped, as last reported.
    skipped_seen: u64,
}

/// Events held at most between two sweeps; past this the oldest are
/// dropped (and counted in a warning), so a stalled writer cannot grow memory.
pub const MAX_PENDING: usize = 10_000;

impl EventBuffer {
    /// A buffer that resumes after `newest_ns` (the newest stored event).
    pub fn new(newest_ns: Option<i64>) -> EventBuffer {
        EventBuffer(Arc::new(Mutex::new(Pending { events: VecDeque::new(), newest_ns, skipped_seen: 0 })))
    }

    fn with<R>(&self, f: impl FnOnce(&mut Pending) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Adds one event.
    pub fn push(&self, event: EventRecord) {
        self.with(|pending| {
            pending.newest_ns = Some(pending.newest_ns.map_or(event.time_ns, |n| n.max(event.time_ns)));
            if pending.events.len() >= MAX_PENDING {
                pending.events.pop_front();
                tracing::warn!("more than {MAX_PENDING} events between two sweeps: dropping the oldest");
            }
            pending.events.push_back(event);
        });
    }

    /// Takes the events gathered since the last call.
    pub fn take(&self) -> Vec<EventRecord> {
        self.with(|pending| std::mem::take(&mut pending.events).into())
    }

    /// The `since` parameter to resume from: `SECONDS.NANOS` of the newest
    /// event seen, or `0`.
    pub fn since(&self) -> String {
        match self.with(|pending| pending.newest_ns) {
            Some(ns) => format!("{}.{:09}", ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000)),
            None => "0".to_owned(),
        }
    }
}

/// Parses one line of the events stream; `None` (after a warning) for a
/// line that is not an event object with a `timeNano`.
pub fn parse_line(host: &str, line: &[u8]) -> Option<EventRecord> {
    let event: Event = match serde_json::from_slice(line) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(host, "events: a line that is not an event: {e}");
            return None;
        }
    };
    // Daemons before API 1.22 give seconds only.
    let time_ns = event.time_nano.or_else(|| event.time.and_then(|s| s.checked_mul(1_000_000_000)));
    match time_ns {
        Some(time_ns) => Some(EventRecord { time_ns, event }),
        None => {
            tracing::warn!(host, "events: an event without timeNano or time");
            None
        }
    }
}

/// Follows the host's events until `stop`, reconnecting with backoff.
pub async fn follow(client: Option<DockerClient>, host: String, buffer: EventBuffer, mut stop: watch::Receiver<bool>) {
    let Some(mut client) = client else { return };
    let mut backoff = Duration::from_secs(1);
    let mut last_error: Option<String> = None;
    loop {
        let result = tokio::select! {
            result = stream_events(&mut client, &host, &buffer) => result,
            _ = stop.changed() => return,
        };
        match result {
            Ok(()) => backoff = Duration::from_secs(1),
            Err(reason) => {
                if last_error.as_deref() != Some(reason.as_str()) {
                    tracing::warn!(host, "events: {reason}; retrying with backoff");
                    last_error = Some(reason);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// How long a stream may say nothing before it is reopened: twelve request
/// timeouts (a minute at the default).
pub fn idle_timeout(client: &DockerClient) -> Duration {
    client.timeout() * 12
}

async fn stream_events(client: &mut DockerClient, host: &str, buffer: &EventBuffer) -> Result<(), String> {
    client.negotiate().await.map_err(|e| e.to_string())?;
    let mut stream = client.stream(&format!("/events?since={}", buffer.since())).await.map_err(|e| e.to_string())?;
    tracing::debug!(host, api = ?client.api_version(), "events: following");
    let idle = idle_timeout(client);
    loop {
        let line = match tokio::time::timeout(idle, stream.next_line()).await {
            Ok(line) => line.map_err(|e| e.to_string())?,
            Err(_) => {
                tracing::debug!(host, "events: nothing for {idle:?}; reopening the stream from its cursor");
                return Ok(());
            }
        };
        note_skipped(host, &stream, buffer);
        let Some(line) = line else { return Ok(()) };
        if let Some(event) = parse_line(host, &line) {
            buffer.push(event);
        }
    }
}

/// Warns once per line the stream skipped for its length.
fn note_skipped(host: &str, stream: &LineStream, buffer: &EventBuffer) {
    let skipped = stream.skipped();
    if buffer.with(|pending| std::mem::replace(&mut pending.skipped_seen, skipped)) < skipped {
        tracing::warn!(
            host,
            "events: skipped a line longer than {} bytes (an event with huge labels?): that event is not stored",
            crate::docker::MAX_LINE
        );
    }
}

/// For `--once`: the events from the newest stored one up to `now`.
pub async fn catch_up(client: &DockerClient, host: &str, buffer: &EventBuffer, now: UnixMillis) {
    let until = now.div_euclid(1000) + 1;
    let path = format!("/events?since={}&until={until}", buffer.since());
    let mut stream = match client.stream(&path).await {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(host, "events: {e}");
            return;
        }
    };
    loop {
        let line = stream.next_line().await;
        note_skipped(host, &stream, buffer);
        match line {
            Ok(Some(line)) => {
                if let Some(event) = parse_line(host, &line) {
                    buffer.push(event);
                }
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(host, "events: {e}");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_resumes_at_the_newest_event_with_nanoseconds() {
        let buffer = EventBuffer::new(None);
        assert_eq!(buffer.since(), "0");
        let line = br#"{"Type":"container","Action":"start","time":1700000000,"timeNano":1700000000000000042}"#;
        let event = parse_line("h", line);
        assert_eq!(event.as_ref().map(|e| e.time_ns), Some(1_700_000_000_000_000_042));
        if let Some(event) = event {
            buffer.push(event);
        }
        assert_eq!(buffer.since(), "1700000000.000000042");
        assert_eq!(buffer.take().len(), 1);
        assert!(buffer.take().is_empty());
        assert_eq!(buffer.since(), "1700000000.000000042");
    }

    #[test]
    fn lines_that_are_not_events_are_refused() {
        assert!(parse_line("h", b"not json").is_none());
        assert!(parse_line("h", br#"{"Type":"container"}"#).is_none());
        let legacy = parse_line("h", br#"{"status":"start","id":"abc","time":12}"#);
        assert_eq!(legacy.map(|e| e.time_ns), Some(12_000_000_000));
    }
}
