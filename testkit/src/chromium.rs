//! Debian's Chromium, headless, on files of the test: the DOM after load,
//! what the page logged to its console, and a screenshot. Each run has its
//! own empty profile and the flags that keep it off the network.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::{have_program, stop, wait_until};

/// The browser, as Debian's package installs it.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Why Chromium cannot run here, if it cannot.
pub fn available() -> Result<(), String> {
    if have_program(CHROMIUM) {
        Ok(())
    } else {
        Err(format!("{CHROMIUM} is missing (Debian package chromium)"))
    }
}

/// What one headless run of a page gave.
#[derive(Debug)]
pub struct Page {
    /// The DOM after the page loaded (`--dump-dom`).
    pub dom: String,
    /// Console messages and uncaught errors the page logged.
    pub console: Vec<String>,
}

/// Loads `file` and returns its DOM and console messages; writes a
/// screenshot of `size` to `screenshot`.
///
/// # Panics
/// When Chromium cannot be started or does not finish within a minute.
pub fn load(file: &Path, screenshot: &Path, size: (u32, u32)) -> Page {
    let url = format!("file://{}", file.display());
    let dump = run(&["--dump-dom", "--enable-logging=stderr", "--v=0", &url]);
    let console = dump
        .1
        .lines()
        .filter(|line| line.contains("CONSOLE") || line.contains("Uncaught"))
        .map(str::to_owned)
        .collect();
    let shot = format!("--screenshot={}", screenshot.display());
    let window = format!("--window-size={},{}", size.0, size.1);
    run(&[&shot, &window, &url]);
    assert!(screenshot.is_file(), "chromium wrote no screenshot to {}", screenshot.display());
    Page { dom: dump.0, console }
}

/// Runs Chromium headless with `args`; its stdout and stderr.
fn run(args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("chromium profile folder: {e}"));
    let out = profile.path().join("stdout");
    let err = profile.path().join("stderr");
    let file = |path: &Path| std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().join("profile").display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(file(&out))
        .stderr(file(&err))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
    let finished = wait_until(Duration::from_secs(60), || matches!(child.try_wait(), Ok(Some(_))));
    stop(&mut child);
    assert!(finished, "chromium did not finish within 60 s: {}", crate::process::read_lossy(&err));
    (crate::process::read_lossy(&out), crate::process::read_lossy(&err))
}
