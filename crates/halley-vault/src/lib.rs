//! `halley-vault`: the Halley backup repository engine.
//!
//! This crate owns the on-disk (and in-bucket) format of Storage Vaults and
//! every operation on them; it has no HTTP server and no knowledge of the
//! Halley server. The agent uses it for backups and restores, the server's
//! storage role to host vaults, and the `halley-vault` binary to use and
//! benchmark it by hand. The format is specified in `docs/vault-format.md`.
//!
//! In short: files are cut into content-defined chunks (FastCDC), each named
//! by BLAKE3 keyed with a repository secret, compressed with zstd (at the
//! API's `COMPRESS_LVL_*`, skipped when it does not help), sealed with
//! XChaCha20-Poly1305 and gathered into pack files. Index files map chunks to
//! packs; each directory is a tree blob; a snapshot manifest names a root
//! tree. The secrets are wrapped by a key derived from the vault password
//! with argon2id. Backends (local directory, S3-compatible stores, SFTP, WebDAV) store whole
//! files by key.
//!
//! Modules, one job each:
//! - [`backend`]: where files live;
//! - [`crypto`], [`keyfile`], [`compress`]: sealing, keys, compression;
//! - [`pack`], [`index`], [`tree`], [`snapshot`]: the stored structures;
//! - [`repo`]: opening a repository and typed reads and writes;
//! - [`lock`]: shared and exclusive locks;
//! - [`backup`], [`restore`], [`browse`]: the operations on data;
//! - [`forget`], [`retention`], [`prune`], [`verify`], [`repair`]: maintenance;
//! - [`progress`]: progress callbacks.

pub mod backend;
pub mod backup;
pub mod browse;
pub mod compress;
pub mod crypto;
mod error;
pub mod forget;
pub mod id;
pub mod index;
pub mod keyfile;
pub mod lock;
pub mod pack;
pub mod progress;
pub mod prune;
pub mod repair;
pub mod repo;
pub mod restore;
pub mod retention;
pub mod snapshot;
pub mod tree;
pub mod verify;

pub use backup::{backup, backup_stream, backup_streams, BackupOptions, NamedStream, Selection};
pub use error::{Result, VaultError};
pub use id::Id;
pub use keyfile::KdfParams;
pub use progress::{no_progress, Progress};
pub use repo::{InitOptions, Repository};
pub use restore::{restore, restore_tar, restore_zip, RestoreSummary};
pub use snapshot::{Snapshot, SnapshotInfo};
