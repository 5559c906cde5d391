//! Feeds: the lines of `kura events`, `kura transitions` and `kura
//! states`, one per event, transition or container, printed on stdout,
//! appended to a file or sent as syslog messages, and how far a cursor has
//! come ([`crate::cursor`]).
//!
//! Each item is an [`Entry`]: its line (stdout and files), its syslog
//! message, and how the cursor moves once it is delivered. [`deliver`]
//! sends entries in chunks and commits the cursor after each confirmed
//! chunk, so a run that fails midway resumes after the last confirmed one.
//! The collector's forwarding uses the same entries and the same delivery.
//!
//! - [`command`]: what the three commands do.
//! - [`events`]: stored Docker events.
//! - [`transitions`]: [`crate::transition`]s, and their text, CSV, JSON and summary forms.
//! - [`states`]: each container's state in the sweep in force, and the changes since a cursor.

pub mod command;
pub mod events;
pub mod states;
pub mod transitions;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use clap::ValueEnum;

use crate::cursor::{Cursor, EventPosition, TransitionPosition};
use crate::export::syslog::target::{SendError, Sender};
use crate::export::syslog::{first_hostname, Message, Severity, SyslogFormat};
use crate::transition::Phase;

/// Messages sent between two confirmations: how many a failed run may
/// send again (over TCP the receiver may have read some of them).
pub const CHUNK: usize = 200;

/// One item of a feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// As printed on stdout and appended to files.
    pub line: String,
    /// As sent to a syslog receiver.
    pub message: Message,
    /// How the cursor moves once this entry is delivered.
    pub advance: Advance,
}

/// A cursor's move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Advance {
    /// The host's events up to this one are sent.
    Event {
        /// The host.
        host: String,
        /// The event.
        position: EventPosition,
    },
    /// The host's transitions up to here are sent.
    Transition {
        /// The host.
        host: String,
        /// How far.
        position: TransitionPosition,
    },
    /// A container's state was sent (`None`: it is gone, forget it).
    State {
        /// The host.
        host: String,
        /// The full container id.
        id: String,
        /// The state sent.
        phase: Option<Phase>,
    },
}

impl Cursor {
    /// Moves the cursor past an entry.
    pub fn apply(&mut self, advance: &Advance) {
        match advance {
            Advance::Event { host, position } => {
                self.events.insert(host.clone(), *position);
            }
            Advance::Transition { host, position } => {
                self.transitions.insert(host.clone(), position.clone());
            }
            Advance::State { host, id, phase } => {
                let states = self.states.entry(host.clone()).or_default();
                match phase {
                    Some(phase) => states.insert(id.clone(), *phase),
                    None => states.remove(id),
                };
            }
        }
    }
}

/// Which name a message's HOSTNAME carries (falling back to the container
/// id, then the host, when a name is not made of `[A-Za-z0-9./_-]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Hostname {
    /// The container's 12-character id: how the 2015 node repository named
    /// container nodes (host name = id12).
    Id,
    /// The container's name.
    Name,
    /// The Docker host's name, as the collector names it.
    Host,
}

impl Hostname {
    /// The HOSTNAME for an item of `host` about a container (`id12`,
    /// `name`), or about the host itself (`None`).
    pub fn pick(self, host: &str, container: Option<(&str, &str)>) -> String {
        let chosen = match (self, container) {
            (Hostname::Id, Some((id12, _))) => first_hostname([id12, host]),
            (Hostname::Name, Some((id12, name))) => first_hostname([name, id12, host]),
            _ => first_hostname([host]),
        };
        // Host names are checked by the configuration; "-" only for a store
        // written by something else.
        chosen.unwrap_or("-").to_owned()
    }
}

/// Severities by key (a state, `removed`, an event action, `oom`,
/// `unhealthy`), over a feed's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Severities(BTreeMap<String, Severity>);

impl Severities {
    /// The defaults of a feed, then `overrides` (`KEY=LEVEL`, e.g.
    /// `exited=crit`); an unusable override is an error naming it.
    pub fn new(defaults: &[(&str, Severity)], overrides: &[String]) -> Result<Severities, String> {
        let mut map: BTreeMap<String, Severity> = defaults.iter().map(|(k, s)| ((*k).to_owned(), *s)).collect();
        for entry in overrides {
            let (key, level) = entry
                .split_once('=')
                .filter(|(key, _)| !key.is_empty())
                .ok_or_else(|| format!("--severity {entry:?}: expected KEY=LEVEL, e.g. exited=crit"))?;
            let level: Severity = level.parse().map_err(|e| format!("--severity {entry:?}: {e}"))?;
            map.insert(key.to_owned(), level);
        }
        Ok(Severities(map))
    }

    /// The severity of `key`, else `fallback`.
    pub fn of(&self, key: &str, fallback: Severity) -> Severity {
        self.0.get(key).copied().unwrap_or(fallback)
    }
}

/// How a feed's messages are written and addressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Style {
    /// Facility, TAG, date form and zone.
    pub format: SyslogFormat,
    /// Whose name is the HOSTNAME.
    pub hostname: Hostname,
    /// Severity per key.
    pub severities: Severities,
}

/// A delivery that stopped.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError<E: std::error::Error + 'static> {
    /// A message could not be sent or confirmed.
    #[error("{sent} of {total} sent and confirmed; the rest will go next time")]
    Send {
        /// Entries delivered before the failure.
        sent: usize,
        /// Entries to deliver.
        total: usize,
        /// Entries after `sent` that were sent and await their confirmation
        /// ([`Sender::awaits_confirmation`]): neither delivered nor lost.
        pending: usize,
        /// Why.
        #[source]
        source: SendError,
    },
    /// The cursor could not be committed after a confirmed chunk.
    #[error("{sent} of {total} sent, but the cursor could not be saved after them")]
    Commit {
        /// Entries delivered (and committed) before.
        sent: usize,
        /// Entries to deliver.
        total: usize,
        /// Why.
        #[source]
        source: E,
    },
}

/// Sends `entries` through `sender` in chunks of [`CHUNK`]: each chunk is
/// sent, confirmed, then `commit`ted (the caller moves and saves its
/// cursor). Returns how many were delivered; stops at the first failure,
/// after which nothing of the failed chunk is committed (a chunk whose
/// confirmation timed out is left pending in `sender`: see
/// [`DeliverError::Send`]).
pub fn deliver<E: std::error::Error + 'static>(
    sender: &mut Sender,
    format: &SyslogFormat,
    entries: &[Entry],
    mut commit: impl FnMut(&[Entry]) -> Result<(), E>,
) -> Result<usize, DeliverError<E>> {
    let total = entries.len();
    let syslog = sender.target().is_syslog();
    let max = sender.target().max_bytes();
    let mut sent = 0;
    for chunk in entries.chunks(CHUNK) {
        let attempt = chunk
            .iter()
            .try_for_each(|entry| {
                let bytes = if syslog { format.encode(&entry.message, max) } else { entry.line.clone().into_bytes() };
                sender.send(&bytes)
            })
            .and_then(|()| sender.confirm());
        if let Err(source) = attempt {
            let pending = if sender.awaits_confirmation() { chunk.len() } else { 0 };
            return Err(DeliverError::Send { sent, total, pending, source });
        }
        commit(chunk).map_err(|source| DeliverError::Commit { sent, total, source })?;
        sent += chunk.len();
    }
    Ok(sent)
}

/// A token of a line: as it is when it is plain (no space, quote,
/// backslash, `=` or control character), else in double quotes with `\"`,
/// `\\`, `\n`, `\r`, `\t` and `\u{..}` escapes. Non-ASCII text stays as it is.
pub fn quote(token: &str) -> Cow<'_, str> {
    let plain = !token.is_empty()
        && !token.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\\' | '='));
    if plain {
        return Cow::Borrowed(token);
    }
    let mut out = String::with_capacity(token.len() + 2);
    out.push('"');
    for c in token.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Cow::Owned(out)
}

/// The first 12 characters of an id (after a `sha256:` prefix).
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.get(..12).filter(|_| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_quoted_only_when_they_must_be() {
        assert_eq!(quote("web-1"), "web-1");
        assert_eq!(quote("wébサーバ"), "wébサーバ");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("k=v"), "\"k=v\"");
        assert_eq!(quote("say \"hi\"\\\n\r\t\0"), "\"say \\\"hi\\\"\\\\\\n\\r\\t\\u{0}\"");
    }

    #[test]
    fn hostnames_fall_back_to_the_id_then_the_host() {
        let id = "90b56eb899e7";
        assert_eq!(Hostname::Id.pick("h1", Some((id, "web"))), id);
        assert_eq!(Hostname::Name.pick("h1", Some((id, "web"))), "web");
        assert_eq!(Hostname::Name.pick("h1", Some((id, "wéb"))), id);
        assert_eq!(Hostname::Host.pick("h1", Some((id, "web"))), "h1");
        assert_eq!(Hostname::Id.pick("h1", None), "h1");
    }

    #[test]
    fn severities_take_overrides_and_refuse_nonsense() {
        let s = Severities::new(&[("running", Severity::Info)], &["exited=crit".to_owned()]).unwrap();
        assert_eq!(s.of("running", Severity::Debug), Severity::Info);
        assert_eq!(s.of("exited", Severity::Debug), Severity::Critical);
        assert_eq!(s.of("paused", Severity::Notice), Severity::Notice);
        assert!(Severities::new(&[], &["exited".to_owned()]).is_err());
        assert!(Severities::new(&[], &["exited=loud".to_owned()]).is_err());
    }

    #[test]
    fn ids_are_shortened_when_they_are_digests() {
        let id = "90b56eb899e7aaaabbbbccccddddeeeeffff0000111122223333444455556666";
        assert_eq!(short_id(id), "90b56eb899e7");
        assert_eq!(short_id(&format!("sha256:{id}")), "90b56eb899e7");
        assert_eq!(short_id("busybox:latest"), "busybox:latest");
    }
}
