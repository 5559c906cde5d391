//! `kura-collector`: samples every container of every configured Docker host
//! into kura's store. See README.md for the configuration and the store layout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kura_collector::config::Config;
use kura_collector::daemon::{self, DaemonError};
use kura_store::config::FlagConfig;

/// Samples every container of every configured Docker host into kura's store.
///
/// Without a config file or --docker, the local daemon (unix:///var/run/docker.sock)
/// is the one host, named after this machine.
#[derive(Debug, Parser)]
#[command(
    name = "kura-collector",
    version,
    after_help = "Examples:
  kura-collector                                   # the local Docker, store in the default folder
  kura-collector --once                            # one sweep of every host, then exit
  kura-collector --docker docker_host1=tcp://10.0.0.5:2375 --interval 30s
  kura-collector --config /etc/kura/collector.toml --log debug
  kura-collector --metrics-listen 127.0.0.1:9338        # also serve Prometheus on GET /metrics
  kura-collector --rename-host oldname=newname     # after renaming the machine (collector stopped)

Exit status: 0 stopped by SIGTERM/SIGINT (or --once or --rename-host done), 1 the
store failed, 2 bad flags or configuration (a Docker socket it may not use, an
unknown host to rename, a metrics address that cannot be listened on), 3 another
collector holds the store."
)]
struct Args {
    /// TOML config file (hosts, intervals, SNMP; see README).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Store folder [default: $KURA_DATA, else /var/lib/kura, for every user].
    #[arg(short, long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// A Docker host as NAME=ENDPOINT (unix:///path, tcp://HOST:PORT, https://HOST:PORT); repeatable.
    #[arg(long, value_name = "NAME=ENDPOINT")]
    docker: Vec<String>,
    /// SNMP agent of a host as NAME=HOST[:PORT] (v2c); repeatable.
    #[arg(long, value_name = "NAME=HOST:PORT")]
    snmp: Vec<String>,
    /// Community for --snmp agents [default: public].
    #[arg(long, value_name = "COMMUNITY")]
    snmp_community: Option<String>,
    /// Sweep interval of every host (stats, inspect, list, SNMP) [default: 10s].
    #[arg(long, value_name = "DURATION")]
    interval: Option<String>,
    /// Interval of `top` (process lists) [default: 60s].
    #[arg(long, value_name = "DURATION")]
    top_interval: Option<String>,
    /// Interval of container sizes and images [default: 1h].
    #[arg(long, value_name = "DURATION")]
    size_interval: Option<String>,
    /// Per-request timeout [default: 5s].
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Docker API version to speak with every host (e.g. 1.41) instead of negotiating it.
    #[arg(long, value_name = "MAJOR.MINOR")]
    api_version: Option<String>,
    /// Where running containers' counters come from: api (stats requests), cgroupfs (the local cgroup files), auto (cgroupfs for a local unix socket whose cgroup files can be read, else api) [default: api].
    #[arg(long, value_name = "SOURCE", value_parser = ["api", "cgroupfs", "auto"])]
    source: Option<String>,
    /// How long history is kept [default: 35d].
    #[arg(long, value_name = "DURATION")]
    retention: Option<String>,
    /// Serve GET /metrics (Prometheus, cAdvisor's names) on HOST:PORT, e.g. 127.0.0.1:9338 [default: [metrics] listen, else off].
    #[arg(long, value_name = "HOST:PORT")]
    metrics_listen: Option<String>,
    /// Run one sweep of every host (top, sizes and SNMP included), then exit.
    #[arg(long)]
    once: bool,
    /// Rename a stored host and its whole history (the collector must be stopped), then exit.
    #[arg(long, value_name = "OLD=NEW", conflicts_with = "once")]
    rename_host: Option<String>,
    /// Log level or filter (error, warn, info, debug, trace; or RUST_LOG syntax) [default: $RUST_LOG, else info].
    #[arg(long, value_name = "FILTER")]
    log: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logs(args.log.as_deref());
    let flags = FlagConfig {
        config_file: args.config,
        data_dir: args.data,
        docker: args.docker,
        interval: args.interval,
        top_interval: args.top_interval,
        size_interval: args.size_interval,
        timeout: args.timeout,
        api_version: args.api_version,
        source: args.source,
        retention: args.retention,
        snmp: args.snmp,
        snmp_community: args.snmp_community,
        metrics_listen: args.metrics_listen,
    };
    let config = match Config::resolve(flags) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("kura-collector: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(rename) = &args.rename_host {
        let Some((from, to)) = rename.split_once('=') else {
            eprintln!("kura-collector: --rename-host {rename:?}: expected OLD=NEW");
            return ExitCode::from(2);
        };
        return match daemon::rename_host(&config.data_dir, from, to) {
            Ok(series) => {
                eprintln!("kura-collector: renamed host {from} to {to} ({series} container series)");
                ExitCode::SUCCESS
            }
            Err(e) => {
                let code = exit_code(&e);
                eprintln!("kura-collector: {:#}", anyhow::Error::from(e));
                ExitCode::from(code)
            }
        };
    }
    match daemon::run_main(config, args.once) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = exit_code(&e);
            eprintln!("kura-collector: {:#}", anyhow::Error::from(e));
            ExitCode::from(code)
        }
    }
}

fn exit_code(error: &DaemonError) -> u8 {
    use kura_store::StoreError;
    match error {
        DaemonError::Locked { .. } => 3,
        DaemonError::Config(_) | DaemonError::Listen(_) => 2,
        DaemonError::Rename { source: StoreError::UnknownHost { .. } | StoreError::Options { .. }, .. } => 2,
        _ => 1,
    }
}

/// Logs on stderr. A bare level (`debug`) applies to kura; its libraries
/// (sled's page cache is chatty) stay at `warn`. A full filter
/// (`kura_collector=trace,sled=info`) is taken as written.
fn init_logs(filter: Option<&str>) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    // sled's own messages are off unless asked for by a full filter: kura
    // reports every store error itself, once, where sled repeats them.
    let directives = match filter.map(str::to_owned).or_else(|| std::env::var("RUST_LOG").ok()) {
        Some(f) if f.contains(['=', ',']) => f,
        Some(level) => format!("warn,sled=off,kura_collector={level},kura_store={level}"),
        None => "warn,sled=off,kura_collector=info,kura_store=info".to_owned(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(directives))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
