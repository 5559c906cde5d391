//! Restarts and OOM kills of each container, counted from the Docker events
//! the store took, for `kura_container_restarts_total` and
//! `container_oom_events_total`.
//!
//! Not from inspect: `RestartCount` counts restarts by the restart policy
//! only, and a manual `docker start` or `docker restart` resets it to 0;
//! `OOMKilled` is cleared by every start. The events tell each one (moby's
//! sequences): a restart by policy is `die start`, a manual restart `kill
//! die stop start restart`, a stop and a later start `kill die stop ...
//! start`, an OOM kill `oom` (then `die` when it was the main process).
//!
//! A restart is what `kura restarts` counts ([`kura_query::transition`]):
//! one by the restart policy, or a `docker restart`; a start by hand after
//! a stop or an exit is not one. Without the sweeps the transitions also
//! read, a start after a `die` is taken for the policy's when the
//! container's policy restarts after that exit (`always`,
//! `unless-stopped`, `on-failure` after a non-zero exit code) and no
//! `stop` came between. An OOM kill is an `oom` event, whether the main
//! process died of it or not.
//!
//! The counts start at 0 when the collector starts, as cAdvisor's do; the
//! events the collector catches up on after its own restart (those the
//! daemon still holds) are counted then. Prometheus' `rate()` and
//! `increase()` take the collector's restart for a counter reset.

use kura_store::payload::{ContainerDetails, Event};

/// What the events said about one container so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// Restarts by the policy or by `docker restart`.
    pub restarts: u64,
    /// `oom` events.
    pub oom_kills: u64,
    /// Its restart policy as inspect said it.
    policy: Policy,
    /// Whether the daemon restarts it after its last exit (a `die` its
    /// policy restarts after, not followed by a `stop`).
    restart_due: bool,
}

/// The restart policies, as far as they decide a restart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Policy {
    /// `no` (or unknown).
    #[default]
    Never,
    /// `on-failure`: after a non-zero exit code.
    OnFailure,
    /// `always`, `unless-stopped`.
    Always,
}

impl Policy {
    fn of(details: Option<&ContainerDetails>) -> Policy {
        match details.and_then(|d| d.restart_policy.as_deref()) {
            Some("always" | "unless-stopped") => Policy::Always,
            Some("on-failure") => Policy::OnFailure,
            _ => Policy::Never,
        }
    }

    /// Whether the daemon restarts after an exit with `exit_code`.
    fn restarts_after(self, exit_code: Option<&str>) -> bool {
        match self {
            Policy::Always => true,
            Policy::OnFailure => exit_code.is_none_or(|code| code != "0"),
            Policy::Never => false,
        }
    }
}

impl Lifecycle {
    /// A container first seen with these details: one that has exited
    /// under a policy that restarts it is restarted by the daemon next.
    pub fn first_seen(details: Option<&ContainerDetails>) -> Lifecycle {
        let policy = Policy::of(details);
        let exited = details
            .is_some_and(|d| d.finished_at.is_some() && !matches!(d.state, Some(kura_store::sample::State::Running)));
        let exit_code = details.map(|d| d.exit_code.to_string());
        let restart_due = exited && policy.restarts_after(exit_code.as_deref());
        Lifecycle { policy, restart_due, ..Lifecycle::default() }
    }

    /// A container whose life the events tell from here on, under the
    /// policy `details` name.
    pub fn under(details: &ContainerDetails) -> Lifecycle {
        Lifecycle { policy: Policy::of(Some(details)), ..Lifecycle::default() }
    }

    /// Takes the restart policy from newer details (`docker update
    /// --restart`, or details first known after the first events).
    pub fn learn(&mut self, details: &ContainerDetails) {
        self.policy = Policy::of(Some(details));
    }

    /// Counts one event about this container.
    pub fn count(&mut self, event: &Event) {
        match event.action() {
            Some("die") => {
                let exit_code =
                    event.actor.as_ref().and_then(|actor| actor.attributes.get("exitCode")).map(String::as_str);
                self.restart_due = self.policy.restarts_after(exit_code);
            }
            Some("stop") => self.restart_due = false,
            Some("start") => self.restarts += u64::from(std::mem::take(&mut self.restart_due)),
            Some("restart") => self.restarts += 1,
            Some("oom") => self.oom_kills += 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::payload::Actor;

    fn replay(first: Lifecycle, actions: &[&str]) -> Lifecycle {
        let mut lifecycle = first;
        for action in actions {
            lifecycle.count(&Event { action: Some((*action).to_owned()), ..Event::default() });
        }
        lifecycle
    }

    fn with_policy(policy: &str) -> ContainerDetails {
        ContainerDetails { restart_policy: Some(policy.to_owned()), ..Default::default() }
    }

    #[test]
    fn restarts_are_the_policys_and_docker_restarts_and_every_oom_event_a_kill() {
        let always = Lifecycle::first_seen(Some(&with_policy("always")));
        let never = Lifecycle::first_seen(Some(&with_policy("no")));
        // create, start: no restart.
        assert_eq!(replay(always, &["create", "start"]).restarts, 0);
        // By policy, twice: die start die start.
        assert_eq!(replay(always, &["create", "start", "die", "start", "die", "start"]).restarts, 2);
        // By hand: kill die stop start restart, under any policy.
        assert_eq!(replay(always, &["start", "kill", "die", "stop", "start", "restart"]).restarts, 1);
        assert_eq!(replay(never, &["start", "kill", "die", "stop", "start", "restart"]).restarts, 1);
        // A stop, then a start by hand: no restart.
        assert_eq!(replay(always, &["start", "kill", "die", "stop", "start"]).restarts, 0);
        // Without a policy, an exit and a start by hand: no restart.
        assert_eq!(replay(never, &["start", "die", "start"]).restarts, 0);
        // OOM of the main process under a policy: oom die start.
        let oom = replay(always, &["start", "oom", "die", "start"]);
        assert_eq!((oom.restarts, oom.oom_kills), (1, 1));
        // OOM of a child: the container lives on.
        assert_eq!(replay(never, &["start", "oom", "oom"]), Lifecycle { oom_kills: 2, ..never });
    }

    #[test]
    fn on_failure_restarts_after_a_failure_only() {
        let on_failure = Lifecycle::first_seen(Some(&with_policy("on-failure")));
        let die = |code: &str| Event {
            action: Some("die".to_owned()),
            actor: Some(Actor { id: String::new(), attributes: [("exitCode".to_owned(), code.to_owned())].into() }),
            ..Event::default()
        };
        let start = Event { action: Some("start".to_owned()), ..Event::default() };
        let mut failed = on_failure;
        failed.count(&die("1"));
        failed.count(&start);
        assert_eq!(failed.restarts, 1);
        let mut done = on_failure;
        done.count(&die("0"));
        done.count(&start);
        assert_eq!(done.restarts, 0, "a start after exit 0 is by hand");
    }

    #[test]
    fn a_container_that_exited_before_the_collector_started_restarts_at_its_next_start_under_its_policy() {
        let exited = |policy: &str| ContainerDetails {
            finished_at: Some("2026-11-23T00:48:23Z".to_owned()),
            exit_code: 1,
            ..with_policy(policy)
        };
        assert_eq!(replay(Lifecycle::first_seen(Some(&exited("always"))), &["start"]).restarts, 1);
        assert_eq!(replay(Lifecycle::first_seen(Some(&exited("no"))), &["start"]).restarts, 0);
        assert_eq!(replay(Lifecycle::first_seen(Some(&ContainerDetails::default())), &["start"]).restarts, 0);
    }
}
