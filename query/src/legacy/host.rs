//! `-i ADDRESS -p PORT`: which of kura's hosts a 2015 command line means.
//!
//! The scripts took the Docker host's address (Hinemos passes the node's
//! `#[IP_ADDRESS]`, and the report's examples a host name such as
//! `docker_host1`). kura answers from its store, where hosts go by the names
//! of the collector's configuration, so `-i` is matched, in this order,
//! against:
//!
//! 1. a configured host's name (`name = "docker_host1"`), ignoring case;
//! 2. the address of a configured `tcp://` or `https://` endpoint, ignoring
//!    case, and its port when `-p` is given;
//! 3. for a loopback address (the scripts' default `127.0.0.1`),
//!    `localhost` or this machine's host name: the configured
//!    `unix://` endpoint, the local daemon;
//! 4. a host stored under that name (a store whose collector ran with a
//!    configuration this call was not given).
//!
//! Names are not resolved through DNS. A host that matches nothing is an
//! error that names the `[[host]]` entry to add; one that is configured but
//! absent from the store is an error too, never an empty answer.

use std::net::IpAddr;
use std::path::Path;

use kura_store::config::{local_host_name, HostEntry, Settings};
use kura_store::endpoint::{Endpoint, DEFAULT_TCP_PORT};

/// Why `-i`/`-p` name no host kura collects.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// Nothing configured or stored matches.
    #[error(
        "-i {ip}{}: kura collects no such host ({config}; hosts: {known}). Add it to the collector's \
         configuration and restart the collector: [[host]] name = \"{ip}\" endpoint = \"tcp://{ip}:{}\"",
        port.map(|p| format!(" -p {p}")).unwrap_or_default(),
        port.unwrap_or(DEFAULT_TCP_PORT)
    )]
    NotConfigured {
        /// `-i` as given.
        ip: String,
        /// `-p` as given.
        port: Option<u16>,
        /// The configuration file read, or that none was.
        config: String,
        /// The hosts configured or stored.
        known: String,
    },
    /// Several configured endpoints have the address.
    #[error("-i {ip}: several configured hosts have this address ({hosts}): choose one with -p PORT or -i NAME")]
    Ambiguous {
        /// `-i` as given.
        ip: String,
        /// The candidates, `name = endpoint`.
        hosts: String,
    },
    /// Configured, but the store has no history of it.
    #[error(
        "host {name} ({endpoint}) is configured, but the store at {store} holds no history of it \
         (it holds: {stored}): is kura-collector running with this configuration?"
    )]
    NotCollected {
        /// The host's name.
        name: String,
        /// Its endpoint.
        endpoint: String,
        /// The data folder.
        store: String,
        /// The hosts the store holds.
        stored: String,
    },
}

/// The stored host `-i ip [-p port]` means. `config` is the file the
/// settings came from (for the message), `stored` the store's host names.
pub fn resolve(
    settings: &Settings,
    config: Option<&Path>,
    stored: &[String],
    ip: &str,
    port: Option<u16>,
) -> Result<String, HostError> {
    let configured = match configured(settings, ip, port)? {
        Some(entry) => entry,
        None => {
            if let Some(name) = stored.iter().find(|name| name.eq_ignore_ascii_case(ip)) {
                return Ok(name.clone());
            }
            let mut known: Vec<String> = settings.hosts.iter().map(describe).collect();
            known.extend(stored.iter().filter(|s| settings.host(s).is_none()).map(|s| format!("{s} (stored)")));
            return Err(HostError::NotConfigured {
                ip: ip.to_owned(),
                port,
                config: describe_config(config),
                known: if known.is_empty() { "none".to_owned() } else { known.join(", ") },
            });
        }
    };
    if stored.contains(&configured.name) {
        return Ok(configured.name.clone());
    }
    Err(HostError::NotCollected {
        name: configured.name.clone(),
        endpoint: configured.endpoint.to_string(),
        store: settings.data_dir.display().to_string(),
        stored: if stored.is_empty() { "nothing".to_owned() } else { stored.join(", ") },
    })
}

/// The configured host `-i ip [-p port]` means (steps 1 to 3), for the
/// commands that talk to Docker or the manager and need no history.
pub fn configured_host<'a>(
    settings: &'a Settings,
    config: Option<&Path>,
    ip: &str,
    port: Option<u16>,
) -> Result<&'a HostEntry, HostError> {
    configured(settings, ip, port)?.ok_or_else(|| HostError::NotConfigured {
        ip: ip.to_owned(),
        port,
        config: describe_config(config),
        known: settings.hosts.iter().map(describe).collect::<Vec<_>>().join(", "),
    })
}

fn describe_config(config: Option<&Path>) -> String {
    match config {
        Some(path) => format!("configuration {}", path.display()),
        None => "no --config given: the local daemon only".to_owned(),
    }
}

/// Steps 1 to 3 of the module's order.
fn configured<'a>(settings: &'a Settings, ip: &str, port: Option<u16>) -> Result<Option<&'a HostEntry>, HostError> {
    if let Some(entry) = settings.hosts.iter().find(|h| h.name.eq_ignore_ascii_case(ip)) {
        return Ok(Some(entry));
    }
    let by_address: Vec<&HostEntry> = settings
        .hosts
        .iter()
        .filter(|h| match &h.endpoint {
            Endpoint::Tcp { host, port: p } | Endpoint::Tls { host, port: p } => {
                same_address(host, ip) && port.is_none_or(|port| port == *p)
            }
            Endpoint::Unix(_) => false,
        })
        .collect();
    let chosen = match by_address.as_slice() {
        [] if is_local(ip) => settings.hosts.iter().filter(|h| matches!(h.endpoint, Endpoint::Unix(_))).collect(),
        _ => by_address,
    };
    match chosen.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(HostError::Ambiguous {
            ip: ip.to_owned(),
            hosts: many.iter().map(|h| describe(h)).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// Two spellings of one address: equal ignoring case, or the same IP
/// (`::1` and `0:0:0:0:0:0:0:1`).
fn same_address(configured: &str, given: &str) -> bool {
    configured.eq_ignore_ascii_case(given)
        || matches!((configured.parse::<IpAddr>(), given.parse::<IpAddr>()), (Ok(a), Ok(b)) if a == b)
}

/// A loopback address, `localhost` or this machine's host name.
fn is_local(ip: &str) -> bool {
    ip.eq_ignore_ascii_case("localhost")
        || ip.parse::<IpAddr>().is_ok_and(|address| address.is_loopback())
        || ip.eq_ignore_ascii_case(&local_host_name())
}

fn describe(entry: &HostEntry) -> String {
    format!("{} = {}", entry.name, entry.endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::config::FlagConfig;

    /// Settings of `NAME=ENDPOINT` hosts, read from a configuration file
    /// (where `https://` hosts can name their certificate folder).
    fn settings(hosts: &[&str]) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("data_dir = \"/var/lib/kura\"\n");
        for host in hosts {
            let (name, endpoint) = host.split_once('=').unwrap();
            text.push_str(&format!("[[host]]\nname = \"{name}\"\nendpoint = \"{endpoint}\"\n"));
            if endpoint.starts_with("https") {
                text.push_str("tls_cert_path = \"/etc/kura/certs\"\n");
            }
        }
        let path = dir.path().join("kura.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(&FlagConfig { config_file: Some(path), ..FlagConfig::default() }).unwrap()
    }

    fn stored(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn a_host_is_found_by_name_by_address_and_port_and_as_the_local_daemon() {
        let s = settings(&[
            "docker_host1=tcp://10.0.200.123:2375",
            "docker_host2=https://10.0.200.204:2376",
            "twin=tcp://10.0.200.204:2375",
            "local=unix:///var/run/docker.sock",
        ]);
        let all = stored(&["docker_host1", "docker_host2", "twin", "local"]);
        let find = |ip: &str, port: Option<u16>| resolve(&s, None, &all, ip, port);
        assert_eq!(find("docker_host1", None).unwrap(), "docker_host1");
        assert_eq!(find("DOCKER_HOST1", Some(1)).unwrap(), "docker_host1", "a name ignores -p");
        assert_eq!(find("10.0.200.123", None).unwrap(), "docker_host1");
        assert_eq!(find("10.0.200.123", Some(2375)).unwrap(), "docker_host1");
        assert_eq!(find("10.0.200.204", Some(2376)).unwrap(), "docker_host2");
        assert_eq!(find("10.0.200.204", Some(2375)).unwrap(), "twin");
        assert!(matches!(find("10.0.200.204", None), Err(HostError::Ambiguous { .. })));
        assert_eq!(find("127.0.0.1", None).unwrap(), "local");
        assert_eq!(find("127.0.0.1", Some(2375)).unwrap(), "local");
        assert_eq!(find("localhost", None).unwrap(), "local");
    }

    #[test]
    fn an_unknown_host_names_the_entry_to_add() {
        let s = settings(&["docker_host1=tcp://10.0.200.123:2375"]);
        let error =
            resolve(&s, Some(Path::new("/etc/kura/collector.toml")), &stored(&["docker_host1"]), "10.0.0.9", None)
                .unwrap_err()
                .to_string();
        assert!(error.contains("configuration /etc/kura/collector.toml"), "{error}");
        assert!(error.contains("docker_host1 = tcp://10.0.200.123:2375"), "{error}");
        assert!(error.contains(r#"[[host]] name = "10.0.0.9" endpoint = "tcp://10.0.0.9:2375""#), "{error}");
        // -p wrong for the only endpoint with the address.
        let error = resolve(&s, None, &stored(&["docker_host1"]), "10.0.200.123", Some(2376)).unwrap_err();
        assert!(error.to_string().contains("tcp://10.0.200.123:2376"), "{error}");
    }

    #[test]
    fn a_configured_host_without_history_is_an_error_and_a_stored_name_is_enough() {
        let s = settings(&["docker_host1=tcp://10.0.200.123:2375"]);
        let error = resolve(&s, None, &stored(&["other"]), "docker_host1", None).unwrap_err();
        assert!(matches!(&error, HostError::NotCollected { name, .. } if name == "docker_host1"), "{error}");
        assert!(error.to_string().contains("it holds: other"), "{error}");
        assert_eq!(resolve(&s, None, &stored(&["other"]), "other", None).unwrap(), "other");
    }
}
