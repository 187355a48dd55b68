//! `/api/v1/admin/external-auth-sources/*`: the sources (LDAP directories,
//! OIDC providers) that sign administrators in, per tenant. A top-level
//! administrator edits the top level's, or a tenant's through
//! `TargetOrganization`; a tenant administrator its own tenant's, and only
//! with `AllowEditExternalAuthSources`. Secrets read back obscured.

use halley_api::constants::SEVT_ACCOUNT_ADMIN_REMOVED;
use halley_api::types::{
    AdminUserPermissions, ExternalAuthenticationSource, ExternalAuthenticationSourceResponse,
};

use super::scope;
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::external_auth::{self, Sources};

/// The scope the call edits: `""` for the top level, or a tenant's ID.
fn scope_of(call: &Call) -> ApiResult<String> {
    scope::target_organization(call)
}

fn stored(call: &Call, organization: &str) -> ApiResult<Sources> {
    external_auth::of_scope(&call.state.config.get(), organization)
        .ok_or_else(|| ApiError::bad_request("The tenant no longer exists"))
}

/// Checks one incoming source and fills in its defaults.
fn prepared(
    call: &Call,
    param: &str,
    id: &str,
    mut source: ExternalAuthenticationSource,
    stored: Option<&ExternalAuthenticationSource>,
) -> ApiResult<ExternalAuthenticationSource> {
    external_auth::restore(&mut source, stored);
    external_auth::normalise(&mut source);
    external_auth::validate(&source)
        .map_err(|why| ApiError::invalid_param(param, format!("source '{id}': {why}")))?;
    if !call.admin()?.organization_id().is_empty() {
        if let Some(what) =
            external_auth::exceeds(&source.new_user_permissions, &caller_permissions(call)?)
        {
            return Err(ApiError::forbidden(format!(
                "source '{id}': NewUserPermissions may not grant {what}: this administrator does not hold it"
            )));
        }
    }
    Ok(source)
}

fn caller_permissions(call: &Call) -> ApiResult<AdminUserPermissions> {
    let admin = call.admin()?;
    Ok(call
        .state
        .config
        .get()
        .admin_users
        .iter()
        .find(|a| a.username == admin.username() && a.organization_id == admin.organization_id())
        .map(|a| a.permissions.clone())
        .unwrap_or_default())
}

/// Saves the scope's sources. Administrators signed in by a source that is
/// gone go with it, so nobody keeps access through a source an administrator
/// removed; their sessions end with their entries.
async fn save(call: &Call, organization: String, sources: Sources) -> ApiResult<()> {
    let org = organization.clone();
    let removed = call
        .state
        .config
        .update(move |config| -> ApiResult<Vec<String>> {
            let kept: Vec<String> = sources.keys().cloned().collect();
            if !external_auth::set_scope(config, &org, sources) {
                return Err(ApiError::bad_request("The tenant no longer exists"));
            }
            let orphaned = |a: &halley_api::types::AllowedAdminUser| {
                a.organization_id == org
                    && !a.external_authentication_source.is_empty()
                    && !kept.contains(&a.external_authentication_source)
            };
            let removed = config
                .admin_users
                .iter()
                .filter(|a| orphaned(a))
                .map(|a| a.username.clone())
                .collect();
            config.admin_users.retain(|a| !orphaned(a));
            Ok(removed)
        })
        .await?;
    let actor = call.admin()?.actor();
    for username in removed {
        call.state.events.emit(
            SEVT_ACCOUNT_ADMIN_REMOVED,
            &actor,
            &organization,
            &username,
            None,
        );
    }
    Ok(())
}

pub async fn new(call: Call) -> ApiResult<Reply> {
    let organization = scope_of(&call)?;
    let source: ExternalAuthenticationSource = call.params.json("Source")?;
    let mut sources = stored(&call, &organization)?;
    let id = match call.params.opt_str("SourceID").map(str::trim) {
        Some(id) if !id.is_empty() => {
            if sources.contains_key(id) {
                return Err(ApiError::invalid_param(
                    "SourceID",
                    format!("an external authentication source with the ID '{id}' already exists"),
                ));
            }
            id.to_string()
        }
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let source = prepared(&call, "Source", &id, source, None)?;
    sources.insert(id.clone(), source.clone());
    save(&call, organization, sources).await?;
    Ok(Reply::json(&ExternalAuthenticationSourceResponse {
        status: 200,
        message: "OK".into(),
        id,
        source: external_auth::obscured(&source),
        ..Default::default()
    }))
}

pub async fn get(call: Call) -> ApiResult<Reply> {
    let organization = scope_of(&call)?;
    Ok(Reply::json(&external_auth::obscured_all(&stored(
        &call,
        &organization,
    )?)))
}

/// Replaces the scope's sources with the map given.
pub async fn set(call: Call) -> ApiResult<Reply> {
    let organization = scope_of(&call)?;
    let incoming: Sources = call.params.json("Sources")?;
    let current = stored(&call, &organization)?;
    let mut sources = Sources::new();
    for (id, source) in incoming {
        if id.trim().is_empty() {
            return Err(ApiError::invalid_param(
                "Sources",
                "every source needs a non-empty ID",
            ));
        }
        let source = prepared(&call, "Sources", &id, source, current.get(&id))?;
        sources.insert(id, source);
    }
    save(&call, organization, sources).await?;
    Ok(Reply::ok())
}

pub async fn delete(call: Call) -> ApiResult<Reply> {
    let organization = scope_of(&call)?;
    let id = call.params.non_empty("SourceID")?.to_string();
    let mut sources = stored(&call, &organization)?;
    if sources.remove(&id).is_none() {
        return Err(ApiError::invalid_param(
            "SourceID",
            format!("no external authentication source has the ID '{id}'"),
        ));
    }
    save(&call, organization, sources).await?;
    Ok(Reply::ok())
}
