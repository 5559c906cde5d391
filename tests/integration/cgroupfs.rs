//! The local source (`source = "cgroupfs"`) against the real dockerd: its
//! samples equal the API's stats document of the same container, a
//! container that vanishes before its read is gone, and a collector whose
//! cgroup root cannot be read says so once and reads the API.

use std::path::Path;
use std::time::{Duration, Instant};

use kura_collector::api::{self, ContainerInspect};
use kura_collector::stats::cgroup::{CgroupError, CgroupFs, LocalTarget, DEFAULT_ROOT};
use kura_collector::stats::parse_stats;
use kura_query::rate::mem_in_use;
use kura_store::sample::{Field, Sample, State};
use testkit::docker::{Container, ContainerSpec};
use testkit::process::wait_until;

use crate::collector::{DataDir, Process};
use crate::foundation::{docker_available, local_client};

/// The test bed's cgroup files and where `container`'s are.
async fn local(container: &Container) -> (CgroupFs, LocalTarget) {
    let fs = CgroupFs::probe(Path::new(DEFAULT_ROOT)).unwrap_or_else(|e| panic!("{e}"));
    let body = local_client().await.get(&format!("/containers/{}/json", container.id())).await.unwrap();
    let inspect: ContainerInspect = api::parse("container inspect", &body).unwrap();
    let mode = inspect.host_config.as_ref().and_then(|h| h.network_mode.clone());
    let target = fs.target(inspect.state.pid, mode.as_deref()).unwrap_or_else(|e| panic!("{e}"));
    (fs, target)
}

/// What a reading of one container shows: memory in use, processes, and
/// the network counters, which do not move between two reads of a quiet
/// container.
fn gauges(sample: &Sample) -> Vec<Option<u64>> {
    let in_use = sample.get(Field::MemUsage).map(|usage| mem_in_use(usage, sample.get(Field::MemInactiveFile)));
    let net = [Field::NetRxBytes, Field::NetRxPackets, Field::NetTxBytes, Field::NetTxPackets];
    [in_use, sample.get(Field::Pids)].into_iter().chain(net.iter().map(|f| sample.get(*f))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cgroupfs_samples_equal_the_api_stats_of_the_same_container() {
    if !docker_available() {
        return;
    }
    // CPU work and loopback traffic (which neither source counts as the
    // container's network).
    let container = ContainerSpec::new("cgroupfs-parity")
        .shell("while true; do ping -c 3 127.0.0.1 >/dev/null; i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; done")
        .start();
    let (fs, target) = local(&container).await;
    let client = local_client().await;
    let path = format!("/containers/{}/stats?stream=false&one-shot=true", container.id());
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        // The API's read lies between the two local reads: its counters
        // between theirs, its gauges equal to theirs when they agree.
        let before = fs.read(&target, 0, State::Running).unwrap_or_else(|e| panic!("{e}")).sample;
        let body = client.get(&path).await.unwrap();
        let api = parse_stats(&body, State::Running).unwrap().unwrap();
        let after = fs.read(&target, 0, State::Running).unwrap_or_else(|e| panic!("{e}")).sample;
        for field in [Field::CpuTotalNs, Field::CpuUserNs, Field::CpuSystemNs] {
            let (low, got, high) = (before.get(field), api.get(field), after.get(field));
            assert!(low.is_some() && low <= got && got <= high, "{}: {low:?} <= {got:?} <= {high:?}", field.name());
        }
        assert_eq!(api.get(Field::OnlineCpus), before.get(Field::OnlineCpus));
        assert_eq!(api.get(Field::MemLimit), before.get(Field::MemLimit));
        assert_eq!(api.percpu_ns.len(), before.percpu_ns.len());
        if gauges(&before) == gauges(&after) {
            assert_eq!(gauges(&api), gauges(&before), "memory in use, pids, rx/tx bytes and packets");
            assert!(api.get(Field::Pids) >= Some(1));
            assert!(before.get(Field::CpuTotalNs) > Some(0));
            return;
        }
        let (before, after) = (gauges(&before), gauges(&after));
        assert!(Instant::now() < deadline, "the gauges never held still between two reads: {before:?} then {after:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_removed_or_stopped_before_its_read_is_gone() {
    if !docker_available() {
        return;
    }
    let removed = ContainerSpec::new("cgroupfs-gone").start();
    let stopped = ContainerSpec::new("cgroupfs-stopped").start();
    let (fs, removed_target) = local(&removed).await;
    let (_, stopped_target) = local(&stopped).await;
    assert!(fs.read(&removed_target, 0, State::Running).is_ok());
    removed.remove();
    stopped.docker("kill");
    stopped.wait_state("exited", Duration::from_secs(30));
    for target in [&removed_target, &stopped_target] {
        match fs.read(target, 0, State::Running) {
            Err(CgroupError::Gone) => {}
            other => panic!("expected gone, got {other:?}"),
        }
    }
}

/// A collector on the test bed's dockerd every 500 ms with `source` and a
/// cgroup root, logging at debug.
fn collector(data: &DataDir, source: &str, root: &str) -> Process {
    let config = data.path().join("kura.toml");
    let text = format!(
        "[[host]]\nname = \"local\"\nendpoint = \"unix:///var/run/docker.sock\"\ninterval = \"500ms\"\nsource = \"{source}\"\ncgroup_root = \"{root}\"\n"
    );
    std::fs::write(&config, text).unwrap();
    let config = config.to_string_lossy().into_owned();
    Process::start(&data.path().join("store"), &[], &["--config", &config, "--log", "debug"])
}

/// The `sweep` debug lines (with their phases) so far.
fn sweeps(collector: &Process) -> Vec<String> {
    let stderr = collector.stderr();
    stderr
        .lines()
        .filter(|line| line.contains(" sweep host=") && line.contains(" phases="))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_collector_reading_cgroup_files_sends_no_stats_request() {
    if !docker_available() {
        return;
    }
    let _running = ContainerSpec::new("cgroupfs-sweep").start();
    let data = DataDir::new();
    let collector = collector(&data, "cgroupfs", DEFAULT_ROOT);
    let swept = wait_until(Duration::from_secs(60), || sweeps(&collector).len() >= 3);
    assert!(swept, "fewer than 3 sweeps; stderr:\n{}", collector.stderr());
    for line in sweeps(&collector) {
        assert!(line.contains(" stats - "), "a stats request: {line}");
        assert!(!line.contains(" cgroupfs - "), "no cgroup read: {line}");
    }
    assert!(collector.stderr().contains("counters from the cgroup files"), "{}", collector.stderr());
}

#[test]
fn an_unreadable_cgroup_root_falls_back_to_the_api_with_one_line() {
    if !docker_available() {
        return;
    }
    let _running = ContainerSpec::new("cgroupfs-fallback").start();
    let data = DataDir::new();
    let collector = collector(&data, "cgroupfs", "/nonexistent/kura-cgroup");
    let swept = wait_until(Duration::from_secs(60), || sweeps(&collector).len() >= 3);
    assert!(swept, "fewer than 3 sweeps; stderr:\n{}", collector.stderr());
    let stderr = collector.stderr();
    let said: Vec<&str> = stderr.lines().filter(|line| line.contains("counters from the API instead")).collect();
    assert_eq!(said.len(), 1, "one line, not one per sweep:\n{stderr}");
    assert!(said[0].contains("/nonexistent/kura-cgroup"), "{}", said[0]);
    for line in sweeps(&collector) {
        assert!(!line.contains(" stats - "), "no stats request: {line}");
    }
}
