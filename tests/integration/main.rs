//! kura integration tests against real peers (dockerd, snmpd, rsyslog).

// A test binary: its helpers may unwrap too (clippy.toml allows it in
// `#[test]` functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cgroupfs;
mod collector;
mod daemon_restart;
mod disk_full;
mod faults;
mod forward;
mod foundation;
mod legacy;
mod many;
mod nodes;
mod ops;
mod podman;
mod prometheus;
mod query;
mod read_only;
mod renames;
mod resets;
mod sizing;
mod snmp;
mod store_damage;
mod syslog;
mod tls;
mod transitions;
mod users;
