//! The Prometheus endpoint's cost per scrape and per sweep, on views of
//! 100 simulated containers with ten Docker labels each (what a compose
//! project gives a container):
//!
//! - `metrics/render`: one exposition, as text (what a scrape without gzip
//!   costs the collector, HTTP aside);
//! - `metrics/render_gzip`: the same, gzipped (what Prometheus asks for);
//! - `metrics/version`: what a scrape costs while nothing changed (the
//!   endpoint sends the gzipped exposition it kept);
//! - `metrics/render_gzip_without_labels`: `container_labels = false`;
//! - `metrics/apply_sweep`: what the writer thread adds to every sweep to
//!   keep the views.
//!
//! The exposition's size is printed once. `cargo bench --bench metrics`.

// A benchmark is test code: a failed setup should stop it loudly.
#![allow(clippy::expect_used)]

use std::io;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kura_collector::metrics::telemetry::Telemetry;
use kura_collector::metrics::view::Views;
use kura_collector::metrics::{Exporter, ServedHost};
use kura_store::simulate::{Simulation, Simulator};
use kura_store::{SweepBatch, WriteReport};

const CONTAINERS: usize = 100;
const INTERVAL_MS: i64 = 10_000;
const SWEEPS: usize = 30;

/// Labels as docker compose sets them.
fn compose_labels(batch: &mut SweepBatch) {
    for (i, container) in batch.containers.iter_mut().enumerate() {
        let labels = &mut container.info.labels;
        let service = format!("svc-{}", i % 7);
        labels.insert("com.docker.compose.project".to_owned(), "shop".to_owned());
        labels.insert("com.docker.compose.service".to_owned(), service.clone());
        labels.insert("com.docker.compose.container-number".to_owned(), format!("{}", i / 7 + 1));
        labels.insert("com.docker.compose.oneoff".to_owned(), "False".to_owned());
        labels.insert("com.docker.compose.version".to_owned(), "2.24.6".to_owned());
        labels.insert("com.docker.compose.config-hash".to_owned(), format!("{:064x}", i * 7919));
        labels.insert("com.docker.compose.project.working_dir".to_owned(), "/srv/shop".to_owned());
        labels.insert("com.docker.compose.project.config_files".to_owned(), "/srv/shop/compose.yaml".to_owned());
        labels.insert("com.docker.compose.image".to_owned(), format!("sha256:{:064x}", i * 104_729));
        labels.insert("org.opencontainers.image.title".to_owned(), service);
    }
}

/// Views fed with `SWEEPS` sweeps, and the simulator to feed more.
fn views() -> (Views, Simulator) {
    let mut simulator =
        Simulator::new(Simulation { sweeps: usize::MAX, ..Simulation::days(CONTAINERS, 1, INTERVAL_MS) });
    let views = Views::default();
    for _ in 0..SWEEPS {
        let mut batch = simulator.next_sweep().expect("a sweep").clone();
        compose_labels(&mut batch);
        views.apply(&batch, &WriteReport::default());
    }
    (views, simulator)
}

fn now() -> i64 {
    Simulation::days(CONTAINERS, 1, INTERVAL_MS).start + i64::try_from(SWEEPS).unwrap_or(0) * INTERVAL_MS
}

fn benches(c: &mut Criterion) {
    let (views, mut simulator) = views();
    let mut exporter = Exporter {
        hosts: vec![ServedHost { name: "sim-host".to_owned(), interval: Duration::from_millis(10_000) }],
        views: views.clone(),
        telemetry: Arc::new(Telemetry::default()),
        writes: None,
        store_path: None,
        container_labels: true,
        clock: now,
    };
    let text = exporter.render();
    let gzipped = exporter.write_gzip(Vec::new()).expect("gzip");
    let samples = text.lines().filter(|l| !l.starts_with('#')).count();
    println!(
        "metrics/size: {} containers, {samples} samples, {} bytes as text ({} per sample), {} gzipped ({:.1}x smaller)",
        CONTAINERS,
        text.len(),
        text.len() / samples.max(1),
        gzipped.len(),
        text.len() as f64 / gzipped.len().max(1) as f64
    );

    let mut group = c.benchmark_group("metrics");
    group.throughput(Throughput::Elements(u64::try_from(samples).unwrap_or(0)));
    group.bench_function("render", |b| b.iter(|| exporter.write(io::sink()).expect("render")));
    group.bench_function("render_gzip", |b| b.iter(|| exporter.write_gzip(io::sink()).expect("gzip")));
    // A scrape between two sweeps: the endpoint checks the version and
    // sends the gzipped exposition it kept.
    group.bench_function("version", |b| b.iter(|| exporter.version()));
    // The same without the ten `container_label_*` labels on every series.
    exporter.container_labels = false;
    let bare = exporter.write(Vec::new()).expect("render");
    let bare_gzipped = exporter.write_gzip(Vec::new()).expect("gzip");
    println!("metrics/size: without Docker labels {} bytes as text, {} gzipped", bare.len(), bare_gzipped.len());
    group.bench_function("render_gzip_without_labels", |b| b.iter(|| exporter.write_gzip(io::sink()).expect("gzip")));
    group.throughput(Throughput::Elements(u64::try_from(CONTAINERS).unwrap_or(0)));
    let mut batch = simulator.next_sweep().expect("a sweep").clone();
    compose_labels(&mut batch);
    group.bench_function("apply_sweep", |b| {
        b.iter(|| {
            // The same sweep, a little later each time.
            batch.sweep.time += INTERVAL_MS;
            for container in &mut batch.containers {
                if let Some(sample) = &mut container.sample {
                    sample.time += INTERVAL_MS;
                }
            }
            views.apply(&batch, &WriteReport::default());
        })
    });
    group.finish();
}

criterion_group! {
    name = metrics;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = benches
}
criterion_main!(metrics);
