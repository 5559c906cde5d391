//! Keys are names (`--key name`, the default), and Hinemos keeps one
//! series per key: `docker rename` moves a container's whole history to
//! its new name, and a container re-created under a name continues that
//! name's key with its own counters only, its predecessor's history kept
//! beside it. Against the real dockerd, with the collector running.

use std::time::Duration;

use kura_store::Reader;
use testkit::docker::ContainerSpec;
use testkit::process::wait_until;

use crate::collector::{config, reader, series_of, wait_sweeps, DataDir, Running};
use crate::foundation::docker_available;
use crate::query::{kura, lines, value};

fn local() -> String {
    format!("local=unix://{}", testkit::docker::SOCKET)
}

/// Sweeps stored so far on the local host.
fn sweeps(data: &DataDir) -> usize {
    Reader::open(data.path()).and_then(|r| r.sweeps("local", 0, i64::MAX)).map(|s| s.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_container_keeps_its_history_under_its_new_name() {
    if !docker_available() {
        return;
    }
    let mut container = ContainerSpec::new("rn-old").start();
    let old = container.name().to_owned();
    let data = DataDir::new();
    let collector = Running::start(config(&data, &[&local()], |f| f.interval = Some("1s".into())));
    wait_sweeps(data.path(), "local", 3).await;
    let renamed_at = kura_collector::daemon::now_millis();
    let new = format!("{old}-new");
    container.rename(&new);
    let seen = wait_until(Duration::from_secs(30), || {
        Reader::open(data.path()).is_ok_and(|r| {
            r.series("local")
                .is_ok_and(|all| all.iter().any(|s| s.container.id == container.id() && s.container.name == new))
        })
    });
    assert!(seen, "the new name {new} never reached the store");
    let after = sweeps(&data);
    wait_sweeps(data.path(), "local", after + 2).await;
    let cpu = lines(&data, &["cpu", "-n", &new, "--window", "1m"]);
    let gone = kura(&data, &["cpu", "-n", &old]);
    let count = lines(&data, &["count", "-n", &new]);
    collector.stop().await;

    value(&cpu, &format!("cpu_usage:{new}"));
    assert_eq!(cpu.len(), 1, "{cpu:?}");
    assert_eq!(value(&count, "running"), 1.0);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains(&format!("matches -n {old}")));
    // One series, the container's, with its samples from before the rename.
    let store = reader(&data);
    let all = store.series("local").unwrap();
    let mine: Vec<_> = all.iter().filter(|s| s.container.id == container.id()).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].container.name, new);
    let samples = store.samples(mine[0].series, 0, i64::MAX).unwrap();
    assert!(
        samples.time.first().is_some_and(|t| *t < renamed_at),
        "the history before the rename is under the new name"
    );
    assert!(!all.iter().any(|s| s.container.name == old), "no series is left under the old name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_recreated_under_its_name_continues_the_key_with_its_own_counters() {
    if !docker_available() {
        return;
    }
    // The first one burns CPU, the second sleeps: a figure mixing the two
    // containers' counters would show the first one's work.
    let first = ContainerSpec::new("rc").shell("while :; do :; done").start();
    let name = first.name().to_owned();
    let first_id = first.id().to_owned();
    let data = DataDir::new();
    let collector = Running::start(config(&data, &[&local()], |f| f.interval = Some("1s".into())));
    wait_sweeps(data.path(), "local", 3).await;
    let busy =
        value(&lines(&data, &["cpu", "-n", &name, "--scale", "core", "--window", "1m"]), &format!("cpu_usage:{name}"));
    drop(first);
    let second = ContainerSpec::new("rc").named(&name).start();
    let sampled = wait_until(Duration::from_secs(30), || {
        Reader::open(data.path()).is_ok_and(|r| {
            r.series("local")
                .ok()
                .and_then(|all| all.into_iter().find(|s| s.container.id == second.id()))
                .is_some_and(|s| r.samples(s.series, 0, i64::MAX).is_ok_and(|samples| samples.len() >= 3))
        })
    });
    assert!(sampled, "the re-created {name} was not sampled three times");
    let cpu = lines(&data, &["cpu", "-n", &name, "--scale", "core", "--window", "1m"]);
    let by_id = lines(&data, &["cpu", "-n", &name, "--key", "id", "--window", "1m"]);
    let ps = kura(&data, &["ps", "--all", "-n", &name]);
    collector.stop().await;

    assert_eq!(cpu.len(), 1, "one key for the name: {cpu:?}");
    let idle = value(&cpu, &format!("cpu_usage:{name}"));
    assert!(idle < 1.0 && idle < busy, "the re-created, sleeping {name} read {idle} % (its predecessor {busy} %)");
    value(&by_id, &format!("cpu_usage:{}", &second.id()[..12]));
    let table = String::from_utf8_lossy(&ps.stdout);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(rows[0].contains(&second.id()[..12]), "{table}");
    // The predecessor's history stays in the store, under the same name.
    let store = reader(&data);
    let old = series_of(&store, "local", &first_id);
    assert_eq!(old.container.name, name);
    assert!(store.samples(old.series, 0, i64::MAX).unwrap().len() >= 3);
    assert_ne!(old.series, series_of(&store, "local", second.id()).series);
}
