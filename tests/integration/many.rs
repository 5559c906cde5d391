//! 100 containers on this 2-core machine: the collector samples every one
//! of them in every sweep, and its file descriptors and memory stay
//! bounded: as many after the 30th sweep as after the 10th, within a fixed
//! bound. Counted in sweeps, never timed.

use std::process::{Command, Stdio};
use std::time::Duration;

use kura_store::Reader;
use testkit::docker::{Container, ContainerSpec};
use testkit::process::{stop, wait_until, workspace_bin};

use crate::collector::DataDir;
use crate::foundation::docker_available;

const CONTAINERS: usize = 100;

/// Runs `make` for `0..n` on a few threads at once (dockerd takes a
/// container a third of a second; one by one 100 take half a minute).
fn in_parallel<T: Send>(n: usize, make: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let chunks: Vec<Vec<usize>> = (0..8).map(|t| (0..n).filter(|i| i % 8 == t).collect()).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            chunks.iter().map(|chunk| scope.spawn(|| chunk.iter().map(|&i| make(i)).collect::<Vec<T>>())).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| panic!("a thread starting containers panicked")))
            .collect()
    })
}

/// Removes the containers a few at a time.
fn remove_in_parallel(containers: Vec<Container>) {
    let mut chunks: Vec<Vec<Container>> = (0..8).map(|_| Vec::new()).collect();
    for (i, container) in containers.into_iter().enumerate() {
        chunks[i % 8].push(container);
    }
    std::thread::scope(|scope| {
        for chunk in chunks {
            scope.spawn(move || drop(chunk));
        }
    });
}

/// Open descriptors and resident memory (KiB) of process `pid`.
fn usage(pid: u32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|dir| dir.count()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (fds, rss)
}

#[test]
fn a_hundred_containers_are_all_sampled_with_descriptors_and_memory_bounded() {
    if !docker_available() {
        return;
    }
    let mark = format!("many-{}", std::process::id());
    let containers: Vec<Container> = in_parallel(CONTAINERS, |_| {
        ContainerSpec::new(&mark).label("kura.many", &mark).flags(["--network", "none"]).start()
    });
    let data = DataDir::new();
    let stderr = data.path().with_extension("stderr");
    let mut collector = Command::new(workspace_bin("kura-collector"))
        .arg("--data")
        .arg(data.path())
        .args(["--docker", &format!("local=unix://{}", testkit::docker::SOCKET)])
        .args(["--interval", "1s", "--top-interval", "2s", "--size-interval", "5s"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let pid = collector.id();
    let ids: Vec<&str> = containers.iter().map(Container::id).collect();
    let sweeps =
        || Reader::open(data.path()).and_then(|r| r.sweeps("local", 0, i64::MAX)).map(|s| s.len()).unwrap_or(0);
    let (mut peak_fds, mut peak_rss) = (0, 0);
    let mut watch = |target: usize| {
        let reached = wait_until(Duration::from_secs(900), || {
            let (fds, rss) = usage(pid);
            (peak_fds, peak_rss) = (peak_fds.max(fds), peak_rss.max(rss));
            sweeps() >= target
        });
        let log = testkit::process::read_lossy(&stderr);
        assert!(reached, "the collector did not reach {target} sweeps of {CONTAINERS} containers; stderr:\n{log}");
        (peak_fds, peak_rss)
    };
    let (fds_10, rss_10) = watch(10);
    let (fds_30, rss_30) = watch(30);
    stop(&mut collector);
    let log = testkit::process::read_lossy(&stderr);
    let _ = std::fs::remove_file(&stderr);

    // Every container is in every sweep, and sampled with its counters in
    // most of them (a stats request the loaded daemon answers after the
    // timeout costs that container that sweep).
    let store = Reader::open(data.path()).unwrap();
    let series = store.series("local").unwrap();
    let mine: Vec<_> = series.iter().filter(|s| ids.contains(&s.container.id.as_str())).collect();
    assert_eq!(mine.len(), CONTAINERS);
    let stored = store.sweeps("local", 0, i64::MAX).unwrap().len();
    for info in &mine {
        let samples = store.samples(info.series, 0, i64::MAX).unwrap();
        assert_eq!(samples.len(), stored, "{} is missing from sweeps", info.container.name);
        let counted = (0..samples.len()).filter(|&row| samples.row(row).is_some_and(|r| r.has_counters())).count();
        assert!(2 * counted >= stored, "{} has counters in {counted} of {stored} sweeps", info.container.name);
    }
    drop(store);
    remove_in_parallel(containers);

    eprintln!(
        "{CONTAINERS} containers: at most {fds_10} descriptors and {rss_10} KiB resident up to 10 sweeps, {fds_30} and {rss_30} KiB up to 30"
    );
    assert!(!log.contains("panicked"), "{log}");
    // Three requests in flight per container at most (stats, inspect and
    // top: each a connection, under permits that outnumber them), plus the
    // store and the runtime.
    let fd_bound = 3 * CONTAINERS + 64;
    assert!(fds_30 <= fd_bound, "{fds_30} descriptors open at most (bound {fd_bound})");
    assert!(fds_30 <= fds_10 + 16, "descriptors grew from {fds_10} (10 sweeps) to {fds_30} (30 sweeps)");
    assert!(rss_30 <= 128 * 1024, "{rss_30} KiB resident at most (bound 128 MiB, a debug build)");
    assert!(rss_30 <= rss_10 + rss_10 / 4, "memory grew from {rss_10} KiB (10 sweeps) to {rss_30} KiB (30 sweeps)");
}
