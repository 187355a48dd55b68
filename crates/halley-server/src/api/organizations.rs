//! `/api/v1/admin/organization/*`: tenants, kept in `cometd.cfg`
//! (`Organizations`), reserved to top-level administrators.

use halley_api::constants::{
    SEVT_ACCOUNT_ADMIN_REMOVED, SEVT_ACCOUNT_REMOVED, SEVT_POLICY_REMOVED, SEVT_TENANT_NEW,
    SEVT_TENANT_REMOVED, SEVT_TENANT_UPDATED,
};
use halley_api::types::{Organization, OrganizationResponse, UninstallConfig};

use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::secrets;

/// Every tenant, with its secrets obscured.
pub async fn list(call: Call) -> ApiResult<Reply> {
    let mut organizations = call.state.config.get().organizations.clone();
    organizations.values_mut().for_each(secrets::obscure_tenant);
    Ok(Reply::json(&organizations))
}

/// Creates a tenant (no or empty `OrganizationID`) or replaces one. Host
/// names select a tenant, so no two tenants may share one.
pub async fn set(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let requested_id = call
        .params
        .opt_str("OrganizationID")
        .unwrap_or("")
        .to_string();
    let organization: Option<Organization> = call.params.opt_json("Organization")?;
    let config = call.state.config.get();
    let existing = config.organizations.get(&requested_id).cloned();
    if !requested_id.is_empty() && existing.is_none() && organization.is_none() {
        return Err(ApiError::invalid_param(
            "OrganizationID",
            format!("no tenant has the ID '{requested_id}'"),
        ));
    }
    let Some(mut organization) = organization.or(existing.clone()) else {
        return Err(ApiError::missing_param("Organization"));
    };
    let id = if requested_id.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        requested_id
    };
    secrets::restore_tenant(&mut organization, existing.as_ref());
    organization.hosts = organization
        .hosts
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    for host in &organization.hosts {
        if let Some((other, _)) = config
            .organizations
            .iter()
            .find(|(other, org)| **other != id && org.hosts.contains(host))
        {
            return Err(ApiError::invalid_param(
                "Organization",
                format!("host '{host}' already selects tenant '{other}'"),
            ));
        }
    }
    let saved = organization.clone();
    let mut shown = organization;
    secrets::obscure_tenant(&mut shown);
    let key = id.clone();
    call.state
        .config
        .update(move |config| -> ApiResult<()> {
            config.organizations.insert(key, saved);
            Ok(())
        })
        .await?;
    let event = if existing.is_some() {
        SEVT_TENANT_UPDATED
    } else {
        SEVT_TENANT_NEW
    };
    call.state.events.emit(
        event,
        &admin.actor(),
        &id,
        &id,
        serde_json::to_value(&shown).ok(),
    );
    Ok(Reply::json(&OrganizationResponse {
        status: 200,
        message: "OK".into(),
        id,
        organization: shown,
        ..Default::default()
    }))
}

/// Deletes a tenant with everything that belongs to it: its accounts (with
/// their sessions and jobs), its policies, user groups and other documents,
/// its resources in one store transaction; then its administrators.
pub async fn delete(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let id = call.params.non_empty("OrganizationID")?.to_string();
    let _uninstall: Option<UninstallConfig> = call.params.opt_json("UninstallConfig")?;
    if !call.state.config.get().organizations.contains_key(&id) {
        return Err(ApiError::invalid_param(
            "OrganizationID",
            format!("no tenant has the ID '{id}'"),
        ));
    }
    let state = &call.state;
    let removal = state.store.tenant_delete(&admin.scope(), &id).await?;
    for username in &removal.usernames {
        state
            .events
            .emit(SEVT_ACCOUNT_REMOVED, &admin.actor(), &id, username, None);
    }
    for policy_id in &removal.policy_ids {
        state
            .events
            .emit(SEVT_POLICY_REMOVED, &admin.actor(), &id, policy_id, None);
    }
    let removed_admins = {
        let id = id.clone();
        state
            .config
            .update(move |config| -> ApiResult<Vec<String>> {
                config.organizations.remove(&id);
                let removed = config
                    .admin_users
                    .iter()
                    .filter(|a| a.organization_id == id)
                    .map(|a| a.username.clone())
                    .collect();
                config.admin_users.retain(|a| a.organization_id != id);
                Ok(removed)
            })
            .await?
    };
    for username in removed_admins {
        state.events.emit(
            SEVT_ACCOUNT_ADMIN_REMOVED,
            &admin.actor(),
            &id,
            &username,
            None,
        );
    }
    state
        .events
        .emit(SEVT_TENANT_REMOVED, &admin.actor(), &id, &id, None);
    Ok(Reply::ok())
}
