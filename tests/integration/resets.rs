//! Counters that start again, for real: a container restarted by the
//! daemon (its CPU counter drops to zero, `kura cpu` counts from there) and
//! an SNMP agent restarted between two readings (`kura cpu --with-host`
//! measures within the agent's new run, never across the restart, and
//! leaves out the all-zero readings net-snmp gives before its first poll).

use std::time::Duration;

use kura_store::payload::HostReading;
use kura_store::sample::Field;
use kura_store::{Reader, Timed};
use testkit::docker::{docker_ok, ContainerSpec};
use testkit::process::wait_until;

use crate::collector::{config, DataDir, Running};
use crate::foundation::docker_available;
use crate::query::{lines, value};

fn local() -> String {
    format!("local=unix://{}", testkit::docker::SOCKET)
}

/// The CPU counters of a container's stored samples, oldest first.
fn cpu_counters(data: &DataDir, id: &str) -> Vec<u64> {
    let Ok(store) = Reader::open(data.path()) else { return Vec::new() };
    let Some(series) = store.series("local").ok().and_then(|all| all.into_iter().find(|s| s.container.id == id)) else {
        return Vec::new();
    };
    let samples = store.samples(series.series, 0, i64::MAX).unwrap_or_default();
    samples.column(Field::CpuTotalNs).iter().flatten().copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_restarted_by_the_daemon_is_a_counter_reset_in_kura_cpu() {
    if !docker_available() {
        return;
    }
    let burn = ContainerSpec::new("reset").flags(["--network", "none"]).shell("while :; do :; done").start();
    let data = DataDir::new();
    let collector = Running::start(config(&data, &[&local()], |f| f.interval = Some("1s".into())));
    let sampled = wait_until(Duration::from_secs(60), || cpu_counters(&data, burn.id()).len() >= 3);
    assert!(sampled, "{} was not sampled three times", burn.name());
    docker_ok(&["restart", "-t", "0", burn.name()]);
    // Until the drop is stored, with two samples after it.
    let reset = wait_until(Duration::from_secs(60), || {
        let counters = cpu_counters(&data, burn.id());
        counters.windows(2).position(|w| w[1] < w[0]).is_some_and(|drop| counters.len() >= drop + 3)
    });
    assert!(reset, "no drop of the CPU counter stored after docker restart: {:?}", cpu_counters(&data, burn.id()));
    let cpu = lines(&data, &["cpu", "-n", burn.name(), "--scale", "core", "--window", "1m"]);
    collector.stop().await;

    let cpus: f64 = docker_ok(&["info", "--format", "{{.NCPU}}"]).parse().unwrap_or(1.0);
    let busy = value(&cpu, &format!("cpu_usage:{}", burn.name()));
    assert!(busy > 0.0 && busy <= 100.0 * cpus, "a busy loop across a restart read {busy} % of a core");
}

/// A reading's CPU counters as the agent sends them (Counter32).
struct Ticks {
    uptime: u64,
    busy: u64,
    total: u64,
}

fn ticks(reading: &HostReading) -> Option<Ticks> {
    let cpu = &reading.cpu;
    let busy = cpu.user? + cpu.nice? + cpu.system? + cpu.interrupt.unwrap_or(0) + cpu.soft_irq.unwrap_or(0);
    Some(Ticks { uptime: reading.sys_uptime?, busy, total: busy + cpu.idle? + cpu.wait.unwrap_or(0) })
}

fn rfc3339(ms: i64) -> String {
    let time = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_snmp_agent_restarted_inside_the_window_gives_a_figure_of_its_new_run_only() {
    if !docker_available() {
        return;
    }
    let mut agent = match testkit::snmpd::Snmpd::start() {
        Ok(agent) => agent,
        Err(reason) => return testkit::peer_unavailable("snmpd", &reason),
    };
    let idle = ContainerSpec::new("snmp-reset").flags(["--network", "none"]).start();
    let data = DataDir::new();
    let snmp = vec![format!("local={}", agent.addr())];
    let collector = Running::start(config(&data, &[&local()], move |f| {
        f.interval = Some("1s".into());
        f.snmp = snmp;
    }));
    let stored = || -> Vec<Timed<HostReading>> {
        Reader::open(data.path()).and_then(|r| r.snmp("local", 0, i64::MAX)).unwrap_or_default()
    };
    // net-snmp refreshes its CPU counters every 5 s: readings between
    // two refreshes repeat the same ticks. Distinct polled totals count.
    let polled = |readings: &[Timed<HostReading>]| {
        let mut totals: Vec<u64> =
            readings.iter().filter_map(|r| ticks(&r.value)).map(|t| t.total).filter(|t| *t > 0).collect();
        totals.dedup();
        totals.len()
    };
    assert!(wait_until(Duration::from_secs(60), || polled(&stored()) >= 2), "no SNMP CPU readings: {}", agent.log());
    // The first reading whose sysUpTime went back: the new run's first.
    let restart_of = |readings: &[Timed<HostReading>]| {
        (1..readings.len()).find(|&i| {
            let (a, b) = (ticks(&readings[i - 1].value), ticks(&readings[i].value));
            a.zip(b).is_some_and(|(a, b)| b.uptime < a.uptime)
        })
    };
    agent.start_again().unwrap_or_else(|e| panic!("restarting snmpd: {e}"));
    // Until the agent's new run has two polled, distinct readings (counted
    // from the restart: a sweep in flight may still store an old reading).
    let new_run_polled = || {
        let readings = stored();
        restart_of(&readings).is_some_and(|restart| polled(&readings[restart..]) >= 2)
    };
    let after = wait_until(Duration::from_secs(60), new_run_polled);
    assert!(after, "the restarted agent gave no two polled readings: {}", agent.log());
    collector.stop().await;

    let readings = stored();
    let restart =
        restart_of(&readings).unwrap_or_else(|| panic!("sysUpTime never went back in {} readings", readings.len()));
    // net-snmp answers zeros until its first poll of the CPU, a few seconds
    // after it starts: the first reading of the new run is one of those.
    let first = ticks(&readings[restart].value).unwrap_or_else(|| panic!("no CPU counters after the restart"));
    assert_eq!(first.total, 0, "the first reading after the restart was already polled");
    // The window starts exactly at that reading and ends at the newest.
    let start = readings[restart].time;
    let newest = readings.last().map(|r| r.time).unwrap_or_default();
    let polled_after: Vec<&Timed<HostReading>> =
        readings[restart..].iter().filter(|r| ticks(&r.value).is_some_and(|t| t.total > 0)).collect();
    let (a, b) = (ticks(&polled_after[0].value).unwrap(), ticks(&polled_after[polled_after.len() - 1].value).unwrap());
    let expected_busy = 100.0 * (b.busy - a.busy) as f64 / (b.total - a.total) as f64;
    let window = format!("{}ms", newest - start);
    let at = rfc3339(newest);
    let args = ["cpu", "--with-host", "-n", idle.name(), "--window", &window, "--at", &at];
    let output = crate::query::kura(&data, &args);
    let seen: Vec<(i64, Option<(u64, u64)>)> =
        readings.iter().map(|r| (r.time - start, ticks(&r.value).map(|t| (t.uptime, t.total)))).collect();
    assert!(
        output.status.success(),
        "{}; readings (ms from the window's start, uptime, total): {seen:?}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cpu = lines(&data, &args);

    let container = value(&cpu, &format!("cpu_usage:{}", idle.name()));
    let host = value(&cpu, "cpu_usage:host");
    let expected = (expected_busy - container).max(0.0);
    assert!(
        (host - expected).abs() <= 0.02,
        "cpu_usage:host read {host}; the agent's new run says {expected_busy:.2} busy, the container {container}"
    );
}
