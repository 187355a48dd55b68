//! Endpoint handlers, one module per area, and the registry that says how
//! each endpoint of the API is served. [`route`] matches every [`Endpoint`]
//! exhaustively, so the compiler names an endpoint nobody decided about;
//! those not built yet answer "not implemented" and are listed as not built
//! in the README.

mod account;
mod admins;
mod constellation;
mod devices;
mod dispatcher;
mod downloads;
mod email;
mod external_auth;
pub mod install_tokens;
mod jobs;
mod logs;
mod meta;
mod news;
mod organizations;
pub(crate) mod permissions;
mod policies;
mod protected_items;
mod reports;
mod requestable_vaults;
mod resources;
mod scope;
mod self_backup;
mod server_config;
mod settings;
mod stats;
mod storage;
mod unsupported;
mod update_news;
mod user_groups;
mod user_web;
mod users;
mod webhooks;

use std::future::Future;

use halley_api::endpoints::Endpoint;

use crate::http::{handler, ApiResult, Call, Handler, Reply};
use permissions::Rule;

pub use stats::SAMPLE_EVERY_SECONDS as STATS_SAMPLE_EVERY_SECONDS;

/// How the server serves one endpoint: its handler, and the administrator
/// permission the call needs beyond the endpoint's authentication, which
/// dispatch checks before the handler runs.
pub struct Route {
    pub handler: Handler,
    pub permission: Option<&'static Rule>,
}

fn serve<F, Fut>(f: F) -> Route
where
    F: Fn(Call) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ApiResult<Reply>> + Send + 'static,
{
    Route {
        handler: handler(f),
        permission: None,
    }
}

impl Route {
    fn needs(mut self, rule: &'static Rule) -> Route {
        self.permission = Some(rule);
        self
    }
}

/// The route of `endpoint`, or `None` while it is not built.
pub fn route(endpoint: Endpoint) -> Option<Route> {
    use Endpoint::*;
    Some(match endpoint {
        // Accounts
        AdminAddUser => serve(users::add_user),
        AdminAddUserFromProfile => serve(users::add_user_from_profile),
        AdminListUsers => serve(users::list_users),
        AdminListUsersFull => serve(users::list_users_full),
        AdminGetUserProfile => serve(users::get_user_profile),
        AdminGetUserProfileHash => serve(users::get_user_profile_hash),
        AdminGetUserProfileAndHash => serve(users::get_user_profile_and_hash),
        AdminSetUserProfile => serve(users::set_user_profile),
        AdminSetUserProfileHash => serve(users::set_user_profile_hash),
        AdminDeleteUser => serve(users::delete_user),
        AdminResetUserPassword => serve(users::reset_user_password),
        AdminDisableUserTotp => serve(users::disable_user_totp),
        // Protected Items
        AdminGetProtectedItemWithBackupRules => serve(protected_items::get),
        AdminSetProtectedItemWithBackupRules => serve(protected_items::set),
        AdminDeleteProtectedItem => serve(protected_items::delete),
        UserWebGetProtectedItemWithBackupRules => serve(protected_items::get),
        UserWebSetProtectedItemWithBackupRules => serve(protected_items::set),
        UserWebDeleteProtectedItem => serve(protected_items::delete),
        AdminCreateInstallToken => serve(install_tokens::create),
        AdminMetaSendTestEmail => serve(email::send_test).needs(&permissions::EDIT_EMAIL),
        AdminBulletinSubmit => serve(email::bulletin),
        AdminMetaSendTestReport => serve(reports::send_test).needs(&permissions::EDIT_EMAIL),
        AdminGetJobsAll => serve(jobs::all),
        AdminGetJobsRecent => serve(jobs::recent),
        AdminGetJobsForUser => serve(jobs::for_user),
        AdminGetJobsForDateRange => serve(jobs::for_date_range),
        AdminGetJobsForCustomSearch => serve(jobs::for_custom_search),
        AdminCountJobsForCustomSearch => serve(jobs::count_for_custom_search),
        AdminGetJobProperties => serve(jobs::properties),
        AdminJobAbandon => serve(jobs::abandon),
        UserWebGetJobs => serve(jobs::all),
        UserWebGetJobsForCustomSearch => serve(jobs::for_custom_search),
        UserWebGetJobProperties => serve(jobs::properties),
        AdminSelfBackupStart => serve(self_backup::start),
        AdminOrganizationExport => serve(self_backup::export),
        AdminPreviewUserEmailReport => serve(reports::preview_user),
        // News
        AdminNewsSubmit => serve(news::submit),
        AdminNewsRemove => serve(news::remove),
        AdminNewsGetAll => serve(news::get_all),
        UserWebNewsGetAll => serve(news::user_get_all),
        // Policies
        AdminPoliciesNew => serve(policies::new),
        AdminPoliciesGet => serve(policies::get),
        AdminPoliciesList => serve(policies::list),
        AdminPoliciesListFull => serve(policies::list_full),
        AdminPoliciesSet => serve(policies::set),
        AdminPoliciesDelete => serve(policies::delete),
        // User groups
        AdminUserGroupsNew => serve(user_groups::new),
        AdminUserGroupsGet => serve(user_groups::get),
        AdminUserGroupsList => serve(user_groups::list),
        AdminUserGroupsListFull => serve(user_groups::list_full),
        AdminUserGroupsSet => serve(user_groups::set),
        AdminUserGroupsSetUsersForGroup => serve(user_groups::set_users_for_group),
        AdminUserGroupsDelete => serve(user_groups::delete),
        // Tenants and administrators
        AdminOrganizationList => serve(organizations::list),
        AdminOrganizationSet => serve(organizations::set),
        AdminOrganizationDelete => serve(organizations::delete),
        AdminAdminUserList => serve(admins::list),
        AdminAdminUserNew => serve(admins::new),
        AdminAdminUserDelete => serve(admins::delete),
        AdminExternalAuthSourcesNew => {
            serve(external_auth::new).needs(&permissions::EDIT_EXTERNAL_AUTH_SOURCES)
        }
        AdminExternalAuthSourcesGet => {
            serve(external_auth::get).needs(&permissions::EDIT_EXTERNAL_AUTH_SOURCES)
        }
        AdminExternalAuthSourcesSet => {
            serve(external_auth::set).needs(&permissions::EDIT_EXTERNAL_AUTH_SOURCES)
        }
        AdminExternalAuthSourcesDelete => {
            serve(external_auth::delete).needs(&permissions::EDIT_EXTERNAL_AUTH_SOURCES)
        }
        // The administrator's own account and sessions
        AdminAddFirstAdminUser => serve(account::add_first_admin_user),
        AdminAccountProperties => serve(account::properties),
        AdminAccountSetProperties => serve(account::set_properties),
        AdminAccountRegenerateTotp => serve(account::regenerate_totp),
        AdminAccountWebauthnRequestRegistrationChallenge => {
            serve(account::webauthn_registration_challenge)
        }
        AdminAccountWebauthnSubmitChallengeResponse => serve(account::webauthn_submit_challenge),
        AdminAccountU2fRequestRegistrationChallenge => serve(account::u2f_registration_challenge),
        AdminAccountU2fSubmitChallengeResponse => serve(account::u2f_submit_challenge),
        AdminAccountValidateTotp => serve(account::validate_totp),
        AdminAccountSessionStart => serve(account::session_start),
        AdminAccountSessionStartAsUser => serve(account::session_start_as_user),
        AdminAccountSessionRevoke => serve(account::session_revoke),
        AdminAccountSessionUpgrade => serve(account::session_upgrade),
        HybridSessionStart => serve(account::hybrid_session_start),
        // Server facts
        AdminMetaVersion => serve(meta::version),
        BrandingProps => serve(meta::branding_props),
        // The server
        AdminMetaServerConfigGet => serve(server_config::get).needs(&permissions::SERVER_SETTINGS),
        AdminMetaServerConfigSet => serve(server_config::set).needs(&permissions::SERVER_SETTINGS),
        AdminMetaServerConfigNetworkInterfaces => serve(server_config::network_interfaces),
        AdminMetaRestartService => {
            serve(server_config::restart).needs(&permissions::SERVER_SHUTDOWN)
        }
        AdminMetaShutdownService => {
            serve(server_config::shutdown).needs(&permissions::SERVER_SHUTDOWN)
        }
        AdminMetaListAvailableLogDays => serve(logs::days),
        AdminMetaReadLogs => serve(logs::read),
        AdminMetaReadSelectLogs => serve(logs::read_select),
        AdminMetaReadAllLogs => serve(logs::read_all),
        AdminMetaStats => serve(stats::get).needs(&permissions::SERVER_HISTORY),
        AdminMetaSoftwareUpdateNews => serve(update_news::get),
        AdminMetaResourceNew => serve(resources::new),
        AdminMetaResourceGet => serve(resources::get),
        // Settings of the caller's scope
        AdminMetaBrandingConfigGet => {
            serve(settings::branding_get).needs(&permissions::EDIT_BRANDING)
        }
        AdminMetaBrandingConfigSet => {
            serve(settings::branding_set).needs(&permissions::EDIT_BRANDING)
        }
        AdminMetaBuildConfigGet => serve(settings::build_get).needs(&permissions::SOFTWARE_BUILD),
        AdminMetaBuildConfigSet => serve(settings::build_set).needs(&permissions::SOFTWARE_BUILD),
        AdminMetaEmailOptionsGet => serve(settings::email_get).needs(&permissions::EDIT_EMAIL),
        AdminMetaEmailOptionsSet => serve(settings::email_set).needs(&permissions::EDIT_EMAIL),
        AdminMetaRemoteStorageVaultGet => {
            serve(settings::remote_storage_get).needs(&permissions::EDIT_REMOTE_STORAGE)
        }
        AdminMetaRemoteStorageVaultSet => {
            serve(settings::remote_storage_set).needs(&permissions::EDIT_REMOTE_STORAGE)
        }
        AdminMetaRemoteStorageVaultTest => {
            serve(requestable_vaults::test).needs(&permissions::EDIT_REMOTE_STORAGE)
        }
        AdminRequestStorageVaultProviders | UserWebRequestStorageVaultProviders => {
            serve(requestable_vaults::list)
        }
        AdminRequestStorageVault | UserWebRequestStorageVault => serve(requestable_vaults::request),
        // The Constellation Role
        AdminConstellationStatus => serve(constellation::status).needs(&permissions::CONSTELLATION),
        AdminConstellationLastReport => {
            serve(constellation::last_report).needs(&permissions::CONSTELLATION)
        }
        AdminConstellationNewReport => {
            serve(constellation::new_report).needs(&permissions::CONSTELLATION)
        }
        AdminConstellationPruneNow => {
            serve(constellation::prune_now).needs(&permissions::CONSTELLATION)
        }
        // The Storage Role
        AdminStorageRegisterBucket => serve(storage::register_bucket),
        AdminStorageListBuckets => serve(storage::list_buckets),
        AdminStorageBucketProperties => serve(storage::bucket_properties),
        AdminStorageDeleteBucket => serve(storage::delete_bucket),
        AdminStorageFreeSpace => serve(storage::free_space),
        AdminStoragePingDestination => serve(storage::ping_destination),
        AdminReplicationState => serve(storage::replication_state),
        AdminConvertStorageRole => serve(requestable_vaults::convert),
        AdminMetaPsaConfigListGet => serve(settings::psa_get).needs(&permissions::SERVER_SETTINGS),
        AdminMetaPsaConfigListSet => serve(settings::psa_set).needs(&permissions::SERVER_SETTINGS),
        AdminMetaConstellationConfigGet => {
            serve(settings::constellation_get).needs(&permissions::CONSTELLATION)
        }
        AdminMetaConstellationConfigSet => {
            serve(settings::constellation_set).needs(&permissions::CONSTELLATION)
        }
        // Live events
        AdminMetaWebhookOptionsGet => serve(webhooks::get).needs(&permissions::EDIT_WEBHOOKS),
        AdminMetaWebhookOptionsSet => serve(webhooks::set).needs(&permissions::EDIT_WEBHOOKS),
        // End users
        UserWebSessionStart => serve(user_web::session_start),
        UserWebSessionRevoke => serve(user_web::session_revoke),
        UserWebGetUserProfileAndHash => serve(user_web::get_profile_and_hash),
        UserWebSetProfileHash => serve(user_web::set_profile_hash),
        UserWebAccountResetPassword => serve(user_web::reset_password),
        UserWebAccountRegenerateTotp => serve(user_web::regenerate_totp),
        UserWebAccountValidateTotp => serve(user_web::validate_totp),
        // Devices
        AdminDispatcherListActive | UserWebDispatcherListActive => serve(devices::list_active),
        AdminRevokeDevice => serve(devices::revoke),
        AdminInstallationListActive => serve(devices::lobby_list),
        AdminInstallationDispatchRegisterDevice => serve(devices::lobby_register),
        AdminInstallationDispatchDropConnection => serve(devices::lobby_drop),
        AdminGetJobLog | UserWebGetJobLog => serve(jobs::log_text),
        AdminGetJobLogEntries | UserWebGetJobLogEntries => serve(jobs::log_entries),
        AdminJobCancel | UserWebJobCancel => serve(jobs::cancel),
        // Calls that reach a live device
        AdminDispatcherRunBackup | UserWebDispatcherRunBackup => serve(dispatcher::run_backup),
        AdminDispatcherRunBackupCustom | UserWebDispatcherRunBackupCustom => {
            serve(dispatcher::run_backup_custom)
        }
        AdminDispatcherRequestVaultSnapshots | UserWebDispatcherRequestVaultSnapshots => {
            serve(dispatcher::vault_snapshots)
        }
        AdminDispatcherRefetchProfile => serve(dispatcher::refetch_profile),
        AdminDispatcherRunRestore | UserWebDispatcherRunRestore => serve(dispatcher::run_restore),
        AdminDispatcherRunRestoreCustom | UserWebDispatcherRunRestoreCustom => {
            serve(dispatcher::run_restore_custom)
        }
        AdminDispatcherDeleteSnapshot
        | UserWebDispatcherDeleteSnapshot
        | AdminDispatcherDeleteSnapshots
        | UserWebDispatcherDeleteSnapshots => serve(dispatcher::delete_snapshots),
        AdminDispatcherKillProcess => serve(dispatcher::kill_process),
        AdminDispatcherApplyRetentionRules
        | AdminDispatcherDeepverifyStorageVault
        | AdminDispatcherReindexStorageVault
        | AdminDispatcherUnlock => serve(dispatcher::maintain),
        AdminDispatcherForceLogin => serve(dispatcher::force_login),
        AdminDispatcherUpdateLoginPassword | UserWebDispatcherUpdateLoginPassword => {
            serve(dispatcher::update_login_password)
        }
        AdminDispatcherUninstallSoftware => serve(dispatcher::uninstall),
        AdminDispatcherUpdateSoftware => serve(dispatcher::update_software),
        AdminUpdateCampaignStart => serve(devices::campaign_start),
        AdminUpdateCampaignStatus => serve(devices::campaign_status),
        AdminDispatcherRequestStoredObjects | UserWebDispatcherRequestStoredObjects => {
            serve(dispatcher::stored_objects)
        }
        AdminDispatcherRequestFilesystemObjects | UserWebRequestFilesystemObjects => {
            serve(dispatcher::filesystem_objects)
        }
        AdminDispatcherSearchSnapshots | UserWebDispatcherSearchSnapshots => {
            serve(dispatcher::search_snapshots)
        }
        AdminDispatcherRequestBrowseMysql | UserWebDispatcherRequestBrowseMysql => {
            serve(dispatcher::browse_mysql)
        }
        AdminDispatcherPingDestination | UserWebDispatcherPingDestination => {
            serve(dispatcher::ping_destination)
        }
        AdminDispatcherUpdateLoginUrl => serve(dispatcher::update_login_url),
        AdminDispatcherGetDefaultLoginUrl => serve(dispatcher::default_login_url),
        AdminDispatcherDropConnection | UserWebDispatcherDropConnection => {
            serve(dispatcher::drop_connection)
        }
        // Client software
        AdminBrandingAvailablePlatforms => serve(downloads::available_platforms),
        AdminBrandingGenerateClientTest => serve(downloads::test),
        AdminBrandingGenerateClientByPlatform => serve(downloads::by_platform),
        AdminBrandingGenerateClientLinuxgeneric => serve(downloads::linux_generic),
        AdminBrandingGenerateClientLinuxDeb => serve(downloads::linux_deb),
        // Not built yet: each answers Status 501 and is listed as not built in
        // the README.
        AdminBrandingGenerateClientMacosArm64
        | AdminBrandingGenerateClientMacosX8664
        | AdminBrandingGenerateClientSpkDsm6
        | AdminBrandingGenerateClientSpkDsm7
        | AdminBrandingGenerateClientWindowsAnycpuExe
        | AdminBrandingGenerateClientWindowsAnycpuZip
        | AdminBrandingGenerateClientWindowsX8632Exe
        | AdminBrandingGenerateClientWindowsX8632Zip
        | AdminBrandingGenerateClientWindowsX8664Exe
        | AdminBrandingGenerateClientWindowsX8664Zip
        | AdminDispatcherBrowseVirtualMachines
        | AdminDispatcherEmailPreview
        | AdminDispatcherImportApply
        | AdminDispatcherOffice365ListVirtualAccounts
        | AdminDispatcherRegisterOfficeApplicationBegin
        | AdminDispatcherRegisterOfficeApplicationCheck
        | AdminDispatcherRequestBrowseDiskDrives
        | AdminDispatcherRequestBrowseExchangeEdb
        | AdminDispatcherRequestBrowseHyperv
        | AdminDispatcherRequestBrowseMongodb
        | AdminDispatcherRequestBrowseMssql
        | AdminDispatcherRequestBrowseProxmox
        | AdminDispatcherRequestBrowseProxmoxNodes
        | AdminDispatcherRequestBrowseProxmoxStorage
        | AdminDispatcherRequestBrowseVmware
        | AdminDispatcherRequestBrowseVmwareDatacenters
        | AdminDispatcherRequestBrowseVmwareDatastores
        | AdminDispatcherRequestBrowseVmwareHosts
        | AdminDispatcherRequestBrowseVmwareNetworks
        | AdminDispatcherRequestBrowseVssAaw
        | AdminDispatcherRequestImportSources
        | AdminDispatcherRequestOffice365Accounts
        | AdminDispatcherRequestOffice365Sites
        | AdminDispatcherRequestWindiskSnapshot
        | AdminDispatcherTestSmbAuth
        | AdminMetaPsaConfigListSyncNow
        | UserDispatcherEmailPreview
        | UserWebDispatcherBrowseVirtualMachines
        | UserWebDispatcherOffice365ListVirtualAccounts
        | UserWebDispatcherRegisterOfficeApplicationBegin
        | UserWebDispatcherRegisterOfficeApplicationCheck
        | UserWebDispatcherRequestBrowseDiskDrives
        | UserWebDispatcherRequestBrowseExchangeEdb
        | UserWebDispatcherRequestBrowseHyperv
        | UserWebDispatcherRequestBrowseMongodb
        | UserWebDispatcherRequestBrowseMssql
        | UserWebDispatcherRequestBrowseProxmox
        | UserWebDispatcherRequestBrowseProxmoxNodes
        | UserWebDispatcherRequestBrowseProxmoxStorage
        | UserWebDispatcherRequestBrowseVmware
        | UserWebDispatcherRequestBrowseVmwareDatacenters
        | UserWebDispatcherRequestBrowseVmwareDatastores
        | UserWebDispatcherRequestBrowseVmwareHosts
        | UserWebDispatcherRequestBrowseVmwareNetworks
        | UserWebDispatcherRequestBrowseVssAaw
        | UserWebDispatcherRequestOffice365Accounts
        | UserWebDispatcherRequestOffice365Sites
        | UserWebDispatcherRequestWindiskSnapshot
        | UserWebDispatcherTestSmbAuth => return None,
    })
}

/// Why an endpoint that is not built is not: one Halley cannot serve on
/// its platform says what is missing.
pub fn not_built(endpoint: &halley_api::endpoints::EndpointSpec) -> crate::http::ApiError {
    unsupported::refusal(endpoint.path)
        .unwrap_or_else(|| crate::http::ApiError::not_implemented(endpoint.name))
}

/// Names of the endpoints that are not built because Halley cannot serve
/// them on its platform, in API order.
pub fn unsupported_endpoints() -> Vec<&'static str> {
    halley_api::endpoints::ENDPOINTS
        .iter()
        .filter(|spec| route(spec.id).is_none() && unsupported::refusal(spec.path).is_some())
        .map(|spec| spec.name)
        .collect()
}

/// Names of the endpoints this server builds, in API order.
pub fn built_endpoints() -> Vec<&'static str> {
    Endpoint::ALL
        .iter()
        .filter(|e| route(**e).is_some())
        .map(|e| e.name())
        .collect()
}
