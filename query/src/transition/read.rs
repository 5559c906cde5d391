//! What the derivation needs, read from the store: a host's events, its
//! sweeps, and each container's details and whereabouts.

use std::collections::BTreeMap;

use kura_store::{EventRecord, Reader, SeriesInfo, StoreError, SweepOutcome};

use super::derive::{derive, ContainerInput, Seen};
use super::{Transition, NS_PER_MS};

/// How long before the window asked for the derivation begins, so that
/// the first changes in the window are explained like the others (a
/// restart by policy follows its `die` by up to a minute of back-off).
pub const CONTEXT_NS: i64 = 120 * 1_000_000_000;

/// Every transition of `host`'s containers with `from_ns <= time_ns <=
/// to_ns`, in time order (then by container id).
///
/// Reads the host's events and sweeps from a little before `from_ns`
/// ([`CONTEXT_NS`]), and for each container the details recorded then.
/// The newest transitions may still change as the collector writes (a
/// `die` followed by nothing yet may be a restart by policy the next sweep
/// reveals): [`settled_until`] says up to when they will not.
pub fn history(reader: &Reader, host: &str, from_ns: i64, to_ns: i64) -> Result<Vec<Transition>, StoreError> {
    if from_ns > to_ns {
        return Ok(Vec::new());
    }
    let context_ms = from_ns.saturating_sub(CONTEXT_NS).div_euclid(NS_PER_MS);
    let to_ms = to_ns.div_euclid(NS_PER_MS);
    // Derivation begins at the sweep in force then: its details are the
    // state every container starts from.
    let start_ms = reader.sweep_at(host, context_ms)?.map_or(context_ms, |sweep| sweep.time);
    let start_ns = start_ms.saturating_mul(NS_PER_MS);
    let reached: Vec<i64> = reader
        .sweeps(host, start_ms, to_ms)?
        .into_iter()
        .filter(|sweep| sweep.outcome == SweepOutcome::Reached)
        .map(|sweep| sweep.time)
        .collect();

    let mut events: BTreeMap<String, Vec<EventRecord>> = BTreeMap::new();
    for record in reader.events(host, start_ns, to_ns)? {
        if let Some(id) = record.event.container_id() {
            events.entry(id.to_owned()).or_default().push(record);
        }
    }

    let mut transitions = Vec::new();
    for series in reader.series(host)? {
        let own = events.remove(&series.container.id).unwrap_or_default();
        let gone_before = series.last_seen.is_some_and(|last| last < start_ms);
        if series.first_seen > to_ms || (gone_before && own.is_empty()) {
            continue;
        }
        let input = series_input(reader, host, &series, own, start_ms, to_ms, &reached)?;
        transitions.extend(derive(&input));
    }
    // Containers that came and went between two sweeps: their events only.
    for (id, own) in events {
        let name = own
            .iter()
            .rev()
            .find_map(|record| record.event.actor.as_ref()?.attributes.get("name").cloned())
            .unwrap_or_default();
        let input = ContainerInput { host: host.to_owned(), id, name, events: own, ..ContainerInput::default() };
        transitions.extend(derive(&input));
    }
    transitions.retain(|t| (from_ns..=to_ns).contains(&t.time_ns));
    transitions.sort_by(|a, b| (a.time_ns, &a.id).cmp(&(b.time_ns, &b.id)));
    Ok(transitions)
}

/// One container's input: its details from `start_ms` to `to_ms`, and the
/// first reached sweep that no longer listed it.
fn series_input(
    reader: &Reader,
    host: &str,
    series: &SeriesInfo,
    events: Vec<EventRecord>,
    start_ms: i64,
    to_ms: i64,
    reached: &[i64],
) -> Result<ContainerInput, StoreError> {
    let initial =
        if series.first_seen <= start_ms { reader.details_at(series.series, start_ms)?.map(|d| d.value) } else { None };
    let seen = reader
        .details_between(series.series, start_ms.saturating_add(1), to_ms)?
        .into_iter()
        .map(|details| {
            let next = reached.iter().find(|&&sweep| sweep > details.time).copied().unwrap_or(to_ms);
            Seen {
                time_ns: details.time.saturating_mul(NS_PER_MS),
                until_ns: next.saturating_mul(NS_PER_MS),
                details: details.value,
            }
        })
        .collect();
    // A series' newest sample is its last listing; a reached sweep after it
    // did not list it. A running container's sample carries the daemon's
    // clock (the stats document's `read`), sweeps the collector's: half an
    // interval of difference is allowed for.
    let slack = half_interval(reached);
    let gone_ns = series
        .last_seen
        .and_then(|last| reached.iter().find(|&&sweep| sweep > last.saturating_add(slack)))
        .map(|&sweep| sweep.saturating_mul(NS_PER_MS));
    Ok(ContainerInput {
        host: host.to_owned(),
        id: series.container.id.clone(),
        name: series.container.name.clone(),
        labels: series.container.labels.clone(),
        initial,
        events,
        seen,
        gone_ns,
    })
}

/// Half the median gap between sweeps, ms (0 with fewer than two).
fn half_interval(sweeps: &[i64]) -> i64 {
    let mut gaps: Vec<i64> = sweeps.windows(2).map(|w| w[1].saturating_sub(w[0])).collect();
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).map_or(0, |gap| gap / 2)
}

/// The time (Unix ns) up to which `host`'s transitions are settled: the
/// sweep before its newest. Everything that explains a change up to then
/// is stored (the newest sweep's batch may still be being written, and a
/// `die` is told from the sweep after it). `None` with fewer than two sweeps.
pub fn settled_until(reader: &Reader, host: &str) -> Result<Option<i64>, StoreError> {
    let Some(newest) = reader.latest_sweep(host)? else {
        return Ok(None);
    };
    let previous = reader.sweep_at(host, newest.time.saturating_sub(1))?;
    Ok(previous.map(|sweep| sweep.time.saturating_mul(NS_PER_MS)))
}
