//! The embedded web interface: the static files of `web/` (plain ES modules
//! and CSS, no build step) compiled into the binary and served at `/` and
//! `/app/...`. The interface talks to the server only through the public API.
//!
//! It also owns the origin allowlist of the postMessage API: with an
//! allowlist, the page may be framed only by those origins
//! (`Content-Security-Policy: frame-ancestors`), and the page itself accepts
//! messages only from them (it reads the list from `/app/config.json`).

use std::sync::Arc;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// Origins allowed to frame the interface and to send it postMessage
/// requests. Empty: any origin, as the portals that embed Comet expect (the
/// session key in the message is the credential).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// Parses the `--web-allowed-origins` values: `scheme://host[:port]`
    /// each, or `*` (any origin, the default).
    pub fn parse(values: &[String]) -> anyhow::Result<AllowedOrigins> {
        let mut origins = Vec::new();
        for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
            if value == "*" {
                return Ok(AllowedOrigins::default());
            }
            origins.push(normalise_origin(value).ok_or_else(|| {
                anyhow::anyhow!(
                    "--web-allowed-origins: '{value}' is not an origin such as https://portal.example.com"
                )
            })?);
        }
        Ok(AllowedOrigins(origins))
    }

    pub fn is_any(&self) -> bool {
        self.0.is_empty()
    }

    pub fn origins(&self) -> &[String] {
        &self.0
    }
}

/// `scheme://host[:port]` lower-cased without a trailing slash, as browsers
/// write `event.origin`; `None` for anything else (paths, spaces, quotes).
fn normalise_origin(value: &str) -> Option<String> {
    let value = value.trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = value.split_once("://")?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let host_ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    (scheme_ok && host_ok).then_some(value)
}

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../web/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `web/`; a test checks that none is missing from this table.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/main.js", JS),
    asset!("js/api.js", JS),
    asset!("js/ui.js", JS),
    asset!("js/sso.js", JS),
    asset!("js/events.js", JS),
    asset!("js/signin.js", JS),
    asset!("js/dashboard.js", JS),
    asset!("js/jobs.js", JS),
    asset!("js/devices.js", JS),
    asset!("js/device.js", JS),
    asset!("js/accounts.js", JS),
    asset!("js/profile.js", JS),
    asset!("js/pending.js", JS),
    asset!("js/settings.js", JS),
    asset!("js/account.js", JS),
    asset!("js/policies.js", JS),
    asset!("js/groups.js", JS),
    asset!("js/storage.js", JS),
    asset!("js/request_vault.js", JS),
    asset!("js/webauthn.js", JS),
    asset!("js/tenants.js", JS),
    asset!("js/admins.js", JS),
    asset!("js/user.js", JS),
];

/// Routes `/` (the page) and `/app/...` (its files and configuration). It has
/// no fallback: other paths keep the API's JSON 404.
pub fn router(state: Arc<AppState>) -> Router {
    let page_state = state.clone();
    Router::new()
        .route("/", get(move || async move { page(&page_state) }))
        .route(
            "/app/config.json",
            get(move || async move { config(&state) }),
        )
        .route("/app/{*path}", get(asset))
}

fn page(state: &AppState) -> Response {
    let Some(index) = find("index.html") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = static_response(index);
    let csp = content_security_policy(&state.web_allowed_origins);
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// Scripts, styles and connections from this server only; framing by the
/// allowlist (any origin without one).
fn content_security_policy(allowed: &AllowedOrigins) -> String {
    let ancestors = if allowed.is_any() {
        "*".to_string()
    } else {
        let mut list = vec!["'self'".to_string()];
        list.extend(allowed.origins().iter().cloned());
        list.join(" ")
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors {ancestors}"
    )
}

fn config(state: &AppState) -> Response {
    let body = serde_json::json!({
        "AllowedOrigins": state.web_allowed_origins.origins(),
        "AnyOrigin": state.web_allowed_origins.is_any(),
    });
    let mut response = (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn asset(Path(path): Path<String>) -> Response {
    match find(&path) {
        Some(asset) if asset.path != "index.html" => static_response(asset),
        _ => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Not found",
        )
            .into_response(),
    }
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

fn static_response(asset: &Asset) -> Response {
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            // The files change with the binary; revalidation is cheap.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_web_file_is_in_the_table() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    let relative = path.strip_prefix(root).unwrap();
                    out.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut files = Vec::new();
        walk(&root, &root, &mut files);
        for file in files {
            assert!(find(&file).is_some(), "web/{file} is not in ASSETS");
        }
    }

    #[test]
    fn origins_are_normalised_and_checked() {
        let parsed = AllowedOrigins::parse(&[
            "https://Portal.example.com/".into(),
            " http://127.0.0.1:8080".into(),
        ])
        .unwrap();
        assert_eq!(
            parsed.origins(),
            ["https://portal.example.com", "http://127.0.0.1:8080"]
        );
        assert!(AllowedOrigins::parse(&["*".into()]).unwrap().is_any());
        assert!(AllowedOrigins::parse(&[]).unwrap().is_any());
        assert!(AllowedOrigins::parse(&["portal.example.com".into()]).is_err());
        assert!(AllowedOrigins::parse(&["https://a.example/x y".into()]).is_err());
        assert!(AllowedOrigins::parse(&["https://a.example; script-src *".into()]).is_err());
    }

    #[test]
    fn framing_follows_the_allowlist() {
        let any = content_security_policy(&AllowedOrigins::default());
        assert!(any.ends_with("frame-ancestors *"));
        let some = AllowedOrigins::parse(&["https://portal.example.com".into()]).unwrap();
        assert!(content_security_policy(&some)
            .ends_with("frame-ancestors 'self' https://portal.example.com"));
    }
}
