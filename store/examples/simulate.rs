//! Fills a store with simulated history through the real store code
//! (`kura_store::simulate`): what `scripts/bench` measures `kura` on.
//!
//! ```text
//! cargo run --release -p kura-store --example simulate -- DIR [DAYS] [CONTAINERS] [INTERVAL_S] [LIFETIME_H RETENTION_D]
//! ```
//!
//! Defaults: 35 days, 100 containers, 10 s. The history ends when the
//! simulation starts; it prints the sweeps and samples written, the time
//! taken, the bytes on disk per container-sample and the end of the history
//! (query it with `kura ... --at END`), then on a second line what each
//! tree holds (keys and values, before sled's own overhead) per
//! container-sample.
//!
//! With LIFETIME_H and RETENTION_D the containers churn (each slot gets a
//! new container every LIFETIME_H hours, as `docker run --rm` jobs) and the
//! store is pruned to RETENTION_D days once a simulated day; a line per
//! simulated week then gives the series kept and the bytes on disk.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use kura_store::simulate::{Simulation, Simulator};
use kura_store::{Reader, Scan, Store, StoreOptions, Tree};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().context("usage: simulate DIR [DAYS] [CONTAINERS] [INTERVAL_S]")?);
    let number = |arg: Option<String>, default: u64, what: &str| -> anyhow::Result<u64> {
        arg.map_or(Ok(default), |a| a.parse().with_context(|| format!("{what}: {a:?} is not a number")))
    };
    let days = u32::try_from(number(args.next(), 35, "DAYS")?)?;
    let containers = usize::try_from(number(args.next(), 100, "CONTAINERS")?)?;
    let interval_ms = i64::try_from(number(args.next(), 10, "INTERVAL_S")?)?.saturating_mul(1000);
    let churn = match (args.next(), args.next()) {
        (Some(lifetime), Some(retention)) => {
            Some((number(Some(lifetime), 0, "LIFETIME_H")?, number(Some(retention), 0, "RETENTION_D")?))
        }
        _ => None,
    };

    let mut spec = Simulation::days(containers, days, interval_ms);
    if let Some((lifetime_h, _)) = churn {
        let sweeps = i64::try_from(lifetime_h)?.saturating_mul(3_600_000) / interval_ms.max(1);
        spec.lifetime_sweeps = Some(usize::try_from(sweeps)?.max(1));
    }
    let span = i64::try_from(spec.sweeps)?.saturating_mul(interval_ms);
    let end = chrono::Utc::now().timestamp_millis();
    spec.start = end.saturating_sub(span);
    let options = StoreOptions { flush_every_sweep: false, ..StoreOptions::default() };
    let store = Store::open(&dir, options).with_context(|| format!("opening {}", dir.display()))?;
    let started = Instant::now();
    let report = match churn {
        None => Simulator::new(spec).run(&store)?,
        Some((_, retention_d)) => churn_and_prune(&store, spec, i64::try_from(retention_d)?, &dir)?,
    };
    store.flush()?;
    let elapsed = started.elapsed();
    let reader = Reader::Direct(store);
    let mut trees = Vec::new();
    for tree in Tree::ALL {
        let bytes: usize = reader.kv().scan(tree, &Scan::prefix(&[]))?.iter().map(|(k, v)| k.len() + v.len()).sum();
        trees.push((tree.name(), bytes));
    }
    drop(reader);
    let bytes = dir_size(&dir.join("store"))?;
    let samples = u64::try_from(report.samples)?.max(1);
    println!(
        "simulated {days} days x {containers} containers at {}s: {} sweeps, {} samples, {} restarts in {:.1}s; \
         {bytes} bytes on disk, {:.1} bytes per container-sample; history ends at {}",
        interval_ms / 1000,
        report.sweeps,
        report.samples,
        report.restarts,
        elapsed.as_secs_f64(),
        bytes as f64 / samples as f64,
        chrono::DateTime::from_timestamp_millis(end).map(|t| t.to_rfc3339()).unwrap_or_default()
    );
    let live: usize = trees.iter().map(|(_, bytes)| bytes).sum();
    let by_tree: Vec<String> = trees
        .iter()
        .filter(|(_, bytes)| *bytes > 0)
        .map(|(name, bytes)| format!("{name} {:.2}", *bytes as f64 / samples as f64))
        .collect();
    println!(
        "trees hold {:.1} bytes per container-sample ({}); sled keeps {:.2}x that on disk",
        live as f64 / samples as f64,
        by_tree.join(", "),
        bytes as f64 / live.max(1) as f64
    );
    Ok(())
}

/// Runs a churning simulation, pruning to `retention_d` days once a
/// simulated day, and prints the series kept and the bytes on disk weekly.
fn churn_and_prune(
    store: &Store,
    spec: Simulation,
    retention_d: i64,
    dir: &std::path::Path,
) -> anyhow::Result<kura_store::simulate::SimulationReport> {
    const DAY: i64 = 86_400_000;
    let (start, host) = (spec.start, spec.host.clone());
    let mut simulator = Simulator::new(spec);
    let mut report = kura_store::simulate::SimulationReport::default();
    let mut containers = std::collections::BTreeSet::new();
    while let Some(batch) = simulator.next_sweep() {
        report.samples += store.write_sweep(batch)?.samples;
        report.sweeps += 1;
        containers.extend(batch.containers.iter().map(|c| c.info.id.clone()));
        let time = batch.sweep.time;
        if (time - start) % DAY == 0 && time > start {
            while !store.prune(time - retention_d * DAY, 2_000)?.done {}
            let day = (time - start) / DAY;
            if day % 7 == 0 {
                store.flush()?;
                let series = Reader::Handle(store.read_handle()).series(&host)?.len();
                println!(
                    "day {day}: {} containers so far, {series} series kept, {} bytes on disk",
                    containers.len(),
                    dir_size(&dir.join("store"))?
                );
            }
        }
    }
    Ok(report)
}

fn dir_size(dir: &std::path::Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { dir_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}
