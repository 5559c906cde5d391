//! The configuration every kura program reads: a TOML file and/or flags ->
//! the data folder, the retention and the hosts with their endpoints. The
//! collector adds what only it needs (TLS client settings, SNMP sockets,
//! intervals as durations); `kura` and its job commands use the hosts as
//! they are here, so all of them name and reach a host the same way.
//!
//! Unknown keys are errors, so a typo never silently falls back to a default.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::duration::parse_duration;
use crate::endpoint::{Endpoint, EndpointError, DEFAULT_SOCKET};
use crate::paths::default_data_dir;

/// Retention when none is configured.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(35 * 86_400);
/// A host's per-request timeout when none is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A configuration that cannot be used; each names the file, host or key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for kura (unknown keys included).
    #[error("config {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message, with the line.
        reason: String,
    },
    /// A `--docker` flag is not `NAME=ENDPOINT`.
    #[error("--docker {0:?}: expected NAME=ENDPOINT, e.g. docker_host1=tcp://10.0.0.5:2375")]
    DockerFlag(String),
    /// A host's endpoint is malformed.
    #[error("host {host}: {source}")]
    Endpoint {
        /// The host name.
        host: String,
        /// Why.
        source: EndpointError,
    },
    /// A duration setting is malformed or zero.
    #[error("{key}: {reason}")]
    Duration {
        /// The setting, e.g. `host docker1: interval`.
        key: String,
        /// Why.
        reason: String,
    },
    /// SNMP settings of a host are unusable.
    #[error("host {host}: snmp: {reason}")]
    Snmp {
        /// The host name.
        host: String,
        /// Why.
        reason: String,
    },
    /// Two hosts have the same name, or a name is unusable.
    #[error("host name {name:?}: {reason}")]
    HostName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// `socket_group` names no group.
    #[error("socket_group {group:?}: {reason}")]
    SocketGroup {
        /// The group as written.
        group: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// `DOCKER_HOST` is not an endpoint kura reads.
    #[error("DOCKER_HOST={value:?}: {source}")]
    DockerHost {
        /// The variable's value.
        value: String,
        /// Why.
        source: EndpointError,
    },
    /// A number setting is out of range.
    #[error("{key}: {reason}")]
    Range {
        /// The setting.
        key: String,
        /// Why.
        reason: &'static str,
    },
}

/// The file's shape.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where the store lives.
    pub data_dir: Option<PathBuf>,
    /// How long history is kept, e.g. `35d`.
    pub retention: Option<String>,
    /// A group (name or number) whose members may use the collector's
    /// socket: the data folder is then mode 0750 and the socket 0660, both
    /// of this group (without it: 0700 and 0600, the collector's user only).
    pub socket_group: Option<String>,
    /// Defaults for every host.
    #[serde(default)]
    pub defaults: HostSettings,
    /// The hosts.
    #[serde(default, rename = "host")]
    pub hosts: Vec<FileHost>,
    /// Continuous forwarding of events, transitions or states to a syslog
    /// receiver (`[[forward]]`), read by the collector.
    #[serde(default, rename = "forward")]
    pub forwards: Vec<FileForward>,
    /// Hinemos' node repository, kept in step with the containers by
    /// `kura nodes` (and by the collector when `interval` is set).
    pub hinemos: Option<FileHinemos>,
    /// The collector's Prometheus endpoint (`[metrics]`); off without it.
    pub metrics: Option<FileMetrics>,
    /// `kura legacy`: the 2015 scripts' command lines.
    #[serde(default)]
    pub legacy: LegacySettings,
}

/// One `[[forward]]` table: what the collector sends, where, and how the
/// messages look (the same options as `kura events --syslog`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileForward {
    /// The forwarding's name: its cursor in the store.
    pub name: String,
    /// `udp://HOST[:514]` or `tcp://HOST[:514]`.
    pub target: Option<String>,
    /// A file to append lines to, instead of a syslog target.
    pub file: Option<PathBuf>,
    /// What to send: any of `events`, `transitions`, `states` (states on change).
    pub send: Vec<String>,
    /// Only these hosts (default: every configured host).
    pub hosts: Option<Vec<String>>,
    /// Whose name the HOSTNAME carries: `id`, `name` or `host`.
    pub hostname: Option<String>,
    /// Syslog facility, default `user`.
    pub facility: Option<String>,
    /// Syslog TAG, default `kura`.
    pub tag: Option<String>,
    /// `rfc3164` (default) or `rfc3339`.
    pub timestamp: Option<String>,
    /// Severities by key, e.g. `{ exited = "crit" }`.
    #[serde(default)]
    pub severity: std::collections::BTreeMap<String, String>,
    /// Messages held while the receiver is away; past it the oldest are
    /// dropped (and counted in one warning). Default 10 000.
    pub backlog: Option<usize>,
    /// How often new history is looked for, default `2s`.
    pub every: Option<String>,
    /// Bound on each connect, send and confirmation, default `5s`.
    pub timeout: Option<String>,
}

/// The `[hinemos]` table: the manager, how to log in, how nodes are named.
/// `kura-nodes` checks the values; this is only their shape.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHinemos {
    /// The manager, `http://HOST:8080` (kura adds `/HinemosWeb/api`).
    pub manager: Option<String>,
    /// The login, default `hinemos`.
    pub user: Option<String>,
    /// A file holding the password (its first line); never the password itself.
    pub password_file: Option<PathBuf>,
    /// PEM certificates to trust for an `https://` manager (else the
    /// public web roots).
    pub ca_file: Option<PathBuf>,
    /// Per-request timeout, default `10s`.
    pub timeout: Option<String>,
    /// When set, the collector keeps the repository in step this often
    /// (e.g. `5m`); without it only `kura nodes apply` (cron) does.
    pub interval: Option<String>,
    /// Between the host's facility id and the container name, default `-`.
    pub separator: Option<String>,
    /// The owner role of what kura adds, default `ALL_USERS`.
    pub owner_role: Option<String>,
    /// Remove the nodes of containers that are gone (`--delete`).
    pub delete: Option<bool>,
    /// Take over nodes kura did not create (`--adopt`).
    pub adopt: Option<bool>,
    /// Release nodes from label scopes their label no longer names (`--unassign`).
    pub unassign: Option<bool>,
}

/// A host's `[host.hinemos]` table: how its node appears in Hinemos.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHostHinemos {
    /// The host node's facility id, default the host's name.
    pub facility_id: Option<String>,
    /// The address of the host node and its container nodes, default the
    /// endpoint's host (resolved), or 127.0.0.1 for a unix socket.
    pub ip_address: Option<String>,
}

/// The `[metrics]` table: the collector's Prometheus endpoint.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMetrics {
    /// `HOST:PORT` to serve `GET /metrics` on, e.g. `127.0.0.1:9338`.
    pub listen: Option<String>,
    /// Whether each Docker label becomes a `container_label_<name>` label
    /// (default true, as cAdvisor does).
    pub container_labels: Option<bool>,
}

/// The `[legacy]` table: how `kura legacy` answers the 2015 rate scripts
/// (CPU, disk, network), whose figures cover the time since the previous
/// call with the same `-k`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacySettings {
    /// The window of a key's first call, default `5m`.
    pub first_window: Option<String>,
    /// The longest window, default `2h`: a call after a longer pause covers
    /// the newest part of it.
    pub max_window: Option<String>,
}

/// Per-host settings that have collector-wide defaults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSettings {
    /// Sweep interval (stats, inspect, list, SNMP), default `10s`.
    pub interval: Option<String>,
    /// `top` interval, default `60s`.
    pub top_interval: Option<String>,
    /// Container sizes and images interval, default `1h`.
    pub size_interval: Option<String>,
    /// Per-request timeout, default `5s`.
    pub timeout: Option<String>,
    /// The Docker API version to speak, e.g. `1.41`, instead of negotiating
    /// it (as `DOCKER_API_VERSION` does for the docker CLI).
    pub api_version: Option<String>,
    /// Requests in flight at once per host, default 512 (stats answer on the daemon's 1 s tick, so a sweep of N containers needs N in flight to finish in one tick).
    pub concurrency: Option<usize>,
    /// Where running containers' counters come from: `api` (stats
    /// requests, the default), `cgroupfs` (the cgroup files and
    /// `/proc/<pid>/net/dev` of the local host) or `auto` (`cgroupfs` for a
    /// `unix://` endpoint whose cgroup files can be read, else `api`).
    pub source: Option<String>,
    /// Where the cgroup filesystem is mounted, default `/sys/fs/cgroup`.
    pub cgroup_root: Option<PathBuf>,
}

impl HostSettings {
    /// These settings, each taken from `over` where it has one.
    fn overlaid(&self, over: &HostSettings) -> HostSettings {
        HostSettings {
            interval: over.interval.clone().or_else(|| self.interval.clone()),
            top_interval: over.top_interval.clone().or_else(|| self.top_interval.clone()),
            size_interval: over.size_interval.clone().or_else(|| self.size_interval.clone()),
            timeout: over.timeout.clone().or_else(|| self.timeout.clone()),
            api_version: over.api_version.clone().or_else(|| self.api_version.clone()),
            concurrency: over.concurrency.or(self.concurrency),
            source: over.source.clone().or_else(|| self.source.clone()),
            cgroup_root: over.cgroup_root.clone().or_else(|| self.cgroup_root.clone()),
        }
    }
}

/// One `[[host]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHost {
    /// The name queries use (`--host`), e.g. `docker_host1`.
    pub name: String,
    /// `unix:///var/run/docker.sock`, `tcp://HOST:2375` or `https://HOST:2376`.
    pub endpoint: String,
    /// For `https://`: a folder with `ca.pem`, `cert.pem`, `key.pem`.
    pub tls_cert_path: Option<PathBuf>,
    /// Overrides of the defaults.
    #[serde(flatten)]
    pub settings: HostSettings,
    /// SNMP, when the host's memory and CPU should be read.
    pub snmp: Option<FileSnmp>,
    /// How the host's node appears in Hinemos.
    pub hinemos: Option<FileHostHinemos>,
}

/// A host's `[host.snmp]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSnmp {
    /// `HOST:PORT` (port defaults to 161).
    pub address: String,
    /// `1` or `2c` (default).
    pub version: Option<String>,
    /// Community, default `public`.
    pub community: Option<String>,
    /// Timeout, default `2s`.
    pub timeout: Option<String>,
}

/// What the flags say, before merging with the file.
#[derive(Clone, Debug, Default)]
pub struct FlagConfig {
    /// `--config FILE`.
    pub config_file: Option<PathBuf>,
    /// `--data DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--docker NAME=ENDPOINT`, repeatable.
    pub docker: Vec<String>,
    /// `--interval`, overriding the defaults of every host.
    pub interval: Option<String>,
    /// `--top-interval`.
    pub top_interval: Option<String>,
    /// `--size-interval`.
    pub size_interval: Option<String>,
    /// `--timeout`.
    pub timeout: Option<String>,
    /// `--api-version`.
    pub api_version: Option<String>,
    /// `--source`.
    pub source: Option<String>,
    /// `--retention`.
    pub retention: Option<String>,
    /// `--snmp NAME=HOST:PORT`, repeatable: SNMP v2c for a `--docker` host.
    pub snmp: Vec<String>,
    /// `--snmp-community`, for `--snmp` hosts.
    pub snmp_community: Option<String>,
    /// `--metrics-listen HOST:PORT`, over `[metrics] listen`.
    pub metrics_listen: Option<String>,
}

/// A host as configured: its name, where its daemon listens, its settings
/// (the host's own over the defaults over the flags), not yet validated
/// beyond the endpoint.
#[derive(Clone, Debug)]
pub struct HostEntry {
    /// The name queries use.
    pub name: String,
    /// Where its daemon listens.
    pub endpoint: Endpoint,
    /// The endpoint as written.
    pub endpoint_text: String,
    /// For `https://`: the certificate folder.
    pub tls_cert_path: Option<PathBuf>,
    /// Intervals, timeout, API version, concurrency.
    pub settings: HostSettings,
    /// SNMP, if any.
    pub snmp: Option<FileSnmp>,
    /// Its Hinemos node settings, if any.
    pub hinemos: Option<FileHostHinemos>,
}

/// A group allowed to use the collector's socket (`socket_group`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketGroup {
    /// The group as configured (a name, or a number).
    pub name: String,
    /// Its id.
    pub gid: u32,
}

impl SocketGroup {
    /// The group `text` names in `/etc/group`, or the number it is.
    pub fn resolve(text: &str) -> Result<SocketGroup, ConfigError> {
        let gid = crate::users::group_id(text).ok_or_else(|| ConfigError::SocketGroup {
            group: text.to_owned(),
            reason: "no such group in /etc/group (give a group name or its number)".to_owned(),
        })?;
        Ok(SocketGroup { name: text.to_owned(), gid })
    }
}

/// The configuration as every kura program sees it.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// How long history is kept.
    pub retention: Duration,
    /// The hosts, names unique.
    pub hosts: Vec<HostEntry>,
    /// The group that may use the collector's socket besides its user.
    pub socket_group: Option<SocketGroup>,
    /// Whether the one host is the local daemon named after this machine
    /// (neither the file nor `--docker` names a host): the collector then
    /// keeps the name the store recorded first.
    pub implicit_local_host: bool,
    /// The file as read (empty without `--config`), for the sections a
    /// program reads itself.
    pub file: FileConfig,
}

impl Settings {
    /// Merges the flags over the file (flags win) and checks the hosts'
    /// names and endpoints. With neither file hosts nor `--docker`, the
    /// local daemon is the one host, named after this machine's host name.
    pub fn load(flags: &FlagConfig) -> Result<Settings, ConfigError> {
        let file = match &flags.config_file {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let from_flags = HostSettings {
            interval: flags.interval.clone(),
            top_interval: flags.top_interval.clone(),
            size_interval: flags.size_interval.clone(),
            timeout: flags.timeout.clone(),
            api_version: flags.api_version.clone(),
            concurrency: None,
            source: flags.source.clone(),
            cgroup_root: None,
        };
        let defaults = file.defaults.overlaid(&from_flags);

        let mut hosts = Vec::new();
        for host in &file.hosts {
            hosts.push(entry(host, &defaults)?);
        }
        for flag in &flags.docker {
            let (name, endpoint) = flag
                .split_once('=')
                .filter(|(n, e)| !n.is_empty() && !e.is_empty())
                .ok_or_else(|| ConfigError::DockerFlag(flag.clone()))?;
            let host = FileHost {
                name: name.to_owned(),
                endpoint: endpoint.to_owned(),
                tls_cert_path: std::env::var_os("DOCKER_CERT_PATH").map(PathBuf::from),
                settings: HostSettings::default(),
                snmp: None,
                hinemos: None,
            };
            hosts.push(entry(&host, &defaults)?);
        }
        let implicit_local_host = hosts.is_empty();
        if implicit_local_host {
            hosts.push(local_host(&defaults)?);
        }
        for flag in &flags.snmp {
            let (name, address) = flag.split_once('=').ok_or_else(|| ConfigError::Snmp {
                host: flag.clone(),
                reason: "--snmp expects NAME=HOST:PORT".into(),
            })?;
            let host = hosts.iter_mut().find(|h| h.name == name).ok_or_else(|| ConfigError::Snmp {
                host: name.to_owned(),
                reason: "no such host (name it with --docker or in the config file)".into(),
            })?;
            host.snmp = Some(FileSnmp {
                address: address.to_owned(),
                version: None,
                community: flags.snmp_community.clone(),
                timeout: None,
            });
        }
        check_names(&hosts)?;

        let retention = match flags.retention.as_ref().or(file.retention.as_ref()) {
            Some(text) => duration("retention", text)?,
            None => DEFAULT_RETENTION,
        };
        let data_dir = flags.data_dir.clone().or_else(|| file.data_dir.clone()).unwrap_or_else(default_data_dir);
        let socket_group = file.socket_group.as_deref().map(SocketGroup::resolve).transpose()?;
        Ok(Settings { data_dir, retention, hosts, socket_group, implicit_local_host, file })
    }

    /// The host of this name.
    pub fn host(&self, name: &str) -> Option<&HostEntry> {
        self.hosts.iter().find(|host| host.name == name)
    }
}

/// A duration setting: well formed and more than zero. `key` names it in
/// the error.
pub fn duration(key: &str, text: &str) -> Result<Duration, ConfigError> {
    let parsed =
        parse_duration(text).map_err(|e| ConfigError::Duration { key: key.to_owned(), reason: e.to_string() })?;
    if parsed.is_zero() {
        return Err(ConfigError::Duration { key: key.to_owned(), reason: "must be more than zero".into() });
    }
    Ok(parsed)
}

/// The local daemon as the one host, named after this machine: at
/// `$DOCKER_HOST` when it is set (as the docker CLI reads it: rootless
/// Docker's socket, or `tcp://` with `DOCKER_TLS_VERIFY` and
/// `DOCKER_CERT_PATH` for TLS), else `unix:///var/run/docker.sock`.
fn local_host(defaults: &HostSettings) -> Result<HostEntry, ConfigError> {
    let name = local_host_name();
    let Some(value) = std::env::var("DOCKER_HOST").ok().filter(|v| !v.is_empty()) else {
        let host = FileHost {
            name,
            endpoint: format!("unix://{DEFAULT_SOCKET}"),
            tls_cert_path: None,
            settings: HostSettings::default(),
            snmp: None,
            hinemos: None,
        };
        return entry(&host, defaults);
    };
    let verify = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
    let endpoint = match value.strip_prefix("tcp://") {
        Some(rest) if verify => format!("https://{rest}"),
        _ => value.clone(),
    };
    let tls_cert_path = endpoint.starts_with("https://").then(docker_cert_path).flatten();
    let host = FileHost { name, endpoint, tls_cert_path, settings: HostSettings::default(), snmp: None, hinemos: None };
    entry(&host, defaults).map_err(|e| match e {
        ConfigError::Endpoint { source, .. } => ConfigError::DockerHost { value, source },
        other => other,
    })
}

/// `$DOCKER_CERT_PATH`, else `~/.docker`, as the docker CLI looks for its
/// TLS files.
fn docker_cert_path() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CERT_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")))
}

/// This machine's host name (`localhost` when it has none).
pub fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::Parse { path: path.to_owned(), reason: e.to_string().trim().replace('\n', " ") })
}

fn entry(host: &FileHost, defaults: &HostSettings) -> Result<HostEntry, ConfigError> {
    let endpoint: Endpoint =
        host.endpoint.parse().map_err(|source| ConfigError::Endpoint { host: host.name.clone(), source })?;
    if matches!(endpoint, Endpoint::Tls { .. }) && host.tls_cert_path.is_none() {
        return Err(ConfigError::Endpoint {
            host: host.name.clone(),
            source: EndpointError::Extra(format!("{} needs tls_cert_path (or DOCKER_CERT_PATH)", host.endpoint)),
        });
    }
    Ok(HostEntry {
        name: host.name.clone(),
        endpoint,
        endpoint_text: host.endpoint.clone(),
        tls_cert_path: host.tls_cert_path.clone(),
        settings: defaults.overlaid(&host.settings),
        snmp: host.snmp.clone(),
        hinemos: host.hinemos.clone(),
    })
}

/// A host name kura accepts: 1 to 255 letters, digits, `.`, `_` and `-`.
pub fn check_host_name(name: &str) -> Result<(), ConfigError> {
    let usable = !name.is_empty()
        && name.len() <= 255
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !usable {
        return Err(ConfigError::HostName {
            name: name.to_owned(),
            reason: "use letters, digits, '.', '_' and '-' only",
        });
    }
    Ok(())
}

fn check_names(hosts: &[HostEntry]) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    for host in hosts {
        let name = &host.name;
        check_host_name(name)?;
        if !seen.insert(name.as_str()) {
            return Err(ConfigError::HostName { name: name.clone(), reason: "two hosts have this name" });
        }
    }
    Ok(())
}
