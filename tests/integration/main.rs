//! kura integration tests against real peers (dockerd, snmpd, rsyslog).

// A test binary: its helpers may unwrap too (clippy.toml allows it in
// `#[test]` functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod collector;
mod disk_full;
mod foundation;
mod query;
mod sizing;
mod snmp;
mod store_damage;
mod syslog;
mod tls;
