//! Request parameters: the query string and an
//! `application/x-www-form-urlencoded` body, merged (the body wins). Getters
//! turn absent or malformed values into the API guide's 400.

use std::collections::HashMap;

use axum::extract::{FromRequest, Request};

use super::ApiError;

/// Largest form body accepted; the portal's calls carry a few short fields.
const BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Default, Clone)]
pub struct Params {
    values: HashMap<String, String>,
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A present, non-empty value.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::invalid_param(name, "missing"))
    }

    /// A present, non-empty value, untrimmed (passwords may start or end
    /// with spaces).
    pub fn required_exact(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::invalid_param(name, "missing"))
    }

    /// A non-negative integer, `default` when absent or empty.
    pub fn count(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::invalid_param(name, "not a non-negative integer")),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let mut params = Params::default();
        params.extend(request.uri().query().unwrap_or_default().as_bytes());
        // The body is a form when it says so, and also when it says nothing:
        // curl -d sets the type, but hand-written clients often do not.
        let is_form = match request.headers().get(axum::http::header::CONTENT_TYPE) {
            None => true,
            Some(value) => value
                .to_str()
                .map(|v| {
                    v.to_ascii_lowercase()
                        .starts_with("application/x-www-form-urlencoded")
                })
                .unwrap_or(false),
        };
        let body = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
            .await
            .map_err(|_| ApiError::invalid_param("body", "too large or unreadable"))?;
        if is_form {
            params.extend(&body);
        }
        Ok(params)
    }
}

impl Params {
    fn extend(&mut self, encoded: &[u8]) {
        for (key, value) in form_urlencoded::parse(encoded) {
            self.values.insert(key.into_owned(), value.into_owned());
        }
    }
}
