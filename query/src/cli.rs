//! The `kura` command line: what each command takes (clap conventions,
//! `--help` with examples and units).

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

Exit status: 0 every selected item printed; 1 nothing or not everything could be
answered (stale store, unknown host or container, store unreadable; a line on
stderr says why); 2 bad arguments."
)]
pub struct Cli {
    /// What to answer.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The Hinemos checks (`key,value` lines) and `kura ps`.
    #[command(flatten)]
    Check(Check),
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
}

/// The commands that answer from the newest sweep at a time (`--at`):
/// Hinemos' custom monitors, and `kura ps`.
#[derive(Debug, Subcommand)]
pub enum Check {
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

/// The containers and the period of a history: `kura export`, `kura report`.
#[derive(Clone, Debug, Args)]
pub struct PeriodArgs {
    /// The collector's data folder [default: as for the other commands].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Only this host [default: every host in the store].
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Containers whose id starts with ID (a trailing * is allowed).
    #[arg(short = 'c', long = "id", value_name = "ID", conflicts_with = "name")]
    pub id: Option<String>,
    /// Containers named NAME; a trailing * matches a prefix (web*).
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name: Option<String>,
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
