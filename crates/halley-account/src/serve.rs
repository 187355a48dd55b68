//! `halley-account serve`: open the store, pick up hosted instances, serve the
//! API, run the billing passes, and stop the instances on shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::TcpListener;

use crate::auth::VerifiedCache;
use crate::billing::{charge_due, parse_price, Prices};
use crate::catalogue::Catalogue;
use crate::clock::now;
use crate::hosted::{LocalPlacement, Supervisor};
use crate::state::AppState;
use crate::store::{SqliteStore, Store};

/// Name of the SQLite database inside the data directory.
pub const DATABASE_FILE: &str = "portal.db";
/// How often charges are brought up to date (reports also do it on demand).
const BILLING_INTERVAL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, clap::Args)]
pub struct ServeOptions {
    /// Directory holding the database and, by default, the release catalogue
    /// (`releases/`) and the instances of the default region (`instances/`).
    #[arg(
        long,
        env = "HALLEY_ACCOUNT_DATA_DIR",
        default_value = "./halley-account-data"
    )]
    pub data_dir: PathBuf,
    /// Address to listen on, as ADDR:PORT; port 0 picks a free port.
    #[arg(long, env = "HALLEY_ACCOUNT_LISTEN", default_value = "127.0.0.1:8070")]
    pub listen: String,
    /// The halleyd binary hosted instances run. Default: `halleyd` next to
    /// this executable.
    #[arg(long, env = "HALLEY_ACCOUNT_HALLEYD")]
    pub halleyd: Option<PathBuf>,
    /// A region for hosted instances, as NAME=DIR (the data root of its
    /// instances); may repeat. Default: `local=DATA_DIR/instances`.
    #[arg(long = "region", env = "HALLEY_ACCOUNT_REGIONS", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// The release catalogue directory. Default: DATA_DIR/releases.
    #[arg(long, env = "HALLEY_ACCOUNT_CATALOGUE")]
    pub catalogue: Option<PathBuf>,
    /// Daily price of a serial that is not archived.
    #[arg(long, env = "HALLEY_ACCOUNT_LICENSE_PRICE", default_value = "1.00")]
    pub license_price: String,
    /// Daily price of a hosted instance that is not deleted.
    #[arg(long, env = "HALLEY_ACCOUNT_HOSTED_PRICE", default_value = "5.00")]
    pub hosted_price: String,
    /// Hosted instances are named `<subdomain>.<DNS_SUFFIX>` (`user_dns`).
    #[arg(
        long,
        env = "HALLEY_ACCOUNT_DNS_SUFFIX",
        default_value = "hosted.localhost"
    )]
    pub dns_suffix: String,
}

/// Opens (creating if needed) the database of `data_dir`. A new data
/// directory is private to its owner: the database holds the administrator
/// passwords of hosted instances, which the status call must be able to return.
pub async fn open_store(data_dir: &Path) -> anyhow::Result<Arc<dyn Store>> {
    if !data_dir.exists() {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restricting {}", data_dir.display()))?;
        }
    }
    let store = SqliteStore::open(&data_dir.join(DATABASE_FILE))
        .await
        .context("opening the database")?;
    Ok(Arc::new(store))
}

pub async fn run(options: ServeOptions) -> anyhow::Result<()> {
    let store = open_store(&options.data_dir).await?;
    let prices = Prices {
        license_cents_per_day: parse_price(&options.license_price)
            .map_err(|e| anyhow::anyhow!("--license-price: {e}"))?,
        hosted_cents_per_day: parse_price(&options.hosted_price)
            .map_err(|e| anyhow::anyhow!("--hosted-price: {e}"))?,
    };
    let regions = regions(&options)?;
    let halleyd = match &options.halleyd {
        Some(path) => path.clone(),
        None => default_halleyd()?,
    };
    if !halleyd.is_file() {
        tracing::warn!(
            "halleyd not found at {}: hosted instances will fail to start (use --halleyd)",
            halleyd.display()
        );
    }
    let placement = Arc::new(LocalPlacement::new(halleyd, regions));
    let supervisor = Supervisor::new(store.clone(), placement);
    let address: SocketAddr = options.listen.parse().with_context(|| {
        format!(
            "'{}' is not a listen address (use ADDR:PORT)",
            options.listen
        )
    })?;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    supervisor.resume_all().await?;
    let state = Arc::new(AppState {
        store: store.clone(),
        verified: Arc::new(VerifiedCache::default()),
        throttle: Default::default(),
        catalogue: Catalogue::new(
            options
                .catalogue
                .clone()
                .unwrap_or_else(|| options.data_dir.join("releases")),
        ),
        prices,
        hosted: supervisor.clone(),
        dns_suffix: options.dns_suffix.trim_matches('.').to_string(),
    });
    spawn_billing(store, prices);
    let bound = listener.local_addr()?;
    println!("halley-account listening on http://{bound}");
    tracing::info!("listening on http://{bound}");
    let served = axum::serve(listener, crate::http::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    tracing::info!("shutting down: stopping hosted instances");
    supervisor.shutdown().await;
    served.context("serving")
}

fn regions(options: &ServeOptions) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let mut regions = BTreeMap::new();
    for text in options.regions.iter().filter(|t| !t.trim().is_empty()) {
        let Some((name, dir)) = text.split_once('=') else {
            bail!("--region '{text}': use NAME=DIR");
        };
        let (name, dir) = (name.trim(), dir.trim());
        if name.is_empty() || dir.is_empty() {
            bail!("--region '{text}': use NAME=DIR");
        }
        regions.insert(name.to_string(), PathBuf::from(dir));
    }
    if regions.is_empty() {
        regions.insert("local".into(), options.data_dir.join("instances"));
    }
    Ok(regions)
}

fn default_halleyd() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let name = format!("halleyd{}", std::env::consts::EXE_SUFFIX);
    Ok(exe.with_file_name(name))
}

fn spawn_billing(store: Arc<dyn Store>, prices: Prices) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(BILLING_INTERVAL);
        loop {
            tick.tick().await;
            if let Err(err) = charge_due(&*store, prices, now()).await {
                tracing::warn!("billing pass: {err}");
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
