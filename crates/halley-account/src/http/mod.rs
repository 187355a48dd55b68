//! HTTP plumbing: the route table, request parameters, errors on the wire.

mod error;
mod params;

pub use error::{ApiError, HostedError};
pub use params::Params;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api;
use crate::state::AppState;

/// Paths of the hosted-instance ("CometGo!") calls, which the API guide leaves
/// unnamed.
pub const HOSTED_CREATE: &str = "/api/v1/hosted/create";
pub const HOSTED_STATUS: &str = "/api/v1/hosted/status";
pub const HOSTED_TERMINATE: &str = "/api/v1/hosted/terminate";
pub const HOSTED_LIST: &str = "/api/v1/hosted/list";
/// Where `halleyd` activates its serial (Halley's own; the API guide has none).
pub const LICENSE_ACTIVATE: &str = "/api/v1/license/activate";

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/latestversion", get(api::downloads::latest_version))
        // Licences, with the API guide's legacy aliases on the same handlers.
        .route("/api/v1/license/create", post(api::licenses::create))
        .route("/api/v1/create_license", post(api::licenses::create))
        .route("/api/v1/license/relax", post(api::licenses::relax))
        .route("/api/v1/relax_license", post(api::licenses::relax))
        .route("/api/v1/license/archive", post(api::licenses::archive))
        .route("/api/v1/archive_license", post(api::licenses::archive))
        .route("/api/v1/license/list_all", post(api::licenses::list_all))
        .route(LICENSE_ACTIVATE, post(api::activation::activate))
        .route(
            "/api/v1/report/active_services",
            post(api::reports::active_services),
        )
        .route(
            "/api/v1/report/billing_history",
            post(api::reports::billing_history),
        )
        .route("/api/v1/downloads/list", post(api::downloads::list))
        .route("/api/v1/downloads/get", post(api::downloads::get))
        .route("/api/v1/token/create", post(api::tokens::create))
        .route("/api/v1/token/revoke", post(api::tokens::revoke))
        .route(HOSTED_CREATE, post(api::hosted::create))
        .route(HOSTED_STATUS, post(api::hosted::status))
        .route(HOSTED_TERMINATE, post(api::hosted::terminate))
        .route(HOSTED_LIST, post(api::hosted::list))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, text("Not found")).into_response()
}

/// A `text/plain; charset=utf-8` body, the API guide's content type for most answers.
pub fn text(body: impl Into<String>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        body.into(),
    )
}
