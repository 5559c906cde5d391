//! The collector's `[[forward]]` against a real rsyslog that is down, then
//! stalled (SIGSTOP), then back: nothing lost within the backlog, nothing
//! sent twice, and what was dropped beyond a small backlog told once.

use std::collections::BTreeMap;
use std::time::Duration;

use kura_query::export::syslog::Zone;
use kura_query::feed;
use kura_store::Reader;
use testkit::docker::ContainerSpec;
use testkit::rsyslog::Rsyslog;

use crate::collector::{wait_sweeps, DataDir, Process};
use crate::foundation::docker_available;

const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `found` until it holds; panics naming `what` after [`DEADLINE`].
async fn wait_until(what: &str, mut found: impl FnMut() -> bool) {
    crate::foundation::poll(what, DEADLINE, || found().then_some(())).await
}

/// The lines of the stored events of `local` from `from_ns` on.
fn stored_lines(data: &DataDir, from_ns: i64) -> Vec<String> {
    let Ok(reader) = Reader::open(data.path()) else { return Vec::new() };
    let events = reader.events("local", from_ns, i64::MAX).unwrap_or_default();
    events.iter().map(|e| feed::events::line("local", e, Zone::Local)).collect()
}

/// What rsyslog received with this TAG, by message, counted.
fn received(rsyslog: &Rsyslog, tag: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for record in rsyslog.records().into_iter().filter(|r| r.tag == tag) {
        *counts.entry(record.msg.trim_start().to_owned()).or_insert(0) += 1;
    }
    counts
}

/// Waits until the store holds container `id`'s `die`.
async fn died(data: &DataDir, id: &str) {
    wait_until("the container's die in the store", || {
        Reader::open(data.path()).and_then(|r| r.events("local", 0, i64::MAX)).is_ok_and(|events| {
            events.iter().any(|e| e.event.container_id() == Some(id) && e.event.action() == Some("die"))
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_then_stalled_then_back_loses_nothing_and_drops_beyond_the_backlog_are_told() {
    if !docker_available() {
        return;
    }
    let mut rsyslog = match Rsyslog::start() {
        Ok(rsyslog) => rsyslog,
        Err(reason) => return testkit::peer_unavailable("rsyslogd", &reason),
    };
    let data = DataDir::new();
    let target = format!("tcp://127.0.0.1:{}", rsyslog.tcp_port());
    let config = data.path().join("collector.toml");
    let forward = |name: &str, send: &str, tag: &str, backlog: usize| {
        format!(
            "[[forward]]\nname = \"{name}\"\ntarget = \"{target}\"\nsend = [\"{send}\"]\ntag = \"{tag}\"\n\
             backlog = {backlog}\nevery = \"300ms\"\ntimeout = \"1s\"\n"
        )
    };
    let text = format!(
        "{}{}{}",
        forward("all", "events", "kura-all", 100_000),
        forward("small", "events", "kura-small", 3),
        forward("changes", "transitions", "kura-changes", 100_000)
    );
    std::fs::write(&config, text).unwrap();
    // Down from the start.
    rsyslog.stop();
    let collector = Process::spawn(data.path(), &["--config", config.to_str().unwrap()]);
    wait_sweeps(data.path(), "local", 1).await;
    let first_sweep_ns = Reader::open(data.path()).unwrap().sweeps("local", 0, i64::MAX).unwrap()[0].time * 1_000_000;

    // Events while it is down: more than the small backlog.
    let down: Vec<_> = (0..3).map(|_| ContainerSpec::new("fwd-down").shell("true").start()).collect();
    for container in &down {
        died(&data, container.id()).await;
    }
    rsyslog.start_again().unwrap();
    let delivered = |tag: &str| {
        let stored = stored_lines(&data, first_sweep_ns);
        let got = received(&rsyslog, tag);
        stored.iter().all(|line| got.contains_key(line))
    };
    wait_until("every event stored while the receiver was down, forwarded", || delivered("kura-all:")).await;

    // Stalled: it accepts connections but reads nothing until thawed.
    rsyslog.freeze();
    let stalled = ContainerSpec::new("fwd-stall").shell("true").start();
    died(&data, stalled.id()).await;
    // Long enough for the forwarder to send and time out waiting (1 s) at least once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    rsyslog.thaw();
    wait_until("the events stored while the receiver stalled, forwarded", || delivered("kura-all:")).await;
    // The transitions of our containers, each once, as derived afterwards.
    let ours: Vec<&str> = down.iter().map(|c| c.id()).chain([stalled.id()]).collect();
    let derived = || {
        let reader = Reader::open(data.path()).ok()?;
        let now = chrono::Utc::now().timestamp_millis() * 1_000_000;
        let all = kura_query::transition::history(&reader, "local", 0, now).ok()?;
        Some(
            all.into_iter()
                .filter(|t| ours.contains(&t.id.as_str()))
                .map(|t| feed::transitions::line(&t, Zone::Local))
                .collect::<Vec<_>>(),
        )
    };
    wait_until("our containers' transitions, forwarded", || {
        let got = received(&rsyslog, "kura-changes:");
        derived().is_some_and(|lines| !lines.is_empty() && lines.iter().all(|l| got.contains_key(l)))
    })
    .await;
    let got = received(&rsyslog, "kura-changes:");
    for line in derived().unwrap() {
        assert_eq!(got[&line], 1, "{line}");
    }
    assert!(got.values().all(|n| *n == 1), "a transition sent twice: {got:#?}");
    let stderr = collector.stderr();
    drop(collector);

    // Nothing lost, nothing twice.
    let all = received(&rsyslog, "kura-all:");
    let stored = stored_lines(&data, 0);
    for (line, n) in &all {
        assert_eq!(*n, 1, "sent twice: {line}");
        assert!(stored.contains(line), "not a stored event: {line}");
    }
    // The stall was waited out, not sent again.
    let waited = stderr
        .lines()
        .any(|l| l.contains("forward=all") && l.contains("did not close") && l.contains("nothing was lost"));
    assert!(waited, "no stall seen by the forwarder: {stderr}");
    // The small backlog: what it dropped while the receiver was down is
    // told in one warning (one per outage: the stall may drop too), and
    // nothing it sent came twice.
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("small") && l.contains("were dropped")).collect();
    assert!((1..=2).contains(&warnings.len()), "one warning per outage: {stderr}");
    let dropped: usize = warnings[0]
        .split("dropped=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {}", warnings[0]));
    // Each container gave create, start, die (3 events): 9, of which 3 fit.
    assert!(dropped >= 9 - 3, "{}", warnings[0]);
    assert!(received(&rsyslog, "kura-small:").values().all(|n| *n == 1));
}
