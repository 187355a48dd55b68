//! Errors and their two wire shapes. The licence, report and download calls
//! answer `text/plain` bodies with the API guide's HTTP codes (400 invalid or
//! missing parameter, 403 invalid credentials, 500 internal error); the
//! hosted-instance calls answer JSON `{"status": "error"}` with the code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// the API guide's 400 row; the parameter is named after its text.
    pub fn invalid_param(name: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("Invalid or missing parameter: {name} ({why})"),
        )
    }

    /// the API guide's 403 row, the same whether the account is unknown or the
    /// secret is wrong.
    pub fn invalid_credentials() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Invalid credentials")
    }

    /// the API guide's 500 row. The cause goes to the log, not to the caller.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {err:#}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error")
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::internal(err)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::internal(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, super::text(self.message)).into_response()
    }
}

/// An [`ApiError`] in the hosted-instance calls' JSON shape. `message` is
/// Halley's addition; clients of the API guide read only `status`.
#[derive(Debug)]
pub struct HostedError(pub ApiError);

impl From<ApiError> for HostedError {
    fn from(err: ApiError) -> Self {
        HostedError(err)
    }
}

impl From<StoreError> for HostedError {
    fn from(err: StoreError) -> Self {
        HostedError(err.into())
    }
}

impl IntoResponse for HostedError {
    fn into_response(self) -> Response {
        let body = json!({"status": "error", "message": self.0.message});
        (self.0.status, axum::Json(body)).into_response()
    }
}
