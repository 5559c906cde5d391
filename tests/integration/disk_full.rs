//! A store on a file system that fills up while the collector runs: the
//! refusal is reported once, sampling goes on into memory, and once space
//! returns the store is reopened and every sweep taken meanwhile is written.

use std::process::Command;
use std::time::Duration;

use kura_collector::store::Reader;
use testkit::docker::ContainerSpec;
use testkit::process::wait_until;
use testkit::tmpfs::Tmpfs;

use crate::collector::{wait_sweeps, Process, INTERVAL_MS};
use crate::foundation::docker_available;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_once_and_the_sweeps_taken_meanwhile_are_written_when_space_returns() {
    if !docker_available() {
        return;
    }
    let tmpfs = match Tmpfs::mount(24) {
        Ok(tmpfs) => tmpfs,
        Err(reason) => return testkit::peer_unavailable("a tmpfs for the disk-full test (needs root)", &reason),
    };
    let _busy = ContainerSpec::new("diskfull").start();
    let data = tmpfs.path().join("data");
    let mut collector = Process::spawn(&data, &["--log", "info"]);
    wait_sweeps(&data, "local", 3).await;

    let full_from = now_ms();
    let filler = tmpfs.fill("filler").unwrap_or_else(|e| panic!("filling the tmpfs: {e}"));
    assert!(filler > 0, "the tmpfs had no room left before the filler");
    let refused = wait_until(Duration::from_secs(20), || collector.stderr().contains("the store refused a write"));
    assert!(refused, "no refusal reported with the disk full; stderr:\n{}", collector.stderr());
    // Sampling goes on while the disk is full: a few more intervals.
    std::thread::sleep(Duration::from_secs(3));
    assert!(matches!(collector.child.try_wait(), Ok(None)), "the collector stopped: {}", collector.stderr());
    std::fs::remove_file(tmpfs.path().join("filler")).unwrap_or_else(|e| panic!("removing the filler: {e}"));
    let freed_at = now_ms();
    let resumed = wait_until(Duration::from_secs(30), || collector.stderr().contains("the store accepts writes again"));
    assert!(resumed, "writes did not resume after space returned; stderr:\n{}", collector.stderr());

    let pid = collector.child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().map(|s| s.success());
    assert_eq!(sent.ok(), Some(true));
    let exited = wait_until(Duration::from_secs(15), || matches!(collector.child.try_wait(), Ok(Some(_))));
    assert!(exited, "the collector ignored SIGTERM");
    let stderr = collector.stderr();
    assert_eq!(collector.child.wait().ok().and_then(|s| s.code()), Some(0), "stderr:\n{stderr}");
    assert_eq!(stderr.matches("the store refused a write").count(), 1, "reported once, loudly:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let reader = Reader::open(&data).unwrap_or_else(|e| panic!("reopening the store: {e}"));
    assert!(matches!(reader, Reader::Direct(_)));
    let sweeps = reader.sweeps("local", 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    let during: Vec<i64> = sweeps.iter().map(|s| s.time).filter(|&t| t >= full_from && t <= freed_at).collect();
    // Every sweep taken while the disk was full is stored: about one per
    // interval over the whole time, and no hole longer than a few intervals.
    let times: Vec<i64> = sweeps.iter().map(|s| s.time).collect();
    // The sweep's own length (stats answer on dockerd's 1 s tick) sets the cadence.
    let mut gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let cadence = gaps.get(gaps.len() / 2).copied().unwrap_or(INTERVAL_MS).max(INTERVAL_MS);
    let expected = (freed_at - full_from) / cadence;
    assert!(
        i64::try_from(during.len()).unwrap_or(0) + 2 >= expected,
        "{} sweeps stored from the {} ms the disk was full (about {expected} taken, one per {cadence} ms); stderr:\n{stderr}",
        during.len(),
        freed_at - full_from
    );
    let widest = gaps.last().copied().unwrap_or(0);
    assert!(widest <= 3 * cadence, "a {widest} ms hole between stored sweeps (one per {cadence} ms)");
}

fn now_ms() -> i64 {
    kura_collector::daemon::now_millis()
}
