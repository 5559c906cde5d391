//! TLS client settings from a certificate folder laid out like
//! `DOCKER_CERT_PATH`: `ca.pem` (the CA that signed the daemon's
//! certificate), `cert.pem` and `key.pem` (the client's certificate and key).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

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
    let chain = certificates(&cert_path)?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| file_error(&key_path, e))?;

    let config_error = |e: rustls::Error| TlsError::Config { dir: dir.to_owned(), reason: e.to_string() };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(config_error)?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

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
