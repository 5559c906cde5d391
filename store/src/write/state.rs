//! The writer's memory and what one sweep does to it: open blocks, head
//! pages, compaction.

use std::collections::HashMap;

use super::{WriteReport, Writes};
use crate::codec;
use crate::db::{ReadHandle, StoreOptions};
use crate::key::{self, HostId, SeriesId, Tree};
use crate::memstats;
use crate::page::{self, HeadPage};
use crate::payload::Top;
use crate::prune::PruneCursor;
use crate::record::{self, SeriesInfo, SweepBatch};
use crate::sample::{Sample, UnixMillis, FIELD_COUNT};
use crate::StoreError;

/// The writer's memory (see the module docs of `write`).
#[derive(Default)]
pub(crate) struct WriteState {
    pub(super) counters: Option<Counters>,
    pub(super) hosts: HashMap<String, HostState>,
    pub(super) containers: HashMap<(HostId, String), SeriesId>,
    pub(super) series: HashMap<SeriesId, SeriesState>,
    /// Where [`Store::prune`](crate::Store::prune) continues.
    pub(crate) prune: PruneCursor,
    /// Whether `meta/format` is known to be [`FORMAT_VERSION`](crate::FORMAT_VERSION).
    pub(super) format_current: bool,
}

/// The next free ids (wider than the ids, to tell "exhausted").
pub(super) struct Counters {
    pub(super) next_host: u32,
    pub(super) next_series: u64,
}

pub(super) struct HostState {
    pub(super) id: HostId,
    pub(super) info_hash: Option<u64>,
    /// The sweep times (keys) of the host's head pages, ascending.
    pub(super) head: Vec<UnixMillis>,
    /// The open block's sweep records and SNMP readings.
    pub(super) sweeps: Vec<(UnixMillis, Vec<u8>)>,
    pub(super) snmp: Vec<(UnixMillis, Vec<u8>)>,
    /// The newest sweep stored.
    pub(super) last_sweep: Option<UnixMillis>,
}

pub(super) struct SeriesState {
    pub(super) host: HostId,
    pub(super) info: SeriesInfo,
    pub(super) last_time: Option<UnixMillis>,
    /// The hash of the newest stored details (stored when they change).
    pub(super) details_hash: Option<u64>,
    /// The [`process_identity`] of the newest stored process list.
    pub(super) processes_hash: Option<u64>,
    /// When the newest stored memory statistics were read.
    pub(super) memory_time: Option<UnixMillis>,
    pub(super) open: OpenBlock,
    /// The open block's newest sample: the next row is written as the
    /// difference from it.
    pub(super) last: Option<Sample>,
}

/// The rows of a series' open block (each also in a head page): the first
/// whole, the others differences from their predecessor.
#[derive(Default)]
pub(super) struct OpenBlock {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl OpenBlock {
    fn push(&mut self, row: &[u8]) {
        self.bytes.extend_from_slice(row);
        self.ends.push(self.bytes.len());
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn last(&self) -> Option<&[u8]> {
        let end = *self.ends.last()?;
        let start = self.ends.len().checked_sub(2).map_or(0, |i| self.ends[i]);
        Some(&self.bytes[start..end])
    }

    fn rows(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(start, &end)| &self.bytes[start..end])
    }
}

impl WriteState {
    /// Stages the writes of one sweep and updates the memory state.
    pub(super) fn stage(
        &mut self,
        h: &ReadHandle,
        options: &StoreOptions,
        batch: &SweepBatch,
        w: &mut Writes,
    ) -> Result<WriteReport, StoreError> {
        let time = batch.sweep.time;
        self.upgrade_format(h, w)?;
        let host = self.host(h, &batch.host, w)?;
        let mut report = WriteReport::default();
        if self.hosts.get(&batch.host).and_then(|state| state.last_sweep).is_some_and(|last| time <= last) {
            report.stale = true;
            return Ok(report);
        }
        let mut rows: Vec<SeriesId> = Vec::with_capacity(batch.containers.len());
        for container in &batch.containers {
            let id = self.series_for(h, host, &batch.host, &container.info, time, w)?;
            let Some(state) = self.series.get_mut(&id) else {
                continue;
            };
            if let Some(sample) = &container.sample {
                if state.append(sample, &mut report) {
                    rows.push(id);
                }
            }
            let at = key::series_time(id, time);
            if let Some(details) = &container.details {
                insert_if_changed(w, Tree::Details, &at, record::json_bytes(details), &mut state.details_hash);
            }
            if let Some(latest) = &container.latest {
                // `latest` as older builds read it; `processes` and
                // `memory` keep the history.
                w.insert(Tree::Latest, key::series_prefix(id), record::encode_timed(time, latest));
                if let Some(top) = latest.top.as_ref().filter(|top| state.processes_hash != Some(process_identity(top)))
                {
                    w.insert(Tree::Processes, &at, record::json_bytes(top));
                    state.processes_hash = Some(process_identity(top));
                }
                let memory_due = state.memory_time.is_none_or(|last| time >= last.saturating_add(MEMORY_HISTORY_MS));
                if let Some(stats) = latest.memory_stats.as_ref().filter(|_| memory_due) {
                    w.insert(Tree::Memory, &at, memstats::encode(stats));
                    state.memory_time = Some(time);
                }
            }
        }
        let snmp = batch.snmp.as_ref().map(record::json_bytes);
        self.write_head(h, batch, host, &rows, snmp, options.block_rows, w, &mut report)?;
        for event in &batch.events {
            let bytes = record::json_bytes(&event.event);
            let event_key = key::event(host, event.time_ns, key::fnv1a(&bytes));
            w.insert(Tree::Events, event_key, bytes);
        }
        if let Some(sizes) = &batch.sizes {
            w.insert(Tree::Sizes, key::host_time(host, time), record::json_bytes(sizes));
        }
        if let (Some(info), Some(state)) = (&batch.host_info, self.hosts.get_mut(&batch.host)) {
            insert_if_changed(
                w,
                Tree::HostInfo,
                &key::host_time(host, time),
                record::json_bytes(info),
                &mut state.info_hash,
            );
        }
        Ok(report)
    }

    /// Writes the sweep's head page or, when the host's head is full,
    /// compacts it: every open block of the host becomes a block, the
    /// sweep records and SNMP readings become record blocks, and the head
    /// pages are removed (this sweep's page is not written).
    #[allow(clippy::too_many_arguments)]
    fn write_head(
        &mut self,
        h: &ReadHandle,
        batch: &SweepBatch,
        host: HostId,
        rows: &[SeriesId],
        snmp: Option<Vec<u8>>,
        block_rows: usize,
        w: &mut Writes,
        report: &mut WriteReport,
    ) -> Result<(), StoreError> {
        let Some(host_state) = self.hosts.get_mut(&batch.host) else {
            return Err(h.corrupt(format!("host {} was not loaded", batch.host)));
        };
        let time = batch.sweep.time;
        let sweep = batch.sweep.encode();
        host_state.last_sweep = Some(time);
        if host_state.head.len() + 1 < block_rows {
            let page_rows = rows.iter().filter_map(|id| Some((*id, self.series.get(id)?.open.last()?))).collect();
            let page = HeadPage { time, sweep: &sweep, snmp: snmp.as_deref(), rows: page_rows };
            w.insert(Tree::Head, key::host_time(host, time), page.encode());
            host_state.head.push(time);
            host_state.sweeps.push((time, sweep));
            host_state.snmp.extend(snmp.map(|snmp| (time, snmp)));
            return Ok(());
        }
        host_state.sweeps.push((time, sweep));
        host_state.snmp.extend(snmp.map(|snmp| (time, snmp)));
        for (tree, records) in [(Tree::Sweeps, &mut host_state.sweeps), (Tree::Snmp, &mut host_state.snmp)] {
            if let Some(&(first, _)) = records.first() {
                let block = page::encode_records(records.iter().map(|(t, r)| (*t, r.as_slice())));
                w.insert(tree, key::host_time(host, first), block);
            }
            records.clear();
        }
        for page_time in host_state.head.drain(..) {
            w.remove(Tree::Head, key::host_time(host, page_time));
        }
        // A series with nothing to compact had no sample for a whole block
        // (its container is gone, or its stats failed): forget it; it is
        // loaded again if it comes back.
        let idle: Vec<SeriesId> = self
            .series
            .iter()
            .filter(|(_, state)| state.host == host && state.open.is_empty())
            .map(|(&id, _)| id)
            .collect();
        for id in idle {
            if let Some(state) = self.series.remove(&id) {
                self.containers.remove(&(host, state.info.container.id));
            }
        }
        for (&id, state) in self.series.iter_mut().filter(|(_, s)| s.host == host) {
            state.compact(h, id, w, report)?;
        }
        Ok(())
    }

    /// How many series the writer holds in memory.
    #[cfg(test)]
    pub(crate) fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Whether the writer holds `series` (it has samples in its host's head).
    pub(crate) fn holds_series(&self, series: SeriesId) -> bool {
        self.series.contains_key(&series)
    }

    /// Whether the writer has loaded `host` (and so every series with
    /// samples in its head).
    pub(crate) fn holds_host(&self, host: HostId) -> bool {
        self.hosts.values().any(|state| state.id == host)
    }

    /// Forgets a host and its series (its head pages changed under it).
    pub(crate) fn evict_host(&mut self, host: HostId) {
        self.hosts.retain(|_, state| state.id != host);
        self.series.retain(|_, state| state.host != host);
        self.containers.retain(|(h, _), _| *h != host);
    }
}

/// How often a series' raw memory statistics go into the `memory` tree:
/// the first reading, then the first one at least this long after the last
/// stored. They change at every reading (page fault counters), and sled
/// 0.34 keeps many times their size on disk for a stream of small
/// long-lived inserts (one per container and `top_interval` took 575 bytes
/// per container-sample instead of 41); the newest reading is in `latest`.
pub(crate) const MEMORY_HISTORY_MS: UnixMillis = 3_600_000;

/// What makes a process list another one: its titles and rows without the
/// columns of CPU use (`C`, `TIME`, `%CPU`), which change at every reading
/// of a busy container; a list that differs only there is not stored again
/// (the stored one keeps the CPU columns of its first reading).
pub(super) fn process_identity(top: &Top) -> u64 {
    let cpu: Vec<bool> = top.titles.iter().map(|t| matches!(t.as_str(), "C" | "TIME" | "%CPU")).collect();
    let mut bytes = Vec::new();
    for title in &top.titles {
        bytes.extend_from_slice(title.as_bytes());
        bytes.push(0);
    }
    for row in &top.processes {
        bytes.push(1);
        for (i, cell) in row.iter().enumerate() {
            if !cpu.get(i).copied().unwrap_or(false) {
                bytes.extend_from_slice(cell.as_bytes());
            }
            bytes.push(0);
        }
    }
    key::fnv1a(&bytes)
}

/// Stages `bytes` under `key` unless they are the newest document stored
/// in `tree` for the same id (`stored`: the hash of that one, updated).
/// The trees written this way hold changes: the document in force at a
/// time is the newest at or before it.
fn insert_if_changed(w: &mut Writes, tree: Tree, key: &[u8], bytes: Vec<u8>, stored: &mut Option<u64>) {
    let hash = key::fnv1a(&bytes);
    if *stored != Some(hash) {
        w.insert(tree, key, bytes);
        *stored = Some(hash);
    }
}

impl SeriesState {
    /// Adds a sample to the open block; false if it was dropped (not newer
    /// than the series' newest, or beyond the codec's limits).
    pub(super) fn append(&mut self, sample: &Sample, report: &mut WriteReport) -> bool {
        if self.last_time.is_some_and(|last| sample.time <= last) {
            report.out_of_order += 1;
            return false;
        }
        let Ok(row) = codec::encode_row(sample, self.last.as_ref()) else {
            report.unencodable += 1;
            return false;
        };
        self.open.push(&row);
        self.last_time = Some(sample.time);
        match &mut self.last {
            Some(last) => last.clone_from(sample),
            None => self.last = Some(sample.clone()),
        }
        report.samples += 1;
        true
    }

    /// Writes the open block as a block (more than one only if the codec's
    /// value limit requires) and empties it.
    fn compact(
        &mut self,
        h: &ReadHandle,
        id: SeriesId,
        w: &mut Writes,
        report: &mut WriteReport,
    ) -> Result<(), StoreError> {
        if self.open.is_empty() {
            return Ok(());
        }
        let mut samples: Vec<Sample> = Vec::with_capacity(self.open.ends.len());
        for row in self.open.rows() {
            let sample = codec::decode_row(row, samples.last())
                .map_err(|e| h.corrupt(format!("head row of series {id}: {e}")))?;
            samples.push(sample);
        }
        let cpus = samples.iter().map(|s| s.percpu_ns.len()).max().unwrap_or(0);
        let rows_per_block = (codec::MAX_CELLS / (FIELD_COUNT + cpus)).max(1);
        for chunk in samples.chunks(rows_per_block) {
            let Some(first) = chunk.first() else { continue };
            let block = codec::encode_block(chunk)
                .map_err(|e| h.corrupt(format!("block of series {id} at {}: {e}", first.time)))?;
            w.insert(Tree::Blocks, key::series_time(id, first.time), block);
            report.blocks += 1;
        }
        self.open = OpenBlock::default();
        self.last = None;
        Ok(())
    }
}
