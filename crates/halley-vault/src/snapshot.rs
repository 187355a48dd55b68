//! Snapshot manifests: what was backed up, from where, when, and the root of
//! its tree.

use serde::{Deserialize, Serialize};

use crate::id::Id;

/// The engine that produced a snapshot (the API's `SourceConfig.Engine`).
pub const ENGINE_FILE: &str = "engine1/file";
/// A program's output stream.
pub const ENGINE_STDOUT: &str = "engine1/stdout";

/// Counters of one backup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSummary {
    /// Files seen.
    pub files: u64,
    /// Directories seen.
    pub dirs: u64,
    /// Bytes of file content seen.
    pub bytes: u64,
    /// Files whose content was read (the rest were unchanged since the parent).
    pub files_read: u64,
    /// Blobs stored by this backup (not already in the repository).
    pub new_blobs: u64,
    /// Plaintext bytes of those blobs.
    pub new_bytes: u64,
    /// Bytes written to the backend (packs and index).
    pub stored_bytes: u64,
    /// Entries that could not be read, with the reason; the snapshot has the rest.
    #[serde(default)]
    pub errors: Vec<String>,
}

/// The stored form of `snapshots/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the backup started, Unix seconds (UTC).
    pub time: i64,
    /// Nanoseconds part of `time` (orders snapshots of the same second).
    #[serde(default)]
    pub time_nsec: u32,
    /// The machine.
    pub hostname: String,
    /// The source's name (a Protected Item name or id).
    pub source: String,
    /// `engine1/file` or `engine1/stdout`.
    pub engine: String,
    /// What was backed up: the include paths, or the command line.
    pub paths: Vec<String>,
    /// Root tree blob.
    pub tree: Id,
    /// The snapshot whose metadata was used to skip unchanged files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Id>,
    /// Free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Counters.
    pub summary: BackupSummary,
    /// The program that wrote it.
    pub program: String,
}

/// A snapshot with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// `snapshots/<id>`.
    pub id: Id,
    /// The manifest.
    pub snapshot: Snapshot,
}
