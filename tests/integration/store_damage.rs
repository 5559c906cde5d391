//! Damaged store files (fault catalog: "truncated or bit-flipped files:
//! startup error naming the path; never wrong data served"). A history is
//! written through the real store code ([`Simulator`] into [`Store`]), a
//! copy of it is damaged, and `kura ps`, `kura cpu` and
//! `kura-collector --once` run on the copy.
//!
//! What sled 0.34.7 does, as these tests pin it down:
//! - Every log message carries a CRC-32 of its header and payload. The
//!   first message that fails it (a flipped byte, a cut) ends recovery:
//!   the store opens with the writes before it, a consistent prefix. What
//!   followed is lost without a word from sled; nothing wrong is served.
//! - sled snapshots its page table when it opens a store that has grown
//!   (`snap.` + the log position, in hex). A log cut or damaged before that
//!   position is refused at open.
//! - `conf` is text and its CRC-32: a damaged one is refused; a missing or
//!   empty one (8 bytes or less) is written anew.
//! - A snapshot ends with its length and CRC-32: a damaged one is refused;
//!   a missing one is rebuilt from the log.
//! - A log cut by whole segments makes sled panic while opening.
//!
//! kura names the damaged file in each refusal, and refuses a store from
//! which sled recovered nothing (sled would take it for a new one).

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use kura_store::sample::{Sample, UnixMillis};
use kura_store::simulate::{Simulation, Simulator};
use kura_store::{Reader, Store, StoreError, StoreOptions, MARKER};
use testkit::process::workspace_bin;

use crate::collector::DataDir;

const HOST: &str = "sim-host";
const INTERVAL_MS: i64 = 10_000;
/// The size of one sled log segment (sled 0.34's default).
const SEGMENT: u64 = 512 << 10;

/// A history written through the real store code, and what was written.
struct History {
    data: DataDir,
    /// Every container's samples, in the order written.
    written: BTreeMap<String, Vec<Sample>>,
    /// The log's length after each run (before the next opened it).
    run_ends: Vec<u64>,
    start: UnixMillis,
}

impl History {
    /// `containers` containers sampled for `runs[i]` sweeps in run `i`; the
    /// store is closed between runs (sled snapshots when it reopens).
    fn write(containers: usize, runs: &[usize], options: StoreOptions) -> History {
        let data = DataDir::new();
        let mut spec = Simulation::days(containers, 1, INTERVAL_MS);
        spec.sweeps = runs.iter().sum();
        let start = spec.start;
        let mut simulator = Simulator::new(spec);
        let mut written: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
        let mut run_ends = Vec::new();
        for &sweeps in runs {
            let store = Store::open(data.path(), options.clone()).unwrap_or_else(|e| panic!("{e}"));
            for _ in 0..sweeps {
                let batch = simulator.next_sweep().unwrap_or_else(|| panic!("the simulation ended early"));
                for container in &batch.containers {
                    let sample = container.sample.clone().unwrap_or_else(|| panic!("a sweep without a sample"));
                    written.entry(container.info.id.clone()).or_default().push(sample);
                }
                store.write_sweep(batch).unwrap_or_else(|e| panic!("{e}"));
            }
            store.flush().unwrap_or_else(|e| panic!("{e}"));
            drop(store);
            run_ends.push(fs::metadata(log_of(&data)).map(|m| m.len()).unwrap_or(0));
        }
        History { data, written, run_ends, start }
    }

    /// 4 containers, 40 sweeps, a block every 8 sweeps, flushed every
    /// sweep as the collector does: one log segment.
    fn small(runs: &[usize]) -> History {
        let options = StoreOptions { block_rows: 8, ..StoreOptions::default() };
        let history = History::write(4, runs, options);
        assert!(history.run_ends.iter().all(|&end| end < SEGMENT), "{:?}", history.run_ends);
        history
    }

    fn sweeps(&self) -> usize {
        self.written.values().map(Vec::len).max().unwrap_or(0)
    }

    /// The time of sweep `n` (from 1).
    fn sweep_time(&self, n: usize) -> UnixMillis {
        self.start + i64::try_from(n.saturating_sub(1)).unwrap_or(0) * INTERVAL_MS
    }

    /// A copy of the data folder, damaged by `damage` (given the sled
    /// directory).
    fn damaged(&self, damage: impl FnOnce(&Path)) -> DataDir {
        let copy = DataDir::new();
        copy_dir(&self.data.path().join("store"), &copy.path().join("store"));
        std::fs::copy(self.data.path().join(MARKER), copy.path().join(MARKER))
            .unwrap_or_else(|e| panic!("copying the store's marker: {e}"));
        damage(&copy.path().join("store"));
        copy
    }

    /// Checks what the store in `data` holds: for every container, the
    /// first `n` samples written, the same `n` for all (sweeps are written
    /// whole, in order). Returns `n`.
    fn assert_prefix(&self, data: &DataDir, case: &str) -> usize {
        let read = match read_back(data) {
            Ok(read) => read,
            Err(e) => panic!("{case}: the store should open with a prefix of its history: {e}"),
        };
        let mut lengths = Vec::new();
        for (id, samples) in &read {
            let written = self.written.get(id).unwrap_or_else(|| panic!("{case}: container {id} was never written"));
            assert!(
                written.starts_with(samples),
                "{case}: container {id}: {} samples read are not the first ones written",
                samples.len()
            );
            lengths.push(samples.len());
        }
        let n = lengths.first().copied().unwrap_or(0);
        assert!(lengths.iter().all(|&len| len == n), "{case}: containers cut at different sweeps: {lengths:?}");
        n
    }
}

fn log_of(data: &DataDir) -> PathBuf {
    data.path().join("store/db")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

/// Every container's samples in the store, by container id (none when
/// the host is not there).
fn read_back(data: &DataDir) -> Result<BTreeMap<String, Vec<Sample>>, StoreError> {
    let reader = Reader::open(data.path())?;
    let series = match reader.series(HOST) {
        Ok(series) => series,
        Err(StoreError::UnknownHost { .. }) => return Ok(BTreeMap::new()),
        Err(e) => return Err(e),
    };
    let mut read = BTreeMap::new();
    for info in series {
        let columns = reader.samples(info.series, i64::MIN, i64::MAX)?;
        let samples = (0..columns.len()).filter_map(|i| columns.row(i)).collect();
        read.insert(info.container.id, samples);
    }
    Ok(read)
}

fn remove(file: &Path) {
    fs::remove_file(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

fn truncate(file: &Path, len: u64) {
    let opened = fs::OpenOptions::new().write(true).open(file);
    opened.and_then(|f| f.set_len(len)).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

/// XORs the byte at `at` with `mask`.
fn flip(file: &Path, at: u64, mask: u8) {
    let mut f = fs::OpenOptions::new().read(true).write(true).open(file).unwrap_or_else(|e| panic!("{e}"));
    let mut byte = [0];
    let flipped = f
        .seek(SeekFrom::Start(at))
        .and_then(|_| f.read_exact(&mut byte))
        .and_then(|()| f.seek(SeekFrom::Start(at)))
        .and_then(|_| f.write_all(&[byte[0] ^ mask]));
    flipped.unwrap_or_else(|e| panic!("{} at {at}: {e}", file.display()));
}

/// The newest snapshot file of a sled directory and the log position it
/// records.
fn snapshot(store: &Path) -> (PathBuf, u64) {
    let entries = fs::read_dir(store).unwrap_or_else(|e| panic!("{e}"));
    let names = entries.filter_map(|e| e.ok()?.file_name().into_string().ok());
    let newest = names.filter(|n| n.starts_with("snap.")).max().unwrap_or_else(|| panic!("no snapshot"));
    let position = u64::from_str_radix(newest.trim_start_matches("snap."), 16).unwrap_or_else(|e| panic!("{e}"));
    (store.join(newest), position)
}

/// What a binary did.
struct Run {
    what: String,
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(program: &str, args: &[String]) -> Run {
    let output = Command::new(workspace_bin(program)).args(args).output();
    let output = output.unwrap_or_else(|e| panic!("{program}: {e}"));
    Run {
        what: format!("{program} {}", args.join(" ")),
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `kura ps` and `kura cpu` on the host, as of `at`.
fn queries(data: &DataDir, at: UnixMillis) -> [Run; 2] {
    let at = chrono::DateTime::from_timestamp_millis(at).map(|t| t.to_rfc3339()).unwrap_or_default();
    let common = |command: &str| {
        let data = data.path().display().to_string();
        [command, "--data", &data, "--host", HOST, "--at", &at].map(str::to_owned).to_vec()
    };
    let mut ps = common("ps");
    ps.push("--all".to_owned());
    [run("kura", &ps), run("kura", &common("cpu"))]
}

/// One sweep of the host, which is unreachable: a down sweep is stored.
fn collector_once(data: &DataDir) -> Run {
    let args = [
        "--once",
        "--data",
        &data.path().display().to_string(),
        "--docker",
        &format!("{HOST}=tcp://127.0.0.1:1"),
        "--timeout",
        "2s",
        "--log",
        "warn",
    ]
    .map(str::to_owned);
    run("kura-collector", &args)
}

impl Run {
    fn assert_no_panic(&self, case: &str) {
        assert!(!self.stderr.contains("panicked"), "{case}: {} panicked:\n{}", self.what, self.stderr);
    }

    /// Refused with the store error status, nothing on stdout and one line
    /// on stderr naming the store and saying `says`.
    fn assert_refused(&self, case: &str, store: &Path, says: &str) {
        self.assert_no_panic(case);
        assert_eq!(self.status, Some(1), "{case}: {} exit status; stderr:\n{}", self.what, self.stderr);
        assert!(self.stdout.is_empty(), "{case}: {} printed {:?}", self.what, self.stdout);
        // The collector's own log records (timestamped) may precede its
        // error line.
        let log_record = |line: &&str| line.starts_with(|c: char| c.is_ascii_digit());
        let lines: Vec<&str> = self.stderr.lines().filter(|l| !log_record(l)).collect();
        assert_eq!(lines.len(), 1, "{case}: {} should say one line besides its log:\n{}", self.what, self.stderr);
        let line = lines[0];
        let named = format!("store at {} is corrupt: ", store.display());
        assert!(
            line.contains(&named) && line.contains(says),
            "{case}: {} said {line:?}, not {named:?}…{says:?}",
            self.what
        );
    }
}

/// The store is refused by `kura ps`, `kura cpu` and the collector alike,
/// each saying `says` about the store.
fn assert_refused_everywhere(history: &History, case: &str, damage: impl FnOnce(&Path), says: &str) {
    let data = history.damaged(damage);
    let store = data.path().join("store");
    for query in queries(&data, history.sweep_time(history.sweeps())) {
        query.assert_refused(case, &store, says);
    }
    collector_once(&data).assert_refused(case, &store, says);
}

/// The store opens with a prefix of the history (at least `at_least`
/// sweeps, at most `at_most`) that both queries answer from, and the
/// collector goes on writing it. Returns the sweeps kept.
fn assert_prefix_everywhere(
    history: &History,
    case: &str,
    damage: impl FnOnce(&Path),
    at_least: usize,
    at_most: usize,
) -> usize {
    let data = history.damaged(damage);
    let kept = history.assert_prefix(&data, case);
    assert!((at_least..=at_most).contains(&kept), "{case}: {kept} sweeps kept, expected {at_least}..={at_most}");
    for query in queries(&data, history.sweep_time(kept)) {
        query.assert_no_panic(case);
        assert_eq!(query.status, Some(0), "{case}: {}: {}", query.what, query.stderr);
        assert!(query.stdout.lines().count() >= 1, "{case}: {} printed nothing", query.what);
    }
    let collector = collector_once(&data);
    collector.assert_no_panic(case);
    assert_eq!(collector.status, Some(0), "{case}: {}: {}", collector.what, collector.stderr);
    assert_eq!(history.assert_prefix(&data, case), kept, "{case}: the collector changed the stored samples");
    let reader = Reader::open(data.path()).unwrap_or_else(|e| panic!("{case}: {e}"));
    let sweeps = reader.sweeps(HOST, 0, i64::MAX).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(sweeps.len(), kept + 1, "{case}: the kept sweeps and the collector's down sweep");
    kept
}

#[test]
fn a_log_cut_or_flipped_where_no_snapshot_covers_it_keeps_a_prefix() {
    let history = History::small(&[40]);
    let end = history.run_ends[0];
    let all = history.sweeps();
    let log = |store: &Path| store.join("db");
    let half = assert_prefix_everywhere(&history, "log cut at half", |s| truncate(&log(s), end / 2), 2, all - 1);
    let three_quarters =
        assert_prefix_everywhere(&history, "log cut at 3/4", |s| truncate(&log(s), end * 3 / 4), half, all - 1);
    assert!(three_quarters > half, "a longer log keeps more: {three_quarters} vs {half}");
    assert_prefix_everywhere(&history, "log's last byte cut", |s| truncate(&log(s), end - 1), all - 1, all);
    assert_prefix_everywhere(&history, "byte flipped in the middle", |s| flip(&log(s), end / 2, 0x5a), 2, all - 1);
    assert_prefix_everywhere(&history, "byte flipped near the end", |s| flip(&log(s), end - 10, 0x01), all - 1, all);
}

#[test]
fn a_log_cut_or_flipped_before_the_snapshot_is_refused_naming_the_log() {
    // The second run's open snapshots the first run's log.
    let history = History::small(&[20, 20]);
    let first_run = history.run_ends[0];
    let (snap, position) = snapshot(&history.data.path().join("store"));
    assert_eq!(position, first_run, "the snapshot records the log's end at the reopen");
    let name = snap.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let before_snapshot = format!("its log file db is cut short or damaged before the point snapshot {name} records");
    let log = |store: &Path| store.join("db");
    assert_refused_everywhere(
        &history,
        "log cut before the snapshot",
        |s| truncate(&log(s), position / 2),
        &before_snapshot,
    );
    assert_refused_everywhere(
        &history,
        "byte flipped before the snapshot",
        |s| flip(&log(s), position / 2, 0x5a),
        &before_snapshot,
    );
    // Damage after the snapshot: the first run is kept.
    assert_prefix_everywhere(
        &history,
        "byte flipped after the snapshot",
        |s| flip(&log(s), position + 200, 0x5a),
        20,
        39,
    );
}

#[test]
fn a_log_missing_or_unreadable_from_its_start_is_refused_not_taken_for_a_new_store() {
    let history = History::small(&[40]);
    let log = |store: &Path| store.join("db");
    let nothing = "no record can be read from it: its log file db";
    assert_refused_everywhere(&history, "log deleted", |s| remove(&log(s)), &format!("{nothing} is missing"));
    assert_refused_everywhere(&history, "log emptied", |s| truncate(&log(s), 0), &format!("{nothing} is empty"));
    assert_refused_everywhere(
        &history,
        "log cut to 100 bytes",
        |s| truncate(&log(s), 100),
        &format!("{nothing} is cut short or damaged at its start"),
    );
    // Byte 5 is in the first segment's header, which has its own CRC-32.
    assert_refused_everywhere(
        &history,
        "segment header flipped",
        |s| flip(&log(s), 5, 0x5a),
        "cut short or damaged at its start",
    );
    let reopened = History::small(&[20, 20]);
    assert_refused_everywhere(
        &reopened,
        "log deleted after a reopen",
        |s| remove(&log(s)),
        &format!("{nothing} is missing"),
    );
}

#[test]
fn a_damaged_conf_is_refused_by_name_and_a_missing_one_is_written_anew() {
    let history = History::small(&[40]);
    let all = history.sweeps();
    let conf = |store: &Path| store.join("conf");
    let says = "its configuration file conf fails its checksum";
    assert_refused_everywhere(&history, "conf byte flipped", |s| flip(&conf(s), 3, 0x5a), says);
    // "segment_size: 524288": the 5 becomes a 4, a size sled refuses.
    assert_refused_everywhere(&history, "conf digit changed", |s| flip(&conf(s), 14, 0x01), says);
    assert_refused_everywhere(&history, "conf cut short", |s| truncate(&conf(s), 20), says);
    assert_prefix_everywhere(&history, "conf deleted", |s| remove(&conf(s)), all, all);
    assert_prefix_everywhere(&history, "conf emptied", |s| truncate(&conf(s), 0), all, all);
}

#[test]
fn a_damaged_snapshot_is_refused_by_name_and_a_missing_one_is_rebuilt_from_the_log() {
    let history = History::small(&[20, 20]);
    let all = history.sweeps();
    let (snap, _) = snapshot(&history.data.path().join("store"));
    let name = snap.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let len = fs::metadata(&snap).map(|m| m.len()).unwrap_or(0);
    let snap_in = |store: &Path| store.join(&name);
    let fails = format!("its snapshot file {name} fails its checksum");
    assert_refused_everywhere(&history, "snapshot byte flipped", |s| flip(&snap_in(s), len / 2, 0x5a), &fails);
    assert_refused_everywhere(&history, "snapshot checksum flipped", |s| flip(&snap_in(s), len - 1, 0x01), &fails);
    assert_refused_everywhere(&history, "snapshot cut at half", |s| truncate(&snap_in(s), len / 2), &fails);
    assert_refused_everywhere(
        &history,
        "snapshot cut to 6 bytes",
        |s| truncate(&snap_in(s), 6),
        &format!("its snapshot file {name} is cut short (6 bytes)"),
    );
    assert_prefix_everywhere(&history, "snapshot deleted", |s| remove(&snap_in(s)), all, all);
}

#[test]
fn a_log_cut_by_whole_segments_is_refused_without_a_panic_message() {
    // 20 containers, 400 sweeps in two runs: five log segments. Cut to a
    // segment and a quarter, sled 0.34.7 panics opening it (an index past
    // the segments left, `pagecache/segment.rs`), or, when the snapshot's
    // segment went too, finds its log short.
    let options = StoreOptions { block_rows: 60, ..StoreOptions::default() };
    let history = History::write(20, &[200, 200], options);
    let end = fs::metadata(log_of(&history.data)).map(|m| m.len()).unwrap_or(0);
    assert!(end > 3 * SEGMENT, "the log should span several segments: {end} bytes");
    let data = history.damaged(|s| truncate(&s.join("db"), SEGMENT + SEGMENT / 4));
    let store = data.path().join("store");
    let runs = queries(&data, history.sweep_time(history.sweeps()));
    let says = if runs[0].stderr.contains("sled failed reading its files") {
        "sled failed reading its files (index out of bounds"
    } else {
        "its log file db is cut short or damaged"
    };
    for run in runs.iter().chain([&collector_once(&data)]) {
        run.assert_refused("log cut inside its second segment", &store, says);
    }
}
