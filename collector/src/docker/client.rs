//! A read-only HTTP/1.1 client for one Docker endpoint.
//!
//! kura only ever reads from Docker, so this client only sends `GET`. Each
//! request opens its own connection (a unix socket or TCP connect is cheap
//! next to the daemon's 1 s stats tick) and is bounded as a whole by the
//! client's timeout: connect, headers *and* body, so a daemon that stalls
//! mid-body cannot hold a sweep. Bodies are returned as raw bytes, so the
//! stats hot path parses them into kura's model directly (see `stats`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

use super::error::DockerError;
use crate::api::{self, Version};
use kura_store::endpoint::Endpoint;

/// The newest API version kura speaks: everything it reads exists in 1.41
/// (Docker 20.10), including one-shot stats.
pub const MAX_API: ApiVersion = ApiVersion { major: 1, minor: 41 };
/// The first API version with `one-shot=true` stats.
pub const ONE_SHOT_API: ApiVersion = ApiVersion { major: 1, minor: 41 };
/// The largest body kura accepts; a larger one is refused as garbage.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// A Docker API version, e.g. 1.41.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    /// Major part (1).
    pub major: u16,
    /// Minor part.
    pub minor: u16,
}

impl ApiVersion {
    /// Parses `1.41`.
    pub fn parse(text: &str) -> Option<ApiVersion> {
        let (major, minor) = text.trim().split_once('.')?;
        Some(ApiVersion { major: major.parse().ok()?, minor: minor.parse().ok()? })
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Chooses the version to speak with a daemon that reports `daemon` as its
/// newest and `minimum` as its oldest: kura's newest when the daemon has it,
/// else the daemon's (older daemons), never below the daemon's minimum.
pub fn negotiate(daemon: ApiVersion, minimum: Option<ApiVersion>) -> ApiVersion {
    let chosen = daemon.min(MAX_API);
    match minimum {
        Some(minimum) if minimum > chosen => minimum,
        _ => chosen,
    }
}

/// A read-only client for one endpoint.
#[derive(Clone)]
pub struct DockerClient {
    endpoint: Endpoint,
    tls: Option<Arc<ClientConfig>>,
    timeout: Duration,
    api: Option<ApiVersion>,
    pinned: Option<ApiVersion>,
}

/// Aborts a connection's driver task when the request is done or dropped
/// (for instance by a timeout), so no task outlives its request.
struct ConnectionGuard(JoinHandle<()>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl DockerClient {
    /// A client for `endpoint` whose requests each take at most `timeout`.
    /// `tls` is required for (and only used with) `https://` endpoints.
    pub fn new(
        endpoint: Endpoint,
        tls: Option<Arc<ClientConfig>>,
        timeout: Duration,
    ) -> Result<DockerClient, DockerError> {
        if matches!(endpoint, Endpoint::Tls { .. }) && tls.is_none() {
            return Err(DockerError::TlsMissing { endpoint });
        }
        Ok(DockerClient { endpoint, tls, timeout, api: None, pinned: None })
    }

    /// Speaks `version` (when `Some`) instead of negotiating: the daemon
    /// must support it, or [`DockerClient::negotiate`] fails saying so.
    pub fn pin_api_version(mut self, version: Option<ApiVersion>) -> DockerClient {
        self.pinned = version;
        self
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The negotiated API version, once [`DockerClient::negotiate`] succeeded.
    pub fn api_version(&self) -> Option<ApiVersion> {
        self.api
    }

    /// Whether stats may be asked with `one-shot=true` (API 1.41+).
    pub fn has_one_shot(&self) -> bool {
        self.api.is_some_and(|v| v >= ONE_SHOT_API)
    }

    /// Asks the daemon's versions (`GET /version`, unversioned) and settles
    /// the API version to speak; later requests are prefixed with it. A
    /// pinned version the daemon does not speak is an error naming both.
    pub async fn negotiate(&mut self) -> Result<Version, DockerError> {
        let body = self.get_unversioned("/version").await?;
        let version: Version = api::parse("version", &body).map_err(|e| self.garbage("/version", e))?;
        let daemon = ApiVersion::parse(&version.api_version).ok_or_else(|| DockerError::Garbage {
            endpoint: self.endpoint.clone(),
            path: "/version".into(),
            reason: format!("ApiVersion {:?} is not MAJOR.MINOR", version.api_version),
        })?;
        let minimum = version.min_api_version.as_deref().and_then(ApiVersion::parse);
        self.api = Some(match self.pinned {
            Some(pinned) if pinned > daemon || minimum.is_some_and(|oldest| pinned < oldest) => {
                let speaks = match minimum {
                    Some(oldest) => format!("{oldest} to {daemon}"),
                    None => format!("up to {daemon}"),
                };
                return Err(DockerError::ApiVersion { endpoint: self.endpoint.clone(), pinned, speaks });
            }
            Some(pinned) => pinned,
            None => negotiate(daemon, minimum),
        });
        Ok(version)
    }

    /// `GET /_ping`: the daemon's answer must be `OK`. Returns the latency.
    pub async fn ping(&self) -> Result<Duration, DockerError> {
        let started = Instant::now();
        let body = self.get_unversioned("/_ping").await?;
        if body.as_ref() != b"OK" {
            return Err(DockerError::Garbage {
                endpoint: self.endpoint.clone(),
                path: "/_ping".into(),
                reason: format!("answered {:?} instead of OK", String::from_utf8_lossy(&body)),
            });
        }
        Ok(started.elapsed())
    }

    /// `GET` of an API path (e.g. `/containers/json?all=1`), prefixed with
    /// the negotiated version; the whole body within the timeout.
    pub async fn get(&self, path: &str) -> Result<Bytes, DockerError> {
        self.get_within(path, self.timeout).await
    }

    /// [`DockerClient::get`] with a timeout of its own (a request known to
    /// be slow, such as the list with sizes).
    pub async fn get_within(&self, path: &str, timeout: Duration) -> Result<Bytes, DockerError> {
        let versioned = self.versioned(path);
        self.exchange(&versioned, timeout).await
    }

    /// `GET` of an exact path, without a version prefix.
    pub async fn get_unversioned(&self, path: &str) -> Result<Bytes, DockerError> {
        self.exchange(path, self.timeout).await
    }

    /// The timeout of a request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn exchange(&self, path: &str, timeout: Duration) -> Result<Bytes, DockerError> {
        let request = async {
            let (response, _guard) = self.send(path).await?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| DockerError::Body {
                    endpoint: self.endpoint.clone(),
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?
                .to_bytes();
            if status.is_success() {
                Ok(body)
            } else {
                Err(self.status_error(path, status, &body))
            }
        };
        tokio::time::timeout(timeout, request).await.map_err(|_| DockerError::Timeout {
            endpoint: self.endpoint.clone(),
            path: path.to_owned(),
            after: timeout,
        })?
    }

    /// Opens a long-lived stream (e.g. `/events?since=...`): the headers must
    /// arrive within the timeout; the body is read line by line, without one.
    pub async fn stream(&self, path: &str) -> Result<LineStream, DockerError> {
        let versioned = self.versioned(path);
        let opened = tokio::time::timeout(self.timeout, self.send(&versioned)).await.map_err(|_| {
            DockerError::Timeout { endpoint: self.endpoint.clone(), path: versioned.clone(), after: self.timeout }
        })??;
        let (response, guard) = opened;
        let status = response.status();
        if !status.is_success() {
            let body =
                Limited::new(response.into_body(), 64 * 1024).collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            return Err(self.status_error(&versioned, status, &body));
        }
        Ok(LineStream {
            body: response.into_body(),
            buffer: Vec::new(),
            skipping: false,
            skipped: 0,
            _guard: guard,
            endpoint: self.endpoint.clone(),
            path: versioned,
        })
    }

    fn versioned(&self, path: &str) -> String {
        match self.api {
            Some(api) => format!("/v{api}{path}"),
            None => path.to_owned(),
        }
    }

    fn garbage(&self, path: &str, error: api::ApiError) -> DockerError {
        DockerError::Garbage { endpoint: self.endpoint.clone(), path: path.to_owned(), reason: error.to_string() }
    }

    fn status_error(&self, path: &str, status: StatusCode, body: &[u8]) -> DockerError {
        // Docker answers errors as {"message": "..."}; keep the text either way.
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(body).trim().chars().take(200).collect());
        DockerError::Status { endpoint: self.endpoint.clone(), path: path.to_owned(), status: status.as_u16(), message }
    }

    async fn send(&self, path: &str) -> Result<(Response<Incoming>, ConnectionGuard), DockerError> {
        let connect_error =
            |e: std::io::Error| DockerError::Connect { endpoint: self.endpoint.clone(), reason: e.to_string() };
        match &self.endpoint {
            Endpoint::Unix(socket) => {
                let stream = UnixStream::connect(socket).await.map_err(connect_error)?;
                self.request_over(stream, path).await
            }
            Endpoint::Tcp { host, port } => {
                let stream = TcpStream::connect((host.as_str(), *port)).await.map_err(connect_error)?;
                self.request_over(stream, path).await
            }
            Endpoint::Tls { host, port } => {
                let Some(config) = &self.tls else {
                    return Err(DockerError::TlsMissing { endpoint: self.endpoint.clone() });
                };
                let name = ServerName::try_from(host.clone())
                    .map_err(|e| DockerError::Tls { endpoint: self.endpoint.clone(), reason: e.to_string() })?;
                let stream = TcpStream::connect((host.as_str(), *port)).await.map_err(connect_error)?;
                let stream = TlsConnector::from(Arc::clone(config)).connect(name, stream).await.map_err(|e| {
                    DockerError::Tls { endpoint: self.endpoint.clone(), reason: super::tls::handshake_reason(&e) }
                })?;
                self.request_over(stream, path).await
            }
        }
    }

    async fn request_over<S>(&self, stream: S, path: &str) -> Result<(Response<Incoming>, ConnectionGuard), DockerError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let http_error = |e: hyper::Error| DockerError::Http {
            endpoint: self.endpoint.clone(),
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(http_error)?;
        let guard = ConnectionGuard(tokio::spawn(async move {
            // The connection ends with an error when the daemon hangs up or
            // the request is dropped; the request's own result reports it.
            let _ = connection.await;
        }));
        let request = Request::get(path)
            .header(hyper::header::HOST, "docker")
            .header(hyper::header::USER_AGENT, concat!("kura/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|e| DockerError::Http {
                endpoint: self.endpoint.clone(),
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let response = sender.send_request(request).await.map_err(http_error)?;
        Ok((response, guard))
    }
}

/// A streamed body read line by line (Docker's events are one JSON object
/// per line). A line longer than [`MAX_LINE`] is skipped (and counted),
/// never buffered whole: a stream resumed from the newest event would
/// otherwise meet the same line again, forever.
pub struct LineStream {
    body: Incoming,
    buffer: Vec<u8>,
    /// Inside a line too long to keep: its bytes are dropped up to its end.
    skipping: bool,
    skipped: u64,
    _guard: ConnectionGuard,
    endpoint: Endpoint,
    path: String,
}

/// The longest line a stream may send; longer ones are skipped.
pub const MAX_LINE: usize = 1024 * 1024;

impl LineStream {
    /// The next complete line (without its LF), or `None` when the daemon
    /// closed the stream.
    pub async fn next_line(&mut self) -> Result<Option<Bytes>, DockerError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).take(end).collect();
                if std::mem::take(&mut self.skipping) || line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(Bytes::from(line)));
            }
            if self.buffer.len() > MAX_LINE || (self.skipping && !self.buffer.is_empty()) {
                if !self.skipping {
                    self.skipped += 1;
                    self.skipping = true;
                }
                self.buffer.clear();
            }
            match self.body.frame().await {
                None => {
                    let rest = std::mem::take(&mut self.buffer);
                    return Ok((!rest.is_empty() && !self.skipping).then(|| Bytes::from(rest)));
                }
                Some(Err(e)) => {
                    return Err(DockerError::Body {
                        endpoint: self.endpoint.clone(),
                        path: self.path.clone(),
                        reason: e.to_string(),
                    })
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// How many lines longer than [`MAX_LINE`] were skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(ApiVersion::parse("1.41"), Some(ApiVersion { major: 1, minor: 41 }));
        assert_eq!(ApiVersion::parse("1.9"), Some(ApiVersion { major: 1, minor: 9 }));
        assert!(ApiVersion::parse("1.9").unwrap_or(MAX_API) < ApiVersion::parse("1.41").unwrap_or(MAX_API));
        assert_eq!(ApiVersion::parse("latest"), None);
    }

    #[test]
    fn negotiation_prefers_ours_then_the_daemons_limits() {
        let v = |minor| ApiVersion { major: 1, minor };
        assert_eq!(negotiate(v(53), Some(v(24))), MAX_API);
        assert_eq!(negotiate(v(41), Some(v(12))), v(41));
        assert_eq!(negotiate(v(40), None), v(40));
        assert_eq!(negotiate(v(60), Some(v(44))), v(44));
    }
}
