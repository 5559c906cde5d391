//! [`Store::write_sweep`]: one host's sweep as one list of writes per tree,
//! and the compaction of the head into blocks.
//!
//! A sweep writes one head page (its record, SNMP reading and samples; see
//! [`page`](super::page)) plus the rarer documents (details, processes and
//! memory statistics when changed, the newest processes and memory
//! statistics in `latest`, events, sizes, host info when changed). The writer
//! keeps, per host, the keys of its head pages and the open block's sweep
//! records and SNMP readings, and per series the rows of its open block
//! (the same bytes as in the head pages: about 20 to 40 bytes a sample,
//! 1.5 MB for 100 containers at 360 rows), its newest sample and the hashes
//! of its newest stored details, processes and memory statistics. When a host has [`StoreOptions::block_rows`]
//! head pages, each of its series' open blocks becomes a block, its sweep
//! records and SNMP readings become record blocks, and the pages are
//! removed; a series with an empty open block then (its container is gone)
//! is forgotten, and loaded again if it comes back. A host is loaded (head pages included) the first time a sweep
//! names it; its state is dropped when a write fails or pruning removes
//! its pages, and then reloaded.

mod load;
mod state;

use super::db::ReadHandle;
use super::key::Tree;
use super::record::SweepBatch;
use super::{Store, StoreError};

pub(super) use state::WriteState;

/// What one [`Store::write_sweep`] stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Samples stored.
    pub samples: usize,
    /// Samples dropped because they were not newer than their series'
    /// newest (a daemon clock that went back, or the same sample twice).
    pub out_of_order: usize,
    /// Samples dropped because the codec cannot hold them (more than
    /// [`codec::MAX_CPUS`](super::codec::MAX_CPUS) CPUs).
    pub unencodable: usize,
    /// Blocks written (at the compaction of the host's head).
    pub blocks: usize,
    /// The sweep's time was not after the host's previous sweep (the
    /// collector's clock went back): nothing of it was stored.
    pub stale: bool,
}

/// The order the writes are applied in: ids before what uses them, blocks
/// before the removal of the head pages they cover.
const APPLY_ORDER: [Tree; 15] = [
    Tree::Meta,
    Tree::Hosts,
    Tree::Series,
    Tree::SeriesInfo,
    Tree::Blocks,
    Tree::Sweeps,
    Tree::Snmp,
    Tree::Head,
    Tree::Details,
    Tree::Latest,
    Tree::Processes,
    Tree::Memory,
    Tree::Events,
    Tree::Sizes,
    Tree::HostInfo,
];

/// The writes of one sweep, per tree, in the order they were staged.
///
/// They are applied with plain inserts and removes, tree by tree in
/// [`APPLY_ORDER`], not with `sled::Batch`: sled 0.34 seals its I/O buffer
/// twice for every batch (`pin_log`), which cost 30 µs per sample here.
/// sled's log is written and recovered in order, so a crash keeps a prefix
/// of these writes: never a head removal without the blocks before it.
struct Writes {
    trees: [Vec<Write>; Tree::ALL.len()],
}

/// A key and its new value (`None`: remove it).
type Write = (Vec<u8>, Option<Vec<u8>>);

impl Writes {
    fn new() -> Writes {
        Writes { trees: std::array::from_fn(|_| Vec::new()) }
    }

    fn insert(&mut self, tree: Tree, key: impl AsRef<[u8]>, value: impl Into<Vec<u8>>) {
        self.trees[usize::from(tree.code())].push((key.as_ref().to_vec(), Some(value.into())));
    }

    fn remove(&mut self, tree: Tree, key: impl AsRef<[u8]>) {
        self.trees[usize::from(tree.code())].push((key.as_ref().to_vec(), None));
    }

    fn apply(mut self, handle: &ReadHandle) -> Result<(), StoreError> {
        for tree in APPLY_ORDER {
            let sled_tree = handle.tree(tree);
            for (key, value) in std::mem::take(&mut self.trees[usize::from(tree.code())]) {
                match value {
                    Some(value) => sled_tree.insert(key, value).map(drop),
                    None => sled_tree.remove(key).map(drop),
                }
                .map_err(|e| handle.error(e))?;
            }
        }
        Ok(())
    }
}

impl Store {
    /// Stores one sweep of one host: its record, each container's sample
    /// (and description, details, newest processes), events, SNMP reading,
    /// sizes and host info; then flushes (see
    /// [`StoreOptions::flush_every_sweep`](super::StoreOptions::flush_every_sweep)).
    /// A kill loses at most the sweep being written.
    pub fn write_sweep(&self, batch: &SweepBatch) -> Result<WriteReport, StoreError> {
        let mut writer = self.writer();
        let mut writes = Writes::new();
        let result = writer
            .stage(self.handle(), self.options(), batch, &mut writes)
            .and_then(|report| writes.apply(self.handle()).map(|()| report))
            .and_then(
                |report| if self.options().flush_every_sweep { self.flush().map(|()| report) } else { Ok(report) },
            );
        if result.is_err() {
            // The memory state may be ahead of the disk (a refused flush
            // included): reload it lazily, so that the same sweep written
            // again is not taken for one already stored.
            *writer = WriteState::default();
        }
        drop(writer);
        let report = result?;
        if report.stale || report.out_of_order + report.unencodable > 0 {
            tracing::warn!(
                host = %batch.host,
                stale_sweep = report.stale,
                out_of_order = report.out_of_order,
                unencodable = report.unencodable,
                "dropped what a sweep could not store"
            );
        }
        Ok(report)
    }
}
