//! start, stop, restart and rm, each only on the states the 2015 scripts
//! acted on, and one line per container:
//!
//! | operation | acts on | other states |
//! |---|---|---|
//! | start | exited, created | skipped |
//! | stop, restart | running | skipped |
//! | rm | exited, created (any state with `-f`) | skipped |
//!
//! The lines: `<id12> <name> Success`, `<id12> <name> Skipped (<state>)`,
//! `<id12> <name> Failed: <reason>`; with `--dry-run`, `<id12> <name> Would
//! <verb>` in place of acting.

use std::fmt;

use bollard::query_parameters::{RemoveContainerOptions, RestartContainerOptions, StopContainerOptions};
use kura_store::sample::State;

use crate::error::docker_reason;
use crate::host::{Host, OPERATION_TIMEOUT};
use crate::target::{ContainerState, Target};

/// An operation on a container's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `start`.
    Start,
    /// `stop -t SECONDS`.
    Stop {
        /// Seconds before SIGKILL (the container's own default when `None`).
        time: Option<u32>,
    },
    /// `restart -t SECONDS`.
    Restart {
        /// Seconds before SIGKILL when stopping.
        time: Option<u32>,
    },
    /// `rm [-f] [-v]`.
    Remove {
        /// Any state (a running container is killed).
        force: bool,
        /// Its anonymous volumes too.
        volumes: bool,
    },
}

/// What became of one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The operation succeeded.
    Success,
    /// The container's state is not one the operation acts on.
    Skipped(ContainerState),
    /// Docker refused or failed, for this reason.
    Failed(String),
    /// `--dry-run`: the operation would act.
    WouldAct(Operation),
}

impl Operation {
    /// Whether the operation acts on a container in `state`.
    pub fn acts_on(&self, state: &ContainerState) -> bool {
        let ContainerState::Known(state) = state else {
            return matches!(self, Operation::Remove { force: true, .. });
        };
        match self {
            Operation::Start => matches!(state, State::Exited | State::Created),
            Operation::Stop { .. } | Operation::Restart { .. } => *state == State::Running,
            Operation::Remove { force: true, .. } => true,
            Operation::Remove { force: false, .. } => matches!(state, State::Exited | State::Created),
        }
    }

    /// The verb, as `--dry-run` prints it.
    pub fn verb(&self) -> &'static str {
        match self {
            Operation::Start => "start",
            Operation::Stop { .. } => "stop",
            Operation::Restart { .. } => "restart",
            Operation::Remove { .. } => "remove",
        }
    }

    /// Acts on `target`, or says what would be done (`dry_run`), or skips it.
    pub async fn apply(&self, host: &Host, target: &Target, dry_run: bool) -> Outcome {
        if !self.acts_on(&target.state) {
            return Outcome::Skipped(target.state.clone());
        }
        if dry_run {
            return Outcome::WouldAct(*self);
        }
        // The daemon answers a stop once the container stopped: up to -t
        // seconds, then the kill.
        let time = match self {
            Operation::Stop { time } | Operation::Restart { time } => time.unwrap_or(0),
            _ => 0,
        };
        let mut docker = host.docker.clone();
        docker.set_timeout(OPERATION_TIMEOUT + std::time::Duration::from_secs(time.into()));
        let t = |time: &Option<u32>| time.map(|t| i32::try_from(t).unwrap_or(i32::MAX));
        let id = target.id.as_str();
        let done = match self {
            Operation::Start => docker.start_container(id, None).await,
            Operation::Stop { time } => {
                docker.stop_container(id, Some(StopContainerOptions { t: t(time), ..Default::default() })).await
            }
            Operation::Restart { time } => {
                docker.restart_container(id, Some(RestartContainerOptions { t: t(time), ..Default::default() })).await
            }
            Operation::Remove { force, volumes } => {
                let options = RemoveContainerOptions { force: *force, v: *volumes, ..Default::default() };
                docker.remove_container(id, Some(options)).await
            }
        };
        match done {
            Ok(()) => Outcome::Success,
            Err(e) => Outcome::Failed(docker_reason(&e)),
        }
    }
}

/// The line printed for a container.
pub struct ResultLine<'a> {
    /// The container.
    pub target: &'a Target,
    /// What became of it.
    pub outcome: &'a Outcome,
}

impl fmt::Display for ResultLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.target.short_id(), self.target.name)?;
        match self.outcome {
            Outcome::Success => f.write_str("Success"),
            Outcome::Skipped(state) => write!(f, "Skipped ({state})"),
            Outcome::Failed(reason) => write!(f, "Failed: {reason}"),
            Outcome::WouldAct(operation) => write!(f, "Would {}", operation.verb()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: Operation = Operation::Start;
    const STOP: Operation = Operation::Stop { time: None };
    const RESTART: Operation = Operation::Restart { time: Some(3) };
    const RM: Operation = Operation::Remove { force: false, volumes: true };
    const RM_F: Operation = Operation::Remove { force: true, volumes: false };

    /// The whole table: every operation against every state Docker has.
    #[test]
    fn each_operation_acts_on_the_states_of_the_old_scripts_only() {
        let acting = |operation: Operation| -> Vec<&str> {
            State::ALL
                .into_iter()
                .filter(|s| operation.acts_on(&ContainerState::Known(*s)))
                .map(State::as_str)
                .collect()
        };
        assert_eq!(acting(START), ["created", "exited"]);
        assert_eq!(acting(STOP), ["running"]);
        assert_eq!(acting(RESTART), ["running"]);
        assert_eq!(acting(RM), ["created", "exited"]);
        assert_eq!(acting(RM_F).len(), State::ALL.len());
        let unknown = ContainerState::Other("stopping".into());
        assert!(!START.acts_on(&unknown) && !STOP.acts_on(&unknown) && !RM.acts_on(&unknown));
        assert!(RM_F.acts_on(&unknown));
    }

    #[test]
    fn lines_name_the_short_id_the_name_and_the_outcome() {
        let target = Target {
            id: "0e0d8cdf3a57aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            name: "conteiner_C".into(),
            state: ContainerState::Known(State::Running),
        };
        let line = |outcome: Outcome| ResultLine { target: &target, outcome: &outcome }.to_string();
        assert_eq!(line(Outcome::Success), "0e0d8cdf3a57 conteiner_C Success");
        assert_eq!(
            line(Outcome::Skipped(ContainerState::Known(State::Paused))),
            "0e0d8cdf3a57 conteiner_C Skipped (paused)"
        );
        assert_eq!(
            line(Outcome::Failed("no such container".into())),
            "0e0d8cdf3a57 conteiner_C Failed: no such container"
        );
        assert_eq!(line(Outcome::WouldAct(STOP)), "0e0d8cdf3a57 conteiner_C Would stop");
    }
}
