//! Store benchmarks: append throughput (container-samples/s, one sweep of
//! 100 containers per call), scan throughput (samples/s decoding one series
//! over a week), and, printed once rather than iterated, the bytes on disk
//! per container-sample after a simulated week of 100 containers at 10 s.
//!
//! `cargo bench --bench store`. The simulated data is described in
//! `kura_store::simulate`.

// A benchmark is test code: a failed setup should stop it loudly.
#![allow(clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kura_store::simulate::{Simulation, Simulator};
use kura_store::{Reader, Scan, SeriesId, Store, StoreOptions, SweepBatch, Tree};

const CONTAINERS: usize = 100;
const INTERVAL_MS: i64 = 10_000;
const WEEK_DAYS: u32 = 7;
/// Sweeps simulated past the week: half a block, in the head.
const HEAD_SWEEPS: usize = 180;

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("kura-bench-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// (apparent bytes, allocated bytes) of every file under `dir`.
fn disk_usage(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut total = (0, 0);
    let Ok(entries) = fs::read_dir(dir) else {
        return total;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            let (apparent, allocated) = disk_usage(&entry.path());
            total.0 += apparent;
            total.1 += allocated;
        } else {
            total.0 += meta.len();
            total.1 += meta.blocks() * 512;
        }
    }
    total
}

fn bulk_options() -> StoreOptions {
    StoreOptions { flush_every_sweep: false, ..StoreOptions::default() }
}

/// A count as u64.
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// For display only: a ratio of two counts (exact below 2^53).
fn ratio(numerator: u64, denominator: u64) -> f64 {
    numerator as f64 / denominator.max(1) as f64
}

/// Whether criterion runs for measurements (`cargo bench`) rather than once
/// to check that the benchmark works (`cargo test --benches`, as
/// `scripts/test` does, in a debug build).
fn measuring() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// Simulates a week into `dir` (two hours when only checking) and prints
/// the bytes on disk per sample.
fn simulate_week(dir: &Path) {
    // A week and half an hour: the head is half full, as on average.
    let mut spec = Simulation::days(CONTAINERS, WEEK_DAYS, INTERVAL_MS);
    if !measuring() {
        spec.sweeps = 720;
    }
    spec.sweeps += HEAD_SWEEPS;
    let store = Store::open(dir, bulk_options()).expect("open the week store");
    let started = Instant::now();
    let report = Simulator::new(spec).run(&store).expect("simulate a week");
    store.flush().expect("flush");
    let elapsed = started.elapsed();
    // What the trees hold, keys and values, before sled's overhead.
    let reader = Reader::Direct(store);
    let samples = count(report.samples);
    let mut live = 0u64;
    let mut trees = String::new();
    for tree in Tree::ALL {
        let entries = reader.kv().scan(tree, &Scan::prefix(&[])).expect("scan");
        let bytes: usize = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
        live += count(bytes);
        if bytes > 0 {
            trees.push_str(&format!(" {} {:.2}", tree.name(), ratio(count(bytes), samples)));
        }
    }
    drop(reader);
    let (apparent, allocated) = disk_usage(dir);
    println!(
        "store/bytes_per_sample: {} container-samples written in {:.1} s ({:.0}/s, whole sweeps, no per-sweep fsync)\n\
         store/bytes_per_sample: on disk {:.1} B/sample ({} bytes; {:.1} B/sample allocated)\n\
         store/bytes_per_sample: trees hold {:.1} B/sample (B/sample by tree:{}); sled keeps {:.2}x that",
        report.samples,
        elapsed.as_secs_f64(),
        ratio(samples, 1) / elapsed.as_secs_f64(),
        ratio(apparent, samples),
        apparent,
        ratio(allocated, samples),
        ratio(live, samples),
        trees,
        ratio(apparent, live),
    );
}

fn scan(c: &mut Criterion, dir: &Path) {
    let reader = Reader::Direct(Store::open(dir, bulk_options()).expect("reopen the week store"));
    let series = reader.series("sim-host").expect("series");
    // A running container's series: the most samples with counters.
    let id: SeriesId = series
        .iter()
        .map(|s| s.series)
        .max_by_key(|&id| reader.last_sample(id).ok().flatten().map_or(0, |s| usize::from(s.has_counters())))
        .expect("a series");
    let rows = reader.samples(id, i64::MIN, i64::MAX).expect("samples").len();
    let mut group = c.benchmark_group("store/scan");
    group.throughput(Throughput::Elements(count(rows)));
    group.sample_size(30);
    group.bench_function("one_series_week", |b| {
        b.iter(|| {
            let columns = reader.samples(id, i64::MIN, i64::MAX).expect("samples");
            assert_eq!(columns.len(), rows);
            columns
        })
    });
    // What a monitoring command does every minute: the last five minutes
    // of every container of the host, in one call (one read of the head).
    let ids: Vec<SeriesId> = series.iter().map(|s| s.series).collect();
    let newest = series.iter().filter_map(|s| s.last_seen).max().unwrap_or(0);
    let recent = || {
        let columns = reader.samples_many(&ids, newest - 300_000, newest).expect("samples");
        columns.iter().map(|c| c.len()).sum::<usize>()
    };
    let recent_rows = recent();
    group.throughput(Throughput::Elements(count(recent_rows)));
    group.bench_function("host_last_5_minutes", |b| b.iter(|| assert_eq!(recent(), recent_rows)));
    group.finish();
}

/// Strips a sweep down to its samples (and record).
fn samples_only(batch: &SweepBatch) -> SweepBatch {
    let mut batch = batch.clone();
    batch.events.clear();
    batch.snmp = None;
    batch.sizes = None;
    batch.host_info = None;
    for container in &mut batch.containers {
        container.details = None;
        container.latest = None;
    }
    batch
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("store/append");
    group.throughput(Throughput::Elements(count(CONTAINERS)));
    for (name, strip, flush) in [
        ("sweep_of_100_samples_only", true, false),
        ("sweep_of_100_whole", false, false),
        ("sweep_of_100_whole_fsync", false, true),
    ] {
        let dir = TempDir::new(name);
        let options = StoreOptions { flush_every_sweep: flush, ..StoreOptions::default() };
        let store = Store::open(&dir.0, options).expect("open");
        let spec = Simulation::days(CONTAINERS, 365, INTERVAL_MS);
        let mut simulator = Simulator::new(spec);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    // Generate a chunk outside the timing, then write it.
                    let chunk: Vec<SweepBatch> = (0..left.min(64))
                        .filter_map(|_| {
                            simulator.next_sweep().map(|batch| if strip { samples_only(batch) } else { batch.clone() })
                        })
                        .collect();
                    let started = Instant::now();
                    for batch in &chunk {
                        store.write_sweep(batch).expect("write");
                    }
                    timed += started.elapsed();
                    left -= count(chunk.len().max(1));
                }
                timed
            })
        });
        drop(store);
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let week = TempDir::new("week");
    simulate_week(&week.0);
    scan(c, &week.0);
    append(c);
}

criterion_group! {
    name = store;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(8));
    targets = benches
}
criterion_main!(store);
