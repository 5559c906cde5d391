//! `kura` against a store filled by a real collector sampling the real
//! dockerd at a short interval: CPU of a limited container, processes,
//! network bytes, memory against a limit, counts, status, staleness.

use std::process::{Command, Output};
use std::time::Duration;

use kura_store::sample::Field;
use testkit::docker::{docker_ok, ContainerSpec};
use testkit::process::workspace_bin;

use crate::collector::{config, reader, series_of, sweep_once, wait_sweeps, DataDir, Running};
use crate::foundation::docker_available;

fn local() -> String {
    format!("local=unix://{}", testkit::docker::SOCKET)
}

/// Runs `kura ARGS --data DIR` and returns its output.
pub fn kura(data: &DataDir, args: &[&str]) -> Output {
    crate::collector::unless_stale_while_running(data.path(), || {
        let output = Command::new(workspace_bin("kura")).args(args).arg("--data").arg(data.path()).output();
        output.unwrap_or_else(|e| panic!("kura {}: {e}", args.join(" ")))
    })
}

/// The `key,value` lines of a successful run, parsed back with the csv crate.
pub fn lines(data: &DataDir, args: &[&str]) -> Vec<(String, f64)> {
    let output = kura(data, args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "kura {} failed: {stderr}", args.join(" "));
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(output.stdout.as_slice());
    reader
        .records()
        .map(|record| {
            let record = record.unwrap_or_else(|e| panic!("not a key,value line: {e}"));
            let value = record.get(1).and_then(|v| v.parse().ok());
            (record.get(0).unwrap_or_default().to_owned(), value.unwrap_or_else(|| panic!("bad value in {record:?}")))
        })
        .collect()
}

/// The value of `key` among `lines`; panics naming the lines when absent.
pub fn value(lines: &[(String, f64)], key: &str) -> f64 {
    let found = lines.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
    found.unwrap_or_else(|| panic!("no {key} in {lines:?}"))
}

/// A collector at 1 s (top included) for `seconds`, then stopped.
async fn collect_for(data: &DataDir, seconds: u64) {
    let collector = Running::start(config(data, &[&local()], |f| {
        f.interval = Some("1s".into());
        f.top_interval = Some("1s".into());
    }));
    wait_sweeps(data.path(), "local", 1).await;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_limited_to_half_a_cpu_reads_about_50_on_the_core_scale() {
    if !docker_available() {
        return;
    }
    let burn = ContainerSpec::new("q-burn").flags(["--cpus", "0.5"]).shell("while :; do :; done").start();
    let data = DataDir::new();
    // The collector must run while kura reads (the store would be stale after).
    let collector = Running::start(config(&data, &[&local()], |f| f.interval = Some("1s".into())));
    wait_sweeps(data.path(), "local", 7).await;
    let core = lines(&data, &["cpu", "-n", burn.name(), "--scale", "core", "--window", "5s"]);
    let host = lines(&data, &["cpu", "-n", burn.name(), "--window", "5s"]);
    let per_core = lines(&data, &["cpu", "-n", burn.name(), "--core", "--window", "5s"]);
    collector.stop().await;

    let key = format!("cpu_usage:{}", burn.name());
    let on_core = value(&core, &key);
    assert!((30.0..=65.0).contains(&on_core), "--cpus 0.5 read {on_core} on the core scale");
    let cpus: f64 = docker_ok(&["info", "--format", "{{.NCPU}}"]).parse().unwrap_or(1.0);
    let on_host = value(&host, &key);
    assert!((on_host - on_core / cpus).abs() < 5.0, "host scale {on_host} vs core scale {on_core} / {cpus}");
    let cores: f64 = per_core.iter().filter(|(k, _)| k.starts_with("cpu_usage#")).map(|(_, v)| v).sum();
    assert!((cores - on_core).abs() < 10.0, "per-core sum {cores} vs {on_core}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_memory_and_counts_read_from_the_store() {
    if !docker_available() {
        return;
    }
    let mark = format!("q-mix-{}", std::process::id());
    let procs = ContainerSpec::new(&mark)
        .label("kura.q", &mark)
        .shell("sleep 1001 & sleep 1002 & sleep 1003 & sleep 1004 & wait")
        .start();
    let filler = ContainerSpec::new(&mark)
        .label("kura.q", &mark)
        .flags(["--memory", "64m", "--tmpfs", "/fill"])
        .shell("dd if=/dev/zero of=/fill/x bs=1M count=32 2>/dev/null; sleep 3600")
        .start();
    let stopped = ContainerSpec::new(&mark).label("kura.q", &mark).shell("exit 0").start();
    stopped.wait_state("exited", Duration::from_secs(20));
    let data = DataDir::new();
    let collector = Running::start(config(&data, &[&local()], |f| {
        f.interval = Some("1s".into());
        f.top_interval = Some("1s".into());
    }));
    wait_sweeps(data.path(), "local", 4).await;
    let sleeps = lines(&data, &["proc", "-n", procs.name(), "--prog", "^sleep"]);
    let memory = lines(&data, &["mem", "--limit", "-n", filler.name()]);
    let counts = lines(&data, &["count", "-n", &format!("kura-test-{mark}*")]);
    let detail = lines(&data, &["mem", "--detail", "-n", filler.name()]);
    collector.stop().await;

    assert_eq!(value(&sleeps, &format!("^sleep:{}", procs.name())), 4.0);
    let filled = value(&memory, &format!("mem_usage:{}", filler.name()));
    assert!((40.0..=75.0).contains(&filled), "32 MiB of tmpfs in a 64 MiB container read {filled} %");
    let docker_count = |state: &str| {
        let filter = ["ps", "-aq", "--filter", &format!("label=kura.q={mark}"), "--filter", &format!("status={state}")];
        docker_ok(&filter).lines().count()
    };
    for state in ["running", "exited", "paused", "restarting", "created", "dead"] {
        assert_eq!(value(&counts, state), docker_count(state) as f64, "{state}");
    }
    assert!(value(&detail, "total_cache") > 0.0 || value(&detail, "file") > 0.0);
}

/// Waits until `ready` holds (see [`crate::foundation::poll`]).
async fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    crate::foundation::poll(what, timeout, || ready().then_some(())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proc_at_a_past_time_shows_the_process_list_of_then() {
    if !docker_available() {
        return;
    }
    let sleeper = ContainerSpec::new("q-procs").shell("sleep 2001 & wait").start();
    let data = DataDir::new();
    let collector = Running::start(config(&data, &[&local()], |f| {
        f.interval = Some("1s".into());
        f.top_interval = Some("1s".into());
    }));
    let key = format!("^sleep:{}", sleeper.name());
    let sleeps = |at: Option<&str>| {
        let mut args = vec!["proc", "-n", sleeper.name(), "--prog", "^sleep"];
        args.extend(at.map(|at| ["--at", at]).into_iter().flatten());
        let output = kura(&data, &args);
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    wait_for("one sleep in the newest process list", Duration::from_secs(30), || sleeps(None) == format!("{key},1"))
        .await;
    let before = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    docker_ok(&["exec", "-d", sleeper.name(), "sleep", "2002"]);
    wait_for("two sleeps in the newest process list", Duration::from_secs(30), || sleeps(None) == format!("{key},2"))
        .await;
    let after = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (then, now) = (sleeps(Some(&before)), sleeps(Some(&after)));
    let detail = lines(&data, &["mem", "--detail", "-n", sleeper.name(), "--at", &before]);
    collector.stop().await;

    assert_eq!(then, format!("{key},1"), "as of {before}, before the second sleep");
    assert_eq!(now, format!("{key},2"), "as of {after}");
    assert!(!detail.is_empty(), "memory statistics as of {before}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_bytes_moved_by_wget_show_up_within_ten_percent() {
    if !docker_available() {
        return;
    }
    const SIZE: u64 = 4 << 20;
    let server = ContainerSpec::new("q-httpd")
        .shell(&format!(
            "dd if=/dev/zero of=/var/www/blob bs=1024 count={} 2>/dev/null; httpd -f -p 80 -h /var/www",
            SIZE / 1024
        ))
        .start();
    let ip = server.ip();
    let data = DataDir::new();
    let collector = Running::start(config(&data, &[&local()], |f| f.interval = Some("1s".into())));
    let client = ContainerSpec::new("q-wget")
        .shell(&format!("sleep 3; wget -q -O /dev/null http://{ip}/blob; sleep 3600"))
        .start();
    // Until the download shows in the stored counters (it starts after 3 s).
    let received = |data: &DataDir| -> u64 {
        let Ok(store) = kura_store::Reader::open(data.path()) else { return 0 };
        let Some(series) =
            store.series("local").ok().and_then(|all| all.into_iter().find(|s| s.container.id == client.id()))
        else {
            return 0;
        };
        let samples = store.samples(series.series, 0, i64::MAX).unwrap_or_default();
        let rx = samples.column(Field::NetRxBytes);
        let (first, last) = (rx.iter().flatten().next().copied(), rx.iter().flatten().last().copied());
        last.zip(first).map(|(l, f)| l.saturating_sub(f)).unwrap_or(0)
    };
    let downloaded = testkit::process::wait_until(Duration::from_secs(60), || received(&data) >= SIZE * 9 / 10);
    assert!(downloaded, "the download never showed: {} bytes", received(&data));
    let live = lines(&data, &["net", "-n", client.name(), "--rx", "--bytes", "--window", "30s"]);
    collector.stop().await;
    assert!(value(&live, &format!("nw_rxkb:{}", client.name())) > 0.0);

    let store = reader(&data);
    let series = series_of(&store, "local", client.id());
    let samples = store.samples(series.series, 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    let rx = samples.column(Field::NetRxBytes);
    let (first, last) = (rx.iter().flatten().next().copied(), rx.iter().flatten().last().copied());
    let moved = last.zip(first).map(|(l, f)| l - f).unwrap_or(0);
    let error = (moved as f64 - SIZE as f64).abs() / SIZE as f64;
    assert!(error < 0.10, "moved {moved} bytes for a {SIZE}-byte download");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_1_for_an_unreachable_host_and_a_stale_store_prints_nothing() {
    if !docker_available() {
        return;
    }
    let data = DataDir::new();
    let hosts = [local(), "far=tcp://127.0.0.1:1".to_owned()];
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    sweep_once(config(&data, &hosts, |f| f.timeout = Some("1s".into()))).await;
    assert_eq!(lines(&data, &["status", "--host", "far"]), vec![("Status".to_owned(), 1.0)]);
    assert_eq!(lines(&data, &["status", "--host", "local"]), vec![("Status".to_owned(), 0.0)]);
    let ambiguous = kura(&data, &["status"]);
    assert_eq!(ambiguous.status.code(), Some(1));
    assert!(ambiguous.stdout.is_empty());
    assert!(String::from_utf8_lossy(&ambiguous.stderr).contains("--host"));

    // Sweeps 1 s apart, then silence: three intervals later the store is stale.
    let fresh = DataDir::new();
    collect_for(&fresh, 2).await;
    let went_stale =
        testkit::process::wait_until(Duration::from_secs(30), || kura(&fresh, &["status"]).status.code() == Some(1));
    assert!(went_stale, "the store never went stale");
    let stale = kura(&fresh, &["status"]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(stale.stdout.is_empty(), "a stale store prints nothing");
    assert!(String::from_utf8_lossy(&stale.stderr).contains("is kura-collector running?"));
}
