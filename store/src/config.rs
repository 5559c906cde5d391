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
    /// Defaults for every host.
    #[serde(default)]
    pub defaults: HostSettings,
    /// The hosts.
    #[serde(default, rename = "host")]
    pub hosts: Vec<FileHost>,
    /// `kura legacy`: the 2015 scripts' command lines.
    #[serde(default)]
    pub legacy: LegacySettings,
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
    /// Requests in flight at once per host, default 128 (stats answer on the daemon's 1 s tick, so a sweep of N containers needs N in flight to finish in one tick).
    pub concurrency: Option<usize>,
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
    /// `--retention`.
    pub retention: Option<String>,
    /// `--snmp NAME=HOST:PORT`, repeatable: SNMP v2c for a `--docker` host.
    pub snmp: Vec<String>,
    /// `--snmp-community`, for `--snmp` hosts.
    pub snmp_community: Option<String>,
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
            };
            hosts.push(entry(&host, &defaults)?);
        }
        if hosts.is_empty() {
            let host = FileHost {
                name: local_host_name(),
                endpoint: format!("unix://{DEFAULT_SOCKET}"),
                tls_cert_path: None,
                settings: HostSettings::default(),
                snmp: None,
            };
            hosts.push(entry(&host, &defaults)?);
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
        Ok(Settings { data_dir, retention, hosts, file })
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
    })
}

fn check_names(hosts: &[HostEntry]) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    for host in hosts {
        let name = &host.name;
        let usable = !name.is_empty()
            && name.len() <= 255
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !usable {
            return Err(ConfigError::HostName {
                name: name.clone(),
                reason: "use letters, digits, '.', '_' and '-' only",
            });
        }
        if !seen.insert(name.as_str()) {
            return Err(ConfigError::HostName { name: name.clone(), reason: "two hosts have this name" });
        }
    }
    Ok(())
}
