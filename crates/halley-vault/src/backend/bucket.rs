//! A bucket of a Halley Storage Role server (`DESTINATIONTYPE_COMET`),
//! reached over the bucket data protocol of `docs/bucket-protocol.md`:
//! HTTP(S) below `{server}bucket/v1/{bucket}/`, HTTP Basic credentials of
//! the bucket ID and its key.

use std::time::Duration;

use base64::Engine as _;
use reqwest::{header, Method, StatusCode};
use serde::Deserialize;

use super::object::OwnRuntime;
use super::{Backend, Listed};
use crate::error::{Result, VaultError};

/// The protocol's path below the server's address.
pub const BUCKET_PROTOCOL_PATH: &str = "bucket/v1/";

/// Attempts of a request that failed in transit or with a 5xx answer.
const ATTEMPTS: u32 = 3;

/// Where a Storage Role bucket is.
#[derive(Debug, Clone)]
pub struct BucketLocation {
    /// The server's address with its scheme, e.g. `https://backup.example.com/`.
    pub server: String,
    /// The bucket ID.
    pub bucket: String,
    /// The bucket's key.
    pub key: String,
}

/// A backend over one Storage Role bucket.
pub struct BucketBackend {
    client: reqwest::Client,
    base: String,
    authorization: String,
    location: String,
    runtime: OwnRuntime,
}

#[derive(Deserialize)]
struct ListedObject {
    key: String,
    size: u64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Refusal {
    #[serde(default)]
    message: String,
}

impl BucketBackend {
    pub fn open(location: &BucketLocation) -> Result<Self> {
        let server = location.server.trim();
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(VaultError::invalid(
                "Storage Role location",
                format!("CometServer '{server}' is not an http:// or https:// address"),
            ));
        }
        if location.bucket.is_empty() || location.key.is_empty() {
            return Err(VaultError::invalid(
                "Storage Role location",
                "CometBucket and CometBucketKey are both needed",
            ));
        }
        if !location
            .bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(VaultError::invalid(
                "Storage Role location",
                format!("CometBucket '{}' is not a bucket ID", location.bucket),
            ));
        }
        let base = format!(
            "{}/{BUCKET_PROTOCOL_PATH}{}/",
            server.trim_end_matches('/'),
            location.bucket
        );
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| VaultError::invalid("Storage Role location", e.to_string()))?;
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", location.bucket, location.key));
        Ok(BucketBackend {
            client,
            authorization: format!("Basic {credentials}"),
            location: format!("bucket {} on {server}", location.bucket),
            base,
            runtime: OwnRuntime::new(&location.server)?,
        })
    }

    fn url(&self, key: &str) -> String {
        format!("{}{key}", self.base)
    }

    /// Sends a request built by `build`, again after a failure in transit
    /// or a 5xx answer (other than 507, which is final).
    fn send(
        &self,
        op: &'static str,
        key: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        self.runtime.block_on(async {
            let mut last = String::new();
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                }
                match build()
                    .header(header::AUTHORIZATION, &self.authorization)
                    .send()
                    .await
                {
                    Ok(answer)
                        if answer.status().is_server_error()
                            && answer.status() != StatusCode::INSUFFICIENT_STORAGE =>
                    {
                        last = format!("HTTP {}", answer.status());
                    }
                    Ok(answer) => return Ok(answer),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(VaultError::Backend {
                op,
                key: format!("{} ({key})", self.location),
                detail: last,
            })
        })
    }

    /// Turns an answer other than success into the matching error.
    fn refused(&self, op: &'static str, key: &str, answer: reqwest::Response) -> VaultError {
        let status = answer.status();
        let message = self
            .runtime
            .block_on(answer.json::<Refusal>())
            .unwrap_or_default()
            .message;
        let message = if message.is_empty() {
            format!("HTTP {status}")
        } else {
            message
        };
        match status {
            StatusCode::NOT_FOUND => VaultError::Missing(format!("{key} in {}", self.location)),
            StatusCode::INSUFFICIENT_STORAGE => VaultError::QuotaExceeded(message),
            _ => VaultError::Backend {
                op,
                key: format!("{} ({key})", self.location),
                detail: message,
            },
        }
    }

    fn body(&self, op: &'static str, key: &str, answer: reqwest::Response) -> Result<Vec<u8>> {
        self.runtime
            .block_on(answer.bytes())
            .map(|b| b.to_vec())
            .map_err(|e| VaultError::Backend {
                op,
                key: format!("{} ({key})", self.location),
                detail: e.to_string(),
            })
    }
}

impl Backend for BucketBackend {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn get(&self, key: &str) -> Result<Vec<u8>> {
        let answer = self.send("get", key, || self.client.get(self.url(key)))?;
        if !answer.status().is_success() {
            return Err(self.refused("get", key, answer));
        }
        self.body("get", key, answer)
    }

    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let range = format!("bytes={offset}-{}", offset + len - 1);
        let answer = self.send("get", key, || {
            self.client.get(self.url(key)).header(header::RANGE, &range)
        })?;
        if answer.status() != StatusCode::PARTIAL_CONTENT {
            return Err(self.refused("get", key, answer));
        }
        let data = self.body("get", key, answer)?;
        if data.len() as u64 != len {
            return Err(VaultError::Backend {
                op: "get",
                key: format!("{} ({key})", self.location),
                detail: format!("asked for {len} bytes at {offset}, got {}", data.len()),
            });
        }
        Ok(data)
    }

    fn put(&self, key: &str, data: &[u8]) -> Result<()> {
        let answer = self.send("put", key, || {
            self.client.put(self.url(key)).body(data.to_vec())
        })?;
        if !answer.status().is_success() {
            return Err(self.refused("put", key, answer));
        }
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<()> {
        let answer = self.send("delete", key, || self.client.delete(self.url(key)))?;
        if !answer.status().is_success() && answer.status() != StatusCode::NOT_FOUND {
            return Err(self.refused("delete", key, answer));
        }
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        let answer = self.send("list", prefix, || {
            self.client.get(&self.base).query(&[("prefix", prefix)])
        })?;
        if !answer.status().is_success() {
            return Err(self.refused("list", prefix, answer));
        }
        let listed: Vec<ListedObject> =
            self.runtime
                .block_on(answer.json())
                .map_err(|e| VaultError::Backend {
                    op: "list",
                    key: format!("{} ({prefix})", self.location),
                    detail: format!("not a listing: {e}"),
                })?;
        Ok(listed
            .into_iter()
            .map(|o| Listed {
                key: o.key,
                size: o.size,
            })
            .collect())
    }

    /// The bucket must exist and take the key; a Storage Role bucket is
    /// made by its server (`storage/register-bucket`), never here.
    fn prepare(&self, _create: bool) -> Result<()> {
        let answer = self.send("open", "", || self.client.request(Method::HEAD, &self.base))?;
        if answer.status().is_success() {
            return Ok(());
        }
        Err(VaultError::Backend {
            op: "open",
            key: self.location.clone(),
            detail: match answer.status() {
                StatusCode::UNAUTHORIZED => "the bucket key was refused".into(),
                StatusCode::NOT_FOUND => "no such bucket".into(),
                StatusCode::TOO_MANY_REQUESTS => {
                    "too many wrong keys from this address: try again later".into()
                }
                StatusCode::FORBIDDEN => "the server does not run the Storage Role".into(),
                other => format!("HTTP {other}"),
            },
        })
    }
}
