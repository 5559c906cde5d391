//! The collector's life: open the store, serve it on the socket, sweep every
//! host on its interval, follow every host's events, prune old history, and
//! stop cleanly on SIGTERM/SIGINT (the sweep in progress is abandoned, what
//! was written is flushed, the exit status is 0).
//!
//! Writes go through one writer thread ([`crate::writer`]), which owns the
//! store and keeps sweeps in memory while the store refuses writes.

use std::future::Future;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use crate::config::{Config, ConfigError, HostConfig};
use crate::docker::DockerClient;
use crate::events::{self, EventBuffer};
use crate::metrics::telemetry::Telemetry;
use crate::metrics::view::Views;
use crate::metrics::{self, Exporter, ListenError, ServedHost};
use crate::sweep::HostSampler;
use crate::writer::{Job, OnStored, Writer, WriterError};
use kura_store::sample::UnixMillis;
use kura_store::socket::{self, HandleSlot, ServerLimits, Shutdown};
use kura_store::{Reader, Store, StoreError, StoreOptions};
/// How long a store locked by a reader (not a collector) is waited for.
const LOCK_WAIT: Duration = Duration::from_secs(5);
/// How often old history is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Why the collector stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Another collector holds the store.
    #[error("{0} (only one collector may use a data folder)")]
    Locked(StoreError),
    /// The store could not be opened or served.
    #[error(transparent)]
    Store(StoreError),
    /// The writer failed to flush at the end, or panicked.
    #[error(transparent)]
    Writer(#[from] WriterError),
    /// The store refused writes until the collector stopped.
    #[error("stopped with {count} sweeps the store at {path} refused; they are lost", path = .dir.display())]
    Unwritten {
        /// The data directory.
        dir: std::path::PathBuf,
        /// Sweeps lost.
        count: u64,
    },
    /// The runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The metrics endpoint could not listen.
    #[error(transparent)]
    Listen(#[from] ListenError),
}

impl From<StoreError> for DaemonError {
    fn from(error: StoreError) -> DaemonError {
        match error {
            StoreError::Locked { .. } | StoreError::Socket { .. } => DaemonError::Locked(error),
            other => DaemonError::Store(other),
        }
    }
}

/// Runs the collector until SIGTERM/SIGINT (or one sweep with `once`), on a
/// runtime of its own.
pub fn run_main(config: Config, once: bool) -> Result<(), DaemonError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    runtime.block_on(async {
        // Listening before the store is opened (sled's recovery of a large
        // log takes seconds): a signal meanwhile stops the collector as
        // soon as it is open, cleanly, instead of killing it.
        let stop = termination();
        run(config, once, stop).await
    })
}

/// Listens for SIGTERM and SIGINT now; the future resolves on either.
fn termination() -> impl Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            (Ok(mut one), Err(_)) | (Err(_), Ok(mut one)) => {
                one.recv().await;
            }
            // No handler could be installed: the default actions apply.
            (Err(_), Err(_)) => std::future::pending().await,
        }
    }
}

/// The wall clock, in Unix milliseconds.
pub fn now_millis() -> UnixMillis {
    chrono::Utc::now().timestamp_millis()
}

/// Runs the collector until `shutdown` resolves (or one sweep with `once`).
pub async fn run(config: Config, once: bool, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    // A taken port stops the collector before it touches the store.
    let metrics = match &config.metrics {
        Some(settings) if !once => Some((*settings, metrics::bind(settings.listen)?)),
        _ => None,
    };
    let store = open_store(&config.data_dir).await?;
    let reader = Reader::Handle(store.read_handle());
    let last_events = last_event_times(&reader, &config.hosts);
    let views = match &metrics {
        Some(_) => {
            let hosts: Vec<String> = config.hosts.iter().map(|h| h.name.clone()).collect();
            let loaded = tokio::task::spawn_blocking(move || Views::load(&reader, hosts.iter().map(String::as_str)));
            Some(loaded.await.map_err(|e| DaemonError::Runtime(std::io::Error::other(e)))??)
        }
        None => None,
    };
    tracing::info!(data = %config.data_dir.display(), hosts = config.hosts.len(), "store open");
    let listener = socket::bind(&config.data_dir)?;
    let server_shutdown = Shutdown::for_listener(&listener)
        .map_err(|source| StoreError::Io { path: config.data_dir.join(socket::SOCKET_FILE), source })?;
    let slot = HandleSlot::new(store.read_handle());
    let server = {
        let (slot, stop) = (slot.clone(), server_shutdown.clone());
        std::thread::spawn(move || socket::serve(listener, slot, stop, ServerLimits::default()))
    };
    let store_path = store.path().to_path_buf();
    let on_stored: OnStored = match &views {
        Some(views) => {
            let views = views.clone();
            Box::new(move |batch, report| views.apply(batch, report))
        }
        None => Box::new(|_, _| {}),
    };
    let writer = Writer::spawn(store, slot, on_stored);
    let telemetry = Arc::new(Telemetry::default());

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    if let (Some((settings, listener)), Some(views)) = (metrics, views) {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|source| ListenError { address: settings.listen, source })?;
        let exporter = Exporter {
            hosts: config.hosts.iter().map(|h| ServedHost { name: h.name.clone(), interval: h.interval }).collect(),
            views,
            telemetry: Arc::clone(&telemetry),
            writes: Some(writer.counters()),
            store_path: Some(store_path),
            container_labels: settings.container_labels,
            clock: now_millis,
        };
        tracing::info!(listen = %settings.listen, "serving GET /metrics");
        tasks.spawn(metrics::http::serve(listener, Arc::new(exporter), stop_rx.clone()));
    }
    for host in &config.hosts {
        let buffer = EventBuffer::new(last_events.get(&host.name).copied().flatten());
        let sampler = match HostSampler::new(host.clone()) {
            Ok(sampler) => sampler,
            Err(e) => {
                // Caught by config validation already; kept for safety.
                tracing::error!(host = %host.name, "{e}");
                continue;
            }
        };
        if once {
            tasks.spawn(sweep_once(sampler, buffer, writer.sender()));
        } else {
            tasks.spawn(events::follow(host_client(host), host.name.clone(), buffer.clone(), stop_rx.clone()));
            tasks.spawn(sweep_loop(sampler, buffer, writer.sender(), Arc::clone(&telemetry), stop_rx.clone()));
        }
    }
    if !once {
        tasks.spawn(prune_loop(config.retention, writer.sender(), stop_rx.clone()));
        tokio::select! {
            _ = shutdown => tracing::info!("stopping: signal received"),
            _ = wait_all(&mut tasks) => {}
        }
        let _ = stop_tx.send(true);
    }
    // Sweeps in progress end at their next await point; give them a moment.
    let drained = tokio::time::timeout(Duration::from_secs(5), wait_all(&mut tasks)).await;
    if drained.is_err() {
        tasks.abort_all();
    }
    let report = writer.finish();
    server_shutdown.trigger();
    let _ = server.join();
    let report = report?;
    tracing::info!(
        written = report.written,
        dropped = report.dropped,
        reopened = report.reopened,
        "stopped; the store is flushed"
    );
    match report.unwritten {
        0 => Ok(()),
        count => Err(DaemonError::Unwritten { dir: config.data_dir.clone(), count }),
    }
}

/// Opens the store for writing. A store locked by a process whose socket
/// answers is another collector: refused at once. A store locked without a
/// socket is a `kura` query reading it directly for a moment: retried for
/// up to [`LOCK_WAIT`].
async fn open_store(dir: &std::path::Path) -> Result<Store, DaemonError> {
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    loop {
        match Store::open(dir, StoreOptions::default()) {
            Err(StoreError::Locked { path }) => {
                let collector = std::os::unix::net::UnixStream::connect(dir.join(socket::SOCKET_FILE)).is_ok();
                if collector || tokio::time::Instant::now() >= deadline {
                    return Err(DaemonError::Locked(StoreError::Locked { path }));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return Ok(other?),
        }
    }
}

async fn wait_all(tasks: &mut JoinSet<()>) {
    while tasks.join_next().await.is_some() {}
}

fn host_client(host: &HostConfig) -> Option<DockerClient> {
    host.client().ok()
}

/// The newest stored event time of each host, to resume its stream from.
fn last_event_times(reader: &Reader, hosts: &[HostConfig]) -> std::collections::HashMap<String, Option<i64>> {
    hosts
        .iter()
        .map(|host| {
            let newest = reader.last_event(&host.name).ok().flatten().map(|e| e.time_ns);
            (host.name.clone(), newest)
        })
        .collect()
}

async fn sweep_once(mut sampler: HostSampler, buffer: EventBuffer, writer: mpsc::SyncSender<Job>) {
    let now = now_millis();
    let outcome = sampler.sweep(now).await;
    if outcome.reach.is_up() {
        events::catch_up(sampler.client(), &sampler.config().name, &buffer, now).await;
    }
    log_sweep(&outcome);
    let _ = writer.send(Job::Sweep(Box::new(crate::batch::batch(outcome, buffer.take()))));
}

async fn sweep_loop(
    mut sampler: HostSampler,
    buffer: EventBuffer,
    writer: mpsc::SyncSender<Job>,
    telemetry: Arc<Telemetry>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(sampler.config().interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        let outcome = tokio::select! {
            outcome = sampler.sweep(now_millis()) => outcome,
            _ = stop.changed() => return,
        };
        log_sweep(&outcome);
        telemetry.record(&outcome);
        let batch = crate::batch::batch(outcome, buffer.take());
        if writer.send(Job::Sweep(Box::new(batch))).is_err() {
            return;
        }
    }
}

fn log_sweep(outcome: &crate::sweep::HostSweep) {
    tracing::debug!(
        host = %outcome.host,
        containers = outcome.containers.len(),
        up = outcome.reach.is_up(),
        elapsed_ms = u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX),
        "sweep"
    );
}

async fn prune_loop(retention: Duration, writer: mpsc::SyncSender<Job>, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(PRUNE_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        let before = now_millis().saturating_sub(retention_ms);
        if writer.send(Job::Prune(before)).is_err() {
            return;
        }
    }
}
