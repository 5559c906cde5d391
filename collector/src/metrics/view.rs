//! What `/metrics` answers from: each host's newest stored sweep, kept in
//! memory as [`HostView`]s.
//!
//! Reading the newest samples of 100 containers back from the store costs
//! 1-100 ms (the head of a host is a chain of differences decoded from
//! its first page; see README, Performance), so a scrape does not read the
//! store. The views are loaded from it once, through the collector's
//! in-process [`Reader`], when the collector starts; after that the
//! writer hands every sweep the store took to [`Views::apply`], which
//! keeps what the store kept: nothing of a sweep the store dropped as
//! stale, and no sample the store dropped as not newer than the one it
//! holds. So a view is what a read of the store would give, without the
//! read (`views_fed_by_sweeps_equal_views_loaded_from_the_store` tests it).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use kura_store::payload::{ContainerDetails, Event, Info};
use kura_store::sample::{Sample, UnixMillis};
use kura_store::{ContainerInfo, Reader, StoreError, SweepBatch, SweepOutcome, SweepRecord, WriteReport};

use super::lifecycle::Lifecycle;

/// One container as its host's newest sweep saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerView {
    /// Its id, name, image and labels.
    pub info: ContainerInfo,
    /// Its state and counters in the newest sweep.
    pub sample: Sample,
    /// Its newest inspect details (limits, health, start time).
    pub details: Option<ContainerDetails>,
    /// `details.started_at` in Unix seconds.
    pub started_at: Option<f64>,
    /// Its restarts and OOM kills since the collector started.
    pub lifecycle: Lifecycle,
}

/// One host's newest stored sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct HostView {
    /// The host's name.
    pub host: String,
    /// The newest sweep.
    pub sweep: SweepRecord,
    /// The daemon's newest `/info` (cgroup driver, CPUs, memory).
    pub info: Option<Info>,
    /// The containers that sweep sampled, by name.
    pub containers: Vec<ContainerView>,
    /// Every container's counts, including those the events name before
    /// a sweep lists them.
    lifecycles: HashMap<String, Lifecycle>,
    /// The time of the newest event counted and the events at that time:
    /// the daemon sends the event at `since` again after a reconnect.
    newest_event: Option<(i64, Vec<Event>)>,
}

impl HostView {
    /// The view of `host` in the store, or `None` when the store has no
    /// sweep of it.
    pub fn load(reader: &Reader, host: &str) -> Result<Option<HostView>, StoreError> {
        let sweep = match reader.latest_sweep(host) {
            Ok(Some(sweep)) => sweep,
            Ok(None) | Err(StoreError::UnknownHost { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let info = reader.host_info_at(host, UnixMillis::MAX)?.map(|timed| timed.value);
        let newest_event = reader.last_event(host)?.map(|record| (record.time_ns, vec![record.event]));
        // The containers of the newest sweep, as `kura` selects them.
        let series: Vec<_> =
            reader.series(host)?.into_iter().filter(|s| s.last_seen.is_some_and(|seen| seen >= sweep.time)).collect();
        let ids: Vec<_> = series.iter().map(|s| s.series).collect();
        let samples = reader.samples_many(&ids, sweep.time, UnixMillis::MAX)?;
        let mut containers = Vec::with_capacity(series.len());
        let mut lifecycles = HashMap::with_capacity(series.len());
        for (series, columns) in series.into_iter().zip(samples) {
            let Some(sample) = columns.len().checked_sub(1).and_then(|last| columns.row(last)) else { continue };
            let details = reader.details_at(series.series, UnixMillis::MAX)?.map(|timed| timed.value);
            let lifecycle = Lifecycle::first_seen(details.as_ref());
            lifecycles.insert(series.container.id.clone(), lifecycle);
            containers.push(ContainerView::new(series.container, sample, details, lifecycle));
        }
        sort(&mut containers);
        Ok(Some(HostView { host: host.to_owned(), sweep, info, containers, lifecycles, newest_event }))
    }

    /// An empty view before the host's first sweep.
    fn empty(batch: &SweepBatch) -> HostView {
        HostView {
            host: batch.host.clone(),
            sweep: batch.sweep.clone(),
            info: None,
            containers: Vec::new(),
            lifecycles: HashMap::new(),
            newest_event: None,
        }
    }

    /// The view after `batch`, of which the store kept what `report` says.
    fn next(&self, batch: &SweepBatch, report: &WriteReport) -> Option<HostView> {
        if report.stale {
            return None;
        }
        let mut lifecycles = self.lifecycles.clone();
        // The restart policy first, so that this batch's events are read
        // under it (a new container's first events come with its first details).
        let told: HashSet<&str> = batch.events.iter().filter_map(|r| r.event.container_id()).collect();
        for sweep in &batch.containers {
            let Some(details) = &sweep.details else { continue };
            match lifecycles.get_mut(&sweep.info.id) {
                Some(lifecycle) => lifecycle.learn(details),
                None if told.contains(sweep.info.id.as_str()) => {
                    lifecycles.insert(sweep.info.id.clone(), Lifecycle::under(details));
                }
                None => {}
            }
        }
        let mut newest_event = self.newest_event.clone();
        let mut named = HashSet::new();
        for record in &batch.events {
            if !first_time(&mut newest_event, record.time_ns, &record.event) {
                continue;
            }
            if let Some(id) = record.event.container_id() {
                lifecycles.entry(id.to_owned()).or_default().count(&record.event);
                named.insert(id.to_owned());
            }
        }
        let previous: HashMap<&str, &ContainerView> = self.containers.iter().map(|c| (c.info.id.as_str(), c)).collect();
        let mut containers = Vec::with_capacity(batch.containers.len());
        for sweep in &batch.containers {
            let before = previous.get(sweep.info.id.as_str());
            // The store drops a sample not newer than the one it holds.
            let Some(sample) = sweep.sample.as_ref().filter(|s| before.is_none_or(|b| s.time > b.sample.time)) else {
                continue;
            };
            let details = sweep.details.clone().or_else(|| before.and_then(|b| b.details.clone()));
            let lifecycle =
                *lifecycles.entry(sweep.info.id.clone()).or_insert_with(|| Lifecycle::first_seen(details.as_ref()));
            containers.push(ContainerView::new(sweep.info.clone(), sample.clone(), details, lifecycle));
        }
        sort(&mut containers);
        let listed: HashSet<&str> = batch.containers.iter().map(|c| c.info.id.as_str()).collect();
        lifecycles.retain(|id, _| listed.contains(id.as_str()) || named.contains(id));
        Some(HostView {
            host: self.host.clone(),
            sweep: batch.sweep.clone(),
            info: batch.host_info.clone().or_else(|| self.info.clone()),
            containers,
            lifecycles,
            newest_event,
        })
    }

    /// Whether the newest sweep reached the daemon.
    pub fn reached(&self) -> bool {
        self.sweep.outcome == SweepOutcome::Reached
    }
}

impl ContainerView {
    fn new(info: ContainerInfo, sample: Sample, details: Option<ContainerDetails>, lifecycle: Lifecycle) -> Self {
        let started_at = details
            .as_ref()
            .and_then(|d| d.started_at.as_deref())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| kura_query::rate::approx_f64(u64::try_from(t.timestamp_micros()).unwrap_or(0)) / 1e6);
        ContainerView { info, sample, details, started_at, lifecycle }
    }
}

/// Whether an event is newer than those counted (or, at the newest time
/// counted, not one of them); records it as counted.
fn first_time(newest: &mut Option<(i64, Vec<Event>)>, time_ns: i64, event: &Event) -> bool {
    match newest {
        Some((newest_ns, _)) if time_ns < *newest_ns => false,
        Some((newest_ns, seen)) if time_ns == *newest_ns => {
            if seen.contains(event) {
                return false;
            }
            seen.push(event.clone());
            true
        }
        _ => {
            *newest = Some((time_ns, vec![event.clone()]));
            true
        }
    }
}

fn sort(containers: &mut [ContainerView]) {
    containers.sort_by(|a, b| (&a.info.name, &a.info.id).cmp(&(&b.info.name, &b.info.id)));
}

/// Every host's view, shared by the writer (which updates them) and the
/// endpoint (which reads them). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Views(Arc<Mutex<ViewsState>>);

#[derive(Debug, Default)]
struct ViewsState {
    /// Counts the changes: equal generations, equal views.
    generation: u64,
    hosts: BTreeMap<String, Arc<HostView>>,
}

impl Views {
    /// The views of `hosts`, loaded from the store.
    pub fn load<'a>(reader: &Reader, hosts: impl IntoIterator<Item = &'a str>) -> Result<Views, StoreError> {
        let mut views = BTreeMap::new();
        for host in hosts {
            if let Some(view) = HostView::load(reader, host)? {
                views.insert(host.to_owned(), Arc::new(view));
            }
        }
        Ok(Views(Arc::new(Mutex::new(ViewsState { generation: 0, hosts: views }))))
    }

    /// Takes a sweep the store took: `report` is what it stored of it.
    pub fn apply(&self, batch: &SweepBatch, report: &WriteReport) {
        let current = self.lock().hosts.get(&batch.host).cloned();
        let next = match &current {
            Some(view) => view.next(batch, report),
            None => HostView::empty(batch).next(batch, report),
        };
        if let Some(next) = next {
            let mut state = self.lock();
            state.hosts.insert(batch.host.clone(), Arc::new(next));
            state.generation += 1;
        }
    }

    /// The view of one host.
    pub fn host(&self, host: &str) -> Option<Arc<HostView>> {
        self.lock().hosts.get(host).cloned()
    }

    /// How many times the views changed.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ViewsState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::simulate::{Simulation, Simulator};
    use kura_store::{Store, StoreOptions};

    #[test]
    fn views_fed_by_sweeps_equal_views_loaded_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions { flush_every_sweep: false, block_rows: 60, ..StoreOptions::default() };
        let store = Store::open(dir.path(), options).unwrap();
        // 150 sweeps: two compactions of the head and an open head; restarts
        // (and their events) included.
        let spec = Simulation { sweeps: 150, ..Simulation::days(12, 1, 600_000) };
        let host = spec.host.clone();
        let mut simulator = Simulator::new(spec);
        let fed = Views::default();
        while let Some(batch) = simulator.next_sweep() {
            let report = store.write_sweep(batch).unwrap();
            fed.apply(batch, &report);
        }
        let reader = Reader::Handle(store.read_handle());
        let loaded = Views::load(&reader, [host.as_str()]).unwrap();
        let (fed, loaded) = (fed.host(&host).unwrap(), loaded.host(&host).unwrap());
        assert_eq!(fed.containers.len(), 12);
        // The counts differ by design: loaded views start from zero.
        let strip = |view: &HostView| {
            let mut view = view.clone();
            view.containers.iter_mut().for_each(|c| c.lifecycle = Lifecycle::first_seen(c.details.as_ref()));
            view.lifecycles.clear();
            view.newest_event = None;
            view
        };
        assert_eq!(strip(&fed), strip(&loaded));
        // Restarts changed some details on the way.
        assert!(fed.containers.iter().any(|c| c.details.as_ref().is_some_and(|d| d.restart_count > 0)));
    }

    #[test]
    fn a_stale_sweep_and_samples_not_newer_than_the_last_leave_the_view_as_the_store_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let mut simulator = Simulator::new(Simulation { sweeps: 3, ..Simulation::days(3, 1, 10_000) });
        let views = Views::default();
        let first = simulator.next_sweep().unwrap().clone();
        views.apply(&first, &store.write_sweep(&first).unwrap());
        let before = views.host(&first.host).unwrap();
        // The same sweep again: the store calls it stale.
        let report = store.write_sweep(&first).unwrap();
        assert!(report.stale);
        views.apply(&first, &report);
        assert_eq!(views.host(&first.host).unwrap(), before);
        // A later sweep whose first container's sample is old.
        let mut second = simulator.next_sweep().unwrap().clone();
        second.containers[0].sample = first.containers[0].sample.clone();
        let report = store.write_sweep(&second).unwrap();
        assert_eq!(report.out_of_order, 1);
        views.apply(&second, &report);
        let after = views.host(&first.host).unwrap();
        assert_eq!(after.containers.len(), 2);
        assert!(after.containers.iter().all(|c| c.info.id != first.containers[0].info.id));
    }
}
