//! Retention: [`Store::prune`] deletes history older than a time, a few
//! entries per call, so that the daemon can run it between sweeps.
//!
//! It walks the time-keyed trees in a fixed order; within a tree it visits
//! each id prefix (series or host) from its oldest entry and moves to the
//! next prefix at the first entry it keeps (entries of a prefix are in time
//! order). The cursor lives in the store between calls. Head pages are
//! deleted only with all the other pages of their host, when its newest
//! is older than the cut (a host no longer swept). The newest details
//! of a series and the newest `/info` of a host are kept however old, since
//! they describe the present; `latest`, `series` and `series_info` are
//! never pruned.

use std::collections::BTreeSet;

use super::codec;
use super::key::{self, Tree, HOST_LEN, SERIES_LEN};
use super::page;
use super::{Store, StoreError};
use crate::sample::UnixMillis;

/// How far one [`Store::prune`] call got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneProgress {
    /// Entries deleted by this call.
    pub deleted: usize,
    /// Whether this call finished a pass over every tree (the next call
    /// starts a new pass).
    pub done: bool,
}

/// Where the next [`Store::prune`] call continues.
#[derive(Clone, Debug, Default)]
pub(super) struct PruneCursor {
    stage: usize,
    next: Vec<u8>,
}

/// What makes an entry old.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Age {
    /// The key's time (ms) is before the cut.
    KeyTime,
    /// The key's time (ns) is before the cut.
    KeyTimeNs,
    /// The block's newest sample is before the cut.
    BlockEnd,
    /// The record block's newest record is before the cut.
    RecordsEnd,
    /// The host's newest key (ms) is before the cut: every entry of the
    /// host goes. Head pages go all together, since each row but the first
    /// of a series is a difference from the one before.
    HostIdle,
}

struct Stage {
    tree: Tree,
    id_len: usize,
    age: Age,
    keep_newest: bool,
}

const STAGES: [Stage; 8] = [
    Stage { tree: Tree::Blocks, id_len: SERIES_LEN, age: Age::BlockEnd, keep_newest: false },
    Stage { tree: Tree::Head, id_len: HOST_LEN, age: Age::HostIdle, keep_newest: false },
    Stage { tree: Tree::Details, id_len: SERIES_LEN, age: Age::KeyTime, keep_newest: true },
    Stage { tree: Tree::Sweeps, id_len: HOST_LEN, age: Age::RecordsEnd, keep_newest: false },
    Stage { tree: Tree::HostInfo, id_len: HOST_LEN, age: Age::KeyTime, keep_newest: true },
    Stage { tree: Tree::Events, id_len: HOST_LEN, age: Age::KeyTimeNs, keep_newest: false },
    Stage { tree: Tree::Snmp, id_len: HOST_LEN, age: Age::RecordsEnd, keep_newest: false },
    Stage { tree: Tree::Sizes, id_len: HOST_LEN, age: Age::KeyTime, keep_newest: false },
];

impl Store {
    /// Deletes history older than `before`: blocks whose newest sample is
    /// older, the head pages of a host whose newest page is older (a host
    /// no longer swept: samples no block holds yet), sweeps, events, SNMP readings, sizes, details
    /// and host info (but the newest of each). Does at most `budget` steps
    /// (an entry deleted or a key visited) and continues where the previous
    /// call stopped; call it until [`PruneProgress::done`].
    pub fn prune(&self, before: UnixMillis, budget: usize) -> Result<PruneProgress, StoreError> {
        let mut writer = self.writer();
        let h = self.handle();
        let before_ns = before.saturating_mul(1_000_000);
        let mut progress = PruneProgress::default();
        let mut evict = BTreeSet::new();
        let mut steps = 0;
        while steps < budget {
            let cursor = &mut writer.prune;
            let Some(stage) = STAGES.get(cursor.stage) else {
                *cursor = PruneCursor::default();
                progress.done = true;
                break;
            };
            let tree = h.tree(stage.tree);
            let entry = tree.range(cursor.next.as_slice()..).next().transpose().map_err(|e| h.error(e))?;
            let Some((k, v)) = entry else {
                cursor.stage += 1;
                cursor.next.clear();
                continue;
            };
            steps += 1;
            let mut after_key = k.to_vec();
            after_key.push(0);
            let Some(prefix) = k.get(..stage.id_len) else {
                cursor.next = after_key;
                continue;
            };
            let old = match stage.age {
                Age::KeyTime => key::time_of(&k, stage.id_len).is_some_and(|t| t < before),
                Age::KeyTimeNs => key::time_of(&k, stage.id_len).is_some_and(|t| t < before_ns),
                Age::BlockEnd => codec::time_range(&v).is_ok_and(|(_, last)| last < before),
                Age::RecordsEnd => {
                    page::parse_records(&v).is_ok_and(|records| records.last().is_some_and(|(last, _)| *last < before))
                }
                Age::HostIdle => {
                    let mut newest = match key::successor(prefix) {
                        Some(end) => tree.range(prefix..end.as_slice()),
                        None => tree.range(prefix..),
                    };
                    let newest = newest.next_back().transpose().map_err(|e| h.error(e))?;
                    newest.is_some_and(|(newest, _)| key::time_of(&newest, stage.id_len).is_some_and(|t| t < before))
                }
            };
            let newer_exists = || -> Result<bool, StoreError> {
                let mut range = match key::successor(prefix) {
                    Some(end) => tree.range(after_key.as_slice()..end.as_slice()),
                    None => tree.range(after_key.as_slice()..),
                };
                Ok(range.next().transpose().map_err(|e| h.error(e))?.is_some())
            };
            if old && (!stage.keep_newest || newer_exists()?) {
                tree.remove(&k).map_err(|e| h.error(e))?;
                progress.deleted += 1;
                if stage.tree == Tree::Head {
                    evict.extend(key::host_of(&k));
                }
                cursor.next = after_key;
            } else if !old && !decodes(stage.age, &v) {
                // An undecodable block is left for a human to look at.
                cursor.next = after_key;
            } else {
                match key::successor(prefix) {
                    Some(next) => cursor.next = next,
                    None => {
                        cursor.stage += 1;
                        cursor.next.clear();
                    }
                }
            }
        }
        for host in evict {
            writer.evict_host(host);
        }
        Ok(progress)
    }
}

/// Whether a value whose age comes from its content decodes.
fn decodes(age: Age, value: &[u8]) -> bool {
    match age {
        Age::BlockEnd => codec::time_range(value).is_ok(),
        Age::RecordsEnd => page::parse_records(value).is_ok(),
        Age::KeyTime | Age::KeyTimeNs | Age::HostIdle => true,
    }
}
