//! One row per host and bucket beside the containers' (`kura export
//! --hosts`): how often the daemon answered, containers per state at the
//! bucket's end, image and container disk bytes, and the host's own CPU and
//! memory from SNMP where it is read.

use kura_store::payload::HostReading;
use kura_store::sample::State;
use kura_store::{Reader, Timed};

use super::container::Buckets;
use super::{ContainerHistory, Spec};
use crate::error::QueryError;
use crate::rate::{self, SnmpCpuTicks};

/// The states counted per bucket, in column order (the 2015 scripts' order).
pub const STATES: [State; 6] =
    [State::Running, State::Restarting, State::Paused, State::Exited, State::Created, State::Dead];

/// One host over one bucket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostBucket {
    /// The bucket's index.
    pub index: usize,
    /// Percent of the bucket's sweeps that reached the daemon; `None`
    /// without sweeps (the collector did not run).
    pub up_pct: Option<f64>,
    /// Containers per [`STATES`] at the bucket's end, of those exported.
    pub states: [u32; STATES.len()],
    /// Bytes of the images, from the newest size sweep before the bucket's end.
    pub image_bytes: Option<u64>,
    /// Bytes of the containers' writable layers, likewise.
    pub container_bytes: Option<u64>,
    /// The host's CPU busy percent over the bucket, from SNMP.
    pub cpu_pct: Option<f64>,
    /// The host's memory in use at the bucket's end, percent, from SNMP.
    pub mem_pct: Option<f64>,
}

/// Counts containers per state at each bucket's end, as histories arrive.
#[derive(Clone, Debug)]
pub struct StateCounts {
    counts: Vec<[u32; STATES.len()]>,
}

impl StateCounts {
    /// Zero counts for `buckets`.
    pub fn new(buckets: &Buckets) -> StateCounts {
        StateCounts { counts: vec![[0; STATES.len()]; buckets.count] }
    }

    /// Counts one container's states.
    pub fn add(&mut self, history: &ContainerHistory) {
        for bucket in &history.figures.buckets {
            let column = bucket.state.and_then(|state| STATES.iter().position(|&s| s == state));
            if let (Some(column), Some(counts)) = (column, self.counts.get_mut(bucket.index)) {
                counts[column] += 1;
            }
        }
    }
}

/// The host's rows: one per bucket in which its collector swept.
pub fn host_buckets(
    reader: &Reader,
    host: &str,
    spec: &Spec,
    states: &StateCounts,
) -> Result<Vec<HostBucket>, QueryError> {
    let buckets = &spec.buckets;
    let mut rows: Vec<HostBucket> = (0..buckets.count)
        .map(|index| HostBucket {
            index,
            states: states.counts.get(index).copied().unwrap_or_default(),
            ..HostBucket::default()
        })
        .collect();
    let mut sweeps = vec![(0u32, 0u32); buckets.count];
    for sweep in reader.sweeps(host, spec.from, spec.to.saturating_sub(1))? {
        if let Some((reached, all)) = buckets.index_of(sweep.time).and_then(|i| sweeps.get_mut(i)) {
            *all += 1;
            *reached += u32::from(matches!(sweep.outcome, kura_store::SweepOutcome::Reached));
        }
    }
    for (row, (reached, all)) in rows.iter_mut().zip(sweeps) {
        row.up_pct = rate::percent_of(u64::from(reached), u64::from(all));
    }
    let sizes = reader.sizes_between(host, spec.from.saturating_sub(buckets.step_ms), spec.to)?;
    for row in &mut rows {
        let end = buckets.end(row.index);
        if let Some(newest) = sizes.iter().rev().find(|s| s.time < end) {
            row.image_bytes = Some(newest.value.images);
            row.container_bytes = Some(newest.value.containers.values().sum());
        }
    }
    let readings = reader.snmp(host, spec.from, spec.to.saturating_sub(1))?;
    let mut by_bucket: Vec<Vec<&Timed<HostReading>>> = vec![Vec::new(); buckets.count];
    for reading in &readings {
        if let Some(list) = buckets.index_of(reading.time).and_then(|i| by_bucket.get_mut(i)) {
            list.push(reading);
        }
    }
    for (row, list) in rows.iter_mut().zip(&by_bucket) {
        let ticks: Vec<_> = list.iter().filter_map(|r| Some((r.time, SnmpCpuTicks::of(&r.value)?))).collect();
        row.cpu_pct = rate::snmp_cpu_busy_since(&ticks, buckets.start(row.index));
        row.mem_pct = list.last().and_then(|r| {
            let total = r.value.memory.total_real?;
            rate::percent_of(total.saturating_sub(r.value.mem_available_kib()?), total)
        });
    }
    rows.retain(|row| row.up_pct.is_some());
    Ok(rows)
}
