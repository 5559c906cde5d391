//! One sweep over one host: ping, list, then stats, inspect (when due, see
//! [`InspectDue`]) and top (when due, see [`TopSlots`]) of every container
//! concurrently, plus sizes, images and SNMP when due. A running
//! container's counters come from a stats request, or from its cgroup files
//! when the host's `source` says so and they can be read (see [`local`]).
//! Where the sweep's time went is in [`phases`].
//!
//! A sweep never fails as a whole: an unreachable daemon is a sweep recorded
//! as "down" with its reason; a container that vanished between the list and
//! its requests (404/409), or whose cgroup files are gone, is simply absent; any other per-container fault
//! costs that container its counters for this sweep, is logged once per
//! container and reason, and leaves the others untouched. Every request is
//! bounded by the host's timeout, so the sweep ends within it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use crate::api::{self, ContainerInspect, ContainerSummary, ImageSummary};
use crate::clock::{Clock, DaemonOffset, ReadWindow};
use crate::config::HostConfig;
use crate::docker::{DockerClient, DockerError};
use crate::snmp;
use crate::stats;
use crate::stats::cgroup::{CgroupError, CgroupFs, LocalTarget};
use kura_store::payload::{ContainerDetails, Info, Top};
use kura_store::payload::{HostReading, Sizes};
use kura_store::sample::{Sample, State, UnixMillis};
pub use phases::SweepPhases;
use phases::{ContainerSpans, Span};

pub mod local;
pub mod phases;

/// Whether the sweep reached the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// `_ping` answered `OK`, in this many microseconds.
    Up {
        /// Ping latency.
        latency_us: u64,
    },
    /// The daemon could not be used; the reason (refused, timeout, http 500...).
    Down {
        /// Why.
        reason: String,
    },
}

/// What one sweep learnt about one container.
#[derive(Clone, Debug)]
pub struct ContainerReading {
    /// The list entry (names, image, labels, state, status, sizes when asked).
    pub summary: ContainerSummary,
    /// State and, for a running or paused container, counters.
    pub sample: Sample,
    /// Inspect details, when they differ from the previous sweep's.
    pub details: Option<ContainerDetails>,
    /// `top`, when it was due.
    pub top: Option<Top>,
    /// The raw `memory_stats.stats` map, when `top` was due (for `kura mem --detail`).
    pub memory_stats: Option<BTreeMap<String, u64>>,
}

/// Everything one sweep of one host learnt.
#[derive(Clone, Debug)]
pub struct HostSweep {
    /// The host's name.
    pub host: String,
    /// When the sweep started.
    pub time: UnixMillis,
    /// Whether the daemon was reached.
    pub reach: Reach,
    /// `/info`, when it was due and changed.
    pub info: Option<Info>,
    /// Every listed container.
    pub containers: Vec<ContainerReading>,
    /// Sizes and images, when due.
    pub sizes: Option<Sizes>,
    /// The SNMP reading, when configured and it answered.
    pub snmp: Option<HostReading>,
    /// How long the sweep took.
    pub elapsed: Duration,
    /// What failed in it besides the daemon being down.
    pub faults: SweepFaults,
    /// Where its time went.
    pub phases: SweepPhases,
}

/// What failed in one sweep, counted for `kura_sweep_errors_total`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepFaults {
    /// Containers whose inspect, stats or top request failed (not those
    /// that vanished).
    pub containers: u32,
    /// `/info` failed.
    pub host_info: bool,
    /// The image list failed.
    pub images: bool,
    /// The SNMP agent did not answer.
    pub snmp: bool,
}

/// The fault subjects that are not containers (ids are 64 hex digits, so
/// these never collide with one).
const HOST_SUBJECT: &str = "(host info)";
const SIZES_SUBJECT: &str = "(sizes)";

/// A host's sampler: its client and what it remembers between sweeps.
pub struct HostSampler {
    config: HostConfig,
    client: DockerClient,
    clock: Arc<Clock>,
    daemon_offset: DaemonOffset,
    negotiated: bool,
    /// What the negotiated daemon's stats get wrong.
    quirks: stats::Quirks,
    last_top: Option<Instant>,
    sweeps: u64,
    last_sizes: Option<Instant>,
    /// The size sweep in progress (it runs beside the sweeps, see [`size_sweep`]),
    /// and how long it took.
    size_task: Option<JoinHandle<(Result<Sizes, DockerError>, Duration)>>,
    last_info: Option<Info>,
    /// Each container's details as last inspected, and its list entry then.
    known: HashMap<String, Known>,
    faults: HashMap<String, String>,
    was_up: Option<bool>,
    snmp_fault: Option<String>,
    snmp_unsupported: Vec<String>,
    /// What failed in the sweep in progress.
    sweep_faults: SweepFaults,
    /// The newest sample time of the last sweep (see [`sweep_time`]).
    newest_sample: Option<UnixMillis>,
    /// Where the sweep in progress spent its time.
    phases: SweepPhases,
    /// The host's cgroup files, when counters come from them (see [`local`]).
    local: Option<Arc<CgroupFs>>,
}

/// The time of a sweep started at `now` after a sweep whose newest sample
/// is `newest`: at least 1 ms later than it; the sweep's samples are timed
/// no earlier. A sample is timed inside its own request's window, which
/// can end in the millisecond the next sweep starts (an interval tick
/// missed by a long sweep fires at once); a state change then timed at the
/// sweep's start would not be newer than the sample before it, and the
/// store would drop it.
fn sweep_time(now: UnixMillis, newest: Option<UnixMillis>) -> UnixMillis {
    newest.map_or(now, |newest| now.max(newest.saturating_add(1)))
}

impl HostSampler {
    /// A sampler for one configured host; request windows are timed on `clock`.
    pub fn new(config: HostConfig, clock: Arc<Clock>) -> Result<HostSampler, DockerError> {
        let client = config.client()?;
        let local = local::local_source(&config).map(Arc::new);
        Ok(HostSampler {
            config,
            client,
            clock,
            daemon_offset: DaemonOffset::default(),
            negotiated: false,
            quirks: stats::Quirks::default(),
            last_top: None,
            sweeps: 0,
            last_sizes: None,
            size_task: None,
            last_info: None,
            known: HashMap::new(),
            faults: HashMap::new(),
            was_up: None,
            snmp_fault: None,
            snmp_unsupported: Vec::new(),
            sweep_faults: SweepFaults::default(),
            newest_sample: None,
            phases: SweepPhases::default(),
            local,
        })
    }

    /// The host's configuration.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// The client (for the events stream, which shares the negotiated version).
    pub fn client(&self) -> &DockerClient {
        &self.client
    }

    /// Runs one sweep. `now` is the sweep's wall-clock time (moved past
    /// the last sweep's samples, see [`sweep_time`]).
    pub async fn sweep(&mut self, now: UnixMillis) -> HostSweep {
        let now = sweep_time(now, self.newest_sample);
        let started = Instant::now();
        let snmp_config = self.config.snmp.clone();
        let snmp = async move {
            let config = snmp_config?;
            let sent = Instant::now();
            let reading = snmp::read_host(&config).await;
            Some((reading, sent.elapsed()))
        };
        let docker = self.docker(now);
        let (snmp, (reach, info, containers, sizes)) = tokio::join!(snmp, docker);
        self.phases.snmp = snmp.as_ref().map(|(_, took)| *took);
        let snmp = self.note_snmp(snmp.map(|(reading, _)| reading));
        self.note_reach(&reach);
        if let Some(newest) = containers.iter().map(|c| c.sample.time).max() {
            self.newest_sample = Some(newest);
        }
        HostSweep {
            host: self.config.name.clone(),
            time: now,
            reach,
            info,
            containers,
            sizes,
            snmp,
            elapsed: started.elapsed(),
            faults: std::mem::take(&mut self.sweep_faults),
            phases: std::mem::take(&mut self.phases),
        }
    }

    fn note_snmp(&mut self, result: Option<Result<HostReading, snmp::SnmpError>>) -> Option<HostReading> {
        match result? {
            Ok(reading) => {
                if self.snmp_fault.take().is_some() {
                    tracing::warn!(host = %self.config.name, "SNMP answers again");
                }
                let unsupported: Vec<String> = reading.unsupported.iter().map(ToString::to_string).collect();
                if unsupported != self.snmp_unsupported {
                    if !unsupported.is_empty() {
                        tracing::warn!(host = %self.config.name, "SNMP: unsupported on this agent: {}; falling back where possible", unsupported.join(", "));
                    }
                    self.snmp_unsupported = unsupported;
                }
                Some(reading)
            }
            Err(e) => {
                self.sweep_faults.snmp = true;
                let reason = e.to_string();
                if self.snmp_fault.as_deref() != Some(reason.as_str()) {
                    tracing::warn!(host = %self.config.name, "{reason}; no host memory or CPU values until it answers");
                    self.snmp_fault = Some(reason);
                }
                None
            }
        }
    }

    fn note_reach(&mut self, reach: &Reach) {
        let up = matches!(reach, Reach::Up { .. });
        if self.was_up != Some(up) {
            match reach {
                Reach::Up { .. } if self.was_up.is_some() => {
                    tracing::warn!(host = %self.config.name, endpoint = %self.config.endpoint, "Docker is reachable again")
                }
                Reach::Up { .. } => {
                    tracing::info!(host = %self.config.name, endpoint = %self.config.endpoint, "Docker is reachable")
                }
                Reach::Down { reason } => {
                    tracing::warn!(host = %self.config.name, endpoint = %self.config.endpoint, "Docker is down: {reason}")
                }
            }
            self.was_up = Some(up);
        }
    }

    async fn docker(&mut self, now: UnixMillis) -> (Reach, Option<Info>, Vec<ContainerReading>, Option<Sizes>) {
        let down = |e: DockerError| (Reach::Down { reason: e.short_reason() }, None, Vec::new(), None);
        let pinged = Instant::now();
        let latency = match self.client.ping().await {
            Ok(latency) => latency,
            Err(e) => {
                // A restarted daemon may speak another version: ask again when it is back.
                self.negotiated = false;
                return down(e);
            }
        };
        if !self.negotiated {
            let version = match self.client.negotiate().await {
                Ok(version) => version,
                Err(e) => return down(e),
            };
            let quirks = stats::Quirks::of(&version);
            if quirks.any() && quirks != self.quirks {
                tracing::info!(host = %self.config.name, "the daemon is Podman {}: {}", version.version, quirks.describe());
            }
            self.quirks = quirks;
            self.negotiated = true;
        }
        self.phases.ping = Some(pinged.elapsed());
        let top_due = due(self.last_top, self.config.top_interval);
        if due(self.last_sizes, self.config.size_interval) && self.size_task.is_none() {
            self.last_sizes = Some(Instant::now());
            let client = self.client.clone();
            let timeout = size_timeout(self.client.timeout());
            self.size_task = Some(tokio::spawn(async move {
                let started = Instant::now();
                (size_sweep(&client, timeout).await, started.elapsed())
            }));
        }
        let listed = Instant::now();
        let list: Vec<ContainerSummary> = match self.get_parsed("container list", "/containers/json?all=1").await {
            Ok(list) => list,
            Err(e) => return down(e),
        };
        self.phases.list = Some(listed.elapsed());
        let info = if top_due { self.changed_info().await } else { None };
        let top_slots = TopSlots::new(self.sweeps, &self.config);
        self.sweeps += 1;
        let sizes = match &self.size_task {
            Some(task) if task.is_finished() => self.finish_sizes().await,
            _ => None,
        };
        let containers = self.containers(list, now, top_slots).await;
        if top_due {
            self.last_top = Some(Instant::now());
        }
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        (Reach::Up { latency_us }, info, containers, sizes)
    }

    async fn get_parsed<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        path: &str,
    ) -> Result<T, DockerError> {
        fetch(&self.client, what, path, self.client.timeout()).await
    }

    async fn changed_info(&mut self) -> Option<Info> {
        match self.get_parsed::<Info>("info", "/info").await {
            Ok(info) if self.last_info.as_ref() != Some(&info) => {
                self.last_info = Some(info.clone());
                Some(info)
            }
            Ok(_) => None,
            Err(e) => {
                self.sweep_faults.host_info = true;
                self.fault(HOST_SUBJECT, &e.to_string());
                None
            }
        }
    }

    /// Waits for the size sweep in progress, if any, and takes its result
    /// (`None` when it failed, logged once per reason).
    pub async fn finish_sizes(&mut self) -> Option<Sizes> {
        let task = self.size_task.take()?;
        let joined = task.await.map(|(sizes, took)| {
            self.phases.sizes = Some(took);
            sizes
        });
        match joined {
            Ok(Ok(sizes)) => {
                self.faults.remove(SIZES_SUBJECT);
                Some(sizes)
            }
            Ok(Err(e)) => {
                self.sweep_faults.images = true;
                self.fault(SIZES_SUBJECT, &format!("{e}; sizes are tried again in {:?}", self.config.size_interval));
                None
            }
            Err(e) => {
                tracing::error!(host = %self.config.name, "the size sweep failed: {e}");
                None
            }
        }
    }

    async fn containers(
        &mut self,
        list: Vec<ContainerSummary>,
        now: UnixMillis,
        top: TopSlots,
    ) -> Vec<ContainerReading> {
        let permits = Arc::new(Semaphore::new(self.config.concurrency));
        let mut tasks = JoinSet::new();
        for (index, summary) in list.iter().enumerate() {
            let Some(state) = summary.state() else {
                self.sweep_faults.containers = self.sweep_faults.containers.saturating_add(1);
                self.fault(&summary.id, &format!("unknown state {:?} / status {:?}", summary.state, summary.status));
                continue;
            };
            let client = self.client.clone();
            let permits = Arc::clone(&permits);
            let clock = Arc::clone(&self.clock);
            let id = summary.id.clone();
            let top_due = top.includes(&id);
            // With the local source, a container whose files were not found
            // at its last inspect is inspected again.
            let inspect_due = top_due
                || self
                    .known
                    .get(&id)
                    .is_none_or(|known| !known.listed.is(summary) || (self.local.is_some() && known.target.is_none()));
            let counters = match &self.local {
                Some(fs) => Counters::Local {
                    fs: Arc::clone(fs),
                    target: self.known.get(&id).and_then(|known| known.target.clone()),
                },
                None => Counters::Api { quirks: self.quirks },
            };
            let request =
                ContainerRequest { client, permits, clock, counters, id, listed: state, inspect_due, top_due, now };
            tasks.spawn(async move { (index, sample_container(request).await) });
        }
        let mut results: Vec<Option<Sampled>> = vec![None; list.len()];
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, sampled)) => {
                    if let Some(slot) = results.get_mut(index) {
                        *slot = Some(sampled);
                    }
                }
                Err(e) => tracing::error!(host = %self.config.name, "a container task failed: {e}"),
            }
        }
        let windows: Vec<ReadWindow> = results.iter().flatten().filter_map(|sampled| sampled.window).collect();
        self.daemon_offset.observe(&self.config.name, &windows);
        if let Some(reason) = results.iter().flatten().find_map(|sampled| sampled.local_unreadable.clone()) {
            tracing::warn!(host = %self.config.name, "cgroup files cannot be read ({reason}); counters from the API instead");
            self.local = None;
        }
        let mut containers = Vec::with_capacity(list.len());
        let mut seen = HashSet::with_capacity(list.len());
        for (summary, sampled) in list.into_iter().zip(results) {
            let Some(mut sampled) = sampled else { continue };
            self.phases.add(&sampled.spans);
            if let Some(window) = &sampled.window {
                sampled.sample.time = self.daemon_offset.translate(window);
            }
            // Never before the sweep's own time, which [`sweep_time`] keeps
            // after every sample of the sweep before.
            sampled.sample.time = sampled.sample.time.max(now);
            for fault in &sampled.faults {
                self.fault(&summary.id, fault);
            }
            if sampled.faults.is_empty() {
                self.faults.remove(&summary.id);
            } else {
                self.sweep_faults.containers = self.sweep_faults.containers.saturating_add(1);
            }
            if sampled.gone {
                tracing::debug!(host = %self.config.name, container = %summary.id, "container vanished during the sweep");
                continue;
            }
            seen.insert(summary.id.clone());
            let details = sampled.details.and_then(|details| self.note_details(&summary, details, sampled.target));
            containers.push(ContainerReading {
                summary,
                sample: sampled.sample,
                details,
                top: sampled.top,
                memory_stats: sampled.memory_stats,
            });
        }
        self.known.retain(|id, _| seen.contains(id));
        self.faults.retain(|id, _| seen.contains(id) || id == HOST_SUBJECT || id == SIZES_SUBJECT);
        containers
    }

    /// Remembers a container's inspected details with its list entry; the
    /// details when they differ from the previous ones (what the store keeps).
    fn note_details(
        &mut self,
        summary: &ContainerSummary,
        details: ContainerDetails,
        target: Option<LocalTarget>,
    ) -> Option<ContainerDetails> {
        let changed = self.known.get(&summary.id).is_none_or(|known| known.details != details);
        let known = Known { listed: Listed::of(summary), details, target };
        let details = changed.then(|| known.details.clone());
        self.known.insert(summary.id.clone(), known);
        details
    }

    /// Logs a fault once per subject and reason.
    fn fault(&mut self, subject: &str, reason: &str) {
        if self.faults.get(subject).map(String::as_str) != Some(reason) {
            tracing::warn!(host = %self.config.name, container = %subject, "{reason}");
            self.faults.insert(subject.to_owned(), reason.to_owned());
        }
    }
}

/// A container's details as last inspected, its list entry then, and
/// where its cgroup files are (with the local source).
#[derive(Clone, Debug)]
struct Known {
    listed: Listed,
    details: ContainerDetails,
    target: Option<LocalTarget>,
}

/// The parts of a list entry that change when a container's inspect
/// details may have: a container inspected once is inspected again only
/// when one of them changed, or in its [`TopSlots`] refresh.
///
/// # InspectDue
///
/// What the store keeps of inspect (state, exit code, OOM kill, restart
/// count, health, start and finish times, limits, ports) changes with the
/// list's status text in all but two cases: a start, stop, kill, restart,
/// OOM kill, restart-policy restart or health change rewrites the status
/// (`Up 2 seconds`, `Exited (137) 1 second ago`, `Up 3 minutes
/// (unhealthy)`), and its age part alone changes it every second for the
/// first minute, then every minute for an hour, then hourly. The two it
/// misses are `docker update` of the limits and the failing streak of a
/// health check before it turns the status; they are refreshed by the
/// inspect each container gets in its `top` slot, once per `top_interval`
/// (60 s by default). Until then the store holds the previous details.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Listed {
    state: Option<String>,
    status: String,
    names: Vec<String>,
    image: String,
    image_id: Option<String>,
    created: i64,
}

impl Listed {
    /// Whether `summary` still lists the container as this.
    fn is(&self, summary: &ContainerSummary) -> bool {
        *self == Listed::of(summary)
    }

    fn of(summary: &ContainerSummary) -> Listed {
        Listed {
            state: summary.state.clone(),
            status: summary.status.clone(),
            names: summary.names.clone(),
            image: summary.image.clone(),
            image_id: summary.image_id.clone(),
            created: summary.created,
        }
    }
}

/// Which containers get `top` (and their raw memory statistics, and an
/// inspect whatever their list entry says: see [`Listed`]) in a sweep.
///
/// `top` makes the daemon run `ps` for the container, the most expensive
/// request: rather than all containers every `top_interval`, each sweep
/// takes its share, the containers whose slot (a hash of the id, modulo
/// the sweeps per `top_interval`) is this sweep's. Each container still
/// gets one `top` per `top_interval`; the first sweep (and `--once`) takes
/// every container.
#[derive(Clone, Copy, Debug)]
struct TopSlots {
    slot: u64,
    slots: u64,
}

impl TopSlots {
    fn new(sweep: u64, config: &HostConfig) -> TopSlots {
        let per_interval = config.top_interval.as_millis() / config.interval.as_millis().max(1);
        let slots = u64::try_from(per_interval).unwrap_or(u64::MAX).max(1);
        if sweep == 0 {
            return TopSlots { slot: 0, slots: 1 };
        }
        TopSlots { slot: sweep % slots, slots }
    }

    fn includes(&self, id: &str) -> bool {
        // FNV-1a: stable across runs and builds, unlike the std hasher.
        let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        hash % self.slots == self.slot
    }
}

/// `GET` of `path` within `timeout`, parsed as `what`.
async fn fetch<T: serde::de::DeserializeOwned>(
    client: &DockerClient,
    what: &'static str,
    path: &str,
    timeout: Duration,
) -> Result<T, DockerError> {
    let body = client.get_within(path, timeout).await?;
    api::parse(what, &body).map_err(|e| DockerError::Garbage {
        endpoint: client.endpoint().clone(),
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// The size list's own timeout: the daemon sums every container's writable
/// layer, which takes tens of seconds on hosts with big ones.
fn size_timeout(timeout: Duration) -> Duration {
    (timeout * 12).max(Duration::from_secs(60))
}

/// The size sweep: the list with sizes (`size=1`) and the images, within
/// `timeout` each. It runs as a task of its own, so that a slow one never
/// holds a sweep or makes the host "down"; the sweep that finds it done
/// stores its result.
async fn size_sweep(client: &DockerClient, timeout: Duration) -> Result<Sizes, DockerError> {
    let list: Vec<ContainerSummary> = fetch(client, "container list", "/containers/json?all=1&size=1", timeout).await?;
    let images: Vec<ImageSummary> = fetch(client, "image list", "/images/json", timeout).await?;
    let mut sizes =
        Sizes { images: images.iter().filter_map(|i| u64::try_from(i.size).ok()).sum(), containers: BTreeMap::new() };
    for state in [State::Running, State::Restarting, State::Paused, State::Exited, State::Created, State::Dead] {
        sizes.containers.insert(state.as_str().to_owned(), 0);
    }
    for container in &list {
        let (Some(state), Some(size)) = (container.state(), container.size_rw) else { continue };
        let size = u64::try_from(size).unwrap_or(0);
        *sizes.containers.entry(state.as_str().to_owned()).or_insert(0) += size;
    }
    Ok(sizes)
}

fn due(last: Option<Instant>, interval: Duration) -> bool {
    // A little early is fine: the sweep interval rarely divides the others exactly.
    last.is_none_or(|last| last.elapsed() + Duration::from_millis(500) >= interval)
}

/// The outcome of one container's requests.
#[derive(Clone, Debug)]
struct Sampled {
    sample: Sample,
    /// Where the stats' `read` time was taken, when the sample has one.
    window: Option<ReadWindow>,
    details: Option<ContainerDetails>,
    top: Option<Top>,
    memory_stats: Option<BTreeMap<String, u64>>,
    gone: bool,
    faults: Vec<String>,
    spans: ContainerSpans,
    /// Where its cgroup files are, found from this sweep's inspect.
    target: Option<LocalTarget>,
    /// Why its cgroup files could not be read (the host then turns to the API).
    local_unreadable: Option<String>,
}

/// Where a container's counters come from.
enum Counters {
    /// A stats request; what to correct in this daemon's stats (Podman's).
    Api { quirks: stats::Quirks },
    /// The cgroup files; where they are, as last inspected.
    Local { fs: Arc<CgroupFs>, target: Option<LocalTarget> },
}

/// What one container's requests need.
struct ContainerRequest {
    client: DockerClient,
    permits: Arc<Semaphore>,
    clock: Arc<Clock>,
    counters: Counters,
    id: String,
    listed: State,
    inspect_due: bool,
    top_due: bool,
    /// The sweep's time.
    now: UnixMillis,
}

async fn sample_container(request: ContainerRequest) -> Sampled {
    let ContainerRequest { client, permits, clock, counters, id, listed, inspect_due, top_due, now } = request;
    let mut sampled = Sampled {
        sample: Sample::state_only(now, listed),
        window: None,
        details: None,
        top: None,
        memory_stats: None,
        gone: false,
        faults: Vec::new(),
        spans: ContainerSpans::default(),
        target: None,
        local_unreadable: None,
    };
    let has_counters = matches!(listed, State::Running | State::Paused);
    let stats_path = if client.has_one_shot() {
        format!("/containers/{id}/stats?stream=false&one-shot=true")
    } else {
        format!("/containers/{id}/stats?stream=false")
    };
    let inspect_path = format!("/containers/{id}/json");
    let top_path = format!("/containers/{id}/top");
    let get = |path: String| {
        let client = client.clone();
        let permits = Arc::clone(&permits);
        async move {
            let asked = Instant::now();
            let _permit = permits.acquire_owned().await;
            let sent = Instant::now();
            let answer = client.get(&path).await;
            (answer, Span::until_now(sent), sent.saturating_duration_since(asked))
        }
    };
    let (inspect, stats, top) = tokio::join!(
        async {
            if inspect_due {
                Some(get(inspect_path).await)
            } else {
                None
            }
        },
        async {
            if has_counters && matches!(counters, Counters::Api { .. }) {
                let sent = clock.now();
                let stats = get(stats_path).await;
                Some((stats, sent, clock.now()))
            } else {
                None
            }
        },
        async {
            if top_due && listed == State::Running {
                Some(get(top_path).await)
            } else {
                None
            }
        },
    );
    let spans = &mut sampled.spans;
    let mut timed = |span: &mut Option<Span>, (answer, took, queued)| {
        *span = Some(took);
        spans.queued = spans.queued.max(queued);
        answer
    };
    let inspect = inspect.map(|answer| timed(&mut spans.inspect, answer));
    let stats = stats.map(|(answer, sent, answered)| (timed(&mut spans.stats, answer), sent, answered));
    let top = top.map(|answer| timed(&mut spans.top, answer));
    let mut record = |result: &Result<_, DockerError>| match result {
        Err(e) if e.is_gone() => sampled.gone = true,
        Err(e) => sampled.faults.push(e.to_string()),
        Ok(_) => {}
    };
    if let Some(inspect) = &inspect {
        record(inspect);
    }
    if let Some((stats, _, _)) = &stats {
        record(stats);
    }
    if let Some(top) = &top {
        record(top);
    }
    let mut inspected = None;
    if let Some(Ok(body)) = inspect {
        match api::parse::<ContainerInspect>("container inspect", &body) {
            Ok(inspect) => {
                sampled.details = Some(ContainerDetails::from(&inspect));
                inspected = Some(inspect);
            }
            Err(e) => sampled.faults.push(e.to_string()),
        }
    }
    if let Some(Ok(body)) = top {
        match api::parse::<Top>("container top", &body) {
            Ok(top) => sampled.top = Some(top),
            Err(e) => sampled.faults.push(e.to_string()),
        }
    }
    let quirks = match counters {
        Counters::Api { quirks } => quirks,
        Counters::Local { fs, target } if has_counters && !sampled.gone => {
            let target = match &inspected {
                Some(inspect) => local_target(&fs, inspect),
                None => target.ok_or(CgroupError::Gone),
            };
            read_local(&mut sampled, &fs, target, &clock, listed, top_due);
            return sampled;
        }
        Counters::Local { .. } => return sampled,
    };
    if let Some((Ok(body), sent, answered)) = stats {
        match stats::parse_stats(&body, listed) {
            Ok(Some(mut sample)) => {
                quirks.apply(&mut sample);
                sampled.window = Some(ReadWindow { read: sample.time, sent, answered });
                sampled.sample = sample;
                if top_due {
                    sampled.memory_stats = memory_stats(&body);
                }
            }
            // The all-zero document of a container that stopped since the list.
            Ok(None) => {}
            Err(e) => sampled.faults.push(format!("stats: {e}")),
        }
    }
    sampled
}

/// Reads a running container's counters from its cgroup files at
/// `target` into `sampled`.
fn read_local(
    sampled: &mut Sampled,
    fs: &CgroupFs,
    target: Result<LocalTarget, CgroupError>,
    clock: &Clock,
    listed: State,
    top_due: bool,
) {
    let sent = Instant::now();
    let read = target.and_then(|target| {
        let read = fs.read(&target, clock.now(), listed);
        sampled.target = Some(target);
        read
    });
    sampled.spans.cgroupfs = Some(Span::until_now(sent));
    match read {
        Ok(reading) => {
            sampled.sample = reading.sample;
            if top_due {
                sampled.memory_stats = Some(reading.memory_stats);
            }
        }
        // Stopped or removed since the list (or not running at the
        // inspect): as a stats request's 404.
        Err(CgroupError::Gone) => sampled.gone = true,
        Err(e @ (CgroupError::Unreadable { .. } | CgroupError::Unusable { .. })) => {
            sampled.local_unreadable = Some(e.to_string());
        }
        Err(e @ CgroupError::Garbage { .. }) => sampled.faults.push(e.to_string()),
    }
}

/// Where an inspected container's cgroup files are: its process's, or
/// [`CgroupError::Gone`] when it has none (not running at the inspect).
fn local_target(fs: &CgroupFs, inspect: &ContainerInspect) -> Result<LocalTarget, CgroupError> {
    let network_mode = inspect.host_config.as_ref().and_then(|host| host.network_mode.as_deref());
    fs.target(inspect.state.pid, network_mode)
}

/// The raw `memory_stats.stats` map of a stats document with data
/// (numbers only); empty when the daemon sends none (Podman 4 leaves the
/// map out), so that a query can tell "not reported" from "not sampled yet".
fn memory_stats(doc: &[u8]) -> Option<BTreeMap<String, u64>> {
    #[derive(Deserialize)]
    struct Doc {
        memory_stats: Option<Memory>,
    }
    #[derive(Deserialize)]
    struct Memory {
        stats: Option<BTreeMap<String, serde_json::Value>>,
    }
    let doc: Doc = serde_json::from_slice(doc).ok()?;
    let stats = doc.memory_stats?.stats.unwrap_or_default();
    Some(stats.into_iter().filter_map(|(k, v)| v.as_u64().map(|v| (k, v))).collect())
}

impl Reach {
    /// Whether the daemon was reached.
    pub fn is_up(&self) -> bool {
        matches!(self, Reach::Up { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_is_inspected_again_when_its_list_entry_changes() {
        let entry = |state: &str, status: &str, labels: &str| {
            let json = format!(
                r#"{{"Id":"{:064x}","Names":["/web"],"Image":"busybox","ImageID":"sha256:1","Command":"sh",
                "Created":1700000000,"Labels":{{{labels}}},"State":"{state}","Status":"{status}"}}"#,
                1
            );
            api::parse::<ContainerSummary>("container list entry", json.as_bytes())
                .unwrap_or_else(|e| panic!("{e}: {json}"))
        };
        let inspected = Listed::of(&entry("running", "Up 5 minutes", ""));
        assert!(inspected.is(&entry("running", "Up 5 minutes", "")));
        assert!(inspected.is(&entry("running", "Up 5 minutes", r#""role":"web""#)), "labels never change");
        assert!(!inspected.is(&entry("running", "Up 1 second", "")), "restarted");
        assert!(!inspected.is(&entry("running", "Up 5 minutes (unhealthy)", "")), "health");
        assert!(!inspected.is(&entry("exited", "Exited (137) 1 second ago", "")), "killed");
    }

    #[test]
    fn every_container_gets_one_top_per_top_interval_and_all_on_the_first_sweep() {
        let config = crate::config::Config::resolve(kura_store::config::FlagConfig::default());
        let Ok(config) = config else { panic!("default config") };
        let host = &config.hosts[0];
        assert_eq!(host.top_interval.as_secs() / host.interval.as_secs(), 6);
        let ids: Vec<String> = (0..100).map(|i| format!("{i:064x}")).collect();
        assert!(ids.iter().all(|id| TopSlots::new(0, host).includes(id)));
        for id in &ids {
            let sweeps = (1..=6).filter(|sweep| TopSlots::new(*sweep, host).includes(id)).count();
            assert_eq!(sweeps, 1, "{id}");
        }
        let first_share = ids.iter().filter(|id| TopSlots::new(1, host).includes(id)).count();
        assert!((5..=30).contains(&first_share), "a sweep's share of 100 containers: {first_share}");
    }

    #[test]
    fn a_sweep_starts_after_the_newest_sample_of_the_one_before() {
        assert_eq!(sweep_time(1_000, None), 1_000);
        assert_eq!(sweep_time(1_000, Some(400)), 1_000);
        // The last sample answered in the millisecond this sweep starts.
        assert_eq!(sweep_time(1_000, Some(1_000)), 1_001);
        assert_eq!(sweep_time(1_000, Some(1_003)), 1_004);
    }
}
