//! Tests of the store through real sled databases in temporary directories.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::payload::{Actor, ContainerDetails, Event, HostReading, Info, Latest, MemoryStats, Sizes, Top};
use proptest::prelude::*;

use super::socket::{self, HandleSlot, ServerLimits, Shutdown, SocketClient, SOCKET_FILE};
use super::*;
use crate::sample::{Field, Sample, SampleColumns, State, UnixMillis};

const HOST: &str = "docker-1";

fn options(block_rows: usize) -> StoreOptions {
    StoreOptions { block_rows, flush_every_sweep: false, ..StoreOptions::default() }
}

fn container(i: usize) -> ContainerInfo {
    ContainerInfo {
        id: format!("{i:064x}"),
        name: format!("web{i}"),
        image: "kura-test/busybox:latest".to_owned(),
        command: "httpd -f".to_owned(),
        created: Some(1_000),
        labels: BTreeMap::from([("hinemosAssignScopeId".to_owned(), "web1,web2".to_owned())]),
    }
}

fn sample_at(time: UnixMillis, cpu: u64) -> Sample {
    let mut sample = Sample::state_only(time, State::Running);
    sample.set(Field::CpuTotalNs, Some(cpu));
    sample.set(Field::MemUsage, Some(cpu % 7 * 4096));
    sample.percpu_ns = vec![cpu / 3, cpu - cpu / 3];
    sample
}

fn sweep(time: UnixMillis, containers: Vec<ContainerSweep>) -> SweepBatch {
    SweepBatch {
        host: HOST.to_owned(),
        sweep: SweepRecord {
            time,
            outcome: SweepOutcome::Reached,
            latency_us: 900,
            containers: u32::try_from(containers.len()).unwrap(),
        },
        containers,
        events: Vec::new(),
        snmp: None,
        sizes: None,
        host_info: None,
    }
}

fn running(i: usize, time: UnixMillis, cpu: u64) -> ContainerSweep {
    ContainerSweep { info: container(i), sample: Some(sample_at(time, cpu)), details: None, latest: None }
}

fn rows(columns: &SampleColumns) -> Vec<Sample> {
    (0..columns.len()).filter_map(|i| columns.row(i)).collect()
}

/// Details whose restart count is `n`.
fn details(n: i64) -> ContainerDetails {
    ContainerDetails { restart_count: n, ..ContainerDetails::default() }
}

/// A `latest` document that carries `n` as its one memory statistic (a
/// name the compact encoding spells out) and `n / 3` in its processes.
fn latest(n: i64) -> Latest {
    Latest { top: Some(top(n / 3)), memory_stats: Some(memory(n)) }
}

/// Raw memory statistics that carry `n`.
fn memory(n: i64) -> MemoryStats {
    [("n".to_owned(), u64::try_from(n).unwrap()), ("total_rss".to_owned(), 4096)].into()
}

/// A process list that carries `n` (as a PID).
fn top(n: i64) -> Top {
    Top { titles: vec!["PID".to_owned(), "CMD".to_owned()], processes: vec![vec![n.to_string(), "sh".to_owned()]] }
}

/// An event of this action and number (in its attributes).
fn event(action: &str, n: i64) -> Event {
    Event {
        action: Some(action.to_owned()),
        actor: Some(Actor { id: String::new(), attributes: [("n".to_owned(), n.to_string())].into() }),
        ..Event::default()
    }
}

/// An SNMP reading that carries `n`.
fn snmp(n: i64) -> HostReading {
    HostReading { sys_uptime: Some(u64::try_from(n).unwrap()), ..HostReading::default() }
}

/// A size sweep that carries `n`.
fn sizes(n: i64) -> Sizes {
    Sizes { images: u64::try_from(n).unwrap(), ..Sizes::default() }
}

/// Host info whose epoch is `n` (as its kernel).
fn info(n: i64) -> Info {
    Info { name: Some(HOST.to_owned()), kernel_version: Some(n.to_string()), ..Info::default() }
}

/// Writes `sweeps` sweeps of `containers` containers, 10 s apart, with every
/// kind of record; returns the samples written per container.
fn fill(store: &Store, sweeps: i64, containers: usize) -> Vec<Vec<Sample>> {
    let mut written = vec![Vec::new(); containers];
    for n in 0..sweeps {
        let time = 1_000_000 + n * 10_000;
        let mut batch = sweep(
            time,
            (0..containers)
                .map(|i| {
                    let mut c = running(i, time + i64::try_from(i).unwrap(), u64::try_from(n).unwrap() * 1000);
                    c.details = Some(details(n / 5));
                    c.latest = Some(latest(n));
                    written[i].push(c.sample.clone().unwrap());
                    c
                })
                .collect(),
        );
        batch.events = vec![EventRecord { time_ns: time * 1_000_000, event: event("start", n) }];
        batch.snmp = Some(snmp(n));
        batch.sizes = (n % 4 == 0).then(|| sizes(n));
        batch.host_info = Some(info(n / 3));
        let report = store.write_sweep(&batch).unwrap();
        assert_eq!(report.samples, containers);
    }
    written
}

/// Writes a sweep at `time` of containers `0..written.len()`, all running
/// with CPU `cpu`, and appends their samples to `written`.
fn write_running(store: &Store, time: UnixMillis, cpu: u64, written: &mut [Vec<Sample>]) -> WriteReport {
    let batch = sweep(time, (0..written.len()).map(|i| running(i, time, cpu)).collect());
    let report = store.write_sweep(&batch).unwrap();
    for (samples, c) in written.iter_mut().zip(&batch.containers) {
        samples.push(c.sample.clone().unwrap());
    }
    report
}

/// Asserts that the host's series, in order, hold `written`.
fn assert_reads_back(reader: &Reader, written: &[Vec<Sample>]) {
    let ids = series_ids(reader);
    assert_eq!(ids.len(), written.len());
    for (id, samples) in ids.into_iter().zip(written) {
        assert_eq!(&rows(&reader.samples(id, i64::MIN, i64::MAX).unwrap()), samples);
    }
}

fn series_ids(reader: &Reader) -> Vec<SeriesId> {
    reader.series(HOST).unwrap().into_iter().map(|s| s.series).collect()
}

fn into_store(reader: Reader) -> Store {
    match reader {
        Reader::Direct(store) => store,
        Reader::Socket(_) | Reader::Handle(_) => unreachable!("a direct reader"),
    }
}

#[test]
fn everything_written_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    let written = fill(&store, 11, 3);
    let reader = Reader::Direct(store);

    assert_eq!(reader.format_version().unwrap(), FORMAT_VERSION);
    assert_eq!(reader.hosts().unwrap(), vec![HOST.to_owned()]);
    let series = reader.series(HOST).unwrap();
    assert_eq!(series.len(), 3);
    for (i, info) in series.iter().enumerate() {
        assert_eq!(info.container, container(i));
        assert_eq!(info.first_seen, 1_000_000);
        let newest = written[i].last().unwrap();
        assert_eq!(info.last_seen, Some(newest.time));
        // 11 samples at 4 per block: two blocks and three head entries.
        let all = reader.samples(info.series, i64::MIN, i64::MAX).unwrap();
        assert_eq!(rows(&all), written[i]);
        assert_eq!(reader.last_sample(info.series).unwrap().as_ref(), Some(newest));
        // A window inside a block and across block and head.
        let window = reader.samples(info.series, 1_020_000, 1_090_000).unwrap();
        let expected: Vec<Sample> =
            written[i].iter().filter(|s| (1_020_000..=1_090_000).contains(&s.time)).cloned().collect();
        assert_eq!(rows(&window), expected);
        assert_eq!(
            reader.details_at(info.series, i64::MAX).unwrap().unwrap(),
            Timed { time: 1_100_000, value: details(2) }
        );
        // Processes and memory statistics as of any time, and between two.
        let id = info.series;
        // The newest reading (in `latest`), then the stored changes.
        assert_eq!(reader.processes_at(id, i64::MAX).unwrap().unwrap(), Timed { time: 1_100_000, value: top(3) });
        assert_eq!(reader.processes_at(id, 1_095_000).unwrap().unwrap(), Timed { time: 1_090_000, value: top(3) });
        assert_eq!(reader.processes_at(id, 1_089_999).unwrap().unwrap(), Timed { time: 1_060_000, value: top(2) });
        assert_eq!(reader.processes_at(id, 999_999).unwrap(), None);
        let changes: Vec<UnixMillis> =
            reader.processes_between(id, 1_030_000, 1_080_000).unwrap().iter().map(|t| t.time).collect();
        assert_eq!(changes, vec![1_030_000, 1_060_000]);
        // Memory statistics: one an hour in the tree, the newest in `latest`.
        let first_memory = Timed { time: 1_000_000, value: memory(0) };
        assert_eq!(reader.memory_stats_at(id, 1_055_000).unwrap().unwrap(), first_memory);
        assert_eq!(
            reader.memory_stats_at(id, i64::MAX).unwrap().unwrap(),
            Timed { time: 1_100_000, value: memory(10) }
        );
        assert_eq!(reader.memory_stats_between(id, 0, i64::MAX).unwrap(), vec![first_memory]);
        assert!(reader.memory_stats_between(id, 1_040_000, 1_020_000).unwrap().is_empty());
    }
    // Several series at once: the same answers.
    let ids: Vec<SeriesId> = series.iter().map(|s| s.series).rev().collect();
    let many = reader.samples_many(&ids, 1_020_000, 1_090_000).unwrap();
    for (id, columns) in ids.iter().zip(&many) {
        assert_eq!(columns, &reader.samples(*id, 1_020_000, 1_090_000).unwrap());
        assert!(!columns.is_empty());
    }
    let sweeps = reader.sweeps(HOST, 1_010_000, 1_030_000).unwrap();
    assert_eq!(sweeps.iter().map(|s| s.time).collect::<Vec<_>>(), vec![1_010_000, 1_020_000, 1_030_000]);
    assert_eq!(reader.latest_sweep(HOST).unwrap().unwrap().time, 1_100_000);
    assert_eq!(reader.events(HOST, 0, i64::MAX).unwrap().len(), 11);
    assert_eq!(reader.snmp(HOST, 1_050_000, 1_060_000).unwrap().len(), 2);
    assert_eq!(reader.sizes_at(HOST, i64::MAX).unwrap().unwrap(), Timed { time: 1_080_000, value: sizes(8) });
    assert_eq!(reader.host_info_at(HOST, i64::MAX).unwrap().unwrap(), Timed { time: 1_090_000, value: info(3) });
    // Details, processes, memory statistics and host info are stored only
    // when they change.
    let store = into_store(reader);
    assert_eq!(store.handle().tree(Tree::Details).len(), 3 * 3);
    assert_eq!(store.handle().tree(Tree::Processes).len(), 3 * 4);
    assert_eq!(store.handle().tree(Tree::Memory).len(), 3);
    assert_eq!(store.handle().tree(Tree::HostInfo).len(), 4);
    assert!(matches!(
        Reader::Direct(store).series("nobody"),
        Err(StoreError::UnknownHost { host, .. }) if host == "nobody"
    ));
}

#[test]
fn the_same_event_twice_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    let event = EventRecord { time_ns: 5, event: event("die", 0) };
    for time in [10, 20] {
        let mut batch = sweep(time, Vec::new());
        batch.events = vec![event.clone()];
        store.write_sweep(&batch).unwrap();
    }
    assert_eq!(Reader::Direct(store).events(HOST, 0, 100).unwrap(), vec![event]);
}

#[test]
fn samples_that_do_not_move_forward_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    store.write_sweep(&sweep(100, vec![running(0, 100, 1)])).unwrap();
    let report =
        store.write_sweep(&sweep(110, vec![running(0, 90, 2), running(0, 100, 3), running(0, 101, 4)])).unwrap();
    assert_eq!(report.samples, 1);
    assert_eq!(report.out_of_order, 2);
    let reader = Reader::Direct(store);
    let id = series_ids(&reader)[0];
    assert_eq!(reader.samples(id, 0, 1000).unwrap().time, vec![100, 101]);
}

#[test]
fn a_sweep_not_after_the_previous_one_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    assert!(!store.write_sweep(&sweep(100, vec![running(0, 100, 1)])).unwrap().stale);
    let report = store.write_sweep(&sweep(100, vec![running(0, 150, 2)])).unwrap();
    assert!(report.stale);
    assert_eq!(report.samples, 0);
    let reader = Reader::Direct(store);
    assert_eq!(reader.sweeps(HOST, 0, 1000).unwrap().len(), 1);
    assert_eq!(reader.samples(SeriesId(0), 0, 1000).unwrap().time, vec![100]);
}

#[test]
fn a_gone_container_keeps_its_samples_and_the_writer_forgets_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(3)).unwrap();
    let both = |t| sweep(t, vec![running(0, t, 1), running(1, t, 1)]);
    store.write_sweep(&both(100)).unwrap();
    // The daemon did not answer: a head page with the sweep record only.
    let mut down = sweep(200, Vec::new());
    down.sweep.outcome = SweepOutcome::Down("connection refused".to_owned());
    store.write_sweep(&down).unwrap();
    assert_eq!(store.handle().tree(Tree::Head).len(), 2);
    // Container 1 is gone; the third sweep compacts both series.
    let report = store.write_sweep(&sweep(300, vec![running(0, 300, 3)])).unwrap();
    assert_eq!(report.blocks, 2);
    assert!(store.handle().tree(Tree::Head).is_empty());
    // The next compaction forgets series 1 (nothing in its open block).
    for t in [400, 500, 600] {
        store.write_sweep(&sweep(t, vec![running(0, t, 3)])).unwrap();
    }
    assert_eq!(store.writer().series_count(), 1);
    let reader = Reader::Direct(store);
    let ids = series_ids(&reader);
    assert_eq!(reader.samples(ids[1], 0, 1000).unwrap().time, vec![100]);
    assert_eq!(reader.samples(ids[0], 0, 1000).unwrap().len(), 5);
    assert_eq!(reader.sweeps(HOST, 200, 200).unwrap()[0].outcome, SweepOutcome::Down("connection refused".to_owned()));
    // It comes back: the same series continues.
    let store = into_store(reader);
    store.write_sweep(&both(700)).unwrap();
    let reader = Reader::Direct(store);
    assert_eq!(reader.samples(ids[1], 0, 1000).unwrap().time, vec![100, 700]);
}

#[test]
fn a_reopened_store_keeps_everything_and_continues_the_open_block() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    let mut written = fill(&store, 6, 2);
    store.flush().unwrap();
    drop(store);

    let store = Store::open(dir.path(), options(4)).unwrap();
    // Two head samples per series were reloaded; two more fill the block.
    for n in 6..8 {
        let report = write_running(&store, 1_000_000 + n * 10_000, 7, &mut written);
        assert_eq!(report.blocks, if n == 7 { 2 } else { 0 });
    }
    assert!(store.handle().tree(Tree::Head).is_empty());
    assert_reads_back(&Reader::Direct(store), &written);
}

#[test]
fn head_samples_a_block_covers_are_ignored_then_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(2)).unwrap();
    // Two sweeps: the second compacts the head into a block.
    let mut written = fill(&store, 2, 1);
    assert!(store.handle().tree(Tree::Head).is_empty());
    // What a crash between the blocks and the removal of the pages leaves.
    let first = &written[0][0];
    let row = codec::encode_row(first, None).unwrap();
    let record =
        SweepRecord { time: 1_000_000, outcome: SweepOutcome::Reached, latency_us: 900, containers: 1 }.encode();
    let page = page::HeadPage {
        time: 1_000_000,
        sweep: &record,
        snmp: Some(b"{}"),
        rows: vec![(SeriesId(0), row.as_slice())],
    };
    store.handle().tree(Tree::Head).insert(key::host_time(HostId(0), 1_000_000), page.encode()).unwrap();
    let reader = Reader::Direct(store);
    assert_eq!(rows(&reader.samples(SeriesId(0), i64::MIN, i64::MAX).unwrap()), written[0]);
    assert_eq!(reader.last_sample(SeriesId(0)).unwrap().as_ref(), written[0].last());
    assert_eq!(reader.sweeps(HOST, i64::MIN, i64::MAX).unwrap().len(), 2);
    assert_eq!(reader.snmp(HOST, i64::MIN, i64::MAX).unwrap().len(), 2);
    assert_eq!(reader.latest_sweep(HOST).unwrap().unwrap().time, 1_010_000);
    let store = into_store(reader);
    store.flush().unwrap();
    drop(store);
    // The reloaded writer counts the leftover page and removes it at the
    // next compaction, which this sweep triggers.
    let store = Store::open(dir.path(), options(2)).unwrap();
    let report = store.write_sweep(&sweep(2_000_000, vec![running(0, 2_000_000, 9)])).unwrap();
    assert_eq!(report.blocks, 1);
    assert!(store.handle().tree(Tree::Head).is_empty());
    written[0].push(sample_at(2_000_000, 9));
    let reader = Reader::Direct(store);
    assert_eq!(rows(&reader.samples(SeriesId(0), i64::MIN, i64::MAX).unwrap()), written[0]);
}

#[test]
fn a_crash_while_compaction_removes_the_pages_leaves_a_readable_and_writable_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    let mut written = fill(&store, 3, 2);
    let head = store.handle().tree(Tree::Head).clone();
    let pages: Vec<(sled::IVec, sled::IVec)> = head.iter().map(Result::unwrap).collect();
    assert_eq!(pages.len(), 3);
    // The fourth sweep compacts the three pages into blocks and removes them.
    assert_eq!(write_running(&store, 1_030_000, 3000, &mut written).blocks, 2);
    assert!(head.is_empty());
    // What a crash after the first removal leaves: the later pages, whose
    // rows are differences from the removed one.
    for (k, v) in &pages[1..] {
        head.insert(k, v.clone()).unwrap();
    }
    drop(head);
    let reader = Reader::Direct(store);
    assert_reads_back(&reader, &written);
    for (id, samples) in series_ids(&reader).into_iter().zip(&written) {
        assert_eq!(reader.last_sample(id).unwrap().as_ref(), samples.last());
    }
    let store = into_store(reader);
    store.flush().unwrap();
    drop(store);
    // The reloaded writer goes on writing.
    let store = Store::open(dir.path(), options(4)).unwrap();
    assert_eq!(write_running(&store, 1_040_000, 4000, &mut written).samples, 2);
    assert_reads_back(&Reader::Direct(store), &written);
}

#[test]
fn a_series_cut_off_before_its_description_is_skipped_then_described() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    let mut written = fill(&store, 2, 1);
    // What a crash between the two inserts that create container 1's
    // series leaves: its id, no description.
    let reader = Reader::Direct(store);
    let host = reader.host_id(HOST).unwrap();
    let store = into_store(reader);
    let h = store.handle();
    h.tree(Tree::Meta).insert(key::META_NEXT_SERIES, &2_u32.to_be_bytes()).unwrap();
    h.tree(Tree::Series).insert(key::series(host, &container(1).id), &key::series_prefix(SeriesId(1))).unwrap();
    let reader = Reader::Direct(store);
    assert_eq!(series_ids(&reader), vec![SeriesId(0)]);
    let store = into_store(reader);
    store.flush().unwrap();
    drop(store);

    let store = Store::open(dir.path(), options(4)).unwrap();
    written.push(Vec::new());
    assert_eq!(write_running(&store, 1_020_000, 2000, &mut written).samples, 2);
    let reader = Reader::Direct(store);
    assert_eq!(series_ids(&reader), vec![SeriesId(0), SeriesId(1)]);
    assert_eq!(reader.series(HOST).unwrap()[1].container, container(1));
    assert_reads_back(&reader, &written);
}

#[test]
fn another_format_version_is_refused_with_both_versions_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), options(4)).unwrap());
    {
        let db = sled::open(dir.path().join("store")).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert(key::META_FORMAT, &(FORMAT_VERSION + 1).to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let error = Store::open(dir.path(), options(4)).err().unwrap();
    let message = error.to_string();
    assert!(matches!(error, StoreError::Version { found, .. } if found == FORMAT_VERSION + 1));
    assert!(message.contains(&dir.path().join("store").display().to_string()), "{message}");
    let expected = format!("format version {}; this build reads versions 1 to {FORMAT_VERSION}", FORMAT_VERSION + 1);
    assert!(message.contains(&expected), "{message}");
    assert!(matches!(Reader::open(dir.path()), Err(StoreError::Version { .. })));
}

#[test]
fn an_interrupted_snapshot_is_moved_aside_and_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    let written = fill(&store, 5, 1);
    store.flush().unwrap();
    drop(store);
    let name = "snap.FFFFFFFFFFFFFFFF.generating";
    std::fs::write(dir.path().join("store").join(name), b"partial snapshot").unwrap();
    // sled alone refuses the directory (sled issues 1527, 1533).
    let raw = sled::open(dir.path().join("store"));
    assert!(matches!(raw, Err(sled::Error::Corruption { .. })), "{raw:?}");
    drop(raw);

    let store = Store::open(dir.path(), options(4)).unwrap();
    assert!(dir.path().join("recovered").join(name).exists());
    assert!(!dir.path().join("store").join(name).exists());
    let reader = Reader::Direct(store);
    assert_eq!(rows(&reader.samples(SeriesId(0), i64::MIN, i64::MAX).unwrap()), written[0]);
}

#[test]
fn a_damaged_sled_configuration_is_reported_as_corrupt_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), options(4)).unwrap());
    std::fs::write(dir.path().join("store").join("conf"), b"segment_size: twelve\n").unwrap();
    let error = Store::open(dir.path(), options(4)).err().unwrap();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains(&dir.path().join("store").display().to_string()));
}

#[test]
fn a_second_open_of_a_held_store_is_locked() {
    // sled locks with flock(2), which conflicts between two opens of the
    // file even within one process.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    let error = Store::open(dir.path(), options(4)).err().unwrap();
    assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
    assert!(error.to_string().contains("is in use by another process (is kura-collector running?)"));
    // No socket answers: the reader says so.
    let error = Reader::open(dir.path()).err().unwrap();
    assert!(matches!(error, StoreError::Unanswered { .. }), "{error:?}");
    assert!(error.to_string().contains("kura.sock does not answer"), "{error}");
    drop(store);
    assert!(Reader::open(dir.path()).is_ok());
}

#[test]
fn a_missing_store_is_not_created_by_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(Reader::open(dir.path()), Err(StoreError::Missing { .. })));
    assert!(!dir.path().join("store").exists());
}

#[test]
fn a_fresh_directory_is_private() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    drop(Store::open(&dir, options(4)).unwrap());
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

/// A server on `dir`'s socket for `store`; stops when dropped.
struct Server {
    slot: HandleSlot,
    shutdown: Shutdown,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    fn start(dir: &Path, store: &Store, limits: ServerLimits) -> Server {
        let listener = socket::bind(dir, None).unwrap();
        let shutdown = Shutdown::for_listener(&listener).unwrap();
        let slot = HandleSlot::new(store.read_handle());
        let (served, stop) = (slot.clone(), shutdown.clone());
        let thread = thread::spawn(move || socket::serve(listener, served, stop, limits));
        Server { slot, shutdown, thread: Some(thread) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn assert_same_answers(direct: &Reader, socket: &Reader) {
    assert_eq!(direct.format_version().unwrap(), socket.format_version().unwrap());
    assert_eq!(direct.hosts().unwrap(), socket.hosts().unwrap());
    let series = direct.series(HOST).unwrap();
    assert_eq!(series, socket.series(HOST).unwrap());
    assert!(!series.is_empty());
    for info in &series {
        let id = info.series;
        for (from, to) in [(i64::MIN, i64::MAX), (1_020_000, 1_090_000), (5, 4)] {
            assert_eq!(direct.samples(id, from, to).unwrap(), socket.samples(id, from, to).unwrap());
        }
        assert_eq!(direct.last_sample(id).unwrap(), socket.last_sample(id).unwrap());
        assert_eq!(direct.details_at(id, i64::MAX).unwrap(), socket.details_at(id, i64::MAX).unwrap());
        for (at, from, to) in [(i64::MAX, i64::MIN, i64::MAX), (1_045_000, 1_020_000, 1_090_000), (0, 5, 4)] {
            assert_eq!(direct.processes_at(id, at).unwrap(), socket.processes_at(id, at).unwrap());
            assert_eq!(direct.memory_stats_at(id, at).unwrap(), socket.memory_stats_at(id, at).unwrap());
            assert_eq!(
                direct.processes_between(id, from, to).unwrap(),
                socket.processes_between(id, from, to).unwrap()
            );
            let memory = direct.memory_stats_between(id, from, to).unwrap();
            assert_eq!(memory, socket.memory_stats_between(id, from, to).unwrap());
        }
    }
    let ids: Vec<SeriesId> = series.iter().map(|s| s.series).collect();
    assert_eq!(direct.samples_many(&ids, 0, i64::MAX).unwrap(), socket.samples_many(&ids, 0, i64::MAX).unwrap());
    assert_eq!(direct.sweeps(HOST, 0, i64::MAX).unwrap(), socket.sweeps(HOST, 0, i64::MAX).unwrap());
    assert_eq!(direct.latest_sweep(HOST).unwrap(), socket.latest_sweep(HOST).unwrap());
    assert_eq!(direct.events(HOST, 0, i64::MAX).unwrap(), socket.events(HOST, 0, i64::MAX).unwrap());
    assert_eq!(direct.snmp(HOST, 0, i64::MAX).unwrap(), socket.snmp(HOST, 0, i64::MAX).unwrap());
    assert_eq!(direct.sizes_at(HOST, i64::MAX).unwrap(), socket.sizes_at(HOST, i64::MAX).unwrap());
    assert_eq!(direct.host_info_at(HOST, i64::MAX).unwrap(), socket.host_info_at(HOST, i64::MAX).unwrap());
    assert_eq!(
        direct.series("nobody").err().map(|e| matches!(e, StoreError::UnknownHost { .. })),
        socket.series("nobody").err().map(|e| matches!(e, StoreError::UnknownHost { .. })),
    );
}

#[test]
fn the_socket_reader_answers_like_the_direct_reader() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    fill(&store, 23, 3);
    // Frames small enough that scans come back in many pages.
    let limits = ServerLimits { max_response_bytes: 1500, ..ServerLimits::default() };
    let server = Server::start(dir.path(), &store, limits);
    let socket_path = dir.path().join(SOCKET_FILE);
    let mode = std::fs::metadata(&socket_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777, 0o700);

    // The store is held by this process: `open` must take the socket.
    let socket = Reader::open(dir.path()).unwrap();
    assert!(matches!(socket, Reader::Socket(_)));
    let direct = Reader::Direct(store);
    assert_same_answers(&direct, &socket);
    drop(server);
    assert!(!socket_path.exists());
}

#[test]
fn a_batch_of_scans_through_the_socket_answers_each_as_alone_whatever_the_frame_size() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    fill(&store, 23, 3);
    let series = Reader::Handle(store.read_handle()).series(HOST).unwrap();
    let mut scans = vec![(Tree::Hosts, Scan::prefix(&[])), (Tree::Blocks, Scan::prefix(&[]).limit(0))];
    for info in &series {
        let prefix = key::series_prefix(info.series);
        scans.push((Tree::SeriesInfo, Scan::exact(&prefix)));
        scans.push((Tree::Blocks, Scan::prefix(&prefix)));
        scans.push((Tree::Blocks, Scan::prefix(&prefix).rev().limit(2)));
        scans.push((Tree::Blocks, Scan::prefix(&prefix).cut_values()));
    }
    scans.push((Tree::SeriesInfo, Scan::exact(&key::series_prefix(SeriesId(9_999)))));
    // More scans than one request frame holds (about 23 bytes each).
    scans.extend((0..4_000).map(|i| (Tree::SeriesInfo, Scan::exact(&key::series_prefix(SeriesId(i % 40))))));
    let alone: Vec<Vec<Entry>> = scans.iter().map(|(tree, scan)| store.scan(*tree, scan).unwrap()).collect();
    assert!(alone.iter().filter(|entries| entries.len() > 1).count() > 3, "some scans page");
    // A cut block still says its time range.
    let (whole, cut) = (&alone[3], &alone[5]);
    assert!(!whole.is_empty() && whole.len() == cut.len());
    for ((key, block), (cut_key, head)) in whole.iter().zip(cut) {
        assert_eq!((key, head.len()), (cut_key, CUT_VALUE_LEN.min(block.len())));
        assert!(block.len() > CUT_VALUE_LEN, "a block longer than its cut");
        assert_eq!(codec::time_range(head).unwrap(), codec::time_range(block).unwrap());
    }
    // From a frame that holds a few blocks to one that holds everything.
    for max_response_bytes in [1500, 4 << 20] {
        let limits = ServerLimits { max_response_bytes, ..ServerLimits::default() };
        let server = Server::start(dir.path(), &store, limits);
        let client = SocketClient::connect(&dir.path().join(SOCKET_FILE)).unwrap();
        assert_eq!(client.scan_many(&scans).unwrap(), alone, "frames of {max_response_bytes} bytes");
        drop(server);
    }
}

#[test]
fn a_malformed_request_gets_an_error_and_the_server_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    fill(&store, 2, 1);
    let _server = Server::start(dir.path(), &store, ServerLimits::default());
    let path = dir.path().join(SOCKET_FILE);

    let exchange = |stream: &mut UnixStream, payload: &[u8]| -> Vec<u8> {
        stream.write_all(&u32::try_from(payload.len()).unwrap().to_be_bytes()).unwrap();
        stream.write_all(payload).unwrap();
        let mut len = [0; 4];
        stream.read_exact(&mut len).unwrap();
        let mut response = vec![0; usize::try_from(u32::from_be_bytes(len)).unwrap()];
        stream.read_exact(&mut response).unwrap();
        response
    };
    let mut stream = UnixStream::connect(&path).unwrap();
    for bad in
        [&[][..], &[9, 1, 0], &[socket::PROTOCOL, 7, 0], &[socket::PROTOCOL, 1, 99], &[socket::PROTOCOL, 2, 0, 0]]
    {
        let response = exchange(&mut stream, bad);
        assert_eq!(response[0], 1, "{bad:?} -> {response:?}");
    }
    // The same connection still answers a good request.
    let mut get = vec![socket::PROTOCOL, 1, Tree::Meta.code()];
    get.extend_from_slice(key::META_FORMAT);
    let response = exchange(&mut stream, &get);
    assert_eq!(response, [&[0, 1][..], &FORMAT_VERSION.to_be_bytes()].concat());
    // An oversized frame closes that connection only.
    let mut huge = UnixStream::connect(&path).unwrap();
    huge.write_all(&u32::MAX.to_be_bytes()).unwrap();
    let mut buffer = [0; 1];
    assert_eq!(huge.read(&mut buffer).unwrap_or(0), 0);
    let client = SocketClient::connect(&path).unwrap();
    assert_eq!(Kv::get(&client, Tree::Meta, key::META_FORMAT).unwrap(), Some(FORMAT_VERSION.to_be_bytes().to_vec()));
}

#[test]
fn connections_beyond_the_workers_wait_in_line_and_all_get_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    fill(&store, 6, 2);
    let limits = ServerLimits { workers: 2, ..ServerLimits::default() };
    let _server = Server::start(dir.path(), &store, limits);
    let direct = Reader::Direct(store);
    let expected = direct.sweeps(HOST, 0, i64::MAX).unwrap();
    // 40 readers at once on 2 workers: each holds its connection for many
    // requests; the server busy error of a fixed connection limit would fail some.
    let answers: Vec<_> = (0..40)
        .map(|_| {
            let dir = dir.path().to_path_buf();
            thread::spawn(move || {
                let reader = Reader::open(&dir)?;
                assert!(matches!(reader, Reader::Socket(_)));
                let mut sweeps = Vec::new();
                for _ in 0..5 {
                    sweeps = reader.sweeps(HOST, 0, i64::MAX)?;
                }
                Ok::<_, StoreError>(sweeps)
            })
        })
        .collect();
    for answer in answers {
        assert_eq!(answer.join().unwrap().unwrap(), expected);
    }
}

#[test]
fn a_connection_idle_while_others_wait_gives_its_worker_up_and_redials() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    fill(&store, 3, 1);
    let limits = ServerLimits { workers: 1, yield_after: Duration::from_millis(50), ..ServerLimits::default() };
    let _server = Server::start(dir.path(), &store, limits);
    let idle = Reader::open(dir.path()).unwrap();
    let expected = idle.sweeps(HOST, 0, i64::MAX).unwrap();
    // `idle` keeps the only worker's connection open and sends nothing;
    // another reader gets its answer all the same, well before the idle timeout.
    let other = Reader::open(dir.path()).unwrap();
    assert_eq!(other.sweeps(HOST, 0, i64::MAX).unwrap(), expected);
    drop(other);
    // The idle one was closed meanwhile; it redials for its next request.
    assert_eq!(idle.sweeps(HOST, 0, i64::MAX).unwrap(), expected);
}

#[test]
fn pruning_in_small_steps_deletes_old_history_and_keeps_the_newest_descriptions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    // Five blocks and two head pages per series.
    let written = fill(&store, 22, 2);
    let before = 1_100_000;
    let mut calls = 0;
    let mut deleted = 0;
    loop {
        let progress = store.prune(before, 3).unwrap();
        assert!(progress.deleted <= 3);
        deleted += progress.deleted;
        calls += 1;
        if progress.done {
            break;
        }
        assert!(calls < 1000);
    }
    assert!(calls > 5, "{calls}");
    assert!(deleted > 20, "{deleted}");
    let reader = Reader::Direct(store);
    for (i, id) in series_ids(&reader).into_iter().enumerate() {
        let kept = rows(&reader.samples(id, i64::MIN, i64::MAX).unwrap());
        // Whole blocks go: samples from 1_080_000 (the block that reaches
        // past the cut) on are kept.
        let expected: Vec<Sample> = written[i].iter().filter(|s| s.time >= 1_080_000).cloned().collect();
        assert_eq!(kept, expected);
        // The trees of changes keep what was in force at the cut: the
        // details of 1_100_000 (at the cut), the processes of 1_090_000.
        let first = |times: Vec<UnixMillis>| times.first().copied();
        let details = reader.details_between(id, i64::MIN, i64::MAX).unwrap();
        assert_eq!(first(details.iter().map(|t| t.time).collect()), Some(1_100_000));
        let processes = reader.processes_between(id, i64::MIN, i64::MAX).unwrap();
        assert_eq!(first(processes.iter().map(|t| t.time).collect()), Some(1_090_000));
        assert_eq!(reader.processes_at(id, before).unwrap().unwrap().value, top(3));
        let memory = reader.memory_stats_between(id, i64::MIN, i64::MAX).unwrap();
        assert_eq!(memory.iter().map(|t| t.time).collect::<Vec<_>>(), vec![1_000_000], "hourly, in force at the cut");
    }
    // Sweep records and SNMP readings go by whole blocks too.
    assert_eq!(reader.sweeps(HOST, 0, i64::MAX).unwrap().first().unwrap().time, 1_080_000);
    assert_eq!(reader.snmp(HOST, 0, i64::MAX).unwrap().first().unwrap().time, 1_080_000);
    assert_eq!(reader.sweeps(HOST, 0, i64::MAX).unwrap().len(), 14);
    assert_eq!(reader.events(HOST, 0, i64::MAX).unwrap().len(), 12);
    assert!(reader.host_info_at(HOST, i64::MAX).unwrap().is_some());
    let ids = series_ids(&reader);
    let store = into_store(reader);
    assert_eq!(store.pruned_before().unwrap(), Some(before), "a completed pass records its cut");
    // Pruning everything keeps the newest host info and forgets the
    // containers, gone since before the cut: their series, descriptions,
    // newest processes and details.
    while !store.prune(i64::MAX, 100).unwrap().done {}
    let reader = Reader::Direct(store);
    assert!(reader.series(HOST).unwrap().is_empty());
    for &id in &ids {
        assert!(reader.series_info(id).unwrap().is_none());
        assert!(reader.processes_at(id, i64::MAX).unwrap().is_none());
        assert!(reader.memory_stats_between(id, i64::MIN, i64::MAX).unwrap().is_empty());
        assert!(reader.details_at(id, i64::MAX).unwrap().is_none());
        assert!(reader.samples(id, i64::MIN, i64::MAX).unwrap().is_empty());
    }
    assert!(reader.host_info_at(HOST, i64::MAX).unwrap().is_some());
    assert!(reader.latest_sweep(HOST).unwrap().is_none());
    // The writer forgot the pruned head pages: a container seen again is a
    // new series whose first block holds only what was written after the prune.
    let store = into_store(reader);
    let fresh: Vec<UnixMillis> = (0..4).map(|n| 3_000_000 + n * 10_000).collect();
    let mut blocks = 0;
    for &time in &fresh {
        blocks += store.write_sweep(&sweep(time, vec![running(0, time, 1)])).unwrap().blocks;
    }
    assert_eq!(blocks, 1);
    let reader = Reader::Direct(store);
    let again = series_ids(&reader);
    assert_eq!(again.len(), 1);
    assert!(!ids.contains(&again[0]), "a new series");
    assert_eq!(reader.samples(again[0], i64::MIN, i64::MAX).unwrap().time, fresh);
}

/// A store where containers 0..3 ran for 12 sweeps (three blocks), then
/// only 0 and 1 for 18 more.
fn one_container_gone(dir: &Path) -> Store {
    let store = Store::open(dir, options(4)).unwrap();
    let mut written = vec![Vec::new(); 3];
    for n in 0..12 {
        write_running(&store, 1_000_000 + n * 10_000, 7, &mut written);
    }
    let mut kept = vec![Vec::new(); 2];
    for n in 12..30 {
        write_running(&store, 1_000_000 + n * 10_000, 7, &mut kept);
    }
    store
}

#[test]
fn a_gone_container_is_forgotten_once_its_last_sample_is_past_the_cut_and_a_live_one_never() {
    let dir = tempfile::tempdir().unwrap();
    let store = one_container_gone(dir.path());
    let gone = Reader::Direct(store);
    let series = gone.series(HOST).unwrap();
    assert_eq!(series.len(), 3);
    let store = into_store(gone);
    // A cut after container 2's last sample but before the others' newest.
    let cut = 1_000_000 + 20 * 10_000;
    while !store.prune(cut, 5).unwrap().done {}
    let reader = Reader::Direct(store);
    let left: Vec<String> = reader.series(HOST).unwrap().into_iter().map(|s| s.container.id).collect();
    assert_eq!(left, vec![container(0).id, container(1).id]);
    assert!(reader.series_info(series[2].series).unwrap().is_none());
    // The live ones keep every sample from the cut on.
    for id in series_ids(&reader) {
        assert!(reader.samples(id, cut, i64::MAX).unwrap().len() >= 10);
    }
    // A prune before the gone container's last sample keeps it: a fresh store.
    let dir = tempfile::tempdir().unwrap();
    let store = one_container_gone(dir.path());
    while !store.prune(1_000_000 + 5 * 10_000, 5).unwrap().done {}
    assert_eq!(Reader::Direct(store).series(HOST).unwrap().len(), 3);
}

#[test]
fn a_month_of_a_thousand_short_lived_containers_levels_off_after_the_retention() {
    use crate::simulate::{Simulation, Simulator};
    const DAY: i64 = 86_400_000;
    let dir = tempfile::tempdir().unwrap();
    // Hourly blocks of 10-minute sweeps; 20 slots whose containers live
    // 14.3 hours each: about 1 000 containers over 30 days. Retention 7 days,
    // pruned once a simulated day.
    let store = Store::open(dir.path(), options(6)).unwrap();
    let spec = Simulation { lifetime_sweeps: Some(86), ..Simulation::days(20, 30, 600_000) };
    let start = spec.start;
    let mut simulator = Simulator::new(spec);
    let mut containers = std::collections::BTreeSet::new();
    let mut by_day: Vec<[usize; 6]> = Vec::new();
    while let Some(batch) = simulator.next_sweep() {
        store.write_sweep(batch).unwrap();
        containers.extend(batch.containers.iter().map(|c| c.info.id.clone()));
        let time = batch.sweep.time;
        if (time - start) % DAY == 0 && time > start {
            while !store.prune(time - 7 * DAY, 500).unwrap().done {}
            let count = |tree: Tree| store.scan(tree, &reader::Scan::prefix(&[])).unwrap().len();
            let trees = [Tree::Series, Tree::SeriesInfo, Tree::Latest, Tree::Details, Tree::Processes, Tree::Memory];
            by_day.push(trees.map(count));
        }
    }
    assert!(containers.len() >= 1_000, "{} containers", containers.len());
    let series = Reader::Direct(store).series("sim-host").unwrap().len();
    // Past the retention (day 8 on) every per-container tree holds about
    // the containers of the last 7 days, not all of them (and the trees of
    // processes and memory statistics about 7 days of their readings).
    let (day_14, day_29) = (by_day[13], by_day[28]);
    let names = ["series", "series_info", "latest", "details", "processes", "memory"];
    for (i, (tree, (at_14, at_29))) in names.iter().zip(day_14.iter().zip(day_29)).enumerate() {
        assert!(
            at_29 * 4 <= at_14 * 5 && at_29 * 5 >= at_14 * 4,
            "{tree}: {at_14} entries on day 14, {at_29} on day 29"
        );
        if i < 4 {
            assert!(at_29 < 400, "{tree}: {at_29} entries for {} containers", containers.len());
        }
    }
    assert!(day_29[5] > 1_000, "memory statistics are kept: {}", day_29[5]);
    assert!(series < 400, "the series list of a query: {series}");
}

/// One step of the model test.
#[derive(Clone, Debug)]
enum Op {
    /// A sweep listing these containers (0..4), reached or not.
    Sweep { containers: Vec<usize>, reached: bool },
    /// Prune everything before the time `back` sweeps ago, to completion.
    Prune { back: i64 },
    /// Drop the store and open it again.
    Reopen,
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (proptest::sample::subsequence(vec![0usize, 1, 2, 3], 0..=4), any::<bool>())
            .prop_map(|(containers, reached)| Op::Sweep { containers, reached }),
        1 => (0i64..12).prop_map(|back| Op::Prune { back }),
        1 => Just(Op::Reopen),
    ]
}

/// What the model test expects: samples per container, sweep times.
#[derive(Default)]
struct Model {
    samples: BTreeMap<usize, Vec<Sample>>,
    sweeps: Vec<UnixMillis>,
}

/// After a prune, what is stored must be a suffix of what was written
/// that holds everything from the cut (whole blocks go); the model then
/// follows the store. Otherwise the two are equal.
fn check<T: PartialEq + std::fmt::Debug>(
    stored: Vec<T>,
    expected: &mut Vec<T>,
    cut: Option<UnixMillis>,
    time: impl Fn(&T) -> UnixMillis,
) {
    match cut {
        Some(cut) => {
            assert!(expected.ends_with(&stored), "{stored:?} is not a suffix of {expected:?}");
            assert!(stored.len() >= expected.iter().filter(|t| time(t) >= cut).count());
            *expected = stored;
        }
        None => assert_eq!(&stored, expected),
    }
}

fn check_model(store: Store, model: &mut Model, cut: Option<UnixMillis>) -> Store {
    let reader = Reader::Direct(store);
    let series = match reader.series(HOST) {
        Ok(series) => series,
        Err(StoreError::UnknownHost { .. }) => Vec::new(),
        Err(e) => panic!("{e}"),
    };
    let mut listed = Vec::new();
    for info in &series {
        let i = (0..4).find(|&i| container(i).id == info.container.id).unwrap();
        let stored = rows(&reader.samples(info.series, i64::MIN, i64::MAX).unwrap());
        check(stored, model.samples.entry(i).or_default(), cut, |s| s.time);
        listed.push(i);
    }
    // A series exists from its first sweep on, until a prune forgets a
    // container whose every sample is before the cut.
    let forgotten: Vec<usize> = model.samples.keys().copied().filter(|i| !listed.contains(i)).collect();
    for i in forgotten {
        let samples = model.samples.remove(&i).unwrap_or_default();
        assert!(cut.is_some_and(|cut| samples.iter().all(|s| s.time < cut)), "container {i} forgotten: {samples:?}");
    }
    assert_eq!(series.len(), model.samples.len());
    if !model.sweeps.is_empty() {
        let stored = reader.sweeps(HOST, i64::MIN, i64::MAX).unwrap();
        let stored = stored.iter().map(|s| s.time).collect();
        check(stored, &mut model.sweeps, cut, |&t| t);
    }
    into_store(reader)
}

/// Runs the model test's operations, checking the store after each.
fn run_ops(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), options(3)).unwrap();
    let mut model = Model::default();
    let mut time = 1_000_000;
    for op in ops {
        let mut cut = None;
        match op {
            Op::Sweep { containers, reached } => {
                time += 10_000;
                let mut batch = sweep(time, Vec::new());
                for &i in &containers {
                    let c = running(i, time + i64::try_from(i).unwrap(), u64::try_from(time).unwrap() / 7);
                    model.samples.entry(i).or_default().push(c.sample.clone().unwrap());
                    batch.containers.push(c);
                }
                if !reached {
                    batch.sweep.outcome = SweepOutcome::Down("refused".to_owned());
                }
                store.write_sweep(&batch).unwrap();
                model.sweeps.push(time);
            }
            Op::Prune { back } => {
                let before = time - back * 10_000;
                while !store.prune(before, 2).unwrap().done {}
                cut = Some(before);
            }
            Op::Reopen => {
                store.flush().unwrap();
                drop(store);
                store = Store::open(dir.path(), options(3)).unwrap();
            }
        }
        store = check_model(store, &mut model, cut);
    }
}

/// Shrunk from the model test: a container gone, then a prune, then the
/// compaction of the head. Its samples were once written as a block at
/// once while its rows stayed in the head; pruning that block showed the
/// rows again, and the compaction then dropped them.
#[test]
fn a_pruned_block_does_not_bring_back_head_rows() {
    let idle = || Op::Sweep { containers: Vec::new(), reached: false };
    run_ops(vec![
        idle(),
        idle(),
        idle(),
        Op::Sweep { containers: vec![1], reached: false },
        Op::Sweep { containers: Vec::new(), reached: true },
        Op::Prune { back: 0 },
        idle(),
    ]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_writes_prunes_and_reopens_match_a_model(ops in proptest::collection::vec(any_op(), 1..25)) {
        run_ops(ops);
    }
}

#[test]
fn while_the_store_is_closed_for_a_reopen_the_socket_says_so_and_answers_again_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    fill(&store, 2, 1);
    let server = Server::start(dir.path(), &store, ServerLimits::default());
    let client = SocketClient::connect(&dir.path().join(SOCKET_FILE)).unwrap();
    let version = Some(FORMAT_VERSION.to_be_bytes().to_vec());
    assert_eq!(Kv::get(&client, Tree::Meta, key::META_FORMAT).unwrap(), version);

    server.slot.set(None);
    // With the slot empty the server holds no handle: the store can be
    // closed and opened again in this process, as the writer does.
    drop(store);
    let error = Kv::get(&client, Tree::Meta, key::META_FORMAT).unwrap_err().to_string();
    assert!(error.contains("reopening its store"), "{error}");
    let reopened = Store::open(dir.path(), options(4)).unwrap();
    server.slot.set(Some(reopened.read_handle()));
    assert_eq!(Kv::get(&client, Tree::Meta, key::META_FORMAT).unwrap(), version);
}

/// A private copy of a store written by an older format (`fixtures/NAME`).
fn fixture_store(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let tarball = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(name).join("store.tar.gz");
    let status = std::process::Command::new("tar").arg("-xzf").arg(tarball).arg("-C").arg(dir.path()).status().unwrap();
    assert!(status.success(), "tar could not unpack the fixture store");
    dir
}

#[test]
fn a_format_1_store_reads_without_the_new_fields_and_its_first_sweep_upgrades_it() {
    let dir = fixture_store("compat-v1");
    let reader = Reader::open(dir.path()).unwrap();
    assert_eq!(reader.format_version().unwrap(), 1);
    let series = reader.series("sim-host").unwrap();
    assert_eq!(series.len(), 20);
    let mut running = 0;
    for info in &series {
        let columns = reader.samples(info.series, i64::MIN, i64::MAX).unwrap();
        assert_eq!(columns.len(), 1_080, "{}", info.container.name);
        let has_cpu = columns.column(Field::CpuTotalNs).iter().flatten().count();
        running += usize::from(has_cpu > 0);
        for field in &Field::ALL[Field::CpuUserNs.index()..] {
            assert!(columns.column(*field).iter().all(|v| v.is_none()), "{field:?} of {}", info.container.name);
        }
    }
    assert!(running >= 15, "{running} of 20 series have counters");
    let store = into_store(reader);
    let mut sample = sample_at(1_767_236_400_000, 5);
    sample.set(Field::CpuUserNs, Some(3));
    let batch = SweepBatch {
        host: "sim-host".to_owned(),
        containers: vec![ContainerSweep {
            info: series[0].container.clone(),
            sample: Some(sample.clone()),
            details: None,
            latest: None,
        }],
        ..sweep(1_767_236_400_000, Vec::new())
    };
    store.write_sweep(&batch).unwrap();
    let reader = Reader::Direct(store);
    assert_eq!(reader.format_version().unwrap(), FORMAT_VERSION);
    assert_eq!(reader.last_sample(series[0].series).unwrap(), Some(sample));
}

#[test]
fn a_format_2_store_gets_new_blocks_in_layout_2_while_its_old_blocks_still_read() {
    let dir = fixture_store("compat-v2");
    let reader = Reader::open(dir.path()).unwrap();
    assert_eq!(reader.format_version().unwrap(), 2);
    let info = reader.series("sim-host").unwrap().remove(0);
    let old = reader.samples(info.series, i64::MIN, i64::MAX).unwrap();
    assert_eq!(old.len(), 1_080);
    drop(reader);
    let layouts = |store: &Store| -> Vec<u8> {
        let blocks = store.scan(Tree::Blocks, &reader::Scan::prefix(&key::series_prefix(info.series))).unwrap();
        blocks.iter().map(|(_, block)| block[0]).collect()
    };
    // Blocks of 4 rows: the fifth sweep after the fixture's end cuts one.
    let store = Store::open(dir.path(), options(4)).unwrap();
    let old_layouts = layouts(&store);
    assert!(!old_layouts.is_empty() && old_layouts.iter().all(|&l| l == codec::LAYOUT_VARINT), "{old_layouts:?}");
    let end = 1_767_236_400_000;
    let new: Vec<Sample> = (0..5)
        .map(|i| {
            let mut sample = sample_at(end + i * 10_000, 1_000 + u64::try_from(i).unwrap());
            sample.set(Field::CpuUserNs, Some(7));
            sample
        })
        .collect();
    for sample in &new {
        let container =
            ContainerSweep { info: info.container.clone(), sample: Some(sample.clone()), details: None, latest: None };
        store.write_sweep(&SweepBatch { host: "sim-host".to_owned(), ..sweep(sample.time, vec![container]) }).unwrap();
    }
    let now = layouts(&store);
    assert_eq!(now[..old_layouts.len()], old_layouts[..], "old blocks are kept as written");
    assert_eq!(now[old_layouts.len()..], [codec::LAYOUT_PACKED], "{now:?}");
    let reader = Reader::Direct(store);
    assert_eq!(reader.format_version().unwrap(), FORMAT_VERSION);
    let read = reader.samples(info.series, i64::MIN, i64::MAX).unwrap();
    let rows = |columns: &SampleColumns, range: std::ops::Range<usize>| -> Vec<Sample> {
        range.filter_map(|row| columns.row(row)).collect()
    };
    assert_eq!(rows(&read, 0..1_080), rows(&old, 0..1_080));
    assert_eq!(rows(&read, 1_080..read.len()), new);
}

#[test]
fn the_socket_is_private_or_shared_with_the_configured_group() {
    use std::os::unix::fs::MetadataExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().mode() & 0o7777;
    let gid = |path: &Path| std::fs::metadata(path).unwrap().gid();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let listener = socket::bind(&data, None).unwrap();
    assert_eq!((mode(&data), mode(&data.join(SOCKET_FILE))), (0o700, 0o600));
    drop(listener);
    // A group this process may hand files to: any for root, its own otherwise.
    let group = if crate::users::is_root() { 65_534 } else { crate::users::own_groups()[0] };
    let group = crate::config::SocketGroup { name: group.to_string(), gid: group };
    let listener = socket::bind(&data, Some(&group)).unwrap();
    let socket = data.join(SOCKET_FILE);
    assert_eq!((mode(&data), mode(&socket)), (0o750, 0o660));
    assert_eq!((gid(&data), gid(&socket)), (group.gid, group.gid));
    drop(listener);
}

#[test]
fn the_server_stops_when_its_socket_file_no_longer_leads_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let server = Server::start(dir.path(), &store, ServerLimits::default());
    // Deleted (or a file system mounted over the folder): nothing can
    // connect to the server through its path any more.
    std::fs::remove_file(dir.path().join(SOCKET_FILE)).unwrap();
    let (done, stopped) = std::sync::mpsc::channel();
    thread::spawn(move || {
        drop(server);
        let _ = done.send(());
    });
    assert!(stopped.recv_timeout(std::time::Duration::from_secs(10)).is_ok(), "the server did not stop");
}

#[test]
fn a_store_written_before_the_history_trees_answers_from_latest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    fill(&store, 5, 1);
    // What a build before the `processes` and `memory` trees left: `latest` only.
    for tree in [Tree::Processes, Tree::Memory] {
        store.handle().tree(tree).clear().unwrap();
    }
    let reader = Reader::Direct(store);
    let id = series_ids(&reader)[0];
    let newest = 1_040_000;
    assert_eq!(reader.processes_at(id, i64::MAX).unwrap().unwrap(), Timed { time: newest, value: top(1) });
    assert_eq!(reader.memory_stats_at(id, newest).unwrap().unwrap(), Timed { time: newest, value: memory(4) });
    // Nothing is known as of before the newest reading, as format 1 answered.
    assert_eq!(reader.processes_at(id, newest - 1).unwrap(), None);
    assert_eq!(reader.memory_stats_at(id, newest - 1).unwrap(), None);
    assert_eq!(reader.memory_stats_between(id, 0, i64::MAX).unwrap().len(), 1);
    assert!(reader.processes_between(id, 0, newest - 1).unwrap().is_empty());
    // Once the history has an entry of the series, `latest` is not read.
    let store = into_store(reader);
    let mut batch = sweep(1_050_000, vec![running(0, 1_050_000, 9)]);
    batch.containers[0].latest = Some(latest(9));
    store.write_sweep(&batch).unwrap();
    let reader = Reader::Direct(store);
    assert_eq!(reader.processes_at(id, newest).unwrap(), None);
    assert_eq!(reader.processes_between(id, 0, i64::MAX).unwrap(), vec![Timed { time: 1_050_000, value: top(3) }]);
}

#[test]
fn an_older_collector_that_does_not_know_a_tree_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SOCKET_FILE);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // Answers one request as a collector of before the `processes` tree does.
    let older = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut len = [0; 4];
        stream.read_exact(&mut len).unwrap();
        let mut request = vec![0; usize::try_from(u32::from_be_bytes(len)).unwrap()];
        stream.read_exact(&mut request).unwrap();
        let response = [&[1][..], format!("unknown tree {}", Tree::Processes.code()).as_bytes()].concat();
        stream.write_all(&u32::try_from(response.len()).unwrap().to_be_bytes()).unwrap();
        stream.write_all(&response).unwrap();
    });
    let reader = Reader::Socket(SocketClient::connect(&path).unwrap());
    let error = reader.processes_at(SeriesId(0), i64::MAX).unwrap_err().to_string();
    older.join().unwrap();
    assert!(error.contains("unknown tree 14"), "{error}");
    assert!(error.contains("the running kura-collector is older than this kura; restart it"), "{error}");
}

/// One sweep of container 0 at `1_000_000 + n * 20 min`: its `top` has a
/// busy process whose CPU columns change every time, and from `n = 6` on a
/// second process.
fn write_busy(store: &Store, n: i64) {
    let time = 1_000_000 + n * 1_200_000;
    let row =
        |pid: &str, c: i64, cmd: &str| vec![pid.to_owned(), c.to_string(), format!("00:00:{c:02}"), cmd.to_owned()];
    let mut processes = vec![row("1", n, "burn")];
    if n >= 6 {
        processes.push(row("2", 0, "sh"));
    }
    let top = Top { titles: ["PID", "C", "TIME", "CMD"].map(str::to_owned).to_vec(), processes };
    let mut batch = sweep(time, vec![running(0, time, u64::try_from(n).unwrap())]);
    batch.containers[0].latest = Some(Latest { top: Some(top), memory_stats: Some(memory(n)) });
    store.write_sweep(&batch).unwrap();
}

#[test]
fn memory_statistics_are_kept_hourly_and_process_lists_when_their_processes_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(4)).unwrap();
    for n in 0..5 {
        write_busy(&store, n);
    }
    // A writer that starts again goes on from what is stored.
    drop(store);
    let store = Store::open(dir.path(), options(4)).unwrap();
    for n in 5..10 {
        write_busy(&store, n);
    }
    let reader = Reader::Direct(store);
    let id = series_ids(&reader)[0];
    let times = |n: &[i64]| n.iter().map(|n| 1_000_000 + n * 1_200_000).collect::<Vec<_>>();
    let memory_times: Vec<UnixMillis> =
        reader.memory_stats_between(id, 0, i64::MAX).unwrap().iter().map(|t| t.time).collect();
    assert_eq!(
        memory_times,
        times(&[0, 3, 6, 9]),
        "the first reading, then one at least an hour after the last stored"
    );
    let lists: Vec<UnixMillis> = reader.processes_between(id, 0, i64::MAX).unwrap().iter().map(|t| t.time).collect();
    assert_eq!(lists, times(&[0, 6]), "stored when the processes change, not their CPU columns");
    // As of a time between two stored readings: the stored one before it.
    let at = times(&[5])[0];
    assert_eq!(reader.memory_stats_at(id, at).unwrap().unwrap().value, memory(3));
    assert_eq!(reader.processes_at(id, at).unwrap().unwrap().value.processes.len(), 1);
    // As of the newest reading or later: that one (from `latest`).
    let newest = reader.processes_at(id, i64::MAX).unwrap().unwrap();
    assert_eq!((newest.time, newest.value.processes[0][2].as_str()), (times(&[9])[0], "00:00:09"));
    assert_eq!(reader.memory_stats_at(id, i64::MAX).unwrap().unwrap().value, memory(9));
}
