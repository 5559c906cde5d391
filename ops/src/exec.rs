//! A command run in a container through Docker's exec API (create, start
//! attached, inspect), as `docker exec` does without a terminal: its stdout
//! and stderr go to ours as each frame arrives, kept apart, and its exit
//! code is Docker's (137 for a command killed by SIGKILL).
//!
//! Docker has no way to stop an exec: past `--timeout` kura stops waiting,
//! says so and exits 124, and the command goes on in the container (its
//! host pid is named, for whoever can act on the host).

use std::io::{self, Write};
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use kura_store::config;

use crate::cli::ExecArgs;
use crate::error::{docker_reason, OpsError};
use crate::host::Host;
use crate::prefix::LinePrefixer;
use crate::target::Target;
use crate::{EXIT_NOT_RUN, EXIT_TIMEOUT};

/// What to run, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecSpec {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--workdir`.
    pub workdir: Option<String>,
    /// `--env KEY=VALUE`s.
    pub env: Vec<String>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
}

impl ExecSpec {
    /// The spec `kura-ops exec` was given, its options checked.
    pub fn from_args(args: &ExecArgs) -> Result<ExecSpec, OpsError> {
        for pair in &args.env {
            if pair.split_once('=').is_none_or(|(key, _)| key.is_empty()) {
                return Err(OpsError::Option {
                    option: "--env",
                    value: pair.clone(),
                    reason: "expected KEY=VALUE".into(),
                });
            }
        }
        let timeout = args.timeout.as_deref().map(|text| config::duration("--timeout", text)).transpose()?;
        Ok(ExecSpec {
            command: args.command.clone(),
            user: args.user.clone(),
            workdir: args.workdir.clone(),
            env: args.env.clone(),
            timeout,
        })
    }

    /// The command as one would type it, for messages.
    pub fn command_line(&self) -> String {
        self.command.join(" ")
    }
}

/// How a command's run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finish {
    /// It exited with this code.
    Exited(i64),
    /// It outlived `--timeout`; Docker's host pid of it, when known.
    TimedOut {
        /// The host pid.
        pid: Option<i64>,
    },
    /// Docker did not run it, or cut its output off, for this reason.
    NotRun(String),
}

impl Finish {
    /// The exit status this ending gives.
    pub fn status(&self) -> u8 {
        match self {
            // Docker's codes are wait statuses, 0 to 255.
            Finish::Exited(code) => u8::try_from(*code).unwrap_or(u8::MAX),
            Finish::TimedOut { .. } => EXIT_TIMEOUT,
            Finish::NotRun(_) => EXIT_NOT_RUN,
        }
    }

    /// The line for stderr, when the ending needs one.
    pub fn message(&self, target: &Target, spec: &ExecSpec) -> Option<String> {
        let command = spec.command_line();
        let name = &target.name;
        match self {
            Finish::Exited(_) => None,
            Finish::TimedOut { pid } => {
                let limit = spec.timeout.unwrap_or_default();
                let pid = pid.map(|p| format!(", host pid {p}")).unwrap_or_default();
                Some(format!(
                    "exec in {name}: `{command}` outlived --timeout {limit:?}: stopped waiting \
                     (Docker cannot stop an exec: it goes on in the container{pid})"
                ))
            }
            Finish::NotRun(reason) => {
                Some(format!("exec in {name}: Docker did not run `{command}` to its end: {reason}"))
            }
        }
    }
}

/// Where a command's output goes: our stdout and stderr, each line
/// prefixed with the container's name when several containers run it.
pub struct Sink<O: Write, E: Write> {
    out: O,
    err: E,
    prefixes: Option<(LinePrefixer, LinePrefixer)>,
}

impl<O: Write, E: Write> Sink<O, E> {
    /// Output to `out` and `err`, prefixed with `prefix: ` when given.
    pub fn new(out: O, err: E, prefix: Option<&str>) -> Sink<O, E> {
        Sink { out, err, prefixes: prefix.map(|name| (LinePrefixer::new(name), LinePrefixer::new(name))) }
    }

    fn stdout(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.prefixes {
            Some((prefixer, _)) => prefixer.feed(bytes, &mut self.out)?,
            None => self.out.write_all(bytes)?,
        }
        self.out.flush()
    }

    fn stderr(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.prefixes {
            Some((_, prefixer)) => prefixer.feed(bytes, &mut self.err)?,
            None => self.err.write_all(bytes)?,
        }
        self.err.flush()
    }

    /// Writes partial last lines (prefixed output only).
    fn finish(&mut self) -> io::Result<()> {
        if let Some((out, err)) = &mut self.prefixes {
            out.finish(&mut self.out)?;
            err.finish(&mut self.err)?;
        }
        self.out.flush()?;
        self.err.flush()
    }
}

/// Runs `spec` in `target`, its output into `sink` as it comes. An error is
/// only our own output failing; Docker's refusals are a [`Finish::NotRun`].
pub async fn run<O: Write, E: Write>(
    host: &Host,
    target: &Target,
    spec: &ExecSpec,
    sink: &mut Sink<O, E>,
) -> io::Result<Finish> {
    let options = CreateExecOptions {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        cmd: Some(spec.command.clone()),
        env: (!spec.env.is_empty()).then(|| spec.env.clone()),
        user: spec.user.clone(),
        working_dir: spec.workdir.clone(),
        ..CreateExecOptions::default()
    };
    let exec_id = match host.within_timeout(host.docker.create_exec(&target.id, options)).await {
        Ok(Ok(created)) => created.id,
        Ok(Err(e)) => return Ok(Finish::NotRun(docker_reason(&e))),
        Err(e) => return Ok(Finish::NotRun(e.to_string())),
    };
    let started = match host.within_timeout(host.docker.start_exec(&exec_id, None)).await {
        Ok(Ok(started)) => started,
        Ok(Err(e)) => return Ok(Finish::NotRun(docker_reason(&e))),
        Err(e) => return Ok(Finish::NotRun(e.to_string())),
    };
    // The input half stays open until the command ends (dropping it could
    // close the hijacked connection on some transports).
    let StartExecResults::Attached { mut output, input: _input } = started else {
        return Ok(Finish::NotRun("Docker started it detached".into()));
    };
    let pump = async {
        while let Some(frame) = output.next().await {
            match frame {
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => sink.stdout(&message)?,
                Ok(LogOutput::StdErr { message }) => sink.stderr(&message)?,
                Ok(LogOutput::StdIn { .. }) => {}
                Err(e) => return Ok(Some(docker_reason(&e))),
            }
        }
        Ok::<_, io::Error>(None)
    };
    let cut = match spec.timeout {
        None => pump.await?,
        Some(limit) => match tokio::time::timeout(limit, pump).await {
            Ok(cut) => cut?,
            Err(_) => {
                sink.finish()?;
                let pid = match host.within_timeout(host.docker.inspect_exec(&exec_id)).await {
                    Ok(Ok(inspected)) => inspected.pid,
                    _ => None,
                };
                return Ok(Finish::TimedOut { pid });
            }
        },
    };
    sink.finish()?;
    if let Some(reason) = cut {
        return Ok(Finish::NotRun(format!("its output was cut off: {reason}")));
    }
    Ok(exit_code(host, &exec_id).await)
}

/// The exit code of a finished exec. Docker may close the output a moment
/// before it records the exit, so it is asked until the command is no
/// longer running, for at most the host's timeout.
async fn exit_code(host: &Host, exec_id: &str) -> Finish {
    let deadline = Instant::now() + host.timeout;
    loop {
        let inspected = match host.within_timeout(host.docker.inspect_exec(exec_id)).await {
            Ok(Ok(inspected)) => inspected,
            Ok(Err(e)) => return Finish::NotRun(docker_reason(&e)),
            Err(e) => return Finish::NotRun(e.to_string()),
        };
        if inspected.running != Some(true) {
            return match inspected.exit_code {
                Some(code) => Finish::Exited(code),
                None => Finish::NotRun("Docker recorded no exit code".into()),
            };
        }
        if Instant::now() >= deadline {
            return Finish::NotRun(format!(
                "its output ended but Docker still reported it running after {:?}",
                host.timeout
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::ContainerState;
    use kura_store::sample::State;

    #[test]
    fn endings_give_the_documented_statuses_and_messages() {
        assert_eq!(Finish::Exited(0).status(), 0);
        assert_eq!(Finish::Exited(3).status(), 3);
        assert_eq!(Finish::Exited(137).status(), 137);
        assert_eq!(Finish::TimedOut { pid: None }.status(), 124);
        assert_eq!(Finish::NotRun("x".into()).status(), 125);
        let target = Target { id: "a".repeat(64), name: "web1".into(), state: ContainerState::Known(State::Running) };
        let spec = ExecSpec {
            command: vec!["sleep".into(), "30".into()],
            user: None,
            workdir: None,
            env: vec![],
            timeout: Some(Duration::from_secs(1)),
        };
        assert_eq!(Finish::Exited(1).message(&target, &spec), None);
        let message = Finish::TimedOut { pid: Some(42) }.message(&target, &spec).unwrap();
        assert!(message.starts_with("exec in web1: `sleep 30` outlived --timeout 1s"), "{message}");
        assert!(message.ends_with("host pid 42)"), "{message}");
    }

    #[test]
    fn prefixed_output_keeps_the_streams_apart() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut sink = Sink::new(&mut out, &mut err, Some("web1"));
        sink.stdout(b"a\nb").unwrap();
        sink.stderr(b"e\n").unwrap();
        sink.finish().unwrap();
        drop(sink);
        assert_eq!(out, b"web1: a\nweb1: b\n");
        assert_eq!(err, b"web1: e\n");
    }
}
