//! The Prometheus endpoint: `GET /metrics` with cAdvisor's metric names,
//! labels and types for what kura stores, and `kura_` series of its own,
//! so that a fleet's Prometheus (or VictoriaMetrics, Thanos, Mimir) and
//! its cAdvisor dashboards can scrape kura collectors.
//!
//! Off unless `[metrics] listen` or `--metrics-listen` is set. A scrape
//! sends no request to any Docker daemon and reads no sled tree: it
//! renders [`view`]s of the newest stored sweeps, which the writer keeps
//! up to date. Samples carry no timestamps (an explicit timestamp turns
//! off Prometheus' staleness handling: removed containers would linger
//! for minutes, cadvisor#2812); counters are raw and monotonic per
//! container, as stored; no rates are exported.
//!
//! # Layout
//!
//! - [`text`]: the text exposition format 0.0.4.
//! - [`view`]: each host's newest stored sweep, loaded from the store and fed by the writer.
//! - [`lifecycle`]: restarts and OOM kills counted from events.
//! - [`telemetry`]: the collector's sweep durations and errors.
//! - [`exposition`]: one scrape: the families, their labels and values.
//! - [`http`]: the HTTP server.

pub mod exposition;
pub mod http;
pub mod lifecycle;
pub mod telemetry;
pub mod text;
pub mod view;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::write::GzEncoder;
use flate2::Compression;
use kura_store::sample::UnixMillis;

use exposition::Scrape;
pub use exposition::ServedHost;
use telemetry::Telemetry;
use view::Views;

use crate::writer::WriteCounters;

/// The endpoint's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Where it listens.
    pub listen: SocketAddr,
    /// Whether Docker labels become `container_label_*` labels.
    pub container_labels: bool,
}

/// The endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("metrics: cannot listen on {address}: {source}")]
pub struct ListenError {
    /// The address.
    pub address: SocketAddr,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Binds the endpoint's socket (at start, so that a taken port stops the
/// collector before it opens the store).
pub fn bind(address: SocketAddr) -> Result<std::net::TcpListener, ListenError> {
    let listener = std::net::TcpListener::bind(address).map_err(|source| ListenError { address, source })?;
    listener.set_nonblocking(true).map_err(|source| ListenError { address, source })?;
    Ok(listener)
}

/// What a scrape renders, and from where.
pub struct Exporter {
    /// The hosts served, in configuration order.
    pub hosts: Vec<ServedHost>,
    /// Their newest sweeps.
    pub views: Views,
    /// The collector's sweep figures.
    pub telemetry: Arc<Telemetry>,
    /// The writer's counts (`None` outside the collector).
    pub writes: Option<Arc<WriteCounters>>,
    /// The sled directory, for `kura_store_bytes`.
    pub store_path: Option<PathBuf>,
    /// Whether Docker labels become `container_label_*` labels.
    pub container_labels: bool,
    /// The time of a scrape (the wall clock, but for tests).
    pub clock: fn() -> UnixMillis,
}

impl Exporter {
    /// Writes the exposition as of now into `sink`; fails with the sink's
    /// first error.
    pub fn write<W: io::Write>(&self, sink: W) -> io::Result<W> {
        let store_bytes = self.store_path.as_deref().and_then(|path| dir_bytes(path).ok());
        let scrape = Scrape {
            hosts: &self.hosts,
            views: &self.views,
            telemetry: &self.telemetry,
            writes: self.writes.as_deref(),
            store_bytes,
            container_labels: self.container_labels,
            now: (self.clock)(),
        };
        exposition::render(&scrape, sink)
    }

    /// Writes the exposition gzipped into `sink` (level 1: the text is
    /// repetitive enough to shrink about 13 times even so).
    pub fn write_gzip<W: io::Write>(&self, sink: W) -> io::Result<W> {
        self.write(GzEncoder::new(sink, Compression::fast()))?.finish()
    }

    /// What the exposition depends on now: while it stays the same, so
    /// does the exposition (the endpoint keeps the gzipped one that long).
    pub fn version(&self) -> Version {
        let now = (self.clock)();
        Version {
            views: self.views.generation(),
            telemetry: self.telemetry.generation(),
            writes: self.writes.as_deref().map(|w| (w.refused(), w.dropped())),
            store_bytes: self.store_path.as_deref().and_then(|path| dir_bytes(path).ok()),
            fresh: self.hosts.iter().map(|host| exposition::fresh_view(&self.views, host, now).is_some()).collect(),
        }
    }

    /// The exposition as of now, as text.
    pub fn render(&self) -> String {
        // Writing into a Vec cannot fail, and the text is UTF-8.
        let bytes = self.write(Vec::new()).unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }
}

/// What an exposition depends on besides the clock (which matters only
/// where a host turns stale): equal versions, equal expositions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    views: u64,
    telemetry: u64,
    writes: Option<(u64, u64)>,
    store_bytes: Option<u64>,
    fresh: Vec<bool>,
}

/// The bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        total += if kind.is_dir() { dir_bytes(&entry.path())? } else { entry.metadata()?.len() };
    }
    Ok(total)
}
