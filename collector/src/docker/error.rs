//! What can go wrong talking to a Docker endpoint, sorted by what happens next.

use std::time::Duration;

use kura_store::endpoint::Endpoint;

/// A failed request to a Docker endpoint. Every variant names the endpoint,
/// and the path where one was involved.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The connection was refused, the socket is missing, the host unknown.
    #[error("cannot connect to Docker at {endpoint}: {reason}")]
    Connect {
        /// The endpoint.
        endpoint: Endpoint,
        /// The system's reason.
        reason: String,
    },
    /// The whole request (connect, headers, body) took longer than allowed.
    #[error("Docker at {endpoint}: GET {path} timed out after {after:?}")]
    Timeout {
        /// The endpoint.
        endpoint: Endpoint,
        /// The request path.
        path: String,
        /// The timeout that fired.
        after: Duration,
    },
    /// The daemon answered with an HTTP error status.
    #[error("Docker at {endpoint}: GET {path} answered {status}: {message}")]
    Status {
        /// The endpoint.
        endpoint: Endpoint,
        /// The request path.
        path: String,
        /// The HTTP status code.
        status: u16,
        /// The daemon's message.
        message: String,
    },
    /// The HTTP exchange failed (malformed response, connection reset).
    #[error("Docker at {endpoint}: GET {path} failed: {reason}")]
    Http {
        /// The endpoint.
        endpoint: Endpoint,
        /// The request path.
        path: String,
        /// hyper's reason.
        reason: String,
    },
    /// The body was cut or too large.
    #[error("Docker at {endpoint}: GET {path}: body unreadable: {reason}")]
    Body {
        /// The endpoint.
        endpoint: Endpoint,
        /// The request path.
        path: String,
        /// The reason.
        reason: String,
    },
    /// The body was read but is not what the API documents.
    #[error("Docker at {endpoint}: GET {path}: unexpected answer: {reason}")]
    Garbage {
        /// The endpoint.
        endpoint: Endpoint,
        /// The request path.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The TLS handshake or server-name check failed.
    #[error("Docker at {endpoint}: TLS: {reason}")]
    Tls {
        /// The endpoint.
        endpoint: Endpoint,
        /// rustls' reason (unknown CA, expired, name mismatch...).
        reason: String,
    },
    /// The configured `api_version` is one the daemon does not speak.
    #[error(
        "Docker at {endpoint} speaks API {speaks}, not the configured api_version {pinned} (remove it to negotiate)"
    )]
    ApiVersion {
        /// The endpoint.
        endpoint: Endpoint,
        /// The configured version.
        pinned: super::ApiVersion,
        /// The daemon's range, e.g. `1.12 to 1.41`.
        speaks: String,
    },
    /// An `https://` endpoint without a certificate folder.
    #[error("Docker at {endpoint}: https needs a certificate folder (tls_cert_path)")]
    TlsMissing {
        /// The endpoint.
        endpoint: Endpoint,
    },
}

impl DockerError {
    /// Whether the error means "that container is gone or not running"
    /// (404 or 409 between the list and a per-container request): normal,
    /// not a fault.
    pub fn is_gone(&self) -> bool {
        matches!(self, DockerError::Status { status: 404 | 409, .. })
    }

    /// A short reason for a "down" sweep record: `refused`, `timeout`,
    /// `http 500`, ...
    pub fn short_reason(&self) -> String {
        match self {
            DockerError::Connect { reason, .. } => format!("connect: {reason}"),
            DockerError::Timeout { after, .. } => format!("timeout after {after:?}"),
            DockerError::Status { status, .. } => format!("http {status}"),
            DockerError::Http { reason, .. } => format!("http: {reason}"),
            DockerError::Body { reason, .. } => format!("body: {reason}"),
            DockerError::Garbage { reason, .. } => format!("garbage: {reason}"),
            DockerError::Tls { reason, .. } => format!("tls: {reason}"),
            DockerError::TlsMissing { .. } => "tls: no certificate folder".to_owned(),
            DockerError::ApiVersion { pinned, speaks, .. } => {
                format!("api_version {pinned} unsupported (the daemon speaks {speaks})")
            }
        }
    }
}
