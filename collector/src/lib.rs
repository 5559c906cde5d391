//! kura's collector daemon: samples every container of every configured
//! Docker host into kura's store ([`kura_store`]) and lends the store to
//! queries on its socket.
//!
//! # Layout
//!
//! - [`config`]: the shared settings ([`kura_store::config`]) -> validated hosts with TLS and SNMP.
//! - [`docker`]: the read-only HTTP client for a Docker endpoint (the only module that speaks HTTP to Docker).
//! - [`api`]: the Docker API documents kura parses (list, inspect, version, images); stored ones are [`kura_store::payload`].
//! - [`stats`]: stats documents (cgroup v1, v2, the 2015 form) -> [`kura_store::sample::Sample`].
//! - [`snmp`]: UCD-SNMP-MIB memory and CPU readings of a host.
//! - [`sweep`]: one round over one host.
//! - [`events`]: each host's `/events` stream, resumed without loss.
//! - [`batch`]: a sweep's outcome -> the store's batch.
//! - [`writer`]: the thread that owns and writes the store, reopening it after refused writes.
//! - [`metrics`]: the Prometheus endpoint (`GET /metrics`, cAdvisor's names) from the newest stored sweeps.
//! - [`daemon`]: intervals, the socket server, shutdown.

pub mod api;
pub mod batch;
pub mod config;
pub mod daemon;
pub mod docker;
pub mod events;
pub mod metrics;
pub mod snmp;
pub mod stats;
pub mod sweep;
pub mod writer;
