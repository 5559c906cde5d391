//! The rate hot path: every per-interval figure of one container's series
//! (CPU of the host and per core, memory against host and limit, disk and
//! network per second) over one million samples, down to the numbers that
//! would be printed. Criterion reports the time per series: divide by
//! [`ROWS`] for ns per sample (`cargo bench --bench rate`).
//!
//! The pipeline is `encoded blocks -> decode -> derive`, as `kura` runs it:
//! the series is encoded once into store blocks of 360 rows (one hour at
//! 10 s, the store's default), then each iteration decodes every block and
//! derives every figure. `derive_only` and `decode_only` split the cost.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kura_collector::sample::{Field, Sample, SampleColumns, State};
use kura_collector::store::codec;
use kura_query::rate::{intervals, round_to_u64, CpuScale, MemUse};

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
/// a busy core and an idle one, memory moving around 40 MiB, some disk and
/// network traffic; it restarts every 200 000 samples (a stopped row, then
/// counters from zero).
fn series(rows: usize) -> SampleColumns {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut columns = SampleColumns::default();
    let mut time = 1_700_000_000_000i64;
    let mut counters = [0u64; 6];
    let mut percpu = [0u64; 2];
    for row in 0..rows {
        time += 10_000 + i64::from(u8::try_from(noise.below(100)).unwrap_or(0)) - 50;
        if row % 200_000 == 199_999 {
            columns.push(&Sample::state_only(time, State::Exited));
            counters = [0; 6];
            percpu = [0; 2];
            continue;
        }
        percpu[0] += 2_000_000_000 + noise.below(4_000_000_000);
        percpu[1] += noise.below(200_000_000);
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
#[derive(Debug, Default)]
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
}

/// The rate step: every figure of every interval.
fn derive(columns: &SampleColumns) -> Figures {
    let mut figures = Figures::default();
    for interval in intervals(columns) {
        let host = interval.online_cpus().map(|online_cpus| CpuScale::Host { online_cpus });
        figures.ratio(host.and_then(|scale| interval.cpu_percent(scale)));
        figures.ratio(interval.core_percent(0));
        figures.ratio(interval.core_percent(1));
        let memory = interval.memory(MemUse::InUse);
        figures.ratio(memory.and_then(|m| m.percent_of_host(HOST_MEMORY)));
        figures.ratio(memory.and_then(|m| m.percent_of_limit(Some(HOST_MEMORY))));
        for field in [
            Field::BlkReadBytes,
            Field::BlkWriteBytes,
            Field::NetRxBytes,
            Field::NetTxBytes,
            Field::NetRxPackets,
            Field::NetTxPackets,
        ] {
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

/// The decode step: every block, in order, into one set of columns.
fn decode(blocks: &[Vec<u8>]) -> SampleColumns {
    let mut columns = SampleColumns::default();
    for block in blocks {
        codec::decode_block_into(block, &mut columns).unwrap_or_else(|e| panic!("decoding the bench series: {e}"));
    }
    columns
}

fn main_bench(c: &mut Criterion) {
    let columns = series(ROWS);
    let blocks = encode(&columns);
    assert_eq!(decode(&blocks), columns, "the codec must give back the series");
    let mut group = c.benchmark_group("rate");
    group.throughput(Throughput::Elements(u64::try_from(ROWS).unwrap_or(u64::MAX)));
    group.sample_size(10);
    group.bench_function("decode_and_derive_1M_samples", |b| b.iter(|| derive(&decode(black_box(&blocks)))));
    group.bench_function("derive_only_1M_samples", |b| b.iter(|| derive(black_box(&columns))));
    group.bench_function("decode_only_1M_samples", |b| b.iter(|| decode(black_box(&blocks))));
    group.finish();
}

criterion_group!(benches, main_bench);
criterion_main!(benches);
