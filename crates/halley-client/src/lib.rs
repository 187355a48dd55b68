//! A typed async client for the Comet Server API as Halley serves it, with
//! the authentication modes of the official SDKs: password, password plus
//! TOTP, and session key.
//!
//! Every call is a form-encoded POST carrying the credentials; an answer that
//! is a `CometAPIResponseMessage` with `Status` of 400 or more becomes
//! [`Error::Api`], whatever type the call returns.

mod calls;

use halley_api::types::CometAPIResponseMessage;
use serde::de::DeserializeOwned;

#[derive(Debug, Clone)]
pub enum Auth {
    Password {
        username: String,
        password: String,
    },
    PasswordTotp {
        username: String,
        password: String,
        totp: String,
    },
    SessionKey {
        username: String,
        session_key: String,
    },
    /// For the few endpoints that need no credentials.
    None,
}

impl Auth {
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Self {
        Auth::Password {
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn session(username: impl Into<String>, session_key: impl Into<String>) -> Self {
        Auth::SessionKey {
            username: username.into(),
            session_key: session_key.into(),
        }
    }

    fn fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Auth::Password { username, password } => vec![
                ("Username", username.clone()),
                ("AuthType", "Password".into()),
                ("Password", password.clone()),
            ],
            Auth::PasswordTotp {
                username,
                password,
                totp,
            } => vec![
                ("Username", username.clone()),
                ("AuthType", "PasswordTOTP".into()),
                ("Password", password.clone()),
                ("TOTP", totp.clone()),
            ],
            Auth::SessionKey {
                username,
                session_key,
            } => vec![
                ("Username", username.clone()),
                ("AuthType", "SessionKey".into()),
                ("SessionKey", session_key.clone()),
            ],
            Auth::None => vec![],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("transport error: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("the server answered HTTP {0}")]
    Http(u16),
    #[error("the account needs a TOTP code (HTTP 449)")]
    TotpRequired,
    #[error("the server answered Status {status}: {message}")]
    Api { status: i64, message: String },
    #[error("unexpected answer: {0}")]
    Decode(String),
}

impl Error {
    /// The `Status` of an API error, if this is one.
    pub fn api_status(&self) -> Option<i64> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone)]
pub struct Client {
    base_url: String,
    http: reqwest::Client,
    auth: Auth,
}

impl Client {
    /// `base_url` is the server's address, e.g. `http://127.0.0.1:8060/`.
    pub fn new(base_url: impl Into<String>, auth: Auth) -> Self {
        let mut base_url = base_url.into();
        while base_url.ends_with('/') {
            base_url.pop();
        }
        Client {
            base_url,
            http: reqwest::Client::new(),
            auth,
        }
    }

    /// The same server with other credentials.
    pub fn with_auth(&self, auth: Auth) -> Self {
        Client {
            base_url: self.base_url.clone(),
            http: self.http.clone(),
            auth,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// POSTs `params` plus the credentials to `path`; returns the raw body of a
    /// 200 answer.
    pub async fn post_raw(&self, path: &str, params: &[(&str, String)]) -> Result<Vec<u8>> {
        let mut form: Vec<(&str, String)> = self.auth.fields();
        form.extend(params.iter().cloned());
        let response = self
            .http
            .post(format!("{}{}", self.base_url, path))
            .form(&form)
            .send()
            .await?;
        match response.status().as_u16() {
            200 => Ok(response.bytes().await?.to_vec()),
            449 => Err(Error::TotpRequired),
            code => Err(Error::Http(code)),
        }
    }

    /// Calls an endpoint and decodes its typed answer.
    pub async fn call<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T> {
        let body = self.post_raw(path, params).await?;
        decode(&body)
    }

    /// Calls an endpoint whose answer is a bare `CometAPIResponseMessage`.
    pub async fn call_ok(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<CometAPIResponseMessage> {
        self.call(path, params).await
    }
}

/// Decodes a JSON answer, turning an error message into [`Error::Api`].
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Error::Decode(e.to_string()))?;
    if let Some(object) = value.as_object() {
        if let (Some(status), Some(message)) = (
            object.get("Status").and_then(|s| s.as_i64()),
            object.get("Message").and_then(|m| m.as_str()),
        ) {
            if status >= 400 {
                return Err(Error::Api {
                    status,
                    message: message.to_string(),
                });
            }
        }
    }
    serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
}
