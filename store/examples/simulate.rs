//! Fills a store with simulated history through the real store code
//! (`kura_store::simulate`): what `scripts/bench` measures `kura` on.
//!
//! ```text
//! cargo run --release -p kura-store --example simulate -- DIR [DAYS] [CONTAINERS] [INTERVAL_S]
//! ```
//!
//! Defaults: 35 days, 100 containers, 10 s. The history ends when the
//! simulation starts; it prints the sweeps and samples written, the time
//! taken, the bytes on disk per container-sample and the end of the history
//! (query it with `kura ... --at END`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use kura_store::simulate::{Simulation, Simulator};
use kura_store::{Store, StoreOptions};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().context("usage: simulate DIR [DAYS] [CONTAINERS] [INTERVAL_S]")?);
    let number = |arg: Option<String>, default: u64, what: &str| -> anyhow::Result<u64> {
        arg.map_or(Ok(default), |a| a.parse().with_context(|| format!("{what}: {a:?} is not a number")))
    };
    let days = u32::try_from(number(args.next(), 35, "DAYS")?)?;
    let containers = usize::try_from(number(args.next(), 100, "CONTAINERS")?)?;
    let interval_ms = i64::try_from(number(args.next(), 10, "INTERVAL_S")?)?.saturating_mul(1000);

    let mut spec = Simulation::days(containers, days, interval_ms);
    let span = i64::try_from(spec.sweeps)?.saturating_mul(interval_ms);
    let end = chrono::Utc::now().timestamp_millis();
    spec.start = end.saturating_sub(span);
    let options = StoreOptions { flush_every_sweep: false, ..StoreOptions::default() };
    let store = Store::open(&dir, options).with_context(|| format!("opening {}", dir.display()))?;
    let started = Instant::now();
    let report = Simulator::new(spec).run(&store)?;
    store.flush()?;
    let elapsed = started.elapsed();
    drop(store);
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
    Ok(())
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
