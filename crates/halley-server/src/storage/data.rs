//! Where the buckets' files are, and what each bucket uses.
//!
//! `StorageRole.Storage` in the configuration says where: a local path
//! (`DESTINATIONTYPE_LOCALCOPY`), or any other Storage Vault location
//! (S3-compatible storage, SFTP, ...) reached through `halley-vault`'s
//! backends, one folder per bucket. Unset, the first `LocalStorage` path, or
//! `buckets/` in the data directory. On local disk, reads and writes stream:
//! a write goes to a file of its own and is renamed into place once whole,
//! so a reader never sees part of one.

use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use futures::StreamExt;
use halley_api::constants::DESTINATIONTYPE_LOCALCOPY;
use halley_api::types::StorageRoleOptions;
use halley_vault::backend::{Backend, Listed};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

/// Requests served at once per bucket; more wait their turn.
pub const REQUESTS_PER_BUCKET: usize = 16;
/// The largest object stored through a backend other than local disk,
/// which must be held whole (the engine's packs are far smaller).
const LARGEST_BUFFERED_OBJECT: usize = 256 << 20;
/// Local files being written, inside each bucket's folder.
const INCOMING: &str = ".incoming";

/// Where the buckets are.
#[derive(Clone)]
pub enum Place {
    Local(PathBuf),
    Backend(Arc<dyn Backend>),
}

/// Why an object operation failed, as the protocol answers it.
#[derive(Debug)]
pub enum DataError {
    Missing,
    Exists,
    OverQuota(String),
    BadRange,
    Failed(String),
}

impl From<std::io::Error> for DataError {
    fn from(err: std::io::Error) -> Self {
        match err.kind() {
            std::io::ErrorKind::NotFound => DataError::Missing,
            _ => DataError::Failed(err.to_string()),
        }
    }
}

impl From<halley_vault::VaultError> for DataError {
    fn from(err: halley_vault::VaultError) -> Self {
        match err {
            halley_vault::VaultError::Missing(_) => DataError::Missing,
            other => DataError::Failed(other.to_string()),
        }
    }
}

/// An object's bytes as they are read.
pub struct Read {
    pub body: Body,
    /// `(start, end inclusive, total)` when a range was asked for.
    pub range: Option<(u64, u64, u64)>,
    pub length: u64,
}

/// What a write must respect.
pub struct WriteRules {
    /// Refuse it if the object exists (`DataError::Exists`).
    pub only_if_absent: bool,
    /// Refuse it, changing nothing, past this many bytes in the bucket
    /// (0: no limit).
    pub quota: u64,
}

/// The buckets' storage: where, what each bucket uses, and the turns of
/// each bucket's requests.
#[derive(Default)]
pub struct BucketStorage {
    /// The place, opened once for the configuration it was opened from.
    place: Mutex<Option<(String, Place)>>,
    /// Bytes used per bucket, known since its last measurement.
    used: Mutex<HashMap<String, u64>>,
    turns: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl BucketStorage {
    /// Where the buckets are under the configuration `options`.
    pub fn place(&self, state: &AppState, options: &StorageRoleOptions) -> ApiResult<Place> {
        let config_key = serde_json::to_string(options).unwrap_or_default();
        let mut cached = self.place.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((key, place)) = cached.as_ref() {
            if *key == config_key {
                return Ok(place.clone());
            }
        }
        let storage = &options.storage;
        let place = match storage.destination_type {
            0 => Place::Local(
                options
                    .local_storage
                    .first()
                    .map(|dir| PathBuf::from(&dir.path))
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or_else(|| state.data_dir.join("buckets")),
            ),
            DESTINATIONTYPE_LOCALCOPY if !storage.localcopy_path.is_empty() => {
                Place::Local(PathBuf::from(&storage.localcopy_path))
            }
            halley_api::constants::DESTINATIONTYPE_COMET => {
                return Err(ApiError::bad_configuration(
                    "StorageRole.Storage cannot be another Storage Role bucket",
                ))
            }
            _ => Place::Backend(halley_protocol::location::open(storage).map_err(|why| {
                ApiError::bad_configuration(format!("StorageRole.Storage: {why}"))
            })?),
        };
        *cached = Some((config_key, place.clone()));
        Ok(place)
    }

    /// The turn of one request of `bucket`.
    pub async fn turn(&self, bucket: &str) -> tokio::sync::OwnedSemaphorePermit {
        let semaphore = self
            .turns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(bucket.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(REQUESTS_PER_BUCKET)))
            .clone();
        semaphore.acquire_owned().await.expect("never closed")
    }

    /// Sums the sizes of a bucket's files, and remembers the sum.
    pub async fn measure(&self, state: &AppState, bucket: &str) -> ApiResult<u64> {
        let place = self.place(state, &state.config.get().storage_role)?;
        let size = match place {
            Place::Local(root) => {
                let dir = root.join(bucket);
                tokio::task::spawn_blocking(move || walk(&dir, ""))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(|e| ApiError::internal(format!("{e:?}")))?
                    .iter()
                    .map(|l| l.size)
                    .sum()
            }
            Place::Backend(backend) => {
                let prefix = format!("{bucket}/");
                tokio::task::spawn_blocking(move || backend.list(&prefix))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(ApiError::internal)?
                    .iter()
                    .map(|l| l.size)
                    .sum()
            }
        };
        self.used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(bucket.to_string(), size);
        Ok(size)
    }

    /// What `bucket` uses, measured first if not known.
    pub async fn used(&self, state: &AppState, bucket: &str) -> ApiResult<u64> {
        let known = self
            .used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(bucket)
            .copied();
        match known {
            Some(used) => Ok(used),
            None => self.measure(state, bucket).await,
        }
    }

    fn account(&self, bucket: &str, added: u64, removed: u64) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = used.get_mut(bucket) {
            *entry = entry.saturating_add(added).saturating_sub(removed);
        }
    }

    /// Forgets a deleted bucket.
    pub fn forget(&self, bucket: &str) {
        self.used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(bucket);
    }

    /// Reads an object, or `range` (`start`, inclusive `end`: `None` for
    /// the end of the object) of it.
    pub async fn read(
        &self,
        place: &Place,
        bucket: &str,
        key: &str,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<Read, DataError> {
        match place {
            Place::Local(root) => {
                let mut file = tokio::fs::File::open(root.join(bucket).join(key)).await?;
                let meta = file.metadata().await?;
                if !meta.is_file() {
                    return Err(DataError::Missing);
                }
                let total = meta.len();
                let Some((start, end)) = range else {
                    return Ok(Read {
                        body: Body::from_stream(tokio_util::io::ReaderStream::new(file)),
                        range: None,
                        length: total,
                    });
                };
                let end = end.unwrap_or(u64::MAX).min(total.saturating_sub(1));
                if start >= total || end < start {
                    return Err(DataError::BadRange);
                }
                file.seek(SeekFrom::Start(start)).await?;
                let length = end - start + 1;
                Ok(Read {
                    body: Body::from_stream(tokio_util::io::ReaderStream::new(file.take(length))),
                    range: Some((start, end, total)),
                    length,
                })
            }
            Place::Backend(backend) => {
                let (backend, path) = (backend.clone(), format!("{bucket}/{key}"));
                let data = tokio::task::spawn_blocking(move || backend.get(&path))
                    .await
                    .map_err(|e| DataError::Failed(e.to_string()))??;
                let total = data.len() as u64;
                let Some((start, end)) = range else {
                    return Ok(Read {
                        length: total,
                        body: Body::from(data),
                        range: None,
                    });
                };
                let end = end.unwrap_or(u64::MAX).min(total.saturating_sub(1));
                if start >= total || end < start {
                    return Err(DataError::BadRange);
                }
                let part = data[start as usize..=end as usize].to_vec();
                Ok(Read {
                    length: part.len() as u64,
                    body: Body::from(part),
                    range: Some((start, end, total)),
                })
            }
        }
    }

    /// Stores an object from `body`, under the `rules` of the write.
    pub async fn write(
        &self,
        state: &AppState,
        place: &Place,
        bucket: &str,
        key: &str,
        body: Body,
        rules: WriteRules,
    ) -> Result<(), DataError> {
        let WriteRules {
            only_if_absent,
            quota,
        } = rules;
        let used = if quota > 0 {
            self.used(state, bucket)
                .await
                .map_err(|e| DataError::Failed(e.message()))?
        } else {
            0
        };
        let over = |size: u64| {
            DataError::OverQuota(format!(
                "bucket {bucket} is over its quota of {quota} bytes ({used} used, {size} more asked for)"
            ))
        };
        let mut stream = body.into_data_stream();
        match place {
            Place::Local(root) => {
                let dir = root.join(bucket);
                let incoming = dir.join(INCOMING);
                tokio::fs::create_dir_all(&incoming).await?;
                let temporary = incoming.join(crate::util::random_hex(12));
                let written = async {
                    let mut file = tokio::fs::File::create(&temporary).await?;
                    let mut size = 0u64;
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.map_err(|e| DataError::Failed(e.to_string()))?;
                        size += chunk.len() as u64;
                        if quota > 0 && used + size > quota {
                            return Err(over(size));
                        }
                        file.write_all(&chunk).await?;
                    }
                    file.sync_all().await?;
                    Ok(size)
                }
                .await;
                let size = match written {
                    Ok(size) => size,
                    Err(err) => {
                        let _ = tokio::fs::remove_file(&temporary).await;
                        return Err(err);
                    }
                };
                let target = dir.join(key);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                let replaced = tokio::fs::metadata(&target).await.map(|m| m.len()).ok();
                let placed = if only_if_absent {
                    // A link is made only where no file is: the check and
                    // the write are one step.
                    let linked = tokio::fs::hard_link(&temporary, &target).await;
                    let _ = tokio::fs::remove_file(&temporary).await;
                    match linked {
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                            return Err(DataError::Exists)
                        }
                        other => other,
                    }
                } else {
                    tokio::fs::rename(&temporary, &target).await
                };
                placed?;
                self.account(bucket, size, replaced.unwrap_or(0));
                Ok(())
            }
            Place::Backend(backend) => {
                let mut data = Vec::new();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| DataError::Failed(e.to_string()))?;
                    data.extend_from_slice(&chunk);
                    if quota > 0 && used + data.len() as u64 > quota {
                        return Err(over(data.len() as u64));
                    }
                    if data.len() > LARGEST_BUFFERED_OBJECT {
                        return Err(DataError::Failed(format!(
                            "objects over {LARGEST_BUFFERED_OBJECT} bytes are not stored on this server's storage"
                        )));
                    }
                }
                let size = data.len() as u64;
                let (backend, path) = (backend.clone(), format!("{bucket}/{key}"));
                let replaced = tokio::task::spawn_blocking(move || {
                    let existing = backend
                        .list(&format!(
                            "{}/",
                            path.rsplit_once('/').map_or("", |(d, _)| d)
                        ))?
                        .into_iter()
                        .find(|l| l.key == path)
                        .map(|l| l.size);
                    if only_if_absent && existing.is_some() {
                        return Ok(Err(DataError::Exists));
                    }
                    backend.put(&path, &data)?;
                    Ok::<_, halley_vault::VaultError>(Ok(existing))
                })
                .await
                .map_err(|e| DataError::Failed(e.to_string()))???;
                self.account(bucket, size, replaced.unwrap_or(0));
                Ok(())
            }
        }
    }

    /// Removes an object; a missing one is no error.
    pub async fn remove(&self, place: &Place, bucket: &str, key: &str) -> Result<(), DataError> {
        match place {
            Place::Local(root) => {
                let path = root.join(bucket).join(key);
                match tokio::fs::metadata(&path).await {
                    Ok(meta) => {
                        match tokio::fs::remove_file(&path).await {
                            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                                return Err(e.into())
                            }
                            _ => self.account(bucket, 0, meta.len()),
                        }
                        Ok(())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Place::Backend(backend) => {
                let (backend, path) = (backend.clone(), format!("{bucket}/{key}"));
                tokio::task::spawn_blocking(move || backend.delete(&path))
                    .await
                    .map_err(|e| DataError::Failed(e.to_string()))??;
                Ok(())
            }
        }
    }

    /// The objects whose keys start with `prefix`.
    pub async fn list(
        &self,
        place: &Place,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<Listed>, DataError> {
        let (place, bucket, prefix) = (place.clone(), bucket.to_string(), prefix.to_string());
        tokio::task::spawn_blocking(move || match place {
            Place::Local(root) => {
                let dir = root.join(&bucket);
                // Walk only the deepest folder the prefix names.
                let folder = prefix.rsplit_once('/').map_or("", |(folder, _)| folder);
                let mut listed = walk(&dir.join(folder), folder)?;
                listed.retain(|l| l.key.starts_with(&prefix));
                Ok(listed)
            }
            Place::Backend(backend) => {
                let own = format!("{bucket}/");
                Ok(backend
                    .list(&format!("{own}{prefix}"))?
                    .into_iter()
                    .filter_map(|l| {
                        Some(Listed {
                            key: l.key.strip_prefix(&own)?.to_string(),
                            size: l.size,
                        })
                    })
                    .collect())
            }
        })
        .await
        .map_err(|e| DataError::Failed(e.to_string()))?
    }

    /// Removes a bucket's every file.
    pub async fn destroy(&self, place: &Place, bucket: &str) -> Result<(), DataError> {
        let (place, bucket_id) = (place.clone(), bucket.to_string());
        tokio::task::spawn_blocking(move || match place {
            Place::Local(root) => match std::fs::remove_dir_all(root.join(&bucket_id)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DataError::from(e)),
                _ => Ok(()),
            },
            Place::Backend(backend) => {
                for listed in backend.list(&format!("{bucket_id}/"))? {
                    backend.delete(&listed.key)?;
                }
                Ok(())
            }
        })
        .await
        .map_err(|e| DataError::Failed(e.to_string()))??;
        self.forget(bucket);
        Ok(())
    }
}

/// The files below `dir` (a folder of a bucket, named `relative` inside
/// it), with keys relative to the bucket; files being
/// written are left out. A missing folder holds nothing.
fn walk(dir: &Path, relative: &str) -> Result<Vec<Listed>, DataError> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == INCOMING {
            continue;
        }
        let key = if relative.is_empty() {
            name
        } else {
            format!("{relative}/{name}")
        };
        let meta = entry.metadata()?;
        if meta.is_dir() {
            found.extend(walk(&entry.path(), &key)?);
        } else {
            found.push(Listed {
                key,
                size: meta.len(),
            });
        }
    }
    Ok(found)
}
