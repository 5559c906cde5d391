//! Test support shared by kura's integration tests: real peers, never mocks.
//!
//! # Layout
//!
//! - [`chromium`]: Debian's Chromium, headless: a page's DOM, console and screenshot.
//! - [`docker`]: uniquely named containers on the test bed's dockerd, removed
//!   when their guard drops (even after a failed assertion), and waits for a state.
//! - [`dockerd`]: a private dockerd (own roots, pid file, socket) to restart under a collector.
//! - [`ext4`]: a small ext4 file system on a loop device that the kernel
//!   makes read-only mid-run (an ext4 error), then repaired and mounted again.
//! - [`podman`]: a private `podman system service` on the test bed's Podman
//!   storage, the second Docker-compatible daemon; stopped by pid on drop.
//! - [`proxy`]: a fault-injecting proxy in front of `docker.sock`.
//! - [`snmpd`]: a private snmpd on a free loopback port, stopped by pid on drop.
//! - [`prometheus`]: a private Prometheus scraping given targets, its PromQL
//!   API, and `promtool check metrics`.
//! - [`rsyslog`]: a private rsyslogd on free loopback ports writing to its own
//!   file, stopped by pid on drop.
//! - [`tmpfs`]: a small private tmpfs that really fills up.
//! - [`hinemos`]: a Hinemos 7 manager's repository REST API on a free
//!   loopback port, written from the manager's source (the contract: its
//!   DTOs, validation, refusals, tokens and error bodies), with knobs for
//!   what a real manager does on its own (tokens expiring, going away).
//! - [`users`]: real second users and groups (`useradd`), removed on drop,
//!   and commands run as them (`setpriv`).
//!
//! Every peer is found through [`peer_unavailable`]: when the peer is missing, a test
//! fails under `CI` (set by `.ci/run`) and is reported as skipped, loudly,
//! elsewhere.

pub mod chromium;
pub mod docker;
pub mod dockerd;
pub mod ext4;
pub mod hinemos;
pub mod net;
pub mod podman;
pub mod process;
pub mod prometheus;
pub mod proxy;
pub mod rsyslog;
pub mod snmpd;
pub mod tmpfs;
pub mod users;

use std::env;

/// Whether the tests run under CI (`CI` set to anything but `false`/`0`/empty).
pub fn under_ci() -> bool {
    env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Decides what a test does when the peer `peer` is unavailable for `reason`.
///
/// Under CI it panics with a message naming the peer: a test that needs a
/// daemon never passes silently there. Elsewhere it prints a loud `SKIPPED`
/// line on stderr and returns, so the caller can `return` from the test.
///
/// # Panics
/// Under CI, always: that is its purpose.
pub fn peer_unavailable(peer: &str, reason: &str) {
    let message =
        format!("{peer} is not available: {reason} (run scripts/testbed, which installs and starts the test peers)");
    if under_ci() {
        panic!("{message}");
    }
    eprintln!("SKIPPED (not under CI): {message}");
}
