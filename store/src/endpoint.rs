//! Docker endpoints as operators write them: `unix:///var/run/docker.sock`,
//! `tcp://HOST:2375`, `https://HOST:2376` (TLS, with a certificate folder
//! laid out like `DOCKER_CERT_PATH`: `ca.pem`, `cert.pem`, `key.pem`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The port `tcp://HOST` means when it names none (Docker's plain-HTTP port).
pub const DEFAULT_TCP_PORT: u16 = 2375;
/// The port `https://HOST` means when it names none (Docker's TLS port).
pub const DEFAULT_TLS_PORT: u16 = 2376;
/// The local daemon's socket.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Where a Docker daemon listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket path.
    Unix(PathBuf),
    /// Plain HTTP over TCP.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// HTTPS over TCP; the certificate folder is configured beside it.
    Tls {
        /// Host name or address (also the name checked in the server's certificate).
        host: String,
        /// Port.
        port: u16,
    },
}

/// Why an endpoint string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    /// The scheme is not `unix`, `tcp` or `https`.
    #[error("endpoint {0:?}: unknown scheme (use unix:///path, tcp://host:port or https://host:port)")]
    UnknownScheme(String),
    /// Nothing after the scheme.
    #[error("endpoint {0:?}: no host or socket path")]
    Empty(String),
    /// The port is not a number from 1 to 65535.
    #[error("endpoint {0:?}: bad port")]
    BadPort(String),
    /// A path, query or user part where only `host:port` belongs.
    #[error("endpoint {0:?}: only host:port may follow the scheme")]
    Extra(String),
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    /// Parses an endpoint. A trailing `/` is ignored; `tcp://host` and
    /// `https://host` without a port mean 2375 and 2376.
    fn from_str(text: &str) -> Result<Endpoint, EndpointError> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| EndpointError::UnknownScheme(text.to_owned()))?;
        match scheme {
            "unix" => {
                let path = if rest.len() > 1 { rest.trim_end_matches('/') } else { rest };
                if path.is_empty() {
                    return Err(EndpointError::Empty(text.to_owned()));
                }
                Ok(Endpoint::Unix(PathBuf::from(path)))
            }
            "tcp" | "http" => {
                let (host, port) = host_port(text, rest, DEFAULT_TCP_PORT)?;
                Ok(Endpoint::Tcp { host, port })
            }
            "https" => {
                let (host, port) = host_port(text, rest, DEFAULT_TLS_PORT)?;
                Ok(Endpoint::Tls { host, port })
            }
            _ => Err(EndpointError::UnknownScheme(text.to_owned())),
        }
    }
}

fn host_port(text: &str, rest: &str, default_port: u16) -> Result<(String, u16), EndpointError> {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Err(EndpointError::Empty(text.to_owned()));
    }
    if rest.contains(['/', '?', '#', '@']) {
        return Err(EndpointError::Extra(text.to_owned()));
    }
    // `[::1]:2375` keeps its brackets off the host; `host:port` splits at the last colon.
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(|| EndpointError::Extra(text.to_owned()))?;
        (host, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(EndpointError::Empty(text.to_owned()));
    }
    let port = match port {
        None => default_port,
        Some(port) => {
            port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| EndpointError::BadPort(text.to_owned()))?
        }
    };
    Ok((host.to_owned(), port))
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Tls { host, port } if host.contains(':') => write!(f, "https://[{host}]:{port}"),
            Endpoint::Tls { host, port } => write!(f, "https://{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Endpoint, EndpointError> {
        text.parse()
    }

    #[test]
    fn documented_forms_parse() {
        assert_eq!(parse("unix:///var/run/docker.sock").unwrap(), Endpoint::Unix(DEFAULT_SOCKET.into()));
        assert_eq!(parse("unix:///run/d.sock/").unwrap(), Endpoint::Unix("/run/d.sock".into()));
        assert_eq!(parse("tcp://127.0.0.1:2375").unwrap(), Endpoint::Tcp { host: "127.0.0.1".into(), port: 2375 });
        assert_eq!(parse("tcp://docker1/").unwrap(), Endpoint::Tcp { host: "docker1".into(), port: DEFAULT_TCP_PORT });
        assert_eq!(parse("https://docker1").unwrap(), Endpoint::Tls { host: "docker1".into(), port: DEFAULT_TLS_PORT });
        assert_eq!(parse("tcp://[::1]:1").unwrap(), Endpoint::Tcp { host: "::1".into(), port: 1 });
    }

    #[test]
    fn bad_forms_say_what_is_wrong() {
        assert_eq!(parse("ssh://host"), Err(EndpointError::UnknownScheme("ssh://host".into())));
        assert_eq!(parse("/var/run/docker.sock"), Err(EndpointError::UnknownScheme("/var/run/docker.sock".into())));
        assert_eq!(parse("tcp://"), Err(EndpointError::Empty("tcp://".into())));
        assert_eq!(parse("tcp://h:0"), Err(EndpointError::BadPort("tcp://h:0".into())));
        assert_eq!(parse("tcp://h:99999"), Err(EndpointError::BadPort("tcp://h:99999".into())));
        assert_eq!(parse("tcp://h:2375/v1.41"), Err(EndpointError::Extra("tcp://h:2375/v1.41".into())));
        assert_eq!(parse("unix://"), Err(EndpointError::Empty("unix://".into())));
    }

    #[test]
    fn display_round_trips() {
        for text in ["unix:///var/run/docker.sock", "tcp://127.0.0.1:1", "https://h:2376", "tcp://[::1]:5"] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
    }
}
