//! A daemon restarted for real under a running collector: a private dockerd
//! (never the shared one; see `testkit::dockerd` for why it has a bridge of its own), stopped and started again with and without
//! `live-restore`. The sweeps while it is away are recorded down, sampling
//! resumes, the events stream resumes from its cursor with every event
//! stored once, and counters of containers the restart restarted are resets.

use std::path::Path;
use std::time::Duration;

use kura_store::sample::{Field, State};
use kura_store::{Reader, SweepOutcome};
use testkit::docker::{IMAGE, TEST_LABEL};
use testkit::dockerd::Dockerd;
use testkit::process::wait_until;

use crate::collector::{config, reader, DataDir, Running};
use crate::foundation::docker_available;

/// The events stored for container `id` of host `private`: action, time (ns).
fn stored_events(data: &Path, id: &str) -> Vec<(String, i64)> {
    let events = Reader::open(data).and_then(|r| r.events("private", 0, i64::MAX)).unwrap_or_default();
    let ours = events.iter().filter(|e| e.event.container_id() == Some(id));
    ours.map(|e| (e.event.action().unwrap_or_default().to_owned(), e.time_ns)).collect()
}

/// The actions stored for container `id` of host `private`.
fn actions(data: &Path, id: &str) -> Vec<String> {
    stored_events(data, id).into_iter().map(|(action, _)| action).collect()
}

fn sweeps(data: &Path) -> Vec<kura_store::SweepRecord> {
    Reader::open(data).and_then(|r| r.sweeps("private", 0, i64::MAX)).unwrap_or_default()
}

/// Samples of container `id` on host `private` (time, state, CPU ns).
fn samples(data: &Path, id: &str) -> Vec<(i64, State, Option<u64>)> {
    let Ok(reader) = Reader::open(data) else { return Vec::new() };
    let Some(series) = reader.series("private").ok().and_then(|all| all.into_iter().find(|s| s.container.id == id))
    else {
        return Vec::new();
    };
    let columns = reader.samples(series.series, 0, i64::MAX).unwrap_or_default();
    let cpu = columns.column(Field::CpuTotalNs);
    columns
        .time
        .iter()
        .zip(&columns.state)
        .zip(cpu.iter())
        .map(|((time, state), cpu)| (*time, *state, cpu.copied()))
        .collect()
}

async fn a_daemon_restarted_under_the_collector(live_restore: bool) {
    if !docker_available() {
        return;
    }
    let shared_bridge = Path::new("/sys/class/net/docker0");
    let had_bridge = shared_bridge.exists();
    let mut daemon = match Dockerd::start(live_restore) {
        Ok(daemon) => daemon,
        Err(reason) => return testkit::peer_unavailable("a private dockerd", &reason),
    };
    let label = format!("{TEST_LABEL}={}", std::process::id());
    let run = |daemon: &Dockerd, name: &str| {
        let args = [
            "run",
            "-d",
            "--restart",
            "always",
            "--label",
            &label,
            "--name",
            name,
            IMAGE,
            "sh",
            "-c",
            "while :; do :; done",
        ];
        daemon.docker(&args).unwrap_or_else(|e| panic!("{e}"))
    };
    let before = run(&daemon, "kura-test-before");
    let data = DataDir::new();
    let host = format!("private={}", daemon.endpoint());
    let collector = Running::start(config(&data, &[&host], |f| {
        f.interval = Some("500ms".into());
        f.timeout = Some("2s".into());
    }));
    let sampled = |data: &Path, id: &str, n: usize| {
        samples(data, id).iter().filter(|(_, state, cpu)| *state == State::Running && cpu.is_some()).count() >= n
    };
    assert!(
        wait_until(Duration::from_secs(60), || sampled(data.path(), &before, 3)),
        "never sampled before the restart"
    );
    assert!(wait_until(Duration::from_secs(30), || actions(data.path(), &before).iter().any(|a| a == "start")));

    let restarted_at = kura_collector::daemon::now_millis();
    daemon.restart().unwrap_or_else(|e| panic!("restarting the private dockerd: {e}"));
    let after = run(&daemon, "kura-test-after");
    let back = wait_until(Duration::from_secs(60), || {
        sampled(data.path(), &after, 2) && actions(data.path(), &after).iter().any(|a| a == "start")
    });
    let resumed = wait_until(Duration::from_secs(60), || {
        let all = samples(data.path(), &before);
        all.iter().any(|(time, state, cpu)| *time > restarted_at && *state == State::Running && cpu.is_some())
    });
    collector.stop().await;
    assert!(back, "sampling or events did not resume after the restart");
    assert!(resumed, "the first container is not sampled again");

    // The sweeps while the daemon was away are down, with their reason.
    let all = sweeps(data.path());
    let down: Vec<&SweepOutcome> = all.iter().map(|s| &s.outcome).filter(|o| **o != SweepOutcome::Reached).collect();
    assert!(!down.is_empty(), "no down sweep while the daemon was away");
    assert!(all.last().is_some_and(|s| s.outcome == SweepOutcome::Reached));
    // Every event once: the stream resumed from its cursor.
    for id in [&before, &after] {
        let mut events = stored_events(data.path(), id);
        let all = events.len();
        events.sort();
        events.dedup();
        assert_eq!(events.len(), all, "an event of {id} stored twice: {events:?}");
    }
    let after_actions = actions(data.path(), &after);
    for action in ["create", "start"] {
        assert_eq!(after_actions.iter().filter(|a| *a == action).count(), 1, "{action}: {after_actions:?}");
    }
    // The first container: kept running by live-restore (one start, a
    // continuous counter), or restarted by the daemon's restart (a second
    // start, and its counters are a reset).
    let starts = actions(data.path(), &before).iter().filter(|a| *a == "start").count();
    let cpu: Vec<u64> = samples(data.path(), &before).iter().filter_map(|(_, _, cpu)| *cpu).collect();
    let resets = cpu.windows(2).filter(|w| w[1] < w[0]).count();
    if live_restore {
        assert_eq!(starts, 1, "live-restore kept the container running");
        assert_eq!(resets, 0, "live-restore kept the container running: {cpu:?}");
    } else {
        assert_eq!(starts, 2, "the restart restarted the container: {:?}", actions(data.path(), &before));
        assert_eq!(resets, 1, "the restart restarted the container: one reset in {cpu:?}");
    }
    let reader = reader(&data);
    assert!(reader.latest_sweep("private").ok().flatten().is_some());
    drop(daemon);
    assert_eq!(shared_bridge.exists(), had_bridge, "the private dockerd touched the shared daemon's docker0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_restarted_under_the_collector_without_live_restore() {
    a_daemon_restarted_under_the_collector(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_restarted_under_the_collector_with_live_restore() {
    a_daemon_restarted_under_the_collector(true).await;
}
