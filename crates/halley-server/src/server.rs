//! Start-up: data directory, configuration, store, the first administrator,
//! listeners, background tasks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use halley_api::constants::{SEVT_ACCOUNT_ADMIN_NEW, SEVT_SERVER_SHUTDOWN, SEVT_SERVER_STARTED};

use crate::config::ConfigStore;
use crate::events::{sinks, webhooks, DEFAULT_QUEUE_LIMIT};
use crate::lifecycle::Lifecycle;
use crate::service::admins::new_admin;
use crate::state::AppState;
use crate::store::cluster::Cluster;
use crate::store::{Database, Store};

/// Name of the SQLite database inside the data directory.
pub const DATABASE_FILE: &str = "halley.db";

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "halleyd",
    version,
    about = "Halley: a backup management server speaking the Comet Server API"
)]
pub struct Options {
    /// Directory holding the database and, by default, cometd.cfg.
    #[arg(long, env = "HALLEY_DATA_DIR", default_value = "./halley-data")]
    pub data_dir: PathBuf,
    /// Address to listen on, as ADDR:PORT; may repeat (comma-separated in the
    /// environment). Default: the configuration's ListenAddresses, else 127.0.0.1:8060.
    #[arg(long = "listen", env = "HALLEY_LISTEN", value_delimiter = ',')]
    pub listen: Vec<String>,
    /// The database: a PostgreSQL URL (postgres://user:password@host:port/name),
    /// for several nodes sharing one, or an SQLite file. Default:
    /// DATA_DIR/halley.db.
    #[arg(long, env = "HALLEY_DATABASE", hide_env_values = true)]
    pub database: Option<String>,
    /// Copies every row of the database into this one (empty, of either
    /// engine), then exits: the way from SQLite to PostgreSQL. Sessions and
    /// queued webhook deliveries are not copied.
    #[arg(long, value_name = "DATABASE", hide_env_values = true)]
    pub copy_database_to: Option<String>,
    /// On PostgreSQL, replace the configuration the nodes share with the
    /// configuration file's at start (it otherwise only fills an empty
    /// database).
    #[arg(long)]
    pub import_config: bool,
    /// The configuration file. Default: DATA_DIR/cometd.cfg.
    #[arg(long, env = "HALLEY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Password of the `admin` account created at first start when no
    /// administrator exists.
    #[arg(long, env = "HALLEY_INITIAL_ADMIN_PASSWORD", hide_env_values = true)]
    pub initial_admin_password: Option<String>,
    /// Serial number to activate at start-up; the server refuses to run on a
    /// serial that is unknown, archived or bound to another server.
    #[arg(
        long,
        env = "HALLEY_SERIAL",
        hide_env_values = true,
        requires = "license_portal"
    )]
    pub serial: Option<String>,
    /// Base URL of the licence portal (halley-account), e.g. https://portal.example.com
    #[arg(long, env = "HALLEY_LICENSE_PORTAL", requires = "serial")]
    pub license_portal: Option<String>,
    /// Events queued for one websocket subscriber of /api/v1/events/stream
    /// before it is disconnected for not keeping up.
    #[arg(long, env = "HALLEY_EVENT_QUEUE_LIMIT", default_value_t = DEFAULT_QUEUE_LIMIT)]
    pub event_queue_limit: usize,
    /// Origins allowed to frame the web interface and send it postMessage
    /// sign-ins, as scheme://host[:port], comma-separated. Default: any.
    #[arg(long, env = "HALLEY_WEB_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub web_allowed_origins: Vec<String>,
    /// Seconds a device may stay disconnected while one of its jobs runs
    /// before the job is marked abandoned (7007).
    #[arg(long, env = "HALLEY_JOB_ABANDON_SECONDS", default_value_t = 120)]
    pub job_abandon_seconds: u64,
    /// The agent binary that client packages are built from; `halley-agent`
    /// beside `halleyd` when not given.
    #[arg(long, env = "HALLEY_AGENT_BINARY")]
    pub agent_binary: Option<std::path::PathBuf>,
    /// Client addresses that may read `/metrics`, comma-separated. With
    /// neither this nor a token, `/metrics` is off.
    #[arg(long, env = "HALLEY_METRICS_ALLOW", value_delimiter = ',')]
    pub metrics_allow: Vec<std::net::IpAddr>,
    /// A bearer token that lets anyone else read `/metrics`.
    #[arg(long, env = "HALLEY_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

/// How a run ended.
pub struct Ended {
    /// Whether a restart or a shutdown was asked for.
    pub lifecycle: Lifecycle,
    /// The listening sockets, for the next run.
    pub handover: crate::handover::Handover,
}

/// Runs the server until it is stopped, on the sockets a previous run
/// handed over where they fit.
pub async fn run(options: Options, inherited: crate::handover::Inherited) -> anyhow::Result<Ended> {
    crate::private_files::private_dir(&options.data_dir)
        .with_context(|| format!("creating data directory {}", options.data_dir.display()))?;
    if let (Some(serial), Some(portal)) = (&options.serial, &options.license_portal) {
        let id = crate::licensing::activate_at_startup(&options.data_dir, portal, serial)
            .await
            .context("licence activation")?;
        tracing::info!("licence activated for server {id}");
    }
    let config_path = options
        .config
        .clone()
        .unwrap_or_else(|| options.data_dir.join("cometd.cfg"));
    let node = node_name(&options.data_dir)?;
    let (store, cluster) = open_database(&database_of(&options), &node).await?;
    let config = match &cluster {
        None => ConfigStore::load_or_create(&config_path)?,
        Some(cluster) => {
            ConfigStore::open_shared(&config_path, cluster.clone(), options.import_config)
                .await
                .context("the configuration in the database")?
        }
    };
    if let Some(serial) = options.serial.as_deref().map(str::trim) {
        record_serial(&config, serial).await?;
    }
    let listeners = crate::listeners::plan(&options.listen, &config.get().listen_addresses)?;
    let addresses: Vec<SocketAddr> = listeners.iter().map(|l| l.address).collect();
    let mut state = AppState::new(
        config,
        store,
        options.data_dir.clone(),
        options.event_queue_limit,
    );
    if let Some(cluster) = &cluster {
        state.throttle = crate::auth::throttle::Throttle::shared(cluster.clone());
    }
    state.cluster = cluster.clone();
    state.web_allowed_origins = crate::web::AllowedOrigins::parse(&options.web_allowed_origins)?;
    state.license_portal = options.license_portal.clone();
    state.job_abandon_after = std::time::Duration::from_secs(options.job_abandon_seconds);
    if let Some(binary) = &options.agent_binary {
        state.agent_binary = binary.clone();
    }
    state.metrics_access = crate::metrics::Access {
        allowed: options.metrics_allow.clone(),
        token: options.metrics_token.clone().filter(|t| !t.is_empty()),
    };
    if cluster.is_some() {
        // Subscribers get every node's events from the shared feed instead.
        state.events.use_shared_feed();
    }
    let state = Arc::new(state);
    let sink_task = sinks::spawn(state.clone());
    if let Some(cluster) = &cluster {
        crate::events::feed::spawn(state.clone(), cluster.clone());
    }
    // Every hook is greeted at start: its queue is being flushed anew.
    let all_hooks: Vec<String> = webhooks::configured_hooks(&state.config.get())
        .into_iter()
        .map(|hook| hook.key)
        .collect();
    webhooks::reconcile(&state, &all_hooks).await?;
    bootstrap_admin(
        &state,
        &addresses,
        options.initial_admin_password.as_deref(),
    )
    .await?;

    let app = crate::http::router(state.clone());
    let mut handover = crate::handover::Handover::default();
    let mut servers =
        crate::listeners::serve_all(&listeners, app, &state, inherited, &mut handover).await?;
    {
        let state = state.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown_signal() => state.lifecycle.request(Lifecycle::Shutdown),
                _ = state.lifecycle.ended() => {}
            }
            state.lifecycle.ended().await;
            // Open event streams and device connections would hold the
            // graceful shutdown forever.
            state.events.disconnect_all();
            state.devices.close_all();
        });
    }
    spawn_session_expiry(state.clone());
    spawn_bucket_measurer(state.clone());
    crate::storage::replication::spawn(state.clone());
    spawn_stats_sampler(state.clone());
    crate::service::self_backup::spawn_scheduler(state.clone());
    crate::devices::watch::spawn(state.clone());
    state
        .events
        .emit(SEVT_SERVER_STARTED, "system", "", "", None);
    while let Some(result) = servers.join_next().await {
        result??;
    }
    state
        .events
        .emit(SEVT_SERVER_SHUTDOWN, "system", "", "", None);
    // Let the sinks write what they hold before the process ends.
    state.events.detach_sinks();
    let _ = tokio::time::timeout(Duration::from_secs(10), sink_task).await;
    state.deliveries.stop_all();
    Ok(Ended {
        lifecycle: state.lifecycle.current(),
        handover,
    })
}

/// Shows the activated serial in the configuration (`License.SerialNumber`),
/// where a Comet Server keeps it and integrations read it.
async fn record_serial(config: &ConfigStore, serial: &str) -> anyhow::Result<()> {
    if config.get().license.serial_number == serial {
        return Ok(());
    }
    config
        .update(|config| -> anyhow::Result<()> {
            config.license.serial_number = serial.to_string();
            Ok(())
        })
        .await
        .context("recording the serial in the configuration")
}

/// The database `--database` names, else the data directory's `halley.db`.
fn database_of(options: &Options) -> Database {
    match &options.database {
        Some(text) if !text.is_empty() => Database::parse(text),
        _ => Database::Sqlite(options.data_dir.join(DATABASE_FILE)),
    }
}

/// This node's name among the nodes of one database: made at first start
/// and kept in the data directory, so that a restarted node takes back its
/// own leases and claims at once.
fn node_name(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("node-id");
    if let Ok(name) = std::fs::read_to_string(&path) {
        if !name.trim().is_empty() {
            return Ok(name.trim().to_string());
        }
    }
    let name = crate::util::random_hex(8);
    std::fs::write(&path, &name).with_context(|| format!("writing {}", path.display()))?;
    Ok(name)
}

async fn open_database(
    database: &Database,
    node: &str,
) -> anyhow::Result<(Arc<dyn Store>, Option<Arc<Cluster>>)> {
    if let Database::Sqlite(path) = database {
        crate::private_files::prepare_database(path)
            .with_context(|| format!("restricting {} to its owner", path.display()))?;
    }
    let opened = database
        .open_with_cluster(node)
        .await
        .with_context(|| format!("opening the database {}", database.display()))?;
    tracing::info!("database: {}", database.display());
    Ok(opened)
}

/// `--copy-database-to`: the whole database, as one logical export, into an
/// empty one. The server should be stopped, so that nothing is written meanwhile.
pub async fn copy_database(options: &Options, target: &str) -> anyhow::Result<()> {
    let source = database_of(options);
    let target = Database::parse(target);
    if source == target {
        anyhow::bail!("--copy-database-to names the database the server uses");
    }
    let tool = "copy-database";
    let tables = open_database(&source, tool)
        .await?
        .0
        .export(&crate::auth::TenantScope::server_wide(), Default::default())
        .await
        .context("reading the database")?;
    let (copy, _) = open_database(&target, tool).await?;
    if !copy
        .user_list(&crate::auth::TenantScope::server_wide())
        .await?
        .is_empty()
    {
        anyhow::bail!(
            "{} already holds accounts: the copy goes only into an empty database",
            target.display()
        );
    }
    copy.import(&tables)
        .await
        .with_context(|| format!("writing into {}", target.display()))?;
    let rows: usize = tables.iter().map(|table| table.rows.len()).sum();
    println!(
        "copied {rows} rows of {} tables into {}",
        tables.len(),
        target.display()
    );
    Ok(())
}

/// On a server with no administrator: loopback-only servers get `admin` /
/// `admin` so the documented examples work as written; a server reachable from
/// outside gets an administrator only with an explicit initial password.
async fn bootstrap_admin(
    state: &AppState,
    addresses: &[SocketAddr],
    initial_password: Option<&str>,
) -> anyhow::Result<()> {
    if !state.config.get().admin_users.is_empty() {
        return Ok(());
    }
    let loopback_only = addresses.iter().all(|a| a.ip().is_loopback());
    let password = match initial_password {
        Some(password) if !password.is_empty() => password.to_string(),
        _ if loopback_only => {
            tracing::warn!("==================================================================");
            tracing::warn!("No administrator existed: created 'admin' with password 'admin'.");
            tracing::warn!("CHANGE THIS PASSWORD before exposing the server to any network.");
            tracing::warn!("==================================================================");
            "admin".to_string()
        }
        _ => {
            tracing::warn!(
                "No administrator exists and the server listens beyond loopback: none was created. \
                 Restart with --initial-admin-password, or call /api/v1/admin/add-first-admin-user."
            );
            return Ok(());
        }
    };
    let created = state
        .config
        .update(|config| -> anyhow::Result<bool> {
            if !config.admin_users.is_empty() {
                return Ok(false);
            }
            config.admin_users.push(new_admin("admin", &password, ""));
            Ok(true)
        })
        .await?;
    if created {
        state
            .events
            .emit(SEVT_ACCOUNT_ADMIN_NEW, "system", "", "admin", None);
    }
    Ok(())
}

/// Records the server's figures now and every hour, for `meta/stats`.
fn spawn_stats_sampler(state: Arc<AppState>) {
    tokio::spawn(async move {
        let every = Duration::from_secs(crate::api::STATS_SAMPLE_EVERY_SECONDS);
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if !state.leads("stats-sampler", every * 2).await {
                continue;
            }
            if let Err(err) = state.store.stats_sample(crate::util::now_unix()).await {
                tracing::warn!("sampling statistics: {err}");
            }
        }
    });
}

/// Measures the Storage Role's buckets now and every
/// [`crate::storage::buckets::MEASURE_EVERY`], while the role is on.
fn spawn_bucket_measurer(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::storage::buckets::MEASURE_EVERY);
        loop {
            tick.tick().await;
            if state.config.get().storage_role.role_enabled {
                crate::storage::buckets::measure_all(&state).await;
            }
        }
    });
}

fn spawn_session_expiry(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(err) = crate::auth::sessions::expire_idle(&state).await {
                tracing::warn!("expiring sessions: {err:?}");
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
