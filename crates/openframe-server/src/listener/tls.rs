//! TLS for the API's listener: rustls (ring), TLS 1.2 and 1.3, ALPN offering HTTP/2 then HTTP/1.1. The
//! certificate chain and key are read from PEM files at start and again on SIGHUP; a pair that does not load
//! keeps the one in use (and says why in the log), so a bad renewal never takes the server down.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The certificate in force and where it is read from.
#[derive(Debug)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    config: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Reads the certificate chain and key; an error names the file and what is wrong with it.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, String> {
        Ok(Arc::new(Tls {
            config: RwLock::new(server_config(cert, key)?),
            cert: cert.to_owned(),
            key: key.to_owned(),
        }))
    }

    /// What new connections are accepted with.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(
            &self.config.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }

    /// Reads the files again; new connections use the new pair, open ones keep theirs.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = server_config(&self.cert, &self.key)?;
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// Reloads on every SIGHUP for as long as the process runs.
    pub fn reload_on_sighup(self: &Arc<Self>) -> Result<(), String> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hangups = signal(SignalKind::hangup())
                .map_err(|e| format!("cannot watch for SIGHUP: {e}"))?;
            let tls = Arc::clone(self);
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    match tls.reload() {
                        Ok(()) => {
                            tracing::info!(cert = %tls.cert.display(), "TLS certificate reloaded")
                        }
                        Err(error) => {
                            tracing::error!(%error, "TLS certificate not reloaded; the one in use stays")
                        }
                    }
                }
            });
        }
        Ok(())
    }
}

/// The server's TLS settings with the pair in `cert` and `key`.
fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| format!("TLS certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "TLS certificate {}: no certificate in it",
            cert.display()
        ));
    }
    let private =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("TLS key {}: {e}", key.display()))?;
    // ring rather than aws-lc-rs (which needs cmake and a long C build); ring lacks the post-quantum key
    // exchange rustls now prefers, hence its provider's deprecation notice.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            format!(
                "TLS certificate {} and key {}: {e}",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
