//! The Docker side: endpoints, a read-only HTTP client, its errors and TLS settings.
//!
//! This is the only module that speaks HTTP. It never sends anything but
//! `GET`: kura observes hosts and changes nothing on them.

mod client;
mod error;
mod tls;

pub use client::{negotiate, ApiVersion, DockerClient, LineStream, MAX_API, MAX_BODY, MAX_LINE, ONE_SHOT_API};
pub use error::DockerError;
pub use kura_store::endpoint::{Endpoint, EndpointError, DEFAULT_SOCKET, DEFAULT_TCP_PORT, DEFAULT_TLS_PORT};
pub use tls::{client_config, TlsError};
