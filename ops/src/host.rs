//! Which Docker host an operation acts on, and the bollard client for it.
//!
//! The host comes from kura's shared configuration, so an operation names a
//! host exactly as the collector and `kura` do: `--config FILE` with
//! `--host NAME` (or the file's only host), or `--docker ENDPOINT`, else
//! `DOCKER_HOST` (with `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` as the
//! docker CLI reads them), else the local socket.

use std::future::Future;
use std::time::Duration;

use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};
use kura_store::config::{self, ConfigError, FlagConfig, HostEntry, Settings, DEFAULT_TIMEOUT};
use kura_store::endpoint::Endpoint;

use crate::cli::HostArgs;
use crate::error::{docker_reason, OpsError};

/// How long a state change may take to answer (start, remove; stop and
/// restart add their `-t`): the daemon answers when it is done.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(300);

/// The configured host the arguments name.
pub fn entry(args: &HostArgs) -> Result<HostEntry, OpsError> {
    let named_elsewhere = args.config.is_some() || args.host.is_some();
    let docker = args.docker.clone().or_else(|| if named_elsewhere { None } else { docker_host_env() });
    let flags = FlagConfig {
        config_file: args.config.clone(),
        docker: docker.map(|endpoint| named(&endpoint)).into_iter().collect(),
        ..FlagConfig::default()
    };
    let settings = Settings::load(&flags)?;
    let names = || settings.hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ");
    match &args.host {
        Some(name) => {
            settings.host(name).cloned().ok_or_else(|| OpsError::UnknownHost { name: name.clone(), known: names() })
        }
        None => match settings.hosts.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(OpsError::WhichHost(names())),
        },
    }
}

/// `DOCKER_HOST` as the docker CLI reads it: `tcp://` with
/// `DOCKER_TLS_VERIFY` set means TLS.
fn docker_host_env() -> Option<String> {
    let host = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty())?;
    let verify = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty());
    match host.strip_prefix("tcp://") {
        Some(rest) if verify => Some(format!("https://{rest}")),
        _ => Some(host),
    }
}

/// `--docker ENDPOINT` as the configuration's `NAME=ENDPOINT`: named after
/// the endpoint's host (this machine for a unix socket) unless it names
/// itself.
fn named(endpoint: &str) -> String {
    if endpoint.contains('=') {
        return endpoint.to_owned();
    }
    let name = match endpoint.parse::<Endpoint>() {
        Ok(Endpoint::Unix(_)) => config::local_host_name(),
        Ok(Endpoint::Tcp { host, .. } | Endpoint::Tls { host, .. }) => host
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
            .collect(),
        // The configuration reports the endpoint's fault, naming it.
        Err(_) => "docker".to_owned(),
    };
    format!("{name}={endpoint}")
}

/// A reachable Docker host.
#[derive(Clone, Debug)]
pub struct Host {
    /// Its name in the configuration.
    pub name: String,
    /// Where its daemon listens.
    pub endpoint: Endpoint,
    /// The client, speaking the negotiated (or configured) API version.
    pub docker: Docker,
    /// The host's per-request timeout: reaching the daemon and each quick
    /// request (the list, exec set-up) must answer within it.
    pub timeout: Duration,
}

impl Host {
    /// Connects to the host of `entry` and settles the API version (the
    /// configured `api_version`, else the daemon's newest up to bollard's),
    /// within the host's timeout.
    pub async fn connect(entry: &HostEntry) -> Result<Host, OpsError> {
        let timeout = match &entry.settings.timeout {
            Some(text) => config::duration(&format!("host {}: timeout", entry.name), text)?,
            None => DEFAULT_TIMEOUT,
        };
        let pinned = entry.settings.api_version.as_deref().map(|text| api_version(&entry.name, text)).transpose()?;
        let version = pinned.unwrap_or(*API_DEFAULT_VERSION);
        let unreachable = |e: bollard::errors::Error| OpsError::Unreachable {
            host: entry.name.clone(),
            endpoint: entry.endpoint.clone(),
            reason: docker_reason(&e),
        };
        let seconds = OPERATION_TIMEOUT.as_secs();
        let docker = match &entry.endpoint {
            Endpoint::Unix(path) => {
                Docker::connect_with_unix(&path.to_string_lossy(), seconds, &version).map_err(unreachable)?
            }
            Endpoint::Tcp { .. } => {
                Docker::connect_with_http(&entry.endpoint.to_string(), seconds, &version).map_err(unreachable)?
            }
            Endpoint::Tls { .. } => {
                // The configuration refuses https:// without a folder.
                let dir = entry.tls_cert_path.clone().unwrap_or_default();
                let (key, cert, ca) = (dir.join("key.pem"), dir.join("cert.pem"), dir.join("ca.pem"));
                Docker::connect_with_ssl(&entry.endpoint.to_string(), &key, &cert, &ca, seconds, &version).map_err(
                    |e| OpsError::Tls { host: entry.name.clone(), dir: dir.clone(), reason: docker_reason(&e) },
                )?
            }
        };
        let mut host = Host { name: entry.name.clone(), endpoint: entry.endpoint.clone(), docker, timeout };
        if pinned.is_none() {
            let negotiated = host.within_timeout(host.docker.clone().negotiate_version()).await?;
            host.docker = negotiated.map_err(unreachable)?;
        }
        Ok(host)
    }

    /// `request`, which must answer within the host's timeout.
    pub async fn within_timeout<T>(&self, request: impl Future<Output = T>) -> Result<T, OpsError> {
        tokio::time::timeout(self.timeout, request).await.map_err(|_| OpsError::Timeout {
            host: self.name.clone(),
            endpoint: self.endpoint.clone(),
            after: self.timeout,
        })
    }

    /// A failed request that every container needs, naming the host.
    pub fn refused(&self, what: &'static str, error: &bollard::errors::Error) -> OpsError {
        OpsError::Docker {
            host: self.name.clone(),
            endpoint: self.endpoint.clone(),
            what,
            reason: docker_reason(error),
        }
    }
}

/// A configured `api_version`, e.g. `1.41`.
fn api_version(host: &str, text: &str) -> Result<ClientVersion, ConfigError> {
    let parsed =
        text.trim().split_once('.').and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)));
    let (major_version, minor_version) = parsed.ok_or_else(|| ConfigError::Range {
        key: format!("host {host}: api_version {text:?}"),
        reason: "must be MAJOR.MINOR, e.g. 1.41",
    })?;
    Ok(ClientVersion { major_version, minor_version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_endpoint_is_named_after_its_host() {
        assert_eq!(named("tcp://10.0.0.5:2375"), "10.0.0.5=tcp://10.0.0.5:2375");
        assert_eq!(named("https://[::1]:2376"), "--1=https://[::1]:2376");
        assert_eq!(named("h1=tcp://10.0.0.5"), "h1=tcp://10.0.0.5");
        assert_eq!(named("unix:///run/d.sock"), format!("{}=unix:///run/d.sock", config::local_host_name()));
        assert_eq!(named("ssh://x"), "docker=ssh://x");
    }

    #[test]
    fn api_versions_are_major_dot_minor() {
        let v = api_version("h", "1.41").unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        assert!(api_version("h", "latest").unwrap_err().to_string().contains("host h: api_version"));
    }
}
