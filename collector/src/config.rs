//! The collector's configuration: a TOML file and/or flags -> a validated
//! [`Config`]. Everything that can be checked at start is checked here
//! (unknown keys, endpoints, durations, certificate folders), so a bad
//! setting stops the collector before its first sweep with one clear line.

use std::collections::BTreeSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::docker::{
    client_config, ApiVersion, DockerClient, DockerError, Endpoint, EndpointError, TlsError, DEFAULT_SOCKET,
};
use crate::duration::{parse_duration, DurationError};
use crate::paths::default_data_dir;
use crate::snmp::{SnmpConfig, SnmpVersion};

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
    /// TLS settings of a host are unusable.
    #[error("host {host}: {source}")]
    Tls {
        /// The host name.
        host: String,
        /// Why.
        source: TlsError,
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

/// The file's shape. Unknown keys are errors, so a typo never silently
/// falls back to a default.
#[derive(Debug, Default, Deserialize)]
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

/// One `[[host]]` table.
#[derive(Debug, Deserialize)]
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
#[derive(Debug, Deserialize)]
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

/// A validated host.
#[derive(Clone)]
pub struct HostConfig {
    /// The name queries use.
    pub name: String,
    /// Where its daemon listens.
    pub endpoint: Endpoint,
    /// TLS client settings for `https://` endpoints.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Sweep interval.
    pub interval: Duration,
    /// `top` interval.
    pub top_interval: Duration,
    /// Sizes and images interval.
    pub size_interval: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The API version pinned by the configuration; `None`: negotiated.
    pub api_version: Option<ApiVersion>,
    /// SNMP settings, if any.
    pub snmp: Option<SnmpConfig>,
}

impl HostConfig {
    /// A Docker client for this host: its endpoint, TLS, timeout and pinned
    /// API version.
    pub fn client(&self) -> Result<DockerClient, DockerError> {
        Ok(DockerClient::new(self.endpoint.clone(), self.tls.clone(), self.timeout)?.pin_api_version(self.api_version))
    }
}

impl std::fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostConfig")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("tls", &self.tls.is_some())
            .field("interval", &self.interval)
            .field("top_interval", &self.top_interval)
            .field("size_interval", &self.size_interval)
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("api_version", &self.api_version)
            .field("snmp", &self.snmp)
            .finish()
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// How long history is kept.
    pub retention: Duration,
    /// The hosts, names unique.
    pub hosts: Vec<HostConfig>,
}

/// Defaults, documented in README.
pub mod defaults {
    use std::time::Duration;
    /// Sweep interval.
    pub const INTERVAL: Duration = Duration::from_secs(10);
    /// `top` interval.
    pub const TOP_INTERVAL: Duration = Duration::from_secs(60);
    /// Sizes and images interval.
    pub const SIZE_INTERVAL: Duration = Duration::from_secs(3600);
    /// Per-request timeout.
    pub const TIMEOUT: Duration = Duration::from_secs(5);
    /// Requests in flight per host.
    pub const CONCURRENCY: usize = 128;
    /// Retention.
    pub const RETENTION: Duration = Duration::from_secs(35 * 86_400);
    /// SNMP timeout.
    pub const SNMP_TIMEOUT: Duration = Duration::from_secs(2);
}

/// What the flags say, before merging with the file.
#[derive(Debug, Default)]
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

impl Config {
    /// Merges the flags over the file (flags win), fills defaults and checks
    /// everything. With neither file hosts nor `--docker`, the local daemon
    /// is the one host, named after this machine's host name.
    pub fn resolve(flags: FlagConfig) -> Result<Config, ConfigError> {
        let file = match &flags.config_file {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let mut defaults = file.defaults.clone();
        overlay(&mut defaults.interval, &flags.interval);
        overlay(&mut defaults.top_interval, &flags.top_interval);
        overlay(&mut defaults.size_interval, &flags.size_interval);
        overlay(&mut defaults.timeout, &flags.timeout);
        overlay(&mut defaults.api_version, &flags.api_version);

        let mut hosts = Vec::new();
        for host in &file.hosts {
            hosts.push(resolve_host(host, &defaults)?);
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
            hosts.push(resolve_host(&host, &defaults)?);
        }
        if hosts.is_empty() {
            let host = FileHost {
                name: local_host_name(),
                endpoint: format!("unix://{DEFAULT_SOCKET}"),
                tls_cert_path: None,
                settings: HostSettings::default(),
                snmp: None,
            };
            hosts.push(resolve_host(&host, &defaults)?);
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
            let snmp = FileSnmp {
                address: address.to_owned(),
                version: None,
                community: flags.snmp_community.clone(),
                timeout: None,
            };
            host.snmp = Some(resolve_snmp(name, &snmp)?);
        }
        check_names(&hosts)?;

        let retention_text = flags.retention.as_ref().or(file.retention.as_ref());
        let retention = match retention_text {
            Some(text) => duration("retention", text)?,
            None => defaults::RETENTION,
        };
        let data_dir = flags.data_dir.or(file.data_dir).unwrap_or_else(default_data_dir);
        Ok(Config { data_dir, retention, hosts })
    }
}

fn overlay(target: &mut Option<String>, flag: &Option<String>) {
    if flag.is_some() {
        target.clone_from(flag);
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::Parse { path: path.to_owned(), reason: e.to_string().trim().replace('\n', " ") })
}

fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn duration(key: &str, text: &str) -> Result<Duration, ConfigError> {
    let parsed = parse_duration(text)
        .map_err(|e: DurationError| ConfigError::Duration { key: key.to_owned(), reason: e.to_string() })?;
    if parsed.is_zero() {
        return Err(ConfigError::Duration { key: key.to_owned(), reason: "must be more than zero".into() });
    }
    Ok(parsed)
}

fn setting(
    host: &str,
    key: &str,
    own: &Option<String>,
    default: &Option<String>,
    fallback: Duration,
) -> Result<Duration, ConfigError> {
    match own.as_ref().or(default.as_ref()) {
        Some(text) => duration(&format!("host {host}: {key}"), text),
        None => Ok(fallback),
    }
}

fn resolve_host(host: &FileHost, defaults: &HostSettings) -> Result<HostConfig, ConfigError> {
    let name = host.name.clone();
    let endpoint: Endpoint =
        host.endpoint.parse().map_err(|source| ConfigError::Endpoint { host: name.clone(), source })?;
    let tls = match (&endpoint, &host.tls_cert_path) {
        (Endpoint::Tls { .. }, Some(dir)) => {
            Some(client_config(dir).map_err(|source| ConfigError::Tls { host: name.clone(), source })?)
        }
        (Endpoint::Tls { .. }, None) => {
            return Err(ConfigError::Endpoint {
                host: name,
                source: EndpointError::Extra(format!("{} needs tls_cert_path (or DOCKER_CERT_PATH)", host.endpoint)),
            })
        }
        _ => None,
    };
    let own = &host.settings;
    let concurrency = own.concurrency.or(defaults.concurrency).unwrap_or(defaults::CONCURRENCY);
    if concurrency == 0 || concurrency > 1024 {
        return Err(ConfigError::Range { key: format!("host {name}: concurrency"), reason: "must be from 1 to 1024" });
    }
    let api_version = match own.api_version.as_ref().or(defaults.api_version.as_ref()) {
        Some(text) => Some(ApiVersion::parse(text).ok_or_else(|| ConfigError::Range {
            key: format!("host {name}: api_version {text:?}"),
            reason: "must be MAJOR.MINOR, e.g. 1.41",
        })?),
        None => None,
    };
    let snmp = host.snmp.as_ref().map(|snmp| resolve_snmp(&name, snmp)).transpose()?;
    Ok(HostConfig {
        interval: setting(&name, "interval", &own.interval, &defaults.interval, defaults::INTERVAL)?,
        top_interval: setting(
            &name,
            "top_interval",
            &own.top_interval,
            &defaults.top_interval,
            defaults::TOP_INTERVAL,
        )?,
        size_interval: setting(
            &name,
            "size_interval",
            &own.size_interval,
            &defaults.size_interval,
            defaults::SIZE_INTERVAL,
        )?,
        timeout: setting(&name, "timeout", &own.timeout, &defaults.timeout, defaults::TIMEOUT)?,
        name,
        endpoint,
        tls,
        concurrency,
        api_version,
        snmp,
    })
}

fn resolve_snmp(host: &str, snmp: &FileSnmp) -> Result<SnmpConfig, ConfigError> {
    let error = |reason: String| ConfigError::Snmp { host: host.to_owned(), reason };
    let with_port = if snmp.address.contains(':') { snmp.address.clone() } else { format!("{}:161", snmp.address) };
    let address: SocketAddr = with_port
        .to_socket_addrs()
        .map_err(|e| error(format!("address {:?}: {e}", snmp.address)))?
        .next()
        .ok_or_else(|| error(format!("address {:?} resolves to nothing", snmp.address)))?;
    let version = match snmp.version.as_deref() {
        None | Some("2c") | Some("2") => SnmpVersion::V2c,
        Some("1") => SnmpVersion::V1,
        Some(other) => return Err(error(format!("version {other:?}: use 1 or 2c"))),
    };
    let timeout = match &snmp.timeout {
        Some(text) => duration(&format!("host {host}: snmp timeout"), text)?,
        None => defaults::SNMP_TIMEOUT,
    };
    Ok(SnmpConfig {
        address,
        version,
        community: snmp.community.clone().unwrap_or_else(|| "public".to_owned()),
        timeout,
    })
}

fn check_names(hosts: &[HostConfig]) -> Result<(), ConfigError> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with_file(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kura.toml");
        std::fs::write(&path, text).unwrap();
        Config::resolve(FlagConfig { config_file: Some(path), ..FlagConfig::default() })
    }

    #[test]
    fn no_hosts_means_the_local_daemon() {
        let config = Config::resolve(FlagConfig::default()).unwrap();
        assert_eq!(config.hosts.len(), 1);
        assert_eq!(config.hosts[0].endpoint, Endpoint::Unix(DEFAULT_SOCKET.into()));
        assert_eq!(config.hosts[0].name, local_host_name());
        assert_eq!(config.hosts[0].interval, defaults::INTERVAL);
        assert_eq!(config.retention, defaults::RETENTION);
    }

    #[test]
    fn file_hosts_take_defaults_and_overrides() {
        let config = with_file(
            r#"
            retention = "7d"
            [defaults]
            interval = "30s"
            [[host]]
            name = "docker_host1"
            endpoint = "tcp://127.0.0.1:2375"
            [[host]]
            name = "docker_host2"
            endpoint = "unix:///run/docker.sock"
            interval = "5s"
            concurrency = 4
            [host.snmp]
            address = "127.0.0.1:16161"
            version = "1"
            community = "private"
            "#,
        )
        .unwrap();
        assert_eq!(config.retention, Duration::from_secs(7 * 86_400));
        let [one, two] = &config.hosts[..] else { panic!("two hosts expected") };
        assert_eq!(one.interval, Duration::from_secs(30));
        assert_eq!(two.interval, Duration::from_secs(5));
        assert_eq!(two.concurrency, 4);
        let snmp = two.snmp.as_ref().unwrap();
        assert_eq!(snmp.version, SnmpVersion::V1);
        assert_eq!(snmp.community, "private");
        assert_eq!(snmp.address.port(), 16161);
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let error = with_file("[[host]]\nname = \"a\"\nendpoint = \"tcp://h:1\"\nintervall = \"5s\"\n").unwrap_err();
        assert!(error.to_string().contains("intervall"), "{error}");
    }

    #[test]
    fn bad_settings_name_the_host_and_key() {
        let error = with_file("[[host]]\nname = \"a\"\nendpoint = \"ftp://h\"\n").unwrap_err();
        assert!(error.to_string().starts_with("host a: endpoint \"ftp://h\""), "{error}");
        let error = with_file("[[host]]\nname = \"a\"\nendpoint = \"tcp://h\"\napi_version = \"v1\"\n").unwrap_err();
        assert!(error.to_string().contains("host a: api_version \"v1\": must be MAJOR.MINOR"), "{error}");
        let error = with_file("[[host]]\nname = \"a\"\nendpoint = \"tcp://h\"\ntimeout = \"0s\"\n").unwrap_err();
        assert!(error.to_string().contains("host a: timeout"), "{error}");
        let error = with_file("[[host]]\nname = \"a\"\nendpoint = \"https://h\"\ntls_cert_path = \"/nonexistent\"\n")
            .unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
        let twice = "[[host]]\nname = \"a\"\nendpoint = \"tcp://h\"\n";
        let error = with_file(&format!("{twice}{twice}")).unwrap_err();
        assert!(error.to_string().contains("two hosts"), "{error}");
    }

    #[test]
    fn docker_flags_need_a_name() {
        let error = Config::resolve(FlagConfig { docker: vec!["tcp://127.0.0.1:1".into()], ..FlagConfig::default() })
            .unwrap_err();
        assert!(matches!(error, ConfigError::DockerFlag(_)));
        let config = Config::resolve(FlagConfig {
            docker: vec!["far=tcp://127.0.0.1:1".into()],
            snmp: vec!["far=127.0.0.1:16161".into()],
            ..FlagConfig::default()
        })
        .unwrap();
        assert_eq!(config.hosts[0].name, "far");
        assert!(config.hosts[0].snmp.is_some());
    }
}
