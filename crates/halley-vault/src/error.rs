//! The one error type of the library: every failure says what and where.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;

/// What can go wrong while using a vault.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No key file of the repository opens with the given password.
    #[error("wrong password: no key of the repository at {repo} opens with it")]
    WrongPassword { repo: String },

    /// The location holds no repository.
    #[error("no Halley vault at {0} (run `halley-vault init` first)")]
    NotARepository(String),

    /// `init` was asked for a location that already holds a repository.
    #[error("a Halley vault already exists at {0}")]
    AlreadyExists(String),

    /// The repository was written by a newer or unknown format version.
    #[error("unsupported repository format version {0} (this build reads version {1})")]
    UnsupportedVersion(u32, u32),

    /// A stored object failed authentication, decoding or a consistency check.
    #[error("damaged {what}: {detail}")]
    Corrupt { what: String, detail: String },

    /// An object the repository refers to is missing.
    #[error("missing {0}")]
    Missing(String),

    /// Another process holds a conflicting lock.
    #[error("repository is locked by {0}")]
    Locked(String),

    /// A snapshot name or prefix matched nothing, or more than one snapshot.
    #[error("snapshot {0}")]
    SnapshotNotFound(String),

    /// A path inside a snapshot does not exist.
    #[error("no such path in snapshot: {0}")]
    PathNotFound(String),

    /// A filter or option given by the caller is invalid.
    #[error("invalid {what}: {detail}")]
    InvalidInput { what: String, detail: String },

    /// A local file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A storage backend operation failed.
    #[error("backend {op} {key}: {detail}")]
    Backend {
        op: &'static str,
        key: String,
        detail: String,
    },

    /// The storage refused a write because its quota is used up.
    #[error("over quota: {0}")]
    QuotaExceeded(String),

    /// The caller stopped the operation (`BackupOptions::stop`).
    #[error("stopped before it finished")]
    Stopped,

    /// Restore finished but some entries could not be restored.
    #[error("{} entries could not be restored, first: {}", .0.len(), .0.first().map(String::as_str).unwrap_or(""))]
    Incomplete(Vec<String>),
}

impl VaultError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VaultError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        VaultError::Corrupt {
            what: what.into(),
            detail: detail.to_string(),
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        VaultError::InvalidInput {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}
