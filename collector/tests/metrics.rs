//! The exposition of a simulated store, byte for byte
//! (`tests/golden/metrics.txt`), and the text format's rules checked on
//! it: one group per family, unique series, no timestamps.
//! `KURA_UPDATE_GOLDEN=1 cargo test -p kura-collector --test metrics`
//! rewrites the file after a deliberate change.

// A test binary: its helpers may unwrap too (clippy.toml allows it in
// `#[test]` functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kura_collector::metrics::telemetry::Telemetry;
use kura_collector::metrics::view::Views;
use kura_collector::metrics::{Exporter, ServedHost};
use kura_store::simulate::{Simulation, Simulator};
use kura_store::{Reader, Store, StoreOptions};

/// The simulated history's last sweep is at START + 29 intervals.
const END_MS: i64 = 1_767_225_600_000 + 29 * 10_000;

fn end() -> i64 {
    END_MS + 5_000
}

fn exporter(dir: &Path) -> Exporter {
    let spec = Simulation { sweeps: 30, ..Simulation::days(6, 1, 10_000) };
    let store = Store::open(dir, StoreOptions::default()).unwrap();
    Simulator::new(spec).run(&store).unwrap();
    let views = Views::load(&Reader::Handle(store.read_handle()), ["sim-host"]).unwrap();
    Exporter {
        hosts: vec![
            ServedHost { name: "sim-host".to_owned(), interval: Duration::from_secs(10) },
            ServedHost { name: "never-swept".to_owned(), interval: Duration::from_secs(10) },
        ],
        views,
        telemetry: Arc::new(Telemetry::default()),
        writes: None,
        store_path: None,
        container_labels: true,
        clock: end,
    }
}

#[test]
fn the_exposition_of_a_simulated_store_matches_its_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = exporter(dir.path()).render();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/metrics.txt");
    if std::env::var_os("KURA_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(text == expected, "the exposition differs from {}:\n{text}", golden.display());

    // Each family is one group, right after its HELP and TYPE lines.
    let mut families = HashSet::new();
    let mut current = "";
    let mut series = HashSet::new();
    for line in text.lines() {
        if let Some(help) = line.strip_prefix("# HELP ") {
            current = help.split(' ').next().unwrap();
            assert!(families.insert(current.to_owned()), "{current} appears twice");
        } else if !line.starts_with('#') {
            let (name_and_labels, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok_and(f64::is_finite), "{line}");
            let name = name_and_labels.split('{').next().unwrap();
            assert_eq!(name, current, "{line} outside its family");
            assert!(series.insert(name_and_labels.to_owned()), "{name_and_labels} twice");
        }
    }
    assert!(text.ends_with('\n'));
}

#[test]
fn a_stale_host_has_no_container_series_and_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut exporter = exporter(dir.path());
    exporter.clock = || END_MS + 30_001;
    let text = exporter.render();
    assert!(!text.contains("container_"), "{text}");
    assert!(text.contains("kura_host_up{host=\"sim-host\"} 0\n"), "{text}");
    exporter.clock = || END_MS + 30_000;
    assert!(exporter.render().contains("kura_host_up{host=\"sim-host\"} 1\n"));
}

#[test]
fn docker_labels_can_be_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut exporter = exporter(dir.path());
    assert!(exporter.render().contains("container_label_com_example_service=\"svc-0\""));
    exporter.container_labels = false;
    assert!(!exporter.render().contains("container_label_"));
}

#[test]
fn the_version_changes_with_the_views_and_when_a_host_turns_stale() {
    let dir = tempfile::tempdir().unwrap();
    let mut exporter = exporter(dir.path());
    let first = exporter.version();
    assert_eq!(exporter.version(), first);
    exporter.clock = || END_MS + 30_001;
    assert_ne!(exporter.version(), first);
    exporter.clock = end;
    let mut simulator = Simulator::new(Simulation { sweeps: 31, ..Simulation::days(6, 1, 10_000) });
    let last = std::iter::from_fn(|| simulator.next_sweep().cloned()).last().unwrap();
    exporter.views.apply(&last, &kura_store::WriteReport::default());
    assert_ne!(exporter.version(), first);
}
