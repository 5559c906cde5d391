//! kura's container operations for Hinemos jobs: run a command in
//! containers, download a path from them, start, stop, restart and remove
//! them, on the Docker hosts of kura's configuration (names, endpoints,
//! TLS), talking to Docker directly. The 2015 report's job scripts (chapter
//! 4) did the same, one script each.
//!
//! `kura` hands `kura exec|cp|start|stop|restart|rm ...` to the `kura-ops`
//! binary, so the `kura` that Hinemos runs every minute for its monitors
//! links no async runtime, HTTP client or TLS.
//!
//! # Layout
//!
//! - [`cli`]: the command line (clap), `--help` with examples.
//! - [`host`]: which Docker host (`--config` and `--host`, `--docker`,
//!   `DOCKER_HOST`, the local socket) and the bollard client for it.
//! - [`target`]: the containers `-n`/`-c` select from the host's list, with
//!   their states.
//! - [`exec`]: a command run through the exec API, its output streamed.
//! - [`prefix`]: each output line prefixed with its container's name.
//! - [`copy`]: `cp`: a path's archive, kept or extracted.
//! - [`listing`]: the verbose listing of an archive, as `tar tv` prints it.
//! - [`lifecycle`]: start, stop, restart, rm: which states each acts on and
//!   the line printed per container.
//! - [`error`]: what stops a command before it acts, and Docker's reasons.
//!
//! The `kura-ops` binary (`src/main.rs`) parses the command line, runs one
//! operation and is the only place an outcome becomes an exit status.

pub mod cli;
pub mod copy;
pub mod error;
pub mod exec;
pub mod host;
pub mod lifecycle;
pub mod listing;
pub mod prefix;
pub mod target;

/// Exit status of an error before anything was acted on (bad options or
/// configuration, host unreachable, nothing matches).
pub const EXIT_ERROR: u8 = 1;
/// Exit status of `cp`, `start`, `stop`, `restart` and `rm` when at least
/// one selected container failed (the 2015 scripts' 9).
pub const EXIT_SOME_FAILED: u8 = 9;
/// Exit status of `exec` when a command outlived `--timeout` (as `timeout(1)`).
pub const EXIT_TIMEOUT: u8 = 124;
/// Exit status of `exec` when Docker could not run the command in a selected
/// container (not running, paused, the exec refused or cut off).
pub const EXIT_NOT_RUN: u8 = 125;
