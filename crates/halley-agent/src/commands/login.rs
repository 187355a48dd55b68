//! `halley-agent login`: registers this machine as a device of an account
//! and keeps its credentials in the state directory.

use anyhow::{bail, Context, Result};
use halley_protocol::device::{Registration, REGISTER_PATH};

use crate::state::{AgentState, StateDir};
use crate::{defaults, platform};

pub struct Login {
    /// The package's server when `None`.
    pub server: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub totp: Option<String>,
    pub install_token: Option<String>,
    pub device_name: Option<String>,
}

pub async fn run(dir: &StateDir, mut login: Login) -> Result<()> {
    let mut state = dir.load()?;
    let defaults = defaults::load();
    let server = match &login.server {
        Some(server) => server.trim_end_matches('/').to_string(),
        None if !defaults.server.is_empty() => defaults.server.clone(),
        None => bail!("give --server: no client package here names a server"),
    };
    if login.install_token.is_none()
        && login.username.is_none()
        && !defaults.install_token.is_empty()
    {
        login.install_token = Some(defaults.install_token);
    }
    if state.device_id.is_empty() {
        state.device_id = uuid::Uuid::new_v4().to_string();
    }
    let device_name = login.device_name.clone().unwrap_or_else(platform::hostname);
    let info = platform::device_info(&device_name);
    let mut form: Vec<(&str, String)> = vec![
        ("DeviceID", state.device_id.clone()),
        ("FriendlyName", device_name.clone()),
        ("ClientVersion", info.client_version.clone()),
        ("Platform", info.platform.clone()),
        (
            "PlatformVersion",
            serde_json::to_string(&info.platform_version)?,
        ),
        ("DeviceTimezone", info.timezone.clone()),
    ];
    match (&login.install_token, &login.username, &login.password) {
        (Some(token), _, _) => form.push(("InstallToken", token.clone())),
        (None, Some(username), Some(password)) => {
            form.push(("Username", username.clone()));
            form.push(("Password", password.clone()));
            match &login.totp {
                Some(code) => {
                    form.push(("AuthType", "PasswordTOTP".into()));
                    form.push(("TOTP", code.clone()));
                }
                None => form.push(("AuthType", "Password".into())),
            }
        }
        _ => bail!("give --username and --password, or --install-token"),
    }
    let url = format!("{server}{REGISTER_PATH}");
    let answer = reqwest::Client::new()
        .post(&url)
        .form(&form)
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    let status = answer.status();
    let text = answer.text().await?;
    let registration: Registration = serde_json::from_str(&text).with_context(|| {
        format!("{url} answered {status} with something that is not a registration: {text:.200}")
    })?;
    if registration.status != 200 {
        bail!(
            "the server refused the registration: {}",
            registration.message
        );
    }
    let state = AgentState {
        server,
        device_id: registration.device_id.clone(),
        device_name,
        username: registration.username.clone(),
        device_key: registration.device_key,
        account_key: registration.account_key,
    };
    dir.save(&state)?;
    println!(
        "registered device {} ({}) to account {} on {}",
        state.device_id, state.device_name, state.username, state.server
    );
    Ok(())
}

/// Remembers the server for a `run` that waits in the lobby.
pub fn remember_server(dir: &StateDir, server: &str, device_name: Option<String>) -> Result<()> {
    let mut state = dir.load()?;
    state.server = server.trim_end_matches('/').to_string();
    if state.device_id.is_empty() {
        state.device_id = uuid::Uuid::new_v4().to_string();
    }
    if let Some(name) = device_name {
        state.device_name = name;
    } else if state.device_name.is_empty() {
        state.device_name = platform::hostname();
    }
    dir.save(&state)
}
