//! Object stores through the `object_store` crate: S3-compatible services
//! (`DESTINATIONTYPE_S3`), and whatever else that crate speaks.
//!
//! Object stores make each PUT atomic by themselves, which is what
//! [`Backend::put`] requires. The engine's threads call in synchronously; a
//! private multi-threaded runtime drives the requests.

use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutPayload};

use super::{Backend, Listed};
use crate::error::{Result, VaultError};

/// A backend over any [`ObjectStore`], below an optional key prefix.
pub struct ObjectBackend {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    location: String,
    runtime: tokio::runtime::Runtime,
}

impl ObjectBackend {
    /// Wraps `store`; keys are stored below `prefix` (may be empty).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, location: String) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| VaultError::io("start runtime for", location.clone(), e))?;
        Ok(ObjectBackend {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            location,
            runtime,
        })
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
            e => VaultError::Backend {
                op,
                key: format!("{} ({key})", self.location),
                detail: e.to_string(),
            },
        }
    }
}

impl Backend for ObjectBackend {
    fn location(&self) -> String {
        self.location.clone()
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
        let payload = PutPayload::from(data.to_vec());
        self.runtime
            .block_on(self.store.put(&path, payload))
            .map_err(|e| self.err("put", key, e))?;
        Ok(())
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
