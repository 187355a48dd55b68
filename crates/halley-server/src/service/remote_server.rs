//! Calls to another Halley or Comet server's API as one of its
//! administrators (a `RemoteServerAddress` or `ReplicaServer` of type
//! `comet`): for Storage Role providers, Constellation and replication.

use std::time::Duration;

use serde_json::Value;

/// How long the other server has to answer one call.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Another server and the administrator Halley signs in as.
#[derive(Debug, Clone)]
pub struct RemoteServer {
    /// `http(s)://host[:port]/`.
    pub base: String,
    pub username: String,
    pub password: String,
    client: reqwest::Client,
}

/// `http(s)://host[:port]/`, as a vault's `CometServer` holds it; `None`
/// for anything else.
pub fn server_address(address: &str) -> Option<String> {
    let address = address.trim();
    (address.starts_with("http://") || address.starts_with("https://"))
        .then(|| format!("{}/", address.trim_end_matches('/')))
}

impl RemoteServer {
    /// The server at `address`; `Err` names what is wrong with the address.
    pub fn new(address: &str, username: &str, password: &str) -> Result<Self, String> {
        let base = server_address(address)
            .ok_or_else(|| format!("'{address}' is not an http:// or https:// address"))?;
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(RemoteServer {
            base,
            username: username.to_string(),
            password: password.to_string(),
            client,
        })
    }

    /// Calls `api/v1/admin/{path}` with `fields`; the answer's JSON, or why
    /// the call failed (unreachable, not an API answer, or refused with a
    /// `Status` of 400 or more).
    pub async fn call(&self, path: &str, fields: &[(&str, &str)]) -> Result<Value, String> {
        let mut form = vec![
            ("Username", self.username.as_str()),
            ("AuthType", "Password"),
            ("Password", self.password.as_str()),
        ];
        form.extend_from_slice(fields);
        let answer = self
            .client
            .post(format!("{}api/v1/admin/{path}", self.base))
            .form(&form)
            .send()
            .await
            .map_err(|err| format!("at {} could not be reached: {err}", self.base))?;
        let status = answer.status();
        let body: Value = answer.json().await.map_err(|err| {
            format!(
                "at {} answered HTTP {status} with no API answer: {err}",
                self.base
            )
        })?;
        // An error answer carries a Status of 400 or more (a listing has no
        // Status at all).
        if !status.is_success() || body["Status"].as_i64().is_some_and(|s| s >= 400) {
            return Err(format!(
                "at {} refused {path}: {}",
                self.base,
                body["Message"].as_str().unwrap_or("no reason given")
            ));
        }
        Ok(body)
    }
}
