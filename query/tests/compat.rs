//! Stores written by format version 1 keep working: the store in
//! `fixtures/compat-v1/` was written by main at 4e3340f (before the store
//! became its own crate), and every command prints on it what that commit's
//! `kura` printed (`fixtures/compat-v1/expected/`).

// A test binary: its helpers may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// When the fixture's history ends (its last sweep is 10 s before).
const END: &str = "2026-01-01T03:00:00Z";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/compat-v1")
}

/// A private copy of the fixture store (sled opens it for writing).
fn unpacked() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status =
        Command::new("tar").arg("-xzf").arg(fixture().join("store.tar.gz")).arg("-C").arg(dir.path()).status().unwrap();
    assert!(status.success(), "tar could not unpack the fixture store");
    dir
}

#[test]
fn every_command_prints_what_format_1_printed() {
    let store = unpacked();
    let cases: &[(&str, &[&str])] = &[
        ("status", &["status"]),
        ("count", &["count"]),
        ("size", &["size"]),
        ("cpu", &["cpu"]),
        ("cpu-core", &["cpu", "--scale", "core", "--core"]),
        ("cpu-with-host", &["cpu", "--with-host", "--key", "short"]),
        ("mem", &["mem"]),
        ("mem-limit-rss", &["mem", "--limit", "--rss"]),
        ("mem-with-host", &["mem", "--with-host", "-n", "sim-01*"]),
        ("mem-detail", &["mem", "--detail", "-n", "sim-001"]),
        ("disk", &["disk", "--window", "1m"]),
        ("disk-per-window", &["disk", "--per-window", "--write"]),
        ("net", &["net", "--key", "id"]),
        ("net-packets", &["net", "--packets", "--per-window", "--rx"]),
        ("proc", &["proc", "--prog", "httpd", "--args=-f"]),
        ("ps", &["ps", "--all"]),
        ("cpu-table", &["cpu", "--format", "table", "-n", "sim-01*"]),
        ("cpu-json", &["cpu", "--format", "json", "-n", "sim-01*"]),
    ];
    let mut failures = Vec::new();
    for (case, args) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_kura"))
            .args(*args)
            .args(["--data", &store.path().display().to_string(), "--at", END, "--max-bytes", "0"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{case}: kura failed: {}", String::from_utf8_lossy(&output.stderr));
        let expected = std::fs::read_to_string(fixture().join("expected").join(format!("{case}.txt"))).unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!expected.is_empty(), "{case}: the expected output is empty");
        if stdout != expected {
            failures.push(format!("{case}: printed\n{stdout}\nformat 1 printed\n{expected}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A format 1 store kept only the newest processes and memory statistics
/// (`latest`): as of an earlier time there are none, and `kura` says so
/// rather than answering with newer ones.
#[test]
fn as_of_the_middle_a_format_1_store_has_no_older_processes_or_memory_statistics() {
    let store = unpacked();
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
