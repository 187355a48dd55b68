//! API tokens through the API: create (the token is shown once, as text) and
//! revoke. The command line creates them too (`create-token`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::auth::{authenticate, new_token, token_hash};
use crate::clock::now;
use crate::http::{text, ApiError, Params};
use crate::state::AppState;

pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let account = authenticate(&state, &headers, &params).await?;
    let name = params.get("name").unwrap_or_default().trim();
    let token = new_token();
    state
        .store
        .token_create(account.id, &token_hash(&token), name, now())
        .await?;
    Ok(text(token).into_response())
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let account = authenticate(&state, &headers, &params).await?;
    let target = params.required("token")?;
    if !state
        .store
        .token_revoke(account.id, &token_hash(target))
        .await?
    {
        return Err(ApiError::invalid_param("token", "unknown token"));
    }
    Ok(text("OK").into_response())
}
