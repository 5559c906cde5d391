//! The `kura` command line: what each command takes (clap conventions,
//! `--help` with examples and units).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::feed::Hostname;

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
  kura transitions --since 2h -n web      # every change of state, with its cause
  kura restarts --window 10m              # restarts:web,3
  kura events --cursor hinemos --syslog udp://127.0.0.1:514
  kura stop -n 'web*' --host docker_host1 --config /etc/kura/collector.toml

Exit status: 0 every selected item printed (or sent); 1 nothing or not everything
could be answered or sent (stale store, unknown host or container, store
unreadable, receiver down; a line on stderr says why); 2 bad arguments; 3 the
cursor is in use by another kura run. The container operations (exec, cp, start,
stop, restart, rm) are kura-ops': see `kura exec --help` and README."
)]
pub struct Cli {
    /// What to answer, and which program answers it.
    #[command(subcommand)]
    pub command: Program,
}

/// Which program answers: `kura` itself from the store, or another kura
/// program ([`Handover`]).
#[derive(Debug, Subcommand)]
pub enum Program {
    /// A question answered from the store.
    #[command(flatten)]
    Query(Box<Command>),
    /// A command another kura program answers.
    #[command(flatten)]
    Handover(Handover),
}

/// The commands `kura` answers from the store: Hinemos' custom monitors
/// and `kura ps` (as of `--at`), the history feeds, the history export and
/// sizing report, and the 2015 command lines.
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
    /// Processes per container whose command line matches --prog (and --args), in the process list in force (the newest top at or before --at).
    #[command(after_help = "The pattern is --prog, or --prog, a space and --args when --args is given
(regular expressions, searched anywhere in the command line).
Example:
  $ kura proc --prog httpd
  httpd:web1,4")]
    Proc(ProcArgs),
    /// A table of the newest state of every container of the host (for people, not Hinemos).
    #[command(after_help = "Example:\n  $ kura ps --all")]
    Ps(PsArgs),
    /// Every change of state of the containers in a span, in order, with what explains it.
    #[command(after_help = "Each line: time, host, name, 12-character id, from -> to, and what explains it
(exit code, OOM kill, signal, restart by policy or by hand, health, rename, removal;
\"seen by sweep\" when the events that would have said it were lost).
Examples:
  $ kura transitions --since 1h -n web
  2026-11-28T10:02:03.512+09:00 docker_host1 web 90b56eb899e7 running -> restarting exit 1
  2026-11-28T10:02:04.127+09:00 docker_host1 web 90b56eb899e7 restarting -> running restart by policy
  $ kura transitions --since 1h --summary
  web 90b56eb899e7 docker_host1: 5 restarts in 1h, 5 exits, last exit 1, now running
  $ kura transitions --cursor hinemos --syslog tcp://hinemos:514   # from cron: each one once")]
    Transitions(TransitionsArgs),
    /// Restarts per container in the window (by its restart policy or by docker restart): restarts:<c>,N.
    #[command(after_help = "Counted from events and sweeps (a start or restart by hand resets inspect's
RestartCount, so it is not used alone). A start by hand after a stop is not a restart.
Example:
  $ kura restarts --window 10m
  restarts:web,3")]
    Restarts(SelectArgs),
    /// OOM kills per container in the window: oom_kills:<c>,N.
    #[command(after_help = "Example:\n  $ kura oom --window 1h\n  oom_kills:web,1")]
    Oom(SelectArgs),
    /// Health check status per running container: health:<c>,0 (healthy), 1 (starting) or 2 (unhealthy).
    #[command(after_help = "Containers without a health check, or not running, print nothing.
Example:
  $ kura health
  health:web,0")]
    Health(SelectArgs),
    /// Each container's state in the newest sweep, printed or sent as syslog (HOSTNAME = its 12-character id).
    #[command(after_help = "Examples:
  $ kura states
  2026-11-28 10:00:00 90b56eb899e7 running
  $ kura states --syslog udp://127.0.0.1:514                     # message: 90b56eb899e7 running
  $ kura states --changes-only --cursor hinemos --syslog udp://127.0.0.1:514")]
    States(StatesArgs),
    /// Stored Docker events, one line each, printed or sent as syslog.
    #[command(after_help = "Each line: <time> <host> <type> <action> <id12> <name> <key=value attributes>.
Examples:
  $ kura events --since 10m
  2026-11-28T10:00:00.123456789+09:00 docker_host1 container die 90b56eb899e7 web exitCode=1 image=busybox
  $ kura events --cursor hinemos --syslog udp://127.0.0.1:514     # from cron: each event once")]
    Events(EventsArgs),
    /// History for sizing: one row per time bucket, host and container (CSV or JSON Lines).
    #[command(after_help = "Columns, in order: time (the bucket's start, RFC 3339), host, container, id,
state (at the bucket's end), then each metric once per aggregate (cpu_pct_avg,
cpu_pct_max, ...), then restarts and oom_kills in the bucket; --hosts adds host
rows and their columns. README lists every column with its unit.
Examples:
  kura export --since 30d --step 1h --output month.csv
  kura export --since 2026-11-01T00:00:00Z --until 2026-12-01T00:00:00Z --agg avg,p95,max -n 'web*'
  kura export --since 1d --format jsonl --tz Asia/Tokyo --hosts")]
    Export(ExportArgs),
    /// A sizing report: one self-contained HTML file of charts, a summary table and limit recommendations.
    #[command(after_help = "Examples:
  kura report --since 30d --output sizing.html
  kura report --since 7d --host docker_host1 -n 'web*' --output web.html
  kura report --format svg --metric mem -n db --output db-mem.svg")]
    Report(ReportArgs),
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

/// The commands another kura program answers, with the same arguments
/// (`--help` included): the container operations for Hinemos jobs
/// (`kura-ops`, which talks to Docker) and Hinemos' node repository
/// (`kura-nodes`, which talks to the manager), so that `kura` links no
/// HTTP client.
#[derive(Debug, Subcommand)]
pub enum Handover {
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
    /// Hinemos' node repository in step with the containers: `kura nodes plan|apply ...` (see `kura nodes --help`).
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Nodes(Passthrough),
}

impl Handover {
    /// The program that answers, and its arguments: `kura exec ARGS` is
    /// `kura-ops exec ARGS`, `kura nodes ARGS` is `kura-nodes ARGS` (bare
    /// `kura nodes`, its help). The arguments are the command line after
    /// the subcommand's name, exactly as given: kura has no options before
    /// the subcommand, and clap's own copy ([`Passthrough::args`]) has lost
    /// a `--` written first (`kura exec -- --help`).
    pub fn command_line(&self) -> (&'static str, Vec<OsString>) {
        let given: Vec<OsString> = std::env::args_os().skip(2).collect();
        let ops = |name: &str| ("kura-ops", std::iter::once(OsString::from(name)).chain(given.clone()).collect());
        match self {
            Handover::Exec(_) => ops("exec"),
            Handover::Cp(_) => ops("cp"),
            Handover::Start(_) => ops("start"),
            Handover::Stop(_) => ops("stop"),
            Handover::Restart(_) => ops("restart"),
            Handover::Rm(_) => ops("rm"),
            Handover::Nodes(_) if given.is_empty() => ("kura-nodes", vec![OsString::from("--help")]),
            Handover::Nodes(_) => ("kura-nodes", given),
        }
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
    /// The collector's data folder [default: $KURA_DATA, else /var/lib/kura, for every user].
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

/// `-n NAME` / `-c ID`: which containers (every one without either).
#[derive(Clone, Debug, Default, Args)]
pub struct ContainerArgs {
    /// Containers whose id starts with ID (a trailing * is allowed).
    #[arg(short = 'c', long = "id", value_name = "ID", conflicts_with = "name")]
    pub id: Option<String>,
    /// Containers named NAME; a trailing * matches a prefix (web*).
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name: Option<String>,
}

/// Which containers, how they appear in keys, over which window.
#[derive(Clone, Debug, Args)]
pub struct SelectArgs {
    /// Where to read, which host, how to print.
    #[command(flatten)]
    pub host: HostArgs,
    /// Which containers.
    #[command(flatten)]
    pub containers: ContainerArgs,
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

/// Where the store is and which hosts, for the history commands (every
/// host by default).
#[derive(Clone, Debug, Args)]
pub struct StoreArgs {
    /// The collector's data folder [default: $KURA_DATA, else /var/lib/kura as root, else ~/.local/share/kura].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Only this host, as the collector names it [default: every host].
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

/// A span of history.
#[derive(Clone, Debug, Args)]
pub struct SpanArgs {
    /// From this long ago (10m, 2h, 7d) or this time (RFC 3339); with a new cursor, where it starts.
    #[arg(long, value_name = "DUR|TIME", default_value = "1h")]
    pub since: String,
    /// Up to this time (RFC 3339) or this long ago [default: now].
    #[arg(long, value_name = "TIME|DUR", conflicts_with = "cursor")]
    pub until: Option<String>,
}

/// Where a feed goes, how its messages look, and its cursor.
#[derive(Clone, Debug, Args)]
#[command(group(ArgGroup::new("target").args(["syslog", "file"])))]
pub struct SendArgs {
    /// Send syslog messages to udp://HOST[:514] or tcp://HOST[:514] (nothing on stdout).
    #[arg(long, value_name = "URL")]
    pub syslog: Option<String>,
    /// Append the lines to this file (nothing on stdout).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Go on from where the last run with this name stopped (kept in DATA/cursors/), and remember where this one stops: every item is delivered once.
    #[arg(long, value_name = "NAME", requires = "target")]
    pub cursor: Option<String>,
    /// Whose name the syslog HOSTNAME carries (a name that cannot be one falls back to the 12-character id, then the host).
    #[arg(long, value_enum, value_name = "WHOSE")]
    pub hostname: Option<Hostname>,
    /// Syslog facility (kern, user, daemon, local0 ... local7).
    #[arg(long, value_name = "NAME", default_value = "user")]
    pub facility: String,
    /// Syslog TAG.
    #[arg(long, value_name = "TAG", default_value = "kura")]
    pub tag: String,
    /// The syslog date: RFC 3164 in this machine's local time (TZ), which the receiver takes for its own, or RFC 3339 with the offset (Hinemos 6.2+).
    #[arg(long, value_enum, value_name = "FORM", default_value_t = Timestamp::Rfc3164)]
    pub timestamp: Timestamp,
    /// The severity of messages about KEY (a state, removed, an event action, oom, unhealthy), e.g. exited=crit; repeatable.
    #[arg(long = "severity", value_name = "KEY=LEVEL")]
    pub severity: Vec<String>,
    /// Bound on each connect, send and confirmation.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub timeout: String,
    /// How long to wait for another run holding the same cursor.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub wait: String,
}

/// The syslog date's form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Timestamp {
    /// `Nov  8 01:02:03` in the local time zone.
    Rfc3164,
    /// `2026-11-08T01:02:03.000000+09:00`.
    Rfc3339,
}

/// How `kura transitions` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransitionFormat {
    /// One line per transition.
    Text,
    /// CSV with a header row.
    Csv,
    /// A JSON array.
    Json,
}

/// `kura transitions`.
#[derive(Clone, Debug, Args)]
pub struct TransitionsArgs {
    /// Where and which hosts.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Which span.
    #[command(flatten)]
    pub span: SpanArgs,
    /// Which containers.
    #[command(flatten)]
    pub containers: ContainerArgs,
    /// How to print.
    #[arg(long, value_enum, default_value_t = TransitionFormat::Text)]
    pub format: TransitionFormat,
    /// One line per container that changed: restarts, OOM kills, exits, last exit code, where it is now.
    #[arg(long, conflicts_with_all = ["target", "format"])]
    pub summary: bool,
    /// Where to send them.
    #[command(flatten)]
    pub send: SendArgs,
}

/// `kura events`.
#[derive(Clone, Debug, Args)]
pub struct EventsArgs {
    /// Where and which hosts.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Which span.
    #[command(flatten)]
    pub span: SpanArgs,
    /// Where to send them.
    #[command(flatten)]
    pub send: SendArgs,
}

/// `kura states`.
#[derive(Clone, Debug, Args)]
pub struct StatesArgs {
    /// Where, which host, which containers.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Only the states that changed since the last run with --cursor (and `removed` for a container that is gone).
    #[arg(long, requires = "cursor")]
    pub changes_only: bool,
    /// Where to send them.
    #[command(flatten)]
    pub send: SendArgs,
}

/// The containers and the period of a history: `kura export`, `kura report`.
#[derive(Clone, Debug, Args)]
pub struct PeriodArgs {
    /// The collector's data folder [default: as for the other commands].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Only this host [default: every host in the store].
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Which containers.
    #[command(flatten)]
    pub containers: ContainerArgs,
    /// The period's start: a duration back from --until (30d, 12h) or a time (RFC 3339).
    #[arg(long, value_name = "DURATION|TIME", default_value = "30d")]
    pub since: String,
    /// The period's end (RFC 3339) [default: now].
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// The zone times are written in: UTC, or an IANA name such as Asia/Tokyo.
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub tz: String,
}

/// `kura export`.
#[derive(Clone, Debug, Args)]
pub struct ExportArgs {
    /// Which containers, over which period.
    #[command(flatten)]
    pub period: PeriodArgs,
    /// The width of each bucket.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub step: String,
    /// The aggregates of each metric per bucket: avg (time-weighted), min, max, last, p1-p99.
    #[arg(long, value_name = "LIST", default_value = "avg,max,p95")]
    pub agg: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Add one row per host and bucket (availability, containers per state, disk, SNMP).
    #[arg(long)]
    pub hosts: bool,
}

/// `kura export` formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// `kura report`.
#[derive(Clone, Debug, Args)]
pub struct ReportArgs {
    /// Which containers, over which period.
    #[command(flatten)]
    pub period: PeriodArgs,
    /// Output format: the whole report, or one chart.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// With --format svg: which chart.
    #[arg(long, value_enum, default_value_t = ChartMetric::Cpu)]
    pub metric: ChartMetric,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// No recommendation for a container with less history than this.
    #[arg(long, value_name = "DURATION", default_value = "3h")]
    pub min_history: String,
    /// No recommendation for a container with fewer samples than this.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub min_samples: usize,
}

/// `kura report` formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML file.
    Html,
    /// One chart of one container (-n or -c), for pasting into documents.
    Svg,
}

/// The charts of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ChartMetric {
    /// CPU, cores, against the CPU limit.
    Cpu,
    /// Memory in use against the memory limit.
    Mem,
    /// Network received and sent, bytes per second.
    Net,
    /// Block IO read and written, bytes per second.
    Disk,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        // Every flattened group together: no two arguments share a name or
        // a short flag, and every `conflicts_with` names a real argument.
        super::Cli::command().debug_assert();
    }
}
