//! The Docker client over TLS against the test bed's real dockerd
//! (`--tlsverify` on 127.0.0.1:2376): the right client certificate works; a
//! wrong CA, a name the certificate does not cover and a missing file each
//! give a clear error naming the check or the file.

use std::path::Path;
use std::time::Duration;

use kura_collector::docker::{client_config, DockerClient, DockerError, Endpoint, TlsError};
use testkit::docker::{TLS_DIR, TLS_ENDPOINT};

use crate::foundation::docker_available;

fn client(endpoint: &str, certs: &Path) -> DockerClient {
    let endpoint: Endpoint = endpoint.parse().unwrap_or_else(|e| panic!("{e}"));
    let tls = client_config(certs).unwrap_or_else(|e| panic!("{e}"));
    DockerClient::new(endpoint, Some(tls), Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"))
}

fn tls_available() -> bool {
    if !docker_available() {
        return false;
    }
    if !Path::new(TLS_DIR).join("client/key.pem").is_file() {
        testkit::peer_unavailable("dockerd (TLS)", &format!("no test certificates in {TLS_DIR}"));
        return false;
    }
    true
}

#[tokio::test]
async fn the_right_client_certificate_reaches_the_daemon() {
    if !tls_available() {
        return;
    }
    let mut docker = client(TLS_ENDPOINT, &Path::new(TLS_DIR).join("client"));
    let version = docker.negotiate().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!version.api_version.is_empty());
    assert!(docker.ping().await.is_ok());
    assert!(docker.get("/containers/json?all=1").await.is_ok());
}

#[tokio::test]
async fn a_wrong_ca_and_a_name_mismatch_are_tls_errors_naming_the_check() {
    if !tls_available() {
        return;
    }
    let wrong_ca = client(TLS_ENDPOINT, &Path::new(TLS_DIR).join("other"));
    match wrong_ca.ping().await {
        Err(DockerError::Tls { reason, .. }) => assert!(reason.contains("UnknownIssuer"), "{reason}"),
        other => panic!("a wrong CA must fail the handshake, got {other:?}"),
    }
    // The daemon's certificate names IP 127.0.0.1, not `localhost`.
    let mismatch = client("https://localhost:2376", &Path::new(TLS_DIR).join("client"));
    match mismatch.ping().await {
        Err(DockerError::Tls { reason, .. }) => assert!(reason.contains("not valid for name"), "{reason}"),
        other => panic!("a name mismatch must fail the handshake, got {other:?}"),
    }
}

#[test]
fn a_missing_key_file_is_named_at_start() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let client = Path::new(TLS_DIR).join("client");
    if !client.join("key.pem").is_file() {
        return testkit::peer_unavailable("dockerd (TLS)", &format!("no test certificates in {TLS_DIR}"));
    }
    for file in ["ca.pem", "cert.pem"] {
        std::fs::copy(client.join(file), dir.path().join(file)).unwrap_or_else(|e| panic!("{e}"));
    }
    match client_config(dir.path()) {
        Err(TlsError::File { path, .. }) => assert_eq!(path, dir.path().join("key.pem")),
        other => panic!("expected the missing key.pem to be named, got {:?}", other.map(|_| ())),
    }
}
