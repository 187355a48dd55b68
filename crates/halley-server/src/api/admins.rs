//! `/api/v1/admin/admin-user/*`: administrator accounts, reserved to
//! top-level administrators.

use halley_api::constants::{SEVT_ACCOUNT_ADMIN_NEW, SEVT_ACCOUNT_ADMIN_REMOVED};
use halley_api::types::AllowedAdminUser;

use super::account::obscured;
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::admins::new_admin;
use crate::store::SessionKind;

/// Every administrator, secrets obscured.
pub async fn list(call: Call) -> ApiResult<Reply> {
    let admins: Vec<AllowedAdminUser> = call
        .state
        .config
        .get()
        .admin_users
        .iter()
        .map(obscured)
        .collect();
    Ok(Reply::json(&admins))
}

pub async fn new(call: Call) -> ApiResult<Reply> {
    let actor = call.admin()?.actor();
    let username = call.params.non_empty("TargetUser")?.to_string();
    let password = call.params.non_empty("TargetPassword")?.to_string();
    let organization = call.params.opt_str("TargetOrgID").unwrap_or("").to_string();
    let entry = new_admin(&username, &password, &organization);
    let org = organization.clone();
    call.state
        .config
        .update(move |config| -> ApiResult<()> {
            if !org.is_empty() && !config.organizations.contains_key(&org) {
                return Err(ApiError::invalid_param(
                    "TargetOrgID",
                    format!("no tenant has the ID '{org}'"),
                ));
            }
            if config
                .admin_users
                .iter()
                .any(|a| a.username == entry.username && a.organization_id == org)
            {
                return Err(ApiError::invalid_param(
                    "TargetUser",
                    format!("an administrator named '{}' already exists", entry.username),
                ));
            }
            config.admin_users.push(entry);
            Ok(())
        })
        .await?;
    call.state.events.emit(
        SEVT_ACCOUNT_ADMIN_NEW,
        &actor,
        &organization,
        &username,
        None,
    );
    Ok(Reply::ok())
}

/// Deletes an administrator (the top-level one of that name when several
/// tenants use it) and ends its sessions. The last top-level administrator
/// stays: without it nobody could manage the server.
pub async fn delete(call: Call) -> ApiResult<Reply> {
    let actor = call.admin()?.actor();
    let username = call.params.non_empty("TargetUser")?.to_string();
    let name = username.clone();
    let organization = call
        .state
        .config
        .update(move |config| -> ApiResult<String> {
            let index = config
                .admin_users
                .iter()
                .position(|a| a.username == name && a.organization_id.is_empty())
                .or_else(|| config.admin_users.iter().position(|a| a.username == name))
                .ok_or_else(|| {
                    ApiError::invalid_param(
                        "TargetUser",
                        format!("no administrator is named '{name}'"),
                    )
                })?;
            let organization = config.admin_users[index].organization_id.clone();
            let top_level = config
                .admin_users
                .iter()
                .filter(|a| a.organization_id.is_empty())
                .count();
            if organization.is_empty() && top_level == 1 {
                return Err(ApiError::bad_request(
                    "The last top-level administrator cannot be deleted",
                ));
            }
            config.admin_users.remove(index);
            Ok(organization)
        })
        .await?;
    crate::auth::sessions::end_all(&call.state, SessionKind::Admin, &username).await?;
    call.state.events.emit(
        SEVT_ACCOUNT_ADMIN_REMOVED,
        &actor,
        &organization,
        &username,
        None,
    );
    Ok(Reply::ok())
}
