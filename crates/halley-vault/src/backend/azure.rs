//! Azure Blob Storage through `object_store`'s `MicrosoftAzure`, with the
//! one request that crate does not make: creating a missing container at
//! `init` ("Create Container", `PUT …?restype=container`), signed with the
//! account key (SharedKey) or carrying the SAS token.

use std::sync::Arc;

use base64::Engine as _;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::ClientOptions;

use super::object::{Bucket, ObjectBackend};
use super::Backend;
use crate::error::{Result, VaultError};

/// The storage service version the container request speaks.
const API_VERSION: &str = "2021-08-06";

/// Where an Azure Blob Storage repository lives.
#[derive(Debug, Clone, Default)]
pub struct AzureLocation {
    /// Storage account name.
    pub account: String,
    /// Container name.
    pub container: String,
    /// Blob name prefix inside the container (may be empty).
    pub prefix: String,
    /// The account key (base64), for SharedKey signing.
    pub access_key: Option<String>,
    /// A SAS token (`sv=…&sig=…`), used when there is no account key.
    pub sas_token: Option<String>,
    /// The account's blob endpoint, e.g. `http://127.0.0.1:10000/devstoreaccount1`
    /// for Azurite; empty means `https://ACCOUNT.blob.core.windows.net`.
    pub endpoint: String,
}

impl AzureLocation {
    /// `azure://ACCOUNT/CONTAINER[/PREFIX]`, as shown in messages.
    pub fn name(&self) -> String {
        let mut name = format!("azure://{}/{}", self.account, self.container);
        if !self.prefix.is_empty() {
            name.push('/');
            name.push_str(&self.prefix);
        }
        name
    }

    fn account_url(&self) -> String {
        if self.endpoint.is_empty() {
            format!("https://{}.blob.core.windows.net", self.account)
        } else {
            self.endpoint.trim_end_matches('/').to_string()
        }
    }
}

/// Storage account names: 3 to 24 lowercase letters and digits.
fn check_account(name: &str) -> std::result::Result<(), String> {
    let ok = (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bad account name {name:?} (3 to 24 lowercase letters and digits)"
        ))
    }
}

/// Container names: 3 to 63 lowercase letters, digits and single hyphens,
/// starting and ending with a letter or digit.
fn check_container(name: &str) -> std::result::Result<(), String> {
    let b = name.as_bytes();
    let ok = (3..=63).contains(&b.len())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bad container name {name:?} (3 to 63 lowercase letters, digits and single hyphens)"
        ))
    }
}

/// Opens an Azure Blob Storage backend. `init` creates the container when it
/// does not exist; opening a repository in a missing container is an error
/// that names it.
pub fn open_azure(loc: &AzureLocation) -> Result<Arc<dyn Backend>> {
    let name = loc.name();
    let bad = |why: String| VaultError::invalid("Azure location", format!("{name}: {why}"));
    check_account(&loc.account).map_err(bad)?;
    check_container(&loc.container).map_err(bad)?;
    let account_url = loc.account_url();
    let endpoint = reqwest::Url::parse(&account_url)
        .map_err(|e| bad(format!("bad endpoint {account_url:?}: {e}")))?;
    if !matches!(endpoint.scheme(), "http" | "https") {
        return Err(bad(format!(
            "bad endpoint {account_url:?}: not http:// or https://"
        )));
    }
    let allow_http = endpoint.scheme() == "http";
    let mut b = MicrosoftAzureBuilder::new()
        .with_account(&loc.account)
        .with_container_name(&loc.container)
        .with_endpoint(account_url.clone())
        .with_client_options(ClientOptions::new().with_allow_http(allow_http));
    let auth = match (&loc.access_key, &loc.sas_token) {
        (Some(key), _) => {
            let key = base64::engine::general_purpose::STANDARD
                .decode(key.trim())
                .map_err(|_| bad("the account key is not base64".into()))?;
            b = b.with_access_key(base64::engine::general_purpose::STANDARD.encode(&key));
            Auth::Key(key)
        }
        (None, Some(sas)) => {
            let sas = sas.trim().trim_start_matches('?').to_string();
            b = b.with_config(object_store::azure::AzureConfigKey::SasKey, sas.clone());
            Auth::Sas(sas)
        }
        // Without explicit credentials object_store would ask a cloud
        // metadata service; a repository location names its credentials.
        (None, None) => {
            return Err(bad(
                "no credentials: set AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN".into(),
            ))
        }
    };
    let store = b.build().map_err(|e| bad(e.to_string()))?;
    let creator = ContainerCreator {
        http: reqwest::Client::new(),
        account: loc.account.clone(),
        url: format!("{account_url}/{}", loc.container),
        container: loc.container.clone(),
        auth,
    };
    let bucket = Bucket {
        kind: "container",
        name: loc.container.clone(),
        create: Some(Box::new(move || {
            let creator = creator.clone();
            Box::pin(async move { creator.create().await })
        })),
        exists: None,
    };
    Ok(Arc::new(
        ObjectBackend::new(Arc::new(store), &loc.prefix, name)?.with_bucket(bucket),
    ))
}

#[derive(Clone)]
enum Auth {
    /// The decoded account key.
    Key(Vec<u8>),
    /// The SAS token's query string.
    Sas(String),
}

#[derive(Clone)]
struct ContainerCreator {
    http: reqwest::Client,
    account: String,
    /// The container's URL, without query.
    url: String,
    container: String,
    auth: Auth,
}

impl ContainerCreator {
    /// Create Container; one that exists already (a concurrent `init`) is
    /// fine.
    async fn create(&self) -> Result<()> {
        let fail = |detail: String| VaultError::Backend {
            op: "create container",
            key: format!("{:?} in account {}", self.container, self.account),
            detail,
        };
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut url = format!("{}?restype=container", self.url);
        let mut authorization = None;
        match &self.auth {
            Auth::Key(key) => {
                let path = reqwest::Url::parse(&url)
                    .map_err(|e| fail(e.to_string()))?
                    .path()
                    .to_string();
                // Version 2015-02-21 and later: an empty Content-Length line
                // for an empty body.
                let string_to_sign = format!(
                    "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{API_VERSION}\n/{}{path}\nrestype:container",
                    self.account
                );
                let signature = shared_key_signature(key, &string_to_sign);
                authorization = Some(format!("SharedKey {}:{signature}", self.account));
            }
            Auth::Sas(sas) => {
                url.push('&');
                url.push_str(sas);
            }
        }
        let mut req = self
            .http
            .put(&url)
            .header("x-ms-date", &date)
            .header("x-ms-version", API_VERSION)
            .header("Content-Length", "0");
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        if status.is_success() || status == reqwest::StatusCode::CONFLICT {
            return Ok(());
        }
        let body = resp.text().await.unwrap_or_default();
        Err(fail(format!("{status}: {}", body.trim())))
    }
}

/// Base64 of HMAC-SHA256 over the string to sign, keyed with the account key.
fn shared_key_signature(key: &[u8], string_to_sign: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_account("devstoreaccount1").is_ok());
        assert!(check_account("Upper").is_err());
        assert!(check_account("ab").is_err());
        assert!(check_container("vault-1").is_ok());
        assert!(check_container("-vault").is_err());
        assert!(check_container("va--ult").is_err());
        assert!(check_container("Vault").is_err());
    }

    #[test]
    fn missing_credentials_are_named() {
        let err = open_azure(&AzureLocation {
            account: "acct".into(),
            container: "vault".into(),
            ..Default::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("AZURE_STORAGE_ACCOUNT_KEY"), "{err}");
        assert!(err.contains("azure://acct/vault"), "{err}");
    }

    #[test]
    fn signature_matches_a_known_value() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        let sig = shared_key_signature(b"key", "The quick brown fox jumps over the lazy dog");
        let hex: String = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
