//! `AdminUserPermissions`: what an administrator may do beyond its scope.
//! The `Allow*` switches open settings to tenant administrators (top-level
//! ones have them anyway); the `Prevent*`/`Deny*` switches close them to anyone.

use halley_api::types::AdminUserPermissions;

use crate::auth::AdminPrincipal;
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

pub enum Rule {
    /// Tenant administrators need this switch on.
    TenantNeeds(&'static str, fn(&AdminUserPermissions) -> bool),
    /// Nobody with this switch on.
    DeniedBy(&'static str, fn(&AdminUserPermissions) -> bool),
}

pub const EDIT_WEBHOOKS: Rule = Rule::TenantNeeds("AllowEditWebhooks", |p| p.allow_edit_webhooks);
pub const EDIT_BRANDING: Rule = Rule::TenantNeeds("AllowEditBranding", |p| p.allow_edit_branding);
pub const EDIT_EMAIL: Rule =
    Rule::TenantNeeds("AllowEditEmailOptions", |p| p.allow_edit_email_options);
pub const EDIT_REMOTE_STORAGE: Rule =
    Rule::TenantNeeds("AllowEditRemoteStorage", |p| p.allow_edit_remote_storage);
pub const EDIT_EXTERNAL_AUTH_SOURCES: Rule =
    Rule::TenantNeeds("AllowEditExternalAuthSources", |p| {
        p.allow_edit_external_auth_sources
    });
pub const SOFTWARE_BUILD: Rule =
    Rule::DeniedBy("DenySoftwareBuildRole", |p| p.deny_software_build_role);
pub const CONSTELLATION: Rule =
    Rule::DeniedBy("DenyConstellationRole", |p| p.deny_constellation_role);
pub const SERVER_SETTINGS: Rule = Rule::DeniedBy("PreventEditServerSettings", |p| {
    p.prevent_edit_server_settings
});
pub const SERVER_HISTORY: Rule =
    Rule::DeniedBy("DenyViewServerHistory", |p| p.deny_view_server_history);
pub const SERVER_SHUTDOWN: Rule =
    Rule::DeniedBy("PreventServerShutdown", |p| p.prevent_server_shutdown);

/// Whether `admin` may make a call that `rule` guards; the endpoint
/// registry names the rule, and dispatch checks it before the handler runs.
pub fn check(state: &AppState, admin: &AdminPrincipal, rule: &Rule) -> ApiResult<()> {
    let config = state.config.get();
    let permissions = config
        .admin_users
        .iter()
        .find(|a| a.username == admin.username() && a.organization_id == admin.organization_id())
        .map(|a| a.permissions.clone())
        .unwrap_or_default();
    let refused = match rule {
        Rule::TenantNeeds(name, allowed) => (!admin.organization_id().is_empty()
            && !allowed(&permissions))
        .then_some(format!("lacks the {name} permission")),
        Rule::DeniedBy(name, denied) => denied(&permissions).then_some(format!("has {name} set")),
    };
    match refused {
        Some(why) => Err(ApiError::forbidden(format!("This administrator {why}"))),
        None => Ok(()),
    }
}
