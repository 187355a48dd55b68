//! Engines: how a Protected Item's data becomes a snapshot. Each engine is a
//! module with one `run` function over an [`EngineContext`]; [`run`] picks
//! one by `SourceConfig.Engine`. An engine this agent lacks fails at once
//! with a message naming it and the platform, never a silent success.
//! `docs/agent.md` lists the `EngineProps` keys each engine reads.

mod file;
pub mod mysql;
mod stdout;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use halley_api::constants::*;
use halley_api::types::SourceConfig;
use halley_vault::{BackupOptions, Progress, Repository, SnapshotInfo, VaultError};

/// What an engine is given. Engines run on a blocking thread.
pub struct EngineContext<'a> {
    pub repo: &'a Repository,
    /// The Protected Item's ID: the snapshot's source name.
    pub source_id: &'a str,
    pub source: &'a SourceConfig,
    /// An API compression level (`COMPRESS_LVL_*`).
    pub compression: i64,
    pub progress: &'a (dyn Fn(&Progress) + Sync),
    /// Set when the job must stop (cancelled, quota, time limit).
    pub stop: Arc<AtomicBool>,
    /// A line for the job's log.
    pub log: &'a (dyn Fn(LogLevel, String) + Sync),
}

impl EngineContext<'_> {
    fn options(&self) -> BackupOptions {
        BackupOptions {
            source: self.source_id.to_string(),
            compression: self.compression,
            stop: Some(self.stop.clone()),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Info,
    Warning,
    Error,
}

impl LogLevel {
    pub fn severity(self) -> &'static str {
        match self {
            LogLevel::Info => SEVERITY_INFO,
            LogLevel::Warning => SEVERITY_WARNING,
            LogLevel::Error => SEVERITY_ERROR,
        }
    }
}

/// What a finished engine run wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineOutcome {
    pub snapshot_id: String,
    pub files: u64,
    pub directories: u64,
    /// Bytes of the protected data (`TotalSize`).
    pub total_bytes: u64,
    /// Bytes newly stored in the vault (`UploadSize`).
    pub uploaded_bytes: u64,
    pub chunks: u64,
    /// Entries that could not be read (the job ends with a warning).
    pub warnings: Vec<String>,
}

impl From<SnapshotInfo> for EngineOutcome {
    fn from(info: SnapshotInfo) -> Self {
        let summary = &info.snapshot.summary;
        EngineOutcome {
            snapshot_id: info.id.to_hex(),
            files: summary.files,
            directories: summary.dirs,
            total_bytes: summary.bytes,
            uploaded_bytes: summary.stored_bytes,
            chunks: summary.new_blobs,
            warnings: summary.errors.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Failed(String),
    #[error("the job was stopped")]
    Stopped,
    /// The storage refused a write: its own quota is used up.
    #[error("{0}")]
    StorageFull(String),
    #[error("engine {engine} is not available on {platform}: this agent backs up files ({ENGINE_BUILTIN_FILE}), program output ({ENGINE_BUILTIN_STDOUT}) and MySQL or MariaDB databases ({ENGINE_BUILTIN_MYSQL})")]
    Unsupported { engine: String, platform: String },
}

impl From<VaultError> for EngineError {
    fn from(err: VaultError) -> Self {
        match err {
            VaultError::Stopped => EngineError::Stopped,
            full @ VaultError::QuotaExceeded(_) => EngineError::StorageFull(full.to_string()),
            other => EngineError::Failed(other.to_string()),
        }
    }
}

/// Whether this agent can run `engine`; the error names it otherwise.
pub fn check_supported(engine: &str) -> Result<(), EngineError> {
    match engine {
        ENGINE_BUILTIN_FILE | ENGINE_BUILTIN_STDOUT | ENGINE_BUILTIN_MYSQL => Ok(()),
        other => Err(EngineError::Unsupported {
            engine: if other.is_empty() {
                "(none)".into()
            } else {
                other.to_string()
            },
            platform: format!("linux/{}", crate::platform::arch()),
        }),
    }
}

pub fn run(ctx: &EngineContext<'_>) -> Result<EngineOutcome, EngineError> {
    check_supported(&ctx.source.engine)?;
    match ctx.source.engine.as_str() {
        ENGINE_BUILTIN_FILE => file::run(ctx),
        ENGINE_BUILTIN_STDOUT => stdout::run(ctx),
        _ => mysql::run(ctx),
    }
}

/// An `EngineProps` value, or the empty string.
fn prop<'a>(ctx: &'a EngineContext<'_>, key: &str) -> &'a str {
    ctx.source
        .engine_props
        .get(key)
        .map(String::as_str)
        .unwrap_or("")
}
