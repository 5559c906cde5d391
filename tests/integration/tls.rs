//! The Docker client over TLS against the test bed's real dockerd
//! (`--tlsverify` on 127.0.0.1:2376): the right client certificate works; a
//! wrong CA, a name the certificate does not cover, a missing file and a
//! client certificate outside its validity each give a clear error naming
//! the check or the file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use kura_collector::docker::{client_config, DockerClient, DockerError, Endpoint, TlsError};
use testkit::docker::{TLS_DIR, TLS_ENDPOINT};
use testkit::process::workspace_bin;

use crate::foundation::docker_available;

fn client(endpoint: &str, certs: &Path) -> DockerClient {
    let endpoint: Endpoint = endpoint.parse().unwrap_or_else(|e| panic!("{e}"));
    let tls = client_config(certs).unwrap_or_else(|e| panic!("{e}"));
    DockerClient::new(endpoint, Some(tls), Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"))
}

/// The test bed's TLS listener and its client certificates, or `false`
/// (after [`testkit::peer_unavailable`]) when either is missing.
pub(crate) fn tls_available() -> bool {
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

/// A certificate folder with a client certificate (P-256 key) that the
/// test bed's CA signs for `not_before..not_after` only, and that CA.
fn client_certs(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let d = dir.path();
    let ca = Path::new(TLS_DIR);
    // `openssl ca` takes explicit dates (`openssl x509 -req` has no
    // not-before in OpenSSL 3.0).
    let config = format!(
        "[ca]\ndefault_ca = kura\n[kura]\ndatabase = {db}\nnew_certs_dir = {d}\nserial = {serial}\n\
         default_md = sha256\npolicy = any\nx509_extensions = client\nunique_subject = no\n\
         [any]\ncommonName = supplied\n[client]\nextendedKeyUsage = clientAuth\n",
        db = d.join("index.txt").display(),
        d = d.display(),
        serial = d.join("serial").display(),
    );
    let written = std::fs::write(d.join("ca.cnf"), config)
        .and_then(|()| std::fs::write(d.join("index.txt"), ""))
        .and_then(|()| std::fs::write(d.join("serial"), "01\n"))
        .and_then(|_| std::fs::copy(ca.join("ca.pem"), d.join("ca.pem")));
    written.unwrap_or_else(|e| panic!("{e}"));
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl").args(args).current_dir(d).output();
        let output = output.unwrap_or_else(|e| panic!("openssl: {e}"));
        assert!(output.status.success(), "openssl {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    };
    let key = ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(&[&key[..], &["-keyout", "key.pem", "-subj", "/CN=kura dated client", "-out", "client.csr"]].concat());
    let date = |t: DateTime<Utc>| t.format("%Y%m%d%H%M%SZ").to_string();
    let (start, end) = (date(not_before), date(not_after));
    let ca_cert = ca.join("ca.pem").display().to_string();
    let ca_key = ca.join("ca-key.pem").display().to_string();
    openssl(&[
        "ca",
        "-batch",
        "-notext",
        "-config",
        "ca.cnf",
        "-cert",
        &ca_cert,
        "-keyfile",
        &ca_key,
        "-in",
        "client.csr",
        "-out",
        "cert.pem",
        "-startdate",
        &start,
        "-enddate",
        &end,
    ]);
    dir
}

fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).single().unwrap_or_else(|| panic!("{y}-{m}-{d}"))
}

#[test]
fn a_client_certificate_outside_its_validity_is_refused_at_start_with_its_date() {
    if !Path::new(TLS_DIR).join("ca-key.pem").is_file() {
        return testkit::peer_unavailable("dockerd (TLS)", &format!("no test CA key in {TLS_DIR}"));
    }
    let expired = client_certs(utc(2020, 1, 1), utc(2020, 1, 2));
    match client_config(expired.path()) {
        Err(TlsError::Expired { path, not_after, now }) => {
            assert_eq!(path, expired.path().join("cert.pem"));
            assert_eq!(not_after, utc(2020, 1, 2));
            assert!(now > not_after);
        }
        other => panic!("an expired certificate must be refused by date, got {:?}", other.map(|_| ())),
    }
    let future = client_certs(utc(2099, 1, 1), utc(2099, 12, 31));
    match client_config(future.path()) {
        Err(TlsError::NotYetValid { path, not_before, .. }) => {
            assert_eq!(path, future.path().join("cert.pem"));
            assert_eq!(not_before, utc(2099, 1, 1));
        }
        other => panic!("a certificate not yet valid must be refused by date, got {:?}", other.map(|_| ())),
    }
    // The collector stops at start with a configuration error naming both.
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (certs, says) in
        [(&expired, "expired at 2020-01-02 00:00:00 UTC"), (&future, "not valid before 2099-01-01 00:00:00 UTC")]
    {
        let output = Command::new(workspace_bin("kura-collector"))
            .args(["--once", "--docker", &format!("tls={TLS_ENDPOINT}"), "--data"])
            .arg(data.path())
            .env("DOCKER_CERT_PATH", certs.path())
            .output()
            .unwrap_or_else(|e| panic!("kura-collector: {e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        let cert = certs.path().join("cert.pem").display().to_string();
        assert!(lines[0].contains(&cert) && lines[0].contains(says), "{stderr}");
    }
}

#[tokio::test]
async fn a_client_certificate_that_expires_while_running_is_refused_by_the_daemon_naming_the_check() {
    if !tls_available() {
        return;
    }
    // Valid at start; expired three seconds later.
    let now = Utc::now();
    let certs = client_certs(now - chrono::Duration::hours(1), now + chrono::Duration::seconds(3));
    let docker = client(TLS_ENDPOINT, certs.path());
    assert!(docker.ping().await.is_ok(), "the certificate is still valid");
    tokio::time::sleep(Duration::from_secs(4)).await;
    match docker.ping().await {
        Err(DockerError::Tls { reason, .. }) => {
            assert!(reason.starts_with("the daemon refused the client certificate"), "{reason}");
            assert!(reason.contains("BadCertificate"), "{reason}");
        }
        other => panic!("the daemon must refuse an expired certificate, got {other:?}"),
    }
}
