//! The whole server configuration (`meta/server-config/*`), the process
//! (`restart-service`, `shutdown-service`) and the host's addresses; all
//! reserved to top-level administrators.

use std::net::SocketAddr;

use halley_api::constants::{SEVT_SERVER_RESTARTED, SEVT_SERVER_SHUTDOWN, SEVT_SERVER_UPDATED};
use halley_api::types::ServerConfigOptions;

use super::account::{obscured, OBSCURED};
use crate::auth::sessions;
use crate::events::webhooks;
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::lifecycle::Lifecycle;
use crate::service::secrets;
use crate::store::SessionKind;

pub async fn get(call: Call) -> ApiResult<Reply> {
    let mut config = (*call.state.config.get()).clone();
    config.admin_users = config.admin_users.iter().map(obscured).collect();
    secrets::obscure_config(&mut config);
    Ok(Reply::json(&config))
}

/// Replaces the whole configuration. Obscured secrets sent back unchanged keep
/// their stored values. The server then restarts, as a Comet Server does
/// (clients wait for `ServerStartTime` to change), on the same sockets unless
/// `ListenAddresses` changed.
pub async fn set(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?.clone();
    let mut next: ServerConfigOptions = call.params.json("Config")?;
    let current = call.state.config.get();
    let mut passwords_changed = Vec::new();
    for entry in &mut next.admin_users {
        let stored = current
            .admin_users
            .iter()
            .find(|a| a.username == entry.username && a.organization_id == entry.organization_id);
        if entry.password == OBSCURED {
            entry.password = stored.map(|a| a.password.clone()).unwrap_or_default();
            entry.password_format = stored.map(|a| a.password_format).unwrap_or_default();
        }
        if stored.is_some_and(|a| a.password != entry.password) {
            passwords_changed.push(entry.username.clone());
        }
        if entry.totp_key == OBSCURED {
            entry.totp_key = stored.map(|a| a.totp_key.clone()).unwrap_or_default();
        }
    }
    secrets::restore_config(&mut next, &current);
    validate(&next).map_err(|why| ApiError::invalid_param("Config", why))?;
    let saved = next.clone();
    call.state
        .config
        .update(move |config| -> ApiResult<()> {
            *config = saved;
            Ok(())
        })
        .await?;
    // A password set here ends the sessions opened with the old one.
    for username in &passwords_changed {
        sessions::end_all(&call.state, SessionKind::Admin, username).await?;
    }
    let hooks: Vec<String> = webhooks::configured_hooks(&next)
        .into_iter()
        .filter(|hook| {
            !webhooks::configured_hooks(&current)
                .iter()
                .any(|old| old.key == hook.key && old.option == hook.option)
        })
        .map(|hook| hook.key)
        .collect();
    webhooks::reconcile(&call.state, &hooks).await?;
    call.state
        .events
        .emit(SEVT_SERVER_UPDATED, &admin.actor(), "", "", None);
    call.state.lifecycle.request(Lifecycle::Restart);
    Ok(Reply::ok())
}

fn validate(config: &ServerConfigOptions) -> Result<(), String> {
    if !config
        .admin_users
        .iter()
        .any(|a| a.organization_id.is_empty() && !a.username.is_empty())
    {
        return Err("AdminUsers must keep at least one top-level administrator".into());
    }
    for listener in &config.listen_addresses {
        listener.listen_address.parse::<SocketAddr>().map_err(|_| {
            format!(
                "ListenAddress '{}' is not ADDR:PORT",
                listener.listen_address
            )
        })?;
    }
    let mut hosts = std::collections::BTreeMap::new();
    for (id, org) in &config.organizations {
        for host in &org.hosts {
            if let Some(other) = hosts.insert(host.to_ascii_lowercase(), id) {
                return Err(format!(
                    "host '{host}' is claimed by tenants '{other}' and '{id}'"
                ));
            }
        }
    }
    Ok(())
}

pub async fn network_interfaces(call: Call) -> ApiResult<Reply> {
    let mut addresses: Vec<String> = if_addrs::get_if_addrs()
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|interface| interface.ip().to_string())
        .collect();
    addresses.sort();
    addresses.dedup();
    let _ = call;
    Ok(Reply::json(&addresses))
}

pub async fn restart(call: Call) -> ApiResult<Reply> {
    call.state
        .events
        .emit(SEVT_SERVER_RESTARTED, &call.admin()?.actor(), "", "", None);
    call.state.lifecycle.request(Lifecycle::Restart);
    Ok(Reply::ok())
}

pub async fn shutdown(call: Call) -> ApiResult<Reply> {
    call.state
        .events
        .emit(SEVT_SERVER_SHUTDOWN, &call.admin()?.actor(), "", "", None);
    call.state.lifecycle.request(Lifecycle::Shutdown);
    Ok(Reply::ok())
}
