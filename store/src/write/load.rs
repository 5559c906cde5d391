//! Loading the writer's memory from the store: id counters, hosts (with
//! their head pages), series.

use std::collections::BTreeMap;

use super::state::{process_identity, Counters, HostState, OpenBlock, SeriesState, WriteState};
use super::{WriteReport, Writes};
use crate::codec;
use crate::db::ReadHandle;
use crate::key::{self, HostId, SeriesId, Tree, HOST_LEN, SERIES_LEN};
use crate::page;
use crate::payload::Top;
use crate::reader::{Entry, Scan};
use crate::record::{ContainerInfo, SeriesInfo};
use crate::sample::{Sample, UnixMillis};
use crate::{StoreError, FORMAT_VERSION};

impl WriteState {
    fn counters(&mut self, h: &ReadHandle) -> Result<&mut Counters, StoreError> {
        if self.counters.is_none() {
            let meta = h.tree(Tree::Meta);
            let read = |k: &[u8]| -> Result<u64, StoreError> {
                match meta.get(k).map_err(|e| h.error(e))? {
                    None => Ok(0),
                    Some(v) => be_number(&v)
                        .ok_or_else(|| h.corrupt(format!("meta/{} is malformed", String::from_utf8_lossy(k)))),
                }
            };
            let next_host = u32::try_from(read(key::META_NEXT_HOST)?).unwrap_or(u32::MAX);
            let next_series = read(key::META_NEXT_SERIES)?;
            self.counters = Some(Counters { next_host, next_series });
        }
        self.counters.as_mut().ok_or_else(|| h.corrupt("id counters".to_owned()))
    }

    /// Writes [`FORMAT_VERSION`] into `meta/format` of a store of an older
    /// version, with the first sweep this writer stores (before anything
    /// of the sweep: the meta tree is applied first).
    pub(super) fn upgrade_format(&mut self, h: &ReadHandle, w: &mut Writes) -> Result<(), StoreError> {
        if self.format_current {
            return Ok(());
        }
        let stored = h.tree(Tree::Meta).get(key::META_FORMAT).map_err(|e| h.error(e))?;
        if stored.as_deref().and_then(be_number) != Some(u64::from(FORMAT_VERSION)) {
            w.insert(Tree::Meta, key::META_FORMAT, FORMAT_VERSION.to_be_bytes());
        }
        self.format_current = true;
        Ok(())
    }

    /// The id of a host: known, loaded with its head pages, or created.
    pub(super) fn host(&mut self, h: &ReadHandle, name: &str, w: &mut Writes) -> Result<HostId, StoreError> {
        if let Some(state) = self.hosts.get(name) {
            return Ok(state.id);
        }
        let id = match h.tree(Tree::Hosts).get(key::host(name)).map_err(|e| h.error(e))? {
            Some(v) => HostId(
                be_number(&v)
                    .filter(|_| v.len() == HOST_LEN)
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| h.corrupt(format!("host id of {name} is malformed")))?,
            ),
            None => {
                let counters = self.counters(h)?;
                let id = u16::try_from(counters.next_host)
                    .map_err(|_| StoreError::Exhausted { path: h.path().to_path_buf(), what: "host" })?;
                counters.next_host += 1;
                let next = u16::try_from(counters.next_host).unwrap_or(u16::MAX);
                w.insert(Tree::Meta, key::META_NEXT_HOST, next.to_be_bytes());
                w.insert(Tree::Hosts, key::host(name), id.to_be_bytes());
                HostId(id)
            }
        };
        let state = self.load_host(h, id)?;
        self.hosts.insert(name.to_owned(), state);
        Ok(id)
    }

    /// Reads what the writer keeps of a host: its head pages (loading every
    /// series in them with its open block: the rows no block covers yet),
    /// the open block's sweep records and SNMP readings, its newest sweep.
    fn load_host(&mut self, h: &ReadHandle, id: HostId) -> Result<HostState, StoreError> {
        let prefix = key::host_prefix(id);
        let info_hash = newest(h, Tree::HostInfo, &prefix)?.map(|(_, v)| key::fnv1a(&v));
        let sweeps_end = newest_record(h, Tree::Sweeps, &prefix)?;
        let snmp_end = newest_record(h, Tree::Snmp, &prefix)?;
        let mut state =
            HostState { id, info_hash, head: Vec::new(), sweeps: Vec::new(), snmp: Vec::new(), last_sweep: sweeps_end };
        let mut rows: BTreeMap<SeriesId, Vec<Vec<u8>>> = BTreeMap::new();
        let mut failure = None;
        h.for_each(Tree::Head, &Scan::prefix(&prefix), |k, bytes| {
            let Ok(page) = page::parse_head(bytes) else {
                failure = Some(h.corrupt(format!("head page {k:02x?} does not parse")));
                return false;
            };
            state.head.push(page.time);
            if sweeps_end.is_none_or(|end| page.time > end) {
                state.sweeps.push((page.time, page.sweep.to_vec()));
                state.last_sweep = Some(page.time);
            }
            if let Some(snmp) = page.snmp.filter(|_| snmp_end.is_none_or(|end| page.time > end)) {
                state.snmp.push((page.time, snmp.to_vec()));
            }
            // Rows of a page the sweep records cover are in blocks; a crash
            // while compaction removed such pages may have removed the
            // pages their differences start from.
            if sweeps_end.is_none_or(|end| page.time > end) {
                for (series, row) in page.rows {
                    rows.entry(series).or_default().push(row.to_vec());
                }
            }
            true
        })?;
        if let Some(failure) = failure {
            return Err(failure);
        }
        for (series, rows) in rows {
            let mut samples: Vec<Sample> = Vec::with_capacity(rows.len());
            for row in &rows {
                let sample = codec::decode_row(row, samples.last())
                    .map_err(|e| h.corrupt(format!("head row of series {series}: {e}")))?;
                samples.push(sample);
            }
            let mut series_state =
                load_series(h, id, series)?.ok_or_else(|| h.corrupt(format!("series {series} has no series_info")))?;
            // Samples a block covers (left by a crash) are dropped here.
            let mut ignored = WriteReport::default();
            for sample in &samples {
                series_state.append(sample, &mut ignored);
            }
            self.containers.insert((id, series_state.info.container.id.clone()), series);
            self.series.insert(series, series_state);
        }
        Ok(state)
    }

    /// The series of a container: loaded, created, and its description
    /// rewritten if it changed.
    pub(super) fn series_for(
        &mut self,
        h: &ReadHandle,
        host: HostId,
        host_name: &str,
        container: &ContainerInfo,
        time: UnixMillis,
        w: &mut Writes,
    ) -> Result<SeriesId, StoreError> {
        let lookup = (host, container.id.clone());
        let id = match self.containers.get(&lookup) {
            Some(&id) => id,
            None => {
                let series_key = key::series(host, &container.id);
                let stored =
                    match h.tree(Tree::Series).get(&series_key).map_err(|e| h.error(e))? {
                        Some(v) => Some(key::series_of(&v).filter(|_| v.len() == SERIES_LEN).ok_or_else(|| {
                            h.corrupt(format!("series id of container {} is malformed", container.id))
                        })?),
                        None => None,
                    };
                let id = match stored {
                    Some(id) => id,
                    None => {
                        let counters = self.counters(h)?;
                        let id = u32::try_from(counters.next_series)
                            .map_err(|_| StoreError::Exhausted { path: h.path().to_path_buf(), what: "series" })?;
                        counters.next_series += 1;
                        let next = u32::try_from(counters.next_series).unwrap_or(u32::MAX);
                        let id = SeriesId(id);
                        w.insert(Tree::Meta, key::META_NEXT_SERIES, next.to_be_bytes());
                        w.insert(Tree::Series, series_key, key::series_prefix(id));
                        id
                    }
                };
                let state = match stored {
                    Some(id) => load_series(h, host, id)?,
                    None => None,
                };
                // A new series, or one whose description a crash between
                // the two inserts that create a series cut off.
                let state = match state {
                    Some(state) => state,
                    None => {
                        let info = SeriesInfo {
                            series: id,
                            host: host_name.to_owned(),
                            container: container.clone(),
                            first_seen: time,
                            last_seen: None,
                        };
                        w.insert(Tree::SeriesInfo, key::series_prefix(id), series_json(h, &info)?);
                        SeriesState {
                            host,
                            info,
                            last_time: None,
                            details_hash: None,
                            processes_hash: None,
                            memory_time: None,
                            open: OpenBlock::default(),
                            last: None,
                        }
                    }
                };
                self.series.insert(id, state);
                self.containers.insert(lookup, id);
                id
            }
        };
        if let Some(state) = self.series.get_mut(&id) {
            if state.info.container != *container {
                state.info.container = container.clone();
                w.insert(Tree::SeriesInfo, key::series_prefix(id), series_json(h, &state.info)?);
            }
        }
        Ok(id)
    }
}

/// Loads what the writer keeps of a series, with an empty open block and
/// its newest block's end as the newest time; `None` when the series has
/// no description.
fn load_series(h: &ReadHandle, host: HostId, id: SeriesId) -> Result<Option<SeriesState>, StoreError> {
    let prefix = key::series_prefix(id);
    let Some(json) = h.tree(Tree::SeriesInfo).get(prefix).map_err(|e| h.error(e))? else {
        return Ok(None);
    };
    let info: SeriesInfo =
        serde_json::from_slice(&json).map_err(|e| h.corrupt(format!("series_info of series {id}: {e}")))?;
    let block_end = match newest(h, Tree::Blocks, &prefix)? {
        Some((k, v)) => Some(codec::time_range(&v).map(|(_, last)| last).map_err(|e| {
            h.corrupt(format!("block of series {id} at {}: {e}", key::time_of(&k, SERIES_LEN).unwrap_or_default()))
        })?),
        None => None,
    };
    let details_hash = newest(h, Tree::Details, &prefix)?.map(|(_, v)| key::fnv1a(&v));
    // A stored list that does not parse is followed by the next one read.
    let processes = newest(h, Tree::Processes, &prefix)?;
    let processes_hash =
        processes.and_then(|(_, v)| serde_json::from_slice::<Top>(&v).ok()).map(|top| process_identity(&top));
    let memory_time = newest(h, Tree::Memory, &prefix)?.and_then(|(k, _)| key::time_of(&k, SERIES_LEN));
    Ok(Some(SeriesState {
        host,
        info,
        last_time: block_end,
        details_hash,
        processes_hash,
        memory_time,
        open: OpenBlock::default(),
        last: None,
    }))
}

/// The time of the newest record in a host's record blocks.
fn newest_record(h: &ReadHandle, tree: Tree, prefix: &[u8]) -> Result<Option<UnixMillis>, StoreError> {
    let Some((k, v)) = newest(h, tree, prefix)? else {
        return Ok(None);
    };
    let records = page::parse_records(&v).map_err(|e| h.corrupt(format!("{} block {k:02x?}: {e}", tree.name())))?;
    Ok(records.last().map(|(time, _)| *time))
}

fn newest(h: &ReadHandle, tree: Tree, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
    let mut found = None;
    h.for_each(tree, &Scan::prefix(prefix).rev().limit(1), |k, v| {
        found = Some((k.to_vec(), v.to_vec()));
        false
    })?;
    Ok(found)
}

fn series_json(h: &ReadHandle, info: &SeriesInfo) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(info).map_err(|e| h.corrupt(format!("series_info of series {}: {e}", info.series)))
}

/// A big-endian number of 1 to 8 bytes.
fn be_number(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 8 {
        return None;
    }
    Some(bytes.iter().fold(0, |n, &b| (n << 8) | u64::from(b)))
}
