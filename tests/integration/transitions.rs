//! Transitions, restarts and OOM kills from a real daemon's history, and
//! the feeds to a real rsyslog (its own parse of each message is what is
//! compared): a scripted lifecycle, events sent exactly once with a cursor,
//! 100 messages over TCP, the receiver's time zone.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use kura_query::cursor::CursorFile;
use kura_query::export::syslog::target::{Sender, Target};
use kura_query::export::syslog::{Message, Severity, SyslogFormat};
use kura_query::feed::{self, Advance, Entry};
use kura_query::transition::{self, Phase, Source, Start, Stop, Transition, NS_PER_MS};
use kura_store::sample::State;
use kura_store::{EventRecord, Reader};
use testkit::docker::{docker_ok, ContainerSpec, SOCKET};
use testkit::process::workspace_bin;
use testkit::rsyslog::{Record, Rsyslog};

use crate::collector::{config, wait_sweeps, DataDir, Running};
use crate::foundation::docker_available;

const DEADLINE: Duration = Duration::from_secs(60);

fn local() -> String {
    format!("local=unix://{SOCKET}")
}

fn receiver(zone: Option<&str>) -> Option<Rsyslog> {
    let started = match zone {
        Some(zone) => Rsyslog::start_in_zone(zone),
        None => Rsyslog::start(),
    };
    match started {
        Ok(rsyslog) => Some(rsyslog),
        Err(reason) => {
            testkit::peer_unavailable("rsyslogd", &reason);
            None
        }
    }
}

/// Runs `kura` with `args` and `--data`, in the time zone `tz`.
fn kura(data: &Path, tz: &str, args: &[&str]) -> Output {
    crate::collector::unless_stale_while_running(data, || {
        let output = Command::new(workspace_bin("kura")).args(args).arg("--data").arg(data).env("TZ", tz).output();
        output.unwrap_or_else(|e| panic!("kura {args:?}: {e}"))
    })
}

fn stdout_ok(data: &Path, args: &[&str]) -> String {
    let output = kura(data, "UTC", args);
    assert!(output.status.success(), "kura {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Polls `found` until it gives a value; panics naming `what` after [`DEADLINE`].
async fn wait_for<T>(what: &str, found: impl FnMut() -> Option<T>) -> T {
    crate::foundation::poll(what, DEADLINE, found).await
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_millis() * NS_PER_MS
}

/// The transitions of container `id` in the last 10 minutes.
fn history_of(data: &Path, id: &str) -> Vec<Transition> {
    let Ok(reader) = Reader::open(data) else { return Vec::new() };
    let now = now_ns();
    let all = transition::history(&reader, "local", now - 600 * 1_000_000_000, now).unwrap_or_default();
    all.into_iter().filter(|t| t.id == id).collect()
}

/// The stored events of container `id`.
fn events_of(data: &Path, id: &str) -> Vec<EventRecord> {
    let Ok(reader) = Reader::open(data) else { return Vec::new() };
    let all = reader.events("local", 0, i64::MAX).unwrap_or_default();
    all.into_iter().filter(|e| e.event.container_id() == Some(id)).collect()
}

fn inspect(name: &str, format: &str) -> String {
    docker_ok(&["inspect", "--format", format, name])
}

fn phases(transitions: &[Transition]) -> Vec<String> {
    transitions.iter().map(|t| format!("{} -> {}", t.from, t.to)).collect()
}

/// The severity of the default map for a transition to `to`.
fn severity_of(to: Phase) -> u8 {
    match to {
        Phase::Is(State::Running) => 6,
        Phase::Is(State::Paused | State::Exited | State::Dead) => 3,
        Phase::Is(State::Restarting) => 4,
        _ => 5,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_lifecycle_gives_every_transition_with_its_cause_and_as_syslog() {
    if !docker_available() {
        return;
    }
    let Some(rsyslog) = receiver(None) else { return };
    let data = DataDir::new();
    let collector = Running::start(config(&data, &[&local()], |f| f.interval = Some("500ms".into())));
    wait_sweeps(data.path(), "local", 1).await;

    // One container through every step a person takes; each step waits for
    // the daemon's state, so no step races the one before.
    let life = ContainerSpec::new("life").create();
    let wait = Duration::from_secs(30);
    life.docker("start");
    life.wait_state("running", wait);
    life.docker("pause");
    life.wait_state("paused", wait);
    life.docker("unpause");
    life.wait_state("running", wait);
    docker_ok(&["stop", "-t", "1", life.name()]);
    life.wait_state("exited", wait);
    life.docker("start");
    life.wait_state("running", wait);
    let renamed = format!("{}-renamed", life.name());
    docker_ok(&["rename", life.name(), &renamed]);
    docker_ok(&["kill", life.id()]);
    let killed = || inspect(life.id(), "{{.State.Status}}") == "exited";
    wait_for("the killed container to exit", || killed().then_some(())).await;
    // A sweep sees it exited before it goes: else `kill` `die` `destroy`
    // is what `docker rm -f` gives, and reads as that.
    wait_for("a sweep of the killed container", || {
        let reader = Reader::open(data.path()).ok()?;
        let series = reader.series("local").ok()?.into_iter().find(|s| s.container.id == life.id())?;
        let details = reader.details_at(series.series, i64::MAX).ok()??;
        (details.value.state == Some(State::Exited) && details.value.exit_code == 137).then_some(())
    })
    .await;
    docker_ok(&["rm", "-f", life.id()]);

    // OOM kills, restarted by policy twice, then left exited.
    let oom = ContainerSpec::new("oom")
        .flags(["--memory", "8m", "--memory-swap", "8m", "--restart", "on-failure:2"])
        .shell("x=a; while :; do x=$x$x$x$x; done")
        .start();
    let oom_done = || inspect(oom.name(), "{{.State.Status}} {{.RestartCount}}") == "exited 2";
    wait_for("the OOM container to exit after 2 restarts", || oom_done().then_some(())).await;
    // A restart loop by policy.
    let flappy = ContainerSpec::new("flap").flags(["--restart", "always"]).shell("exit 1").start();
    let restarted = || inspect(flappy.name(), "{{.RestartCount}}").parse::<u32>().is_ok_and(|n| n >= 3);
    wait_for("the flapping container to restart 3 times", || restarted().then_some(())).await;
    // Its restart policy is what tells a restart by it from a start by
    // hand after an exit: the container flaps faster than a loaded machine
    // sweeps, so wait until a sweep has inspected it.
    let policy_stored = || {
        let reader = Reader::open(data.path()).ok()?;
        let series = reader.series("local").ok()?.into_iter().find(|s| s.container.id == flappy.id())?;
        let details = reader.details_at(series.series, i64::MAX).ok()??;
        (details.value.restart_policy.as_deref() == Some("always")).then_some(())
    };
    wait_for("a sweep to store the flapping container's restart policy", policy_stored).await;
    flappy.remove();

    let settled = |id: &str| {
        let t = history_of(data.path(), id);
        t.last().is_some_and(|t| t.to == Phase::Removed).then_some(t)
    };
    let life_t = wait_for("the lifecycle container's removal in the store", || settled(life.id())).await;
    let flappy_t = wait_for("the flapping container's removal in the store", || settled(flappy.id())).await;
    let oom_t = wait_for("the OOM container's last exit in the store", || {
        let t = history_of(data.path(), oom.id());
        let exits = t.iter().filter(|t| t.from == Phase::Is(State::Running)).count();
        (exits == 3).then_some(t)
    })
    .await;

    assert_eq!(
        phases(&life_t),
        [
            "none -> created",
            "created -> running",
            "running -> paused",
            "paused -> running",
            "running -> exited",
            "exited -> running",
            "running -> running",
            "running -> exited",
            "exited -> removed"
        ],
        "{life_t:#?}"
    );
    assert!(life_t.iter().all(|t| t.source == Source::Event), "{life_t:#?}");
    // sleep as pid 1 ignores SIGTERM: docker stop kills it after 1 s.
    let stop = &life_t[4];
    assert_eq!((stop.exit_code, stop.signal, stop.stopped), (Some(137), Some(9), Some(Stop::Stop)));
    assert_eq!(life_t[1].started, Some(Start::First));
    assert_eq!(life_t[5].started, Some(Start::Hand));
    assert_eq!(life_t[6].renamed_from.as_deref(), Some(life.name()));
    assert_eq!(life_t[6].name, renamed);
    let kill = &life_t[7];
    assert_eq!(
        (kill.exit_code, kill.signal, kill.stopped, kill.name.as_str()),
        (Some(137), Some(9), Some(Stop::Kill), renamed.as_str())
    );

    // Every exit of the memory hog is 137; OOM as the daemon said (its oom
    // events; inspect's flag for the last exit, which dockerd may miss).
    let oom_events = events_of(data.path(), oom.id());
    let daemon_flag = inspect(oom.name(), "{{.State.OOMKilled}}") == "true";
    let exits: Vec<&Transition> = oom_t.iter().filter(|t| t.from == Phase::Is(State::Running)).collect();
    let mut expected_ooms = 0;
    for (n, exit) in exits.iter().enumerate() {
        assert_eq!(exit.exit_code, Some(137), "{exit:?}");
        let run_start = oom_t.iter().rev().find(|t| t.to == Phase::Is(State::Running) && t.time_ns < exit.time_ns);
        let told = oom_events.iter().any(|e| {
            e.event.action() == Some("oom")
                && run_start.is_none_or(|s| e.time_ns > s.time_ns)
                && e.time_ns <= exit.time_ns
        });
        let last_flagged = n == exits.len() - 1 && daemon_flag;
        assert_eq!(exit.oom_killed, told || last_flagged, "exit {n}: {exit:?}");
        expected_ooms += usize::from(told || last_flagged);
    }
    let oom_tally = &transition::tally(&oom_t)[oom.id()];
    assert_eq!(oom_tally.restarts_by_policy, 2);
    assert_eq!(usize::try_from(oom_tally.oom_kills).unwrap(), expected_ooms);
    assert_eq!(exits[2].to, Phase::Is(State::Exited), "on-failure:2 gives up after two restarts");

    // Restarts of the loop: one per start the daemon reported after the first.
    let starts = events_of(data.path(), flappy.id()).iter().filter(|e| e.event.action() == Some("start")).count();
    let flappy_tally = &transition::tally(&flappy_t)[flappy.id()];
    assert_eq!(usize::try_from(flappy_tally.restarts_by_policy).unwrap(), starts - 1, "{flappy_t:#?}");
    assert!(flappy_t
        .iter()
        .filter(|t| t.to == Phase::Is(State::Running))
        .skip(1)
        .all(|t| t.started == Some(Start::Policy)));

    // The checks Hinemos reads.
    let name = oom.name();
    assert_eq!(stdout_ok(data.path(), &["restarts", "-n", name, "--window", "10m"]), format!("restarts:{name},2\n"));
    assert_eq!(
        stdout_ok(data.path(), &["oom", "-n", name, "--window", "10m"]),
        format!("oom_kills:{name},{expected_ooms}\n")
    );

    // The CLI prints what the library derives.
    let id12 = &life.id()[..12];
    let json = stdout_ok(data.path(), &["transitions", "--since", "10m", "-c", id12, "--format", "json"]);
    let printed: Vec<Transition> = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(printed, life_t);
    let text = stdout_ok(data.path(), &["transitions", "--since", "10m", "-c", id12]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), life_t.len());

    // As syslog: HOSTNAME the id, TAG kura, severity by the state reached,
    // the message the line; as rsyslog parsed them.
    let udp = format!("udp://127.0.0.1:{}", rsyslog.udp_port());
    let sent = kura(data.path(), "UTC", &["transitions", "--since", "10m", "-c", id12, "--syslog", &udp]);
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    assert!(sent.stdout.is_empty(), "nothing on stdout when sending");
    let records = wait_for("9 transitions in rsyslog", || {
        let ours: Vec<Record> = rsyslog.records().into_iter().filter(|r| r.hostname == id12).collect();
        (ours.len() == life_t.len()).then_some(ours)
    })
    .await;
    for ((record, line), t) in records.iter().zip(&lines).zip(&life_t) {
        assert_eq!(record.tag, "kura:");
        assert_eq!(record.pri, 8 + severity_of(t.to), "{line}");
        assert_eq!(record.msg, format!(" {line}"));
    }

    // States: the 2015 line, and as syslog `<id12> <state>` from the container's node.
    let oom12 = &oom.id()[..12];
    let states = stdout_ok(data.path(), &["states", "-n", name]);
    assert!(states.ends_with(&format!(" {oom12} exited\n")), "{states}");
    let sent = kura(data.path(), "UTC", &["states", "-n", name, "--syslog", &udp]);
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let state = wait_for("the state in rsyslog", || rsyslog.records().into_iter().find(|r| r.hostname == oom12)).await;
    assert_eq!((state.pri, state.msg.as_str(), state.tag.as_str()), (11, format!(" {oom12} exited").as_str(), "kura:"));
    collector.stop().await;
}

/// The messages rsyslog received, by text, counted.
fn received(rsyslog: &Rsyslog) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for record in rsyslog.records() {
        *counts.entry(record.msg.trim_start().to_owned()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_with_a_cursor_arrive_exactly_once_across_failures_overlaps_and_restarts() {
    if !docker_available() {
        return;
    }
    let Some(rsyslog) = receiver(None) else { return };
    let data = DataDir::new();
    let settings = |f: &mut kura_store::config::FlagConfig| f.interval = Some("500ms".into());
    let collector = Running::start(config(&data, &[&local()], settings));
    wait_sweeps(data.path(), "local", 1).await;
    let tcp = format!("tcp://127.0.0.1:{}", rsyslog.tcp_port());
    let first = ContainerSpec::new("once-a").shell("sleep 1").start();
    wait_for("the first container's die in the store", || {
        events_of(data.path(), first.id()).iter().any(|e| e.event.action() == Some("die")).then_some(())
    })
    .await;

    // The first send fails: nothing listens there. Nothing moves.
    let dead = format!("tcp://127.0.0.1:{}", testkit::net::free_port());
    let failed = kura(data.path(), "UTC", &["events", "--cursor", "hinemos", "--since", "10m", "--syslog", &dead]);
    assert_eq!(failed.status.code(), Some(1), "{}", String::from_utf8_lossy(&failed.stderr));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains(&dead) && stderr.contains("connect"), "{stderr}");

    let send = || kura(data.path(), "UTC", &["events", "--cursor", "hinemos", "--since", "10m", "--syslog", &tcp]);
    let run = send();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    // A second run while a first holds the cursor: it waits, then fails clearly.
    {
        let _held = CursorFile::lock(data.path(), "hinemos", Duration::ZERO).unwrap();
        let busy = kura(data.path(), "UTC", &["events", "--cursor", "hinemos", "--wait", "1s", "--syslog", &tcp]);
        assert_eq!(busy.status.code(), Some(3));
        assert!(String::from_utf8_lossy(&busy.stderr).contains("in use by another kura run"));
    }

    // New events, and the collector restarted, between the runs.
    collector.stop().await;
    let second = ContainerSpec::new("once-b").shell("sleep 1").start();
    let collector = Running::start(config(&data, &[&local()], settings));
    wait_for("the second container's die in the store", || {
        events_of(data.path(), second.id()).iter().any(|e| e.event.action() == Some("die")).then_some(())
    })
    .await;
    let run = send();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    collector.stop().await;

    // Every stored event of both containers arrived exactly once, and
    // nothing arrived twice.
    let reader = Reader::open(data.path()).unwrap();
    let stored: Vec<String> = reader
        .events("local", 0, i64::MAX)
        .unwrap()
        .iter()
        .filter(|e| [first.id(), second.id()].contains(&e.event.container_id().unwrap_or_default()))
        .map(|e| feed::events::line("local", e, kura_query::export::syslog::Zone::Local))
        .collect();
    assert!(stored.len() >= 6, "create, start, die of each: {stored:#?}");
    let counts = wait_for("every stored event in rsyslog", || {
        let counts = received(&rsyslog);
        stored.iter().all(|line| counts.contains_key(line)).then_some(counts)
    })
    .await;
    for line in &stored {
        assert_eq!(counts[line], 1, "{line}");
    }
    assert!(counts.values().all(|n| *n == 1), "something arrived twice: {counts:#?}");
}

#[test]
fn a_hundred_messages_over_tcp_arrive_as_a_hundred_records() {
    let Some(rsyslog) = receiver(None) else { return };
    let host = format!("kura-hundred-{}", std::process::id());
    let entries: Vec<Entry> = (0..100)
        .map(|n| {
            let text = format!("message {n} with a\nnewline, a tab\tand non-ASCII é");
            Entry {
                line: text.clone(),
                message: Message { time_ns: now_ns(), severity: Severity::Info, hostname: host.clone(), text },
                advance: Advance::State { host: host.clone(), id: n.to_string(), phase: None },
            }
        })
        .collect();
    let target = Target::Tcp { host: "127.0.0.1".into(), port: rsyslog.tcp_port() };
    let mut sender = Sender::new(target, Duration::from_secs(5));
    let mut committed = 0;
    let sent = feed::deliver(&mut sender, &SyslogFormat::default(), &entries, |chunk| -> Result<(), std::io::Error> {
        committed += chunk.len();
        Ok(())
    });
    assert_eq!(sent.unwrap(), 100);
    assert_eq!(committed, 100);
    let records = wait_for_records(&rsyslog, &host, 100);
    for (n, record) in records.iter().enumerate() {
        assert_eq!(record.input, "imtcp");
        assert_eq!(record.pri, 14);
        assert_eq!(record.msg, format!(" message {n} with a\\u{{a}}newline, a tab\\u{{9}}and non-ASCII é"));
    }
}

fn wait_for_records(rsyslog: &Rsyslog, hostname: &str, n: usize) -> Vec<Record> {
    let mut found = Vec::new();
    let arrived = testkit::process::wait_until(DEADLINE, || {
        found = rsyslog.records().into_iter().filter(|r| r.hostname == hostname).collect();
        found.len() >= n
    });
    assert!(arrived, "{} of {n} records from {hostname}; rsyslogd log:\n{}", found.len(), rsyslog.log());
    assert_eq!(found.len(), n, "no more than sent");
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timestamp_rsyslog_reads_is_the_events_time_in_its_own_zone() {
    if !docker_available() {
        return;
    }
    let Some(rsyslog) = receiver(Some("Asia/Tokyo")) else { return };
    let data = DataDir::new();
    let collector = Running::start(config(&data, &[&local()], |f| f.interval = Some("500ms".into())));
    wait_sweeps(data.path(), "local", 1).await;
    let container = ContainerSpec::new("zone").create();
    let created = wait_for("the create event in the store", || {
        events_of(data.path(), container.id()).into_iter().find(|e| e.event.action() == Some("create"))
    })
    .await;
    collector.stop().await;
    // TCP: the store holds every event of the shared daemon in these 10
    // minutes (hundreds, from the other tests), and a burst of datagrams
    // that size may overflow the receiver's socket buffer on a busy machine.
    let tcp = format!("tcp://127.0.0.1:{}", rsyslog.tcp_port());
    let id12 = &container.id()[..12];
    for stamp in ["rfc3164", "rfc3339"] {
        let tag = format!("kura-{stamp}");
        let args =
            ["events", "--since", "10m", "--syslog", &tcp, "--hostname", "id", "--tag", &tag, "--timestamp", stamp];
        let sent = kura(data.path(), "Asia/Tokyo", &args);
        assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
        let wanted = format!("{tag}:");
        let found = || {
            rsyslog.records().into_iter().find(|r| r.hostname == id12 && r.tag == wanted && r.msg.contains(" create "))
        };
        let arrived = testkit::process::wait_until(DEADLINE, || found().is_some());
        let all = rsyslog.records();
        let ours: Vec<&Record> = all.iter().filter(|r| r.hostname == id12).collect();
        assert!(arrived, "{stamp}: no create of {id12} among {} records; its: {ours:#?}\n{}", all.len(), rsyslog.log());
        let record = found().unwrap();
        let read = chrono::DateTime::parse_from_rfc3339(&record.timestamp).unwrap();
        assert_eq!(read.offset().local_minus_utc(), 9 * 3600, "{}", record.timestamp);
        let precision = if stamp == "rfc3164" { 1_000_000_000 } else { 1_000 };
        let expected = created.time_ns / precision * precision;
        assert_eq!(read.timestamp_nanos_opt(), Some(expected), "{stamp}: {} for {}", record.timestamp, created.time_ns);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_with_changes_only_tell_each_change_once_and_the_removal() {
    if !docker_available() {
        return;
    }
    let data = DataDir::new();
    let collector = Running::start(config(&data, &[&local()], |f| f.interval = Some("500ms".into())));
    wait_sweeps(data.path(), "local", 1).await;
    let container = ContainerSpec::new("changes").start();
    let id12 = container.id()[..12].to_owned();
    let listed_as = |state: &str| {
        let output = kura(data.path(), "UTC", &["states"]);
        String::from_utf8_lossy(&output.stdout).lines().any(|l| l.ends_with(&format!(" {id12} {state}")))
    };
    let file = data.path().join("states.log");
    let file_arg = file.to_str().unwrap().to_owned();
    let pattern = format!("{}*", container.name());
    let run = || {
        let args = ["states", "-n", &pattern, "--changes-only", "--cursor", "states", "--file", &file_arg];
        let output = kura(data.path(), "UTC", &args);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(output.stdout.is_empty());
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(' ').skip(2).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    wait_for("the container listed running", || listed_as("running").then_some(())).await;
    assert_eq!(run(), [format!("{id12} running")]);
    assert_eq!(run(), [format!("{id12} running")], "no change, nothing new");
    docker_ok(&["kill", container.id()]);
    wait_for("the container listed exited", || listed_as("exited").then_some(())).await;
    assert_eq!(run(), [format!("{id12} running"), format!("{id12} exited")]);
    container.remove();
    wait_for("the container no longer listed", || {
        let output = kura(data.path(), "UTC", &["states"]);
        (!String::from_utf8_lossy(&output.stdout).contains(&id12)).then_some(())
    })
    .await;
    assert_eq!(run(), [format!("{id12} running"), format!("{id12} exited"), format!("{id12} removed")]);
    assert_eq!(run().len(), 3, "a removal is told once");
    collector.stop().await;
}
