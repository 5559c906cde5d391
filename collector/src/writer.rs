//! The writer thread: the only place that writes the store, and the owner
//! of the open store.
//!
//! Sweeps and prune requests arrive as [`Job`]s, queued from async tasks
//! through a [`JobSender`], which never blocks the runtime: a writer that
//! is behind (or stuck on a hung disk) holds up the sweeps that wait for
//! it, not the runtime's threads. Where a prune cuts is the
//! [`Retention`] policy's. When the store refuses a
//! write (a full disk, a read-only file system) the writer says so once,
//! loudly, keeps the refused sweeps in memory (at most [`MAX_BACKLOG`], the
//! oldest dropped first and counted) and sweeping goes on meanwhile. sled
//! 0.34 refuses every operation after one failed write until the database
//! is reopened, so the writer then closes the store (the socket server's
//! [`HandleSlot`] is emptied first, and readers are told to try again) and
//! reopens it every [`REOPEN_EVERY`] until it opens and takes the backlog.
//! A sweep written twice (its first attempt reached the disk after all) is
//! stored once: the store drops samples and sweeps that are not newer than
//! what it holds.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::retention::Retention;
use kura_store::sample::UnixMillis;
use kura_store::socket::HandleSlot;
use kura_store::{Reader, Store, StoreError, StoreOptions, SweepBatch, WriteReport};

/// Sweeps kept in memory while the store refuses writes (about an hour at
/// 10 s with one host; each holds one sweep of one host).
pub const MAX_BACKLOG: usize = 360;
/// How often a store that refused a write is reopened and tried again.
pub const REOPEN_EVERY: Duration = Duration::from_secs(5);
/// Entries deleted per prune step, between which sweeps are written.
const PRUNE_BUDGET: usize = 2_000;
/// Sweeps queued for the writer before senders wait.
const QUEUE: usize = 64;
/// How often the collector prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Work for the writer thread.
pub enum Job {
    /// Write one host's sweep.
    Sweep(Box<SweepBatch>),
    /// Delete history past the retention ([`Retention`] says where it
    /// cuts), in budgeted steps between sweeps.
    Prune,
    /// Store where a forwarding stopped (see [`crate::forward`]).
    Cursor {
        /// The forwarding's name.
        name: String,
        /// Its cursor document.
        value: Vec<u8>,
    },
}

/// Queues jobs for the writer from async tasks.
#[derive(Clone)]
pub struct JobSender(mpsc::SyncSender<Job>);

/// The writer has stopped: the job was not queued.
#[derive(Debug, thiserror::Error)]
#[error("the store's writer has stopped")]
pub struct WriterGone;

impl JobSender {
    /// Queues `job`. When the queue is full (the writer is behind, or stuck
    /// on a disk that does not answer) it waits on a blocking thread, never
    /// on the runtime's, so that the other hosts, the events streams and
    /// the signal handlers go on.
    pub async fn send(&self, job: Job) -> Result<(), WriterGone> {
        match self.0.try_send(job) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Disconnected(_)) => Err(WriterGone),
            Err(mpsc::TrySendError::Full(job)) => {
                let sender = self.0.clone();
                match tokio::task::spawn_blocking(move || sender.send(job)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(_)) | Err(_) => Err(WriterGone),
                }
            }
        }
    }
}

/// What the writer did over its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterReport {
    /// Sweeps written.
    pub written: u64,
    /// Sweeps dropped because the backlog was full.
    pub dropped: u64,
    /// Sweeps still refused when the writer stopped: lost.
    pub unwritten: u64,
    /// Times the store was reopened after refusing a write.
    pub reopened: u64,
}

/// Called with every sweep the store took and what it stored of it (the
/// Prometheus endpoint's views follow the store this way).
pub type OnStored = Box<dyn FnMut(&SweepBatch, &WriteReport) + Send>;

/// Who hears of the writer's work: the callback and the counters.
struct Hooks {
    on_stored: OnStored,
    counters: Arc<WriteCounters>,
}

impl Hooks {
    /// Nobody listens (tests).
    #[cfg(test)]
    fn none() -> Hooks {
        Hooks { on_stored: Box::new(|_, _| {}), counters: Arc::default() }
    }
}

/// What the writer counts while it runs, readable from other threads.
#[derive(Debug, Default)]
pub struct WriteCounters {
    refused: AtomicU64,
    dropped: AtomicU64,
}

impl WriteCounters {
    /// Writes the store refused (each try of a kept sweep counts).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Sweeps lost because the backlog was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Why the writer ended badly.
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    /// The final flush failed.
    #[error(transparent)]
    Flush(#[from] StoreError),
    /// The thread panicked (a bug): what it had not flushed is lost.
    #[error("the store's writer thread panicked; sweeps not yet flushed are lost")]
    Panicked,
}

/// The running writer thread.
pub struct Writer {
    sender: mpsc::SyncSender<Job>,
    thread: JoinHandle<Result<WriterReport, WriterError>>,
    counters: Arc<WriteCounters>,
}

impl Writer {
    /// Starts the thread; it owns `store`, keeps `slot` holding a read
    /// handle on it whenever it is open, prunes what is older than
    /// `retention` when asked, and calls `on_stored` after each sweep the
    /// store took.
    pub fn spawn(store: Store, slot: HandleSlot, retention: Duration, on_stored: OnStored) -> Writer {
        let (sender, jobs) = mpsc::sync_channel(QUEUE);
        let newest = newest_sweep(&store);
        let stored_cut = store.pruned_before().unwrap_or_else(|e| {
            tracing::warn!("cannot read where the last prune cut: {}", error_chain(&e));
            None
        });
        let retention = Retention::new(retention, PRUNE_EVERY, stored_cut, newest, Instant::now());
        let dir = store.dir().to_path_buf();
        let options = store.options().clone();
        let counters = Arc::new(WriteCounters::default());
        let hooks = Hooks { on_stored, counters: Arc::clone(&counters) };
        let thread = std::thread::spawn(move || {
            let mut state = WriterState::new(Some(store), dir, options, slot, retention, newest, hooks);
            state.run(&jobs);
            state.finish()
        });
        Writer { sender, thread, counters }
    }

    /// What the writer counts, as it runs.
    pub fn counters(&self) -> Arc<WriteCounters> {
        Arc::clone(&self.counters)
    }

    /// A sender of jobs.
    pub fn sender(&self) -> JobSender {
        JobSender(self.sender.clone())
    }

    /// A sender for std threads (the forwardings), which may block on a
    /// full queue.
    pub fn thread_sender(&self) -> mpsc::SyncSender<Job> {
        self.sender.clone()
    }

    /// Writes what is queued, flushes, and returns what was done. Fails
    /// when the final flush fails (or the thread panicked).
    pub fn finish(self) -> Result<WriterReport, WriterError> {
        drop(self.sender);
        self.thread.join().unwrap_or(Err(WriterError::Panicked))
    }
}

/// The writer's state between jobs.
struct WriterState {
    /// The open store; `None` while it is closed for a reopen.
    store: Option<Store>,
    dir: PathBuf,
    options: StoreOptions,
    slot: HandleSlot,
    backlog: VecDeque<Box<SweepBatch>>,
    /// Why the store refused the last write, while it does.
    failing: Option<String>,
    /// When the store was last reopened (or tried).
    last_reopen: Option<Instant>,
    /// History older than this is being pruned.
    pruning: Option<UnixMillis>,
    retention: Retention,
    /// The newest sweep stored (of any host).
    newest: Option<UnixMillis>,
    report: WriterReport,
    hooks: Hooks,
}

impl WriterState {
    fn new(
        store: Option<Store>,
        dir: PathBuf,
        options: StoreOptions,
        slot: HandleSlot,
        retention: Retention,
        newest: Option<UnixMillis>,
        hooks: Hooks,
    ) -> WriterState {
        WriterState {
            dir,
            options,
            store,
            slot,
            backlog: VecDeque::new(),
            failing: None,
            last_reopen: None,
            pruning: None,
            retention,
            newest,
            report: WriterReport::default(),
            hooks,
        }
    }

    fn run(&mut self, jobs: &mpsc::Receiver<Job>) {
        loop {
            // Prune in steps only while no sweep waits; while the store
            // refuses writes, wake up to reopen it even if no sweep comes.
            let job = if self.pruning.is_some() && self.failing.is_none() {
                match jobs.try_recv() {
                    Ok(job) => Some(job),
                    Err(mpsc::TryRecvError::Empty) => None,
                    Err(mpsc::TryRecvError::Disconnected) => break,
                }
            } else if self.failing.is_some() {
                match jobs.recv_timeout(REOPEN_EVERY) {
                    Ok(job) => Some(job),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match jobs.recv() {
                    Ok(job) => Some(job),
                    Err(_) => break,
                }
            };
            self.handle(job);
        }
        self.write_backlog();
    }

    /// Does a job, or (`None`) what is due between jobs: a reopen while
    /// the store refuses writes, else a prune step.
    fn handle(&mut self, job: Option<Job>) {
        match job {
            Some(Job::Sweep(batch)) => {
                self.backlog.push_back(batch);
                self.write_backlog();
            }
            Some(Job::Prune) => self.pruning = self.retention.cut(self.newest, Instant::now()).or(self.pruning),
            Some(Job::Cursor { name, value }) => self.put_cursor(&name, &value),
            None if self.failing.is_some() => self.write_backlog(),
            None => self.prune_step(),
        }
    }

    /// Writes the backlog, oldest first, until the store refuses one;
    /// reopens a store that refused before, when it is time to try again.
    fn write_backlog(&mut self) {
        if self.failing.is_some() && !self.backlog.is_empty() && self.reopen_due() {
            self.reopen();
        }
        while let Some(batch) = self.backlog.front() {
            let Some(store) = &self.store else { break };
            match store.write_sweep(batch) {
                Ok(report) => {
                    if !report.stale {
                        self.newest = self.newest.max(Some(batch.sweep.time));
                    }
                    // What kill -9 tests count: this sweep is on disk.
                    tracing::debug!(host = %batch.host, time = batch.sweep.time, "sweep stored");
                    (self.hooks.on_stored)(batch, &report);
                    self.backlog.pop_front();
                    self.report.written += 1;
                    if let Some(reason) = self.failing.take() {
                        tracing::warn!(
                            backlog = self.backlog.len(),
                            "the store accepts writes again (it refused: {reason}); writing the sweeps kept meanwhile"
                        );
                    }
                }
                Err(e) => {
                    self.refused(&e);
                    break;
                }
            }
        }
        while self.backlog.len() > MAX_BACKLOG {
            self.backlog.pop_front();
            self.report.dropped += 1;
            self.hooks.counters.dropped.fetch_add(1, Ordering::Relaxed);
            let dropped = self.report.dropped;
            if dropped == 1 || dropped.is_power_of_two() {
                tracing::error!(dropped, "backlog full: the oldest unwritten sweeps are lost");
            }
        }
    }

    /// Records a refused write: said once per distinct reason.
    fn refused(&mut self, error: &StoreError) {
        self.hooks.counters.refused.fetch_add(1, Ordering::Relaxed);
        let reason = error_chain(error);
        if self.failing.as_deref() != Some(reason.as_str()) {
            tracing::error!(
                "the store refused a write: {reason}; keeping up to {MAX_BACKLOG} sweeps in memory and reopening the store every {} s until it accepts writes again",
                REOPEN_EVERY.as_secs()
            );
            self.failing = Some(reason);
        }
        if self.last_reopen.is_none() {
            // The first refusal starts the clock: reopen on the next turn.
            self.last_reopen = Some(Instant::now());
        }
    }

    fn reopen_due(&self) -> bool {
        self.last_reopen.is_none_or(|at| at.elapsed() >= REOPEN_EVERY)
    }

    /// Closes the store (readers on the socket are told to try again) and
    /// opens it anew, which clears sled's sticky error.
    fn reopen(&mut self) {
        self.last_reopen = Some(Instant::now());
        self.slot.set(None);
        // Whatever sled still holds cannot reach the disk: it has refused;
        // what it acknowledged was flushed sweep by sweep.
        self.store = None;
        match Store::open(&self.dir, self.options.clone()) {
            Ok(store) => {
                self.report.reopened += 1;
                self.slot.set(Some(store.read_handle()));
                self.store = Some(store);
                tracing::info!("the store was reopened after refusing a write");
            }
            Err(e) => {
                let reason = error_chain(&e);
                if self.failing.as_deref() != Some(reason.as_str()) {
                    tracing::error!(
                        "reopening the store failed: {reason}; trying again in {} s",
                        REOPEN_EVERY.as_secs()
                    );
                    self.failing = Some(reason);
                }
            }
        }
    }

    /// Stores a forwarding's cursor. Not kept when the store refuses it:
    /// the forwarding holds its position in memory, and after a restart it
    /// sends again from the one stored before (repeating, never losing).
    fn put_cursor(&mut self, name: &str, value: &[u8]) {
        let Some(store) = &self.store else { return };
        if let Err(e) = store.put_cursor(name, value) {
            tracing::warn!(forward = name, "cannot store the forwarding's cursor: {}", error_chain(&e));
        }
    }

    fn prune_step(&mut self) {
        let (Some(before), Some(store)) = (self.pruning, &self.store) else { return };
        match store.prune(before, PRUNE_BUDGET) {
            Ok(progress) if progress.done => self.pruning = None,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("pruning history older than {before} ms failed: {}", error_chain(&e));
                self.pruning = None;
            }
        }
    }

    /// Flushes the store and reports; sweeps still refused are counted lost.
    fn finish(mut self) -> Result<WriterReport, WriterError> {
        if self.failing.is_some() && !self.backlog.is_empty() {
            // One last try before giving up on what is kept in memory.
            self.last_reopen = None;
            self.write_backlog();
        }
        self.report.unwritten = u64::try_from(self.backlog.len()).unwrap_or(u64::MAX);
        if self.report.unwritten > 0 {
            tracing::error!(sweeps = self.report.unwritten, "stopping with sweeps the store refused; they are lost");
        }
        self.slot.set(None);
        match self.store.take() {
            Some(store) if self.failing.is_none() => Ok(store.flush().map(|()| self.report)?),
            _ => Ok(self.report),
        }
    }
}

/// The newest sweep the store holds, of any host.
pub fn newest_sweep(store: &Store) -> Option<UnixMillis> {
    let reader = Reader::Handle(store.read_handle());
    let hosts = reader.hosts().unwrap_or_default();
    hosts.iter().filter_map(|host| reader.latest_sweep(host).ok().flatten()).map(|sweep| sweep.time).max()
}

/// The newest time the store holds: of a sweep, or of a sample (a sample
/// read by the daemon during a sweep is a little after the sweep's start).
pub fn newest_time(store: &Store) -> Option<UnixMillis> {
    let reader = Reader::Handle(store.read_handle());
    let hosts = reader.hosts().unwrap_or_default();
    let samples = hosts.iter().flat_map(|host| reader.series(host).unwrap_or_default()).filter_map(|s| s.last_seen);
    samples.max().max(newest_sweep(store))
}

/// An error and its sources on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::simulate::{Simulation, Simulator};

    const DAY: i64 = 86_400_000;

    /// `n` simulated sweeps of 3 containers, 10 s apart, from 2026-01-01.
    fn sweeps(n: usize) -> Vec<SweepBatch> {
        let mut simulator = Simulator::new(Simulation { sweeps: n, ..Simulation::days(3, 1, 10_000) });
        std::iter::from_fn(|| simulator.next_sweep().cloned()).collect()
    }

    fn jobs(batches: Vec<SweepBatch>) -> Vec<Job> {
        batches.into_iter().map(|batch| Job::Sweep(Box::new(batch))).collect()
    }

    fn state(store: Option<Store>, dir: &std::path::Path, retention: Duration) -> WriterState {
        let newest = store.as_ref().and_then(newest_sweep);
        let policy = Retention::new(retention, PRUNE_EVERY, None, newest, Instant::now());
        WriterState::new(
            store,
            dir.to_path_buf(),
            StoreOptions::default(),
            HandleSlot::default(),
            policy,
            newest,
            Hooks::none(),
        )
    }

    /// Runs `state` over `jobs` (then the end of the queue) and finishes it.
    fn run(mut state: WriterState, jobs: Vec<Job>) -> Result<WriterReport, WriterError> {
        let (sender, receiver) = mpsc::sync_channel(jobs.len().max(1));
        for job in jobs {
            sender.send(job).unwrap();
        }
        drop(sender);
        state.run(&receiver);
        state.finish()
    }

    fn stored_times(dir: &std::path::Path) -> Vec<UnixMillis> {
        let reader = Reader::open(dir).unwrap();
        reader.sweeps("sim-host", i64::MIN, i64::MAX).unwrap().iter().map(|s| s.time).collect()
    }

    #[test]
    fn sweeps_are_written_in_order_counted_and_flushed_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let batches = sweeps(5);
        let times: Vec<UnixMillis> = batches.iter().map(|b| b.sweep.time).collect();
        let report = run(state(Some(store), dir.path(), Duration::from_secs(86_400)), jobs(batches));
        assert_eq!(report.unwrap(), WriterReport { written: 5, ..WriterReport::default() });
        assert_eq!(stored_times(dir.path()), times);
    }

    #[test]
    fn a_store_that_stays_closed_keeps_the_newest_sweeps_up_to_the_cap_and_counts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the data folder should be: every reopen fails.
        let data = dir.path().join("data");
        std::fs::write(&data, b"not a folder").unwrap();
        let mut closed = state(None, &data, Duration::from_secs(86_400));
        closed.failing = Some("injected: the disk is full".to_owned());
        let report = run(closed, jobs(sweeps(MAX_BACKLOG + 40))).unwrap();
        assert_eq!(report.written, 0);
        assert_eq!(report.dropped, 40, "the oldest beyond the cap are dropped and counted");
        assert_eq!(report.unwritten, u64::try_from(MAX_BACKLOG).unwrap(), "the rest is lost at the stop, and said");
    }

    #[test]
    fn a_store_that_opens_again_takes_the_kept_sweeps_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::write(&data, b"not a folder").unwrap();
        let mut closed = state(None, &data, Duration::from_secs(86_400));
        closed.failing = Some("injected: the disk is full".to_owned());
        let batches = sweeps(12);
        let times: Vec<UnixMillis> = batches.iter().map(|b| b.sweep.time).collect();
        let (sender, receiver) = mpsc::sync_channel(16);
        for batch in batches {
            sender.send(Job::Sweep(Box::new(batch))).unwrap();
        }
        drop(sender);
        closed.run(&receiver);
        assert_eq!(closed.backlog.len(), 12, "kept while the store cannot open");
        // Space returns: the last try at the stop opens the store and writes.
        std::fs::remove_file(&data).unwrap();
        let report = closed.finish().unwrap();
        assert_eq!(report, WriterReport { written: 12, reopened: 1, ..WriterReport::default() });
        assert_eq!(stored_times(&data), times);
    }

    #[test]
    fn pruning_cuts_at_the_newest_sweep_and_a_clock_step_forward_does_not_empty_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            StoreOptions { flush_every_sweep: false, block_rows: 6, ..StoreOptions::default() },
        )
        .unwrap();
        // Two days at 10 minutes, retention one day.
        let mut simulator = Simulator::new(Simulation { sweeps: 288, ..Simulation::days(2, 2, 600_000) });
        while let Some(batch) = simulator.next_sweep() {
            store.write_sweep(batch).unwrap();
        }
        let first = Simulation::days(2, 2, 600_000).start;
        let newest = first + 287 * 600_000;
        let mut writer = state(Some(store), dir.path(), Duration::from_secs(86_400));
        let prune = |writer: &mut WriterState| {
            writer.handle(Some(Job::Prune));
            while writer.pruning.is_some() {
                writer.handle(None);
            }
        };
        prune(&mut writer);
        // The clock is 40 days ahead: the next sweep says so; then a prune.
        let mut stepped = sweeps(1).remove(0);
        stepped.sweep.time = newest + 40 * DAY;
        stepped.containers.clear();
        writer.handle(Some(Job::Sweep(Box::new(stepped))));
        prune(&mut writer);
        assert_eq!(writer.finish().unwrap().written, 1);
        let times = stored_times(dir.path());
        // The first prune cut at the newest sweep minus a day (whole hourly
        // blocks go); the second, after the step, moved at most 20 minutes.
        let oldest = times.first().copied().unwrap_or(i64::MAX);
        assert!(oldest >= newest - DAY - 3_600_000, "the first prune cut too far: {}", newest - oldest);
        assert!(oldest <= newest - DAY + 20 * 60_000, "the first prune did not prune: {}", newest - oldest);
        assert!(times.len() > 140, "a day of history is kept: {}", times.len());
    }

    #[test]
    fn a_full_queue_never_blocks_the_runtime() {
        // A writer that takes nothing: one job fits in the queue, the next
        // waits. A blocking send on the runtime would stop the timer below.
        let (sender, receiver) = mpsc::sync_channel(1);
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let jobs = JobSender(sender);
                let stuck = tokio::spawn(async move {
                    for _ in 0..3 {
                        let _ = jobs.send(Job::Prune).await;
                    }
                });
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = done.send("the runtime went on");
                stuck.abort();
            });
        });
        let answer = finished.recv_timeout(Duration::from_secs(20));
        drop(receiver);
        assert_eq!(answer.ok(), Some("the runtime went on"));
    }
}
