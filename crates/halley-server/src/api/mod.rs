//! Endpoint handlers, one module per area, and the table that says which
//! endpoint is built. Endpoints absent from [`handler_for`] answer "not
//! implemented" and are listed as not built in the README.

mod account;
mod admins;
mod email;
mod external_auth;
mod install_tokens;
mod jobs;
mod logs;
mod meta;
mod news;
mod organizations;
mod permissions;
mod policies;
mod protected_items;
mod reports;
mod resources;
mod scope;
mod self_backup;
mod server_config;
mod settings;
mod stats;
mod update_news;
mod user_groups;
mod user_web;
mod users;
mod webhooks;

use halley_api::endpoints::ENDPOINTS;

use crate::http::{handler, Handler};

pub use stats::SAMPLE_EVERY_SECONDS as STATS_SAMPLE_EVERY_SECONDS;

pub fn handler_for(endpoint: &str) -> Option<Handler> {
    Some(match endpoint {
        // Accounts
        "AdminAddUser" => handler(users::add_user),
        "AdminAddUserFromProfile" => handler(users::add_user_from_profile),
        "AdminListUsers" => handler(users::list_users),
        "AdminListUsersFull" => handler(users::list_users_full),
        "AdminGetUserProfile" => handler(users::get_user_profile),
        "AdminGetUserProfileHash" => handler(users::get_user_profile_hash),
        "AdminGetUserProfileAndHash" => handler(users::get_user_profile_and_hash),
        "AdminSetUserProfile" => handler(users::set_user_profile),
        "AdminSetUserProfileHash" => handler(users::set_user_profile_hash),
        "AdminDeleteUser" => handler(users::delete_user),
        "AdminResetUserPassword" => handler(users::reset_user_password),
        "AdminDisableUserTotp" => handler(users::disable_user_totp),
        // Protected Items
        "AdminGetProtectedItemWithBackupRules" => handler(protected_items::get),
        "AdminSetProtectedItemWithBackupRules" => handler(protected_items::set),
        "AdminDeleteProtectedItem" => handler(protected_items::delete),
        "UserWebGetProtectedItemWithBackupRules" => handler(protected_items::get),
        "UserWebSetProtectedItemWithBackupRules" => handler(protected_items::set),
        "UserWebDeleteProtectedItem" => handler(protected_items::delete),
        "AdminCreateInstallToken" => handler(install_tokens::create),
        "AdminMetaSendTestEmail" => handler(email::send_test),
        "AdminBulletinSubmit" => handler(email::bulletin),
        "AdminMetaSendTestReport" => handler(reports::send_test),
        "AdminGetJobsAll" => handler(jobs::all),
        "AdminGetJobsRecent" => handler(jobs::recent),
        "AdminGetJobsForUser" => handler(jobs::for_user),
        "AdminGetJobsForDateRange" => handler(jobs::for_date_range),
        "AdminGetJobsForCustomSearch" => handler(jobs::for_custom_search),
        "AdminCountJobsForCustomSearch" => handler(jobs::count_for_custom_search),
        "AdminGetJobProperties" => handler(jobs::properties),
        "AdminJobAbandon" => handler(jobs::abandon),
        "UserWebGetJobs" => handler(jobs::all),
        "UserWebGetJobsForCustomSearch" => handler(jobs::for_custom_search),
        "UserWebGetJobProperties" => handler(jobs::properties),
        "AdminSelfBackupStart" => handler(self_backup::start),
        "AdminOrganizationExport" => handler(self_backup::export),
        "AdminPreviewUserEmailReport" => handler(reports::preview_user),
        // News
        "AdminNewsSubmit" => handler(news::submit),
        "AdminNewsRemove" => handler(news::remove),
        "AdminNewsGetAll" => handler(news::get_all),
        "UserWebNewsGetAll" => handler(news::user_get_all),
        // Policies
        "AdminPoliciesNew" => handler(policies::new),
        "AdminPoliciesGet" => handler(policies::get),
        "AdminPoliciesList" => handler(policies::list),
        "AdminPoliciesListFull" => handler(policies::list_full),
        "AdminPoliciesSet" => handler(policies::set),
        "AdminPoliciesDelete" => handler(policies::delete),
        // User groups
        "AdminUserGroupsNew" => handler(user_groups::new),
        "AdminUserGroupsGet" => handler(user_groups::get),
        "AdminUserGroupsList" => handler(user_groups::list),
        "AdminUserGroupsListFull" => handler(user_groups::list_full),
        "AdminUserGroupsSet" => handler(user_groups::set),
        "AdminUserGroupsSetUsersForGroup" => handler(user_groups::set_users_for_group),
        "AdminUserGroupsDelete" => handler(user_groups::delete),
        // Tenants and administrators
        "AdminOrganizationList" => handler(organizations::list),
        "AdminOrganizationSet" => handler(organizations::set),
        "AdminOrganizationDelete" => handler(organizations::delete),
        "AdminAdminUserList" => handler(admins::list),
        "AdminAdminUserNew" => handler(admins::new),
        "AdminAdminUserDelete" => handler(admins::delete),
        "AdminExternalAuthSourcesNew" => handler(external_auth::new),
        "AdminExternalAuthSourcesGet" => handler(external_auth::get),
        "AdminExternalAuthSourcesSet" => handler(external_auth::set),
        "AdminExternalAuthSourcesDelete" => handler(external_auth::delete),
        // The administrator's own account and sessions
        "AdminAddFirstAdminUser" => handler(account::add_first_admin_user),
        "AdminAccountProperties" => handler(account::properties),
        "AdminAccountSetProperties" => handler(account::set_properties),
        "AdminAccountRegenerateTotp" => handler(account::regenerate_totp),
        "AdminAccountValidateTotp" => handler(account::validate_totp),
        "AdminAccountSessionStart" => handler(account::session_start),
        "AdminAccountSessionStartAsUser" => handler(account::session_start_as_user),
        "AdminAccountSessionRevoke" => handler(account::session_revoke),
        "AdminAccountSessionUpgrade" => handler(account::session_upgrade),
        "HybridSessionStart" => handler(account::hybrid_session_start),
        // Server facts
        "AdminMetaVersion" => handler(meta::version),
        "BrandingProps" => handler(meta::branding_props),
        // The server
        "AdminMetaServerConfigGet" => handler(server_config::get),
        "AdminMetaServerConfigSet" => handler(server_config::set),
        "AdminMetaServerConfigNetworkInterfaces" => handler(server_config::network_interfaces),
        "AdminMetaRestartService" => handler(server_config::restart),
        "AdminMetaShutdownService" => handler(server_config::shutdown),
        "AdminMetaListAvailableLogDays" => handler(logs::days),
        "AdminMetaReadLogs" => handler(logs::read),
        "AdminMetaReadSelectLogs" => handler(logs::read_select),
        "AdminMetaReadAllLogs" => handler(logs::read_all),
        "AdminMetaStats" => handler(stats::get),
        "AdminMetaSoftwareUpdateNews" => handler(update_news::get),
        "AdminMetaResourceNew" => handler(resources::new),
        "AdminMetaResourceGet" => handler(resources::get),
        // Settings of the caller's scope
        "AdminMetaBrandingConfigGet" => handler(settings::branding_get),
        "AdminMetaBrandingConfigSet" => handler(settings::branding_set),
        "AdminMetaBuildConfigGet" => handler(settings::build_get),
        "AdminMetaBuildConfigSet" => handler(settings::build_set),
        "AdminMetaEmailOptionsGet" => handler(settings::email_get),
        "AdminMetaEmailOptionsSet" => handler(settings::email_set),
        "AdminMetaRemoteStorageVaultGet" => handler(settings::remote_storage_get),
        "AdminMetaRemoteStorageVaultSet" => handler(settings::remote_storage_set),
        "AdminMetaPsaConfigListGet" => handler(settings::psa_get),
        "AdminMetaPsaConfigListSet" => handler(settings::psa_set),
        "AdminMetaConstellationConfigGet" => handler(settings::constellation_get),
        "AdminMetaConstellationConfigSet" => handler(settings::constellation_set),
        // Live events
        "AdminMetaWebhookOptionsGet" => handler(webhooks::get),
        "AdminMetaWebhookOptionsSet" => handler(webhooks::set),
        // End users
        "UserWebSessionStart" => handler(user_web::session_start),
        "UserWebSessionRevoke" => handler(user_web::session_revoke),
        "UserWebGetUserProfileAndHash" => handler(user_web::get_profile_and_hash),
        "UserWebSetProfileHash" => handler(user_web::set_profile_hash),
        "UserWebAccountResetPassword" => handler(user_web::reset_password),
        "UserWebAccountRegenerateTotp" => handler(user_web::regenerate_totp),
        "UserWebAccountValidateTotp" => handler(user_web::validate_totp),
        _ => return None,
    })
}

/// Names of the endpoints this server builds, in API order.
pub fn built_endpoints() -> Vec<&'static str> {
    ENDPOINTS
        .iter()
        .filter(|e| handler_for(e.name).is_some())
        .map(|e| e.name)
        .collect()
}
