//! `cometd.cfg`: the server configuration, a JSON `ServerConfigOptions` that
//! administrators may also edit by hand. The server keeps it in memory and
//! rewrites it atomically (temp file, fsync, rename) on every change.
//!
//! On PostgreSQL the configuration lives in the database, shared by every
//! node: a change locks the row, applies to the stored configuration (not to
//! this node's copy, which may be a change behind) and notifies the others,
//! which then load it. `cometd.cfg` becomes an export, rewritten at every
//! change, and an import: it fills an empty database, or replaces the
//! stored configuration with `--import-config`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use halley_api::types::{HTTPConnectorOptions, ServerConfigOptions};

use crate::store::cluster::Cluster;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8060";
/// Idle lifetime of a session when `SessionSettings.ExpiredInSeconds` is 0.
pub const DEFAULT_SESSION_SECONDS: u64 = 30 * 60;

pub struct ConfigStore {
    path: PathBuf,
    current: RwLock<Arc<ServerConfigOptions>>,
    /// Serialises read-modify-write cycles so no update is lost.
    writer: tokio::sync::Mutex<()>,
    /// Counts changes, so that what was derived from an older configuration
    /// (a cached session, an open event stream) can tell it is stale.
    generation: tokio::sync::watch::Sender<u64>,
    /// On PostgreSQL: where the configuration lives, and the version of it
    /// this node holds.
    cluster: Option<Arc<Cluster>>,
    version: AtomicI64,
}

impl ConfigStore {
    /// Reads the file, or writes a fresh default one when there is none.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        let config = if path.exists() {
            crate::private_files::restrict_file(path)
                .with_context(|| format!("restricting {} to its owner", path.display()))?;
            let text =
                fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid configuration", path.display()))?
        } else {
            let config = default_config();
            write_atomically(path, &config)?;
            config
        };
        Ok(ConfigStore::holding(path, config, None, 0))
    }

    fn holding(
        path: &Path,
        config: ServerConfigOptions,
        cluster: Option<Arc<Cluster>>,
        version: i64,
    ) -> Self {
        ConfigStore {
            path: path.to_path_buf(),
            current: RwLock::new(Arc::new(config)),
            writer: tokio::sync::Mutex::new(()),
            generation: tokio::sync::watch::Sender::new(0),
            cluster,
            version: AtomicI64::new(version),
        }
    }

    /// The configuration of the cluster's database: the stored one, or the
    /// file's when none is stored yet or `import` asks for it.
    pub async fn open_shared(
        path: &Path,
        cluster: Arc<Cluster>,
        import: bool,
    ) -> anyhow::Result<Self> {
        let file = if path.exists() {
            let text =
                fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid configuration", path.display()))?
        } else {
            default_config()
        };
        let file_doc = serde_json::to_string(&file)?;
        let (doc, version) = match cluster.config_load().await? {
            Some(_) if import => {
                let version = cluster.config_edit().await?.commit(&file_doc).await?;
                tracing::info!("configuration imported from {}", path.display());
                (file_doc, version)
            }
            Some(stored) => stored,
            None => cluster.config_init(&file_doc).await?,
        };
        let config: ServerConfigOptions =
            serde_json::from_str(&doc).context("the database's configuration is not valid")?;
        write_atomically(path, &config)?;
        Ok(ConfigStore::holding(path, config, Some(cluster), version))
    }

    /// Loads the shared configuration if another node changed it; says
    /// whether it did.
    pub async fn refresh(&self) -> anyhow::Result<bool> {
        let Some(cluster) = &self.cluster else {
            return Ok(false);
        };
        let _guard = self.writer.lock().await;
        let Some((doc, version)) = cluster.config_load().await? else {
            return Ok(false);
        };
        if version <= self.version.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let config = serde_json::from_str(&doc).context("the database's configuration")?;
        self.install(config, version);
        Ok(true)
    }

    /// Makes `config` current (version `version` of the shared one) and
    /// writes it to the file, which on a cluster is only its export.
    fn install(&self, config: ServerConfigOptions, version: i64) {
        if let Err(why) = write_atomically(&self.path, &config) {
            tracing::warn!(
                "exporting the configuration to {}: {why:#}",
                self.path.display()
            );
        }
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(config);
        self.version.store(version, Ordering::SeqCst);
        self.generation.send_modify(|generation| *generation += 1);
    }

    /// The configuration as it is now.
    pub fn get(&self) -> Arc<ServerConfigOptions> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Applies `change` to a copy and, when it succeeds, persists the copy and
    /// makes it current. A failing `change` leaves file and memory untouched.
    pub async fn update<R, E>(
        &self,
        change: impl FnOnce(&mut ServerConfigOptions) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<anyhow::Error>,
    {
        let _guard = self.writer.lock().await;
        let Some(cluster) = &self.cluster else {
            let mut next = (*self.get()).clone();
            let result = change(&mut next)?;
            write_atomically(&self.path, &next).map_err(E::from)?;
            *self
                .current
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(next);
            self.generation.send_modify(|generation| *generation += 1);
            return Ok(result);
        };
        let edit = cluster.config_edit().await.map_err(anyhow::Error::from)?;
        let mut next: ServerConfigOptions = serde_json::from_str(&edit.doc)
            .context("the database's configuration")
            .map_err(E::from)?;
        // A refused change drops the edit, which rolls back.
        let result = change(&mut next)?;
        let doc = serde_json::to_string(&next).map_err(anyhow::Error::from)?;
        let version = edit.commit(&doc).await.map_err(anyhow::Error::from)?;
        self.install(next, version);
        Ok(result)
    }

    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    pub fn session_idle_seconds(&self) -> u64 {
        match self.get().session_settings.expired_in_seconds {
            0 => DEFAULT_SESSION_SECONDS,
            seconds => seconds,
        }
    }
}

pub fn default_config() -> ServerConfigOptions {
    let mut config = ServerConfigOptions {
        listen_addresses: vec![HTTPConnectorOptions {
            listen_address: DEFAULT_LISTEN.to_string(),
            ..Default::default()
        }],
        ..Default::default()
    };
    config.authentication_role.role_enabled = true;
    // Client packages can be downloaded out of the box, as from Comet.
    config.software_build_role.role_enabled = true;
    config.login_protection.enabled = true;
    config.login_protection.failure_threshold = 10;
    config.login_protection.cooldown_seconds = 300;
    config.branding.brand_name = "Halley".to_string();
    config.branding.product_name = "Halley Backup".to_string();
    config
}

fn write_atomically(path: &Path, config: &ServerConfigOptions) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(config)?;
    text.push(b'\n');
    let temp = path.with_extension("cfg.tmp");
    {
        // Administrator password hashes and SMTP and LDAP passwords live
        // here: the owner's alone.
        let mut file = crate::private_files::create_private(&temp)
            .with_context(|| format!("creating {}", temp.display()))?;
        file.write_all(&text)?;
        file.sync_all()?;
    }
    fs::rename(&temp, path).with_context(|| format!("replacing {}", path.display()))?;
    if let Some(dir) = path.parent() {
        // The rename itself is durable only once the directory entry is.
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}
