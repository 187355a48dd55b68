//! `halley-agent run`: the background service. It keeps the live connection
//! (or waits in the lobby until an administrator registers it), follows the
//! profile and runs the schedules, until the server says stop or a signal
//! arrives.

use anyhow::Result;
use tokio::signal::unix::{signal, SignalKind};

use super::login;
use crate::session::Session;
use crate::state::StateDir;
use crate::{defaults, scheduler};

pub async fn run(dir: StateDir, server: Option<String>, device_name: Option<String>) -> Result<()> {
    if let Some(server) = &server {
        login::remember_server(&dir, server, device_name.clone())?;
    }
    let state = dir.load()?;
    if !state.registered() {
        let defaults = defaults::load();
        // A package that carries an install token registers on first start.
        if !defaults.install_token.is_empty() {
            let with_token = login::Login {
                server: Some(state.server.clone()).filter(|s| !s.is_empty()),
                username: None,
                password: None,
                totp: None,
                install_token: Some(defaults.install_token.clone()),
                device_name: device_name.clone(),
            };
            if let Err(err) = login::run(&dir, with_token).await {
                tracing::warn!(
                    "the package's install token did not register this machine: {err:#}"
                );
            }
        }
        if dir.load()?.server.is_empty() && !defaults.server.is_empty() {
            login::remember_server(&dir, &defaults.server, device_name)?;
        }
    }
    let session = Session::new(dir, true)?;
    let schedules = tokio::spawn(scheduler::run(session.clone()));
    let mut terminate = signal(SignalKind::terminate())?;
    let outcome = tokio::select! {
        outcome = session.clone().maintain() => outcome,
        _ = terminate.recv() => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    schedules.abort();
    outcome
}
