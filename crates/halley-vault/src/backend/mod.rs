//! Storage backends: where a repository's files live.
//!
//! The engine sees a flat key space (`config`, `keys/<id>`, `data/<xx>/<id>`,
//! `index/<id>`, `snapshots/<id>`, `locks/<id>`) through one blocking trait, so
//! the pipeline threads need no async runtime; the object-store backend runs
//! its own small runtime inside.

mod azure;
mod bucket;
mod gcs;
mod local;
mod object;
mod sftp;
mod url;

pub use azure::{open_azure, AzureLocation};
pub use bucket::{BucketBackend, BucketLocation, BUCKET_PROTOCOL_PATH};
pub use gcs::{open_gcs, GcsLocation};
pub use local::LocalBackend;
pub use object::ObjectBackend;
pub use sftp::{SftpBackend, SftpLocation};
pub use url::{open_location, open_s3, open_webdav, S3Location};

use crate::error::Result;

/// One stored file as listed by [`Backend::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The full key, e.g. `index/3fa1…`.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// A place that stores whole files by key.
///
/// `put` must be atomic: a reader sees either no file or the complete one,
/// never a prefix, whatever happens to the writer (the kill -9 guarantee
/// rests on this).
pub trait Backend: Send + Sync {
    /// Where this backend points, for messages.
    fn location(&self) -> String;
    /// The whole file; [`crate::VaultError::Missing`] when it does not exist.
    fn get(&self, key: &str) -> Result<Vec<u8>>;
    /// `len` bytes from `offset`; short or missing data is an error.
    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>>;
    /// Stores a whole file atomically, replacing any previous one.
    fn put(&self, key: &str, data: &[u8]) -> Result<()>;
    /// Removes a file; removing a missing file succeeds.
    fn delete(&self, key: &str) -> Result<()>;
    /// Every file whose key starts with `prefix` (which ends with `/`).
    fn list(&self, prefix: &str) -> Result<Vec<Listed>>;
    /// Checks that the place the backend points into exists (an object
    /// store's bucket or container); with `create`, creates it where the
    /// backend knows how. A missing one is an error that names it.
    fn prepare(&self, create: bool) -> Result<()> {
        let _ = create;
        Ok(())
    }
    /// Removes leftovers of interrupted writes, if the backend has any.
    fn clean_temporary(&self) -> Result<()> {
        Ok(())
    }
}
