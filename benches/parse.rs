//! Stats document parsing: kura's parser on each document shape, and three
//! references on the cgroup v1 document: sonic-rs into an untyped value,
//! serde_json into bollard's full stats model, and serde_json skipping the
//! whole document (the floor for a serde_json-based parser).
//!
//! `kura/v1_fallback` is the cgroup v1 document with its `name` escaped
//! (`"\/burn"`): the scanner gives up there, late in the document, and
//! serde_json reads it again; the worst case of a document the scanner does
//! not answer for.
//!
//! Run: `cargo bench --bench parse` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kura_collector::stats::parse_stats;
use kura_store::sample::State;

/// Reads a recorded document from the workspace's `fixtures/` folder.
fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fixtures", name].iter().collect();
    match std::fs::read(&path) {
        Ok(doc) => doc,
        Err(error) => {
            panic!("cannot read fixture {}: {error} (the fixtures folder at the workspace root)", path.display())
        }
    }
}

/// `doc` with `"name":"/` written `"name":"\/`, the same JSON.
fn escaped_name(doc: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(doc);
    assert!(text.contains(r#""name":"/"#), "the v1 document has a name");
    text.replacen(r#""name":"/"#, r#""name":"\/"#, 1).into_bytes()
}

fn bytes(doc: &[u8]) -> Throughput {
    Throughput::Bytes(u64::try_from(doc.len()).unwrap_or(u64::MAX))
}

fn stats_parse(c: &mut Criterion) {
    let v1 = fixture("docker-20.10-cgroup-v1/stats_burn.json");
    let documents = [
        ("kura/v1_percpu", v1.clone()),
        ("kura/v1_oneshot", fixture("docker-20.10-cgroup-v1/stats_oneshot_burn.json")),
        ("kura/v2", fixture("docker-cgroup-v2-stats-2023.json")),
        ("kura/zero", fixture("docker-20.10-cgroup-v1/stats_oom.json")),
        ("kura/v1_fallback", escaped_name(&v1)),
    ];

    // Each parser must succeed on its document, or its timing means nothing.
    for (name, doc) in &documents {
        match parse_stats(doc, State::Running) {
            Ok(sample) => assert_eq!(sample.is_none(), *name == "kura/zero", "{name}"),
            Err(error) => panic!("{name}: {error}"),
        }
    }
    if let Err(error) = sonic_rs::from_slice::<sonic_rs::Value>(&v1) {
        panic!("sonic-rs: {error}");
    }
    if let Err(error) = serde_json::from_slice::<bollard_stubs::models::ContainerStatsResponse>(&v1) {
        panic!("bollard-stubs: {error}");
    }

    let mut group = c.benchmark_group("stats_parse");
    for (name, doc) in &documents {
        group.throughput(bytes(doc));
        group.bench_function(*name, |b| b.iter(|| parse_stats(black_box(doc), State::Running)));
    }
    group.throughput(bytes(&v1));
    group.bench_function("sonic_rs_value/v1_percpu", |b| {
        b.iter(|| sonic_rs::from_slice::<sonic_rs::Value>(black_box(&v1)))
    });
    group.bench_function("bollard_serde_json/v1_percpu", |b| {
        b.iter(|| serde_json::from_slice::<bollard_stubs::models::ContainerStatsResponse>(black_box(&v1)))
    });
    // The floor of any serde_json-based parser: validate and skip everything.
    group.bench_function("serde_json_ignored_any/v1_percpu", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&v1)))
    });
    group.finish();
}

criterion_group!(benches, stats_parse);
criterion_main!(benches);
