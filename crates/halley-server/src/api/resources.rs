//! Uploaded files referenced from branding as `resource://HASH`:
//! `meta/resource/new` (multipart, part `upload`) and `meta/resource/get`.
//! Stored under `DATA_DIR/resources/`, named by their BLAKE3 hash; the store
//! records which tenant uploaded which, and a tenant reads only its own (the
//! same bytes uploaded by two tenants are one file and two records). The
//! files themselves are `service::resources`.

use halley_api::types::AdminResourceResponse;

use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::resources;

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
    let path = resources::path_of(&call.state, &hash);
    if !path.exists() {
        resources::write_whole(&path, &upload.bytes)
            .await
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
    let body = resources::read(&call.state, hash)
        .await?
        .ok_or_else(missing)?;
    Ok(Reply::Bytes {
        content_type: "application/octet-stream",
        body,
    })
}
