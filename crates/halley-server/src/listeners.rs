//! The server's listeners, from `--listen` or the configuration's
//! `ListenAddresses`: plain HTTP; HTTPS with rustls (TLS 1.2 and 1.3, HTTP/2
//! offered, the certificate reloaded when its files change); and, as in
//! Comet, HTTP on port 80 that redirects to an HTTPS listener on port 443 of
//! the same address when nothing else listens there.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use axum::extract::ConnectInfo;
use axum::Router;
use halley_api::types::HTTPConnectorOptions;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;

use crate::handover::{Handover, Inherited};
use crate::state::AppState;

/// How often certificate files are looked at for a change.
const RELOAD_CHECK: Duration = Duration::from_secs(2);
/// A TLS handshake that takes longer is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    pub address: SocketAddr,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Http,
    Https(CertificateFiles),
    /// Answers every request with a redirect to HTTPS on the same host.
    RedirectToHttps,
}

/// Where an HTTPS listener's certificate comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum CertificateFiles {
    /// PEM: the certificate (with its chain, or the chain in `intermediate`)
    /// and its private key.
    Pem {
        cert: PathBuf,
        key: PathBuf,
        intermediate: Option<PathBuf>,
    },
    /// PKCS#12 (`.pfx`, `.p12`) with its password.
    Pfx { path: PathBuf, password: String },
}

impl CertificateFiles {
    fn paths(&self) -> Vec<&PathBuf> {
        match self {
            CertificateFiles::Pem {
                cert,
                key,
                intermediate,
            } => [Some(cert), Some(key), intermediate.as_ref()]
                .into_iter()
                .flatten()
                .collect(),
            CertificateFiles::Pfx { path, .. } => vec![path],
        }
    }

    /// When each file last changed, to tell when to load them again.
    fn stamps(&self) -> Vec<Option<(SystemTime, u64)>> {
        self.paths()
            .into_iter()
            .map(|path| {
                let meta = std::fs::metadata(path).ok()?;
                Some((meta.modified().ok()?, meta.len()))
            })
            .collect()
    }

    fn load(&self) -> anyhow::Result<CertifiedKey> {
        let (chain, key) = match self {
            CertificateFiles::Pem {
                cert,
                key,
                intermediate,
            } => {
                let mut chain = read_pem_certificates(cert)?;
                if let Some(intermediate) = intermediate {
                    chain.extend(read_pem_certificates(intermediate)?);
                }
                let pem = std::fs::read(key)
                    .with_context(|| format!("reading SSLCertKey {}", key.display()))?;
                let key = rustls_pemfile::private_key(&mut pem.as_slice())
                    .with_context(|| format!("SSLCertKey {}", key.display()))?
                    .with_context(|| {
                        format!("SSLCertKey {} holds no private key", key.display())
                    })?;
                (chain, key)
            }
            CertificateFiles::Pfx { path, password } => read_pfx(path, password)?,
        };
        let provider = rustls::crypto::ring::default_provider();
        let signing_key = provider
            .key_provider
            .load_private_key(key)
            .context("the private key is of a kind TLS cannot use")?;
        let certified = CertifiedKey::new(chain, signing_key);
        certified
            .keys_match()
            .context("the private key is not the certificate's")?;
        Ok(certified)
    }
}

fn read_pem_certificates(
    path: &PathBuf,
) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let certificates = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not PEM", path.display()))?;
    if certificates.is_empty() {
        bail!("{} holds no certificate", path.display());
    }
    Ok(certificates)
}

fn read_pfx(
    path: &PathBuf,
    password: &str,
) -> anyhow::Result<(
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
)> {
    let data =
        std::fs::read(path).with_context(|| format!("reading SSLPfxPath {}", path.display()))?;
    let store = p12_keystore::KeyStore::from_pkcs12(
        &data,
        password,
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "SSLPfxPath {}: {e} (is SSLPfxPassword right?)",
            path.display()
        )
    })?;
    let (_, chain) = store
        .private_key_chain()
        .with_context(|| format!("SSLPfxPath {} holds no private key", path.display()))?;
    let certificates = chain
        .certs()
        .iter()
        .map(|c| rustls::pki_types::CertificateDer::from(c.as_der().to_vec()))
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(chain.key().as_der().to_vec().into());
    Ok((certificates, key))
}

/// The listeners to open: `--listen` entries (plain HTTP) when given, else
/// the configuration's, else the default.
pub fn plan(cli: &[String], configured: &[HTTPConnectorOptions]) -> anyhow::Result<Vec<Listener>> {
    let cli: Vec<&String> = cli.iter().filter(|s| !s.is_empty()).collect();
    let mut listeners = Vec::new();
    if !cli.is_empty() {
        for text in cli {
            listeners.push(Listener {
                address: parse_address(text)?,
                kind: Kind::Http,
            });
        }
        return Ok(listeners);
    }
    for (index, entry) in configured.iter().enumerate() {
        if entry.listen_address.is_empty() {
            continue;
        }
        let name = format!("ListenAddresses[{index}] ({})", entry.listen_address);
        let address = parse_address(&entry.listen_address).with_context(|| name.clone())?;
        listeners.push(Listener {
            address,
            kind: kind_of(entry).with_context(|| name.clone())?,
        });
    }
    if listeners.is_empty() {
        listeners.push(Listener {
            address: parse_address(crate::config::DEFAULT_LISTEN)?,
            kind: Kind::Http,
        });
    }
    // HTTPS on 443 and nothing on 80 of the same address: redirect from 80.
    let redirects: Vec<Listener> = listeners
        .iter()
        .filter(|l| matches!(l.kind, Kind::Https(_)) && l.address.port() == 443)
        .map(|l| SocketAddr::new(l.address.ip(), 80))
        .filter(|plain| !listeners.iter().any(|l| l.address == *plain))
        .map(|address| Listener {
            address,
            kind: Kind::RedirectToHttps,
        })
        .collect();
    listeners.extend(redirects);
    Ok(listeners)
}

fn parse_address(text: &str) -> anyhow::Result<SocketAddr> {
    text.parse::<SocketAddr>().with_context(|| {
        format!(
            "'{text}' is not a listen address (use ADDR:PORT, e.g. 127.0.0.1:8060 or [::1]:8060)"
        )
    })
}

fn kind_of(entry: &HTTPConnectorOptions) -> anyhow::Result<Kind> {
    if !entry.auto_ssl_domains.is_empty() {
        bail!(
            "AutoSSLDomains (certificates from Let's Encrypt) is not supported: \
             give SSLCertPath and SSLCertKey, or SSLPfxPath"
        );
    }
    let optional = |text: &str| (!text.is_empty()).then(|| PathBuf::from(text));
    match (
        optional(&entry.ssl_cert_path),
        optional(&entry.ssl_cert_key),
        optional(&entry.ssl_pfx_path),
    ) {
        (None, None, None) => Ok(Kind::Http),
        (Some(cert), Some(key), None) => Ok(Kind::Https(CertificateFiles::Pem {
            cert,
            key,
            intermediate: optional(&entry.ssl_intermediate),
        })),
        (None, None, Some(path)) => Ok(Kind::Https(CertificateFiles::Pfx {
            path,
            password: entry.ssl_pfx_password.clone(),
        })),
        (Some(_), None, None) => bail!("SSLCertPath is given without SSLCertKey"),
        (None, Some(_), None) => bail!("SSLCertKey is given without SSLCertPath"),
        _ => bail!("give either SSLCertPath and SSLCertKey, or SSLPfxPath, not both"),
    }
}

/// The certificate an HTTPS listener presents, swapped for the new one
/// when its files change (a renewal needs no restart).
#[derive(Debug)]
struct ReloadingCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().expect("certificate lock").clone())
    }
}

/// Loads the certificate (failing start-up if it cannot be used) and keeps
/// watching its files until the server ends.
fn tls_acceptor(
    files: &CertificateFiles,
    state: &Arc<AppState>,
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let certificate = Arc::new(ReloadingCertificate {
        current: RwLock::new(Arc::new(files.load()?)),
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .context("TLS 1.2 and 1.3")?
        .with_no_client_auth()
        .with_cert_resolver(certificate.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let (files, state) = (files.clone(), state.clone());
    tokio::spawn(async move {
        let mut seen = files.stamps();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(RELOAD_CHECK) => {}
                _ = state.lifecycle.ended() => return,
            }
            let now = files.stamps();
            if now == seen {
                continue;
            }
            match files.load() {
                Ok(loaded) => {
                    *certificate.current.write().expect("certificate lock") = Arc::new(loaded);
                    tracing::info!("certificate reloaded from {:?}", files.paths());
                    seen = now;
                }
                // Half-written files: keep the old certificate, look again.
                Err(why) => tracing::warn!("certificate not reloaded yet: {why:#}"),
            }
        }
    });
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Binds every listener (or takes the socket the previous run handed over
/// for it), says where, and serves `app` on each until the run ends; the
/// sockets are kept in `handover` for the next run.
pub async fn serve_all(
    listeners: &[Listener],
    app: Router,
    state: &Arc<AppState>,
    mut inherited: Inherited,
    handover: &mut Handover,
) -> anyhow::Result<tokio::task::JoinSet<std::io::Result<()>>> {
    let mut servers = tokio::task::JoinSet::new();
    for listener in listeners {
        let bound_listener = match bind(listener.address, &mut inherited, handover).await {
            Ok(bound) => bound,
            // The redirect is a convenience: a taken port 80 is not fatal.
            Err(why) if listener.kind == Kind::RedirectToHttps => {
                tracing::warn!("not redirecting {} to HTTPS: {why}", listener.address);
                continue;
            }
            Err(why) => {
                return Err(why).with_context(|| format!("listening on {}", listener.address))
            }
        };
        let bound = bound_listener.local_addr()?;
        let (scheme, note) = match listener.kind {
            Kind::Http => ("http", ""),
            Kind::Https(_) => ("https", ""),
            Kind::RedirectToHttps => ("http", " (redirecting)"),
        };
        println!("halleyd listening on {scheme}://{bound}{note}");
        tracing::info!("listening on {scheme}://{bound}{note}");
        let stopping = state.clone();
        match &listener.kind {
            Kind::Http => {
                let app = app
                    .clone()
                    .into_make_service_with_connect_info::<SocketAddr>();
                servers.spawn(async move {
                    axum::serve(bound_listener, app)
                        .with_graceful_shutdown(async move { stopping.lifecycle.ended().await })
                        .await
                });
            }
            Kind::Https(files) => {
                let acceptor = tls_acceptor(files, state)
                    .with_context(|| format!("the certificate of {}", listener.address))?;
                servers.spawn(serve_tls(bound_listener, acceptor, app.clone(), stopping));
            }
            Kind::RedirectToHttps => {
                let app = Router::new()
                    .fallback(redirect_to_https)
                    .into_make_service();
                servers.spawn(async move {
                    axum::serve(bound_listener, app)
                        .with_graceful_shutdown(async move { stopping.lifecycle.ended().await })
                        .await
                });
            }
        }
    }
    Ok(servers)
}

async fn bind(
    address: SocketAddr,
    inherited: &mut Inherited,
    handover: &mut Handover,
) -> std::io::Result<TcpListener> {
    let socket = match inherited.take(address) {
        Some(socket) => {
            socket.set_nonblocking(true)?;
            socket
        }
        None => TcpListener::bind(address).await?.into_std()?,
    };
    handover.keep(address, socket.try_clone()?);
    TcpListener::from_std(socket)
}

/// Accepts TLS connections and serves each with HTTP/1.1 or HTTP/2 as the
/// client chose, websocket upgrades included.
async fn serve_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
    state: Arc<AppState>,
) -> std::io::Result<()> {
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(why) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!("accepting a connection: {why}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = state.lifecycle.ended() => return Ok(()),
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            // Failed handshakes (an old TLS version, a wrong name) end here;
            // rustls has already sent the client its alert.
            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            else {
                return;
            };
            let service = hyper::service::service_fn(
                move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    tower::ServiceExt::oneshot(app.clone(), request)
                },
            );
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
        });
    }
}

/// `308` to the same host and path over HTTPS (the default port): unlike a
/// 301, a client that follows it repeats a POST as a POST.
async fn redirect_to_https(request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    // The name without the plain listener's port: HTTPS is on its default.
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<axum::http::uri::Authority>().ok());
    let Some(host) = host else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "this address serves HTTPS only, and the request named no host",
        )
            .into_response();
    };
    let host = host.host();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    axum::response::Redirect::permanent(&format!("https://{host}{path}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: serde_json::Value) -> HTTPConnectorOptions {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn https_on_443_alone_gets_a_redirect_from_80() {
        let planned = plan(
            &[],
            &[
                entry(serde_json::json!({"ListenAddress": "10.0.0.1:443", "SSLCertPath": "c.pem", "SSLCertKey": "k.pem"})),
                entry(serde_json::json!({"ListenAddress": "10.0.0.2:443", "SSLCertPath": "c.pem", "SSLCertKey": "k.pem"})),
                entry(serde_json::json!({"ListenAddress": "10.0.0.2:80"})),
            ],
        )
        .unwrap();
        let redirects: Vec<String> = planned
            .iter()
            .filter(|l| l.kind == Kind::RedirectToHttps)
            .map(|l| l.address.to_string())
            .collect();
        assert_eq!(redirects, ["10.0.0.1:80"]);
    }

    #[test]
    fn incomplete_tls_settings_are_refused_by_name() {
        let refused = |json| format!("{:#}", plan(&[], &[entry(json)]).unwrap_err());
        assert!(refused(
            serde_json::json!({"ListenAddress": "0.0.0.0:443", "SSLCertPath": "c.pem"})
        )
        .contains("ListenAddresses[0] (0.0.0.0:443): SSLCertPath is given without SSLCertKey"));
        assert!(refused(
            serde_json::json!({"ListenAddress": "0.0.0.0:443", "AutoSSLDomains": "a.example"})
        )
        .contains("AutoSSLDomains"));
        assert!(refused(serde_json::json!({"ListenAddress": "nowhere"}))
            .contains("not a listen address"));
    }
}
