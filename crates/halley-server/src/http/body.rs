//! Request bodies: how much each endpoint accepts, reading the start of a
//! body so that a caller can be authenticated before the rest is read, and
//! draining what a refused call sent so its connection stays usable.

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use halley_api::endpoints::{EndpointSpec, ParamEncoding};
use halley_api::types::CometAPIResponseMessage;
use http_body_util::BodyExt;

use super::reply::json_response;

/// How much of a form body is read before the caller is authenticated. The
/// official SDKs send the credentials first, so they are always in here.
pub const PREFIX_BYTES: usize = 64 * 1024;

/// Bodies of calls with plain parameters (names, IDs, a news item).
const PLAIN_LIMIT: usize = 1024 * 1024;
/// Bodies of calls that carry a JSON document (a profile, the configuration).
const DOCUMENT_LIMIT: usize = 16 * 1024 * 1024;
/// Bodies of calls that upload a file (branding resources).
const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// The largest body `endpoint` accepts, from the kinds of its parameters.
pub fn limit_for(endpoint: &EndpointSpec) -> usize {
    let has = |encoding| endpoint.params.iter().any(|p| p.encoding == encoding);
    if has(ParamEncoding::MultipartFile) {
        UPLOAD_LIMIT
    } else if has(ParamEncoding::Json) {
        DOCUMENT_LIMIT
    } else {
        PLAIN_LIMIT
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    TooLarge(usize),
    Unreadable(String),
}

impl BodyError {
    /// The answer. A body that was not read whole leaves the connection
    /// unusable, so the server closes it after this answer.
    pub fn into_response(self) -> Response {
        match self {
            BodyError::TooLarge(limit) => json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &CometAPIResponseMessage::new(
                    413,
                    format!(
                        "The request body is larger than the {limit} bytes this endpoint accepts"
                    ),
                ),
            ),
            BodyError::Unreadable(why) => json_response(
                StatusCode::BAD_REQUEST,
                &CometAPIResponseMessage::new(400, format!("Unreadable request body: {why}")),
            ),
        }
    }
}

/// The start of a body: all of it, or its first [`PREFIX_BYTES`] and the
/// part not read yet.
pub enum Start {
    Whole(Bytes),
    Prefix { head: Vec<u8>, rest: Body },
}

pub async fn read_start(mut body: Body, limit: usize) -> Result<Start, BodyError> {
    let mut head = Vec::new();
    while head.len() < PREFIX_BYTES.min(limit) {
        match next_chunk(&mut body).await? {
            Some(chunk) => {
                if head.len() + chunk.len() > limit {
                    return Err(BodyError::TooLarge(limit));
                }
                head.extend_from_slice(&chunk);
            }
            None => return Ok(Start::Whole(Bytes::from(head))),
        }
    }
    Ok(Start::Prefix { head, rest: body })
}

/// The whole body, from its start and the part not read yet.
pub async fn read_rest(
    mut head: Vec<u8>,
    mut rest: Body,
    limit: usize,
) -> Result<Bytes, BodyError> {
    while let Some(chunk) = next_chunk(&mut rest).await? {
        if head.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        head.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(head))
}

/// Reads and discards up to `limit` bytes, so that a client still sending
/// the body of a call refused early reads its answer instead of a broken pipe.
pub async fn drain(mut body: Body, limit: usize) {
    let mut seen = 0;
    while let Ok(Some(chunk)) = next_chunk(&mut body).await {
        seen += chunk.len();
        if seen > limit {
            break;
        }
    }
}

async fn next_chunk(body: &mut Body) -> Result<Option<Bytes>, BodyError> {
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(Err(err)) => return Err(BodyError::Unreadable(err.to_string())),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}
