//! Stores written by older formats keep working: each fixture under
//! `fixtures/` holds a store written by an older main and what that main's
//! `kura` printed on it for each command (`expected/CASE.txt`); today's
//! `kura` must print the same bytes.
//!
//! - `compat-v1`: format 1, main at 4e3340f (before the store became its
//!   own crate), the commands of [`AS_OF`].
//! - `compat-v2`: format 2 (blocks of layout 1), main at ffb6900, the
//!   commands of [`AS_OF`] and [`SPANS`].

// A test binary: its helpers may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::AS_OF;

/// When the fixtures' history ends (their last sweep is 10 s before).
const END: &str = "2026-01-01T03:00:00Z";

/// Commands over the whole history (`--since` the fixtures' start
/// `--until` [`END`] in their arguments) and others 4e3340f did not have.
const SPANS: &[(&str, &[&str])] = &[
    ("transitions", &["transitions", "--since", START, "--until", END]),
    ("transitions-summary", &["transitions", "--since", START, "--until", END, "--summary"]),
    ("events", &["events", "--since", START, "--until", END]),
    ("export-csv", &["export", "--since", START, "--until", END, "--step", "1h"]),
    (
        "export-jsonl",
        &["export", "--since", START, "--until", END, "--step", "30m", "--format", "jsonl", "-n", "sim-001"],
    ),
    (
        "report-svg",
        &["report", "--since", START, "--until", END, "--format", "svg", "-n", "sim-001", "--metric", "cpu"],
    ),
    ("restarts", &["restarts", "--at", END, "--window", "3h"]),
    ("oom", &["oom", "--at", END, "--window", "3h"]),
    ("states", &["states", "--at", END]),
];

/// When the fixtures' history starts.
const START: &str = "2026-01-01T00:00:00Z";

/// A fixture store and the commands its expected outputs cover.
struct Fixture {
    /// Its directory under `fixtures/`.
    name: &'static str,
    /// The format version that wrote it.
    format: u32,
    /// Whether it has the expected outputs of [`SPANS`] too.
    spans: bool,
}

const FIXTURES: &[Fixture] =
    &[Fixture { name: "compat-v1", format: 1, spans: false }, Fixture { name: "compat-v2", format: 2, spans: true }];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(name)
}

/// A private copy of a fixture store (sled opens it for writing).
fn unpacked(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(fixture(name).join("store.tar.gz"))
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "tar could not unpack the fixture store {name}");
    dir
}

#[test]
fn every_command_prints_what_the_format_that_wrote_the_store_printed() {
    let mut failures = Vec::new();
    for fixture in FIXTURES {
        let store = unpacked(fixture.name);
        let data = store.path().display().to_string();
        let as_of = AS_OF.iter().map(|(case, args)| (case, args.to_vec(), true));
        let spans = SPANS.iter().filter(|_| fixture.spans).map(|(case, args)| (case, args.to_vec(), false));
        for (case, args, as_of) in as_of.chain(spans) {
            let mut command = Command::new(env!("CARGO_BIN_EXE_kura"));
            command.args(&args).args(["--data", &data]);
            if as_of {
                command.args(["--at", END, "--max-bytes", "0"]);
            }
            let output = command.output().unwrap();
            let name = format!("{}/{case}", fixture.name);
            assert!(output.status.success(), "{name}: kura failed: {}", String::from_utf8_lossy(&output.stderr));
            let expected =
                std::fs::read_to_string(self::fixture(fixture.name).join("expected").join(format!("{case}.txt")))
                    .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(!expected.is_empty(), "{name}: the expected output is empty");
            if stdout != expected {
                failures.push(format!("{name}: printed\n{stdout}\nformat {} printed\n{expected}", fixture.format));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A format 1 store kept only the newest processes and memory statistics
/// (`latest`): as of an earlier time there are none, and `kura` says so
/// rather than answering with newer ones.
#[test]
fn as_of_the_middle_a_format_1_store_has_no_older_processes_or_memory_statistics() {
    let store = unpacked("compat-v1");
    let data = store.path().display().to_string();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kura"))
            .args(args)
            .args(["--data", &data, "--at", "2026-01-01T01:30:00Z", "--max-bytes", "0"])
            .output()
            .unwrap()
    };
    let proc = run(&["proc", "--prog", "httpd", "-n", "sim-001"]);
    assert!(proc.stdout.is_empty(), "{}", String::from_utf8_lossy(&proc.stdout));
    assert!(String::from_utf8_lossy(&proc.stderr).contains("no process list stored"));
    let detail = run(&["mem", "--detail", "-n", "sim-001"]);
    assert_eq!(detail.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&detail.stderr).contains("no memory statistics stored as of then"));
}
