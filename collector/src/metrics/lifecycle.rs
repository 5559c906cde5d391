//! Restarts and OOM kills of each container, counted from the Docker events
//! the store took, for `kura_container_restarts_total` and
//! `container_oom_events_total`.
//!
//! Not from inspect: `RestartCount` counts restarts by the restart policy
//! only, and a manual `docker start` or `docker restart` resets it to 0;
//! `OOMKilled` is cleared by every start. The events tell each one (moby's
//! sequences): a restart by policy is `die start`, a manual restart `kill
//! die stop start restart`, a stop and a later start `die ... start`, an
//! OOM kill `oom` (then `die` when it was the main process). So a restart
//! is a `start` of a container that has exited before, and an OOM kill is
//! an `oom` event, whether the main process died of it or not.
//!
//! The counts start at 0 when the collector starts, as cAdvisor's do; the
//! events the collector catches up on after its own restart (those the
//! daemon still holds) are counted then. Prometheus' `rate()` and
//! `increase()` take the collector's restart for a counter reset.

use kura_store::payload::{ContainerDetails, Event};

/// What the events said about one container so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// Starts after an exit.
    pub restarts: u64,
    /// `oom` events.
    pub oom_kills: u64,
    /// Whether the container has exited at least once (a later start is a
    /// restart).
    exited: bool,
}

impl Lifecycle {
    /// A container first seen with these details: one that has an exit
    /// time has run and exited before.
    pub fn first_seen(details: Option<&ContainerDetails>) -> Lifecycle {
        Lifecycle { exited: details.is_some_and(|d| d.finished_at.is_some()), ..Lifecycle::default() }
    }

    /// Counts one event about this container.
    pub fn count(&mut self, event: &Event) {
        match event.action() {
            Some("die") => self.exited = true,
            Some("start") if self.exited => self.restarts += 1,
            Some("oom") => self.oom_kills += 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(first: Lifecycle, actions: &[&str]) -> Lifecycle {
        let mut lifecycle = first;
        for action in actions {
            lifecycle.count(&Event { action: Some((*action).to_owned()), ..Event::default() });
        }
        lifecycle
    }

    #[test]
    fn every_start_after_an_exit_is_a_restart_and_every_oom_event_a_kill() {
        let new = Lifecycle::first_seen(None);
        // create, start: no restart.
        assert_eq!(replay(new, &["create", "start"]).restarts, 0);
        // By policy, twice: die start die start.
        assert_eq!(replay(new, &["create", "start", "die", "start", "die", "start"]).restarts, 2);
        // By hand: kill die stop start restart.
        assert_eq!(replay(new, &["start", "kill", "die", "stop", "start", "restart"]).restarts, 1);
        // OOM of the main process under a policy: oom die start.
        let oom = replay(new, &["start", "oom", "die", "start"]);
        assert_eq!((oom.restarts, oom.oom_kills), (1, 1));
        // OOM of a child: the container lives on.
        assert_eq!(replay(new, &["start", "oom", "oom"]), Lifecycle { oom_kills: 2, ..new });
    }

    #[test]
    fn a_container_that_exited_before_the_collector_started_restarts_at_its_next_start() {
        let exited = ContainerDetails { finished_at: Some("2026-11-23T00:48:23Z".to_owned()), ..Default::default() };
        assert_eq!(replay(Lifecycle::first_seen(Some(&exited)), &["start"]).restarts, 1);
        assert_eq!(replay(Lifecycle::first_seen(Some(&ContainerDetails::default())), &["start"]).restarts, 0);
    }
}
