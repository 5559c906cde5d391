//! `[hinemos]` and `[host.hinemos]` of the shared configuration
//! ([`kura_store::config`]), checked, with the command line's overrides:
//! where the manager is, how to log in, how nodes are named, and each
//! host's node (facility id and address).

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use kura_store::config::{self as shared, FileHinemos, Settings};
use kura_store::endpoint::Endpoint;

use crate::desired::Naming;
use crate::facility::{check_id, is_id_char};
use crate::hinemos::{api_base, ManagerConfig};
use crate::plan::Options;
use crate::select::Selection;

/// The login when none is configured (Hinemos' default administrator).
pub const DEFAULT_USER: &str = "hinemos";
/// The owner role of what kura adds when none is configured.
pub const DEFAULT_OWNER_ROLE: &str = "ALL_USERS";
/// Between host and container in facility ids (every example of the 2015 report).
pub const DEFAULT_SEPARATOR: &str = "-";
/// Per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A setting that cannot be used; each names the setting or the file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The shared configuration.
    #[error(transparent)]
    Config(#[from] shared::ConfigError),
    /// A setting's value.
    #[error("{key}: {reason}")]
    Value {
        /// The setting (`[hinemos] separator`, `--hinemos`).
        key: String,
        /// Why.
        reason: String,
    },
    /// The password file.
    #[error("password file {path}: {reason}")]
    Password {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What the command line says over the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--hinemos URL`.
    pub manager: Option<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--password-file`.
    pub password_file: Option<PathBuf>,
    /// `--facility-id` (with one host).
    pub facility_id: Option<String>,
    /// `--ip` (with one host).
    pub ip_address: Option<String>,
    /// `--delete`.
    pub delete: bool,
    /// `--adopt`.
    pub adopt: bool,
    /// `--unassign`.
    pub unassign: bool,
    /// `-n NAME`.
    pub name: Option<String>,
}

/// Where a manager is and how to log in (the password is read at each run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerSettings {
    /// The API base.
    pub api: String,
    /// The login.
    pub user: String,
    /// The file holding the password.
    pub password_file: PathBuf,
    /// Certificates to trust for `https://`.
    pub ca_file: Option<PathBuf>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl ManagerSettings {
    /// The client's configuration, with the password read from its file now.
    pub fn client_config(&self) -> Result<ManagerConfig, SettingsError> {
        let ca_pem = self
            .ca_file
            .as_ref()
            .map(|path| {
                std::fs::read(path).map_err(|e| SettingsError::Value {
                    key: "[hinemos] ca_file".to_owned(),
                    reason: format!("{}: {e}", path.display()),
                })
            })
            .transpose()?;
        Ok(ManagerConfig {
            api: self.api.clone(),
            user: self.user.clone(),
            password: read_password(&self.password_file)?,
            timeout: self.timeout,
            ca_pem,
        })
    }
}

/// The first line of a password file (without its line end). Empty, or
/// unreadable, is an error naming the file.
pub fn read_password(path: &Path) -> Result<String, SettingsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SettingsError::Password { path: path.to_owned(), reason: e.to_string() })?;
    let line = text.lines().next().unwrap_or_default().trim_end_matches('\r');
    if line.is_empty() {
        return Err(SettingsError::Password { path: path.to_owned(), reason: "its first line is empty".to_owned() });
    }
    Ok(line.to_owned())
}

/// A Docker host as its node appears in Hinemos.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostTarget {
    /// The name the store knows it by.
    pub name: String,
    /// Its node's facility id (checked).
    pub facility_id: String,
    /// The address of its node and its containers' nodes.
    pub address: IpAddr,
}

/// Everything a run needs besides the store.
#[derive(Clone, Debug)]
pub struct NodesSettings {
    /// The manager; `None`: only the desired state can be shown.
    pub manager: Option<ManagerSettings>,
    /// How nodes are named.
    pub naming: Naming,
    /// What a run may do.
    pub options: Options,
    /// The configured hosts (all of the file's, or the local one).
    pub hosts: Vec<HostTarget>,
    /// How often the collector keeps the repository in step; `None`: it does not.
    pub interval: Option<Duration>,
    /// Where the store lives.
    pub data_dir: PathBuf,
}

impl NodesSettings {
    /// Checks the shared settings' `[hinemos]` with the overrides over it.
    pub fn resolve(settings: &Settings, overrides: &Overrides) -> Result<NodesSettings, SettingsError> {
        let file = settings.file.hinemos.clone().unwrap_or_default();
        let manager = manager(&file, overrides)?;
        let separator = file.separator.clone().unwrap_or_else(|| DEFAULT_SEPARATOR.to_owned());
        if let Some(c) = separator.chars().find(|c| !is_id_char(*c)) {
            return Err(value(
                "[hinemos] separator",
                format!("{separator:?} holds {c:?}; use letters, digits, '-', '_', '.' or '@'"),
            ));
        }
        let owner_role = file.owner_role.clone().unwrap_or_else(|| DEFAULT_OWNER_ROLE.to_owned());
        check_id(&owner_role).map_err(|e| value("[hinemos] owner_role", e.to_string()))?;
        let interval = file.interval.as_deref().map(|text| shared::duration("[hinemos] interval", text)).transpose()?;
        let selection = Selection::parse(overrides.name.as_deref()).map_err(|reason| value("-n", reason))?;
        let options = Options {
            delete: overrides.delete || file.delete.unwrap_or(false),
            adopt: overrides.adopt || file.adopt.unwrap_or(false),
            unassign: overrides.unassign || file.unassign.unwrap_or(false),
            selection,
        };
        let hosts = settings.hosts.iter().map(host_target).collect::<Result<Vec<_>, _>>()?;
        Ok(NodesSettings {
            manager,
            naming: Naming { separator, owner_role },
            options,
            hosts,
            interval,
            data_dir: settings.data_dir.clone(),
        })
    }

    /// The target of a host the store knows by `name`: the configured one,
    /// else named after it at 127.0.0.1; `--facility-id` and `--ip` override.
    pub fn target(&self, name: &str, overrides: &Overrides) -> Result<HostTarget, SettingsError> {
        let mut target = match self.hosts.iter().find(|h| h.name == name) {
            Some(target) => target.clone(),
            None => HostTarget {
                name: name.to_owned(),
                facility_id: name.to_owned(),
                address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            },
        };
        if let Some(id) = &overrides.facility_id {
            target.facility_id = id.clone();
        }
        if let Some(ip) = &overrides.ip_address {
            target.address = address("--ip", ip)?;
        }
        check_id(&target.facility_id).map_err(|e| value(&format!("host {name}: facility id"), e.to_string()))?;
        Ok(target)
    }
}

fn value(key: &str, reason: String) -> SettingsError {
    SettingsError::Value { key: key.to_owned(), reason }
}

fn manager(file: &FileHinemos, overrides: &Overrides) -> Result<Option<ManagerSettings>, SettingsError> {
    let (key, url) = match (&overrides.manager, &file.manager) {
        (Some(url), _) => ("--hinemos", url),
        (None, Some(url)) => ("[hinemos] manager", url),
        (None, None) => return Ok(None),
    };
    let api = api_base(url).map_err(|reason| value(key, reason))?;
    let password_file = overrides.password_file.clone().or_else(|| file.password_file.clone()).ok_or_else(|| {
        value(key, "the manager needs --password-file FILE (or password_file in [hinemos])".to_owned())
    })?;
    let timeout = match &file.timeout {
        Some(text) => shared::duration("[hinemos] timeout", text)?,
        None => DEFAULT_TIMEOUT,
    };
    Ok(Some(ManagerSettings {
        api,
        user: overrides.user.clone().or_else(|| file.user.clone()).unwrap_or_else(|| DEFAULT_USER.to_owned()),
        password_file,
        ca_file: file.ca_file.clone(),
        timeout,
    }))
}

fn host_target(host: &shared::HostEntry) -> Result<HostTarget, SettingsError> {
    let own = host.hinemos.clone().unwrap_or_default();
    let facility_id = own.facility_id.unwrap_or_else(|| host.name.clone());
    check_id(&facility_id).map_err(|e| value(&format!("host {}: hinemos facility_id", host.name), e.to_string()))?;
    let key = format!("host {}: hinemos ip_address", host.name);
    let address = match (&own.ip_address, &host.endpoint) {
        (Some(ip), _) => address(&key, ip)?,
        (None, Endpoint::Unix(_)) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        (None, Endpoint::Tcp { host: name, port } | Endpoint::Tls { host: name, port }) => resolve(&key, name, *port)?,
    };
    Ok(HostTarget { name: host.name.clone(), facility_id, address })
}

fn address(key: &str, text: &str) -> Result<IpAddr, SettingsError> {
    text.parse().map_err(|e| value(key, format!("{text:?}: {e}")))
}

/// An endpoint's host as an address: as written, else resolved (IPv4 first).
fn resolve(key: &str, name: &str, port: u16) -> Result<IpAddr, SettingsError> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse() {
        return Ok(ip);
    }
    let found: Vec<IpAddr> = (name, port)
        .to_socket_addrs()
        .map_err(|e| value(key, format!("{name} does not resolve ({e}); set ip_address in [host.hinemos]")))?
        .map(|a| a.ip())
        .collect();
    found
        .iter()
        .find(|ip| ip.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| value(key, format!("{name} resolves to nothing; set ip_address in [host.hinemos]")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::config::FlagConfig;

    fn load(text: &str) -> Result<NodesSettings, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kura.toml");
        std::fs::write(&path, text).unwrap();
        let settings = Settings::load(&FlagConfig { config_file: Some(path), ..FlagConfig::default() })?;
        NodesSettings::resolve(&settings, &Overrides::default())
    }

    #[test]
    fn the_hinemos_table_and_each_hosts_node() {
        let settings = load(
            r#"
            [hinemos]
            manager = "http://127.0.0.1:8080"
            password_file = "/etc/kura/hinemos.password"
            interval = "5m"
            separator = "_"
            delete = true
            [[host]]
            name = "docker_host1"
            endpoint = "tcp://192.0.2.10:2375"
            [[host]]
            name = "docker_host2"
            endpoint = "unix:///var/run/docker.sock"
            [host.hinemos]
            facility_id = "dh2"
            ip_address = "192.0.2.20"
            "#,
        )
        .unwrap();
        let manager = settings.manager.unwrap();
        assert_eq!(manager.api, "http://127.0.0.1:8080/HinemosWeb/api");
        assert_eq!(manager.user, DEFAULT_USER);
        assert_eq!(manager.timeout, DEFAULT_TIMEOUT);
        assert_eq!(settings.interval, Some(Duration::from_secs(300)));
        assert_eq!(settings.naming.separator, "_");
        assert_eq!(settings.naming.owner_role, DEFAULT_OWNER_ROLE);
        assert!(settings.options.delete && !settings.options.adopt);
        let hosts: Vec<(&str, &str, String)> =
            settings.hosts.iter().map(|h| (h.name.as_str(), h.facility_id.as_str(), h.address.to_string())).collect();
        assert_eq!(
            hosts,
            [
                ("docker_host1", "docker_host1", "192.0.2.10".to_owned()),
                ("docker_host2", "dh2", "192.0.2.20".to_owned())
            ]
        );
    }

    #[test]
    fn unusable_settings_name_the_setting() {
        let error = load("[hinemos]\nmanager = \"http://m\"\n").unwrap_err();
        assert!(error.to_string().contains("--password-file"), "{error}");
        let error = load("[hinemos]\nseparator = \"/\"\n").unwrap_err();
        assert!(error.to_string().starts_with("[hinemos] separator"), "{error}");
        let error = load("[hinemos]\nmanager = \"mgr\"\npassword_file = \"p\"\n").unwrap_err();
        assert!(error.to_string().starts_with("[hinemos] manager"), "{error}");
        let error = load("[hinemos]\npassword = \"secret\"\n").unwrap_err();
        assert!(error.to_string().contains("password"), "{error}");
        let error =
            load("[[host]]\nname = \"a\"\nendpoint = \"tcp://h:1\"\n[host.hinemos]\nip_address = \"x\"\n").unwrap_err();
        assert!(error.to_string().starts_with("host a: hinemos ip_address"), "{error}");
    }

    #[test]
    fn the_password_is_the_first_line_of_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        std::fs::write(&path, "s3cret\r\nignored\n").unwrap();
        assert_eq!(read_password(&path).unwrap(), "s3cret");
        std::fs::write(&path, "\n").unwrap();
        assert!(read_password(&path).unwrap_err().to_string().contains("empty"));
        assert!(read_password(&dir.path().join("none")).unwrap_err().to_string().starts_with("password file"));
    }
}
