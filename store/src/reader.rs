//! The query API over the store: [`Reader`].
//!
//! Both transports offer the same low-level interface, [`Kv`] (get a key,
//! scan a key range of a named tree), and every decoding step happens here,
//! once: the direct and the socket reader give the same answers by
//! construction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::de::DeserializeOwned;

use super::codec::{self, CodecError};
use super::db::{ReadHandle, Store, StoreOptions, STORE_DIR};
use super::key::{self, HostId, SeriesId, Tree, HOST_LEN, SERIES_LEN};
use super::memstats;
use super::page;
use super::record::{self, EventRecord, SeriesInfo, SweepRecord, Timed};
use super::socket::{SocketClient, SOCKET_FILE};
use super::{reads_format, StoreError};
use crate::payload::{ContainerDetails, Event, HostReading, Info, Latest, MemoryStats, Sizes, Top};
use crate::sample::{Sample, SampleColumns, UnixMillis};

/// A key range of one tree: keys from `start` (inclusive) to `end`
/// (exclusive; `None`: to the end of the tree), ascending or descending,
/// at most `limit` entries, with whole values or only their first
/// [`CUT_VALUE_LEN`] bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// The first key, inclusive.
    pub start: Vec<u8>,
    /// The end, exclusive; `None` is the end of the tree.
    pub end: Option<Vec<u8>>,
    /// Newest (greatest) keys first.
    pub reverse: bool,
    /// The most entries to return.
    pub limit: usize,
    /// Values cut to their first [`CUT_VALUE_LEN`] bytes.
    pub cut_values: bool,
}

/// How much of each value a [`Scan::cut_values`] scan returns: enough for a
/// block's header and time range ([`codec::time_range`]), a few per cent of
/// the block.
pub const CUT_VALUE_LEN: usize = 32;

impl Scan {
    /// Every key that starts with `prefix`, ascending.
    pub fn prefix(prefix: &[u8]) -> Scan {
        Scan::range(prefix.to_vec(), key::successor(prefix))
    }

    /// Keys from `first` to `last`, both inclusive (`last` and every key
    /// that extends it), ascending.
    pub fn between(first: Vec<u8>, last: &[u8]) -> Scan {
        Scan::range(first, key::successor(last))
    }

    /// Keys from `start` to `end` (exclusive), ascending, whole values.
    fn range(start: Vec<u8>, end: Option<Vec<u8>>) -> Scan {
        Scan { start, end, reverse: false, limit: usize::MAX, cut_values: false }
    }

    /// The same range, descending.
    pub fn rev(self) -> Scan {
        Scan { reverse: true, ..self }
    }

    /// At most `limit` entries.
    pub fn limit(self, limit: usize) -> Scan {
        Scan { limit, ..self }
    }

    /// Only the first [`CUT_VALUE_LEN`] bytes of each value (where a
    /// block's time range is all the reader needs).
    pub fn cut_values(self) -> Scan {
        Scan { cut_values: true, ..self }
    }

    /// `value` as this scan returns it.
    pub fn value_of<'a>(&self, value: &'a [u8]) -> &'a [u8] {
        if self.cut_values {
            &value[..value.len().min(CUT_VALUE_LEN)]
        } else {
            value
        }
    }
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The low-level interface of a transport: what the store holds, key by
/// key. Implemented by the store itself and by the socket client.
pub trait Kv {
    /// The store directory or socket this reads from, for messages.
    fn path(&self) -> &Path;
    /// The value of `key` in `tree`.
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// The entries of `tree` in a range, in scan order.
    fn scan(&self, tree: Tree, scan: &Scan) -> Result<Vec<Entry>, StoreError>;
    /// The entries of several scans, each as [`scan`](Kv::scan) answers
    /// it: through the socket, one round trip for as many as a request
    /// frame holds (about 2 800 small ones).
    fn scan_many(&self, scans: &[(Tree, Scan)]) -> Result<Vec<Vec<Entry>>, StoreError> {
        scans.iter().map(|(tree, scan)| self.scan(*tree, scan)).collect()
    }
}

impl Scan {
    /// The key `key` alone: a get, as a scan that [`Kv::scan_many`]
    /// batches.
    pub fn exact(key: &[u8]) -> Scan {
        let mut end = key.to_vec();
        end.push(0);
        Scan::range(key.to_vec(), Some(end)).limit(1)
    }
}

/// The scans of a window of blocks keyed by id and start time (`prefix` the
/// id): the block that starts at or before `from_key` (it may reach into
/// the window), those after it up to `to_key`, and the newest.
fn window_scans(prefix: &[u8], from_key: &[u8], to_key: &[u8]) -> [Scan; 3] {
    let after_from = key::successor(from_key).map(|start| Scan::between(start, to_key));
    [
        Scan::between(prefix.to_vec(), from_key).rev().limit(1),
        after_from.unwrap_or_else(|| Scan::prefix(prefix).limit(0)),
        Scan::prefix(prefix).rev().limit(1),
    ]
}

/// What a host's head samples are read from: the newest sweep record block
/// (where compaction got to) and the head pages.
fn head_scans(host: HostId) -> [(Tree, Scan); 2] {
    let prefix = key::host_prefix(host);
    [(Tree::Sweeps, Scan::prefix(&prefix).rev().limit(1)), (Tree::Head, Scan::prefix(&prefix))]
}

/// Reads the store, directly or through the running collector's socket.
// One reader per process: the size of the direct variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Reader {
    /// The store, opened by this process.
    Direct(Store),
    /// The collector's socket.
    Socket(SocketClient),
    /// A read handle of a store this process holds open (the collector
    /// reading its own store: `/metrics`, forwarding).
    Handle(ReadHandle),
}

impl Reader {
    /// What another user does to read the store, for "permission denied".
    const ANOTHER_USER: &'static str =
        "a user other than the collector's reads through its socket when the collector's socket_group includes it (README: Another user)";

    /// Opens the store in `dir`: through the collector's socket
    /// (`dir/kura.sock`) when it answers, else directly. Fails with
    /// [`StoreError::Unanswered`] when the store is locked but the socket
    /// does not answer, [`StoreError::Missing`] when there is no store, and
    /// [`StoreError::Version`] when the store has another format.
    pub fn open(dir: &Path) -> Result<Reader, StoreError> {
        let socket = dir.join(SOCKET_FILE);
        let reader = match SocketClient::connect(&socket) {
            Ok(client) => Reader::Socket(client),
            // The collector runs (or the folder hides whether it does),
            // and this user may not use its socket.
            Err(StoreError::PermissionDenied { path, detail }) => {
                return Err(StoreError::PermissionDenied { path, detail: format!("{detail}; {}", Self::ANOTHER_USER) })
            }
            Err(_) => {
                let path = dir.join(STORE_DIR);
                match std::fs::metadata(&path) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => return Err(StoreError::Missing { path }),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::Missing { path }),
                    Err(e) => return Err(StoreError::io(&path, e)),
                }
                let options = StoreOptions { cache_capacity: 4 << 20, ..StoreOptions::default() };
                match Store::open(dir, options) {
                    Ok(store) => Reader::Direct(store),
                    Err(StoreError::Locked { path }) => return Err(StoreError::Unanswered { path, socket }),
                    Err(StoreError::PermissionDenied { path, detail }) => {
                        return Err(StoreError::PermissionDenied {
                            path,
                            detail: format!(
                                "{detail}; only the collector's own user (or root) opens its store directly, other users read through its socket {}, which does not answer: is kura-collector running?",
                                socket.display()
                            ),
                        })
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let found = reader.format_version()?;
        if !reads_format(found) {
            return Err(StoreError::Version { path: reader.kv().path().to_path_buf(), found });
        }
        Ok(reader)
    }

    /// The transport.
    pub fn kv(&self) -> &dyn Kv {
        match self {
            Reader::Direct(store) => store,
            Reader::Socket(client) => client,
            Reader::Handle(handle) => handle,
        }
    }

    /// The store's format version (`meta/format`).
    pub fn format_version(&self) -> Result<u32, StoreError> {
        let bytes = self
            .kv()
            .get(Tree::Meta, key::META_FORMAT)?
            .ok_or_else(|| self.corrupt("meta/format is missing".to_owned()))?;
        let bytes: [u8; 4] =
            bytes.as_slice().try_into().map_err(|_| self.corrupt("meta/format is not 4 bytes".to_owned()))?;
        Ok(u32::from_be_bytes(bytes))
    }

    /// Every host's name, sorted.
    pub fn hosts(&self) -> Result<Vec<String>, StoreError> {
        self.kv()
            .scan(Tree::Hosts, &Scan::prefix(&[]))?
            .into_iter()
            .map(|(name, _)| String::from_utf8(name).map_err(|_| self.corrupt("host name is not UTF-8".to_owned())))
            .collect()
    }

    /// The id of a host, or [`StoreError::UnknownHost`].
    pub fn host_id(&self, host: &str) -> Result<HostId, StoreError> {
        let bytes = self
            .kv()
            .get(Tree::Hosts, &key::host(host))?
            .ok_or_else(|| StoreError::UnknownHost { path: self.kv().path().to_path_buf(), host: host.to_owned() })?;
        let bytes: [u8; HOST_LEN] =
            bytes.as_slice().try_into().map_err(|_| self.corrupt(format!("host id of {host} is not 2 bytes")))?;
        Ok(HostId(u16::from_be_bytes(bytes)))
    }

    /// Every container series of a host, by series id, with its newest
    /// sample time as `last_seen`.
    pub fn series(&self, host: &str) -> Result<Vec<SeriesInfo>, StoreError> {
        let host_id = self.host_id(host)?;
        // The head and the host's series ids, in one request.
        let [newest_records, pages] = head_scans(host_id);
        let scans = [newest_records, pages, (Tree::Series, Scan::prefix(&key::host_prefix(host_id)))];
        let mut answers = self.kv().scan_many(&scans)?.into_iter();
        let mut next = || answers.next().unwrap_or_default();
        let (newest_records, pages, series) = (next(), next(), next());
        // The newest head sample of every series, from one pass over the head.
        let head_newest: HashMap<SeriesId, UnixMillis> = self
            .decode_head(&newest_records, &pages, None)?
            .into_iter()
            .filter_map(|(id, samples)| Some((id, samples.last()?.time)))
            .collect();
        let mut ids = Vec::new();
        for (container, id) in series {
            let id = key::series_of(&id).filter(|_| id.len() == SERIES_LEN).ok_or_else(|| {
                self.corrupt(format!(
                    "series id of container {} is not 4 bytes",
                    String::from_utf8_lossy(&container[HOST_LEN..])
                ))
            })?;
            ids.push(id);
        }
        // Each one's description and the time range of its newest block, in
        // one batch.
        let scans: Vec<(Tree, Scan)> = ids
            .iter()
            .flat_map(|&id| {
                let prefix = key::series_prefix(id);
                [
                    (Tree::SeriesInfo, Scan::exact(&prefix)),
                    (Tree::Blocks, Scan::prefix(&prefix).rev().limit(1).cut_values()),
                ]
            })
            .collect();
        let mut answers = self.kv().scan_many(&scans)?.into_iter();
        let mut all = Vec::new();
        for id in ids {
            let (info, newest) = (answers.next().unwrap_or_default(), answers.next().unwrap_or_default());
            // A series without its description was cut short by a crash
            // between the two inserts that create it: nothing else of it is
            // stored (see `write::APPLY_ORDER`).
            let Some((_, json)) = info.first() else {
                continue;
            };
            let mut info = self.parse_series_info(id, json)?;
            info.last_seen = head_newest.get(&id).copied().max(self.newest_block_end(id, &newest)?);
            all.push(info);
        }
        all.sort_by_key(|info| info.series);
        Ok(all)
    }

    /// The description of a series.
    pub fn series_info(&self, series: SeriesId) -> Result<Option<SeriesInfo>, StoreError> {
        let Some(json) = self.kv().get(Tree::SeriesInfo, &key::series_prefix(series))? else {
            return Ok(None);
        };
        self.parse_series_info(series, &json).map(Some)
    }

    fn parse_series_info(&self, series: SeriesId, json: &[u8]) -> Result<SeriesInfo, StoreError> {
        serde_json::from_slice(json).map_err(|e| self.corrupt(format!("series_info of series {series}: {e}")))
    }

    /// The samples of a series with `from <= time <= to`, in time order:
    /// blocks and head merged.
    pub fn samples(&self, series: SeriesId, from: UnixMillis, to: UnixMillis) -> Result<SampleColumns, StoreError> {
        Ok(self.samples_many(&[series], from, to)?.pop().unwrap_or_default())
    }

    /// The samples of several series with `from <= time <= to`, in the
    /// order asked: as [`samples`](Reader::samples), but each host's head
    /// is read once (reading every container of a host, ask for all).
    pub fn samples_many(
        &self,
        series: &[SeriesId],
        from: UnixMillis,
        to: UnixMillis,
    ) -> Result<Vec<SampleColumns>, StoreError> {
        let mut out = vec![SampleColumns::default(); series.len()];
        if from > to {
            return Ok(out);
        }
        // Every series' description and blocks in one batch of scans: the
        // block that starts at or before `from` (it may reach into the
        // range), those after it up to `to`, and the time range of the
        // newest (whose end says which head samples a crash left behind it).
        let mut scans = Vec::with_capacity(series.len() * 4);
        for &id in series {
            let prefix = key::series_prefix(id);
            let [at_from, after_from, newest] =
                window_scans(&prefix, &key::series_time(id, from), &key::series_time(id, to));
            scans.push((Tree::SeriesInfo, Scan::exact(&prefix)));
            scans.extend([at_from, after_from, newest.cut_values()].map(|scan| (Tree::Blocks, scan)));
        }
        let mut answers = self.kv().scan_many(&scans)?.into_iter();
        let mut by_host: BTreeMap<HostId, Vec<(usize, Option<UnixMillis>)>> = BTreeMap::new();
        let mut host_ids = HashMap::new();
        let mut scratch = SampleColumns::default();
        for (i, (&id, columns)) in series.iter().zip(&mut out).enumerate() {
            let mut next = || answers.next().unwrap_or_default();
            let (info, mut blocks, after, newest) = (next(), next(), next(), next());
            blocks.extend(after);
            columns.reserve(blocks.iter().filter_map(|(_, block)| codec::row_count(block).ok()).sum());
            for (block_key, block) in &blocks {
                Self::append_rows(block, from, to, columns, &mut scratch)
                    .map_err(|e| self.bad_block(id, block_key, &e))?;
            }
            let covered = self.newest_block_end(id, &newest)?;
            let info = match info.first() {
                Some((_, json)) => self.parse_series_info(id, json)?,
                None => continue,
            };
            let host = self.memo_host_id(info.host, &mut host_ids)?;
            by_host.entry(host).or_default().push((i, covered));
        }
        for (host, indexes) in by_host {
            let wanted: BTreeSet<SeriesId> = indexes.iter().map(|&(i, _)| series[i]).collect();
            let mut head = self.head_samples(host, Some(&wanted))?;
            for (i, covered) in indexes {
                // Head samples a block already covers are left from a crash.
                let head = head.remove(&series[i]).unwrap_or_default();
                for sample in &head {
                    let fresh = covered.is_none_or(|c| sample.time > c);
                    if fresh && (from..=to).contains(&sample.time) {
                        out[i].push(sample);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The newest sample of a series.
    pub fn last_sample(&self, series: SeriesId) -> Result<Option<Sample>, StoreError> {
        let block = self.newest(Tree::Blocks, &key::series_prefix(series))?;
        let block_end = match &block {
            Some((k, v)) => Some(self.block_range(series, k, v)?.1),
            None => None,
        };
        if let Some(host) = self.series_host(series, &mut HashMap::new())? {
            let head = self.head_samples(host, Some(&BTreeSet::from([series])))?.remove(&series);
            if let Some(newest) = head.and_then(|mut samples| samples.pop()) {
                if block_end.is_none_or(|end| newest.time > end) {
                    return Ok(Some(newest));
                }
            }
        }
        let Some((block_key, block)) = block else {
            return Ok(None);
        };
        let columns = codec::decode_block(&block).map_err(|e| self.bad_block(series, &block_key, &e))?;
        Ok(columns.len().checked_sub(1).and_then(|i| columns.row(i)))
    }

    /// The sweeps of a host with `from <= time <= to`.
    pub fn sweeps(&self, host: &str, from: UnixMillis, to: UnixMillis) -> Result<Vec<SweepRecord>, StoreError> {
        let host_id = self.host_id(host)?;
        self.host_records(Tree::Sweeps, host_id, from, to)?
            .into_iter()
            .map(|(time, bytes)| self.sweep_record(host, time, &bytes))
            .collect()
    }

    /// The newest sweep of a host.
    pub fn latest_sweep(&self, host: &str) -> Result<Option<SweepRecord>, StoreError> {
        let host_id = self.host_id(host)?;
        let prefix = key::host_prefix(host_id);
        let mut newest: Option<(UnixMillis, Vec<u8>)> = None;
        if let Some((block_key, block)) = self.newest(Tree::Sweeps, &prefix)? {
            newest =
                self.records(Tree::Sweeps, &block_key, &block)?.last().map(|(time, bytes)| (*time, bytes.to_vec()));
        }
        if let Some((page_key, bytes)) = self.newest(Tree::Head, &prefix)? {
            let head_page = self.head_page(&page_key, &bytes)?;
            if newest.as_ref().is_none_or(|(time, _)| head_page.time > *time) {
                newest = Some((head_page.time, head_page.sweep.to_vec()));
            }
        }
        newest.map(|(time, bytes)| self.sweep_record(host, time, &bytes)).transpose()
    }

    /// The sweep of a host in force at `at`: the newest that started at or
    /// before it.
    pub fn sweep_at(&self, host: &str, at: UnixMillis) -> Result<Option<SweepRecord>, StoreError> {
        let host_id = self.host_id(host)?;
        // The record block that holds `at`, if any, starts at or before it;
        // head pages are newer than every block.
        let scan = Scan::between(key::host_prefix(host_id).to_vec(), &key::host_time(host_id, at)).rev().limit(1);
        let from = match self.kv().scan(Tree::Sweeps, &scan)?.pop() {
            Some((block_key, _)) => key::time_of(&block_key, HOST_LEN)
                .ok_or_else(|| self.corrupt(format!("sweeps key {block_key:02x?} is too short")))?,
            None => UnixMillis::MIN,
        };
        Ok(self.sweeps(host, from, at)?.pop())
    }

    /// The details of a series' container in force at `at`: the newest
    /// recorded at or before it (details are written when they change).
    pub fn details_at(&self, series: SeriesId, at: UnixMillis) -> Result<Option<Timed<ContainerDetails>>, StoreError> {
        self.timed_at(Tree::Details, &key::series_prefix(series), &key::series_time(series, at), SERIES_LEN)
    }

    /// The details of a series' container recorded with `from <= time <= to`,
    /// in time order (each is a change; the one in force at `from` is
    /// [`details_at`](Reader::details_at)).
    pub fn details_between(
        &self,
        series: SeriesId,
        from: UnixMillis,
        to: UnixMillis,
    ) -> Result<Vec<Timed<ContainerDetails>>, StoreError> {
        self.timed_between(Tree::Details, key::series_time(series, from), &key::series_time(series, to), SERIES_LEN)
    }

    /// The processes of a series' container in force at `at`: the newest
    /// `top` read at or before it (the `processes` tree holds a list when
    /// its processes changed, so its time is when it was first read).
    pub fn processes_at(&self, series: SeriesId, at: UnixMillis) -> Result<Option<Timed<Top>>, StoreError> {
        self.history_at(series, at)
    }

    /// The process lists of a series' container stored with
    /// `from <= time <= to`, in time order (each is a change; the one in
    /// force at `from` is [`processes_at`](Reader::processes_at)).
    pub fn processes_between(
        &self,
        series: SeriesId,
        from: UnixMillis,
        to: UnixMillis,
    ) -> Result<Vec<Timed<Top>>, StoreError> {
        self.history_between(series, from, to)
    }

    /// The raw memory statistics of a series' container in force at `at`:
    /// the newest reading if it is at or before `at`, else the newest the
    /// `memory` tree holds then (it keeps one an hour).
    pub fn memory_stats_at(&self, series: SeriesId, at: UnixMillis) -> Result<Option<Timed<MemoryStats>>, StoreError> {
        self.history_at(series, at)
    }

    /// The raw memory statistics of a series' container stored with
    /// `from <= time <= to` (one an hour), in time order.
    pub fn memory_stats_between(
        &self,
        series: SeriesId,
        from: UnixMillis,
        to: UnixMillis,
    ) -> Result<Vec<Timed<MemoryStats>>, StoreError> {
        self.history_between(series, from, to)
    }

    /// The document of kind `T` in force at `at`: the newer of the newest
    /// in its tree at or before `at` and the `latest` reading, if that is
    /// at or before `at` too (the tree does not hold every reading; a store
    /// written before the tree has only `latest`). One round trip.
    fn history_at<T: History>(&self, series: SeriesId, at: UnixMillis) -> Result<Option<Timed<T>>, StoreError> {
        let prefix = key::series_prefix(series);
        let in_force = Scan::between(prefix.to_vec(), &key::series_time(series, at)).rev().limit(1);
        let scans = [(T::TREE, in_force), (Tree::Latest, Scan::exact(&prefix))];
        let mut answers = self.kv().scan_many(&scans)?.into_iter();
        let (stored, latest) = (answers.next().unwrap_or_default(), answers.next().unwrap_or_default());
        let stored = stored.first().map(|(k, v)| self.history_doc(series, k, v)).transpose()?;
        let latest = self.latest_doc::<T>(series, &latest)?.filter(|timed| timed.time <= at);
        Ok(match (stored, latest) {
            (Some(stored), Some(latest)) => Some(if latest.time > stored.time { latest } else { stored }),
            (stored, latest) => stored.or(latest),
        })
    }

    /// The documents of kind `T` stored with `from <= time <= to`.
    fn history_between<T: History>(
        &self,
        series: SeriesId,
        from: UnixMillis,
        to: UnixMillis,
    ) -> Result<Vec<Timed<T>>, StoreError> {
        if from > to {
            return Ok(Vec::new());
        }
        let range = Scan::between(key::series_time(series, from), &key::series_time(series, to));
        match self.history_scans::<T>(series, range)? {
            Stored::History(found) => found.iter().map(|(k, v)| self.history_doc(series, k, v)).collect(),
            Stored::Latest(latest) => {
                Ok(latest.filter(|timed| (from..=to).contains(&timed.time)).into_iter().collect())
            }
        }
    }

    /// The entries of `scan` in `T`'s tree or, for a series with no entry
    /// there at all, its `latest` document of kind `T`, in one round trip:
    /// a store written before the history trees existed has only `latest`
    /// (the newest reading).
    fn history_scans<T: History>(&self, series: SeriesId, scan: Scan) -> Result<Stored<T>, StoreError> {
        let prefix = key::series_prefix(series);
        let scans = [(T::TREE, scan), (T::TREE, Scan::prefix(&prefix).limit(1)), (Tree::Latest, Scan::exact(&prefix))];
        let mut answers = self.kv().scan_many(&scans)?.into_iter();
        let mut next = || answers.next().unwrap_or_default();
        let (found, any, latest) = (next(), next(), next());
        if !any.is_empty() {
            return Ok(Stored::History(found));
        }
        Ok(Stored::Latest(self.latest_doc(series, &latest)?))
    }

    /// The part of kind `T` of a series' `latest` document, from the
    /// answer of an exact scan for it.
    fn latest_doc<T: History>(&self, series: SeriesId, latest: &[Entry]) -> Result<Option<Timed<T>>, StoreError> {
        match latest.first() {
            Some((_, v)) => Ok(record::decode_timed::<Latest>(v)
                .map_err(|e| self.corrupt(format!("latest of series {series}: {e}")))?
                .map_value(T::of_latest)),
            None => Ok(None),
        }
    }

    fn history_doc<T: History>(&self, series: SeriesId, k: &[u8], v: &[u8]) -> Result<Timed<T>, StoreError> {
        let at = || format!("{} of series {series} under key {k:02x?}", T::TREE.name());
        let time = key::time_of(k, SERIES_LEN).ok_or_else(|| self.corrupt(format!("{}: too short", at())))?;
        let value = T::decode(v).map_err(|e| self.corrupt(format!("{}: {e}", at())))?;
        Ok(Timed { time, value })
    }

    /// The events of a host with `from_ns <= time <= to_ns`, in time order.
    pub fn events(&self, host: &str, from_ns: i64, to_ns: i64) -> Result<Vec<EventRecord>, StoreError> {
        let host_id = self.host_id(host)?;
        Ok(self
            .timed_between(Tree::Events, key::host_time(host_id, from_ns), &key::host_time(host_id, to_ns), HOST_LEN)?
            .into_iter()
            .map(|Timed { time, value }| EventRecord { time_ns: time, event: value })
            .collect())
    }

    /// The newest stored event of a host (the collector resumes its event
    /// stream from it).
    pub fn last_event(&self, host: &str) -> Result<Option<EventRecord>, StoreError> {
        let host_id = self.host_id(host)?;
        let prefix = key::host_prefix(host_id);
        let newest: Option<Timed<Event>> = self.timed_at(Tree::Events, &prefix, &prefix, HOST_LEN)?;
        Ok(newest.map(|Timed { time, value }| EventRecord { time_ns: time, event: value }))
    }

    /// The SNMP readings of a host with `from <= time <= to`.
    pub fn snmp(&self, host: &str, from: UnixMillis, to: UnixMillis) -> Result<Vec<Timed<HostReading>>, StoreError> {
        let host_id = self.host_id(host)?;
        self.host_records(Tree::Snmp, host_id, from, to)?
            .into_iter()
            .map(|(time, bytes)| {
                let value = serde_json::from_slice(&bytes)
                    .map_err(|e| self.corrupt(format!("SNMP reading of host {host} at {time}: {e}")))?;
                Ok(Timed { time, value })
            })
            .collect()
    }

    /// The size sweep of a host in force at `at`: the newest at or before it.
    pub fn sizes_at(&self, host: &str, at: UnixMillis) -> Result<Option<Timed<Sizes>>, StoreError> {
        let host_id = self.host_id(host)?;
        self.timed_at(Tree::Sizes, &key::host_prefix(host_id), &key::host_time(host_id, at), HOST_LEN)
    }

    /// The size sweeps of a host with `from <= time <= to`, in time order.
    pub fn sizes_between(&self, host: &str, from: UnixMillis, to: UnixMillis) -> Result<Vec<Timed<Sizes>>, StoreError> {
        let host_id = self.host_id(host)?;
        self.timed_between(Tree::Sizes, key::host_time(host_id, from), &key::host_time(host_id, to), HOST_LEN)
    }

    /// The daemon's `/info` of a host in force at `at` (written when it changes).
    pub fn host_info_at(&self, host: &str, at: UnixMillis) -> Result<Option<Timed<Info>>, StoreError> {
        let host_id = self.host_id(host)?;
        self.timed_at(Tree::HostInfo, &key::host_prefix(host_id), &key::host_time(host_id, at), HOST_LEN)
    }

    /// The `/info` documents of a host recorded with `from <= time <= to`.
    pub fn host_info_between(
        &self,
        host: &str,
        from: UnixMillis,
        to: UnixMillis,
    ) -> Result<Vec<Timed<Info>>, StoreError> {
        let host_id = self.host_id(host)?;
        self.timed_between(Tree::HostInfo, key::host_time(host_id, from), &key::host_time(host_id, to), HOST_LEN)
    }

    /// The newest document under `prefix` whose key is at most `last` (and
    /// the keys that extend it).
    fn timed_at<T: DeserializeOwned>(
        &self,
        tree: Tree,
        prefix: &[u8],
        last: &[u8],
        id_len: usize,
    ) -> Result<Option<Timed<T>>, StoreError> {
        let scan = Scan::between(prefix.to_vec(), last).rev().limit(1);
        self.kv().scan(tree, &scan)?.pop().map(|(k, v)| self.timed_doc(tree, id_len, &k, &v)).transpose()
    }

    /// The documents with keys from `first` to `last` (inclusive, with the
    /// keys that extend it), in key order.
    fn timed_between<T: DeserializeOwned>(
        &self,
        tree: Tree,
        first: Vec<u8>,
        last: &[u8],
        id_len: usize,
    ) -> Result<Vec<Timed<T>>, StoreError> {
        if first.as_slice() > last {
            return Ok(Vec::new());
        }
        let scan = Scan::between(first, last);
        self.kv().scan(tree, &scan)?.iter().map(|(k, v)| self.timed_doc(tree, id_len, k, v)).collect()
    }

    /// The entry with the greatest key that starts with `prefix`.
    fn newest(&self, tree: Tree, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
        Ok(self.kv().scan(tree, &Scan::prefix(prefix).rev().limit(1))?.pop())
    }

    /// The last time a series' newest block covers, from the answer of
    /// the scan for it (reverse, limit 1).
    fn newest_block_end(&self, series: SeriesId, newest: &[Entry]) -> Result<Option<UnixMillis>, StoreError> {
        match newest.first() {
            Some((k, v)) => Ok(Some(self.block_range(series, k, v)?.1)),
            None => Ok(None),
        }
    }

    /// The host of a series (`None` for an unknown series). `known` holds
    /// the host ids looked up so far, by name: one lookup per host, not per
    /// series (each is a round trip through the socket).
    fn series_host(&self, series: SeriesId, known: &mut HashMap<String, HostId>) -> Result<Option<HostId>, StoreError> {
        let Some(info) = self.series_info(series)? else {
            return Ok(None);
        };
        self.memo_host_id(info.host, known).map(Some)
    }

    /// The id of the host named `name`, looked up once per name in `known`.
    fn memo_host_id(&self, name: String, known: &mut HashMap<String, HostId>) -> Result<HostId, StoreError> {
        if let Some(&host) = known.get(&name) {
            return Ok(host);
        }
        let host = self.host_id(&name)?;
        known.insert(name, host);
        Ok(host)
    }

    /// The head samples of a host's series (or of some), in time order:
    /// each series' rows decoded along its chain of differences. Pages the
    /// host's sweep records cover are skipped: a crash while compaction
    /// removed them can leave a later page whose rows are differences from
    /// a removed one. Includes other samples a block covers (a crash before
    /// the sweep records were written); callers skip those.
    fn head_samples(
        &self,
        host: HostId,
        only: Option<&BTreeSet<SeriesId>>,
    ) -> Result<BTreeMap<SeriesId, Vec<Sample>>, StoreError> {
        let mut answers = self.kv().scan_many(&head_scans(host))?.into_iter();
        let (newest_records, pages) = (answers.next().unwrap_or_default(), answers.next().unwrap_or_default());
        self.decode_head(&newest_records, &pages, only)
    }

    /// The head samples of [`head_samples`](Self::head_samples), from the
    /// answers to [`head_scans`].
    fn decode_head(
        &self,
        newest_records: &[Entry],
        pages: &[Entry],
        only: Option<&BTreeSet<SeriesId>>,
    ) -> Result<BTreeMap<SeriesId, Vec<Sample>>, StoreError> {
        let mut all: BTreeMap<SeriesId, Vec<Sample>> = BTreeMap::new();
        let compacted = self.last_record_time(Tree::Sweeps, newest_records.first())?;
        for (page_key, bytes) in pages {
            let head_page = self.head_page(page_key, bytes)?;
            if compacted.is_some_and(|end| head_page.time <= end) {
                continue;
            }
            for (id, row) in head_page.rows {
                if only.is_some_and(|only| !only.contains(&id)) {
                    continue;
                }
                let chain = all.entry(id).or_default();
                let sample = codec::decode_row(row, chain.last())
                    .map_err(|e| self.corrupt(format!("head page {page_key:02x?}, series {id}: {e}")))?;
                chain.push(sample);
            }
        }
        Ok(all)
    }

    fn block_range(
        &self,
        series: SeriesId,
        block_key: &[u8],
        block: &[u8],
    ) -> Result<(UnixMillis, UnixMillis), StoreError> {
        codec::time_range(block).map_err(|e| self.bad_block(series, block_key, &e))
    }

    /// Appends the rows of a block within `from..=to`: a block wholly inside
    /// is decoded into `out`, one that reaches past either end into
    /// `scratch` (reused from block to block), whose rows in range are then
    /// copied.
    fn append_rows(
        block: &[u8],
        from: UnixMillis,
        to: UnixMillis,
        out: &mut SampleColumns,
        scratch: &mut SampleColumns,
    ) -> Result<(), CodecError> {
        let (first, last) = codec::time_range(block)?;
        if first > to || last < from {
            return Ok(());
        }
        if from <= first && last <= to {
            return codec::decode_block_into(block, out);
        }
        scratch.clear();
        codec::decode_block_into(block, scratch)?;
        for i in (0..scratch.len()).filter(|&i| (from..=to).contains(&scratch.time[i])) {
            out.push_row_of(scratch, i);
        }
        Ok(())
    }

    fn sweep_record(&self, host: &str, time: UnixMillis, bytes: &[u8]) -> Result<SweepRecord, StoreError> {
        SweepRecord::decode(time, bytes)
            .map_err(|e| self.corrupt(format!("sweep record of host {host} at {time}: {e}")))
    }

    /// The records (sweep records or SNMP readings) of a host with
    /// `from <= time <= to`: from its record blocks, then from its head
    /// pages (those no block covers).
    fn host_records(
        &self,
        tree: Tree,
        host: HostId,
        from: UnixMillis,
        to: UnixMillis,
    ) -> Result<Vec<(UnixMillis, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        if from > to {
            return Ok(out);
        }
        // In one request: the record block that starts at or before `from`,
        // those after it up to `to`, the newest (whose end says which head
        // records a crash left behind it), and the head pages.
        let prefix = key::host_prefix(host);
        let window = window_scans(&prefix, &key::host_time(host, from), &key::host_time(host, to));
        let scans: Vec<(Tree, Scan)> =
            window.into_iter().map(|scan| (tree, scan)).chain([(Tree::Head, Scan::prefix(&prefix))]).collect();
        let mut answers = self.kv().scan_many(&scans)?.into_iter();
        let mut next = || answers.next().unwrap_or_default();
        let (mut blocks, after, newest, pages) = (next(), next(), next(), next());
        blocks.extend(after);
        for (block_key, block) in &blocks {
            for (time, bytes) in self.records(tree, block_key, block)? {
                if (from..=to).contains(&time) {
                    out.push((time, bytes.to_vec()));
                }
            }
        }
        // Head records a block already covers are left from a crash.
        let covered = self.last_record_time(tree, newest.first())?;
        for (page_key, bytes) in pages {
            let head_page = self.head_page(&page_key, &bytes)?;
            let record = match tree {
                Tree::Sweeps => Some(head_page.sweep),
                _ => head_page.snmp,
            };
            let time = head_page.time;
            if let Some(record) = record {
                if covered.is_none_or(|c| time > c) && (from..=to).contains(&time) {
                    out.push((time, record.to_vec()));
                }
            }
        }
        Ok(out)
    }

    /// The time of the last record in a record block.
    fn last_record_time(&self, tree: Tree, block: Option<&Entry>) -> Result<Option<UnixMillis>, StoreError> {
        match block {
            Some((block_key, block)) => Ok(self.records(tree, block_key, block)?.last().map(|(t, _)| *t)),
            None => Ok(None),
        }
    }

    fn records<'a>(
        &self,
        tree: Tree,
        block_key: &[u8],
        block: &'a [u8],
    ) -> Result<Vec<(UnixMillis, &'a [u8])>, StoreError> {
        page::parse_records(block).map_err(|e| self.corrupt(format!("{} block {block_key:02x?}: {e}", tree.name())))
    }

    fn head_page<'a>(&self, page_key: &[u8], bytes: &'a [u8]) -> Result<page::HeadPage<'a>, StoreError> {
        page::parse_head(bytes).map_err(|e| self.corrupt(format!("head page {page_key:02x?}: {e}")))
    }

    /// A document stored under an id + time key.
    fn timed_doc<T: DeserializeOwned>(
        &self,
        tree: Tree,
        id_len: usize,
        k: &[u8],
        v: &[u8],
    ) -> Result<Timed<T>, StoreError> {
        let time = key::time_of(k, id_len)
            .ok_or_else(|| self.corrupt(format!("{} key {k:02x?} is too short", tree.name())))?;
        let value = serde_json::from_slice(v)
            .map_err(|e| self.corrupt(format!("{} value under key {k:02x?}: {e}", tree.name())))?;
        Ok(Timed { time, value })
    }

    fn bad_block(&self, series: SeriesId, block_key: &[u8], error: &CodecError) -> StoreError {
        let time = key::time_of(block_key, SERIES_LEN).unwrap_or_default();
        self.corrupt(format!("block of series {series} at {time}: {error}"))
    }

    fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt { path: self.kv().path().to_path_buf(), detail }
    }
}

/// What a store holds of a series' history of one kind.
enum Stored<T> {
    /// The entries of a scan of the history tree (the series has some).
    History(Vec<Entry>),
    /// No history: the `latest` document, if any.
    Latest(Option<Timed<T>>),
}

/// A kind of document a series keeps a history of in its own tree, and
/// the newest of in `latest` (all that stores written before the tree
/// have).
trait History: Sized {
    /// The tree of the history.
    const TREE: Tree;
    /// A stored value.
    fn decode(bytes: &[u8]) -> Result<Self, String>;
    /// This kind's part of a `latest` document.
    fn of_latest(latest: Latest) -> Option<Self>;
}

impl History for Top {
    const TREE: Tree = Tree::Processes;

    fn decode(bytes: &[u8]) -> Result<Top, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    fn of_latest(latest: Latest) -> Option<Top> {
        latest.top
    }
}

impl History for MemoryStats {
    const TREE: Tree = Tree::Memory;

    fn decode(bytes: &[u8]) -> Result<MemoryStats, String> {
        memstats::decode(bytes).map_err(|e| e.to_string())
    }

    fn of_latest(latest: Latest) -> Option<MemoryStats> {
        latest.memory_stats
    }
}
