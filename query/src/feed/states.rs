//! `kura states`: each container's state in the sweep in force, as the
//! 2015 `MonitorDockerContainerStatus` printed it (`2015-09-06 07:15:16
//! 90b56eb899e7 running`) and sent it (message `90b56eb899e7 running`,
//! HOSTNAME the 12-character id, so Hinemos files it under the container's
//! node); with a cursor, only the states that changed since the last run,
//! and `removed` for a container that is gone.

use std::collections::{BTreeMap, BTreeSet};

use kura_store::sample::UnixMillis;
use kura_store::{Reader, StoreError, SweepOutcome};

use super::{Advance, Entry, Style};
use crate::export::syslog::{Message, Severity, Zone};
use crate::transition::{Phase, NS_PER_MS};

/// Severities of state messages: `info` for running, `warning` for
/// restarting, `err` for paused, exited and dead, `notice` for the rest.
pub const SEVERITIES: &[(&str, Severity)] = &[
    ("running", Severity::Info),
    ("restarting", Severity::Warning),
    ("paused", Severity::Error),
    ("exited", Severity::Error),
    ("dead", Severity::Error),
    ("created", Severity::Notice),
    ("removing", Severity::Notice),
    ("removed", Severity::Notice),
];

/// A container's state at a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerState {
    /// The host.
    pub host: String,
    /// The full container id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its state (`removed` when it is gone).
    pub phase: Phase,
    /// The sweep's time, Unix ns.
    pub time_ns: i64,
}

impl ContainerState {
    /// The first 12 characters of the id.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

/// The state of every container the sweep in force at `at` listed, by
/// name; `None` when there is no sweep then, or it did not reach the daemon.
pub fn current(reader: &Reader, host: &str, at: UnixMillis) -> Result<Option<Vec<ContainerState>>, StoreError> {
    let Some(sweep) = reader.sweep_at(host, at)? else {
        return Ok(None);
    };
    if sweep.outcome != SweepOutcome::Reached {
        return Ok(None);
    }
    let listed: Vec<_> = reader
        .series(host)?
        .into_iter()
        .filter(|s| s.first_seen <= sweep.time && s.last_seen.is_some_and(|t| t >= sweep.time))
        .collect();
    let ids: Vec<_> = listed.iter().map(|s| s.series).collect();
    let samples = reader.samples_many(&ids, sweep.time, at)?;
    let mut states: Vec<ContainerState> = listed
        .into_iter()
        .zip(samples)
        .filter_map(|(series, columns)| {
            // The sweep's own sample: the first at or after its start.
            let state = *columns.state.first()?;
            Some(ContainerState {
                host: host.to_owned(),
                id: series.container.id,
                name: series.container.name,
                phase: Phase::Is(state),
                time_ns: sweep.time.saturating_mul(NS_PER_MS),
            })
        })
        .collect();
    states.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Some(states))
}

/// What changed since the states in `sent` (by id): every state that
/// differs, and `removed` for a container sent before that is not in
/// `current` and not in `listed` (the ids the sweep listed, selected or not).
pub fn changes(
    current: &[ContainerState],
    sent: &BTreeMap<String, Phase>,
    listed: &BTreeSet<String>,
    time_ns: i64,
    host: &str,
) -> Vec<ContainerState> {
    let mut out: Vec<ContainerState> =
        current.iter().filter(|state| sent.get(&state.id) != Some(&state.phase)).cloned().collect();
    let here: BTreeSet<&str> = current.iter().map(|s| s.id.as_str()).collect();
    for (id, phase) in sent {
        if !here.contains(id.as_str()) && !listed.contains(id) && *phase != Phase::Removed {
            out.push(ContainerState {
                host: host.to_owned(),
                id: id.clone(),
                name: String::new(),
                phase: Phase::Removed,
                time_ns,
            });
        }
    }
    out
}

/// The stdout line of a state: `YYYY-MM-DD HH:MM:SS <id12> <state>`.
pub fn line(state: &ContainerState, zone: Zone) -> String {
    let time = zone.datetime(state.time_ns).format("%Y-%m-%d %H:%M:%S");
    format!("{time} {} {}", state.short_id(), state.phase)
}

/// The entries of states: message `<id12> <state>`.
pub fn entries(states: &[ContainerState], style: &Style) -> Vec<Entry> {
    states
        .iter()
        .map(|state| Entry {
            line: line(state, style.format.zone),
            message: Message {
                time_ns: state.time_ns,
                severity: style.severities.of(state.phase.as_str(), Severity::Notice),
                hostname: style.hostname.pick(&state.host, Some((state.short_id(), &state.name))),
                text: format!("{} {}", state.short_id(), state.phase),
            },
            advance: Advance::State {
                host: state.host.clone(),
                id: state.id.clone(),
                phase: (state.phase != Phase::Removed).then_some(state.phase),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;
    use kura_store::sample::State;

    use super::*;

    fn state(id: &str, phase: Phase) -> ContainerState {
        ContainerState {
            host: "h".into(),
            id: id.into(),
            name: format!("n-{id}"),
            phase,
            time_ns: 1_441_523_716 * 1_000_000_000,
        }
    }

    #[test]
    fn lines_are_the_2015_scripts() {
        let utc = Zone::Fixed(FixedOffset::east_opt(0).unwrap());
        let state =
            ContainerState { id: format!("90b56eb899e7{}", "0".repeat(52)), ..state("", Phase::Is(State::Running)) };
        assert_eq!(line(&state, utc), "2015-09-06 07:15:16 90b56eb899e7 running");
    }

    #[test]
    fn changes_are_new_states_and_removals_not_deselections() {
        let running = Phase::Is(State::Running);
        let exited = Phase::Is(State::Exited);
        let current = vec![state("a", running), state("b", exited)];
        let sent = BTreeMap::from([
            ("a".into(), running),
            ("b".into(), running),
            ("c".into(), running),
            ("d".into(), running),
        ]);
        let listed = BTreeSet::from(["a".to_owned(), "b".to_owned(), "d".to_owned()]);
        let changed = changes(&current, &sent, &listed, 5, "h");
        let got: Vec<(&str, Phase)> = changed.iter().map(|s| (s.id.as_str(), s.phase)).collect();
        assert_eq!(got, [("b", exited), ("c", Phase::Removed)]);
    }
}
