//! HTTPS: the certificate chain and key of `tls_cert`/`tls_key` read once at start-up into a
//! rustls server configuration (ring provider, TLS 1.2 and 1.3, HTTP/1.1 by ALPN). A file that
//! cannot be read, holds no certificate or key, or a key that is not the certificate's is refused
//! naming the configuration key and the path, before anything starts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use opsdeck_core::TlsFiles;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The server side of HTTPS, ready to accept connections.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    /// Reads `files` (PEM): the chain (the server's certificate first, then its intermediates) and
    /// its private key (PKCS#8, PKCS#1 or SEC1).
    pub fn load(files: &TlsFiles) -> Result<Tls, TlsError> {
        let certs = read_chain(&files.cert)?;
        let key = read_key(&files.key)?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::new("tls_cert", &files.cert, format!("cannot set up TLS: {e}")))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => TlsError::new(
                    "tls_key",
                    &files.key,
                    format!(
                        "this key is not the key of the first certificate in {} (the server's own certificate \
                         must come first, its intermediates after it)",
                        files.cert.display()
                    ),
                ),
                e => TlsError::new("tls_key", &files.key, format!("the key cannot sign ({e})")),
            })?;
        Ok(Tls::from_config(config))
    }

    /// HTTPS with `config` as it is (HTTP/1.1 offered by ALPN).
    pub fn from_config(mut config: ServerConfig) -> Tls {
        // The server speaks HTTP/1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Tls { acceptor: TlsAcceptor::from(Arc::new(config)) }
    }

    pub(super) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// The crypto the server uses: ring (pure Rust and assembly; no C toolchain beyond cc).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why HTTPS cannot start: the configuration key, its file, what is wrong.
#[derive(Debug)]
pub struct TlsError {
    pub key: &'static str,
    pub path: PathBuf,
    pub reason: String,
}

impl TlsError {
    fn new(key: &'static str, path: &Path, reason: String) -> TlsError {
        TlsError { key, path: path.to_path_buf(), reason }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: `{}` ({}): {}", self.key, self.path.display(), self.reason)
    }
}

impl std::error::Error for TlsError {}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::new(key, path, format!("cannot read the file: {e}")))
}

fn pem_error(e: pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => unreachable!("handled by the caller"),
        e => format!("not a valid PEM file: {e}"),
    }
}

/// Every certificate of the chain file, in order.
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read("tls_cert", path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::new("tls_cert", path, pem_error(e)))?;
    if certs.is_empty() {
        return Err(TlsError::new(
            "tls_cert",
            path,
            "no certificate in the file (expected PEM `-----BEGIN CERTIFICATE-----` blocks)".into(),
        ));
    }
    Ok(certs)
}

/// The first private key of the key file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("tls_key", path)?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        let reason = match e {
            pem::Error::NoItemsFound => {
                let encrypted = String::from_utf8_lossy(&pem).contains("ENCRYPTED PRIVATE KEY");
                let why = if encrypted {
                    "the key is encrypted; give it unencrypted (readable by the daemon only)"
                } else {
                    "no private key in the file"
                };
                format!(
                    "{why} (expected PEM `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1))"
                )
            }
            e => pem_error(e),
        };
        TlsError::new("tls_key", path, reason)
    })?;
    // A key ring cannot use (a DSA key, an unsupported curve) is refused here, by name.
    provider()
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| TlsError::new("tls_key", path, format!("a key of a kind TLS cannot use: {e}")))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway key made by Debian's `openssl` (a test package) with `args`, in `dir/name`:
    /// the PEM forms other than PKCS#8 (which the HTTPS tests use).
    fn openssl_key(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
        let path = dir.join(name);
        let out = std::process::Command::new("openssl")
            .arg(args[0])
            .arg("-out")
            .arg(&path)
            .args(&args[1..])
            .output()
            .expect("openssl (Debian's, in scripts/lib.sh's TEST_PACKAGES) runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        path
    }

    fn key_file(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        path
    }

    #[test]
    fn pkcs1_and_sec1_keys_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let rsa = openssl_key(dir.path(), "rsa.pem", &["genrsa", "-traditional", "2048"]);
        assert!(std::fs::read_to_string(&rsa).unwrap().contains("BEGIN RSA PRIVATE KEY"));
        let rsa = read_key(&rsa).unwrap();
        assert!(matches!(rsa, PrivateKeyDer::Pkcs1(_)), "read as PKCS#1");
        let ec = openssl_key(dir.path(), "ec.pem", &["ecparam", "-name", "prime256v1", "-genkey", "-noout"]);
        assert!(std::fs::read_to_string(&ec).unwrap().contains("BEGIN EC PRIVATE KEY"));
        let ec = read_key(&ec).unwrap();
        assert!(matches!(ec, PrivateKeyDer::Sec1(_)), "read as SEC1");
    }

    #[test]
    fn a_file_without_a_key_or_certificate_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let empty = key_file(dir.path(), "empty.pem", "not PEM at all\n");
        let e = read_key(&empty).unwrap_err();
        assert_eq!((e.key, e.path.as_path()), ("tls_key", empty.as_path()));
        assert!(e.reason.contains("no private key"), "{e}");
        let e = read_chain(&empty).unwrap_err();
        assert_eq!(e.key, "tls_cert");
        assert!(e.to_string().contains(&empty.display().to_string()), "{e}");
        let encrypted = key_file(
            dir.path(),
            "enc.pem",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
        );
        assert!(read_key(&encrypted).unwrap_err().reason.contains("encrypted"));
        let e = read_key(&dir.path().join("absent.pem")).unwrap_err();
        assert!(e.reason.contains("cannot read the file"), "{e}");
    }
}
