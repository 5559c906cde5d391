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

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// The exposition as of now.
    pub fn render(&self) -> String {
        let store_bytes = self.store_path.as_deref().and_then(|path| dir_bytes(path).ok());
        exposition::render(&Scrape {
            hosts: &self.hosts,
            views: &self.views,
            telemetry: &self.telemetry,
            writes: self.writes.as_deref(),
            store_bytes,
            container_labels: self.container_labels,
            now: (self.clock)(),
        })
    }

    /// The response body: the exposition, gzipped when asked.
    pub fn body(&self, gzip: bool) -> Vec<u8> {
        let text = self.render();
        if !gzip {
            return text.into_bytes();
        }
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::with_capacity(text.len() / 8), flate2::Compression::fast());
        // Writing into a Vec cannot fail.
        let _ = encoder.write_all(text.as_bytes());
        encoder.finish().unwrap_or_default()
    }
}

/// The bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        total += if kind.is_dir() { dir_bytes(&entry.path())? } else { entry.metadata()?.len() };
    }
    Ok(total)
}
