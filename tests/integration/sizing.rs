//! The history export and the sizing report of a store filled by a real
//! collector sampling the real dockerd: containers with and without limits,
//! one OOM-killed, one CPU-bound at `--cpus 0.5`. The export agrees with
//! `kura cpu` and `kura mem` for the same window; the report loads in a
//! real headless Chromium with no console errors and one chart per
//! container and metric, and recommends what its rules say.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kura_store::sample::UnixMillis;
use kura_store::Reader;
use testkit::docker::ContainerSpec;
use testkit::process::workspace_bin;

use crate::collector::{config, series_of, DataDir, Running};
use crate::foundation::docker_available;

/// Width of the compared window and of the export's bucket, ms.
const WINDOW_MS: i64 = 30_000;

fn kura(data: &DataDir, args: &[&str]) -> Output {
    let output = Command::new(workspace_bin("kura")).args(args).arg("--data").arg(data.path()).output().unwrap();
    assert!(output.status.success(), "kura {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    output
}

/// The value of the one `key,value` line of a check.
fn check_value(data: &DataDir, args: &[&str]) -> f64 {
    let output = kura(data, args);
    let text = String::from_utf8(output.stdout).unwrap();
    let line = text.lines().next().unwrap_or_else(|| panic!("kura {} printed nothing", args.join(" ")));
    line.rsplit_once(',').and_then(|(_, v)| v.parse().ok()).unwrap_or_else(|| panic!("not a key,value line: {line}"))
}

/// The export's rows, as (header, records).
fn export(data: &DataDir, args: &[&str]) -> (Vec<String>, Vec<csv::StringRecord>) {
    let output = kura(data, &[&["export"], args].concat());
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    (header, reader.records().map(Result::unwrap).collect())
}

fn rfc3339(ms: UnixMillis) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339()
}

/// Waits until `ready` holds, polling the store every half second.
async fn wait_for(data: &DataDir, timeout: Duration, what: &str, mut ready: impl FnMut(&Reader) -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if Reader::open(data.path()).is_ok_and(|reader| ready(&reader)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{what} within {timeout:?}");
}

/// A summary row's `data-NAME` attribute in the report.
fn attribute<'a>(html: &'a str, container: &str, name: &str) -> &'a str {
    let row = html
        .split("<tr ")
        .find(|row| row.contains(&format!("data-container=\"{container}\"")))
        .unwrap_or_else(|| panic!("the report has no summary row for {container}"));
    let start = row.find(&format!("data-{name}=\"")).unwrap_or_else(|| panic!("no data-{name} for {container}"));
    let value = &row[start + name.len() + 7..];
    &value[..value.find('"').unwrap_or(0)]
}

/// Whether a screenshot shows something: enough pixels off white, in
/// several colours.
fn not_blank(png: &Path) -> (f64, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let step = info.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0usize;
    let total = pixels[..info.buffer_size()].chunks(step).len();
    for pixel in pixels[..info.buffer_size()].chunks(step) {
        if pixel.iter().take(3).any(|&c| c < 230) {
            inked += 1;
        }
        colours.insert(pixel.iter().take(3).map(|&c| c / 16).collect::<Vec<_>>());
    }
    (inked as f64 / total.max(1) as f64, colours.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_agrees_with_the_checks_and_the_report_loads_and_recommends() {
    if !docker_available() {
        return;
    }
    if let Err(reason) = testkit::chromium::available() {
        testkit::peer_unavailable("chromium", &reason);
        return;
    }
    // Named kura-test-sz<pid>-<role>-...: `-n kura-test-sz<pid>-*` selects them.
    let mark = format!("sz{}", std::process::id());
    let select = format!("kura-test-{mark}-*");
    let burn =
        ContainerSpec::new(&format!("{mark}-burn")).flags(["--cpus", "0.5"]).shell("while :; do :; done").start();
    let limited = ContainerSpec::new(&format!("{mark}-limited"))
        .flags(["--memory", "64m", "--cpus", "1", "--tmpfs", "/fill"])
        .shell("dd if=/dev/zero of=/fill/x bs=1M count=16 2>/dev/null; sleep 3600")
        .start();
    let free = ContainerSpec::new(&format!("{mark}-free")).shell("sleep 3600").start();
    let oom = ContainerSpec::new(&format!("{mark}-oom"))
        .flags(["--memory", "8m", "--memory-swap", "8m"])
        .shell("sleep 5; x=a; while :; do x=$x$x; done")
        .start();
    let data = DataDir::new();
    let local = format!("local=unix://{}", testkit::docker::SOCKET);
    let collector = Running::start(config(&data, &[&local], |f| {
        f.interval = Some("1s".into());
        f.top_interval = Some("5s".into());
    }));
    // Enough history for a window of WINDOW_MS after a few seconds of
    // settling, and the memory hog killed.
    let mut started: Option<UnixMillis> = None;
    wait_for(&data, Duration::from_secs(240), "75 s of sweeps and the OOM container exited", |reader| {
        let Ok(Some(newest)) = reader.latest_sweep("local") else { return false };
        let first = *started.get_or_insert(newest.time);
        newest.time - first >= 75_000 && oom.state().as_deref() == Some("exited")
    })
    .await;

    // The same window both ways: the bucket [t - 30 s, t) and the checks at t.
    let newest = Reader::open(data.path()).unwrap().latest_sweep("local").unwrap().unwrap().time;
    let t = newest.div_euclid(WINDOW_MS) * WINDOW_MS;
    let at = rfc3339(t);
    let window = format!("{}s", WINDOW_MS / 1000);
    let cpu = check_value(&data, &["cpu", "-n", burn.name(), "--scale", "core", "--at", &at, "--window", &window]);
    let mem = check_value(&data, &["mem", "-n", limited.name(), "--at", &at, "--window", &window]);
    let mem_limit = check_value(&data, &["mem", "--limit", "-n", limited.name(), "--at", &at, "--window", &window]);
    let range = ["--until", &at, "--since", &window, "--step", &window, "--agg", "avg,last"];
    let (header, rows) = export(&data, &[&range[..], &["-n", &select]].concat());
    collector.stop().await;

    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let row = |name: &str| {
        let found = rows.iter().find(|r| &r[column("container")] == name);
        found.unwrap_or_else(|| panic!("no export row for {name} in {rows:?}"))
    };
    let number = |name: &str, col: &str| -> f64 { row(name)[column(col)].parse().unwrap() };
    assert_eq!(rows.len(), 4, "one bucket per container: {rows:?}");
    let cores = number(burn.name(), "cpu_cores_avg");
    assert!((cores * 100.0 - cpu).abs() < 5.0, "export {cores} cores vs kura cpu {cpu} % of a core");
    // At most half a core; less on a loaded machine.
    assert!((0.15..=0.6).contains(&cores), "--cpus 0.5 read {cores} cores");
    assert!((number(limited.name(), "mem_pct_host_last") - mem).abs() < 0.5, "mem vs kura mem {mem}");
    assert!((number(limited.name(), "mem_pct_limit_last") - mem_limit).abs() < 0.5, "vs kura mem --limit {mem_limit}");
    assert_eq!(number(limited.name(), "mem_limit_bytes_last"), f64::from(64u32 << 20));
    assert_eq!(&row(oom.name())[column("state")], "exited");
    assert_eq!(&row(oom.name())[column("cpu_pct_avg")], "", "a stopped container has empty cells");

    // The whole run: the report, with short minimums so that it recommends.
    let out = tempfile::tempdir().unwrap();
    let html_path = out.path().join("sizing.html");
    let since = rfc3339(started.unwrap_or(newest) - 60_000);
    let report = [
        "report",
        "--since",
        &since,
        "-n",
        &select,
        "--min-history",
        "30s",
        "--min-samples",
        "20",
        "--output",
        &html_path.display().to_string(),
    ];
    kura(&data, &report);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.len() < 5 << 20);
    for fetch in ["<script", "<link", " src=", "href=\"http", "url("] {
        assert!(!html.contains(fetch), "the report would fetch something: {fetch}");
    }

    // The recommendation is the period's p95 x 1.15: about 0.5 x 1.15, less
    // where the loop got less than its half core.
    let until = rfc3339(newest + 1_000);
    let whole = ["--since", &since, "--until", &until, "--step", "1000d", "--agg", "p95", "-n", burn.name()];
    let (header, rows) = export(&data, &whole);
    let p95: f64 = rows[0][header.iter().position(|h| h == "cpu_cores_p95").unwrap()].parse().unwrap();
    let raw: f64 = attribute(&html, burn.name(), "cpu-raw").parse().unwrap();
    assert!((raw - p95 * 1.15).abs() < 0.002, "recommended {raw} before rounding, p95 {p95} x 1.15");
    assert!((0.3..=0.7).contains(&raw), "--cpus 0.5: recommended {raw}, about 0.5 x 1.15 = 0.58");
    let recommended: f64 = attribute(&html, burn.name(), "cpu-recommended").parse().unwrap();
    assert!(recommended >= raw && recommended - raw < 0.05 + 1e-9, "{recommended} rounds {raw} up to 0.05");
    let oom_memory: u64 = attribute(&html, oom.name(), "memory-recommended").parse().unwrap();
    assert!(oom_memory > 8 << 20, "the OOM-killed container's memory recommendation {oom_memory} is above its 8 MiB");
    // dockerd reports the OOM kill as an event (and now and then misses the
    // OOMKilled flag, moby#18510): the report flags it when an oom event was stored.
    let reader = Reader::open(data.path()).unwrap();
    let oom_id = series_of(&reader, "local", oom.id()).container.id;
    let oom_events = reader
        .events("local", 0, i64::MAX)
        .unwrap()
        .iter()
        .filter(|e| e.event.container_id() == Some(oom_id.as_str()) && e.event.action() == Some("oom"))
        .count();
    assert_eq!(attribute(&html, oom.name(), "oom-kills"), oom_events.to_string());
    if oom_events > 0 {
        assert!(attribute(&html, oom.name(), "flags").split(' ').any(|f| f == "oom"));
    }
    assert!(attribute(&html, free.name(), "flags").contains("no-memory-limit"));
    assert_eq!(attribute(&html, limited.name(), "memory-limit"), (64u64 << 20).to_string());

    // A real browser: it loads, logs nothing, draws every chart.
    let screenshot = out.path().join("sizing.png");
    let page = testkit::chromium::load(&html_path, &screenshot, (1400, 2000));
    assert!(page.console.is_empty(), "the report logged to the console: {:?}", page.console);
    assert!(page.dom.contains("Sizing report"), "the DOM after load: {}", &page.dom[..page.dom.len().min(500)]);
    let charts = page.dom.matches("<svg").count();
    assert_eq!(charts, 4 * 4 + 2, "4 charts per container, 2 for the host");
    let (inked, colours) = not_blank(&screenshot);
    assert!(inked > 0.02 && colours > 8, "the screenshot looks blank: {inked} inked, {colours} colours");
    if let Some(keep) = std::env::var_os("KURA_KEEP_SCREENSHOT") {
        std::fs::copy(&screenshot, keep).unwrap();
    }
}
