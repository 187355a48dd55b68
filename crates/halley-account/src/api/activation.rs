//! Licence activation, called by `halleyd` at start-up (Halley's own endpoint;
//! the API guide describes none). The serial is the credential: whoever holds it may
//! bind it, once, to one server identity. The same server may activate again
//! (every start); another server is refused until the owner relaxes the serial.
//!
//! Answers, all `text/plain`: 200 `OK` (bound to this server); 400 a parameter
//! is missing or malformed; 403 unknown serial; 409 bound to another server;
//! 410 archived.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::clock::now;
use crate::http::{text, ApiError, Params};
use crate::state::AppState;
use crate::store::Activation;

/// Longest accepted server identity.
const SERVER_ID_MAX: usize = 128;

pub async fn activate(
    State(state): State<Arc<AppState>>,
    params: Params,
) -> Result<Response, ApiError> {
    let serial = params.required("serial")?;
    let server_id = params.required("server_id")?;
    let well_formed = server_id.len() <= SERVER_ID_MAX
        && server_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if !well_formed {
        return Err(ApiError::invalid_param(
            "server_id",
            "use at most 128 of A-Z a-z 0-9 - _ . :",
        ));
    }
    let outcome = state
        .store
        .license_activate(serial, server_id, now())
        .await?;
    let (status, body) = match outcome {
        Activation::Bound => (StatusCode::OK, "OK"),
        Activation::Unknown => (StatusCode::FORBIDDEN, "Unknown serial"),
        Activation::BoundElsewhere => (
            StatusCode::CONFLICT,
            "Serial is in use by another server; relax it to move it",
        ),
        Activation::Archived => (StatusCode::GONE, "Serial is archived"),
    };
    Ok((status, text(body)).into_response())
}
