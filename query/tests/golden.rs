//! Golden files for every command's output, against a store filled by the
//! deterministic simulator (two hours of 12 containers at 10 s, SNMP,
//! processes, memory statistics and sizes included), read as of the end of
//! that history and as of its middle (`--at`, a past time).
//!
//! Each output is compared byte for byte with `tests/golden/<case>.txt`
//! (`tests/golden/mid/<case>.txt` as of the middle), and
//! every `key,value` output is parsed back with the `csv` crate and checked
//! against Hinemos' line rules. `KURA_UPDATE_GOLDEN=1 cargo test -p
//! kura-query --test golden` rewrites the files after a deliberate change.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use kura_store::simulate::{Simulation, Simulator};
use kura_store::{Store, StoreOptions};

/// When the simulated history ends (its last sweep is 10 s before).
const END: &str = "2026-01-01T02:00:00Z";
/// The middle of the simulated history.
const MID: &str = "2026-01-01T01:00:05Z";

fn spec() -> Simulation {
    Simulation { sweeps: 720, ..Simulation::days(12, 1, 10_000) }
}

fn simulated_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let spec = spec();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap_or_else(|e| panic!("open: {e}"));
    Simulator::new(spec).run(&store).unwrap_or_else(|e| panic!("simulate: {e}"));
    drop(store);
    dir
}

fn golden(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{case}.txt"))
}

/// Runs `kura ARGS --at AT` on the store; its stdout.
fn kura_at(store: &Path, args: &[&str], at: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(args)
        .args(["--data", &store.display().to_string(), "--at", at, "--max-bytes", "0"])
        .output()
        .unwrap_or_else(|e| panic!("running kura: {e}"));
    assert!(output.status.success(), "{args:?} --at {at}: kura failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Hinemos 6.0's stricter rule, `^([^,]+),([0-9.]+)$`, implies 6.1's.
fn hinemos_line(line: &str) -> bool {
    match line.split_once(',') {
        Some((key, value)) => {
            !key.is_empty() && !value.is_empty() && value.chars().all(|c| c.is_ascii_digit() || c == '.')
        }
        None => false,
    }
}

#[test]
fn every_command_matches_its_golden_file() {
    let store = simulated_store();
    let cases = common::AS_OF;
    let update = std::env::var_os("KURA_UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let at_both = [END, MID].iter().flat_map(|at| cases.iter().map(move |(case, args)| (*at, *case, *args)));
    for (at, case, args) in at_both {
        let stdout = kura_at(store.path(), args, at);
        assert!(!stdout.is_empty(), "{case} --at {at}: no output");
        let path = if at == MID { golden(&format!("mid/{case}")) } else { golden(case) };
        if update {
            std::fs::write(&path, &stdout).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if stdout != expected {
            failures.push(format!("{case}: output differs from {}:\n{stdout}", path.display()));
        }
        if ["ps", "cpu-table", "cpu-json"].contains(&case) {
            continue;
        }
        let mut keys = std::collections::HashSet::new();
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(stdout.as_bytes());
        for record in reader.records() {
            let record = record.unwrap_or_else(|e| panic!("{case}: not CSV: {e}"));
            assert_eq!(record.len(), 2, "{case}: {record:?}");
            assert!(record[1].parse::<f64>().is_ok_and(f64::is_finite), "{case}: value {:?}", &record[1]);
            assert!(keys.insert(record[0].to_owned()), "{case}: duplicate key {}", &record[0]);
        }
        for line in stdout.lines() {
            assert!(hinemos_line(line), "{case}: {line:?} breaks Hinemos' line rule");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// As of the middle of the history, `kura proc` and `kura mem --detail`
/// answer from what was read before then, not from the newest readings,
/// checked against the simulator itself: the processes of the last `top`
/// before then (each container's comes once a minute, spread over the
/// sweeps), the memory statistics the store keeps of then (the first
/// reading, then one at least an hour after the last kept).
#[test]
fn as_of_the_middle_proc_and_mem_detail_answer_what_was_read_last_before_then() {
    let store = simulated_store();
    let mid = chrono::DateTime::parse_from_rfc3339(MID).unwrap_or_else(|e| panic!("{e}")).timestamp_millis();
    let mut simulator = Simulator::new(spec());
    let mut last_top = std::collections::BTreeMap::new();
    let mut last_memory = None;
    let mut kept_at = None;
    let mut changed_since = std::collections::BTreeSet::new();
    while let Some(batch) = simulator.next_sweep() {
        for container in &batch.containers {
            let Some(latest) = &container.latest else { continue };
            let name = container.info.name.clone();
            let top = latest.top.clone().unwrap_or_default();
            if batch.sweep.time <= mid {
                let due = kept_at.is_none_or(|kept: i64| batch.sweep.time >= kept + 3_600_000);
                if name == "sim-001" && due {
                    last_memory.clone_from(&latest.memory_stats);
                    kept_at = Some(batch.sweep.time);
                }
                last_top.insert(name, top);
            } else if last_top.get(&name).is_some_and(|before| before.processes.len() != top.processes.len()) {
                changed_since.insert(name);
            }
        }
    }
    assert!(!changed_since.is_empty(), "some process list changes after the middle: the test tells old from new");
    let expected: String = last_top
        .iter()
        .filter_map(|(name, top)| {
            let n = top.processes.iter().filter(|row| row.last().is_some_and(|cmd| cmd.contains("httpd -f"))).count();
            (n > 0).then(|| format!("httpd:{name},{n}\n"))
        })
        .collect();
    assert_eq!(kura_at(store.path(), &["proc", "--prog", "httpd", "--args=-f"], MID), expected);
    let memory = last_memory.unwrap_or_else(|| panic!("sim-001 has memory statistics before the middle"));
    let expected: String = memory.iter().map(|(name, value)| format!("{name},{value}\n")).collect();
    assert_eq!(kura_at(store.path(), &["mem", "--detail", "-n", "sim-001"], MID), expected);
    assert_ne!(kura_at(store.path(), &["mem", "--detail", "-n", "sim-001"], END), expected, "the newest differ");
}

/// Every bad input: nothing on stdout, one line on stderr, its own message,
/// the documented status (2 for what clap refuses, 1 for the rest).
#[test]
fn bad_inputs_get_one_line_on_stderr_and_nothing_on_stdout() {
    let store = simulated_store();
    let data = store.path().display().to_string();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["cpu", "--at", "2099-01-01T00:00:00Z"], 1, "is in the future"),
        (&["cpu", "--at", "yesterday"], 1, "--at \"yesterday\""),
        (&["cpu", "--at", "2025-01-01T00:00:00Z"], 1, "has no sweep yet"),
        (&["cpu", "--at", "2026-01-02T00:00:00Z"], 1, "is kura-collector running?"),
        (&["cpu", "--at", END, "--host", "nope"], 1, "unknown host \"nope\""),
        (&["cpu", "--at", END, "-n", "nothing*"], 1, "matches -n nothing*"),
        (&["cpu", "--at", END, "--window", "0s"], 1, "--window"),
        (&["proc", "--at", END, "--prog", "("], 1, "regex parse error"),
        (&["cpu", "--at", END, "-n", "a", "-c", "b"], 2, "cannot be used with"),
        (&["cpu", "--at", END, "--key", "bogus"], 2, "invalid value 'bogus'"),
    ];
    for (args, status, message) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_kura"))
            .args(*args)
            .args(["--data", &data])
            .output()
            .unwrap_or_else(|e| panic!("running kura: {e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(*status), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}: printed {:?}", String::from_utf8_lossy(&output.stdout));
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        if *status == 1 {
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
            assert!(stderr.starts_with("kura: "), "{args:?}: {stderr}");
        }
    }
    let missing = Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["cpu", "--data", &store.path().join("nothing-here").display().to_string()])
        .output()
        .unwrap_or_else(|e| panic!("running kura: {e}"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no store at"));
}

/// The history export of the same simulated store: CSV with a header row,
/// read back by the `csv` crate, byte for byte as `tests/golden/export.csv`;
/// JSON Lines with the same columns; and README's column table naming
/// exactly the header's columns, in order.
#[test]
fn the_export_matches_its_golden_file_and_the_readme() {
    let store = simulated_store();
    let data = store.path().display().to_string();
    let args = ["export", "--data", &data, "--since", "2026-01-01T01:00:00Z", "--until", "2026-01-01T01:30:00Z"];
    let run = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_kura")).args(args).args(extra).output().unwrap();
        assert!(output.status.success(), "kura export failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let csv_text = run(&["--step", "10m", "--agg", "avg,max,p95", "--hosts", "-n", "sim-00*"]);
    let path = golden("export").with_extension("csv");
    if std::env::var_os("KURA_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &csv_text).unwrap();
    }
    assert_eq!(csv_text, std::fs::read_to_string(&path).unwrap_or_default(), "differs from {}", path.display());

    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    // 10 containers x 3 buckets, then the host's 3.
    assert_eq!(records.len(), 10 * 3 + 3);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    for record in &records[..30] {
        assert_eq!(record.len(), header.len());
        assert!(record[column("time")].ends_with('Z'));
        let state = &record[column("state")];
        let cpu = &record[column("cpu_pct_avg")];
        if state == "running" {
            let cpu: f64 = cpu.parse().unwrap();
            assert!((0.0..=100.0).contains(&cpu), "{cpu}");
            let (avg, max): (f64, f64) =
                (record[column("mem_bytes_avg")].parse().unwrap(), record[column("mem_bytes_max")].parse().unwrap());
            assert!(avg <= max);
        } else {
            assert_eq!(cpu, "", "a stopped container has an empty cell, never a zero");
        }
        assert_eq!(&record[column("host_up_pct")], "");
    }
    let host_row = &records[30];
    assert_eq!((&host_row[column("container")], &host_row[column("host_up_pct")]), ("", "100.00"));
    assert_eq!(&host_row[column("containers_exited")], "1");

    let jsonl = run(&["--step", "10m", "--agg", "avg,max,p95", "--hosts", "-n", "sim-00*", "--format", "jsonl"]);
    let lines: Vec<serde_json::Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), records.len());
    let keys: Vec<&str> = lines[0].as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted_header: Vec<&str> = header.iter().map(String::as_str).collect();
    sorted_header.sort_unstable();
    assert_eq!(keys, sorted_header, "the same columns");

    // README's table lists the columns as `name` in its first cell, in
    // header order, with `<agg>` standing for each aggregate.
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let table =
        readme.split("<!-- export columns -->").nth(1).unwrap_or_else(|| panic!("README has no export column table"));
    let documented: Vec<String> = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect();
    let expanded: Vec<String> = documented
        .iter()
        .flat_map(|name| match name.strip_suffix("_<agg>") {
            Some(metric) => ["avg", "max", "p95"].iter().map(|agg| format!("{metric}_{agg}")).collect(),
            None => vec![name.clone()],
        })
        .collect();
    assert_eq!(expanded, header, "README's column table and the header differ");
}
