//! https for `piraeus serve`: the certificate and key are read from PEM files and read again
//! when either changes, so a renewed certificate (certbot, cert-manager) needs no restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// How often the files are looked at for changes.
const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// The acceptor for `cert` and `key`, with a task that reloads them when they change. Fails
/// when they cannot be read now: a server started with broken TLS files should not start.
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let resolver = Arc::new(Reloading {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        provider: provider.clone(),
        current: RwLock::new(None),
    });
    resolver.reload()?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(RELOAD_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = resolver.reload() {
                // The certificate in use stays: better an old certificate than none.
                tracing::error!(error = %format!("{error:#}"), "cannot reload the TLS certificate; still serving the previous one");
            }
        }
    });
    Ok(TlsAcceptor::from(Arc::new(config)))
}

struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Option<Loaded>>,
}

struct Loaded {
    stamp: [Option<SystemTime>; 2],
    key: Arc<CertifiedKey>,
}

impl Reloading {
    fn stamp(&self) -> [Option<SystemTime>; 2] {
        let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        [modified(&self.cert), modified(&self.key)]
    }

    fn reload(&self) -> anyhow::Result<()> {
        let stamp = self.stamp();
        let unchanged = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|loaded| loaded.stamp == stamp);
        if unchanged {
            return Ok(());
        }
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .with_context(|| format!("reading the certificate {}", self.cert.display()))?;
        anyhow::ensure!(
            !chain.is_empty(),
            "{} holds no PEM certificate",
            self.cert.display()
        );
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .with_context(|| format!("reading the private key {}", self.key.display()))?;
        let signing_key = self
            .provider
            .key_provider
            .load_private_key(key)
            .with_context(|| format!("loading the private key {}", self.key.display()))?;
        let certified = CertifiedKey::new(chain, signing_key);
        certified
            .keys_match()
            .context("the TLS key does not belong to the certificate")?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Loaded {
            stamp,
            key: Arc::new(certified),
        });
        tracing::info!(cert = %self.cert.display(), "TLS certificate loaded");
        Ok(())
    }
}

impl std::fmt::Debug for Reloading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloading")
            .field("cert", &self.cert)
            .finish()
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|loaded| loaded.key.clone())
    }
}
