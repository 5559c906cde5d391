//! Hinemos' node repository kept in step on `[hinemos] interval`, by the
//! same plan and apply as `kura nodes apply` ([`kura_nodes::run`]), from
//! the store this collector holds (its read handle, no socket round trips).
//!
//! Each round runs on a thread of its own: the client is blocking, and a
//! round still talking to the manager when the collector stops does not
//! hold the stop up (the next round redoes whatever it did not finish).

use std::time::Duration;

use kura_nodes::apply::Status;
use kura_nodes::run;
use kura_nodes::settings::NodesSettings;
use kura_store::socket::HandleSlot;
use kura_store::Reader;
use tokio::sync::{oneshot, watch};
use tokio::time::MissedTickBehavior;

use crate::daemon::now_millis;

/// Keeps the repository in step every `settings.interval` until `stop`.
pub async fn keep_in_step(settings: NodesSettings, slot: HandleSlot, mut stop: watch::Receiver<bool>) {
    let every = settings.interval.unwrap_or(Duration::from_secs(300));
    // The first round after one interval: the store has sweeps by then.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        let (done, finished) = oneshot::channel();
        let (settings, slot) = (settings.clone(), slot.clone());
        let spawned = std::thread::Builder::new().name("kura-nodes".to_owned()).spawn(move || {
            round(&settings, &slot);
            let _ = done.send(());
        });
        if let Err(error) = spawned {
            tracing::error!(%error, "hinemos: cannot start a round");
            continue;
        }
        tokio::select! {
            _ = finished => {}
            _ = stop.changed() => return,
        }
    }
}

/// One round over every configured host; everything it did is logged.
fn round(settings: &NodesSettings, slot: &HandleSlot) {
    let Some(handle) = slot.get() else {
        tracing::warn!("hinemos: the store is being reopened; this round is skipped");
        return;
    };
    let reader = Reader::Handle(handle);
    let mut manager = match run::connect(settings) {
        Ok(Some(manager)) => manager,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!("hinemos: {error}");
            return;
        }
    };
    for target in &settings.hosts {
        let host = target.name.as_str();
        match run::sync_host(&reader, &mut manager, target, settings, now_millis()) {
            Ok((plan, report)) => {
                for warning in &plan.warnings {
                    tracing::warn!(host, "hinemos: {warning}");
                }
                for outcome in &report.outcomes {
                    let (action, target) = (outcome.change.action(), outcome.change.target());
                    match &outcome.status {
                        Status::Done => tracing::info!(host, "hinemos: {action} {target}: {}", outcome.change.detail()),
                        Status::Failed(reason) | Status::NotAttempted(reason) => {
                            tracing::warn!(host, "hinemos: {action} {target}: {reason}")
                        }
                    }
                }
                tracing::debug!(host, changes = report.outcomes.len(), done = report.done(), "hinemos: round");
            }
            Err(error) => tracing::warn!(host, "hinemos: {error}"),
        }
    }
}
