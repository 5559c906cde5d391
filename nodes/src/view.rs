//! What the store says about a host, as [`HostView`]: the containers of
//! its newest sweep (which must have reached the daemon and be recent),
//! with their state, labels and published ports.

use std::collections::BTreeSet;
use std::net::IpAddr;

use kura_store::freshness::Freshness;
use kura_store::sample::{rfc3339, UnixMillis};
use kura_store::{Reader, StoreError, SweepOutcome};

use crate::desired::{label_scopes, Container, HostView};
use crate::select::Selection;

/// Why the store gives no desired state for a host.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The store cannot be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The host has no sweep yet.
    #[error("host {0} has no sweep in the store yet (is kura-collector running?)")]
    NoSweep(String),
    /// The newest sweep did not reach the daemon: its containers are unknown.
    #[error(
        "the newest sweep of host {host} ({at}) did not reach its daemon: {reason}; nothing is planned until one does"
    )]
    Down {
        /// The host.
        host: String,
        /// When.
        at: String,
        /// Why.
        reason: String,
    },
    /// The newest sweep is too old to be believed.
    #[error("the newest sweep of host {host} is from {at}, {freshness}: is kura-collector running?")]
    Stale {
        /// The host.
        host: String,
        /// When.
        at: String,
        /// Its age and the limit.
        freshness: Freshness,
    },
}

/// The view of `host` (as the store names it) at `now`, its node named
/// `facility_id` at `address`; `selection` picks the containers.
pub fn host_view(
    reader: &Reader,
    host: &str,
    facility_id: &str,
    address: IpAddr,
    selection: &Selection,
    now: UnixMillis,
) -> Result<HostView, ViewError> {
    let freshness = reader.freshness(host, now)?.ok_or_else(|| ViewError::NoSweep(host.to_owned()))?;
    if freshness.is_stale() {
        return Err(ViewError::Stale { host: host.to_owned(), at: rfc3339(freshness.sweep.time), freshness });
    }
    let sweep = freshness.sweep;
    if let SweepOutcome::Down(reason) = &sweep.outcome {
        return Err(ViewError::Down { host: host.to_owned(), at: rfc3339(sweep.time), reason: reason.clone() });
    }
    let series = reader.series(host)?;
    let mut named_scopes = BTreeSet::new();
    for info in &series {
        named_scopes.extend(label_scopes(&info.container.labels));
    }
    // In the sweep in force: sampled at or after its start.
    let current: Vec<_> = series.into_iter().filter(|s| s.last_seen.is_some_and(|t| t >= sweep.time)).collect();
    let ids: Vec<_> = current.iter().map(|s| s.series).collect();
    let samples = reader.samples_many(&ids, sweep.time, now)?;
    let mut containers = Vec::new();
    let mut found = 0_u32;
    for (info, columns) in current.into_iter().zip(samples) {
        let Some(sample) = columns.len().checked_sub(1).and_then(|last| columns.row(last)) else {
            continue;
        };
        found += 1;
        if !selection.matches(&info.container.name) {
            continue;
        }
        let ports = reader.details_at(info.series, now)?.map(|d| d.value.port_bindings).unwrap_or_default();
        let c = info.container;
        containers.push(Container {
            id: c.id,
            name: c.name,
            image: c.image,
            command: c.command,
            state: sample.state,
            labels: c.labels,
            ports,
        });
    }
    Ok(HostView {
        facility_id: facility_id.to_owned(),
        address,
        containers,
        named_scopes,
        complete: found >= sweep.containers,
    })
}
