//! Continuous forwarding (`[[forward]]`): the collector sends stored
//! events, transitions and states on change to a syslog receiver (or a
//! file) as they are written, the alternative to `kura events --cursor`
//! from cron. The messages are `kura`'s ([`kura_query::feed`]).
//!
//! Each forwarding runs on a thread of its own (std sockets, blocking
//! sends: never inside an async task), reads the store in-process through
//! the socket server's handle, and keeps its cursor in the store's
//! `cursors` tree (written by the writer thread after each confirmed
//! chunk), so a restart neither loses nor repeats. A receiver that is away
//! delays sending: what is not yet sent stays in the store; past `backlog`
//! messages the oldest are skipped, and the number is told in one warning
//! when the receiver is back (or the collector stops). Sending is retried
//! with a back-off from 1 s to 30 s.

use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kura_query::cursor::{Cursor, TransitionPosition};
use kura_query::export::syslog::target::{Sender, Target};
use kura_query::export::syslog::{Severity, Stamp, SyslogFormat, Zone};
use kura_query::feed::{self, events, states, transitions, Advance, Entry, Hostname, Severities, Style};
use kura_query::transition::{self, NS_PER_MS};
use kura_store::config::FileForward;
use kura_store::socket::HandleSlot;
use kura_store::{Reader, StoreError};
use tokio::sync::watch;

use crate::config::HostConfig;
use crate::writer::Job;

/// Messages held while a receiver is away, by default.
pub const DEFAULT_BACKLOG: usize = 10_000;
/// How often new history is looked for, by default.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(2);
/// The longest wait between two tries of a receiver that is away.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A validated `[[forward]]`.
#[derive(Clone, Debug)]
pub struct Forward {
    /// The name: its cursor in the store.
    pub name: String,
    /// Where to.
    pub target: Target,
    /// Send stored events.
    pub events: bool,
    /// Send transitions.
    pub transitions: bool,
    /// Send states when they change.
    pub states: bool,
    /// The hosts whose history is sent.
    pub hosts: Vec<String>,
    /// Facility, TAG, date form (in this machine's local time).
    pub format: SyslogFormat,
    /// Whose name the HOSTNAME carries (each feed's default when `None`).
    pub hostname: Option<Hostname>,
    /// Severity overrides, `KEY=LEVEL`.
    pub severity: Vec<String>,
    /// Messages held while the receiver is away.
    pub backlog: usize,
    /// How often new history is looked for.
    pub every: Duration,
    /// Bound on each connect, send and confirmation.
    pub timeout: Duration,
}

impl Forward {
    /// Checks a `[[forward]]` table against the configured hosts; the
    /// error names the forwarding and the key.
    pub fn resolve(file: &FileForward, hosts: &[HostConfig]) -> Result<Forward, String> {
        let name = &file.name;
        let bad = |key: &str, reason: String| format!("forward {name:?}: {key}: {reason}");
        kura_query::cursor::CursorFile::check_name(name).map_err(|e| bad("name", e.to_string()))?;
        let target = match (&file.target, &file.file) {
            (Some(url), None) => url.parse().map_err(|e| bad("target", e))?,
            (None, Some(path)) => Target::File(path.clone()),
            _ => return Err(bad("target", "give exactly one of target = \"udp://...\" or file = \"...\"".into())),
        };
        let mut forward = Forward {
            name: name.clone(),
            target,
            events: false,
            transitions: false,
            states: false,
            hosts: Vec::new(),
            format: SyslogFormat::default(),
            hostname: None,
            severity: file.severity.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            backlog: file.backlog.unwrap_or(DEFAULT_BACKLOG),
            every: DEFAULT_EVERY,
            timeout: Duration::from_secs(5),
        };
        for what in &file.send {
            match what.as_str() {
                "events" => forward.events = true,
                "transitions" => forward.transitions = true,
                "states" => forward.states = true,
                other => return Err(bad("send", format!("{other:?} is none of events, transitions, states"))),
            }
        }
        if file.send.is_empty() {
            return Err(bad("send", "name at least one of events, transitions, states".into()));
        }
        forward.hosts = match &file.hosts {
            Some(names) => {
                for host in names {
                    if !hosts.iter().any(|h| &h.name == host) {
                        return Err(bad("hosts", format!("{host:?} is not a configured host")));
                    }
                }
                names.clone()
            }
            None => hosts.iter().map(|h| h.name.clone()).collect(),
        };
        if forward.backlog == 0 {
            return Err(bad("backlog", "must be at least 1".into()));
        }
        if let Some(text) = &file.every {
            forward.every =
                kura_store::config::duration(&format!("forward {name}: every"), text).map_err(|e| e.to_string())?;
        }
        if let Some(text) = &file.timeout {
            forward.timeout =
                kura_store::config::duration(&format!("forward {name}: timeout"), text).map_err(|e| e.to_string())?;
        }
        if let Some(facility) = &file.facility {
            forward.format.facility = facility.parse().map_err(|e| bad("facility", e))?;
        }
        if let Some(tag) = &file.tag {
            forward.format = forward.format.with_tag(tag).map_err(|e| bad("tag", e))?;
        }
        forward.format.stamp = match file.timestamp.as_deref() {
            None | Some("rfc3164") => Stamp::Rfc3164,
            Some("rfc3339") => Stamp::Rfc3339,
            Some(other) => return Err(bad("timestamp", format!("{other:?}: use rfc3164 or rfc3339"))),
        };
        forward.format.zone = Zone::Local;
        forward.hostname = match file.hostname.as_deref() {
            None => None,
            Some("id") => Some(Hostname::Id),
            Some("name") => Some(Hostname::Name),
            Some("host") => Some(Hostname::Host),
            Some(other) => return Err(bad("hostname", format!("{other:?}: use id, name or host"))),
        };
        // The severities of every feed accept the overrides.
        forward.style(Hostname::Id, &transitions::severities()).map_err(|e| bad("severity", e))?;
        Ok(forward)
    }

    fn style(&self, hostname: Hostname, severities: &[(&str, Severity)]) -> Result<Style, String> {
        Ok(Style {
            format: self.format.clone(),
            hostname: self.hostname.unwrap_or(hostname),
            severities: Severities::new(severities, &self.severity)?,
        })
    }
}

/// Starts a forwarding's thread; it ends when `stop` turns true. It must
/// end before the writer is finished (it holds a sender of jobs).
pub fn spawn(
    forward: Forward,
    slot: HandleSlot,
    writer: SyncSender<Job>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(format!("forward-{}", forward.name)).spawn(move || {
        let mut forwarder = match Forwarder::new(forward, &slot, writer) {
            Ok(forwarder) => forwarder,
            Err(e) => {
                tracing::error!("{e}");
                return;
            }
        };
        forwarder.run(&slot, &stop);
    })
}

/// A time the receiver was away.
struct Outage {
    since: Instant,
    reason: String,
    dropped: u64,
}

struct Forwarder {
    forward: Forward,
    sender: Sender,
    writer: SyncSender<Job>,
    cursor: Cursor,
    stored: Option<Vec<u8>>,
    /// Where a forwarding without a position begins: its first start.
    start_ns: i64,
    styles: [Style; 3],
    outage: Option<Outage>,
    backoff: Duration,
    /// The moves of a chunk sent to a receiver that has not confirmed it yet.
    in_flight: Vec<Advance>,
    /// The newest sweep whose states were compared, per host.
    states_of: std::collections::BTreeMap<String, i64>,
    /// The last store error told (each is told once).
    store_error: Option<String>,
}

impl Forwarder {
    fn new(forward: Forward, slot: &HandleSlot, writer: SyncSender<Job>) -> Result<Forwarder, String> {
        let name = forward.name.clone();
        let stored = match slot.get() {
            Some(handle) => Reader::Handle(handle).cursor(&name).map_err(|e| format!("forward {name}: {e}"))?,
            None => None,
        };
        let cursor = match &stored {
            Some(bytes) => serde_json::from_slice(bytes)
                .map_err(|e| format!("forward {name}: its stored cursor does not decode ({e}); not forwarding"))?,
            None => Cursor::default(),
        };
        let styles = [
            forward.style(Hostname::Host, events::SEVERITIES)?,
            forward.style(Hostname::Id, &transitions::severities())?,
            forward.style(Hostname::Id, states::SEVERITIES)?,
        ];
        Ok(Forwarder {
            sender: Sender::new(forward.target.clone(), forward.timeout),
            forward,
            writer,
            cursor,
            stored,
            start_ns: chrono::Utc::now().timestamp_millis().saturating_mul(NS_PER_MS),
            styles,
            outage: None,
            backoff: Duration::from_secs(1),
            in_flight: Vec::new(),
            states_of: std::collections::BTreeMap::new(),
            store_error: None,
        })
    }

    fn run(&mut self, slot: &HandleSlot, stop: &watch::Receiver<bool>) {
        tracing::info!(forward = %self.forward.name, target = %self.forward.target, "forwarding");
        let mut next = Instant::now();
        while !*stop.borrow() {
            if Instant::now() < next {
                std::thread::sleep(Duration::from_millis(100).min(next - Instant::now()));
                continue;
            }
            // No handle while the writer reopens a store that refused a write.
            let Some(handle) = slot.get() else {
                next = Instant::now() + self.forward.every;
                continue;
            };
            let wait = match self.cycle(&Reader::Handle(handle)) {
                Ok(()) => {
                    self.store_error = None;
                    self.forward.every
                }
                Err(Failure::Store(e)) => {
                    let reason = e.to_string();
                    if self.store_error.as_ref() != Some(&reason) {
                        tracing::warn!(forward = %self.forward.name, "reading the store: {reason}");
                        self.store_error = Some(reason);
                    }
                    self.forward.every
                }
                Err(Failure::Send(reason)) => self.away(reason),
            };
            next = Instant::now() + wait;
        }
        if let Some(outage) = self.outage.take() {
            self.report(&outage, "the collector stopped while it was away");
        }
    }

    /// One look at the store: everything after the cursor, sent.
    fn cycle(&mut self, reader: &Reader) -> Result<(), Failure> {
        // A chunk a stalled receiver has not confirmed: wait for it rather
        // than send it again.
        if self.sender.awaits_confirmation() {
            match self.sender.confirm() {
                Ok(()) => {
                    for advance in std::mem::take(&mut self.in_flight) {
                        self.cursor.apply(&advance);
                    }
                    self.persist();
                }
                Err(e @ kura_query::export::syslog::target::SendError::Unconfirmed { .. }) => {
                    return Err(Failure::Send(e.to_string()))
                }
                // Its connection broke: it goes again.
                Err(_) => self.in_flight.clear(),
            }
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        let now_ns = now_ms.saturating_mul(NS_PER_MS);
        let mut entries: Vec<Entry> = Vec::new();
        let mut settled = Vec::new();
        let stored = reader.hosts()?;
        // A configured host the collector has not swept yet has nothing.
        for host in self.forward.hosts.iter().filter(|host| stored.contains(host)) {
            if self.forward.events {
                let after = self.cursor.events.get(host).copied();
                let found = events::read(reader, host, after, self.start_ns, now_ns)?;
                entries.extend(events::entries(host, &found, &self.styles[0]));
            }
            if self.forward.transitions {
                if let Some(until) = transition::settled_until(reader, host)? {
                    let position = self.cursor.transitions.get(host);
                    let found = transitions::after(reader, host, position, self.start_ns, until)?;
                    entries.extend(transitions::entries(&found, &self.styles[1]));
                    settled.push((host.clone(), until));
                }
            }
            // States change only with a sweep: compared once per sweep.
            let newest = reader.latest_sweep(host)?.map(|sweep| sweep.time);
            if self.forward.states && newest != self.states_of.get(host).copied() {
                if let Some(newest) = newest {
                    self.states_of.insert(host.clone(), newest);
                }
                if let Some(current) = states::current(reader, host, now_ms)? {
                    let listed = current.iter().map(|s| s.id.clone()).collect();
                    let sent = self.cursor.states.get(host).cloned().unwrap_or_default();
                    let time_ns = current.first().map_or(now_ns, |s| s.time_ns);
                    let changed = states::changes(&current, &sent, &listed, time_ns, host);
                    entries.extend(states::entries(&changed, &self.styles[2]));
                }
            }
        }
        // Oldest first across hosts and feeds (each feed's own order kept).
        entries.sort_by_key(|entry| entry.message.time_ns);
        if entries.len() > self.forward.backlog {
            let over = entries.len() - self.forward.backlog;
            for entry in entries.drain(..over) {
                self.cursor.apply(&entry.advance);
            }
            if let Some(outage) = &mut self.outage {
                outage.dropped += u64::try_from(over).unwrap_or(u64::MAX);
            } else {
                tracing::warn!(forward = %self.forward.name, dropped = over, "more than the backlog of {} messages at once: the oldest were skipped", self.forward.backlog);
            }
            self.persist();
        }
        let (writer, name) = (&self.writer, &self.forward.name);
        let cursor = &mut self.cursor;
        let stored = &mut self.stored;
        let delivered = feed::deliver(&mut self.sender, &self.forward.format, &entries, |chunk| {
            for entry in chunk {
                cursor.apply(&entry.advance);
            }
            persist(writer, name, cursor, stored);
            Ok::<(), std::convert::Infallible>(())
        });
        match delivered {
            Ok(_) => {}
            Err(feed::DeliverError::Send { sent, pending, source, .. }) => {
                self.in_flight = entries.iter().skip(sent).take(pending).map(|e| e.advance.clone()).collect();
                return Err(Failure::Send(source.to_string()));
            }
            Err(feed::DeliverError::Commit { source, .. }) => match source {},
        }
        for (host, until) in settled {
            let through = TransitionPosition::through(until);
            if self.cursor.transitions.get(&host).is_none_or(|p| p.time_ns < until) {
                self.cursor.transitions.insert(host, through);
            }
        }
        self.persist();
        if let Some(outage) = self.outage.take() {
            self.report(&outage, "it is back");
        }
        self.backoff = Duration::from_secs(1);
        Ok(())
    }

    /// The receiver is away: the first failure is told, then retried with back-off.
    fn away(&mut self, reason: String) -> Duration {
        match &mut self.outage {
            Some(outage) => outage.reason = reason,
            None => {
                tracing::warn!(
                    forward = %self.forward.name,
                    "cannot send to {}: {reason}; keeping up to {} messages and retrying with back-off",
                    self.forward.target,
                    self.forward.backlog
                );
                self.outage = Some(Outage { since: Instant::now(), reason, dropped: 0 });
            }
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        wait
    }

    /// One line for a whole outage, with what it cost.
    fn report(&self, outage: &Outage, end: &str) {
        let away = outage.since.elapsed().as_secs();
        if outage.dropped > 0 {
            tracing::warn!(
                forward = %self.forward.name,
                dropped = outage.dropped,
                "{} was away for {away} s ({}), and {end}: the {} oldest messages beyond the backlog of {} were dropped",
                self.forward.target,
                outage.reason,
                outage.dropped,
                self.forward.backlog
            );
        } else {
            tracing::info!(forward = %self.forward.name, "{} was away for {away} s ({}), and {end}: nothing was lost", self.forward.target, outage.reason);
        }
    }

    fn persist(&mut self) {
        persist(&self.writer, &self.forward.name, &self.cursor, &mut self.stored);
    }
}

/// Hands the cursor to the writer when it moved.
fn persist(writer: &SyncSender<Job>, name: &str, cursor: &Cursor, stored: &mut Option<Vec<u8>>) {
    let Ok(value) = serde_json::to_vec(cursor) else { return };
    if stored.as_ref() == Some(&value) {
        return;
    }
    // The writer is gone only when the collector stops.
    let _ = writer.send(Job::Cursor { name: name.to_owned(), value: value.clone() });
    *stored = Some(value);
}

enum Failure {
    Store(StoreError),
    Send(String),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure::Store(error)
    }
}
