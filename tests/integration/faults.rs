//! Runtime faults of the collector and the store, caused for real: a slow
//! size list, an events stream that stalls or sends a line over the limit,
//! 200 monitors at once on the socket, clocks stepped forward and back
//! (`faketime`), a daemon whose clock is off from the collector's, and a
//! disk that stays full until the collector is stopped.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kura_store::sample::State;
use kura_store::{Reader, SweepOutcome};
use testkit::docker::{ContainerSpec, SOCKET};
use testkit::process::{wait_until, workspace_bin};
use testkit::proxy::{Fault, Proxy};
use testkit::tmpfs::Tmpfs;

use crate::collector::{config, reader, series_of, wait_sweeps, DataDir, Process, Running, LOCAL};
use crate::foundation::docker_available;

/// The sweeps of `host` stored in `data` (none while it cannot be read).
fn sweeps(data: &Path, host: &str) -> Vec<kura_store::SweepRecord> {
    Reader::open(data).and_then(|r| r.sweeps(host, i64::MIN, i64::MAX)).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_size_list_never_makes_the_host_down_and_is_stored_when_it_comes() {
    if !docker_available() {
        return;
    }
    let container = ContainerSpec::new("slowsize").start();
    let proxy = Proxy::start(Path::new(SOCKET)).unwrap_or_else(|e| panic!("proxy: {e}"));
    // The list with sizes takes 8 s, four times the request timeout.
    proxy.inject("size=1", Fault::Delay(Duration::from_secs(8)));
    let data = DataDir::new();
    let host = format!("slow={}", proxy.endpoint());
    let collector = Running::start(config(&data, &[&host], |f| {
        f.interval = Some("500ms".into());
        f.timeout = Some("2s".into());
    }));
    let stored = wait_until(Duration::from_secs(60), || {
        Reader::open(data.path()).ok().and_then(|r| r.sizes_at("slow", i64::MAX).ok().flatten()).is_some()
    });
    collector.stop().await;
    assert!(stored, "the slow size list was never stored");
    let reader = reader(&data);
    let all = reader.sweeps("slow", 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    assert!(all.len() >= 4, "sweeps went on while the size list was slow: {}", all.len());
    let down: Vec<&SweepOutcome> = all.iter().map(|s| &s.outcome).filter(|o| **o != SweepOutcome::Reached).collect();
    assert!(down.is_empty(), "a slow size list made the host down: {down:?}");
    let series = series_of(&reader, "slow", container.id());
    let samples = reader.samples(series.series, 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(samples.len(), all.len(), "the container was sampled by every sweep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_events_stream_is_reopened_and_the_events_meanwhile_are_stored_once() {
    if !docker_available() {
        return;
    }
    let proxy = Proxy::start(Path::new(SOCKET)).unwrap_or_else(|e| panic!("proxy: {e}"));
    // The first events stream answers its headers, then nothing, ever: a
    // half-open connection. Later ones reach the daemon.
    proxy.inject_once("/events", Fault::StallStream);
    let data = DataDir::new();
    let host = format!("stalled={}", proxy.endpoint());
    // A timeout of 1 s: a stream silent for 12 s is reopened.
    let collector = Running::start(config(&data, &[&host], |f| {
        f.interval = Some("500ms".into());
        f.timeout = Some("1s".into());
    }));
    wait_sweeps(data.path(), "stalled", 1).await;
    let container = ContainerSpec::new("stalled-events").shell("true").start();
    let id = container.id().to_owned();
    let actions = |data: &Path| -> Vec<String> {
        let Ok(reader) = Reader::open(data) else { return Vec::new() };
        let events = reader.events("stalled", 0, i64::MAX).unwrap_or_default();
        let ours = events.iter().filter(|e| e.event.container_id() == Some(id.as_str()));
        ours.map(|e| e.event.action().unwrap_or_default().to_owned()).collect()
    };
    let arrived = wait_until(Duration::from_secs(60), || {
        let actions = actions(data.path());
        ["create", "start", "die"].iter().all(|a| actions.iter().any(|b| b == a))
    });
    collector.stop().await;
    assert!(arrived, "the events never came past the stalled stream: {:?}", actions(data.path()));
    assert!(proxy.requests("/events") >= 2, "the stream was not reopened");
    let actions = actions(data.path());
    for action in ["create", "start", "die"] {
        assert_eq!(actions.iter().filter(|a| *a == action).count(), 1, "{action}: {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_line_over_the_limit_is_skipped_and_the_next_one_stored() {
    if !docker_available() {
        return;
    }
    let proxy = Proxy::start(Path::new(SOCKET)).unwrap_or_else(|e| panic!("proxy: {e}"));
    let now = chrono::Utc::now().timestamp();
    let event = |action: &str, id: &str, labels: &str, nanos: i64| {
        format!(
            r#"{{"Type":"container","Action":"{action}","Actor":{{"ID":"{id}","Attributes":{{"big":"{labels}"}}}},"scope":"local","time":{now},"timeNano":{}}}"#,
            now * 1_000_000_000 + nanos
        )
    };
    let huge_id = "a".repeat(64);
    let next_id = "b".repeat(64);
    // Every events stream: an event with 2 MiB of labels, then a normal one.
    proxy.inject(
        "/events",
        Fault::Lines(vec![event("create", &huge_id, &"x".repeat(2 << 20), 1), event("start", &next_id, "small", 2)]),
    );
    let data = DataDir::new();
    let host = format!("huge={}", proxy.endpoint());
    let collector = Running::start(config(&data, &[&host], |f| f.interval = Some("500ms".into())));
    let next_stored = wait_until(Duration::from_secs(30), || {
        let Ok(reader) = Reader::open(data.path()) else { return false };
        let events = reader.events("huge", 0, i64::MAX).unwrap_or_default();
        events.iter().any(|e| e.event.container_id() == Some(next_id.as_str()))
    });
    collector.stop().await;
    assert!(next_stored, "the event after the long line was never stored: the stream replays the long line");
    let events = reader(&data).events("huge", 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    assert!(!events.iter().any(|e| e.event.container_id() == Some(huge_id.as_str())), "the long line is skipped");
    let next = events.iter().filter(|e| e.event.container_id() == Some(next_id.as_str())).count();
    assert_eq!(next, 1, "stored once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_monitors_at_once_all_get_an_answer() {
    if !docker_available() {
        return;
    }
    let _web = ContainerSpec::new("monitors").start();
    let data = DataDir::new();
    let _collector = Process::spawn(data.path(), &[]);
    wait_sweeps(data.path(), "local", 2).await;
    // As Hinemos does on the minute: every custom monitor at once.
    let monitors: Vec<std::process::Child> = (0..200)
        .map(|_| {
            Command::new(workspace_bin("kura"))
                .args(["count", "--data"])
                .arg(data.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn kura: {e}"))
        })
        .collect();
    let mut failures = Vec::new();
    for monitor in monitors {
        let output = monitor.wait_with_output().unwrap_or_else(|e| panic!("kura: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || !stdout.contains("running,") {
            failures.push(format!("{:?}: {}", output.status.code(), String::from_utf8_lossy(&output.stderr).trim()));
        }
    }
    assert!(failures.is_empty(), "{} of 200 monitors got no answer: {:?}", failures.len(), failures.first());
}

/// libfaketime with the wall clock moved by `offset` (`+3h`, `-1h`), as an
/// `env` prefix (the collector keeps its pid, and gets the signals); the
/// monotonic clock is left alone. `None` (after a loud line, or a failure
/// under CI) when libfaketime is missing.
fn faketime(offset: &str) -> Option<Vec<String>> {
    let library = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|dir| dir.path().join("faketime/libfaketime.so.1"))
        .find(|path| path.is_file());
    let Some(library) = library else {
        testkit::peer_unavailable("libfaketime", "not installed (Debian package faketime)");
        return None;
    };
    let vars = [format!("LD_PRELOAD={}", library.display()), format!("FAKETIME={offset}")];
    Some(["env".to_owned(), "FAKETIME_DONT_FAKE_MONOTONIC=1".to_owned()].into_iter().chain(vars).collect())
}

/// Runs a collector (on the local daemon at 500 ms) under `wrapper` until
/// `host` has `more` sweeps beyond what the store holds, then stops it.
fn collect_more(data: &Path, wrapper: &[String], extra: &[&str], more: usize) -> Process {
    let before = sweeps(data, "local").len();
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let mut args = vec!["--docker", LOCAL, "--interval", "500ms"];
    args.extend_from_slice(extra);
    let mut collector = Process::start(data, &wrapper, &args);
    let grew = wait_until(Duration::from_secs(60), || sweeps(data, "local").len() >= before + more);
    assert!(grew, "no {more} more sweeps stored (before: {before}); stderr:\n{}", collector.stderr());
    let status = collector.signal_and_wait("TERM");
    assert_eq!(status, Some(0), "stderr:\n{}", collector.stderr());
    collector
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_stepped_forward_past_the_retention_deletes_no_history() {
    if !docker_available() {
        return;
    }
    let Some(ahead) = faketime("+3h") else { return };
    let web = ContainerSpec::new("clock-fwd").start();
    let data = DataDir::new();
    collect_more(data.path(), &[], &["--retention", "1h"], 4);
    let before: Vec<i64> = sweeps(data.path(), "local").iter().map(|s| s.time).collect();
    // Three hours later by the clock, one hour of retention: the first
    // prune at start would delete everything stored so far.
    let stepped = collect_more(data.path(), &ahead, &["--retention", "1h", "--log", "info"], 4);
    let after = sweeps(data.path(), "local");
    let times: Vec<i64> = after.iter().map(|s| s.time).collect();
    assert!(
        before.iter().all(|t| times.contains(t)),
        "history before the step was pruned; stderr:\n{}",
        stepped.stderr()
    );
    assert!(times.last() > before.last(), "the sweeps after the step are stored");
    // The daemon's times are three hours behind the collector's now: the
    // running container lost no sample.
    let reader = reader(&data);
    let series = series_of(&reader, "local", web.id());
    let samples = reader.samples(series.series, 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    let reached = after.iter().filter(|s| s.outcome == SweepOutcome::Reached && s.time >= series.first_seen).count();
    assert_eq!(samples.len(), reached, "one sample per sweep; stderr:\n{}", stepped.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_stepped_back_still_stores_every_sweep() {
    if !docker_available() {
        return;
    }
    let Some(behind) = faketime("-1h") else { return };
    let web = ContainerSpec::new("clock-back").start();
    let data = DataDir::new();
    collect_more(data.path(), &[], &[], 3);
    let before = sweeps(data.path(), "local").len();
    // An hour behind: every sweep would be "stale" until the clock caught up.
    let stepped = collect_more(data.path(), &behind, &["--log", "info"], 3);
    let after = sweeps(data.path(), "local");
    assert!(after.len() >= before + 3);
    assert!(after.windows(2).all(|w| w[0].time < w[1].time), "sweep times go forward");
    assert!(stepped.stderr().contains("behind the newest stored sweep"), "said once:\n{}", stepped.stderr());
    let reader = reader(&data);
    let series = series_of(&reader, "local", web.id());
    let samples = reader.samples(series.series, 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(samples.len(), after.len(), "one sample per sweep; stderr:\n{}", stepped.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_clock_off_from_the_collector_loses_no_sample_at_state_changes() {
    if !docker_available() {
        return;
    }
    // The collector five minutes behind: to it, the daemon's clock is five
    // minutes ahead. Running samples carry the daemon's times, stopped ones
    // the sweep's.
    let Some(behind) = faketime("-5m") else { return };
    let flip = ContainerSpec::new("clock-skew").start();
    let data = DataDir::new();
    let wrapper: Vec<&str> = behind.iter().map(String::as_str).collect();
    let mut collector = Process::start(data.path(), &wrapper, &["--docker", LOCAL, "--interval", "500ms"]);
    let series_samples = |state: State| -> usize {
        let Ok(reader) = Reader::open(data.path()) else { return 0 };
        let Some(series) =
            reader.series("local").ok().and_then(|all| all.into_iter().find(|s| s.container.id == flip.id()))
        else {
            return 0;
        };
        let samples = reader.samples(series.series, 0, i64::MAX).unwrap_or_default();
        samples.state.iter().filter(|s| **s == state).count()
    };
    assert!(wait_until(Duration::from_secs(30), || series_samples(State::Running) >= 2), "{}", collector.stderr());
    flip.docker("stop");
    assert!(wait_until(Duration::from_secs(30), || series_samples(State::Exited) >= 2), "{}", collector.stderr());
    flip.docker("start");
    let running = series_samples(State::Running);
    assert!(
        wait_until(Duration::from_secs(30), || series_samples(State::Running) >= running + 2),
        "{}",
        collector.stderr()
    );
    assert_eq!(collector.signal_and_wait("TERM"), Some(0), "{}", collector.stderr());

    let reader = reader(&data);
    let series = series_of(&reader, "local", flip.id());
    let samples = reader.samples(series.series, 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    let all = reader.sweeps("local", 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    let listed: Vec<i64> = all
        .iter()
        .filter(|s| s.outcome == SweepOutcome::Reached && s.time >= series.first_seen)
        .map(|s| s.time)
        .collect();
    let stored: Vec<(i64, State)> = samples.time.iter().copied().zip(samples.state.iter().copied()).collect();
    assert_eq!(
        samples.len(),
        listed.len(),
        "one sample per sweep, at every state change; sweeps at {listed:?}, samples (time, state) {stored:?}; stderr:\n{}",
        collector.stderr()
    );
    assert!(samples.time.windows(2).all(|w| w[0] < w[1]));
    assert!(collector.stderr().contains("the daemon's clock is"), "the offset is said:\n{}", collector.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_stopped_while_the_disk_is_full_caps_its_backlog_and_says_what_is_lost() {
    if !docker_available() {
        return;
    }
    let tmpfs = match Tmpfs::mount(24) {
        Ok(tmpfs) => tmpfs,
        Err(reason) => return testkit::peer_unavailable("a tmpfs for the disk-full test (needs root)", &reason),
    };
    let data = tmpfs.path().join("data");
    // Eight hosts that do not answer, every 100 ms: cheap sweeps ("down"),
    // 80 a second, so that the 360-sweep backlog fills within seconds.
    let hosts: Vec<String> = (0..8).map(|i| format!("gone{i}=tcp://127.0.0.1:1")).collect();
    let mut args: Vec<&str> = vec!["--interval", "100ms", "--timeout", "1s", "--log", "info"];
    for host in &hosts {
        args.extend(["--docker", host.as_str()]);
    }
    let mut collector = Process::start(&data, &[], &args);
    let total = |data: &Path| -> usize { (0..8).map(|i| sweeps(data, &format!("gone{i}")).len()).sum() };
    assert!(wait_until(Duration::from_secs(60), || total(&data) >= 16), "{}", collector.stderr());
    let stored_before = total(&data);
    tmpfs.fill("filler").unwrap_or_else(|e| panic!("filling the tmpfs: {e}"));
    let capped = wait_until(Duration::from_secs(120), || collector.stderr().contains("backlog full"));
    assert!(capped, "the backlog never filled; stderr:\n{}", collector.stderr());
    // Stopped with the disk still full: the kept sweeps are lost, said, status 1.
    let status = collector.signal_and_wait("TERM");
    let stderr = collector.stderr();
    assert_eq!(status, Some(1), "stderr:\n{stderr}");
    assert_eq!(collector.reported("unwritten"), 360, "the backlog holds 360 sweeps:\n{stderr}");
    assert!(collector.reported("dropped") >= 1, "{stderr}");
    assert!(stderr.contains("they are lost"), "{stderr}");
    assert_eq!(stderr.matches("the store refused a write").count(), 1, "reported once:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_file(tmpfs.path().join("filler")).unwrap_or_else(|e| panic!("removing the filler: {e}"));
    // What was acknowledged before the disk filled is all there.
    assert!(total(&data) >= stored_before, "{} < {stored_before}", total(&data));
}
