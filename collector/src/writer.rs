//! The writer thread: the only place that writes the store, and the owner
//! of the open store.
//!
//! Sweeps and prune requests arrive as [`Job`]s. When the store refuses a
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

use kura_store::sample::UnixMillis;
use kura_store::socket::HandleSlot;
use kura_store::{Store, StoreError, StoreOptions, SweepBatch, WriteReport};

/// Sweeps kept in memory while the store refuses writes (about an hour at
/// 10 s with one host; each holds one sweep of one host).
pub const MAX_BACKLOG: usize = 360;
/// How often a store that refused a write is reopened and tried again.
pub const REOPEN_EVERY: Duration = Duration::from_secs(5);
/// Entries deleted per prune step, between which sweeps are written.
const PRUNE_BUDGET: usize = 2_000;
/// Sweeps queued for the writer before senders wait.
const QUEUE: usize = 64;

/// Work for the writer thread.
pub enum Job {
    /// Write one host's sweep.
    Sweep(Box<SweepBatch>),
    /// Delete history older than this, in budgeted steps between sweeps.
    Prune(UnixMillis),
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
    /// handle on it whenever it is open, and calls `on_stored` after each
    /// sweep the store took.
    pub fn spawn(store: Store, slot: HandleSlot, on_stored: OnStored) -> Writer {
        let (sender, jobs) = mpsc::sync_channel(QUEUE);
        let counters = Arc::new(WriteCounters::default());
        let shared = Arc::clone(&counters);
        let thread = std::thread::spawn(move || {
            let mut state = WriterState::new(store, slot, on_stored, shared);
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
    pub fn sender(&self) -> mpsc::SyncSender<Job> {
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
    report: WriterReport,
    on_stored: OnStored,
    counters: Arc<WriteCounters>,
}

impl WriterState {
    fn new(store: Store, slot: HandleSlot, on_stored: OnStored, counters: Arc<WriteCounters>) -> WriterState {
        WriterState {
            dir: store.dir().to_path_buf(),
            options: store.options().clone(),
            store: Some(store),
            slot,
            backlog: VecDeque::new(),
            failing: None,
            last_reopen: None,
            pruning: None,
            report: WriterReport::default(),
            on_stored,
            counters,
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
            match job {
                Some(Job::Sweep(batch)) => {
                    self.backlog.push_back(batch);
                    self.write_backlog();
                }
                Some(Job::Prune(before)) => self.pruning = Some(before),
                None if self.failing.is_some() => self.write_backlog(),
                None => self.prune_step(),
            }
        }
        self.write_backlog();
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
                Ok(stored) => {
                    (self.on_stored)(batch, &stored);
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
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            let dropped = self.report.dropped;
            if dropped == 1 || dropped.is_power_of_two() {
                tracing::error!(dropped, "backlog full: the oldest unwritten sweeps are lost");
            }
        }
    }

    /// Records a refused write: said once per distinct reason.
    fn refused(&mut self, error: &StoreError) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
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
