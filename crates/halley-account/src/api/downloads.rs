//! The release catalogue over HTTP: `GET /latestversion` (public), the list of
//! versions, and one artifact, streamed.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::auth::authenticate;
use crate::catalogue::PLATFORMS;
use crate::http::{ApiError, Params};
use crate::state::AppState;

pub async fn latest_version(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let manifest = state.catalogue.load()?;
    Ok(axum::Json(json!({
        "latest_stable": manifest.latest_stable(),
        "latest_prerelease": manifest.latest_prerelease(),
        "downloads_url": manifest.downloads_url,
        "updates_info": manifest.updates_info,
    }))
    .into_response())
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    authenticate(&state, &headers, &params).await?;
    let manifest = state.catalogue.load()?;
    let body: Vec<Value> = manifest
        .releases
        .iter()
        .map(|release| {
            json!({
                "version_key": release.version_key,
                "Name": release.name,
                "Version": release.version.clone().unwrap_or_else(|| release.version_key.clone()),
                "Download": state.catalogue.download_summary(release),
            })
        })
        .collect();
    Ok(axum::Json(body).into_response())
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    authenticate(&state, &headers, &params).await?;
    let version_key = params.required("version_key")?;
    let platform = params.required("platform")?;
    if !PLATFORMS.iter().any(|(p, _)| *p == platform) {
        return Err(ApiError::invalid_param(
            "platform",
            "use download_windows, download_linux_deb, download_linux_rpm or download_linux_tar",
        ));
    }
    let manifest = state.catalogue.load()?;
    let release = manifest
        .releases
        .iter()
        .find(|r| r.version_key == version_key)
        .ok_or_else(|| ApiError::invalid_param("version_key", "unknown version"))?;
    let path = state
        .catalogue
        .artifact(release, platform)
        .ok_or_else(|| ApiError::invalid_param("platform", "not available for this version"))?;
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        // Listed in the manifest but absent: the catalogue is broken, not the request.
        Err(err) => return Err(ApiError::internal(format!("{}: {err}", path.display()))),
    };
    let length = file.metadata().await.map(|m| m.len()).ok();
    let file_name: String = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("{version_key}-{platform}"))
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect();
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response();
    if let Some(length) = length {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, length.into());
    }
    Ok(response)
}
