//! The bucket data protocol (`docs/bucket-protocol.md`): objects of a
//! bucket under `/bucket/v1/{bucket}/{key}`, HTTP Basic credentials of the
//! bucket ID and its key, or an administrator of the bucket's tenant. A wrong key counts toward login throttling like a
//! wrong password; each bucket serves `data::REQUESTS_PER_BUCKET` requests at
//! once and queues the rest.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use halley_api::types::CometAPIResponseMessage;
use serde::Serialize;

use super::buckets::{self, Bucket};
use super::data::{DataError, Place, WriteRules};
use crate::auth::password_check;
use crate::state::AppState;

fn answer(status: StatusCode, message: impl Into<String>) -> Response {
    let body = CometAPIResponseMessage {
        status: i64::from(status.as_u16()),
        message: message.into(),
        ..Default::default()
    };
    (status, axum::Json(body)).into_response()
}

/// Whether `key` may name an object: `/`-separated names of letters,
/// digits, `.`, `-` and `_`, none starting with a dot.
fn valid_key(key: &str) -> bool {
    key.split('/').count() <= 8 && valid_prefix(key) && key.split('/').all(|p| !p.is_empty())
}

/// Whether `prefix` may select objects to list: the start of a key (names
/// may be empty or partial).
fn valid_prefix(prefix: &str) -> bool {
    prefix.len() <= 512
        && !prefix.starts_with('/')
        && prefix.split('/').all(|part| {
            !part.starts_with('.')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        })
}

/// `bytes=START-` or `bytes=START-END`.
fn parse_range(value: &str) -> Option<(u64, Option<u64>)> {
    let (start, end) = value.strip_prefix("bytes=")?.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let end = match end.trim() {
        "" => None,
        end => Some(end.parse().ok()?),
    };
    Some((start, end))
}

/// The bucket that an administrator of its tenant opens, by the
/// `X-Comet-Admin-*` headers of the API's uploads (how replication writes
/// into a replica's buckets).
async fn authenticate_admin(
    state: &AppState,
    bucket_id: &str,
    headers: &HeaderMap,
    address: &str,
) -> Result<Bucket, Response> {
    let params = crate::http::Params::from_multipart_headers(headers, &Default::default());
    let origin = crate::auth::Origin {
        client_ip: address.to_string(),
        path: "/bucket/v1/".into(),
        host: crate::auth::Origin::host_from(headers),
    };
    let admin = crate::auth::admin(state, &params, &origin)
        .await
        .map_err(|err| answer(StatusCode::UNAUTHORIZED, err.message()))?;
    match buckets::get(state, &admin.scope(), bucket_id).await {
        Ok(bucket) => Ok(bucket),
        Err(_) => Err(answer(
            StatusCode::UNAUTHORIZED,
            "the bucket ID or key was refused",
        )),
    }
}

/// The bucket the request's credentials open, or the answer that refuses it.
async fn authenticate(
    state: &AppState,
    bucket_id: &str,
    headers: &HeaderMap,
    address: &str,
) -> Result<Bucket, Response> {
    let refused = || answer(StatusCode::UNAUTHORIZED, "the bucket ID or key was refused");
    if !headers.contains_key(header::AUTHORIZATION)
        && headers.contains_key("X-Comet-Admin-Username")
    {
        return authenticate_admin(state, bucket_id, headers, address).await;
    }
    let (id, key) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| {
            let (id, key) = text.split_once(':')?;
            Some((id.to_string(), key.to_string()))
        })
        .ok_or_else(|| {
            let mut refusal = refused();
            refusal.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"bucket\""),
            );
            refusal
        })?;
    if id != bucket_id {
        return Err(refused());
    }
    let config = state.config.get();
    let account = format!("bucket\u{0}{id}");
    if let Err(seconds) = state
        .throttle
        .check(&account, address, &config.login_protection)
        .await
    {
        let mut refusal = answer(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many wrong keys from this address: try again in {seconds} s"),
        );
        refusal
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return Err(refusal);
    }
    let bucket = buckets::lookup(state, &id)
        .await
        .map_err(|e| answer(StatusCode::INTERNAL_SERVER_ERROR, e.message()))?;
    let right = match &bucket {
        Some(bucket) => password_check::verify(
            state,
            &account,
            bucket.properties.read_write_key_format,
            &bucket.properties.read_write_key,
            &key,
        )
        .await
        .unwrap_or(false),
        None => {
            // As long as a wrong key, so that probing tells nothing.
            let _ = password_check::spend(state, &key).await;
            false
        }
    };
    match bucket {
        Some(bucket) if right => {
            state.throttle.record_success(&account, address).await;
            Ok(bucket)
        }
        _ => {
            state
                .throttle
                .record_failure(&account, address, &config.login_protection)
                .await;
            Err(refused())
        }
    }
}

#[derive(Serialize)]
struct ListedObject {
    key: String,
    size: u64,
}

/// Serves one request of the protocol; `key` is empty for the bucket
/// itself.
pub async fn serve(
    state: &AppState,
    address: &str,
    bucket_id: &str,
    key: &str,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let (method, headers, query) = (parts.method, parts.headers, parts.uri.query());
    let config = state.config.get();
    if !config.storage_role.role_enabled {
        return answer(
            StatusCode::FORBIDDEN,
            "this server does not run the Storage Role",
        );
    }
    let bucket = match authenticate(state, bucket_id, &headers, address).await {
        Ok(bucket) => bucket,
        Err(refusal) => return refusal,
    };
    let place = match state.buckets.place(state, &config.storage_role) {
        Ok(place) => place,
        Err(err) => return answer(StatusCode::SERVICE_UNAVAILABLE, err.message()),
    };
    let _turn = state.buckets.turn(bucket_id).await;
    if key.is_empty() {
        return match method {
            Method::HEAD => StatusCode::NO_CONTENT.into_response(),
            Method::GET => list(state, &place, bucket_id, query).await,
            other => answer(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{other} is not a request of a bucket (HEAD, or GET to list)"),
            ),
        };
    }
    if !valid_key(key) {
        return answer(
            StatusCode::BAD_REQUEST,
            format!("'{key}' is not an object key: names of letters, digits, '.', '-' and '_' separated by '/', none starting with '.'"),
        );
    }
    let outcome = match method.clone() {
        Method::GET => {
            let range = headers
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok())
                .map(|v| parse_range(v).ok_or(DataError::BadRange))
                .transpose();
            match range {
                Ok(range) => state
                    .buckets
                    .read(&place, bucket_id, key, range)
                    .await
                    .map(read_response),
                Err(err) => Err(err),
            }
        }
        Method::PUT => {
            let only_if_absent = headers
                .get(header::IF_NONE_MATCH)
                .is_some_and(|v| v.as_bytes() == b"*");
            state
                .buckets
                .write(
                    state,
                    &place,
                    bucket_id,
                    key,
                    body,
                    WriteRules {
                        only_if_absent,
                        quota: bucket.quota_bytes,
                    },
                )
                .await
                .map(|()| StatusCode::NO_CONTENT.into_response())
        }
        Method::DELETE => state
            .buckets
            .remove(&place, bucket_id, key)
            .await
            .map(|()| StatusCode::NO_CONTENT.into_response()),
        other => {
            return answer(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{other} is not a request of an object (GET, PUT or DELETE)"),
            )
        }
    };
    if outcome.is_ok() && matches!(method, Method::PUT | Method::DELETE) {
        state.replication.wake();
    }
    outcome.unwrap_or_else(|err| refusal(key, err))
}

fn read_response(read: super::data::Read) -> Response {
    let mut response = Response::new(read.body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(read.length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some((start, end, total)) = read.range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{total}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    response
}

fn refusal(key: &str, err: DataError) -> Response {
    match err {
        DataError::Missing => answer(StatusCode::NOT_FOUND, format!("no object '{key}'")),
        DataError::Exists => answer(
            StatusCode::PRECONDITION_FAILED,
            format!("object '{key}' exists already (If-None-Match: *)"),
        ),
        DataError::OverQuota(why) => answer(StatusCode::INSUFFICIENT_STORAGE, why),
        DataError::BadRange => answer(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("the Range asked for is not within object '{key}'"),
        ),
        DataError::Failed(why) => answer(StatusCode::INTERNAL_SERVER_ERROR, why),
    }
}

async fn list(state: &AppState, place: &Place, bucket: &str, query: Option<&str>) -> Response {
    let prefix = crate::http::Params::from_query(query.unwrap_or(""))
        .opt_str("prefix")
        .unwrap_or_default()
        .to_string();
    if !valid_prefix(&prefix) {
        return answer(
            StatusCode::BAD_REQUEST,
            format!("'{prefix}' is not the start of an object key"),
        );
    }
    match state.buckets.list(place, bucket, &prefix).await {
        Ok(listed) => axum::Json(
            listed
                .into_iter()
                .map(|l| ListedObject {
                    key: l.key,
                    size: l.size,
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(err) => refusal(&prefix, err),
    }
}
