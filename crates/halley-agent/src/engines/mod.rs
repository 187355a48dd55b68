//! Engines: how a Protected Item's data becomes a snapshot. Each engine is a
//! module with one `run` function over an [`EngineContext`]; [`run`] picks
//! one by `SourceConfig.Engine`. An engine this agent lacks fails at once
//! with a message naming it and the platform, never a silent success.

use std::sync::atomic::AtomicBool;

use halley_api::types::SourceConfig;
use halley_vault::{Progress, Repository};

/// What an engine is given. Engines run on a blocking thread.
pub struct EngineContext<'a> {
    pub repo: &'a Repository,
    /// The Protected Item's ID: the snapshot's source name.
    pub source_id: &'a str,
    pub source: &'a SourceConfig,
    /// An API compression level (`COMPRESS_LVL_*`).
    pub compression: i64,
    pub progress: &'a (dyn Fn(&Progress) + Sync),
    /// Set when the job is cancelled; engines check it between files.
    pub cancelled: &'a AtomicBool,
    /// A line for the job's log.
    pub log: &'a (dyn Fn(LogLevel, String) + Sync),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Info,
    Warning,
    Error,
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

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Failed(String),
    #[error("the job was cancelled")]
    Cancelled,
    #[error("engine {engine} is not available on {platform}")]
    Unsupported { engine: String, platform: String },
}
