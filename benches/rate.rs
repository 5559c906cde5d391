//! The rate hot path: every per-interval figure of one container's series
//! (CPU of the host and per core, memory against host and limit, disk and
//! network per second) over one million samples, down to the numbers that
//! would be printed. Criterion reports the time per series: divide by
//! [`ROWS`] for ns per sample (`cargo bench --bench rate`).
//!
//! The pipeline is `encoded blocks -> decode -> derive`, as `kura` runs it:
//! the series is encoded once into store blocks of 360 rows (one hour at
//! 10 s, the store's default), then each iteration decodes every block and
//! derives every figure. `derive_only` and `decode_only` split the cost;
//! `decode_and_derive_by_block` runs the same pipeline one block at a time
//! (decode a block, derive its figures), never holding the whole series,
//! and `decode_only_by_block` is its decoding alone.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kura_query::rate::{interval_runs, intervals, round_to_u64, CpuScale, MemUse};
use kura_store::codec;
use kura_store::sample::{Field, Sample, SampleColumns, State};

/// Samples in the series.
const ROWS: usize = 1_000_000;
/// The host's memory, bytes (8 GiB).
const HOST_MEMORY: u64 = 8 << 30;
/// The container's memory limit, bytes (64 MiB, as `web1` in the fixtures).
const LIMIT: u64 = 64 << 20;

/// xorshift64*: a deterministic source of noise for the counters.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// One running container sampled every 10 s (with jitter) on a 2-CPU host:
/// a busy core and an idle one (user and kernel time in 10 ms ticks),
/// memory moving around 40 MiB, some disk and network traffic, no CPU
/// limit (CFS periods 0) and no drops; it restarts every 200 000 samples
/// (a stopped row, then counters from zero).
fn series(rows: usize) -> SampleColumns {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut columns = SampleColumns::default();
    let mut time = 1_700_000_000_000i64;
    let mut counters = [0u64; 6];
    let mut percpu = [0u64; 2];
    let mut modes = [0u64; 2];
    for row in 0..rows {
        time += 10_000 + i64::from(u8::try_from(noise.below(100)).unwrap_or(0)) - 50;
        if row % 200_000 == 199_999 {
            columns.push(&Sample::state_only(time, State::Exited));
            counters = [0; 6];
            percpu = [0; 2];
            modes = [0; 2];
            continue;
        }
        let busy = 2_000_000_000 + noise.below(4_000_000_000);
        let idle = noise.below(200_000_000);
        percpu[0] += busy;
        percpu[1] += idle;
        // User and kernel time in ticks of 10 ms, as cgroup v1 counts them.
        let user = (busy + idle) / 10 * (7 + noise.below(3));
        modes[0] += user / 10_000_000 * 10_000_000;
        modes[1] += (busy + idle - user) / 10_000_000 * 10_000_000;
        for (counter, step) in counters.iter_mut().zip([
            noise.below(1 << 16), // disk read
            noise.below(1 << 20), // disk write
            noise.below(2 << 20), // net rx bytes
            noise.below(2 << 10), // net rx packets
            noise.below(1 << 20), // net tx bytes
            noise.below(1 << 10), // net tx packets
        ]) {
            *counter += step;
        }
        let mut sample = Sample::state_only(time, State::Running);
        let usage = (36 << 20) + noise.below(8 << 20);
        let values = [
            (Field::CpuTotalNs, percpu[0] + percpu[1]),
            (Field::OnlineCpus, 2),
            (Field::ThrottledNs, 0),
            (Field::MemUsage, usage),
            (Field::MemLimit, LIMIT),
            (Field::MemInactiveFile, noise.below(4 << 20)),
            (Field::MemRss, usage / 2),
            (Field::MemCache, usage / 3),
            (Field::BlkReadBytes, counters[0]),
            (Field::BlkWriteBytes, counters[1]),
            (Field::NetRxBytes, counters[2]),
            (Field::NetRxPackets, counters[3]),
            (Field::NetTxBytes, counters[4]),
            (Field::NetTxPackets, counters[5]),
            (Field::Pids, 4),
            (Field::CpuUserNs, modes[0]),
            (Field::CpuSystemNs, modes[1]),
            (Field::CfsPeriods, 0),
            (Field::CfsThrottledPeriods, 0),
            (Field::MemFailcnt, 0),
            (Field::NetRxDropped, 0),
            (Field::NetRxErrors, 0),
            (Field::NetTxDropped, 0),
            (Field::NetTxErrors, 0),
        ];
        for (field, value) in values {
            sample.set(field, Some(value));
        }
        sample.percpu_ns = percpu.to_vec();
        columns.push(&sample);
    }
    columns
}

/// Sums of every figure, so that none is optimised away.
#[derive(Debug, Default, PartialEq)]
struct Figures {
    ratios: f64,
    integers: u64,
    missing: u64,
}

impl Figures {
    fn ratio(&mut self, value: Option<f64>) {
        match value {
            Some(value) => self.ratios += value,
            None => self.missing += 1,
        }
    }

    fn integer(&mut self, value: Option<f64>) {
        match value.and_then(round_to_u64) {
            Some(value) => self.integers = self.integers.wrapping_add(value),
            None => self.missing += 1,
        }
    }

    fn add(&mut self, other: &Figures) {
        self.ratios += other.ratios;
        self.integers = self.integers.wrapping_add(other.integers);
        self.missing += other.missing;
    }

    /// Equal but for the order in which the ratios were summed.
    fn agrees_with(&self, other: &Figures) -> bool {
        let close = (self.ratios - other.ratios).abs() <= 1e-9 * self.ratios.abs();
        close && (self.integers, self.missing) == (other.integers, other.missing)
    }
}

/// The counters whose rates are figures, per second.
const PER_SECOND: [Field; 6] = [
    Field::BlkReadBytes,
    Field::BlkWriteBytes,
    Field::NetRxBytes,
    Field::NetTxBytes,
    Field::NetRxPackets,
    Field::NetTxPackets,
];

/// The rate step: every figure of every interval, run by run over the
/// columns' slices, added to `figures`.
fn derive_into(columns: &SampleColumns, figures: &mut Figures) {
    interval_runs(columns, |run| {
        // The run's sums stay in registers; `figures` is written once.
        let mut sums = Figures::default();
        run.cpu_percent_of_host(|value| sums.ratio(value));
        run.core_percent(0, |value| sums.ratio(value));
        run.core_percent(1, |value| sums.ratio(value));
        run.memory(MemUse::InUse, |memory| {
            sums.ratio(memory.and_then(|m| m.percent_of_host(HOST_MEMORY)));
            sums.ratio(memory.and_then(|m| m.percent_of_limit(Some(HOST_MEMORY))));
        });
        for field in PER_SECOND {
            run.per_second(field, |value| sums.integer(value));
        }
        figures.add(&sums);
    });
}

fn derive(columns: &SampleColumns) -> Figures {
    let mut figures = Figures::default();
    derive_into(columns, &mut figures);
    figures
}

/// The same figures interval by interval ([`intervals`]): what the run
/// form must agree with.
fn derive_by_interval(columns: &SampleColumns) -> Figures {
    let mut figures = Figures::default();
    for interval in intervals(columns) {
        let host = interval.online_cpus().map(|online_cpus| CpuScale::Host { online_cpus });
        figures.ratio(host.and_then(|scale| interval.cpu_percent(scale)));
        figures.ratio(interval.core_percent(0));
        figures.ratio(interval.core_percent(1));
        let memory = interval.memory(MemUse::InUse);
        figures.ratio(memory.and_then(|m| m.percent_of_host(HOST_MEMORY)));
        figures.ratio(memory.and_then(|m| m.percent_of_limit(Some(HOST_MEMORY))));
        for field in PER_SECOND {
            figures.integer(interval.per_second(field));
        }
    }
    figures
}

/// Rows per stored block (the store's default).
const BLOCK_ROWS: usize = 360;

/// The series as the store keeps it: encoded blocks of [`BLOCK_ROWS`] rows.
fn encode(columns: &SampleColumns) -> Vec<Vec<u8>> {
    let rows: Vec<Sample> = (0..columns.len()).filter_map(|i| columns.row(i)).collect();
    rows.chunks(BLOCK_ROWS)
        .map(|chunk| codec::encode_block(chunk).unwrap_or_else(|e| panic!("encoding the bench series: {e}")))
        .collect()
}

/// The decode step: every block, in order, into one set of columns
/// reserved from the blocks' headers, as the reader does.
fn decode(blocks: &[Vec<u8>]) -> SampleColumns {
    let mut columns = SampleColumns::default();
    columns.reserve(blocks.iter().filter_map(|block| codec::row_count(block).ok()).sum());
    for block in blocks {
        codec::decode_block_into(block, &mut columns).unwrap_or_else(|e| panic!("decoding the bench series: {e}"));
    }
    columns
}

/// The decode step block by block, into the same columns (the previous
/// block's last row kept, as [`decode_and_derive_by_block`] does): decoding
/// without the memory traffic of holding the whole series.
fn decode_by_block(blocks: &[Vec<u8>]) -> usize {
    let mut columns = SampleColumns::default();
    let mut rows = 0;
    for block in blocks {
        columns.keep_last(1);
        codec::decode_block_into(block, &mut columns).unwrap_or_else(|e| panic!("decoding the bench series: {e}"));
        rows += columns.len();
    }
    rows
}

/// The whole pipeline block by block: each block decoded into the same
/// columns (keeping the previous block's last row, to pair with the next
/// block's first) and derived at once, so the series is never held whole.
fn decode_and_derive_by_block(blocks: &[Vec<u8>]) -> Figures {
    let mut figures = Figures::default();
    let mut columns = SampleColumns::default();
    for block in blocks {
        columns.keep_last(1);
        codec::decode_block_into(block, &mut columns).unwrap_or_else(|e| panic!("decoding the bench series: {e}"));
        derive_into(&columns, &mut figures);
    }
    figures
}

fn main_bench(c: &mut Criterion) {
    let columns = series(ROWS);
    let blocks = encode(&columns);
    assert_eq!(decode(&blocks), columns, "the codec must give back the series");
    let figures = derive(&columns);
    assert!(figures.agrees_with(&derive_by_interval(&columns)), "runs and intervals must agree");
    assert!(figures.agrees_with(&decode_and_derive_by_block(&blocks)), "block by block must agree");
    let mut group = c.benchmark_group("rate");
    group.throughput(Throughput::Elements(u64::try_from(ROWS).unwrap_or(u64::MAX)));
    group.sample_size(10);
    group.bench_function("decode_and_derive_1M_samples", |b| b.iter(|| derive(&decode(black_box(&blocks)))));
    group.bench_function("derive_only_1M_samples", |b| b.iter(|| derive(black_box(&columns))));
    group.bench_function("decode_only_1M_samples", |b| b.iter(|| decode(black_box(&blocks))));
    group.bench_function("decode_only_by_block_1M_samples", |b| b.iter(|| decode_by_block(black_box(&blocks))));
    group.bench_function("decode_and_derive_by_block_1M_samples", |b| {
        b.iter(|| decode_and_derive_by_block(black_box(&blocks)))
    });
    group.finish();
}

criterion_group!(benches, main_bench);
criterion_main!(benches);
