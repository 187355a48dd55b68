//! What the agent keeps between runs, in its state directory:
//! `agent.json` (the server, the account and the device's credentials,
//! 0600, the directory 0700) and `status.json` (what `run` last saw, for
//! `halley-agent status`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub const DEFAULT_STATE_DIR: &str = "/var/lib/halley-agent";

/// `agent.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentState {
    /// The server's base URL, e.g. `https://backup.example.com`.
    pub server: String,
    /// Chosen once and kept, also across logins, so the server sees one device.
    pub device_id: String,
    pub device_name: String,
    /// Empty until registered.
    pub username: String,
    pub device_key: String,
    /// Base64 of the account key that opens the account's vault passwords.
    pub account_key: String,
}

impl AgentState {
    pub fn registered(&self) -> bool {
        !self.device_key.is_empty() && !self.username.is_empty()
    }
}

/// `status.json`, rewritten by `run`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    /// `connected`, `lobby`, `reconnecting`, `refused` or `stopped`.
    pub connection: String,
    pub since: i64,
    pub detail: String,
    /// The last job of each backup rule (rule ID → job).
    pub last_jobs: BTreeMap<String, LastJob>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LastJob {
    pub job_id: String,
    pub status: u64,
    pub start_time: i64,
    pub end_time: i64,
    pub message: String,
}

pub struct StateDir {
    pub path: PathBuf,
}

impl StateDir {
    pub fn new(path: impl Into<PathBuf>) -> StateDir {
        StateDir { path: path.into() }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn load(&self) -> Result<AgentState> {
        read_json(&self.file("agent.json")).map(Option::unwrap_or_default)
    }

    pub fn save(&self, state: &AgentState) -> Result<()> {
        self.write_private("agent.json", state)
    }

    pub fn load_status(&self) -> Result<Status> {
        read_json(&self.file("status.json")).map(Option::unwrap_or_default)
    }

    pub fn save_status(&self, status: &Status) -> Result<()> {
        self.write_private("status.json", status)
    }

    /// Writes a whole file under a temporary name, 0600, then renames it,
    /// so a crash never leaves half a file.
    fn write_private(&self, name: &str, value: &impl Serialize) -> Result<()> {
        fs::create_dir_all(&self.path)
            .with_context(|| format!("creating the state directory {}", self.path.display()))?;
        fs::set_permissions(&self.path, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("securing {}", self.path.display()))?;
        let target = self.file(name);
        let temporary = self.file(&format!(".{name}.tmp"));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("writing {}", temporary.display()))?;
        file.write_all(&serde_json::to_vec_pretty(value)?)?;
        file.sync_all()?;
        fs::rename(&temporary, &target).with_context(|| format!("writing {}", target.display()))?;
        Ok(())
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not valid", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_private_and_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let states = StateDir::new(dir.path().join("state"));
        assert_eq!(states.load().unwrap(), AgentState::default());
        let state = AgentState {
            server: "http://127.0.0.1:1".into(),
            device_id: "d".into(),
            device_key: "k".into(),
            username: "u".into(),
            ..Default::default()
        };
        states.save(&state).unwrap();
        assert_eq!(states.load().unwrap(), state);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&states.path.join("agent.json")), 0o600);
        assert_eq!(mode(&states.path), 0o700);
    }
}
