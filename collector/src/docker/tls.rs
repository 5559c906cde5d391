//! TLS client settings from a certificate folder laid out like
//! `DOCKER_CERT_PATH`: `ca.pem` (the CA that signed the daemon's
//! certificate), `cert.pem` and `key.pem` (the client's certificate and key).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{AlertDescription, CertificateError, ClientConfig, RootCertStore};

/// Why the TLS settings could not be made; each names the file or the check.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing, unreadable or holds nothing usable.
    #[error("TLS file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// The client certificate's validity ended: the daemon would refuse it.
    #[error("TLS file {path}: the client certificate expired at {not_after} (notAfter; it is now {now})")]
    Expired {
        /// The certificate file.
        path: PathBuf,
        /// The end of its validity.
        not_after: DateTime<Utc>,
        /// When it was checked.
        now: DateTime<Utc>,
    },
    /// The client certificate's validity has not begun: the daemon would
    /// refuse it.
    #[error("TLS file {path}: the client certificate is not valid before {not_before} (notBefore; it is now {now}: is the clock right?)")]
    NotYetValid {
        /// The certificate file.
        path: PathBuf,
        /// The start of its validity.
        not_before: DateTime<Utc>,
        /// When it was checked.
        now: DateTime<Utc>,
    },
    /// rustls refused the combination (e.g. a key that does not match the certificate).
    #[error("TLS settings from {dir}: {reason}")]
    Config {
        /// The certificate folder.
        dir: PathBuf,
        /// rustls' reason.
        reason: String,
    },
}

fn file_error(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File { path: path.to_owned(), reason: reason.to_string() }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no certificate in the file"));
    }
    Ok(certs)
}

/// Loads the client configuration from `dir`, checking every file at start so
/// that a missing or bad one is reported before the first sweep.
pub fn client_config(dir: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let ca_path = dir.join("ca.pem");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");

    let mut roots = RootCertStore::empty();
    for ca in certificates(&ca_path)? {
        roots.add(ca).map_err(|e| file_error(&ca_path, e))?;
    }
    let roots = Arc::new(roots);
    let chain = certificates(&cert_path)?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| file_error(&key_path, e))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    check_validity(&cert_path, &chain, &roots, &provider, UnixTime::now())?;
    let config_error = |e: rustls::Error| TlsError::Config { dir: dir.to_owned(), reason: e.to_string() };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(config_error)?;
    Ok(Arc::new(config))
}

/// Checks the client certificate's validity period at `now`, as the daemon
/// will: with rustls' own check of client certificates, which (webpki)
/// checks the period before it looks for the issuer. Only the period is
/// judged here; whether the daemon trusts the issuer is for the daemon to
/// say (`ca.pem` is the CA of the daemon's certificate, which may differ).
fn check_validity(
    path: &Path,
    chain: &[CertificateDer<'static>],
    roots: &Arc<RootCertStore>,
    provider: &Arc<rustls::crypto::CryptoProvider>,
    now: UnixTime,
) -> Result<(), TlsError> {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err(file_error(path, "no certificate in the file"));
    };
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::clone(roots), Arc::clone(provider))
        .build()
        .map_err(|e| TlsError::Config { dir: path.parent().unwrap_or(path).to_owned(), reason: e.to_string() })?;
    let time = |t: UnixTime| {
        let seconds = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
        DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    };
    match verifier.verify_client_cert(leaf, intermediates, now) {
        Err(rustls::Error::InvalidCertificate(CertificateError::ExpiredContext { time: at, not_after })) => {
            Err(TlsError::Expired { path: path.to_owned(), not_after: time(not_after), now: time(at) })
        }
        Err(rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext { time: at, not_before })) => {
            Err(TlsError::NotYetValid { path: path.to_owned(), not_before: time(not_before), now: time(at) })
        }
        _ => Ok(()),
    }
}

/// The alerts a daemon sends when it refuses the client's certificate.
const CLIENT_CERTIFICATE_ALERTS: [AlertDescription; 8] = [
    AlertDescription::BadCertificate,
    AlertDescription::UnsupportedCertificate,
    AlertDescription::CertificateRevoked,
    AlertDescription::CertificateExpired,
    AlertDescription::CertificateUnknown,
    AlertDescription::UnknownCA,
    AlertDescription::AccessDenied,
    AlertDescription::CertificateRequired,
];

/// The reason of a failed TLS handshake: rustls' own, said plainly when the
/// daemon refused the client certificate (dockerd sends `BadCertificate`
/// for an expired one, whatever the reason).
pub(super) fn handshake_reason(error: &std::io::Error) -> String {
    let alert = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
    match alert {
        Some(rustls::Error::AlertReceived(alert)) if CLIENT_CERTIFICATE_ALERTS.contains(alert) => format!(
            "the daemon refused the client certificate ({error}): is cert.pem past its validity dates, \
             or signed by a CA the daemon does not trust?"
        ),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_client_certificate_is_said_plainly() {
        let refused = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::BadCertificate),
        );
        let reason = handshake_reason(&refused);
        assert!(reason.starts_with("the daemon refused the client certificate (received fatal alert: BadCertificate)"));
        let other = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
        );
        assert_eq!(handshake_reason(&other), "received fatal alert: HandshakeFailure");
    }

    #[test]
    fn a_missing_folder_names_the_ca_file() {
        let dir = Path::new("/nonexistent/kura-certs");
        match client_config(dir) {
            Err(TlsError::File { path, .. }) => assert_eq!(path, dir.join("ca.pem")),
            other => panic!("expected a file error, got {other:?}"),
        }
    }

    #[test]
    fn a_file_without_certificates_is_refused_by_name() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let dir = match dir {
            Ok(dir) => dir,
            Err(e) => panic!("tempdir: {e}"),
        };
        let ca = dir.path().join("ca.pem");
        assert!(std::fs::write(&ca, "not a certificate\n").is_ok());
        match client_config(dir.path()) {
            Err(TlsError::File { path, reason }) => {
                assert_eq!(path, ca);
                assert!(reason.contains("no certificate"), "{reason}");
            }
            other => panic!("expected a file error, got {other:?}"),
        }
    }
}
