//! The Prometheus endpoint against a real Prometheus (Debian's 2.42,
//! started privately on loopback, scraping every second) and `promtool`:
//! every sample of a simulated store scraped, and a collector sampling
//! the real dockerd: CPU rate, working set, limits, restarts, OOM kills.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use kura_collector::daemon::now_millis;
use kura_collector::metrics::telemetry::Telemetry;
use kura_collector::metrics::view::Views;
use kura_collector::metrics::{self, Exporter, ServedHost};
use kura_store::simulate::{Simulation, Simulator};
use kura_store::{Reader, Store, StoreOptions};
use testkit::docker::{docker_ok, ContainerSpec};
use testkit::process::workspace_bin;
use testkit::prometheus::{check_metrics, http_get, Prometheus, Sample};
use tokio::sync::watch;

use crate::collector::{config, wait_sweeps, DataDir, Running};
use crate::foundation::docker_available;

/// How long a condition a scrape makes true may take.
const SCRAPED: Duration = Duration::from_secs(60);

fn prometheus(targets: &[SocketAddr]) -> Option<Prometheus> {
    match Prometheus::start(targets) {
        Ok(server) => Some(server),
        Err(reason) => {
            testkit::peer_unavailable("prometheus", &reason);
            None
        }
    }
}

/// The samples of an exposition: its lines that are not comments.
fn sample_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|line| !line.starts_with('#')).collect()
}

/// The one series an answer holds.
fn only(samples: &[Sample]) -> f64 {
    match samples {
        [one] => one.value(),
        _ => f64::NAN,
    }
}

/// `GET /metrics` with `Accept-Encoding: gzip`: the headers and the
/// decompressed body.
fn get_gzipped(addr: SocketAddr) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\nAccept-Encoding: gzip\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).to_lowercase();
    let mut body = String::new();
    flate2::read::GzDecoder::new(&answer[split + 4..]).read_to_string(&mut body).unwrap();
    (head, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_every_sample_of_a_simulated_store_and_promtool_accepts_it() {
    // 20 containers for 2 hours at 60 s, ending now: fresh for 3 minutes.
    let dir = DataDir::new();
    let interval = Duration::from_secs(60);
    let mut spec = Simulation { sweeps: 120, ..Simulation::days(20, 1, 60_000) };
    spec.start = now_millis() - 119 * 60_000;
    let host = spec.host.clone();
    let store = Store::open(dir.path(), StoreOptions { flush_every_sweep: false, ..StoreOptions::default() }).unwrap();
    Simulator::new(spec).run(&store).unwrap();
    let exporter = Arc::new(Exporter {
        hosts: vec![ServedHost { name: host.clone(), interval }],
        views: Views::load(&Reader::Handle(store.read_handle()), [host.as_str()]).unwrap(),
        telemetry: Arc::new(Telemetry::default()),
        writes: None,
        store_path: Some(store.path().to_path_buf()),
        container_labels: true,
        clock: now_millis,
    });
    let exposition = exporter.render();
    check_metrics(&exposition).unwrap_or_else(|e| panic!("{e}"));
    let expected = sample_lines(&exposition).len();
    assert!(expected > 20 * 20, "{expected} samples for 20 containers");

    let listener = metrics::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = watch::channel(false);
    let server = tokio::spawn(metrics::http::serve(
        tokio::net::TcpListener::from_std(listener).unwrap(),
        Arc::clone(&exporter),
        stopped,
    ));
    // The checks block (HTTP, polling); the server runs on the other workers.
    tokio::task::block_in_place(|| {
        let (head, gzipped) = get_gzipped(addr);
        assert!(head.contains("content-encoding: gzip"), "{head}");
        assert!(head.contains("content-type: text/plain; version=0.0.4; charset=utf-8"), "{head}");
        assert_eq!(sample_lines(&gzipped).len(), expected);
        let (status, _) = http_get(addr, "/other").unwrap();
        assert_eq!(status, 404);

        let Some(prometheus) = prometheus(&[addr]) else { return };
        prometheus.wait_for("up{job=\"kura\"}", SCRAPED, |s| only(s) == 1.0);
        #[allow(clippy::cast_precision_loss)]
        let want = expected as f64;
        prometheus.wait_for("scrape_samples_scraped{job=\"kura\"}", SCRAPED, |s| only(s) == want);
        // A value read back through PromQL is the one in the exposition (a
        // series' labels are a selector in PromQL's syntax too).
        let line = sample_lines(&exposition).into_iter().find(|l| l.starts_with("container_memory_working_set_bytes{"));
        let (series, bytes) = line.and_then(|l| l.rsplit_once(' ')).unwrap();
        let bytes: f64 = bytes.parse().unwrap();
        prometheus.wait_for(series, SCRAPED, |s| only(s) == bytes);
    });
    let _ = stop.send(true);
    server.await.unwrap();
}

/// `kura mem -n NAME` on a running collector's store: the percent of the
/// host's memory.
fn kura_mem_percent(data: &DataDir, name: &str) -> f64 {
    let output = Command::new(workspace_bin("kura"))
        .args(["mem", "-n", name, "--window", "5s", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "kura mem: {}", String::from_utf8_lossy(&output.stderr));
    let value = stdout.trim().rsplit_once(',').map(|(_, v)| v.parse::<f64>());
    value.and_then(Result::ok).unwrap_or_else(|| panic!("kura mem printed {stdout:?}"))
}

/// `kura cpu -n NAME --scale core --window 30s` in cores.
fn kura_cpu_cores(data: &DataDir, name: &str) -> f64 {
    let output = Command::new(workspace_bin("kura"))
        .args(["cpu", "-n", name, "--scale", "core", "--window", "30s", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let percent = stdout.trim().rsplit_once(',').and_then(|(_, v)| v.parse::<f64>().ok());
    percent.map_or(f64::NAN, |p| p / 100.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_collector_sampling_the_real_dockerd() {
    if !docker_available() {
        return;
    }
    let burn = ContainerSpec::new("prom-burn").flags(["--cpus", "0.5"]).shell("while :; do :; done").start();
    let filler = ContainerSpec::new("prom-fill")
        .flags(["--memory", "256m", "--tmpfs", "/fill"])
        .shell("dd if=/dev/zero of=/fill/x bs=1M count=48 2>/dev/null; sleep 3600")
        .start();
    let plain = ContainerSpec::new("prom-plain").start();
    let flappy = ContainerSpec::new("prom-flap").flags(["--restart", "always"]).shell("sleep 1; exit 3").start();
    // A child of the main process is OOM-killed over and over; the
    // container runs on (and comes back if the main process is hit).
    let hog = ContainerSpec::new("prom-hog")
        .flags(["--memory", "16m", "--memory-swap", "16m", "--restart", "always"])
        .shell("while :; do (x=a; while :; do x=$x$x; done); sleep 0.5; done")
        .start();
    let manual = ContainerSpec::new("prom-manual").start();

    let data = DataDir::new();
    let port = testkit::net::free_port();
    let listen = format!("127.0.0.1:{port}");
    let collector = Running::start(config(&data, &[&format!("local=unix://{}", testkit::docker::SOCKET)], |f| {
        f.interval = Some("1s".into());
        f.metrics_listen = Some(listen.clone());
    }));
    wait_sweeps(data.path(), "local", 1).await;
    // The checks block (HTTP, polling, the docker CLI); the collector runs
    // on the other workers meanwhile.
    tokio::task::block_in_place(|| {
        let addr: SocketAddr = listen.parse().unwrap();
        let Some(prometheus) = prometheus(&[addr]) else { return };
        let value = |expr: String, holds: &dyn Fn(f64) -> bool| {
            let found = prometheus.wait_for(&expr, SCRAPED, |s| holds(only(s)));
            only(&found)
        };
        value("up{job=\"kura\"}".into(), &|v| v == 1.0);
        value("kura_host_up{host=\"local\"}".into(), &|v| v == 1.0);

        // Limits: --memory, none, and --cpus 0.5 as period and quota.
        let of = |family: &str, name: &str| format!("{family}{{name=\"{name}\"}}");
        value(of("container_spec_memory_limit_bytes", filler.name()), &|v| v == 268_435_456.0);
        value(of("container_spec_memory_limit_bytes", plain.name()), &|v| v == 0.0);
        value(of("container_spec_cpu_quota", burn.name()), &|v| v == 50_000.0);
        value(of("container_spec_cpu_period", burn.name()), &|v| v == 100_000.0);

        // The working set of a container holding 48 MiB in tmpfs, as kura mem reads it.
        let working_set = of("container_memory_working_set_bytes", filler.name());
        value(working_set.clone(), &|v| v >= 48.0 * 1024.0 * 1024.0);
        let host_memory = value("machine_memory_bytes{host=\"local\"}".into(), &|v| v > 0.0);
        let kura = kura_mem_percent(&data, filler.name());
        let bytes = value(working_set, &|v| v > 0.0);
        let percent = bytes / host_memory * 100.0;
        assert!(
            (percent - kura).abs() < 0.02,
            "working set {bytes} B = {percent} % of {host_memory}; kura mem {kura} %"
        );

        // Restarts by policy and by hand, and OOM kills, count up.
        value(of("kura_container_restarts_total", flappy.name()), &|v| v >= 2.0);
        value(of("container_oom_events_total", hog.name()), &|v| v >= 2.0);
        let manual_restarts = of("kura_container_restarts_total", manual.name());
        value(manual_restarts.clone(), &|v| v == 0.0);
        docker_ok(&["restart", "-t", "0", manual.name()]);
        value(manual_restarts.clone(), &|v| v == 1.0);
        docker_ok(&["restart", "-t", "0", manual.name()]);
        value(manual_restarts, &|v| v == 2.0);
        let running = format!("kura_container_state{{name=\"{}\",state=\"running\"}}", manual.name());
        value(running, &|v| v == 1.0);

        // A busy loop limited to half a CPU: at most 0.5 CPU-seconds per
        // second, 0.5 on a machine with a core to spare, and on a busier one
        // what `kura cpu` reads over the same 30 s from the same counters.
        let rate = format!("sum(rate(container_cpu_usage_seconds_total{{name=\"{}\"}}[30s]))", burn.name());
        let mut kura = f64::NAN;
        let cpu = prometheus.wait_for(&rate, Duration::from_secs(120), |s| {
            let cores = only(s);
            if !(0.05..=0.6).contains(&cores) {
                return false;
            }
            kura = kura_cpu_cores(&data, burn.name());
            (cores - kura).abs() < 0.05
        });
        eprintln!("--cpus 0.5 busy loop: rate() {} cores, kura cpu {kura} cores", only(&cpu));

        // What Prometheus scraped passes promtool too.
        let (status, body) = http_get(addr, "/metrics").unwrap();
        assert_eq!(status, 200);
        check_metrics(&String::from_utf8_lossy(&body)).unwrap_or_else(|e| panic!("{e}"));
    });
    collector.stop().await;
}
