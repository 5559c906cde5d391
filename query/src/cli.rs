//! The `kura` command line: what each command takes (clap conventions,
//! `--help` with examples and units).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Answers monitoring questions from kura's store, in the `key,value` lines
/// Hinemos' custom monitor reads.
#[derive(Debug, Parser)]
#[command(
    name = "kura",
    version,
    after_help = "Examples:
  kura status                         # Status,0 when the newest sweep reached the daemon
  kura cpu -n 'web*'                  # cpu_usage:web1,12.50 (percent of the host, 5 min window)
  kura mem --limit --host docker_host1
  kura ps --all
  kura stop -n 'web*' --host docker_host1 --config /etc/kura/collector.toml

Exit status: 0 every selected item printed; 1 nothing or not everything could be
answered (stale store, unknown host or container, store unreadable; a line on
stderr says why); 2 bad arguments. The container operations (exec, cp, start,
stop, restart, rm) are kura-ops': see `kura exec --help` and README."
)]
pub struct Cli {
    /// What to answer, and which program answers it.
    #[command(subcommand)]
    pub command: Program,
}

/// Which program answers: `kura` itself from the store, or `kura-ops`,
/// which talks to Docker directly (so that `kura` links no HTTP client).
#[derive(Debug, Subcommand)]
pub enum Program {
    /// A question answered from the store.
    #[command(flatten)]
    Query(Command),
    /// A container operation, handed to `kura-ops`.
    #[command(flatten)]
    Ops(OpsCommand),
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Whether the newest sweep reached the Docker daemon: Status,0 (yes) or Status,1 (no).
    #[command(after_help = "Example:\n  $ kura status\n  Status,0")]
    Status(HostArgs),
    /// Containers per state in the newest sweep: running,N restarting,N paused,N exited,N created,N dead,N.
    #[command(
        after_help = "Example:\n  $ kura count\n  running,3\n  restarting,0\n  paused,0\n  exited,1\n  created,0\n  dead,0"
    )]
    Count(SelectArgs),
    /// Bytes used by images (image,BYTES) and by containers' writable layers per state (running,BYTES ...), from the newest size sweep.
    #[command(after_help = "Example:\n  $ kura size\n  image,474361657\n  running,6\n  ...")]
    Size(HostArgs),
    /// CPU use per container over the window, percent of the host's capacity (0-100).
    #[command(after_help = "Units: percent of all the host's CPUs (default), or of one core with --scale core
(100 = one full core, as docker stats shows).
Example:
  $ kura cpu -n burn --scale core
  cpu_usage:burn,50.01
  $ kura cpu --core
  cpu_usage#0:burn,24.90
  cpu_usage#1:burn,25.12")]
    Cpu(CpuArgs),
    /// Memory in use per container, percent of the host's memory (or of the container's limit with --limit).
    #[command(after_help = "\"In use\" is usage minus inactive file cache, as the docker CLI computes it;
--rss uses anonymous memory (rss, or anon on cgroup v2), as the 2015 scripts did.
Example:
  $ kura mem --limit -n web1
  mem_usage:web1,3.20
  $ kura mem -n web1 --detail
  active_anon,8556544
  ...")]
    Mem(MemArgs),
    /// Block IO per container over the window: disk_read:<c>,B and disk_write:<c>,B (bytes per second).
    #[command(after_help = "Units: bytes per second; --per-window prints bytes per window (the 2015 scripts' unit).
Example:
  $ kura disk --write
  disk_write:db,40960")]
    Disk(DiskArgs),
    /// Network traffic per container over the window, summed over interfaces.
    #[command(after_help = "Keys: nw_rxkb and nw_txkb are bytes per second (the 2015 names, kept for existing
Hinemos settings); nw_rxpck and nw_txpck are packets per second (two decimals).
--per-window prints bytes and packets per window instead.
Example:
  $ kura net --bytes --rx
  nw_rxkb:web1,1024")]
    Net(NetArgs),
    /// Processes per container whose command line matches --prog (and --args), in the newest top sample.
    #[command(after_help = "The pattern is --prog, or --prog, a space and --args when --args is given
(regular expressions, searched anywhere in the command line).
Example:
  $ kura proc --prog httpd
  httpd:web1,4")]
    Proc(ProcArgs),
    /// A table of the newest state of every container of the host (for people, not Hinemos).
    #[command(after_help = "Example:\n  $ kura ps --all")]
    Ps(PsArgs),
    /// The command lines of the 2015 Hinemos Docker scripts, unchanged: their options, keys, units and exit statuses.
    #[command(after_help = "SCRIPT is a 2015 file name, with or without .py (MonitorDockerContainerResourceCpu.py,
MonitorDockerContainerRepositoryCPU.py, JobDockerContainerRm ...); OPTIONS are its own, as
the report lists them (-i ADDRESS -p PORT -c ID -n NAME -k KEY -sv -sc -sp -prog -args ...);
`kura legacy SCRIPT -h` lists them. -i names a configured host by its name or endpoint address.

Examples:
  $ kura legacy --config /etc/kura/collector.toml MonitorDockerContainerResourceCpu.py -i docker_host1 -k hoge --all
  cpu_usage:conteiner_A,0.08
  $ kura legacy --install /opt/hinemos_agent/docker/bin --config /etc/kura/collector.toml
  $ /opt/hinemos_agent/docker/bin/MonitorDockerHostStatus.py -i 10.0.200.123 --count
  running,3
  ...

Exit status: 0 success; 1 error (one line on stderr says why; nothing on stdout);
2 a command line the script did not take (as argparse exited).")]
    Legacy(LegacyArgs),
}

/// `kura legacy`.
#[derive(Clone, Debug, Args)]
pub struct LegacyArgs {
    /// The collector's configuration: its hosts (which -i names), data folder and [legacy] windows.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The collector's data folder, over the configuration's [default: as the collector's].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Answer as of this time (RFC 3339) instead of now; reads the previous call of -k, never records one.
    #[arg(long, value_name = "TIME", conflicts_with = "install")]
    pub at: Option<String>,
    /// Write one entry per script name into DIR (with and without .py), each running `kura legacy` with this --config and --data.
    #[arg(long, value_name = "DIR", conflicts_with = "command_line")]
    pub install: Option<PathBuf>,
    /// With --install: move files kura did not write aside to NAME.orig instead of refusing.
    #[arg(long, requires = "install")]
    pub force: bool,
    /// The 2015 script's file name, then its own options as the 2015 report lists them (`-h` lists them).
    #[arg(
        value_name = "SCRIPT [OPTIONS]",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required_unless_present = "install"
    )]
    pub command_line: Vec<String>,
}

/// The container operations for Hinemos jobs. `kura` hands each to
/// `kura-ops` (beside it) with the same arguments, `--help` included.
#[derive(Debug, Subcommand)]
pub enum OpsCommand {
    /// Runs a command in containers through Docker's exec API, streaming its output; exits with its exit code.
    #[command(disable_help_flag = true)]
    Exec(Passthrough),
    /// Downloads a file or folder from containers as a tar archive (owners and modes kept).
    #[command(disable_help_flag = true)]
    Cp(Passthrough),
    /// Starts the selected containers that are exited or created.
    #[command(disable_help_flag = true)]
    Start(Passthrough),
    /// Stops the selected containers that are running.
    #[command(disable_help_flag = true)]
    Stop(Passthrough),
    /// Restarts the selected containers that are running.
    #[command(disable_help_flag = true)]
    Restart(Passthrough),
    /// Removes the selected containers that are exited or created (any state with -f).
    #[command(disable_help_flag = true)]
    Rm(Passthrough),
}

impl OpsCommand {
    /// The subcommand's name, as `kura-ops` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            OpsCommand::Exec(_) => "exec",
            OpsCommand::Cp(_) => "cp",
            OpsCommand::Start(_) => "start",
            OpsCommand::Stop(_) => "stop",
            OpsCommand::Restart(_) => "restart",
            OpsCommand::Rm(_) => "rm",
        }
    }

    /// The arguments to hand over: the command line after the subcommand's
    /// name, exactly as given. kura has no options before the subcommand,
    /// so its name is always the first argument; clap's own copy
    /// ([`Passthrough::args`]) has lost a `--` written first (`kura exec --
    /// --help`), so the raw command line is what `kura-ops` gets.
    pub fn raw_args() -> Vec<OsString> {
        std::env::args_os().skip(2).collect()
    }
}

/// Every argument after an operation's name (options, `--`, `--help`):
/// `kura-ops` parses them.
#[derive(Debug, Args)]
pub struct Passthrough {
    /// The arguments for kura-ops (see `kura-ops <COMMAND> --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "ARGS")]
    pub args: Vec<OsString>,
}

/// Where to read and which host.
#[derive(Clone, Debug, Args)]
pub struct HostArgs {
    /// The collector's data folder [default: $KURA_DATA, else /var/lib/kura as root, else ~/.local/share/kura].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The host, as the collector names it (required when the store holds several).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Answer as of this time (RFC 3339, e.g. 2026-11-28T10:00:00Z) instead of now: for reading history.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Lines)]
    pub format: Format,
    /// Warn on stderr when the output exceeds this many bytes (the Hinemos agent's monitor.custom.buffer); 0: never.
    #[arg(long, value_name = "BYTES", default_value_t = 512)]
    pub max_bytes: usize,
}

/// Which containers, how they appear in keys, over which window.
#[derive(Clone, Debug, Args)]
pub struct SelectArgs {
    /// Where to read, which host, how to print.
    #[command(flatten)]
    pub host: HostArgs,
    /// Containers whose id starts with ID (a trailing * is allowed).
    #[arg(short = 'c', long = "id", value_name = "ID", conflicts_with = "name")]
    pub id: Option<String>,
    /// Containers named NAME; a trailing * matches a prefix (web*).
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name: Option<String>,
    /// How a container appears in keys: its name (stable across re-creation), its 12-character id, or its 8-character id (the 2015 memory/disk/network scripts).
    #[arg(long, value_enum, default_value_t = KeyStyle::Name)]
    pub key: KeyStyle,
    /// Rates are averages between the newest sample and the one nearest to newest minus this.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub window: String,
}

/// How a container appears in keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyStyle {
    /// The container's name.
    Name,
    /// The first 12 characters of its id.
    Id,
    /// The first 8 characters of its id.
    Short,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `key,value` lines (Hinemos custom monitor).
    Lines,
    /// A JSON array of {"key", "value"} objects.
    Json,
    /// Aligned columns, for people.
    Table,
}

/// CPU scales.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scale {
    /// Percent of all the host's CPUs (0-100).
    Host,
    /// Percent of one core (100 = one full core, as docker stats).
    Core,
}

/// `kura cpu`.
#[derive(Clone, Debug, Args)]
pub struct CpuArgs {
    /// Which containers, keys, window.
    #[command(flatten)]
    pub select: SelectArgs,
    /// The scale of the figure.
    #[arg(long, value_enum, default_value_t = Scale::Host)]
    pub scale: Scale,
    /// Per core: cpu_usage#<i>:<container>, percent of that core (cgroup v1 only).
    #[arg(long)]
    pub core: bool,
    /// Add cpu_usage:host, the host's non-container CPU use from SNMP.
    #[arg(long)]
    pub with_host: bool,
}

/// `kura mem`.
#[derive(Clone, Debug, Args)]
pub struct MemArgs {
    /// Which containers, keys, window.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Percent of each container's limit (mem_usage:<c>) instead of the host's memory.
    #[arg(long, conflicts_with = "detail")]
    pub limit: bool,
    /// Count anonymous memory (rss) as in use, as the 2015 scripts did.
    #[arg(long)]
    pub rss: bool,
    /// Add host_mem_usage:host, memory used by everything but containers, from SNMP.
    #[arg(long, conflicts_with = "detail")]
    pub with_host: bool,
    /// The raw memory statistics of one container's newest sample (name,value per line).
    #[arg(long)]
    pub detail: bool,
}

/// `kura disk`.
#[derive(Clone, Debug, Args)]
pub struct DiskArgs {
    /// Which containers, keys, window.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Only disk_read.
    #[arg(long)]
    pub read: bool,
    /// Only disk_write.
    #[arg(long)]
    pub write: bool,
    /// Bytes per window instead of per second.
    #[arg(long)]
    pub per_window: bool,
}

/// `kura net`.
#[derive(Clone, Debug, Args)]
pub struct NetArgs {
    /// Which containers, keys, window.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Only bytes (nw_rxkb, nw_txkb).
    #[arg(long)]
    pub bytes: bool,
    /// Only packets (nw_rxpck, nw_txpck).
    #[arg(long)]
    pub packets: bool,
    /// Only received.
    #[arg(long)]
    pub rx: bool,
    /// Only sent.
    #[arg(long)]
    pub tx: bool,
    /// Bytes and packets per window instead of per second.
    #[arg(long)]
    pub per_window: bool,
}

/// `kura proc`.
#[derive(Clone, Debug, Args)]
pub struct ProcArgs {
    /// Which containers and keys.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Regular expression for the program.
    #[arg(long, value_name = "REGEX", default_value = ".*")]
    pub prog: String,
    /// Regular expression for the arguments, joined to --prog with a space.
    #[arg(long, value_name = "REGEX")]
    pub args: Option<String>,
}

/// `kura ps`.
#[derive(Clone, Debug, Args)]
pub struct PsArgs {
    /// Which containers.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Include stopped containers.
    #[arg(short, long)]
    pub all: bool,
}
