//! Retention: [`Store::prune`] deletes history older than a time, a few
//! entries per call, so that the daemon can run it between sweeps.
//!
//! It walks the time-keyed trees in a fixed order; within a tree it visits
//! each id prefix (series or host) from its oldest entry and moves to the
//! next prefix at the first entry it keeps (entries of a prefix are in time
//! order). The cursor lives in the store between calls. Head pages are
//! deleted only with all the other pages of their host, when its newest
//! is older than the cut (a host no longer swept). The trees that hold
//! changes (details, processes and memory statistics of a series, `/info`
//! of a host: each in force until the next) keep the entry in force at the
//! cut however old, so that a question as of any time after the cut still
//! has its answer; the ones before it go.
//!
//! A last stage forgets the containers that are gone: a series whose
//! blocks have all been pruned, that the writer does not hold (no sample
//! in its host's head) and that was first seen before the cut loses its
//! `series`, `series_info`, `latest`, `details`, `processes` and `memory`
//! entries, so that the
//! store and every query's series list stop growing with each short-lived
//! container. A container that comes back later gets a new series.
//!
//! A pass that completes records its cut in `meta/pruned_before`
//! ([`Store::pruned_before`]): the collector bounds how far the next cut
//! may move from it (see the collector's `retention`).

use super::codec;
use super::key::{self, HostId, Tree, HOST_LEN, SERIES_LEN};
use super::page;
use super::record::SeriesInfo;
use super::write::WriteState;
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
    /// The tree holds changes (a document is in force until the next one
    /// of its id): an old entry goes only when a newer one of its id is
    /// in force at the cut, so that the document in force at the cut stays
    /// however old.
    changes: bool,
}

const STAGES: [Stage; 10] = [
    Stage { tree: Tree::Blocks, id_len: SERIES_LEN, age: Age::BlockEnd, changes: false },
    Stage { tree: Tree::Head, id_len: HOST_LEN, age: Age::HostIdle, changes: false },
    Stage { tree: Tree::Details, id_len: SERIES_LEN, age: Age::KeyTime, changes: true },
    Stage { tree: Tree::Processes, id_len: SERIES_LEN, age: Age::KeyTime, changes: true },
    Stage { tree: Tree::Memory, id_len: SERIES_LEN, age: Age::KeyTime, changes: true },
    Stage { tree: Tree::Sweeps, id_len: HOST_LEN, age: Age::RecordsEnd, changes: false },
    Stage { tree: Tree::HostInfo, id_len: HOST_LEN, age: Age::KeyTime, changes: true },
    Stage { tree: Tree::Events, id_len: HOST_LEN, age: Age::KeyTimeNs, changes: false },
    Stage { tree: Tree::Snmp, id_len: HOST_LEN, age: Age::RecordsEnd, changes: false },
    Stage { tree: Tree::Sizes, id_len: HOST_LEN, age: Age::KeyTime, changes: false },
];

/// The `meta` key of the cut of the last completed prune pass (i64 BE ms).
pub(crate) const META_PRUNED_BEFORE: &[u8] = b"pruned_before";

impl Store {
    /// The cut of the last completed prune pass: history before it is gone.
    pub fn pruned_before(&self) -> Result<Option<UnixMillis>, StoreError> {
        let h = self.handle();
        match h.tree(Tree::Meta).get(META_PRUNED_BEFORE).map_err(|e| h.error(e))? {
            None => Ok(None),
            Some(bytes) => {
                let bytes: [u8; 8] = bytes
                    .as_ref()
                    .try_into()
                    .map_err(|_| h.corrupt(format!("meta/pruned_before is {} bytes, not 8", bytes.len())))?;
                Ok(Some(i64::from_be_bytes(bytes)))
            }
        }
    }

    /// Deletes history older than `before`: blocks whose newest sample is
    /// older, the head pages of a host whose newest page is older (a host
    /// no longer swept: samples no block holds yet), sweeps, events, SNMP
    /// readings, sizes, and the details, processes, memory statistics and
    /// host info no longer in force at the cut, then forgets the series of
    /// containers gone since before `before`. Does at most `budget` steps
    /// (an entry deleted or a key visited) and continues where the previous
    /// call stopped; call it until [`PruneProgress::done`].
    pub fn prune(&self, before: UnixMillis, budget: usize) -> Result<PruneProgress, StoreError> {
        let mut writer = self.writer();
        let h = self.handle();
        let before_ns = before.saturating_mul(1_000_000);
        let mut progress = PruneProgress::default();
        let mut steps = 0;
        while steps < budget {
            let Some(stage) = STAGES.get(writer.prune.stage) else {
                if writer.prune.stage == STAGES.len() {
                    steps += 1;
                    progress.deleted += forget_step(h, &mut writer, before)?;
                    continue;
                }
                writer.prune = PruneCursor::default();
                h.tree(Tree::Meta).insert(META_PRUNED_BEFORE, &before.to_be_bytes()).map_err(|e| h.error(e))?;
                progress.done = true;
                break;
            };
            let tree = h.tree(stage.tree);
            let entry = tree.range(writer.prune.next.as_slice()..).next().transpose().map_err(|e| h.error(e))?;
            let Some((k, v)) = entry else {
                writer.prune.stage += 1;
                writer.prune.next.clear();
                continue;
            };
            steps += 1;
            let mut after_key = k.to_vec();
            after_key.push(0);
            let Some(prefix) = k.get(..stage.id_len) else {
                writer.prune.next = after_key;
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
            let superseded = || -> Result<bool, StoreError> {
                let mut range = match key::successor(prefix) {
                    Some(end) => tree.range(after_key.as_slice()..end.as_slice()),
                    None => tree.range(after_key.as_slice()..),
                };
                let next = range.next().transpose().map_err(|e| h.error(e))?;
                Ok(next.is_some_and(|(next, _)| key::time_of(&next, stage.id_len).is_some_and(|t| t <= before)))
            };
            if old && (!stage.changes || superseded()?) {
                tree.remove(&k).map_err(|e| h.error(e))?;
                progress.deleted += 1;
                if stage.tree == Tree::Head {
                    // At once: the forget stage must not take the writer's
                    // memory of these pages for the truth.
                    if let Some(host) = key::host_of(&k) {
                        writer.evict_host(host);
                    }
                }
                writer.prune.next = after_key;
            } else if !old && !decodes(stage.age, &v) {
                // An undecodable block is left for a human to look at.
                writer.prune.next = after_key;
            } else {
                match key::successor(prefix) {
                    Some(next) => writer.prune.next = next,
                    None => {
                        writer.prune.stage += 1;
                        writer.prune.next.clear();
                    }
                }
            }
        }
        Ok(progress)
    }
}

/// Looks at the next entry of `series` and forgets its series if its
/// container is gone since before `before` (see the module docs); moves the
/// cursor past it, or to the end of the stage. Returns the entries deleted.
fn forget_step(h: &super::db::ReadHandle, writer: &mut WriteState, before: UnixMillis) -> Result<usize, StoreError> {
    let tree = h.tree(Tree::Series);
    let entry = tree.range(writer.prune.next.as_slice()..).next().transpose().map_err(|e| h.error(e))?;
    let Some((k, v)) = entry else {
        writer.prune.stage += 1;
        writer.prune.next.clear();
        return Ok(0);
    };
    let mut after_key = k.to_vec();
    after_key.push(0);
    writer.prune.next = after_key;
    let (Some(host), Some(series)) = (key::host_of(&k), key::series_of(&v).filter(|_| v.len() == SERIES_LEN)) else {
        return Ok(0);
    };
    if writer.holds_series(series) || !head_known(h, writer, host)? {
        return Ok(0);
    }
    let prefix = key::series_prefix(series);
    if h.tree(Tree::Blocks).scan_prefix(prefix).next().is_some() {
        return Ok(0);
    }
    let first_seen = match h.tree(Tree::SeriesInfo).get(prefix).map_err(|e| h.error(e))? {
        Some(json) => serde_json::from_slice::<SeriesInfo>(&json).ok().map(|info| info.first_seen),
        // Cut off before its description (a crash): nothing describes it.
        None => Some(UnixMillis::MIN),
    };
    if first_seen.is_none_or(|first| first >= before) {
        return Ok(0);
    }
    let mut deleted = 0;
    for tree in [Tree::Details, Tree::Processes, Tree::Memory] {
        let keys: Vec<sled::IVec> =
            h.tree(tree).scan_prefix(prefix).keys().collect::<Result<_, _>>().map_err(|e| h.error(e))?;
        for entry_key in keys {
            h.tree(tree).remove(entry_key).map_err(|e| h.error(e))?;
            deleted += 1;
        }
    }
    for (tree, entry_key) in [(Tree::Latest, &prefix[..]), (Tree::SeriesInfo, &prefix[..]), (Tree::Series, &k[..])] {
        deleted += usize::from(h.tree(tree).remove(entry_key).map_err(|e| h.error(e))?.is_some());
    }
    Ok(deleted)
}

/// Whether the writer's memory tells every series with samples in the
/// host's head: the host is loaded, or it has no head pages at all.
fn head_known(h: &super::db::ReadHandle, writer: &WriteState, host: HostId) -> Result<bool, StoreError> {
    if writer.holds_host(host) {
        return Ok(true);
    }
    Ok(h.tree(Tree::Head).scan_prefix(key::host_prefix(host)).next().transpose().map_err(|e| h.error(e))?.is_none())
}

/// Whether a value whose age comes from its content decodes.
fn decodes(age: Age, value: &[u8]) -> bool {
    match age {
        Age::BlockEnd => codec::time_range(value).is_ok(),
        Age::RecordsEnd => page::parse_records(value).is_ok(),
        Age::KeyTime | Age::KeyTimeNs | Age::HostIdle => true,
    }
}
