//! Request parameters, gathered the way Comet clients send them: the query
//! string and an `application/x-www-form-urlencoded` body, or `multipart/form-data`
//! with the credentials in `X-Comet-Admin-*` headers. Typed getters turn a
//! missing or malformed value into a 400 that names the parameter.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::HeaderMap;
use http_body_util::Limited;
use serde::de::DeserializeOwned;

use super::error::{quoted, ApiError, ApiResult};

/// Credentials sent in headers with multipart requests, and the form field each
/// stands for.
const MULTIPART_AUTH_HEADERS: &[(&str, &str)] = &[
    ("X-Comet-Admin-Username", "Username"),
    ("X-Comet-Admin-AuthType", "AuthType"),
    ("X-Comet-Admin-Password", "Password"),
    ("X-Comet-Admin-SessionKey", "SessionKey"),
    ("X-Comet-Admin-TOTP", "TOTP"),
];

#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: Option<String>,
    pub bytes: Bytes,
}

#[derive(Debug, Default, Clone)]
pub struct Params {
    fields: HashMap<String, String>,
    files: HashMap<String, Upload>,
}

impl Params {
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut params = Params::default();
        for (key, value) in pairs {
            params
                .fields
                .entry(key.into())
                .or_insert_with(|| value.into());
        }
        params
    }

    /// The query string's parameters.
    pub fn from_query(query: &str) -> Self {
        Params::from_pairs(form_urlencoded::parse(query.as_bytes()).into_owned())
    }

    /// An `application/x-www-form-urlencoded` body, then the query string:
    /// body values win over query-string values of the same name.
    pub fn from_form(body: &[u8], query: &Params) -> Self {
        let mut params = Params::from_pairs(form_urlencoded::parse(body).into_owned());
        params.add_missing(query);
        params
    }

    /// The complete `name=value` pairs at the start of a form body that has
    /// not been read whole yet (the last, possibly cut, pair is left out).
    pub fn from_form_prefix(prefix: &[u8], query: &Params) -> Self {
        let complete = match prefix.iter().rposition(|b| *b == b'&') {
            Some(end) => &prefix[..end],
            None => &[],
        };
        Params::from_form(complete, query)
    }

    /// The credentials a multipart request carries in `X-Comet-Admin-*`
    /// headers, then the query string.
    pub fn from_multipart_headers(headers: &HeaderMap, query: &Params) -> Self {
        let mut params = Params::from_pairs(auth_from_headers(headers));
        params.add_missing(query);
        params
    }

    /// A `multipart/form-data` request: its header credentials, its parts and
    /// the query string. The body is read up to `limit` bytes.
    pub async fn from_multipart(request: Request, query: &Params, limit: usize) -> ApiResult<Self> {
        let mut params = Params::from_multipart_headers(request.headers(), query);
        let (parts, body) = request.into_parts();
        let request = Request::from_parts(parts, axum::body::Body::new(Limited::new(body, limit)));
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::bad_request(format!("Malformed multipart body: {e}")))?;
        let malformed = |e: axum::extract::multipart::MultipartError| {
            ApiError::bad_request(format!("Malformed multipart body: {e}"))
        };
        while let Some(field) = multipart.next_field().await.map_err(malformed)? {
            let Some(name) = field.name().map(str::to_string) else {
                continue;
            };
            let file_name = field.file_name().map(str::to_string);
            let bytes = field.bytes().await.map_err(malformed)?;
            if file_name.is_some() {
                params.files.insert(name, Upload { file_name, bytes });
            } else {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                params.fields.entry(name).or_insert(text);
            }
        }
        Ok(params)
    }

    fn add_missing(&mut self, other: &Params) {
        for (key, value) in &other.fields {
            self.fields
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
    }

    /// Replaces a parameter's value (dispatch normalises a few spellings).
    pub fn set(&mut self, name: &str, value: String) {
        self.fields.insert(name.to_string(), value);
    }

    pub fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name) || self.files.contains_key(name)
    }

    pub fn opt_str(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// A parameter that must be present (it may be empty).
    pub fn str(&self, name: &str) -> ApiResult<&str> {
        self.opt_str(name)
            .ok_or_else(|| ApiError::missing_param(name))
    }

    /// A parameter that must be present and not empty.
    pub fn non_empty(&self, name: &str) -> ApiResult<&str> {
        match self.str(name)? {
            "" => Err(ApiError::invalid_param(name, "must not be empty")),
            value => Ok(value),
        }
    }

    pub fn opt_int(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.opt_str(name) {
            None | Some("") => Ok(None),
            Some(text) => text.trim().parse().map(Some).map_err(|_| {
                ApiError::invalid_param(name, format!("{} is not an integer", quoted(text)))
            }),
        }
    }

    /// Booleans arrive as `1`/`0` (PHP, JS and Ruby SDKs) or `true`/`false` (Go SDK).
    pub fn opt_bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.opt_str(name) {
            None | Some("") => Ok(None),
            Some(text) => parse_bool(text).map(Some).ok_or_else(|| {
                ApiError::invalid_param(
                    name,
                    format!(
                        "{} is not a boolean (use 1, 0, true or false)",
                        quoted(text)
                    ),
                )
            }),
        }
    }

    /// A JSON document carried in one form field.
    pub fn json<T: DeserializeOwned>(&self, name: &str) -> ApiResult<T> {
        let text = self.str(name)?;
        serde_json::from_str(text).map_err(|e| {
            ApiError::invalid_param(name, format!("not valid JSON for this parameter: {e}"))
        })
    }

    pub fn opt_json<T: DeserializeOwned>(&self, name: &str) -> ApiResult<Option<T>> {
        match self.opt_str(name) {
            None | Some("") => Ok(None),
            Some(_) => self.json(name).map(Some),
        }
    }

    pub fn file(&self, name: &str) -> ApiResult<&Upload> {
        self.files
            .get(name)
            .ok_or_else(|| ApiError::missing_param(name))
    }
}

pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "1" | "true" | "True" | "TRUE" => Some(true),
        "0" | "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn auth_from_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    MULTIPART_AUTH_HEADERS
        .iter()
        .filter_map(|(header, field)| {
            let value = headers.get(*header)?.to_str().ok()?;
            Some((field.to_string(), value.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_accept_every_sdk_spelling() {
        for (text, expected) in [("1", true), ("true", true), ("0", false), ("false", false)] {
            assert_eq!(parse_bool(text), Some(expected));
        }
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn malformed_integer_names_the_parameter() {
        let params = Params::from_pairs([("Start", "soon")]);
        let err = params.opt_int("Start").unwrap_err();
        assert!(
            matches!(err, ApiError::Message { status: 400, ref message } if message.contains("'Start'"))
        );
    }
}
