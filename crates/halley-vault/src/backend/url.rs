//! Turns a repository location given by a person (`/path`, `s3://…`,
//! `azure://…`, `gs://…`, `halleys://HOST/BUCKET`) into a backend.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::http::HttpBuilder;
use object_store::ClientOptions;

use super::gcs::credentials_from_env;
use super::object::Bucket;
use super::{
    open_azure, open_gcs, AzureLocation, Backend, BucketBackend, BucketLocation, GcsLocation,
    LocalBackend, ObjectBackend, SftpBackend, SftpLocation,
};
use crate::error::{Result, VaultError};

/// Where an S3-compatible repository lives (the API's `S3DestinationLocation`
/// maps onto this).
#[derive(Debug, Clone, Default)]
pub struct S3Location {
    /// Endpoint URL, e.g. `https://s3.example.com` or `http://127.0.0.1:9000`;
    /// empty for AWS itself.
    pub endpoint: String,
    /// Region; empty means `us-east-1`.
    pub region: String,
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (may be empty).
    pub prefix: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
}

/// Opens an S3-compatible backend.
pub fn open_s3(loc: &S3Location) -> Result<Arc<dyn Backend>> {
    if loc.bucket.is_empty() {
        return Err(VaultError::invalid("S3 location", "no bucket"));
    }
    let region = if loc.region.is_empty() {
        "us-east-1"
    } else {
        &loc.region
    };
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(&loc.bucket)
        .with_region(region)
        .with_access_key_id(&loc.access_key)
        .with_secret_access_key(&loc.secret_key);
    if !loc.endpoint.is_empty() {
        b = b
            .with_endpoint(&loc.endpoint)
            .with_allow_http(loc.endpoint.starts_with("http://"));
    }
    let name = format!("s3://{}/{}", loc.bucket, loc.prefix);
    let store = b
        .build()
        .map_err(|e| VaultError::invalid("S3 location", format!("{name}: {e}")))?;
    let bucket = Bucket {
        kind: "bucket",
        name: loc.bucket.clone(),
        create: None,
        exists: None,
    };
    Ok(Arc::new(
        ObjectBackend::new(Arc::new(store), &loc.prefix, name)?.with_bucket(bucket),
    ))
}

/// Opens a WebDAV server through `object_store`'s HTTP store: `url` is the
/// repository's collection (`http://…` or `https://…`); with `user`, requests
/// carry HTTP Basic credentials.
pub fn open_webdav(
    url: &str,
    user: Option<&str>,
    password: Option<&str>,
) -> Result<Arc<dyn Backend>> {
    use base64::Engine as _;
    let bad = |why: String| VaultError::invalid("WebDAV location", format!("{url}: {why}"));
    let mut options = ClientOptions::new().with_allow_http(url.starts_with("http://"));
    if let Some(user) = user {
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", password.unwrap_or("")));
        let mut headers = http::HeaderMap::new();
        let value = http::HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|e| bad(e.to_string()))?;
        headers.insert(http::header::AUTHORIZATION, value);
        options = options.with_default_headers(headers);
    }
    // The store is rooted at the server and the path becomes a key prefix:
    // the store creates missing collections only below its root.
    let after_scheme = url
        .find("://")
        .map(|i| i + 3)
        .ok_or_else(|| bad("no scheme".into()))?;
    let (origin, path) = match url[after_scheme..].find('/') {
        Some(slash) => url.split_at(after_scheme + slash),
        None => (url, ""),
    };
    let store = HttpBuilder::new()
        .with_url(origin)
        .with_client_options(options)
        .build()
        .map_err(|e| bad(e.to_string()))?;
    Ok(Arc::new(ObjectBackend::new(
        Arc::new(store),
        path,
        url.to_string(),
    )?))
}

/// `USER@HOST[:PORT]/PATH` with the key, password and known-hosts file from
/// `HALLEY_VAULT_SFTP_KEY`, `HALLEY_VAULT_SFTP_PASSWORD` and
/// `HALLEY_VAULT_SFTP_KNOWN_HOSTS` (default `~/.ssh/known_hosts`).
fn parse_sftp(location: &str, rest: &str) -> Result<SftpLocation> {
    let bad = |why: &str| VaultError::invalid("SFTP location", format!("{location}: {why}"));
    let (authority, path) = rest.split_once('/').ok_or_else(|| bad("no path"))?;
    let (user, hostport) = authority.split_once('@').ok_or_else(|| bad("no user@"))?;
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| bad("bad port"))?),
        None => (hostport, 22),
    };
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let known_hosts = env("HALLEY_VAULT_SFTP_KNOWN_HOSTS")
        .map(std::path::PathBuf::from)
        .or_else(|| env("HOME").map(|h| std::path::Path::new(&h).join(".ssh/known_hosts")))
        .ok_or_else(|| bad("no known-hosts file (set HALLEY_VAULT_SFTP_KNOWN_HOSTS)"))?;
    Ok(SftpLocation {
        host: host.to_string(),
        port,
        user: user.to_string(),
        private_key: env("HALLEY_VAULT_SFTP_KEY").map(Into::into),
        password: env("HALLEY_VAULT_SFTP_PASSWORD"),
        known_hosts,
        path: format!("/{path}"),
    })
}

/// Opens the backend a location names.
///
/// - a plain path or `local:PATH`: a local directory;
/// - `s3://BUCKET[/PREFIX]`: an S3-compatible store, with `AWS_ACCESS_KEY_ID`,
///   `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` (default `us-east-1`) and
///   `AWS_ENDPOINT_URL` (for non-AWS servers; `http://` is allowed) from the
///   environment;
/// - `azure://ACCOUNT/CONTAINER[/PREFIX]`: Azure Blob Storage, with
///   `AZURE_STORAGE_ACCOUNT_KEY` (or `AZURE_STORAGE_SAS_TOKEN`) and
///   `AZURE_STORAGE_ENDPOINT` (another account URL, e.g. Azurite's
///   `http://127.0.0.1:10000/devstoreaccount1`) from the environment;
/// - `gs://BUCKET[/PREFIX]`: Google Cloud Storage, with the key file at
///   `GOOGLE_APPLICATION_CREDENTIALS` (or the JSON in
///   `GOOGLE_SERVICE_ACCOUNT_KEY`);
/// - `sftp://USER@HOST[:PORT]/PATH`: an SFTP server (see `parse_sftp`);
/// - `webdav://HOST[:PORT]/PATH` (HTTP) or `webdavs://…` (HTTPS): a WebDAV
///   server, with `HALLEY_VAULT_WEBDAV_USER` and `HALLEY_VAULT_WEBDAV_PASSWORD`
///   for Basic authentication.
pub fn open_location(location: &str) -> Result<Arc<dyn Backend>> {
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let env = |k: &str| std::env::var(k).unwrap_or_default();
        let region = if env("AWS_REGION").is_empty() {
            env("AWS_DEFAULT_REGION")
        } else {
            env("AWS_REGION")
        };
        return open_s3(&S3Location {
            endpoint: env("AWS_ENDPOINT_URL"),
            region,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            access_key: env("AWS_ACCESS_KEY_ID"),
            secret_key: env("AWS_SECRET_ACCESS_KEY"),
        });
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(rest) = location.strip_prefix("azure://") {
        let mut parts = rest.splitn(3, '/');
        let account = parts.next().unwrap_or("");
        let container = parts.next().unwrap_or("");
        if account.is_empty() || container.is_empty() {
            return Err(VaultError::invalid(
                "Azure location",
                format!("{location}: expected azure://ACCOUNT/CONTAINER[/PREFIX]"),
            ));
        }
        return open_azure(&AzureLocation {
            account: account.to_string(),
            container: container.to_string(),
            prefix: parts.next().unwrap_or("").trim_matches('/').to_string(),
            access_key: env("AZURE_STORAGE_ACCOUNT_KEY"),
            sas_token: env("AZURE_STORAGE_SAS_TOKEN"),
            endpoint: env("AZURE_STORAGE_ENDPOINT").unwrap_or_default(),
        });
    }
    if let Some(rest) = location.strip_prefix("gs://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(VaultError::invalid(
                "GCS location",
                format!("{location}: expected gs://BUCKET[/PREFIX]"),
            ));
        }
        let (credentials, credentials_origin) = credentials_from_env(location)?;
        return open_gcs(&GcsLocation {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            credentials,
            credentials_origin,
        });
    }
    for (scheme, http) in [("halley://", "http://"), ("halleys://", "https://")] {
        if let Some(rest) = location.strip_prefix(scheme) {
            let (host, bucket) = rest.trim_end_matches('/').rsplit_once('/').ok_or_else(|| {
                VaultError::invalid(
                    "Storage Role location",
                    format!("{location}: expected {scheme}HOST[:PORT]/BUCKET"),
                )
            })?;
            let key = env("HALLEY_BUCKET_KEY").ok_or_else(|| {
                VaultError::invalid(
                    "Storage Role location",
                    "set HALLEY_BUCKET_KEY to the bucket's key",
                )
            })?;
            return Ok(Arc::new(BucketBackend::open(&BucketLocation {
                server: format!("{http}{host}/"),
                bucket: bucket.to_string(),
                key,
            })?));
        }
    }
    if let Some(rest) = location.strip_prefix("sftp://") {
        return Ok(Arc::new(SftpBackend::connect(&parse_sftp(
            location, rest,
        )?)?));
    }
    for (scheme, http) in [("webdav://", "http://"), ("webdavs://", "https://")] {
        if let Some(rest) = location.strip_prefix(scheme) {
            let user = env("HALLEY_VAULT_WEBDAV_USER");
            let password = env("HALLEY_VAULT_WEBDAV_PASSWORD");
            return open_webdav(
                &format!("{http}{rest}"),
                user.as_deref(),
                password.as_deref(),
            );
        }
    }
    let path = location.strip_prefix("local:").unwrap_or(location);
    if path.contains("://") {
        return Err(VaultError::invalid(
            "repository location",
            format!("{location}: unsupported scheme (use a path, s3://, azure://, gs://, sftp://, webdav:// or webdavs://)"),
        ));
    }
    Ok(Arc::new(LocalBackend::new(path)))
}
