//! Application errors and how they reach the wire: a `CometAPIResponseMessage`
//! with an integer `Status` of 400 or more inside an HTTP 200 answer, except the
//! second-factor request, which is HTTP 449 with `X-Comet-TOTP-Requested: 1`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use halley_api::types::CometAPIResponseMessage;

use super::reply::json_response;

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// An error reported in the body; `status` is the CARM `Status`.
    Message { status: i64, message: String },
    /// The password was right but a second factor is required.
    TotpRequired,
    /// The password was right and a security key must sign `challenge`
    /// (a `WebAuthnSignRequest`, or a `U2FSignRequest` for legacy U2F keys,
    /// as JSON); `totp_too` when a TOTP code would do instead.
    SecurityKeyRequired { challenge: String, totp_too: bool },
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The most of a caller's value an error message quotes.
const QUOTE_LIMIT: usize = 200;
/// The longest message sent; a longer one (it quotes something unbounded)
/// is cut, so a bad value of a megabyte is not echoed back whole.
const MESSAGE_LIMIT: usize = 1000;

/// `value` in quotes for an error message, at most [`QUOTE_LIMIT`] characters
/// of it.
pub fn quoted(value: &str) -> String {
    match value.char_indices().nth(QUOTE_LIMIT) {
        None => format!("'{value}'"),
        Some((end, _)) => {
            let rest = value[end..].chars().count();
            format!("'{}…' ({rest} more characters)", &value[..end])
        }
    }
}

fn bounded(message: String) -> String {
    match message.char_indices().nth(MESSAGE_LIMIT) {
        None => message,
        Some((end, _)) => format!("{}…", &message[..end]),
    }
}

impl ApiError {
    pub fn new(status: i64, message: impl Into<String>) -> Self {
        ApiError::Message {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn missing_param(name: &str) -> Self {
        Self::bad_request(format!("Missing required parameter '{name}'"))
    }

    pub fn invalid_param(name: &str, why: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("Invalid value for parameter '{name}': {why}"))
    }

    /// Wrong credentials; deliberately the same whether or not the account exists.
    pub fn unauthorised() -> Self {
        Self::new(403, "Unauthorised")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    pub fn user_not_found() -> Self {
        Self::bad_request("User not found")
    }

    pub fn not_implemented(endpoint: &str) -> Self {
        Self::new(
            501,
            format!("{endpoint} is not implemented by this server yet"),
        )
    }

    /// The caller's settings cannot work as they are (an empty SMTP host,
    /// say): the caller's to fix, so a 400 that says what is wrong.
    pub fn bad_configuration(why: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("The configuration is not usable: {why}"))
    }

    /// What the error says, for a log line or another protocol's answer.
    pub fn message(&self) -> String {
        match self {
            ApiError::Message { message, .. } => message.clone(),
            ApiError::TotpRequired | ApiError::SecurityKeyRequired { .. } => {
                "a second factor is required".into()
            }
        }
    }

    /// This error with its message translated by `table`
    /// (`language::preferred`) when it is one of the fixed messages.
    pub fn in_language(self, table: Option<&[(&str, &'static str)]>) -> Self {
        match (self, table) {
            (ApiError::Message { status, message }, Some(table)) => ApiError::Message {
                status,
                message: super::language::translate(table, &message)
                    .map(str::to_string)
                    .unwrap_or(message),
            },
            (other, _) => other,
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {err}");
        Self::new(500, "Internal server error")
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
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
        match self {
            ApiError::Message { status, message } => json_response(
                StatusCode::OK,
                &CometAPIResponseMessage::new(status, bounded(message)),
            ),
            ApiError::TotpRequired => {
                let mut response = json_response(
                    StatusCode::from_u16(449).unwrap_or(StatusCode::FORBIDDEN),
                    &CometAPIResponseMessage::new(449, "A TOTP code is required"),
                );
                response
                    .headers_mut()
                    .insert("X-Comet-TOTP-Requested", HeaderValue::from_static("1"));
                response
            }
            ApiError::SecurityKeyRequired {
                challenge,
                totp_too,
            } => {
                let mut response = json_response(
                    StatusCode::from_u16(449).unwrap_or(StatusCode::FORBIDDEN),
                    &CometAPIResponseMessage::new(449, "A security key is required"),
                );
                let headers = response.headers_mut();
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    headers.insert("X-Comet-U2F-Challenge", value);
                }
                if totp_too {
                    headers.insert("X-Comet-TOTP-Requested", HeaderValue::from_static("1"));
                }
                response
            }
        }
    }
}
