//! `kura legacy` through the entries `kura legacy --install` writes, against
//! a store filled by a real collector sampling the test bed's dockerd (and a
//! private snmpd for `--with-host`): every example command line of
//! shared/reference/legacy-command-lines.md, and every command string of its
//! Hinemos monitor settings, run as cron or the Hinemos agent would run it
//! (`sh -c`), compared with the report's printed output by keys, line shapes
//! and units; values compared with the matching modern `kura` command for
//! the same time and window.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use kura_collector::config::Config;
use kura_query::legacy::previous::Call;
use kura_store::config::FlagConfig;
use kura_store::Reader;
use testkit::docker::{Container, ContainerSpec};
use testkit::process::workspace_bin;
use testkit::snmpd::Snmpd;

use crate::collector::{unless_stale_while_running, wait_sweeps, DataDir, Running};
use crate::foundation::docker_available;

/// Where the report's examples call the scripts.
const OLD_BIN: &str = "/opt/hinemos_agent/docker/bin/";
/// The host name of the report's examples, which the test configuration
/// gives the test bed's dockerd.
const HOST: &str = "docker_host1";

/// Every example of the reference (§3.1 to §3.7) with the output the report
/// printed, verbatim.
const EXAMPLES: &[(&str, &[&str])] = &[
    ("/opt/hinemos_agent/docker/bin/MonitorDockerHostStatus.py -i docker_host1 --status", &["Status,0"]),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerHostStatus.py -i docker_host1 --count",
        &["running,3", "restarting,0", "paused,0", "exited,0"],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerHostStatus.py -i docker_host1 --size",
        &["image,474361657", "running,6", "restarting,0", "paused,0", "exited,0"],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceCpu.py -i docker_host1 -k hoge --all",
        &["cpu_usage:conteiner_C,0.07", "cpu_usage:conteiner_B,0.08", "cpu_usage:conteiner_A,0.08"],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceCpu.py -i docker_host1 -k hoge --all --with-host",
        &[
            "cpu_usage:conteiner_C,0.04",
            "cpu_usage:conteiner_B,0.04",
            "cpu_usage:conteiner_A,0.04",
            "cpu_usage:host,0.65",
        ],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceCpu.py -i docker_host1 -k hoge --core",
        &[
            "cpu_usage#0:conteiner_C,0.05",
            "cpu_usage#1:conteiner_C,0.03",
            "cpu_usage#0:conteiner_B,0.00",
            "cpu_usage#1:conteiner_B,0.08",
            "cpu_usage#0:conteiner_A,0.03",
            "cpu_usage#1:conteiner_A,0.05",
        ],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceMemory.py -i docker_host1",
        &["host_mem_usage:4dfd0a12,0.24", "host_mem_usage:c7a095b8,0.24", "host_mem_usage:d7ee4d6e,0.24"],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceMemory.py -i docker_host1 --container",
        &["host_mem_usage:4dfd0a12,0.24", "host_mem_usage:c7a095b8,0.24", "host_mem_usage:d7ee4d6e,0.24"],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceMemory.py -i docker_host1 -n conteiner_B --all",
        MEMORY_ALL,
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceDisk.py -i docker_host1 -k hoge_disk --read",
        &["disk_read:4dfd0a12,0.00", "disk_read:c7a095b8,0.00", "disk_read:d7ee4d6e,0.00"],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceDisk.py -i docker_host1 -k hoge_disk --write",
        &["disk_write:4dfd0a12,0.00", "disk_write:c7a095b8,0.00", "disk_write:d7ee4d6e,0.00"],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceNetwork.py -i docker_host1 -k hoge_nw --tx --rx --kb",
        &[
            "nw_rxkb:4dfd0a12,0.00",
            "nw_txkb:4dfd0a12,0.00",
            "nw_rxkb:c7a095b8,0.00",
            "nw_txkb:c7a095b8,0.00",
            "nw_rxkb:d7ee4d6e,0.00",
            "nw_txkb:d7ee4d6e,0.00",
        ],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceNetwork.py -i docker_host1 -k hoge_nw --tx --rx --pck",
        &[
            "nw_rxpck:4dfd0a12,0.00",
            "nw_txpck:4dfd0a12,0.00",
            "nw_rxpck:c7a095b8,0.00",
            "nw_txpck:c7a095b8,0.00",
            "nw_rxpck:d7ee4d6e,0.00",
            "nw_txpck:d7ee4d6e,0.00",
        ],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerProcess.py -i docker_host1",
        &[".*:4dfd0a12b9de,4", ".*:c7a095b8ec29,4", ".*:d7ee4d6ee44c,4"],
    ),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerProcess.py -i docker_host1 -prog httpd",
        &["httpd:4dfd0a12b9de,4", "httpd:c7a095b8ec29,4", "httpd:d7ee4d6ee44c,4"],
    ),
];

/// The memory `--all` example (§3.4), verbatim.
const MEMORY_ALL: &[&str] = &[
    "active_anon,8556544",
    "active_file,352256",
    "cache,5922816",
    "hierarchical_memory_limit,9223372036854775807",
    "hierarchical_memsw_limit,9223372036854775807",
    "inactive_anon,258048",
    "inactive_file,5312512",
    "mapped_file,2314240",
    "pgfault,2547",
    "pgmajfault,25",
    "pgpgin,2143",
    "pgpgout,141",
    "rss,8556544",
    "rss_huge,6291456",
    "swap,0",
    "total_active_anon,8556544",
    "total_active_file,352256",
    "total_cache,5922816",
    "total_inactive_anon,258048",
    "total_inactive_file,5312512",
    "total_mapped_file,2314240",
    "total_pgfault,2547",
    "total_pgmajfault,25",
    "total_pgpgin,2143",
    "total_pgpgout,141",
    "total_rss,8556544",
    "total_rss_huge,6291456",
    "total_swap,0",
    "total_unevictable,0",
    "unevictable,0",
];

/// The command strings of the report's Hinemos custom monitor settings (the
/// screenshot's CPU command without `--all` included), each with the
/// example whose output it prints.
const SETTINGS: &[(&str, usize)] = &[
    ("/opt/hinemos_agent/docker/bin/MonitorDockerHostStatus.py -i #[IP_ADDRESS]", 0),
    ("/opt/hinemos_agent/docker/bin/MonitorDockerHostStatus.py -i #[IP_ADDRESS] --count", 1),
    ("/opt/hinemos_agent/docker/bin/MonitorDockerHostStatus.py -i #[IP_ADDRESS] --size", 2),
    (
        "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceCpu.py -i #[IP_ADDRESS] -k #[NODE_NAME]_CONTAINER_CPU --all",
        3,
    ),
    ("/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceCpu.py -i #[IP_ADDRESS] -k #[NODE_NAME]_cpu", 3),
    ("/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceMemory.py -i #[IP_ADDRESS]", 6),
    ("/opt/hinemos_agent/docker/bin/MonitorDockerContainerProcess.py -i #[IP_ADDRESS] -prog httpd", 14),
];

/// The disk setting prints both the read and the write example's lines.
const DISK_SETTING: &str =
    "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceDisk.py -i #[IP_ADDRESS] -k #[NODE_NAME]_CONTAINER_DISK";
/// The network setting (two spaces before `--tx`, as printed).
const NETWORK_SETTING: &str = "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceNetwork.py -i #[IP_ADDRESS] -k #[NODE_NAME]_CONTAINER_NETWORK  --tx --rx --kb";

/// The test bed: containers, snmpd, a collector at 1 s writing a private
/// store, the entries installed in a private folder.
struct Bed {
    data: DataDir,
    config: PathBuf,
    bin: tempfile::TempDir,
    web: Container,
    burn: Container,
    idle: Container,
    client: Container,
    _snmpd: Snmpd,
}

impl Bed {
    /// The `key,value` lines of a run; each must match the Hinemos 6.0 rule
    /// `^([^,]+),([0-9.]+)$`. The run may exit 1 only for containers of
    /// other tests (started a moment ago, with one sample so far), never for
    /// one of this test's.
    fn lines(&self, what: &str, output: &Output) -> Vec<(String, String)> {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            assert_eq!(output.status.code(), Some(1), "{what}: {stderr}");
            assert!(!output.stdout.is_empty(), "{what} printed nothing: {stderr}");
            // What failed, item by item (the buffer warning names the
            // first item it would cut, which may be one of ours).
            let failed: Vec<&str> = stderr.lines().filter(|l| !l.contains("over the Hinemos agent's buffer")).collect();
            for ours in [&self.web, &self.burn, &self.idle, &self.client] {
                let named = |line: &&str| line.contains(&ours.id()[..8]) || line.contains(ours.name());
                assert!(!failed.iter().any(named), "{what}: {stderr}");
            }
        }
        let stdout = String::from_utf8(output.stdout.clone()).unwrap();
        assert!(stdout.ends_with('\n'), "{what}: {stdout:?} ({stderr})");
        stdout
            .lines()
            .map(|line| {
                let (key, value) = line.split_once(',').unwrap_or_else(|| panic!("{what}: no comma in {line:?}"));
                assert!(!key.is_empty() && !value.contains(','), "{what}: {line:?}");
                assert!(value.chars().all(|c| c.is_ascii_digit() || c == '.'), "{what}: {line:?}");
                (key.to_owned(), value.to_owned())
            })
            .collect()
    }

    /// A command line of the report, with its folder, node variables and
    /// container names replaced, run by `sh -c` as cron or the agent runs it.
    fn entry(&self, line: &str) -> Output {
        let line = line
            .replace(OLD_BIN, &format!("{}/", self.bin.path().display()))
            .replace("#[IP_ADDRESS]", "127.0.0.1")
            .replace("#[NODE_NAME]", HOST)
            .replace("-n conteiner_B", &format!("-n {}", self.idle.name()));
        unless_stale_while_running(self.data.path(), || {
            Command::new("sh").arg("-c").arg(&line).output().unwrap_or_else(|e| panic!("sh -c {line}: {e}"))
        })
    }

    /// `kura ARGS` on the private store.
    fn kura(&self, args: &[&str]) -> Output {
        unless_stale_while_running(self.data.path(), || {
            let output = Command::new(workspace_bin("kura")).args(args).arg("--data").arg(self.data.path()).output();
            output.unwrap_or_else(|e| panic!("kura {}: {e}", args.join(" ")))
        })
    }

    /// `kura legacy --config C --at AT SCRIPT ARGS` (the entries take no
    /// `--at`; this is how the test pins the time for both sides), with
    /// every `-k` prefixed `at-`: a key never called, so the first window.
    fn legacy_at(&self, at: &str, line: &str) -> Output {
        let mut args = vec!["legacy", "--config"];
        let config = self.config.to_string_lossy().into_owned();
        args.push(&config);
        args.extend(["--at", at]);
        let words: Vec<String> = line
            .replace("#[IP_ADDRESS]", "127.0.0.1")
            .replace("#[NODE_NAME]", HOST)
            .replace("-n conteiner_B", &format!("-n {}", self.idle.name()))
            .replace("-k ", "-k at-")
            .split_whitespace()
            .map(|w| w.trim_start_matches(OLD_BIN).to_owned())
            .collect();
        args.extend(words.iter().map(String::as_str));
        unless_stale_while_running(self.data.path(), || {
            let output = Command::new(workspace_bin("kura")).args(&args).output();
            output.unwrap_or_else(|e| panic!("kura {}: {e}", args.join(" ")))
        })
    }
}

/// A value's shape: `<int>` or `<2dp>` (two decimals).
fn value_shape(value: &str) -> &'static str {
    match value.split_once('.') {
        None if value.chars().all(|c| c.is_ascii_digit()) => "<int>",
        Some((int, dec)) if !int.is_empty() && dec.len() == 2 => "<2dp>",
        _ => panic!("{value:?} is neither an integer nor a two-decimal figure"),
    }
}

/// A key's shape: the container part after the last `:` as `<id8>`,
/// `<id12>` or `<name>` (`host` kept), a core number as `#<n>`.
fn key_shape(key: &str) -> String {
    let Some((stem, subject)) = key.rsplit_once(':') else {
        return key.to_owned();
    };
    let hex = |n: usize| subject.len() == n && subject.chars().all(|c| c.is_ascii_hexdigit());
    let subject = match subject {
        "host" => "host",
        _ if hex(12) => "<id12>",
        _ if hex(8) => "<id8>",
        _ => "<name>",
    };
    let stem = match stem.split_once('#') {
        Some((metric, core)) if core.chars().all(|c| c.is_ascii_digit()) => format!("{metric}#<n>"),
        _ => stem.to_owned(),
    };
    format!("{stem}:{subject}")
}

fn shapes<'a>(lines: impl IntoIterator<Item = (&'a str, &'a str)>) -> BTreeSet<String> {
    lines.into_iter().map(|(key, value)| format!("{},{}", key_shape(key), value_shape(value))).collect()
}

fn reference_shapes(expected: &[&str]) -> BTreeSet<String> {
    shapes(expected.iter().map(|line| line.split_once(',').unwrap()))
}

fn actual_shapes(lines: &[(String, String)]) -> BTreeSet<String> {
    shapes(lines.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn value_of(lines: &[(String, String)], key: &str) -> f64 {
    let found = lines.iter().find(|(k, _)| k == key).map(|(_, v)| v.parse().unwrap());
    found.unwrap_or_else(|| panic!("no {key} in {lines:?}"))
}

/// Every value of `legacy` equals the value of `modern` under the key
/// `rename` gives it.
fn same_values(what: &str, legacy: &[(String, String)], modern: &[(String, String)], rename: impl Fn(&str) -> String) {
    assert!(!legacy.is_empty(), "{what}: no lines");
    let modern_keys: BTreeSet<String> = modern.iter().map(|(k, _)| rename(k)).collect();
    let legacy_keys: BTreeSet<String> = legacy.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(legacy_keys, modern_keys, "{what}: the same items");
    for (key, value) in legacy {
        let modern_value = modern.iter().find(|(k, _)| rename(k) == *key).map(|(_, v)| v.parse::<f64>().unwrap());
        assert_eq!(Some(value.parse::<f64>().unwrap()), modern_value, "{what}: {key}");
    }
}

/// Waits until the store holds a sweep of [`HOST`] after `at_ms`: every
/// sample at or before `at_ms` is then written, so a query `--at` that time
/// reads the same rows whenever it runs.
async fn wait_written_past(data: &Path, at_ms: i64) {
    for _ in 0..600 {
        let newest = Reader::open(data).ok().and_then(|r| r.sweeps(HOST, at_ms + 1, i64::MAX).ok());
        if newest.is_some_and(|sweeps| !sweeps.is_empty()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no sweep of {HOST} after {at_ms} within 60 s");
}

/// `kura count`/`kura size` lines as the 2015 script printed them:
/// created and dead containers count as exited, the four old states only.
fn old_states(modern: Vec<(String, String)>) -> Vec<(String, String)> {
    let folded: u64 = ["exited", "created", "dead"]
        .iter()
        .map(|state| modern.iter().find(|(k, _)| k == state).map_or(0, |(_, v)| v.parse::<u64>().unwrap()))
        .sum();
    modern
        .into_iter()
        .filter(|(k, _)| ["image", "running", "restarting", "paused"].contains(&k.as_str()))
        .chain([("exited".to_owned(), folded.to_string())])
        .collect()
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Starts the bed, or `None` when dockerd or snmpd is missing (a failure under CI).
fn bed() -> Option<(Bed, Config)> {
    if !docker_available() {
        return None;
    }
    let snmpd = match Snmpd::start() {
        Ok(snmpd) => snmpd,
        Err(reason) => {
            testkit::peer_unavailable("snmpd", &reason);
            return None;
        }
    };
    let web = ContainerSpec::new("lg-web")
        .shell("httpd -p 80 -h /var/www; httpd -p 81 -h /var/www; exec httpd -f -p 82 -h /var/www")
        .start();
    let burn = ContainerSpec::new("lg-burn").flags(["--cpus", "0.5"]).shell("while :; do :; done").start();
    let idle = ContainerSpec::new("lg-idle").flags(["--memory", "64m"]).start();
    let client = ContainerSpec::new("lg-wget")
        .shell(&format!("while :; do wget -q -O /dev/null http://{}:82/ 2>/dev/null; sleep 1; done", web.ip()))
        .start();
    let data = DataDir::new();
    let config = data.path().join("kura.toml");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "{data}"
[defaults]
interval = "1s"
top_interval = "1s"

[[host]]
name = "{HOST}"
endpoint = "unix://{socket}"
[host.snmp]
address = "{snmp}"
version = "2c"
community = "{community}"

[[host]]
name = "far"
endpoint = "tcp://127.0.0.2:1"
timeout = "1s"
"#,
            data = data.path().display(),
            socket = testkit::docker::SOCKET,
            snmp = snmpd.addr(),
            community = snmpd.community(),
        ),
    )
    .unwrap();
    let collector_config = Config::resolve(FlagConfig { config_file: Some(config.clone()), ..FlagConfig::default() })
        .unwrap_or_else(|e| panic!("config: {e}"));
    let bin = tempfile::tempdir().unwrap();
    let install = Command::new(workspace_bin("kura"))
        .args(["legacy", "--install"])
        .arg(bin.path())
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(install.status.success(), "install: {}", String::from_utf8_lossy(&install.stderr));
    let bed = Bed { data, config, bin, web, burn, idle, client, _snmpd: snmpd };
    Some((bed, collector_config))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_command_line_of_the_reference_runs_through_the_installed_entries() {
    let Some((bed, config)) = bed() else {
        return;
    };
    let collector = Running::start(config);
    // The checks run on a blocking thread of their own, so that a failed
    // assertion still stops the collector before the bed (its data folder
    // and socket) goes. Never as a task: they block (processes, waits),
    // and a worker they block would hold the collector's task that it woke
    // last, which no other worker may steal (tokio's LIFO slot).
    let bed = Arc::new(bed);
    let runtime = tokio::runtime::Handle::current();
    let checks = tokio::task::spawn_blocking({
        let bed = Arc::clone(&bed);
        move || every_example(&bed, &runtime)
    })
    .await;
    collector.stop().await;
    if let Err(failed) = checks {
        std::panic::resume_unwind(failed.into_panic());
    }
}

fn every_example(bed: &Bed, runtime: &tokio::runtime::Handle) {
    // A few sweeps: enough for two samples of every container, far fewer
    // than the first call's 5-minute window.
    runtime.block_on(wait_sweeps(bed.data.path(), HOST, 4));
    // And a host CPU figure for --with-host: the test's snmpd answers 0 for
    // its CPU counters until its first poll and refreshes them every 5 s,
    // so this takes two polls after its start.
    // (Other tests' containers may lack a figure meanwhile: the host's line counts.)
    let mut last = None;
    let host_cpu = || {
        let output = bed.kura(&["cpu", "--with-host", "--host", HOST, "--window", "5m"]);
        let polled = String::from_utf8_lossy(&output.stdout).lines().any(|line| line.starts_with("cpu_usage:host,"));
        last = Some(output);
        polled
    };
    let polled = testkit::process::wait_until(Duration::from_secs(60), host_cpu);
    let last = last.map(|o| String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr));
    assert!(polled, "no SNMP CPU figure of {HOST} within 60 s; the last answer: {last:?}");

    // The first call of each rate script already prints values (the 2015
    // scripts printed nothing until their second run), and is remembered.
    let id8 = |c: &Container| c.id()[..8].to_owned();
    for (example, ours, remembered) in [
        (3, format!("cpu_usage:{}", bed.burn.name()), "MonitorDockerContainerResourceCpu.hoge"),
        (9, format!("disk_read:{}", id8(&bed.burn)), "MonitorDockerContainerResourceDisk.hoge_disk"),
        (11, format!("nw_txkb:{}", id8(&bed.web)), "MonitorDockerContainerResourceNetwork.hoge_nw"),
    ] {
        let line = EXAMPLES[example].0;
        let first = bed.lines(line, &bed.entry(line));
        value_of(&first, &ours);
        let text = std::fs::read_to_string(bed.data.path().join("legacy").join(remembered)).unwrap();
        serde_json::from_str::<Call>(&text).unwrap_or_else(|e| panic!("{remembered}: {e}"));
    }

    // Keys, line shapes and units as the report printed them.
    for (line, expected) in EXAMPLES {
        if line.contains("--with-host") {
            // The report's examples ran minutes apart, these milliseconds
            // apart; the host's figure needs SNMP CPU counters that move
            // (net-snmp refreshes them every 5 s), so this one runs as the
            // first call of its key.
            std::fs::remove_file(bed.data.path().join("legacy").join("MonitorDockerContainerResourceCpu.hoge"))
                .unwrap();
        }
        let got = bed.lines(line, &bed.entry(line));
        if *expected == MEMORY_ALL {
            // The cgroup v1 statistics in name order; swap and total_swap
            // exist only where the kernel accounts swap.
            let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            assert_eq!(keys, sorted, "{line}");
            for reference in MEMORY_ALL.iter().map(|l| l.split_once(',').unwrap().0) {
                assert!(keys.contains(&reference) || reference.ends_with("swap"), "{line}: no {reference} in {keys:?}");
            }
            assert!(got.iter().all(|(_, v)| value_shape(v) == "<int>"), "{line}: {got:?}");
            continue;
        }
        assert_eq!(actual_shapes(&got), reference_shapes(expected), "{line}: {got:?}");
    }
    for (line, example) in SETTINGS {
        let got = bed.lines(line, &bed.entry(line));
        assert_eq!(actual_shapes(&got), reference_shapes(EXAMPLES[*example].1), "{line}: {got:?}");
    }
    let both: Vec<&str> = EXAMPLES[9].1.iter().chain(EXAMPLES[10].1).copied().collect();
    assert_eq!(actual_shapes(&bed.lines(DISK_SETTING, &bed.entry(DISK_SETTING))), reference_shapes(&both));
    let network = bed.lines(NETWORK_SETTING, &bed.entry(NETWORK_SETTING));
    assert_eq!(actual_shapes(&network), reference_shapes(EXAMPLES[11].1));

    // The identifiers each script printed: CPU names, memory/disk/network
    // 8-character ids, process 12-character ids.
    let cpu = bed.lines("cpu", &bed.entry(EXAMPLES[3].0));
    assert!(value_of(&cpu, &format!("cpu_usage:{}", bed.burn.name())) > 5.0, "percent of one core, not a fraction");
    let memory = bed.lines("mem", &bed.entry(EXAMPLES[7].0));
    value_of(&memory, &format!("host_mem_usage:{}", id8(&bed.idle)));
    let sent = value_of(&network, &format!("nw_txkb:{}", id8(&bed.web)));
    assert!(sent > 0.0, "the web container answered wget: {network:?}");
    let httpd = bed.lines("proc", &bed.entry(EXAMPLES[14].0));
    assert_eq!(value_of(&httpd, &format!("httpd:{}", &bed.web.id()[..12])), 3.0);
    // For each container, rx before tx; per-core lines grouped by container.
    let order: Vec<&str> = network.iter().map(|(k, _)| k.split(':').next().unwrap()).collect();
    assert!(order.chunks(2).all(|pair| pair == ["nw_rxkb", "nw_txkb"]), "{order:?}");
    let cores = bed.lines("core", &bed.entry(EXAMPLES[5].0));
    let owners: Vec<&str> = cores.iter().map(|(k, _)| k.split(':').nth(1).unwrap()).collect();
    let mut grouped = owners.clone();
    grouped.dedup();
    assert_eq!(grouped.len(), owners.iter().collect::<BTreeSet<_>>().len(), "{owners:?}");

    // -h prints the usage under the name called; a bad option exits 2 as argparse did.
    let help = bed.entry("/opt/hinemos_agent/docker/bin/MonitorDockerContainerRepositoryCPU.py -h");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("usage: MonitorDockerContainerRepositoryCPU.py [-h]"));
    let bad = bed.entry("/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceCpu -i docker_host1 --all");
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty());
    assert!(String::from_utf8_lossy(&bad.stderr).ends_with("error: argument -k is required\n"));

    // Hosts: by endpoint address and port; one kura does not collect is an
    // error naming the entry to add.
    let far =
        bed.lines("far", &bed.entry("/opt/hinemos_agent/docker/bin/MonitorDockerHostStatus.py -i 127.0.0.2 -p 1"));
    assert_eq!(far, [("Status".to_owned(), "1".to_owned())]);
    let unknown = bed.entry("/opt/hinemos_agent/docker/bin/MonitorDockerHostStatus.py -i 10.0.200.123 --count");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(unknown.stdout.is_empty());
    let why = String::from_utf8_lossy(&unknown.stderr);
    assert!(why.contains(r#"[[host]] name = "10.0.200.123" endpoint = "tcp://10.0.200.123:2375""#), "{why}");

    let several =
        bed.entry("/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceMemory.py -i docker_host1 --all");
    assert_eq!(several.status.code(), Some(1));
    assert!(several.stdout.is_empty());
    assert!(String::from_utf8_lossy(&several.stderr).contains("--all prints one container's statistics"));

    values_match_the_modern_commands(bed, runtime);
}

/// Each script `--at` a time whose samples are all written, against the
/// kura command that answers it for the same time and window.
fn values_match_the_modern_commands(bed: &Bed, runtime: &tokio::runtime::Handle) {
    let t = now_ms();
    runtime.block_on(wait_written_past(bed.data.path(), t));
    let at = rfc3339(t);
    let host = ["--host", HOST, "--at", &at];
    let legacy = |line: &str| bed.lines(line, &bed.legacy_at(&at, line));
    let modern = |args: &[&str]| {
        let all: Vec<&str> = args.iter().chain(&host).copied().collect();
        bed.lines(&all.join(" "), &bed.kura(&all))
    };
    let same = |name: &str| name.to_owned();

    same_values("status", &legacy(EXAMPLES[0].0), &modern(&["status"]), same);
    same_values("count", &legacy(EXAMPLES[1].0), &old_states(modern(&["count"])), same);
    same_values("size", &legacy(EXAMPLES[2].0), &old_states(modern(&["size"])), same);

    let window = ["--window", "5m"];
    let cpu = |more: &[&str]| modern(&[&["cpu", "--scale", "core"], &window[..], more].concat());
    same_values("cpu --all", &legacy(EXAMPLES[3].0), &cpu(&[]), same);
    same_values("cpu --with-host", &legacy(EXAMPLES[4].0), &cpu(&["--with-host"]), same);
    let per_core: Vec<(String, String)> = cpu(&["--core"]).into_iter().filter(|(k, _)| k.contains('#')).collect();
    same_values("cpu --core", &legacy(EXAMPLES[5].0), &per_core, same);
    let old_memory = |key: &str| key.replacen("mem_usage:", "host_mem_usage:", 1);
    same_values("mem", &legacy(EXAMPLES[6].0), &modern(&["mem", "--rss", "--key", "short"]), same);
    let limit = modern(&["mem", "--rss", "--key", "short", "--limit"]);
    same_values("mem --container", &legacy(EXAMPLES[7].0), &limit, old_memory);
    let per_window = ["--per-window", "--key", "short"];
    let disk = modern(&[&["disk"], &per_window[..], &window[..]].concat());
    same_values("disk", &legacy(DISK_SETTING), &disk, same);
    let net = modern(&[&["net", "--bytes"], &per_window[..], &window[..]].concat());
    same_values("net --kb", &legacy(EXAMPLES[11].0), &net, same);
    let packets = modern(&[&["net", "--packets"], &per_window[..], &window[..]].concat());
    same_values("net --pck", &legacy(EXAMPLES[12].0), &packets, same);

    // The process list and the memory statistics are kept as of their
    // newest `top` only (the store overwrites them), so `--at` a past time
    // has none: compared live, on what does not change from one `top` to
    // the next.
    let live = |args: &[&str]| {
        let all: Vec<&str> = args.iter().chain(&["--host", HOST]).copied().collect();
        bed.lines(&all.join(" "), &bed.kura(&all))
    };
    let old_proc = bed.lines("proc", &bed.entry(EXAMPLES[13].0));
    let new_proc = live(&["proc", "--key", "id"]);
    let old_httpd = bed.lines("proc httpd", &bed.entry(EXAMPLES[14].0));
    let new_httpd = live(&["proc", "--key", "id", "--prog", "httpd"]);
    for ours in [&bed.web, &bed.burn, &bed.idle] {
        let id = &ours.id()[..12];
        for (old, new, key) in
            [(&old_proc, &new_proc, format!(".*:{id}")), (&old_httpd, &new_httpd, format!("httpd:{id}"))]
        {
            assert_eq!(value_of(old, &key), value_of(new, &key), "{key}");
        }
    }
    let old_detail = bed.lines("mem --all", &bed.entry(EXAMPLES[8].0));
    let new_detail = live(&["mem", "--detail", "-n", bed.idle.name()]);
    let keys = |lines: &[(String, String)]| lines.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&old_detail), keys(&new_detail));
    let limit = "hierarchical_memory_limit";
    assert_eq!(value_of(&old_detail, limit), value_of(&new_detail, limit));
    assert_eq!(value_of(&old_detail, limit), (64u64 << 20) as f64, "the container's --memory 64m");

    // The time since the previous call with the same key is the window; a
    // call --at a past time reads it and leaves it as it was.
    let mark = bed.data.path().join("legacy").join("MonitorDockerContainerResourceCpu.at-since");
    // 20 s: well above the window's floor of three collector intervals,
    // which a loaded machine stretches.
    let previous = serde_json::to_string(&Call { at_ms: t - 20_000 }).unwrap();
    std::fs::write(&mark, &previous).unwrap();
    let since = legacy("/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceCpu.py -i docker_host1 -k since");
    same_values("cpu since the previous call", &since, &modern(&["cpu", "--scale", "core", "--window", "20s"]), same);
    assert_eq!(std::fs::read_to_string(&mark).unwrap(), previous);
    // A live call records its time and answers from the previous one on.
    let before = now_ms();
    let line = "/opt/hinemos_agent/docker/bin/MonitorDockerContainerResourceCpu -i docker_host1 -k at-since";
    value_of(&bed.lines("live", &bed.entry(line)), &format!("cpu_usage:{}", bed.burn.name()));
    let recorded: Call = serde_json::from_str(&std::fs::read_to_string(&mark).unwrap()).unwrap();
    assert!((before..=now_ms()).contains(&recorded.at_ms), "{recorded:?} not within the call");
}

/// The job examples of the reference (§4), verbatim; the report's container
/// names (`conteiner_A`, `container_D`, `conteiner*`) stand for this test's.
const JOBS: &[&str] = &[
    r#"/opt/hinemos_agent/docker/bin/JobDockerContainerCommand.py -i docker_host1 -n conteiner_A "find /root""#,
    r#"/opt/hinemos_agent/docker/bin/JobDockerContainerCommand.py -i docker_host1 -n container_A "find /root/""#,
    "/opt/hinemos_agent/docker/bin/FileDockerContainerDownload.py -i docker_host1 -n conteiner_A /root/ /tmp/20150905/",
    "/opt/hinemos_agent/docker/bin/FileDockerContainerDownload.py -i docker_host1 -n conteiner_D /root/ /tmp/20150905/",
    "/opt/hinemos_agent/docker/bin/JobDockerContainerStop.py -i docker_host1 -n conteiner*",
    "/opt/hinemos_agent/docker/bin/JobDockerContainerStart.py -i docker_host1 -n conteiner*",
    "/opt/hinemos_agent/docker/bin/JobDockerContainerRestart.py -i docker_host1 -n conteiner*",
    "/opt/hinemos_agent/docker/bin/JobDockerContainerStop.py -i docker_host1 -n container_D",
    "/opt/hinemos_agent/docker/bin/JobDockerContainerStart.py -i docker_host1 -n container_D",
    "/opt/hinemos_agent/docker/bin/JobDockerContainerRestart.py -i docker_host1 -n container_D",
    "/opt/hinemos_agent/docker/bin/JobDockerContainerRm.py -i docker_host1 -n container_D",
    "/opt/hinemos_agent/docker/bin/JobDockerContainerRm.py -f -i docker_host1 -n conteiner*",
];

/// The names of the containers whose line says `outcome`, sorted.
fn ours<'a>(lines: &'a [(String, String, String)], outcome: &str) -> Vec<&'a str> {
    let mut names: Vec<&str> = lines.iter().filter(|(_, _, o)| o == outcome).map(|(_, n, _)| n.as_str()).collect();
    names.sort_unstable();
    names
}

/// `<id12> <name> Success` (or `Skipped (<state>)`) per container, as the
/// report's job examples print; the names and ids of the lines.
fn job_lines(what: &str, output: &Output) -> Vec<(String, String, String)> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{what}: {stdout} {}", String::from_utf8_lossy(&output.stderr));
    stdout
        .lines()
        .map(|line| {
            let mut words = line.splitn(3, ' ');
            let (id, name, outcome) = (words.next().unwrap(), words.next().unwrap(), words.next().unwrap_or_default());
            assert!(id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()), "{what}: {line}");
            (id.to_owned(), name.to_owned(), outcome.to_owned())
        })
        .collect()
}

#[test]
fn every_job_example_of_the_reference_runs_through_the_installed_entries() {
    if !docker_available() {
        return;
    }
    let prefix = format!("kura-test-lgjob{}-", std::process::id());
    // A shell that ends on SIGTERM (within a second), so stop and restart do not wait 10 s.
    let with_root =
        "mkdir -p /root/.gnupg && echo x >/root/.profile && trap 'exit 0' TERM && while :; do sleep 1; done";
    let spec = |n: &str| ContainerSpec::new(&format!("lgjob{}", std::process::id())).shell(with_root).label("n", n);
    let (a, b, d) = (spec("a").start(), spec("b").start(), ContainerSpec::new("lgjob-d").shell(with_root).start());
    for c in [&a, &b] {
        assert!(c.name().starts_with(&prefix), "{}", c.name());
    }
    let data = DataDir::new();
    let config = data.path().join("kura.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[[host]]\nname = \"{HOST}\"\nendpoint = \"unix://{}\"\n",
            data.path().display(),
            testkit::docker::SOCKET
        ),
    )
    .unwrap();
    let bin = tempfile::tempdir().unwrap();
    let install = Command::new(workspace_bin("kura"))
        .args(["legacy", "--install"])
        .arg(bin.path())
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(install.status.success(), "{}", String::from_utf8_lossy(&install.stderr));
    let dest = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let run = |line: &str| {
        let line = line
            .replace(OLD_BIN, &format!("{}/", bin.path().display()))
            .replace("/tmp/20150905/", &format!("{}/", dest.path().display()))
            .replace("conteiner*", &format!("{prefix}*"))
            .replace("conteiner_A", a.name())
            .replace("container_A", a.name())
            .replace("conteiner_D", d.name())
            .replace("container_D", d.name());
        // In an empty folder, so the shell leaves `NAME*` as it is written.
        let output = Command::new("sh").arg("-c").arg(&line).current_dir(empty.path()).output();
        output.unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    let both = {
        let mut names = vec![a.name(), b.name()];
        names.sort_unstable();
        names
    };

    // Command: the command's own output and exit status.
    for (line, folder) in JOBS[..2].iter().zip(["/root", "/root/"]) {
        let output = run(line);
        assert!(output.status.success(), "{line}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim_end(), a.exec(&["find", folder]), "{line}");
    }
    let failing = run(&format!("{OLD_BIN}JobDockerContainerCommand.py -i docker_host1 -n conteiner_A \"ls /nowhere\""));
    assert_eq!(failing.status.code(), Some(1), "busybox ls exits 1 for a missing file");

    // Download: the archive's path first, then its listing.
    for line in &JOBS[2..4] {
        let output = run(line);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{line}: {}", String::from_utf8_lossy(&output.stderr));
        let archive = stdout.lines().next().unwrap();
        assert!(archive.ends_with(".tar") && Path::new(archive).is_file(), "{line}: {stdout}");
        assert!(stdout.lines().skip(1).any(|l| l.ends_with("root/.profile")), "{line}: {stdout}");
    }

    // Start, stop, restart, rm: one `<id12> <name> Success` line per container.
    let stop = job_lines(JOBS[4], &run(JOBS[4]));
    assert_eq!(ours(&stop, "Success"), both);
    for (id, name, _) in &stop {
        let c = [&a, &b].into_iter().find(|c| c.name() == name).unwrap();
        assert_eq!(id, &c.id()[..12]);
        assert_eq!(c.state().as_deref(), Some("exited"));
    }
    assert_eq!(ours(&job_lines(JOBS[5], &run(JOBS[5])), "Success"), both);
    assert_eq!(a.state().as_deref(), Some("running"));
    assert_eq!(ours(&job_lines(JOBS[6], &run(JOBS[6])), "Success"), both);
    for line in &JOBS[7..10] {
        assert_eq!(ours(&job_lines(line, &run(line)), "Success"), [d.name()], "{line}");
    }
    // The report's RM_CONTEINER_D job names a running container without -f.
    assert_eq!(ours(&job_lines(JOBS[10], &run(JOBS[10])), "Skipped (running)"), [d.name()]);
    assert_eq!(ours(&job_lines(JOBS[11], &run(JOBS[11])), "Success"), both);
    assert_eq!((a.state(), b.state()), (None, None), "removed");

    // 9 when a container failed, 1 before acting, as the 2015 jobs.
    let broken = ContainerSpec::new("lgjob-broken").flags(["--entrypoint", "/nowhere"]).create();
    let failed = run(&format!("{OLD_BIN}JobDockerContainerStart.py -i docker_host1 -n {}", broken.name()));
    assert_eq!(failed.status.code(), Some(9), "{}", String::from_utf8_lossy(&failed.stdout));
    assert!(String::from_utf8_lossy(&failed.stdout).contains(" Failed: "));
    let link = run(&format!("{OLD_BIN}JobDockerContainerRm.py -l -n {}", broken.name()));
    assert_eq!(link.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&link.stderr).contains("-l (remove the link) is not supported"));
    let unknown = run(&format!("{OLD_BIN}JobDockerContainerStop.py -i 10.0.200.204 -n {}", broken.name()));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("[[host]] name = \"10.0.200.204\""));
    let neither = run(&format!("{OLD_BIN}JobDockerContainerStop.py -i docker_host1"));
    assert_eq!(neither.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&neither.stderr).ends_with("error: one of the arguments -c -n is required\n"));
}
