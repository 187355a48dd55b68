//! Requestable Storage Vaults: the providers a tenant's settings offer
//! (`RemoteStorage`, `meta/remote-storage-vault/*`), and a new Storage
//! Vault made by one of them and added to an account's profile. One module
//! per kind of provider: the Custom Remote Bucket (`custom.rs`), a Storage
//! Role, this server's or another's (`storage_role.rs`), S3-compatible
//! storage (`s3.rs`) and Backblaze B2 through its S3 API (`b2.rs`).
//! Other provider types answer a clear error naming the type.

mod b2;
mod custom;
mod s3;
mod storage_role;

pub use storage_role::underlying_location;

use std::collections::BTreeMap;
use std::time::Duration;

use halley_api::constants::*;
use halley_api::types::{
    DestinationConfig, DestinationLocation, RemoteStorageOption, ServerConfigOptions,
    UserProfileConfig,
};

use crate::http::{quoted, ApiError, ApiResult};
use crate::state::AppState;

/// How long a provider has to answer.
pub(crate) const PROVIDER_TIMEOUT: Duration = Duration::from_secs(30);

/// The providers of a tenant (`""`: the top level).
pub fn providers(config: &ServerConfigOptions, organization_id: &str) -> Vec<RemoteStorageOption> {
    if organization_id.is_empty() {
        return config.authentication_role.remote_storage.clone();
    }
    config
        .organizations
        .get(organization_id)
        .map(|o| o.remote_storage.clone())
        .unwrap_or_default()
}

/// Provider ID → description, as `request-storage-vault-providers` lists them.
pub fn listing(options: &[RemoteStorageOption]) -> BTreeMap<String, String> {
    options
        .iter()
        .map(|o| (o.id.clone(), o.description.clone()))
        .collect()
}

/// The provider `id` of the account's tenant.
pub fn provider(
    config: &ServerConfigOptions,
    profile: &UserProfileConfig,
    id: &str,
) -> ApiResult<RemoteStorageOption> {
    providers(config, &profile.organization_id)
        .into_iter()
        .find(|o| o.id == id)
        .ok_or_else(|| {
            ApiError::invalid_param(
                "StorageProvider",
                format!(
                    "no Storage Vault provider {} is offered to the account {}",
                    quoted(id),
                    quoted(&profile.username)
                ),
            )
        })
}

/// Who a new vault is for.
pub struct ForAccount<'a> {
    pub organization_id: &'a str,
    /// The server's address as devices reach it (`SelfAddress`), for a
    /// bucket of its own Storage Role.
    pub self_address: Option<&'a str>,
    pub actor: &'a str,
}

/// Asks the provider for a new location for `account`, checked; with no
/// account, only tests that the provider would answer, making nothing.
pub async fn allocate(
    state: &AppState,
    option: &RemoteStorageOption,
    account: Option<&ForAccount<'_>>,
) -> ApiResult<DestinationLocation> {
    match option.r#type.as_str() {
        REMOTESERVER_CUSTOM => custom::request(option).await,
        REMOTESERVER_COMET => storage_role::request(state, option, account).await,
        REMOTESERVER_S3_GENERIC | REMOTESERVER_AWS | REMOTESERVER_WASABI => {
            s3::request(option, account).await
        }
        REMOTESERVER_B2 => b2::request(option, account).await,
        other => Err(ApiError::new(
            501,
            format!(
                "Storage Vault provider {} is of type {}, which Halley does not request vaults from yet (it does: {REMOTESERVER_CUSTOM}, {REMOTESERVER_COMET}, {REMOTESERVER_S3_GENERIC}, {REMOTESERVER_AWS}, {REMOTESERVER_WASABI}, {REMOTESERVER_B2})",
                quoted(&option.description),
                quoted(other)
            ),
        )),
    }
}

/// The new vault's configuration: the location, the provider's name,
/// quota and branding.
pub fn vault_config(
    option: &RemoteStorageOption,
    location: &DestinationLocation,
    now: i64,
) -> ApiResult<DestinationConfig> {
    let mut wire = serde_json::to_value(location).map_err(ApiError::internal)?;
    wire["Description"] = option.description.clone().into();
    wire["CreateTime"] = now.into();
    wire["ModifyTime"] = now.into();
    wire["StorageLimitEnabled"] = option.storage_limit_enabled.into();
    wire["StorageLimitBytes"] = option.storage_limit_bytes.into();
    wire["RebrandStorage"] = option.rebrand_storage.into();
    serde_json::from_value(wire).map_err(ApiError::internal)
}

/// The kind of vault a provider makes, where its type says so (a Custom
/// Remote Bucket's is known only from its answer).
pub fn destination_type_of(option: &RemoteStorageOption) -> Option<u64> {
    match option.r#type.as_str() {
        REMOTESERVER_COMET => Some(DESTINATIONTYPE_COMET),
        REMOTESERVER_S3_GENERIC | REMOTESERVER_AWS | REMOTESERVER_WASABI | REMOTESERVER_B2 => {
            Some(DESTINATIONTYPE_S3)
        }
        _ => None,
    }
}

/// Refuses a vault of a type the account's policy does not allow
/// (`StorageVaultProviders`).
pub fn check_policy_allows(profile: &UserProfileConfig, destination_type: u64) -> ApiResult<()> {
    let providers = &profile.policy.storage_vault_providers;
    if providers.should_restrict_provider_list
        && !providers
            .allowed_providers_when_restricted
            .contains(&destination_type)
    {
        return Err(ApiError::forbidden(format!(
            "The provider makes Storage Vaults of type {destination_type}, which the account's policy does not allow (StorageVaultProviders)"
        )));
    }
    Ok(())
}

/// A provider's failure, naming it.
pub(crate) fn failed(option: &RemoteStorageOption, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        502,
        format!(
            "the Storage Vault provider {} {why}",
            quoted(&option.description)
        ),
    )
}

pub(crate) fn known_type(destination_type: u64) -> bool {
    (DESTINATIONTYPE_S3..=DESTINATIONTYPE_SMB).contains(&destination_type)
        && destination_type != DESTINATIONTYPE_SPANNED
}

pub(crate) fn excerpt(body: &str) -> String {
    body.chars().take(200).collect()
}
