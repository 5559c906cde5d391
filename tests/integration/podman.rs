//! Podman's Docker-compatible service as a second real daemon: a private
//! `podman system service` (testkit::podman), containers in every state
//! made with the podman CLI, the collector sampling it, and every `kura`
//! check answering from what it stored.

use std::time::Duration;

use kura_store::sample::Field;
use kura_store::Reader;
use testkit::podman::Podman;
use testkit::process::wait_until;

use crate::collector::{config, reader, series_of, wait_sweeps, DataDir, Running};
use crate::query::{kura, lines, value};

/// The private Podman service, or `None` (after
/// [`testkit::peer_unavailable`]) when podman or its test image is missing.
pub fn podman_available() -> Option<Podman> {
    match Podman::start() {
        Ok(podman) => Some(podman),
        Err(reason) => {
            testkit::peer_unavailable("podman", &reason);
            None
        }
    }
}

/// What the httpd container serves and the wget container downloads.
const BLOB: u64 = 2 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_answers_against_podman() {
    let Some(podman) = podman_available() else {
        return;
    };
    let burn = podman.container("podchk-burn").shell("while :; do :; done").start();
    let server = podman
        .container("podchk-httpd")
        .shell(&format!(
            "dd if=/dev/zero of=/var/www/blob bs=1024 count={} 2>/dev/null; httpd -f -p 80 -h /var/www",
            BLOB / 1024
        ))
        .start();
    let filler = podman
        .container("podchk-fill")
        .flags(["--memory", "64m", "--tmpfs", "/fill"])
        .shell("dd if=/dev/zero of=/fill/x bs=1M count=32 2>/dev/null; sleep 3600")
        .start();
    let paused = podman.container("podchk-pause").start();
    paused.docker("pause");
    let exited = podman.container("podchk-exit").shell("exit 3").start();
    exited.wait_state("exited", Duration::from_secs(30));
    let _created = podman.container("podchk-created").create();

    let data = DataDir::new();
    let host = format!("pod={}", podman.endpoint());
    let collector = Running::start(config(&data, &[&host], |f| {
        f.interval = Some("1s".into());
        f.top_interval = Some("1s".into());
        f.size_interval = Some("1s".into());
    }));
    wait_sweeps(data.path(), "pod", 2).await;
    let ip = server.ip();
    let client =
        podman.container("podchk-wget").shell(&format!("wget -q -O /dev/null http://{ip}/blob && sleep 3600")).start();
    // Until the download shows in the store, then two sweeps more: every
    // window below has its newest samples after it.
    let downloaded = wait_until(Duration::from_secs(60), || {
        let Ok(store) = Reader::open(data.path()) else { return false };
        let Ok(all) = store.series("pod") else { return false };
        let Some(series) = all.iter().find(|s| s.container.id == client.id()) else { return false };
        let last = store.last_sample(series.series).ok().flatten();
        last.and_then(|s| s.get(Field::NetRxBytes)).is_some_and(|rx| rx >= BLOB)
    });
    assert!(downloaded, "the download of {BLOB} bytes never showed in the store; podman: {}", podman.log());
    let sweeps = reader(&data).sweeps("pod", 0, i64::MAX).map(|s| s.len()).unwrap_or(0);
    wait_sweeps(data.path(), "pod", sweeps + 2).await;

    let mine = "kura-test-podchk-*";
    let status = lines(&data, &["status"]);
    let count = lines(&data, &["count", "-n", mine]);
    let size = lines(&data, &["size"]);
    let cpu = |container: &testkit::docker::Container| {
        let key = format!("cpu_usage:{}", container.name());
        value(&lines(&data, &["cpu", "-n", container.name(), "--scale", "core", "--window", "5s"]), &key)
    };
    let (busy, idle) = (cpu(&burn), cpu(&filler));
    let mem = lines(&data, &["mem", "--limit", "-n", filler.name()]);
    let mem_host = lines(&data, &["mem", "-n", server.name()]);
    let disk = lines(&data, &["disk", "-n", server.name()]);
    let served = lines(&data, &["net", "--bytes", "--window", "10m", "-n", server.name()]);
    let procs = lines(&data, &["proc", "--prog", "httpd", "-n", server.name()]);
    let ps = kura(&data, &["ps", "--all"]);
    let packets = kura(&data, &["net", "--packets", "-n", server.name()]);
    let detail = kura(&data, &["mem", "--detail", "-n", filler.name()]);
    collector.stop().await;

    assert_eq!(status, [("Status".to_owned(), 0.0)]);
    for (state, n) in [("running", 4.0), ("paused", 1.0), ("exited", 1.0), ("created", 1.0), ("restarting", 0.0)] {
        assert_eq!(value(&count, state), n, "{state} in {count:?}");
    }
    assert!(value(&size, "image") > 1e6, "the busybox image is about 2 MB: {size:?}");
    value(&size, "running");
    // The busy loop's share depends on the machine's load (other tests
    // run meanwhile): it is more than the idle containers', within 2 cores.
    assert!(busy > 1.0 && busy <= 200.0 && idle < busy, "a busy loop read {busy} % of a core, a sleep {idle} %");
    let filled = value(&mem, &format!("mem_usage:{}", filler.name()));
    assert!((40.0..=75.0).contains(&filled), "32 MiB of tmpfs in a 64 MiB container read {filled} %");
    assert!((0.0..1.0).contains(&value(&mem_host, &format!("host_mem_usage:{}", server.name()))));
    value(&disk, &format!("disk_read:{}", server.name()));
    value(&disk, &format!("disk_write:{}", server.name()));
    // Podman 4.3 swaps received and sent bytes; kura swaps them back.
    let sending = value(&served, &format!("nw_txkb:{}", server.name()));
    let receiving = value(&served, &format!("nw_rxkb:{}", server.name()));
    assert!(sending > 10.0 * receiving, "the server sent {sending} B/s and received {receiving} B/s while serving");
    // The server was sampled before the download (its increase is the
    // file), the client only after (its counter from its start is).
    let store = reader(&data);
    let counter = |container: &testkit::docker::Container, field: Field| {
        let samples = store.samples(series_of(&store, "pod", container.id()).series, 0, i64::MAX);
        let samples = samples.unwrap_or_else(|e| panic!("{e}"));
        let values: Vec<u64> = samples.column(field).iter().flatten().copied().collect();
        (values.first().copied().unwrap_or(0), values.last().copied().unwrap_or(0))
    };
    let (before, after) = counter(&server, Field::NetTxBytes);
    let (_, fetched) = counter(&client, Field::NetRxBytes);
    let blob = BLOB as f64;
    for (what, bytes) in [("the server sent", after - before), ("the client received", fetched)] {
        assert!((bytes as f64 - blob).abs() / blob < 0.10, "{what} {bytes} bytes of a {BLOB}-byte file");
    }
    assert_eq!(value(&procs, &format!("httpd:{}", server.name())), 1.0);
    let table = String::from_utf8_lossy(&ps.stdout);
    assert!(ps.status.success(), "kura ps: {}", String::from_utf8_lossy(&ps.stderr));
    for (container, state) in [(&burn, "running"), (&paused, "paused"), (&exited, "exited")] {
        let row = table.lines().find(|l| l.starts_with(container.name()));
        let row = row.unwrap_or_else(|| panic!("{} missing from kura ps:\n{table}", container.name()));
        assert!(row.contains(state), "{row}");
    }
    // What Podman does not report is said so, never printed as 0.
    assert_eq!(packets.status.code(), Some(1));
    assert!(packets.stdout.is_empty(), "{}", String::from_utf8_lossy(&packets.stdout));
    assert!(String::from_utf8_lossy(&packets.stderr).contains("counts no packets"));
    assert_eq!(detail.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&detail.stderr).contains("no raw memory statistics"));

    // Its events stream is followed like Docker's.
    let started = store.events("pod", 0, i64::MAX).unwrap_or_else(|e| panic!("{e}"));
    let client_series = series_of(&store, "pod", client.id());
    assert!(
        started.iter().any(|e| e.event.container_id() == Some(client.id()) && e.event.action() == Some("start")),
        "no start event of {} among {} events",
        client_series.container.name,
        started.len()
    );
}
