//! The collector's configuration: [`kura_store::config::Settings`] (the file
//! and flags every kura program reads) -> a validated [`Config`] with what
//! only the collector needs: TLS client settings, SNMP sockets, intervals as
//! durations. Everything that can be checked at start is checked here
//! (unknown keys, endpoints, durations, certificate folders), so a bad
//! setting stops the collector before its first sweep with one clear line.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kura_store::config::{self as settings, FileSnmp, FlagConfig, HostEntry, Settings, SocketGroup};
use kura_store::endpoint::Endpoint;
use kura_store::users;

use kura_nodes::settings::NodesSettings;

use crate::docker::{client_config, ApiVersion, DockerClient, DockerError, TlsError};
use crate::metrics::MetricsConfig;
use crate::snmp::{SnmpConfig, SnmpVersion};

/// A configuration that cannot be used; each names the file, host or key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file, the flags or a host's name or endpoint.
    #[error(transparent)]
    Settings(#[from] settings::ConfigError),
    /// A `[[forward]]` is unusable (the message names it and the key).
    #[error("{0}")]
    Forward(String),
    /// `[hinemos]` is unusable.
    #[error(transparent)]
    Nodes(#[from] kura_nodes::settings::SettingsError),
    /// TLS settings of a host are unusable.
    #[error("host {host}: {source}")]
    Tls {
        /// The host name.
        host: String,
        /// Why.
        source: TlsError,
    },
    /// The collector may not use a host's Docker socket: it would record
    /// the host down for as long as it runs.
    #[error("host {host}: permission denied on the Docker socket {path}: {detail}")]
    DockerSocket {
        /// The host name.
        host: String,
        /// The socket.
        path: PathBuf,
        /// Who the collector runs as, who owns the socket, what to do.
        detail: String,
    },
    /// The collector may not hand its socket to `socket_group`.
    #[error("socket_group {group}: {detail}")]
    SocketGroup {
        /// The group as configured.
        group: String,
        /// Why not.
        detail: String,
    },
    /// The metrics address is not `HOST:PORT`.
    #[error("metrics listen {listen:?}: {reason}")]
    MetricsListen {
        /// The address as written.
        listen: String,
        /// Why.
        reason: String,
    },
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
    /// Where running containers' counters come from.
    pub source: Source,
    /// Where the cgroup filesystem is mounted (for [`Source::Cgroupfs`] and [`Source::Auto`]).
    pub cgroup_root: PathBuf,
}

/// Where a host's running containers' counters come from (`source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// One-shot stats requests to the daemon.
    Api,
    /// The cgroup files and `/proc/<pid>/net/dev` of the collector's own
    /// host ([`crate::stats::cgroup`]); the API when they cannot be read.
    Cgroupfs,
    /// [`Source::Cgroupfs`] for a `unix://` endpoint, else [`Source::Api`].
    Auto,
}

impl Source {
    /// The setting as written: `api`, `cgroupfs` or `auto`.
    pub fn parse(text: &str) -> Option<Source> {
        match text {
            "api" => Some(Source::Api),
            "cgroupfs" => Some(Source::Cgroupfs),
            "auto" => Some(Source::Auto),
            _ => None,
        }
    }
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
            .field("source", &self.source)
            .field("cgroup_root", &self.cgroup_root)
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
    /// The `[[forward]]`s, names unique.
    pub forwards: Vec<crate::forward::Forward>,
    /// Hinemos' node repository, kept in step on `[hinemos] interval`;
    /// `None` when no interval is set.
    pub nodes: Option<NodesSettings>,
    /// The group that may use the collector's socket besides its user.
    pub socket_group: Option<SocketGroup>,
    /// Whether the one host is the local daemon named after this machine:
    /// the store's first name for it is kept (see [`crate::daemon`]).
    pub implicit_local_host: bool,
    /// The Prometheus endpoint, when configured.
    pub metrics: Option<MetricsConfig>,
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
    pub const TIMEOUT: Duration = kura_store::config::DEFAULT_TIMEOUT;
    /// Requests in flight per host (each one a connection): above a sweep's
    /// requests on a host of a few hundred containers, so that no stats
    /// request waits for a permit (README "Sweeps at 100, 200 and 500 containers").
    pub const CONCURRENCY: usize = 512;
    /// Retention.
    pub const RETENTION: Duration = kura_store::config::DEFAULT_RETENTION;
    /// Where counters come from.
    pub const SOURCE: super::Source = super::Source::Api;
    /// SNMP timeout.
    pub const SNMP_TIMEOUT: Duration = Duration::from_secs(2);
}

impl Config {
    /// Merges the flags over the file (flags win), fills defaults and checks
    /// everything. With neither file hosts nor `--docker`, the local daemon
    /// is the one host, named after this machine's host name.
    pub fn resolve(flags: FlagConfig) -> Result<Config, ConfigError> {
        let settings = Settings::load(&flags)?;
        let hosts: Vec<HostConfig> = settings.hosts.iter().map(resolve_host).collect::<Result<_, _>>()?;
        for host in &hosts {
            check_socket_access(host)?;
        }
        if let Some(group) = &settings.socket_group {
            check_group(group)?;
        }
        let mut forwards: Vec<crate::forward::Forward> = Vec::new();
        for file in &settings.file.forwards {
            let forward = crate::forward::Forward::resolve(file, &hosts).map_err(ConfigError::Forward)?;
            if forwards.iter().any(|f| f.name == forward.name) {
                return Err(ConfigError::Forward(format!("forward {:?}: two forwards have this name", forward.name)));
            }
            forwards.push(forward);
        }
        let nodes = resolve_nodes(&settings)?;
        let metrics = resolve_metrics(&flags, &settings)?;
        Ok(Config {
            data_dir: settings.data_dir,
            retention: settings.retention,
            hosts,
            forwards,
            nodes,
            metrics,
            socket_group: settings.socket_group,
            implicit_local_host: settings.implicit_local_host,
        })
    }
}

/// `[hinemos]`, checked whether or not the collector uses it (one file,
/// one verdict for every kura program); kept when it sets an interval,
/// which needs a manager and a readable password file at start.
fn resolve_nodes(settings: &Settings) -> Result<Option<NodesSettings>, ConfigError> {
    let nodes = NodesSettings::resolve(settings, &kura_nodes::settings::Overrides::default())?;
    if nodes.interval.is_none() {
        return Ok(None);
    }
    let Some(manager) = &nodes.manager else {
        return Err(settings::ConfigError::Range {
            key: "[hinemos] interval".to_owned(),
            reason: "needs manager (and password_file) in [hinemos]",
        }
        .into());
    };
    manager.client_config()?;
    Ok(Some(nodes))
}

/// A unix socket the collector may not connect to is a configuration
/// error at start (status 2), not a host recorded down for good. A socket
/// that is missing or refuses is a daemon not started yet: sampled down
/// until it is.
fn check_socket_access(host: &HostConfig) -> Result<(), ConfigError> {
    let Endpoint::Unix(path) = &host.endpoint else { return Ok(()) };
    match std::os::unix::net::UnixStream::connect(path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            let group = std::fs::metadata(path)
                .ok()
                .map(|meta| std::os::unix::fs::MetadataExt::gid(&meta))
                .map(|gid| users::group_name(gid).unwrap_or_else(|| gid.to_string()));
            let remedy = match group {
                Some(group) => format!("run kura-collector as root or as a member of the socket's group {group}"),
                None => "run kura-collector as a user who may use it".to_owned(),
            };
            Err(ConfigError::DockerSocket {
                host: host.name.clone(),
                path: path.clone(),
                detail: format!("{}; {remedy}", users::why_denied(path)),
            })
        }
        _ => Ok(()),
    }
}

/// The collector hands its folder and socket to `socket_group` with
/// `chown`: it must run as root or be a member of the group.
fn check_group(group: &SocketGroup) -> Result<(), ConfigError> {
    if users::is_root() || users::own_groups().contains(&group.gid) {
        return Ok(());
    }
    let me = users::effective_uid().map_or_else(|| "an unknown user".to_owned(), users::describe_user);
    Err(ConfigError::SocketGroup {
        group: group.name.clone(),
        detail: format!(
            "kura-collector runs as {me}, which is not a member of group {} (gid {}): it cannot hand the socket to that group",
            group.name, group.gid
        ),
    })
}

/// `--metrics-listen` over `[metrics] listen`; off without either.
fn resolve_metrics(flags: &FlagConfig, settings: &Settings) -> Result<Option<MetricsConfig>, ConfigError> {
    let table = settings.file.metrics.as_ref();
    let Some(listen) = flags.metrics_listen.as_ref().or_else(|| table.and_then(|m| m.listen.as_ref())) else {
        return Ok(None);
    };
    let error = |reason: String| ConfigError::MetricsListen { listen: listen.clone(), reason };
    let address = listen
        .to_socket_addrs()
        .map_err(|e| error(format!("{e} (expected HOST:PORT, e.g. 127.0.0.1:9338)")))?
        .next()
        .ok_or_else(|| error("resolves to no address".to_owned()))?;
    let container_labels = table.and_then(|m| m.container_labels).unwrap_or(true);
    Ok(Some(MetricsConfig { listen: address, container_labels }))
}

fn setting(host: &str, key: &str, text: &Option<String>, fallback: Duration) -> Result<Duration, ConfigError> {
    match text {
        Some(text) => Ok(settings::duration(&format!("host {host}: {key}"), text)?),
        None => Ok(fallback),
    }
}

fn resolve_host(host: &HostEntry) -> Result<HostConfig, ConfigError> {
    let name = host.name.clone();
    let tls = match (&host.endpoint, &host.tls_cert_path) {
        (Endpoint::Tls { .. }, Some(dir)) => {
            Some(client_config(dir).map_err(|source| ConfigError::Tls { host: name.clone(), source })?)
        }
        _ => None,
    };
    let own = &host.settings;
    let concurrency = own.concurrency.unwrap_or(defaults::CONCURRENCY);
    if concurrency == 0 || concurrency > 1024 {
        return Err(settings::ConfigError::Range {
            key: format!("host {name}: concurrency"),
            reason: "must be from 1 to 1024",
        }
        .into());
    }
    let api_version = match &own.api_version {
        Some(text) => Some(ApiVersion::parse(text).ok_or_else(|| settings::ConfigError::Range {
            key: format!("host {name}: api_version {text:?}"),
            reason: "must be MAJOR.MINOR, e.g. 1.41",
        })?),
        None => None,
    };
    let snmp = host.snmp.as_ref().map(|snmp| resolve_snmp(&name, snmp)).transpose()?;
    let source = match &own.source {
        Some(text) => Source::parse(text).ok_or_else(|| settings::ConfigError::Range {
            key: format!("host {name}: source {text:?}"),
            reason: "must be api, cgroupfs or auto",
        })?,
        None => defaults::SOURCE,
    };
    let cgroup_root = own.cgroup_root.clone().unwrap_or_else(|| PathBuf::from(crate::stats::cgroup::DEFAULT_ROOT));
    Ok(HostConfig {
        interval: setting(&name, "interval", &own.interval, defaults::INTERVAL)?,
        top_interval: setting(&name, "top_interval", &own.top_interval, defaults::TOP_INTERVAL)?,
        size_interval: setting(&name, "size_interval", &own.size_interval, defaults::SIZE_INTERVAL)?,
        timeout: setting(&name, "timeout", &own.timeout, defaults::TIMEOUT)?,
        name,
        endpoint: host.endpoint.clone(),
        tls,
        concurrency,
        api_version,
        snmp,
        source,
        cgroup_root,
    })
}

fn resolve_snmp(host: &str, snmp: &FileSnmp) -> Result<SnmpConfig, ConfigError> {
    let error = |reason: String| settings::ConfigError::Snmp { host: host.to_owned(), reason };
    let with_port = if snmp.address.contains(':') { snmp.address.clone() } else { format!("{}:161", snmp.address) };
    let address: SocketAddr = with_port
        .to_socket_addrs()
        .map_err(|e| error(format!("address {:?}: {e}", snmp.address)))?
        .next()
        .ok_or_else(|| error(format!("address {:?} resolves to nothing", snmp.address)))?;
    let version = match snmp.version.as_deref() {
        None | Some("2c") | Some("2") => SnmpVersion::V2c,
        Some("1") => SnmpVersion::V1,
        Some(other) => return Err(error(format!("version {other:?}: use 1 or 2c")).into()),
    };
    let timeout = match &snmp.timeout {
        Some(text) => settings::duration(&format!("host {host}: snmp timeout"), text)?,
        None => defaults::SNMP_TIMEOUT,
    };
    Ok(SnmpConfig {
        address,
        version,
        community: snmp.community.clone().unwrap_or_else(|| "public".to_owned()),
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::config::local_host_name;
    use kura_store::endpoint::DEFAULT_SOCKET;
    use std::path::Path;

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
        assert_eq!(config.hosts[0].source, Source::Api);
        assert_eq!(config.retention, defaults::RETENTION);
    }

    #[test]
    fn file_hosts_take_defaults_and_overrides() {
        let config = with_file(
            r#"
            retention = "7d"
            [defaults]
            interval = "30s"
            source = "auto"
            [[host]]
            name = "docker_host1"
            endpoint = "tcp://127.0.0.1:2375"
            [[host]]
            name = "docker_host2"
            endpoint = "unix:///run/docker.sock"
            interval = "5s"
            concurrency = 4
            source = "cgroupfs"
            cgroup_root = "/host/sys/fs/cgroup"
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
        assert_eq!((one.source, one.cgroup_root.as_path()), (Source::Auto, Path::new("/sys/fs/cgroup")));
        assert_eq!((two.source, two.cgroup_root.as_path()), (Source::Cgroupfs, Path::new("/host/sys/fs/cgroup")));
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
        let error = with_file("[[host]]\nname = \"a\"\nendpoint = \"tcp://h\"\nsource = \"files\"\n").unwrap_err();
        assert!(error.to_string().contains("host a: source \"files\": must be api, cgroupfs or auto"), "{error}");
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
    fn forwards_are_checked_and_name_what_is_wrong() {
        let host = "[[host]]\nname = \"h1\"\nendpoint = \"tcp://127.0.0.1:2375\"\n";
        let config = with_file(&format!(
            "{host}[[forward]]\nname = \"hinemos\"\ntarget = \"udp://127.0.0.1\"\nsend = [\"events\", \"states\"]\nseverity = {{ exited = \"crit\" }}\n"
        ))
        .unwrap();
        let [forward] = &config.forwards[..] else { panic!("one forward expected") };
        assert_eq!(forward.target.to_string(), "udp://127.0.0.1:514");
        assert!(forward.events && forward.states && !forward.transitions);
        assert_eq!(forward.hosts, ["h1"]);
        assert_eq!(forward.backlog, crate::forward::DEFAULT_BACKLOG);
        for (table, expected) in [
            ("name = \"f\"\nsend = [\"events\"]\n", "forward \"f\": target"),
            ("name = \"f\"\ntarget = \"udp://h\"\nsend = [\"logs\"]\n", "forward \"f\": send: \"logs\""),
            (
                "name = \"f\"\ntarget = \"udp://h\"\nsend = [\"events\"]\nhosts = [\"h2\"]\n",
                "\"h2\" is not a configured host",
            ),
            (
                "name = \"f\"\ntarget = \"udp://h\"\nsend = [\"events\"]\nseverity = { exited = \"loud\" }\n",
                "forward \"f\": severity",
            ),
            ("name = \"../f\"\ntarget = \"udp://h\"\nsend = [\"events\"]\n", "forward \"../f\": name"),
            ("name = \"f\"\ntarget = \"udp://h\"\nsend = [\"events\"]\nbacklogg = 5\n", "backlogg"),
        ] {
            let error = with_file(&format!("{host}[[forward]]\n{table}")).unwrap_err().to_string();
            assert!(error.contains(expected), "{error} (expected {expected})");
        }
    }

    #[test]
    fn hinemos_runs_in_the_collector_only_with_an_interval_and_a_readable_password() {
        assert!(with_file("[hinemos]\nseparator = \"_\"\n").unwrap().nodes.is_none());
        let error = with_file("[hinemos]\ninterval = \"5m\"\n").unwrap_err();
        assert!(error.to_string().starts_with("[hinemos] interval: needs manager"), "{error}");
        let error = with_file(
            "[hinemos]\nmanager = \"http://127.0.0.1:8080\"\npassword_file = \"/nonexistent\"\ninterval = \"5m\"\n",
        )
        .unwrap_err();
        assert!(error.to_string().starts_with("password file /nonexistent"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("pw");
        std::fs::write(&password, "secret\n").unwrap();
        let config = with_file(&format!(
            "[hinemos]\nmanager = \"http://127.0.0.1:8080\"\npassword_file = \"{}\"\ninterval = \"5m\"\n",
            password.display()
        ))
        .unwrap();
        let nodes = config.nodes.unwrap();
        assert_eq!(nodes.interval, Some(Duration::from_secs(300)));
        assert_eq!(nodes.hosts.len(), 1);
    }

    #[test]
    fn docker_flags_need_a_name() {
        let error = Config::resolve(FlagConfig { docker: vec!["tcp://127.0.0.1:1".into()], ..FlagConfig::default() })
            .unwrap_err();
        assert!(matches!(error, ConfigError::Settings(settings::ConfigError::DockerFlag(_))));
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
