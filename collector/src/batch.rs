//! What a sweep learnt, as the store keeps it: the one place that knows both
//! the sweep's shapes and the store's.

use crate::sweep::{ContainerReading, HostSweep, Reach};
use kura_store::payload::Latest;
use kura_store::{ContainerInfo, EventRecord, SweepBatch, SweepRecord};

/// The store batch of one sweep and the events gathered since the last one.
pub fn batch(outcome: HostSweep, events: Vec<EventRecord>) -> SweepBatch {
    let (sweep_outcome, latency_us) = match &outcome.reach {
        Reach::Up { latency_us } => (kura_store::SweepOutcome::Reached, *latency_us),
        Reach::Down { reason } => (kura_store::SweepOutcome::Down(reason.clone()), 0),
    };
    let containers = u32::try_from(outcome.containers.len()).unwrap_or(u32::MAX);
    SweepBatch {
        host: outcome.host,
        sweep: SweepRecord { time: outcome.time, outcome: sweep_outcome, latency_us, containers },
        containers: outcome.containers.into_iter().map(container).collect(),
        events,
        snmp: outcome.snmp,
        sizes: outcome.sizes,
        host_info: outcome.info,
    }
}

fn container(sweep: ContainerReading) -> kura_store::ContainerSweep {
    let summary = sweep.summary;
    let latest = (sweep.top.is_some() || sweep.memory_stats.is_some())
        .then_some(Latest { top: sweep.top, memory_stats: sweep.memory_stats });
    kura_store::ContainerSweep {
        info: ContainerInfo {
            name: summary.name().unwrap_or_default().to_owned(),
            image: summary.image.clone(),
            command: summary.command.clone(),
            created: summary.created.checked_mul(1000),
            labels: summary.labels.clone(),
            id: summary.id,
        },
        sample: Some(sweep.sample),
        details: sweep.details,
        latest,
    }
}
