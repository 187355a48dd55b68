//! Object stores through the `object_store` crate: S3-compatible services
//! (`DESTINATIONTYPE_S3`), Azure Blob Storage, Google Cloud Storage, WebDAV,
//! and whatever else that crate speaks.
//!
//! Object stores make each PUT atomic by themselves, which is what
//! [`Backend::put`] requires. The engine's threads call in synchronously; a
//! private multi-threaded runtime drives the requests.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutPayload};

use super::{Backend, Listed};
use crate::error::{Result, VaultError};

/// Creates a missing bucket or container.
pub(crate) type CreateBucket = Box<dyn Fn() -> BoxFuture<'static, Result<()>> + Send + Sync>;

/// The bucket or container an object store lives in, so that a missing one
/// is reported by name, and created at `init` where the backend can.
pub(crate) struct Bucket {
    /// What the service calls it: `bucket` or `container`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// How to create it, where the backend knows how.
    pub create: Option<CreateBucket>,
    /// Whether it exists, where the backend can ask directly: `None` when
    /// the answer is unclear (then a listing decides).
    pub exists: Option<BucketExists>,
}

/// Asks whether a bucket or container exists.
pub(crate) type BucketExists = Box<dyn Fn() -> BoxFuture<'static, Option<bool>> + Send + Sync>;

/// Stores one whole object by its full name, where a backend uploads in
/// another way than the store's own `put`.
pub(crate) type PutObject = Box<
    dyn Fn(String, Vec<u8>) -> BoxFuture<'static, std::result::Result<(), String>> + Send + Sync,
>;

/// A backend over any [`ObjectStore`], below an optional key prefix.
pub struct ObjectBackend {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    location: String,
    runtime: OwnRuntime,
    bucket: Option<Bucket>,
    put_object: Option<PutObject>,
}

/// The backend's private runtime. Dropped without waiting for its
/// threads, so a backend may be dropped inside another runtime (an agent's
/// job) as well as outside one.
pub(crate) struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl OwnRuntime {
    /// Two worker threads, for the backend of `location`.
    pub(crate) fn new(location: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| VaultError::io("start runtime for", location, e))?;
        Ok(OwnRuntime(Some(runtime)))
    }
}

impl std::ops::Deref for OwnRuntime {
    type Target = tokio::runtime::Runtime;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("present until dropped")
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl ObjectBackend {
    /// Wraps `store`; keys are stored below `prefix` (may be empty).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, location: String) -> Result<Self> {
        let runtime = OwnRuntime::new(&location)?;
        Ok(ObjectBackend {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            location,
            runtime,
            bucket: None,
            put_object: None,
        })
    }

    /// Uploads with `put` instead of the store's own.
    pub(crate) fn with_put(mut self, put: PutObject) -> Self {
        self.put_object = Some(put);
        self
    }

    /// Names the bucket or container the store lives in (see
    /// [`Backend::prepare`]).
    pub(crate) fn with_bucket(mut self, bucket: Bucket) -> Self {
        self.bucket = Some(bucket);
        self
    }

    fn path(&self, key: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(key)
        } else {
            ObjPath::from(format!("{}/{key}", self.prefix))
        }
    }

    fn err(&self, op: &'static str, key: &str, e: object_store::Error) -> VaultError {
        match e {
            object_store::Error::NotFound { .. } => {
                VaultError::Missing(format!("{key} in {}", self.location))
            }
            e @ (object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }) => VaultError::Backend {
                op,
                key: format!("{} ({key})", self.location),
                detail: format!("access refused, check the credentials: {e}"),
            },
            e => VaultError::Backend {
                op,
                key: format!("{} ({key})", self.location),
                detail: e.to_string(),
            },
        }
    }
}

/// Whether a failed listing says the bucket or container itself is missing:
/// the services answer 404 to listing one that does not exist, and an empty
/// list for one that exists but holds nothing.
fn says_not_found(e: &object_store::Error) -> bool {
    if matches!(e, object_store::Error::NotFound { .. }) {
        return true;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.contains("404 Not Found")
        || text.contains("NoSuchBucket")
        || text.contains("ContainerNotFound")
}

impl Backend for ObjectBackend {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn prepare(&self, create: bool) -> Result<()> {
        let Some(bucket) = &self.bucket else {
            return Ok(());
        };
        let asked = match &bucket.exists {
            Some(exists) => self.runtime.block_on(exists()),
            None => None,
        };
        let exists = match asked {
            Some(answer) => answer,
            None => {
                let probe = self.path("config");
                match self
                    .runtime
                    .block_on(self.store.list_with_delimiter(Some(&probe)))
                {
                    Ok(_) => true,
                    Err(e) if says_not_found(&e) => false,
                    Err(e) => return Err(self.err("list", "config", e)),
                }
            }
        };
        if exists {
            return Ok(());
        }
        match (&bucket.create, create) {
            (Some(make), true) => self.runtime.block_on(make()),
            (None, true) => Err(VaultError::Missing(format!(
                "{} {:?} of {}: it does not exist; create it first",
                bucket.kind, bucket.name, self.location
            ))),
            (_, false) => Err(VaultError::Missing(format!(
                "{} {:?} of {}: it does not exist",
                bucket.kind, bucket.name, self.location
            ))),
        }
    }

    fn get(&self, key: &str) -> Result<Vec<u8>> {
        let path = self.path(key);
        self.runtime.block_on(async {
            let r = self
                .store
                .get(&path)
                .await
                .map_err(|e| self.err("get", key, e))?;
            let b = r.bytes().await.map_err(|e| self.err("get", key, e))?;
            Ok(b.to_vec())
        })
    }

    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let path = self.path(key);
        let b = self
            .runtime
            .block_on(self.store.get_range(&path, offset..offset + len))
            .map_err(|e| self.err("get", key, e))?;
        if b.len() as u64 != len {
            return Err(VaultError::corrupt(
                key.to_string(),
                "object shorter than the index says",
            ));
        }
        Ok(b.to_vec())
    }

    fn put(&self, key: &str, data: &[u8]) -> Result<()> {
        let path = self.path(key);
        if let Some(put) = &self.put_object {
            return self
                .runtime
                .block_on(put(path.to_string(), data.to_vec()))
                .map_err(|detail| VaultError::Backend {
                    op: "put",
                    key: format!("{} ({key})", self.location),
                    detail,
                });
        }
        // A WebDAV server creates the missing collections of a path one
        // MKCOL at a time; two writers racing for the same new collection
        // make one of them fail ("MKCOL can only be executed on an unmapped
        // URL"), after which the collection exists: that writer tries again.
        let mut attempts = 0;
        loop {
            let payload = PutPayload::from(data.to_vec());
            match self.runtime.block_on(self.store.put(&path, payload)) {
                Ok(_) => return Ok(()),
                Err(e) if attempts < 3 && e.to_string().contains("MKCOL") => attempts += 1,
                Err(e) => return Err(self.err("put", key, e)),
            }
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key);
        match self.runtime.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("delete", key, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        let p = self.path(prefix.trim_end_matches('/'));
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let metas: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.store.list(Some(&p)).try_collect())
            .map_err(|e| self.err("list", prefix, e))?;
        let mut out: Vec<Listed> = metas
            .into_iter()
            .filter_map(|m| {
                let full = m.location.to_string();
                full.strip_prefix(&strip).map(|k| Listed {
                    key: k.to_string(),
                    size: m.size,
                })
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}
