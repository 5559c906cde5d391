//! The collector's life: open the store, serve it on the socket, sweep every
//! host on its interval, follow every host's events, prune old history, and
//! stop cleanly on SIGTERM/SIGINT (the sweep in progress is abandoned, what
//! was written is flushed, the exit status is 0).
//!
//! Writes go through one writer thread ([`crate::writer`]), which owns the
//! store and keeps sweeps in memory while the store refuses writes.

use std::future::Future;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use crate::clock::Clock;
use crate::config::{Config, ConfigError, HostConfig};
use crate::docker::DockerClient;
use crate::events::{self, EventBuffer};
use crate::forward;
use crate::metrics::telemetry::Telemetry;
use crate::metrics::view::Views;
use crate::metrics::{self, Exporter, ListenError, ServedHost};
use crate::sweep::{HostSampler, HostSweep};
use crate::writer::{Job, JobSender, OnStored, Writer, WriterError, PRUNE_EVERY};
use kura_store::sample::UnixMillis;
use kura_store::socket::{self, HandleSlot, ServerLimits, Shutdown};
use kura_store::{Reader, Store, StoreError, StoreOptions};
/// How long a store locked by a reader (not a collector) is waited for.
const LOCK_WAIT: Duration = Duration::from_secs(5);

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
    /// `--rename-host` could not rename.
    #[error("cannot rename host {from} to {to}: {source}")]
    Rename {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
        /// Why.
        source: StoreError,
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

/// Joins `thread` once it has finished, polling for at most `limit`; gives it
/// back if it has not. Never a blocking task of the runtime: a runtime that
/// shuts down waits for those, so one stuck thread would hang the process.
async fn join_within<T>(thread: JoinHandle<T>, limit: Duration) -> Result<(), JoinHandle<T>> {
    let deadline = tokio::time::Instant::now() + limit;
    while !thread.is_finished() {
        if tokio::time::Instant::now() >= deadline {
            return Err(thread);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = thread.join();
    Ok(())
}

/// The wall clock, in Unix milliseconds.
pub fn now_millis() -> UnixMillis {
    crate::clock::wall_millis()
}

/// Runs the collector until `shutdown` resolves (or one sweep with `once`).
pub async fn run(mut config: Config, once: bool, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    // A taken port stops the collector before it touches the store.
    let metrics = match &config.metrics {
        Some(settings) if !once => Some((*settings, metrics::bind(settings.listen)?)),
        _ => None,
    };
    let store = open_store(&config.data_dir).await?;
    if config.implicit_local_host {
        keep_local_name(&store, &mut config)?;
    }
    let last_events = last_event_times(&Reader::Handle(store.read_handle()), &config.hosts);
    // No read handle outlives its use: the writer must be able to close the
    // store and open it again after a refused write.
    let views = match &metrics {
        Some(_) => {
            let reader = Reader::Handle(store.read_handle());
            let hosts: Vec<String> = config.hosts.iter().map(|h| h.name.clone()).collect();
            let loaded = tokio::task::spawn_blocking(move || Views::load(&reader, hosts.iter().map(String::as_str)));
            Some(loaded.await.map_err(|e| DaemonError::Runtime(std::io::Error::other(e)))??)
        }
        None => None,
    };
    tracing::info!(data = %config.data_dir.display(), hosts = config.hosts.len(), "store open");
    let listener = socket::bind(&config.data_dir, config.socket_group.as_ref())?;
    let server_shutdown = Shutdown::for_listener(&listener)
        .map_err(|source| StoreError::Io { path: config.data_dir.join(socket::SOCKET_FILE), source })?;
    let slot = HandleSlot::new(store.read_handle());
    let server = {
        let (slot, stop) = (slot.clone(), server_shutdown.clone());
        std::thread::spawn(move || socket::serve(listener, slot, stop, ServerLimits::default()))
    };
    let clock = Arc::new(Clock::new(crate::writer::newest_time(&store)));
    let store_path = store.path().to_path_buf();
    let on_stored: OnStored = match &views {
        Some(views) => {
            let views = views.clone();
            Box::new(move |batch, report| views.apply(batch, report))
        }
        None => Box::new(|_, _| {}),
    };
    let writer = Writer::spawn(store, slot.clone(), config.retention, on_stored);
    let telemetry = Arc::new(Telemetry::default());

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut forwarders = Vec::new();
    if !once {
        for forward in &config.forwards {
            let spawned = forward::spawn(forward.clone(), slot.clone(), writer.thread_sender(), stop_rx.clone());
            match spawned {
                Ok(handle) => forwarders.push(handle),
                Err(e) => tracing::error!(forward = %forward.name, "cannot start the forwarding's thread: {e}"),
            }
        }
    }
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
        let sampler = match HostSampler::new(host.clone(), Arc::clone(&clock)) {
            Ok(sampler) => sampler,
            Err(e) => {
                // Caught by config validation already; kept for safety.
                tracing::error!(host = %host.name, "{e}");
                continue;
            }
        };
        if once {
            tasks.spawn(sweep_once(sampler, buffer, writer.sender(), Arc::clone(&clock)));
        } else {
            tasks.spawn(events::follow(host_client(host), host.name.clone(), buffer.clone(), stop_rx.clone()));
            tasks.spawn(sweep_loop(
                sampler,
                buffer,
                writer.sender(),
                Arc::clone(&clock),
                Arc::clone(&telemetry),
                stop_rx.clone(),
            ));
        }
    }
    if !once {
        tasks.spawn(prune_loop(writer.sender(), stop_rx.clone()));
        if let Some(nodes) = config.nodes.clone() {
            tasks.spawn(crate::nodes::keep_in_step(nodes, slot, stop_rx.clone()));
        }
        tokio::select! {
            _ = shutdown => tracing::info!("stopping: signal received"),
            _ = wait_all(&mut tasks) => {}
        }
        let _ = stop_tx.send(true);
    }
    if once {
        // One sweep of each host, its size list included: each request is
        // bounded by its timeout, so this ends.
        wait_all(&mut tasks).await;
    } else {
        // Sweeps in progress end at their next await point; give them a moment.
        let drained = tokio::time::timeout(Duration::from_secs(5), wait_all(&mut tasks)).await;
        if drained.is_err() {
            tasks.abort_all();
        }
    }
    // Forwardings hold senders of the writer's jobs: they end first (within
    // one send's timeout), off the runtime's threads.
    for handle in forwarders {
        if let Err(handle) = join_within(handle, Duration::from_secs(30)).await {
            tracing::warn!(thread = ?handle.thread().name(), "a forwarding did not stop; leaving it");
        }
    }
    // The last flush blocks: not on the runtime's threads.
    let report = tokio::task::spawn_blocking(move || writer.finish()).await.unwrap_or(Err(WriterError::Panicked));
    server_shutdown.trigger();
    if join_within(server, Duration::from_secs(5)).await.is_err() {
        tracing::warn!("the socket server did not stop; leaving it");
    }
    let report = report?;
    let ending = if report.unwritten == 0 { "stopped; the store is flushed" } else { "stopped" };
    tracing::info!(
        written = report.written,
        dropped = report.dropped,
        reopened = report.reopened,
        unwritten = report.unwritten,
        "{ending}"
    );
    match report.unwritten {
        0 => Ok(()),
        count => Err(DaemonError::Unwritten { dir: config.data_dir.clone(), count }),
    }
}

/// The local host named after this machine keeps the name the store
/// recorded first: a renamed machine does not split its history in two.
fn keep_local_name(store: &Store, config: &mut Config) -> Result<(), DaemonError> {
    let Some(host) = config.hosts.first_mut() else { return Ok(()) };
    let kept = store.local_host_name(&host.name)?;
    if kept != host.name {
        tracing::info!(
            "this machine is now named {}; its Docker's history stays under host {kept} (stop the collector and run kura-collector --rename-host {kept}={} to rename it)",
            host.name,
            host.name
        );
        host.name = kept;
    }
    Ok(())
}

/// Renames host `from` to `to` in the store of `data_dir`, its history
/// with it (`--rename-host`); the collector must be stopped. Returns the
/// number of container series renamed.
pub fn rename_host(data_dir: &std::path::Path, from: &str, to: &str) -> Result<usize, DaemonError> {
    let rename = |source| DaemonError::Rename { from: from.to_owned(), to: to.to_owned(), source };
    let store = Store::open(data_dir, StoreOptions::default()).map_err(|e| match e {
        StoreError::Locked { .. } => DaemonError::Locked(e),
        other => DaemonError::Store(other),
    })?;
    let renamed = store.rename_host(from, to).map_err(rename)?;
    store.flush()?;
    Ok(renamed)
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

async fn sweep_once(mut sampler: HostSampler, buffer: EventBuffer, writer: JobSender, clock: Arc<Clock>) {
    let now = clock.now();
    let mut outcome = sampler.sweep(now).await;
    if outcome.sizes.is_none() {
        outcome.sizes = sampler.finish_sizes().await;
    }
    if outcome.reach.is_up() {
        events::catch_up(sampler.client(), &sampler.config().name, &buffer, now).await;
    }
    hand_off(&writer, outcome, &buffer).await;
}

async fn sweep_loop(
    mut sampler: HostSampler,
    buffer: EventBuffer,
    writer: JobSender,
    clock: Arc<Clock>,
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
            outcome = sampler.sweep(clock.now()) => outcome,
            _ = stop.changed() => return,
        };
        telemetry.record(&outcome);
        if !hand_off(&writer, outcome, &buffer).await {
            return;
        }
    }
}

/// Sends a sweep and the events gathered since the last one to the writer
/// and logs it (debug) with its phases, the hand-off included; false when
/// the writer is gone.
async fn hand_off(writer: &JobSender, outcome: HostSweep, events: &EventBuffer) -> bool {
    let host = outcome.host.clone();
    let containers = outcome.containers.len();
    let up = outcome.reach.is_up();
    let elapsed_ms = u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX);
    let mut phases = outcome.phases;
    let batch = crate::batch::batch(outcome, events.take());
    let started = Instant::now();
    let sent = writer.send(Job::Sweep(Box::new(batch))).await.is_ok();
    phases.handoff = Some(started.elapsed());
    tracing::debug!(host = %host, containers, up, elapsed_ms, phases = %phases, "sweep");
    sent
}

async fn prune_loop(writer: JobSender, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(PRUNE_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        if writer.send(Job::Prune).await.is_err() {
            return;
        }
    }
}
