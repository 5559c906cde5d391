//! The `kura-ops` command line (and so `kura exec|cp|start|stop|restart|rm`):
//! clap conventions, `--help` with the Hinemos job line to paste.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use kura_store::pattern::{ContainerPattern, PatternError};

/// Container operations for Hinemos jobs, straight to Docker on a host of
/// kura's configuration (no agent in the containers).
#[derive(Debug, Parser)]
#[command(
    name = "kura-ops",
    version,
    after_help = "The host: --config FILE --host NAME (the collector's configuration), or
--docker ENDPOINT, else DOCKER_HOST, else the local socket. Containers: -n NAME or
-c ID; a trailing * selects every container whose name or id starts so, running or not.

Examples (as Hinemos job start commands):
  kura exec --config /etc/kura/collector.toml --host docker_host1 -n web1 -- find /root
  kura cp --config /etc/kura/collector.toml --host docker_host1 -n web1 /root/ /var/tmp/jobs
  kura stop --config /etc/kura/collector.toml --host docker_host1 -n 'web*' -t 30

Exit status: exec: the command's exit code (124 past --timeout, 125 Docker could not
run it); the others: 0 every selected container succeeded or was skipped, 9 at least
one failed; all: 1 an error before acting (bad options, host unreachable, no match)."
)]
pub struct Cli {
    /// The operation.
    #[command(subcommand)]
    pub command: Command,
}

/// The operations.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs a command in containers through Docker's exec API, streaming its output; exits with its exit code.
    #[command(after_help = "Several containers: one after another, each line prefixed with the container's name
(`web1: ...`) unless --no-prefix. The exit status is the command's exit code, with several
containers the first non-zero one; 124: it outlived --timeout (it goes on in the container:
Docker cannot stop an exec); 125: Docker could not run it (container not running, paused).

Example (Hinemos job start command):
  kura exec --config /etc/kura/collector.toml --host docker_host1 -n web1 -- find /root")]
    Exec(ExecArgs),
    /// Downloads a file or folder from containers as a tar archive <container>_<path>.tar in DEST_DIR (owners and modes kept).
    #[command(after_help = "Prints the archive's path, then its listing (mode, uid/gid, size, time, name).
/etc/nginx/ from web1 becomes DEST_DIR/web1_etc_nginx.tar; with --extract, the tree
DEST_DIR/web1/etc/nginx/ (owners kept when run as root).

Example (Hinemos job start command):
  kura cp --config /etc/kura/collector.toml --host docker_host1 -n web1 /root/ /var/tmp/jobs")]
    Cp(CpArgs),
    /// Starts the selected containers that are exited or created; prints <id12> <name> Success|Skipped (<state>)|Failed: <reason>.
    #[command(after_help = "Example (Hinemos job start command):
  kura start --config /etc/kura/collector.toml --host docker_host1 -n 'web*'
  0e0d8cdf3a57 web1 Success
  1eae26f41927 web2 Skipped (running)")]
    Start(StartArgs),
    /// Stops the selected containers that are running (SIGTERM, then SIGKILL after -t seconds).
    #[command(after_help = "Example (Hinemos job start command):
  kura stop --config /etc/kura/collector.toml --host docker_host1 -n 'web*' -t 30")]
    Stop(StopArgs),
    /// Restarts the selected containers that are running.
    #[command(after_help = "Example (Hinemos job start command):
  kura restart --config /etc/kura/collector.toml --host docker_host1 -n web1")]
    Restart(StopArgs),
    /// Removes the selected containers that are exited or created (in any state with -f).
    #[command(after_help = "Example (Hinemos job start command):
  kura rm --config /etc/kura/collector.toml --host docker_host1 -n 'batch*' -v")]
    Rm(RmArgs),
}

/// Which Docker host.
#[derive(Clone, Debug, Args)]
pub struct HostArgs {
    /// The configuration file of kura's collector (hosts, endpoints, TLS folders).
    #[arg(long, value_name = "FILE", env = "KURA_CONFIG")]
    pub config: Option<PathBuf>,
    /// The host, by its name in the configuration (required when it names several).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// The daemon's endpoint instead: unix:///PATH, tcp://HOST[:2375] or https://HOST[:2376] (certificates from DOCKER_CERT_PATH); NAME=ENDPOINT names it.
    #[arg(long, value_name = "ENDPOINT", conflicts_with_all = ["config", "host"])]
    pub docker: Option<String>,
}

/// Which containers: one of `-c` and `-n`.
#[derive(Clone, Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SelectArgs {
    /// The container whose id starts with ID; ID* selects every one whose id starts so.
    #[arg(short = 'c', long = "id", value_name = "ID")]
    pub id: Option<String>,
    /// The container named NAME; NAME* selects every one whose name starts so.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name: Option<String>,
}

impl SelectArgs {
    /// The pattern `-c` or `-n` wrote.
    pub fn pattern(&self) -> Result<ContainerPattern, PatternError> {
        match (&self.id, &self.name) {
            (Some(id), _) => ContainerPattern::id(id),
            // clap's group requires one of the two.
            (None, name) => ContainerPattern::name(name.as_deref().unwrap_or_default()),
        }
    }
}

/// `kura-ops exec`.
#[derive(Clone, Debug, Args)]
pub struct ExecArgs {
    /// Which host.
    #[command(flatten)]
    pub host: HostArgs,
    /// Which containers.
    #[command(flatten)]
    pub select: SelectArgs,
    /// The user (and group) to run as: user, user:group, uid or uid:gid.
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,
    /// The working directory in the container.
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// An environment variable for the command (repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Stop waiting after this long (e.g. 30s, 5m) and exit 124.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// No `<container>: ` before each line when several containers are selected.
    #[arg(long)]
    pub no_prefix: bool,
    /// The command and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `kura-ops cp`.
#[derive(Clone, Debug, Args)]
pub struct CpArgs {
    /// Which host.
    #[command(flatten)]
    pub host: HostArgs,
    /// Which containers.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Print the archive's (or folder's) path only, not the listing.
    #[arg(short, long)]
    pub quiet: bool,
    /// Unpack into DEST_DIR/<container>/<path> instead of keeping the archive.
    #[arg(short = 'x', long)]
    pub extract: bool,
    /// The file or folder in the container.
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// The local folder that takes the archives (it must exist).
    #[arg(value_name = "DEST_DIR")]
    pub dest: PathBuf,
}

/// `kura-ops start`.
#[derive(Clone, Debug, Args)]
pub struct StartArgs {
    /// Which host.
    #[command(flatten)]
    pub host: HostArgs,
    /// Which containers.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Print what would be done and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `kura-ops stop` and `kura-ops restart`.
#[derive(Clone, Debug, Args)]
pub struct StopArgs {
    /// Which host, containers, dry run.
    #[command(flatten)]
    pub common: StartArgs,
    /// Seconds to wait for the container to stop before killing it [default: the container's StopTimeout, 10].
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u32>,
}

/// `kura-ops rm`.
#[derive(Clone, Debug, Args)]
pub struct RmArgs {
    /// Which host, containers, dry run.
    #[command(flatten)]
    pub common: StartArgs,
    /// Remove containers in any state (a running one is killed).
    #[arg(short, long)]
    pub force: bool,
    /// Remove the containers' anonymous volumes too.
    #[arg(short, long)]
    pub volumes: bool,
}
