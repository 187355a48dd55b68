//! Uploaded resources (`meta/resource/*`): files named by their BLAKE3 hash
//! in `DATA_DIR/resources`. In a cluster the database holds them too, and a
//! node copies to its own disk those it lacks when it needs them.

use std::path::{Path, PathBuf};

use crate::state::AppState;
use crate::store::StoreResult;

pub fn path_of(state: &AppState, hash: &str) -> PathBuf {
    state.data_dir.join("resources").join(hash)
}

/// Writes `bytes` at `path` aside first, so that a reader never sees half.
pub async fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let temp = path.with_extension(crate::util::random_hex(8));
    tokio::fs::write(&temp, bytes).await?;
    tokio::fs::File::open(&temp).await?.sync_all().await?;
    tokio::fs::rename(&temp, path).await
}

/// The resource's bytes, from this node's disk or else the cluster's
/// database (then kept on disk too); `None` when neither has it.
pub async fn read(state: &AppState, hash: &str) -> StoreResult<Option<Vec<u8>>> {
    let path = path_of(state, hash);
    match tokio::fs::read(&path).await {
        Ok(body) => return Ok(Some(body)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(crate::store::StoreError::Backend(err.into())),
    }
    let Some(cluster) = &state.cluster else {
        return Ok(None);
    };
    let body = cluster.resource_get(hash).await?;
    if let Some(body) = &body {
        if let Err(why) = write_whole(&path, body).await {
            tracing::warn!("keeping resource {hash} on disk: {why}");
        }
    }
    Ok(body)
}

/// Brings every resource the cluster holds onto this node's disk, so that a
/// self-backup taken here has them all.
pub async fn gather(state: &AppState) -> StoreResult<()> {
    let Some(cluster) = &state.cluster else {
        return Ok(());
    };
    for hash in cluster.resource_hashes().await? {
        if !path_of(state, &hash).exists() {
            read(state, &hash).await?;
        }
    }
    Ok(())
}
