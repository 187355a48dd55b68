//! Uploaded files referenced from branding as `resource://HASH`:
//! `meta/resource/new` (multipart, part `upload`) and `meta/resource/get`.
//! Stored under `DATA_DIR/resources/`, named by their BLAKE3 hash; the store
//! records which tenant uploaded which, and a tenant reads only its own (the
//! same bytes uploaded by two tenants are one file and two records). In a
//! cluster the bytes are also in the database, and a node that lacks a file
//! fetches it from there.

use halley_api::types::AdminResourceResponse;

use crate::http::{ApiError, ApiResult, Call, Reply};

fn is_hash(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

pub async fn new(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let upload = call.params.file("upload")?;
    let hash = blake3::hash(&upload.bytes).to_hex().to_string();
    let dir = call.state.data_dir.join("resources");
    let path = dir.join(&hash);
    if !path.exists() {
        let temp = dir.join(format!("{hash}.tmp"));
        let bytes = upload.bytes.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&temp, &bytes)?;
            std::fs::File::open(&temp)?.sync_all()?;
            std::fs::rename(&temp, &path)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    }
    if let Some(cluster) = &call.state.cluster {
        cluster.resource_put(&hash, &upload.bytes).await?;
    }
    call.state
        .store
        .resource_add(admin.organization_id(), &hash)
        .await?;
    Ok(Reply::json(&AdminResourceResponse {
        status: 200,
        message: "OK".into(),
        resource_hash: hash,
        ..Default::default()
    }))
}

pub async fn get(call: Call) -> ApiResult<Reply> {
    let scope = call.admin()?.scope();
    let hash = call.params.str("Hash")?;
    if !is_hash(hash) {
        return Err(ApiError::invalid_param(
            "Hash",
            "expected 64 lowercase hex digits",
        ));
    }
    let missing = || ApiError::invalid_param("Hash", "no resource has this hash");
    // Top-level administrators read every file, also those uploaded before
    // uploads were recorded; a tenant only what it uploaded.
    if scope.tenant().is_some() && !call.state.store.resource_visible(&scope, hash).await? {
        return Err(missing());
    }
    let path = call.state.data_dir.join("resources").join(hash);
    let body = match tokio::fs::read(&path).await {
        Ok(body) => body,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let Some(cluster) = &call.state.cluster else {
                return Err(missing());
            };
            let body = cluster.resource_get(hash).await?.ok_or_else(missing)?;
            // Kept here too, for the next read and for self-backups; written
            // aside first, so a reader never sees half of it.
            let temp = path.with_extension(crate::util::random_hex(8));
            if let Some(dir) = path.parent() {
                let _ = tokio::fs::create_dir_all(dir).await;
            }
            if tokio::fs::write(&temp, &body).await.is_ok() {
                let _ = tokio::fs::rename(&temp, &path).await;
            }
            body
        }
        Err(err) => return Err(ApiError::internal(err)),
    };
    Ok(Reply::Bytes {
        content_type: "application/octet-stream",
        body,
    })
}
