//! `cometd.cfg`: the server configuration, a JSON `ServerConfigOptions` that
//! administrators may also edit by hand. The server keeps it in memory and
//! rewrites it atomically (temp file, fsync, rename) on every change.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use halley_api::types::{HTTPConnectorOptions, ServerConfigOptions};

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
        Ok(ConfigStore {
            path: path.to_path_buf(),
            current: RwLock::new(Arc::new(config)),
            writer: tokio::sync::Mutex::new(()),
            generation: tokio::sync::watch::Sender::new(0),
        })
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
        let mut next = (*self.get()).clone();
        let result = change(&mut next)?;
        write_atomically(&self.path, &next).map_err(E::from)?;
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(next);
        self.generation.send_modify(|generation| *generation += 1);
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
