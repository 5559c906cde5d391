//! kura's collector: samples every container of every configured Docker host
//! into an embedded sled store, and the reader API that queries use.
//!
//! # Layout
//!
//! - [`duration`]: `10s`, `5m`, `35d` as operators write them.
//! - [`host`]: a host's SNMP readings and size sweeps.
//! - [`paths`]: the default data folder.
//! - [`sample`]: the model: a container's state and raw counters at one instant.
//! - [`simulate`]: realistic simulated history, written through the real store.
//! - [`stats`]: stats documents (cgroup v1, v2, the 2015 form) -> [`sample::Sample`].
//! - [`api`]: the other Docker API documents kura reads (list, inspect, top, info, events).
//! - [`store`]: the sled store: layout, keys, the sample codec, retention, the reader API
//!   and its two transports (direct open, the collector's unix socket).
//! - `config` (feature `daemon`): config file and flags -> validated host list.
//! - `docker` (feature `daemon`): the read-only HTTP client for a Docker endpoint.
//! - `snmp` (feature `daemon`): UCD-SNMP-MIB memory and CPU readings of a host.
//! - `sweep` (feature `daemon`): one round over one host.
//! - `events` (feature `daemon`): each host's `/events` stream, resumed without loss.
//! - `record` (feature `daemon`): a sweep's outcome -> the store's batch.
//! - `daemon` (feature `daemon`): intervals, the socket server, shutdown.
//! - `writer` (feature `daemon`): the thread that owns and writes the store, reopening it after refused writes.
//!
//! Without the default `daemon` feature the crate is the model, the parsers and
//! the store: what the `kura` CLI links, without tokio or an HTTP client.

pub mod api;
pub mod duration;
pub mod host;
pub mod paths;
pub mod sample;
pub mod simulate;
pub mod stats;
pub mod store;

#[cfg(feature = "daemon")]
pub mod config;
#[cfg(feature = "daemon")]
pub mod daemon;
#[cfg(feature = "daemon")]
pub mod docker;
#[cfg(feature = "daemon")]
pub mod events;
#[cfg(feature = "daemon")]
pub mod record;
#[cfg(feature = "daemon")]
pub mod snmp;
#[cfg(feature = "daemon")]
pub mod sweep;
#[cfg(feature = "daemon")]
pub mod writer;
