//! Successful answers: a JSON document or raw bytes.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use halley_api::types::CometAPIResponseMessage;
use serde::Serialize;

#[derive(Debug)]
pub enum Reply {
    Json(Vec<u8>),
    Bytes {
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// A file made while it is sent (a restore archive), to be saved as
    /// `file_name`.
    Stream {
        content_type: &'static str,
        file_name: String,
        body: Body,
    },
}

impl Reply {
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        // Serialising our own types cannot fail; fall back to a CARM if it ever does.
        match serde_json::to_vec(value) {
            Ok(body) => Reply::Json(body),
            Err(err) => Reply::json(&CometAPIResponseMessage::new(500, err.to_string())),
        }
    }

    /// `{"Status":200,"Message":"OK"}`.
    pub fn ok() -> Self {
        Reply::json(&CometAPIResponseMessage::ok())
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Json(body) => raw(StatusCode::OK, "application/json", body),
            Reply::Bytes { content_type, body } => raw(StatusCode::OK, content_type, body),
            Reply::Stream {
                content_type,
                file_name,
                body,
            } => {
                let mut response = Response::new(body);
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                let disposition =
                    format!("attachment; filename=\"{}\"", file_name.replace('"', ""));
                if let Ok(value) = HeaderValue::from_str(&disposition) {
                    headers.insert(header::CONTENT_DISPOSITION, value);
                }
                response
            }
        }
    }
}

pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    raw(status, "application/json", body)
}

fn raw(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.into_response()
}
