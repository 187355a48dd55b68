//! Hosted instances ("CometGo!"): create, status, terminate, list. Answers are
//! JSON with a lower-case `status`, as in the API guide; the work itself (start,
//! stop) happens in the [`Supervisor`](crate::hosted::Supervisor).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::auth::authenticate;
use crate::clock::{format_timestamp, now};
use crate::hosted::{generate_password, normalize_subdomain, states, ADMIN_USERNAME};
use crate::http::{ApiError, HostedError, Params};
use crate::state::AppState;
use crate::store::{Account, HostedServer, NewHostedServer, StoreError};

/// Longest `server_name` accepted.
const SERVER_NAME_MAX: usize = 200;
/// Most instances one list call returns.
const LIST_LIMIT_MAX: i64 = 1000;

type HostedResult = Result<Response, HostedError>;

pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> HostedResult {
    let account = authenticate(&state, &headers, &params).await?;
    let region = params.required("region")?;
    if !state.hosted.placement().has_region(region) {
        let known = state.hosted.placement().regions().join(", ");
        return Err(
            ApiError::invalid_param("region", format!("unknown region (known: {known})")).into(),
        );
    }
    let subdomain = normalize_subdomain(params.required("subdomain")?).ok_or_else(|| {
        ApiError::invalid_param(
            "subdomain",
            "must be a DNS label: 1-63 of a-z 0-9 -, no leading or trailing -",
        )
    })?;
    let server_name = params.required("server_name")?;
    if server_name.chars().count() > SERVER_NAME_MAX || server_name.chars().any(char::is_control) {
        return Err(
            ApiError::invalid_param("server_name", "at most 200 printable characters").into(),
        );
    }
    let (install_status, aws_status) = states::QUEUED;
    let new = NewHostedServer {
        account_id: account.id,
        region: region.to_string(),
        subdomain,
        server_name: server_name.to_string(),
        install_status: install_status.into(),
        aws_status: aws_status.into(),
        admin_username: ADMIN_USERNAME.into(),
        admin_password: generate_password(),
        created_at: now(),
    };
    let id = match state.store.hosted_create(&new).await {
        Ok(id) => id,
        Err(StoreError::Conflict) => {
            return Err(ApiError::invalid_param("subdomain", "already in use").into())
        }
        Err(err) => return Err(err.into()),
    };
    let instance = state
        .store
        .hosted_get(id)
        .await?
        .ok_or_else(|| ApiError::internal("a new instance vanished"))?;
    state.hosted.supervise(instance);
    // The API guide answers only the status; the id saves a list call.
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"status": "OK", "hosted_server_id": id.to_string()})),
    )
        .into_response())
}

pub async fn status(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> HostedResult {
    let account = authenticate(&state, &headers, &params).await?;
    let instance = owned_instance(&state, &account, &params).await?;
    Ok(
        axum::Json(json!({"status": "OK", "data": instance_json(&state, &instance)}))
            .into_response(),
    )
}

pub async fn terminate(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> HostedResult {
    let account = authenticate(&state, &headers, &params).await?;
    let instance = owned_instance(&state, &account, &params).await?;
    // A second terminate of the same instance is accepted and changes nothing.
    if state.store.hosted_request_terminate(instance.id).await? {
        let (install_status, aws_status) = states::DELETING;
        state
            .store
            .hosted_set_status(instance.id, install_status, aws_status)
            .await?;
        state.hosted.terminate(instance.id);
    }
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response())
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> HostedResult {
    let account = authenticate(&state, &headers, &params).await?;
    let offset = params.count("offset", 0)?;
    let limit = params.count("limit", 100)?.min(LIST_LIMIT_MAX);
    let data: Vec<Value> = state
        .store
        .hosted_list(Some(account.id), offset, limit)
        .await?
        .iter()
        .map(|instance| instance_json(&state, instance))
        .collect();
    Ok(axum::Json(json!({"status": "OK", "data": data})).into_response())
}

/// The caller's instance named by `hosted_server_id`. Another account's
/// instance is refused exactly like an unknown one (403), so ids reveal nothing.
async fn owned_instance(
    state: &AppState,
    account: &Account,
    params: &Params,
) -> Result<HostedServer, HostedError> {
    let id: i64 = params
        .required("hosted_server_id")?
        .parse()
        .map_err(|_| ApiError::invalid_param("hosted_server_id", "not an instance id"))?;
    match state.store.hosted_get(id).await? {
        Some(instance) if instance.account_id == account.id => Ok(instance),
        _ => Err(ApiError::new(StatusCode::FORBIDDEN, "No such hosted server").into()),
    }
}

/// The fields of the API guide's sample status, plus `url` (where the instance's
/// API answers; Halley's addition).
fn instance_json(state: &AppState, instance: &HostedServer) -> Value {
    let live = instance.deleted_at.is_none();
    json!({
        "hosted_server_id": instance.id.to_string(),
        "install_status": instance.install_status,
        "aws_status": instance.aws_status,
        "region_name": instance.region,
        "user_dns": format!("{}.{}", instance.subdomain, state.dns_suffix),
        "created_at": format_timestamp(instance.created_at),
        "date_deleted": instance.deleted_at.map(format_timestamp),
        "admin_password": instance.admin_password,
        "admin_username": instance.admin_username,
        "server_name": instance.server_name,
        "url": if live { state.hosted.placement().url(instance) } else { None },
    })
}
