//! Every change of a container's state, derived from stored history: the
//! daemon's events say what happened between sweeps, the sweeps' inspect
//! details catch what the events missed (the daemon keeps only its last 256
//! events and loses them when it restarts; a listener that lags drops them),
//! and each change carries what explains it where it is known: the exit
//! code, an OOM kill, the signal, a restart by the restart policy or by
//! hand, a health status, a rename, a removal.
//!
//! This is the one place that reads transitions; the CLI (`kura
//! transitions`, `kura restarts`, `kura oom`), the syslog forwarding, the
//! history export and the Prometheus endpoint all count from it:
//!
//! ```no_run
//! # fn main() -> Result<(), kura_store::StoreError> {
//! use kura_query::transition::{self, NS_PER_MS};
//! let reader = kura_store::Reader::open(std::path::Path::new("/var/lib/kura"))?;
//! let now_ns = chrono::Utc::now().timestamp_millis() * NS_PER_MS;
//! let hour_ns = 3_600 * 1_000_000_000;
//! let transitions = transition::history(&reader, "docker_host1", now_ns - hour_ns, now_ns)?;
//! for (id, tally) in transition::tally(&transitions) {
//!     println!("{id}: {} restarts, {} OOM kills", tally.restarts(), tally.oom_kills);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # How events and sweeps are read together
//!
//! Facts from moby's source this module relies on:
//! - `docker stop` gives `kill`(15) [`kill`(9)] `die` `stop`; `docker
//!   restart` gives `kill` `die` `stop` `start` `restart`; a restart by the
//!   policy gives `die` `start` (and only this path raises `RestartCount`;
//!   between the two the container is `restarting`); an OOM kill `oom`
//!   `die` [`start`]; `docker rm -f` `kill` `die` `destroy`; `docker kill`
//!   marks the container stopped by hand, so its policy does not restart it.
//! - `die` carries `exitCode`, `kill` `signal`, `rename` `oldName`; health
//!   changes arrive as the action `health_status: <status>`. Every container
//!   event also carries the container's labels in the same map, copied
//!   after these, so a label of the same name overwrites them: such
//!   attributes are not believed ([`trusted_attribute`]), and inspect's
//!   `State.ExitCode` is preferred to `exitCode` whenever the details of a
//!   sweep describe the same exit.
//! - Every (re)start clears `State.OOMKilled` and `State.ExitCode`, and a
//!   start or restart by hand resets `RestartCount` to 0: counts come from
//!   transitions, never from inspect alone.
//!
//! The details a sweep records describe the container as inspect saw it
//! some time after the sweep began, possibly after events that are stored
//! with later times; a recorded state is taken as consistent with the
//! events when the container had it at any moment between the sweep and
//! the next one. A state the events never gave is a change they missed:
//! it appears at the sweep's time, marked [`Source::Sweep`]. So does a
//! container that vanished from the sweeps without a `destroy` event, and
//! restarts by policy that `RestartCount` counted but no event reported.
//!
//! Transitions are derived from a little before the window asked for
//! ([`CONTEXT_NS`]), so that the window's first changes are explained as
//! well as the others.

mod derive;
mod read;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use kura_store::sample::State;
use serde::{Deserialize, Serialize};

pub use derive::{derive, ContainerInput, Seen};
pub use read::{history, settled_until, CONTEXT_NS};

/// Nanoseconds per millisecond: sweeps are stored in ms, events in ns.
pub const NS_PER_MS: i64 = 1_000_000;

/// Where a container is in its life: not there yet, one of Docker's
/// states, or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Not created yet (or not known to exist): `none`.
    Absent,
    /// One of Docker's states.
    Is(State),
    /// Removed: `removed`.
    Removed,
}

impl Phase {
    /// The name as printed: `none`, a Docker state name, or `removed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Absent => "none",
            Phase::Is(state) => state.as_str(),
            Phase::Removed => "removed",
        }
    }

    /// Parses what [`as_str`](Phase::as_str) prints.
    pub fn parse(name: &str) -> Option<Phase> {
        match name {
            "none" => Some(Phase::Absent),
            "removed" => Some(Phase::Removed),
            other => State::from_docker(other).map(Phase::Is),
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Phase {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Phase {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Phase, D::Error> {
        let name = String::deserialize(deserializer)?;
        Phase::parse(&name)
            .ok_or_else(|| serde::de::Error::invalid_value(serde::de::Unexpected::Str(&name), &"a container phase"))
    }
}

/// How a container came to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Start {
    /// Its first start after `create` (`docker run`, `docker start` of a new container).
    First,
    /// Restarted by its restart policy (the daemon raised `RestartCount`).
    Policy,
    /// Restarted by hand: `docker restart`.
    Restart,
    /// Started by hand after it had stopped: `docker start`.
    Hand,
}

/// How a run ended, beyond its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// `docker stop`.
    Stop,
    /// `docker kill` (a signal sent by hand, no `stop` after it).
    Kill,
    /// The stop half of `docker restart`.
    Restart,
    /// `docker rm -f` of a running container.
    Remove,
}

/// What a transition was learnt from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A Docker event.
    Event,
    /// A sweep: the events that would have said it were lost.
    Sweep,
}

/// One change of a container, with what explains it where known.
///
/// `from` and `to` are equal for the changes that are not a change of state:
/// a health status, a rename, an OOM kill that did not end the container's
/// main process, a restart that only a sweep's `RestartCount` reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// When it happened (the event's time; a sweep's time for changes seen
    /// by a sweep), Unix nanoseconds.
    pub time_ns: i64,
    /// The host, as the collector names it.
    pub host: String,
    /// The full container id.
    pub id: String,
    /// The container's name at that time.
    pub name: String,
    /// Before.
    pub from: Phase,
    /// After.
    pub to: Phase,
    /// The exit code, for a run that ended (inspect's when a sweep saw that
    /// exit, else the event's `exitCode`).
    pub exit_code: Option<i64>,
    /// The kernel's OOM killer killed a process of the container (the run
    /// ended by it when `to` is `exited` or `restarting`).
    pub oom_killed: bool,
    /// The last signal sent to the container by hand before its run ended.
    pub signal: Option<i64>,
    /// How it came to run, for a start.
    pub started: Option<Start>,
    /// How its run was ended by hand, if it was.
    pub stopped: Option<Stop>,
    /// Its new health status (`healthy`, `unhealthy`, `starting`), for a
    /// health change.
    pub health: Option<String>,
    /// Its previous name, for a rename.
    pub renamed_from: Option<String>,
    /// Learnt from an event or from a sweep.
    pub source: Source,
}

impl Transition {
    /// The first 12 characters of the container id.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }

    /// Whether this is a restart: by the policy or by `docker restart`.
    pub fn is_restart(&self) -> bool {
        matches!(self.started, Some(Start::Policy | Start::Restart))
    }

    /// What explains the change, in words (`exit 137, signal 9, stopped by
    /// hand`); empty when nothing is known.
    pub fn explanation(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(code) = self.exit_code {
            parts.push(format!("exit {code}"));
        }
        if self.oom_killed {
            parts.push("OOM killed".to_owned());
        }
        if let Some(signal) = self.signal {
            parts.push(format!("signal {signal}"));
        }
        match self.stopped {
            Some(Stop::Stop) => parts.push("stopped by hand".to_owned()),
            Some(Stop::Kill) => parts.push("killed by hand".to_owned()),
            Some(Stop::Restart) => parts.push("restart by hand".to_owned()),
            Some(Stop::Remove) => parts.push("removed by hand".to_owned()),
            None => {}
        }
        match self.started {
            Some(Start::Policy) => parts.push("restart by policy".to_owned()),
            Some(Start::Restart) => parts.push("restart by hand".to_owned()),
            Some(Start::Hand) => parts.push("started by hand".to_owned()),
            Some(Start::First) | None => {}
        }
        if let Some(health) = &self.health {
            parts.push(format!("health {health}"));
        }
        if let Some(old) = &self.renamed_from {
            parts.push(format!("renamed from {old}"));
        }
        if self.source == Source::Sweep {
            parts.push("seen by sweep".to_owned());
        }
        parts.join(", ")
    }
}

/// What happened to one container in a span of time, counted from its
/// transitions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Restarts by the restart policy.
    pub restarts_by_policy: u64,
    /// Restarts by `docker restart`.
    pub restarts_by_hand: u64,
    /// OOM kills: `oom` events, and OOM exits only a sweep saw.
    pub oom_kills: u64,
    /// Runs that ended (`to` is `exited`, `restarting` or `dead` from a
    /// running or paused container).
    pub exits: u64,
    /// The exit code of the last run that ended, when known.
    pub last_exit_code: Option<i64>,
    /// The container's name at its last transition.
    pub name: String,
    /// Where the last transition left it.
    pub last_phase: Option<Phase>,
    /// When the last transition happened, Unix nanoseconds.
    pub last_ns: Option<i64>,
}

impl Tally {
    /// Restarts of any kind: by the policy and by hand.
    pub fn restarts(&self) -> u64 {
        self.restarts_by_policy + self.restarts_by_hand
    }

    /// Counts one transition (they must come in time order).
    pub fn add(&mut self, transition: &Transition) {
        match transition.started {
            Some(Start::Policy) => self.restarts_by_policy += 1,
            Some(Start::Restart) => self.restarts_by_hand += 1,
            _ => {}
        }
        if transition.oom_killed {
            self.oom_kills += 1;
        }
        let ran = matches!(transition.from, Phase::Is(State::Running | State::Paused));
        let ended = matches!(transition.to, Phase::Is(State::Exited | State::Restarting | State::Dead));
        if ran && ended {
            self.exits += 1;
            if transition.exit_code.is_some() {
                self.last_exit_code = transition.exit_code;
            }
        }
        self.name.clone_from(&transition.name);
        self.last_phase = Some(transition.to);
        self.last_ns = Some(transition.time_ns);
    }
}

/// The tally of each container (by full id) over `transitions`.
pub fn tally(transitions: &[Transition]) -> BTreeMap<String, Tally> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for transition in transitions {
        tallies.entry(transition.id.clone()).or_default().add(transition);
    }
    tallies
}

/// The tally of each container (by full id) per time bucket of
/// `bucket_ns` (keyed by the bucket's start, a multiple of `bucket_ns`
/// since the epoch); containers without a transition in a bucket have no
/// entry for it. `bucket_ns` must be more than 0 (1 is used otherwise).
pub fn tally_by_bucket(transitions: &[Transition], bucket_ns: i64) -> BTreeMap<(String, i64), Tally> {
    let bucket_ns = bucket_ns.max(1);
    let mut tallies: BTreeMap<(String, i64), Tally> = BTreeMap::new();
    for transition in transitions {
        let start = transition.time_ns.div_euclid(bucket_ns).saturating_mul(bucket_ns);
        tallies.entry((transition.id.clone(), start)).or_default().add(transition);
    }
    tallies
}

/// An event attribute, unless a label of the same name may have
/// overwritten it (the daemon copies labels into the same map after its
/// own attributes).
pub fn trusted_attribute<'a>(
    attributes: &'a BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
    key: &str,
) -> Option<&'a str> {
    if labels.contains_key(key) {
        return None;
    }
    attributes.get(key).map(String::as_str)
}
