//! What stops an operation before it acts on any container (exit status 1),
//! and Docker's reasons said plainly. Failures of one container among
//! several are not errors here: they are that container's result line.

use std::path::PathBuf;
use std::time::Duration;

use kura_store::config::ConfigError;
use kura_store::endpoint::Endpoint;
use kura_store::pattern::PatternError;

/// An operation that could not start; every variant names the host, file or
/// option that failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The configuration file or a flag is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `-n`/`-c` cannot select anything as written.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// An option's value is unusable (`--env`, `--timeout`).
    #[error("{option} {value:?}: {reason}")]
    Option {
        /// The option, e.g. `--env`.
        option: &'static str,
        /// Its value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `--host` names no configured host.
    #[error("unknown host {name:?}: the configuration names {known}")]
    UnknownHost {
        /// The name asked.
        name: String,
        /// The configured names.
        known: String,
    },
    /// Several hosts are configured and `--host` chose none.
    #[error("the configuration names several hosts ({0}): choose one with --host")]
    WhichHost(String),
    /// The TLS files of an `https://` host cannot be used.
    #[error("host {host}: TLS certificates in {dir}: {reason}")]
    Tls {
        /// The host.
        host: String,
        /// The certificate folder.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// The daemon did not answer (refused, unknown host, TLS refused).
    #[error("cannot reach Docker at {endpoint} (host {host}): {reason}")]
    Unreachable {
        /// The host.
        host: String,
        /// Its endpoint.
        endpoint: Endpoint,
        /// Why.
        reason: String,
    },
    /// The daemon did not answer within the host's timeout.
    #[error("Docker at {endpoint} (host {host}) did not answer within {after:?} (the host's timeout)")]
    Timeout {
        /// The host.
        host: String,
        /// Its endpoint.
        endpoint: Endpoint,
        /// The timeout.
        after: Duration,
    },
    /// The daemon refused a request every container needs (the list).
    #[error("Docker at {endpoint} (host {host}): {what}: {reason}")]
    Docker {
        /// The host.
        host: String,
        /// Its endpoint.
        endpoint: Endpoint,
        /// What was asked, e.g. `listing containers`.
        what: &'static str,
        /// Docker's reason.
        reason: String,
    },
    /// `-n`/`-c` matched no container, running or stopped.
    #[error("no container of host {host} matches {pattern}")]
    NoMatch {
        /// The host.
        host: String,
        /// The pattern as written.
        pattern: String,
    },
    /// `-c ID` without `*` matched several containers.
    #[error("{pattern} matches {count} containers of host {host} ({names}): write {pattern}* to select all of them")]
    Ambiguous {
        /// The host.
        host: String,
        /// The pattern as written.
        pattern: String,
        /// How many matched.
        count: usize,
        /// Their names.
        names: String,
    },
    /// `cp`'s destination folder cannot take the archives.
    #[error("destination {path}: {reason}")]
    Destination {
        /// The folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Our own output could not be written.
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
}

/// Docker's reason for a failed request, in one line: the daemon's own
/// message when it answered with an error status, else the chain of causes
/// (a refused connection's reason sits a few causes down, under bollard's
/// "Error in the hyper legacy client", which is left out).
pub fn docker_reason(error: &bollard::errors::Error) -> String {
    use bollard::errors::Error;
    let mut source: Option<&dyn std::error::Error> = match error {
        Error::DockerResponseServerError { message, .. } => return one_line(message),
        Error::HyperLegacyError { err } => Some(err),
        other => Some(other),
    };
    let mut reason = String::new();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !reason.contains(&text) {
            reason = if reason.is_empty() { text } else { format!("{reason}: {text}") };
        }
        source = cause.source();
    }
    one_line(&reason)
}

/// The HTTP status of an error answer from the daemon, if it was one.
pub fn docker_status(error: &bollard::errors::Error) -> Option<u16> {
    match error {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// A message on one line (Docker's OCI errors span several).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemons_message_is_the_reason() {
        let error = bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message: "Container abc is not running\n".into(),
        };
        assert_eq!(docker_reason(&error), "Container abc is not running");
        assert_eq!(docker_status(&error), Some(409));
        assert_eq!(docker_status(&bollard::errors::Error::RequestTimeoutError), None);
    }
}
