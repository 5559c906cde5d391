//! kura's collector daemon: samples every container of every configured
//! Docker host into kura's store ([`kura_store`]) and lends the store to
//! queries on its socket.
//!
//! # Layout
//!
//! - [`clock`]: the collector's clock, which never goes back, and each daemon's offset from it.
//! - [`config`]: the shared settings ([`kura_store::config`]) -> validated hosts with TLS and SNMP.
//! - [`docker`]: the read-only HTTP client for a Docker endpoint (the only module that speaks HTTP to Docker).
//! - [`api`]: the Docker API documents kura parses (list, inspect, version, images); stored ones are [`kura_store::payload`].
//! - [`stats`]: stats documents (cgroup v1, v2, the 2015 form) -> [`kura_store::sample::Sample`].
//! - [`snmp`]: UCD-SNMP-MIB memory and CPU readings of a host.
//! - [`sweep`]: one round over one host.
//! - [`events`]: each host's `/events` stream, resumed without loss.
//! - [`batch`]: a sweep's outcome -> the store's batch.
//! - [`forward`]: `[[forward]]`: events, transitions and states sent to a syslog receiver as they are stored.
//! - [`retention`]: where pruning cuts, guarded against clocks that jump.
//! - [`writer`]: the thread that owns and writes the store, reopening it after refused writes.
//! - [`nodes`]: Hinemos' node repository kept in step on `[hinemos] interval` (kura-nodes' plan and apply).
//! - [`metrics`]: the Prometheus endpoint (`GET /metrics`, cAdvisor's names) from the newest stored sweeps.
//! - [`daemon`]: intervals, the socket server, shutdown.

pub mod api;
pub mod batch;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod docker;
pub mod events;
pub mod forward;
pub mod metrics;
pub mod nodes;
pub mod retention;
pub mod snmp;
pub mod stats;
pub mod sweep;
pub mod writer;
