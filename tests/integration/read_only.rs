//! A store on a file system that the kernel makes read-only while the
//! collector runs (an ext4 error on a loop device mounted
//! `errors=remount-ro`, as a failing disk does): EROFS is handled like a
//! full disk. The refusal is reported once, sampling goes on into memory,
//! reopening fails quietly while the file system stays read-only, and once
//! it is repaired and mounted again the store is reopened and every sweep
//! taken meanwhile is written; nothing acknowledged before is lost.

use std::time::Duration;

use kura_store::Reader;
use testkit::docker::ContainerSpec;
use testkit::ext4::Ext4;
use testkit::process::wait_until;

use crate::collector::{wait_sweeps, Process};
use crate::foundation::docker_available;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_system_turned_read_only_mid_run_is_survived_like_a_full_disk() {
    if !docker_available() {
        return;
    }
    let mut ext4 = match Ext4::mount(64) {
        Ok(ext4) => ext4,
        Err(reason) => {
            return testkit::peer_unavailable("an ext4 loop device (needs root, mkfs.ext4, losetup)", &reason)
        }
    };
    let _busy = ContainerSpec::new("readonly").flags(["--network", "none"]).start();
    // The data folder is on the ext4 file system; the collector's stderr
    // (beside the folder's path) stays writable on the root file system.
    let beside = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = beside.path().join("data");
    std::fs::create_dir(ext4.path().join("data")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(ext4.path().join("data"), &data).unwrap_or_else(|e| panic!("{e}"));
    let mut collector = Process::spawn(&data, &["--log", "info"]);
    wait_sweeps(&data, "local", 3).await;
    let acknowledged: Vec<i64> = Reader::open(&data)
        .and_then(|r| r.sweeps("local", 0, i64::MAX))
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|s| s.time)
        .collect();

    let failed_at = now_ms();
    ext4.fail().unwrap_or_else(|e| panic!("making the file system read-only: {e}"));
    let refused = wait_until(Duration::from_secs(20), || collector.stderr().contains("the store refused a write"));
    assert!(refused, "no refusal reported on a read-only file system; stderr:\n{}", collector.stderr());
    assert!(collector.stderr().contains("Read-only file system"), "{}", collector.stderr());
    // The writer's first reopen (5 s after the refusal) fails as well;
    // sweeps are taken into memory meanwhile.
    let retried = wait_until(Duration::from_secs(30), || collector.stderr().contains("reopening the store failed"));
    assert!(retried, "the store was not reopened while read-only; stderr:\n{}", collector.stderr());
    assert!(matches!(collector.child.try_wait(), Ok(None)), "the collector stopped: {}", collector.stderr());

    ext4.repair().unwrap_or_else(|e| panic!("repairing the file system: {e}"));
    let repaired_at = now_ms();
    let resumed = wait_until(Duration::from_secs(30), || collector.stderr().contains("the store accepts writes again"));
    assert!(resumed, "writes did not resume on the repaired file system; stderr:\n{}", collector.stderr());

    let status = collector.signal_and_wait("TERM");
    let stderr = collector.stderr();
    assert_eq!(status, Some(0), "stderr:\n{stderr}");
    assert_eq!(stderr.matches("the store refused a write").count(), 1, "reported once, loudly:\n{stderr}");
    assert_eq!(stderr.matches("reopening the store failed").count(), 1, "said once while it lasts:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let reader = Reader::open(&data).unwrap_or_else(|e| panic!("reopening the store: {e}"));
    let sweeps = reader.sweeps("local", 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    let times: Vec<i64> = sweeps.iter().map(|s| s.time).collect();
    let lost: Vec<&i64> = acknowledged.iter().filter(|t| !times.contains(t)).collect();
    assert!(
        lost.is_empty(),
        "sweeps acknowledged before the failure are gone: {lost:?} (acknowledged {acknowledged:?}, failed at {failed_at}, stored {times:?}); stderr:\n{stderr}"
    );
    let counter = |name: &str| collector.reported(name);
    assert_eq!(counter("dropped"), 0, "{stderr}");
    assert!(counter("reopened") >= 1, "{stderr}");
    assert_eq!(u64::try_from(sweeps.len()).ok(), Some(counter("written")), "{stderr}");
    let kept = times.iter().filter(|t| **t >= failed_at && **t <= repaired_at).count();
    assert!(kept >= 2, "{kept} sweeps stored from the time the file system was read-only; stderr:\n{stderr}");
}

fn now_ms() -> i64 {
    kura_collector::daemon::now_millis()
}
