//! A store on a file system that fills up while the collector runs: the
//! refusal is reported once, sampling goes on into memory, and once space
//! returns the store is reopened and every sweep taken meanwhile is written.

use std::time::Duration;

use kura_store::Reader;
use testkit::docker::ContainerSpec;
use testkit::process::wait_until;
use testkit::tmpfs::Tmpfs;

use crate::collector::{wait_sweeps, Process};
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
    // sled writes into its current log segment (512 KiB) until it needs a
    // new one, and only then meets the full disk: several containers with
    // their processes read every sweep get there within seconds, whatever
    // else runs on the daemon.
    let _busy: Vec<_> = (0..6).map(|_| ContainerSpec::new("diskfull").start()).collect();
    let data = tmpfs.path().join("data");
    let mut collector = Process::spawn(&data, &["--log", "debug", "--top-interval", "500ms"]);
    wait_sweeps(&data, "local", 3).await;

    let full_from = now_ms();
    let filler = tmpfs.fill("filler").unwrap_or_else(|e| panic!("filling the tmpfs: {e}"));
    assert!(filler > 0, "the tmpfs had no room left before the filler");
    let refused = wait_until(Duration::from_secs(60), || collector.stderr().contains("the store refused a write"));
    assert!(refused, "no refusal reported with the disk full; stderr:\n{}", collector.stderr());
    // Sampling goes on while the disk is full: three more sweeps taken.
    let swept = |stderr: &str| stderr.lines().filter(|l| l.contains(" sweep host=")).count();
    let at_refusal = swept(&collector.stderr());
    let more = wait_until(Duration::from_secs(30), || swept(&collector.stderr()) >= at_refusal + 3);
    assert!(more, "sampling stopped with the disk full; stderr:\n{}", collector.stderr());
    assert!(matches!(collector.child.try_wait(), Ok(None)), "the collector stopped: {}", collector.stderr());
    std::fs::remove_file(tmpfs.path().join("filler")).unwrap_or_else(|e| panic!("removing the filler: {e}"));
    let freed_at = now_ms();
    let resumed = wait_until(Duration::from_secs(60), || collector.stderr().contains("the store accepts writes again"));
    assert!(resumed, "writes did not resume after space returned; stderr:\n{}", collector.stderr());

    let status = collector.signal_and_wait("TERM");
    let stderr = collector.stderr();
    assert_eq!(status, Some(0), "stderr:\n{stderr}");
    assert_eq!(stderr.matches("the store refused a write").count(), 1, "reported once, loudly:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let reader = Reader::open(&data).unwrap_or_else(|e| panic!("reopening the store: {e}"));
    assert!(matches!(reader, Reader::Direct(_)));
    let sweeps = reader.sweeps("local", 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    // Every sweep the collector took, those kept in memory while the disk
    // was full included, is stored: as many as its writer reports written,
    // none dropped, after at least one reopen.
    let counter = |name: &str| collector.reported(name);
    assert_eq!(counter("dropped"), 0, "{stderr}");
    assert!(counter("reopened") >= 1, "{stderr}");
    assert_eq!(u64::try_from(sweeps.len()).ok(), Some(counter("written")), "{stderr}");
    let kept = sweeps.iter().filter(|s| s.time >= full_from && s.time <= freed_at).count();
    assert!(kept >= 1, "no sweep stored from the time the disk was full; stderr:\n{stderr}");
}

fn now_ms() -> i64 {
    kura_collector::daemon::now_millis()
}
