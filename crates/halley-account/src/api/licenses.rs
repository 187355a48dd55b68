//! Serial numbers: create, relax (free the server binding), archive, list.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{json, Value};

use crate::auth::authenticate;
use crate::clock::{format_timestamp, now};
use crate::http::{text, ApiError, Params};
use crate::state::AppState;
use crate::store::{License, StoreError};

/// Serial alphabet: upper-case letters and digits without the look-alikes
/// (0/O, 1/I), since people copy serials by hand.
const SERIAL_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`, the shape of a Comet serial (tools check
/// it): 120 random bits.
pub fn new_serial() -> String {
    let mut rng = rand::thread_rng();
    (0..6)
        .map(|_| {
            (0..4)
                .map(|_| SERIAL_ALPHABET[rng.gen_range(0..SERIAL_ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let account = authenticate(&state, &headers, &params).await?;
    // A collision of 120 random bits does not happen; the retry is for form.
    for _ in 0..3 {
        let serial = new_serial();
        match state.store.license_create(account.id, &serial, now()).await {
            Ok(()) => return Ok(text(serial).into_response()),
            Err(StoreError::Conflict) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::internal("three serial collisions in a row"))
}

pub async fn relax(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let account = authenticate(&state, &headers, &params).await?;
    let serial = params.required("serial")?;
    // Another account's serial is as unknown as one that does not exist.
    if !state.store.license_relax(account.id, serial).await? {
        return Err(ApiError::invalid_param("serial", "unknown serial"));
    }
    Ok(text("OK").into_response())
}

pub async fn archive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let account = authenticate(&state, &headers, &params).await?;
    let serial = params.required("serial")?;
    if !state
        .store
        .license_archive(account.id, serial, now())
        .await?
    {
        return Err(ApiError::invalid_param("serial", "unknown serial"));
    }
    Ok(text("OK").into_response())
}

pub async fn list_all(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let account = authenticate(&state, &headers, &params).await?;
    let licenses = state.store.license_list(Some(account.id)).await?;
    let body: Vec<Value> = licenses.iter().map(license_json).collect();
    Ok(axum::Json(body).into_response())
}

/// One licence as `list_all` shows it.
pub fn license_json(license: &License) -> Value {
    let time = |t: Option<i64>| t.map(format_timestamp);
    json!({
        "serial": license.serial,
        "status": if license.archived_at.is_some() { "archived" } else if license.server_id.is_some() { "active" } else { "unused" },
        "created_at": format_timestamp(license.created_at),
        "archived_at": time(license.archived_at),
        "server_id": license.server_id,
        "activated_at": time(license.activated_at),
        "last_seen_at": time(license.last_seen_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_have_six_groups_of_four() {
        let serial = new_serial();
        assert_eq!(serial.len(), 29);
        assert!(serial.split('-').all(|group| group.len() == 4));
        assert_eq!(serial.split('-').count(), 6);
        assert_ne!(serial, new_serial());
    }
}
