//! Google Cloud Storage through `object_store`'s `GoogleCloudStorage`.
//!
//! Credentials are a service-account key (JSON), or an `authorized_user`
//! file as `gcloud auth application-default login` writes. A service-account
//! key may carry `gcs_base_url` (another endpoint, such as an emulator) and
//! `disable_oauth` (send no token). Buckets are not created here: creating
//! one needs a project and a location, which are the administrator's choice.
//!
//! Uploads go through the JSON API's single-request media upload
//! (`POST /upload/storage/v1/b/BUCKET/o?uploadType=media&name=…`, atomic like
//! any GCS object write) with the token object_store's credential provider
//! gives; reads, listings and deletes use object_store's own XML API calls.
//! The JSON upload is the one every GCS emulator implements, so the tests run
//! the same code as production.

use std::sync::Arc;

use object_store::gcp::{GcpCredentialProvider, GoogleCloudStorageBuilder};
use object_store::ClientOptions;

use super::object::{Bucket, ObjectBackend, PutObject};
use super::Backend;
use crate::error::{Result, VaultError};

/// Where a Google Cloud Storage repository lives.
#[derive(Debug, Clone, Default)]
pub struct GcsLocation {
    /// Bucket name.
    pub bucket: String,
    /// Object name prefix inside the bucket (may be empty).
    pub prefix: String,
    /// The credentials file's text (JSON).
    pub credentials: String,
    /// Where the credentials came from, for messages (a path or a variable).
    pub credentials_origin: String,
}

impl GcsLocation {
    /// `gs://BUCKET[/PREFIX]`, as shown in messages.
    pub fn name(&self) -> String {
        let mut name = format!("gs://{}", self.bucket);
        if !self.prefix.is_empty() {
            name.push('/');
            name.push_str(&self.prefix);
        }
        name
    }
}

/// Bucket names: 3 to 63 lowercase letters, digits, `-`, `_` and `.` (up to
/// 222 with dots), starting and ending with a letter or digit.
fn check_bucket(name: &str) -> std::result::Result<(), String> {
    let b = name.as_bytes();
    let max = if name.contains('.') { 222 } else { 63 };
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = (3..=max).contains(&b.len())
        && b.iter()
            .all(|&c| edge(c) || c == b'-' || c == b'_' || c == b'.')
        && edge(b[0])
        && edge(b[b.len() - 1]);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bad bucket name {name:?} (3 to 63 lowercase letters, digits, '-', '_' and '.')"
        ))
    }
}

/// Opens a Google Cloud Storage backend. The bucket must exist: a missing
/// one is an error that names it.
pub fn open_gcs(loc: &GcsLocation) -> Result<Arc<dyn Backend>> {
    let name = loc.name();
    let bad = |why: String| VaultError::invalid("GCS location", format!("{name}: {why}"));
    check_bucket(&loc.bucket).map_err(bad)?;
    if loc.credentials.trim().is_empty() {
        return Err(bad(
            "no credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file \
             (or GOOGLE_SERVICE_ACCOUNT_KEY to its JSON)"
                .into(),
        ));
    }
    let json: serde_json::Value = serde_json::from_str(&loc.credentials).map_err(|e| {
        bad(format!(
            "credentials {} are not JSON: {e}",
            loc.credentials_origin
        ))
    })?;
    let kind = json.get("type").and_then(|t| t.as_str()).unwrap_or("");
    let mut b = GoogleCloudStorageBuilder::new().with_bucket_name(&loc.bucket);
    let mut options = ClientOptions::new();
    let mut base_url = "https://storage.googleapis.com".to_string();
    if kind == "authorized_user" {
        // object_store reads these only from a file.
        if loc.credentials_origin.starts_with('$') {
            return Err(bad(format!(
                "credentials {}: an authorized_user key must be a file (GOOGLE_APPLICATION_CREDENTIALS)",
                loc.credentials_origin
            )));
        }
        b = b.with_application_credentials(&loc.credentials_origin);
    } else {
        let has = |k: &str| json.get(k).is_some();
        if !(has("private_key") && has("client_email")) {
            return Err(bad(format!(
                "credentials {}: not a service-account key (no private_key or client_email)",
                loc.credentials_origin
            )));
        }
        if let Some(base) = json.get("gcs_base_url").and_then(|v| v.as_str()) {
            base_url = base.trim_end_matches('/').to_string();
            if base.starts_with("http://") {
                options = options.with_allow_http(true);
            } else if !base.starts_with("https://") {
                return Err(bad(format!(
                    "credentials {}: gcs_base_url {base:?} is not http:// or https://",
                    loc.credentials_origin
                )));
            }
        }
        b = b.with_service_account_key(&loc.credentials);
    }
    let store = b
        .with_client_options(options)
        .build()
        .map_err(|e| bad(format!("credentials {}: {e}", loc.credentials_origin)))?;
    let upload = JsonUpload {
        http: reqwest::Client::new(),
        url: format!("{base_url}/upload/storage/v1/b/{}/o", loc.bucket),
        credentials: Arc::clone(store.credentials()),
    };
    let put: PutObject = Box::new(move |name, data| {
        let upload = upload.clone();
        Box::pin(async move { upload.put(name, data).await })
    });
    let probe = BucketProbe {
        http: reqwest::Client::new(),
        url: format!("{base_url}/storage/v1/b/{}", loc.bucket),
        credentials: Arc::clone(store.credentials()),
    };
    let bucket = Bucket {
        kind: "bucket",
        name: loc.bucket.clone(),
        create: None,
        exists: Some(Box::new(move || {
            let probe = probe.clone();
            Box::pin(async move { probe.exists().await })
        })),
    };
    Ok(Arc::new(
        ObjectBackend::new(Arc::new(store), &loc.prefix, name)?
            .with_bucket(bucket)
            .with_put(put),
    ))
}

/// The JSON API's bucket metadata request: 404 means there is no such
/// bucket. Credentials that may write objects but not read bucket metadata
/// get 403, which leaves the question open.
#[derive(Clone)]
struct BucketProbe {
    http: reqwest::Client,
    /// `…/storage/v1/b/BUCKET`
    url: String,
    credentials: GcpCredentialProvider,
}

impl BucketProbe {
    async fn exists(&self) -> Option<bool> {
        let token = self.credentials.get_credential().await.ok()?;
        let mut req = self.http.get(&self.url);
        if !token.bearer.is_empty() {
            req = req.bearer_auth(&token.bearer);
        }
        let status = req.send().await.ok()?.status();
        if status.is_success() {
            Some(true)
        } else if status == reqwest::StatusCode::NOT_FOUND {
            Some(false)
        } else {
            None
        }
    }
}

/// The JSON API's single-request upload.
#[derive(Clone)]
struct JsonUpload {
    http: reqwest::Client,
    /// `…/upload/storage/v1/b/BUCKET/o`
    url: String,
    credentials: GcpCredentialProvider,
}

impl JsonUpload {
    async fn put(&self, name: String, data: Vec<u8>) -> std::result::Result<(), String> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let token = self
                .credentials
                .get_credential()
                .await
                .map_err(|e| format!("credentials: {e}"))?;
            let mut req = self
                .http
                .post(&self.url)
                .query(&[("uploadType", "media"), ("name", name.as_str())])
                .header("Content-Type", "application/octet-stream")
                .body(data.clone());
            if !token.bearer.is_empty() {
                req = req.bearer_auth(&token.bearer);
            }
            let (retry, why) = match req.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    (
                        status.is_server_error() || status.as_u16() == 429,
                        format!("{status}: {}", text.trim()),
                    )
                }
                Err(e) => (e.is_connect() || e.is_timeout(), e.to_string()),
            };
            if !retry || attempt >= 4 {
                return Err(format!("upload of {name}: {why}"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
    }
}

/// The credentials named by the environment: the file at
/// `GOOGLE_APPLICATION_CREDENTIALS`, else the JSON in
/// `GOOGLE_SERVICE_ACCOUNT_KEY`. Empty when neither is set.
pub(super) fn credentials_from_env(location: &str) -> Result<(String, String)> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS") {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            VaultError::invalid(
                "GCS location",
                format!("{location}: GOOGLE_APPLICATION_CREDENTIALS={path}: {e}"),
            )
        })?;
        return Ok((text, path));
    }
    if let Some(json) = env("GOOGLE_SERVICE_ACCOUNT_KEY") {
        return Ok((json, "$GOOGLE_SERVICE_ACCOUNT_KEY".into()));
    }
    Ok((String::new(), String::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_err(loc: GcsLocation) -> String {
        open_gcs(&loc).err().unwrap().to_string()
    }

    #[test]
    fn bad_inputs_are_named() {
        assert!(check_bucket("my-bucket_1.x").is_ok());
        assert!(check_bucket("-x-").is_err());
        assert!(check_bucket("UPPER").is_err());
        let e = open_err(GcsLocation {
            bucket: "vault".into(),
            ..Default::default()
        });
        assert!(e.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{e}");
        let e = open_err(GcsLocation {
            bucket: "vault".into(),
            credentials: "{nope".into(),
            credentials_origin: "/tmp/key.json".into(),
            ..Default::default()
        });
        assert!(e.contains("/tmp/key.json") && e.contains("not JSON"), "{e}");
        let e = open_err(GcsLocation {
            bucket: "vault".into(),
            credentials: r#"{"type":"service_account"}"#.into(),
            credentials_origin: "/tmp/key.json".into(),
            ..Default::default()
        });
        assert!(e.contains("not a service-account key"), "{e}");
        let e = open_err(GcsLocation {
            bucket: "Bad_Bucket".into(),
            ..Default::default()
        });
        assert!(e.contains("bad bucket name"), "{e}");
    }
}
