//! `request-storage-vault-providers` and `request-storage-vault`, for
//! administrators and account holders (`user/web/...`), and
//! `meta/remote-storage-vault/test`: a provider of the account's tenant
//! makes a new Storage Vault, which is added to the profile
//! (`service/requestable_vaults.rs`).

use halley_api::constants::DESTINATIONTYPE_COMET;
use halley_api::types::{
    DestinationConfig, DestinationLocation, RemoteStorageOption, RequestStorageVaultResponseMessage,
};

use crate::http::{quoted, ApiError, ApiResult, Call, Reply};
use crate::service::requestable_vaults::{
    allocate, check_policy_allows, destination_type_of, listing, provider, providers,
    underlying_location, vault_config, ForAccount,
};
use crate::service::users;
use crate::storage::buckets;
use crate::util::now_unix;

/// The providers offered to the caller's tenant (an administrator may name
/// one of their tenants with `TargetOrganization`).
pub async fn list(call: Call) -> ApiResult<Reply> {
    let organization_id = match call.user() {
        Ok(user) => user.organization_id().to_string(),
        Err(_) => {
            let admin = call.admin()?;
            match call
                .params
                .opt_str("TargetOrganization")
                .filter(|id| !id.is_empty())
            {
                Some(id) if admin.scope().includes(id) => id.to_string(),
                Some(id) => {
                    return Err(ApiError::invalid_param(
                        "TargetOrganization",
                        format!("no tenant {}", quoted(id)),
                    ))
                }
                None => admin.organization_id().to_string(),
            }
        }
    };
    let config = call.state.config.get();
    Ok(Reply::json(&listing(&providers(&config, &organization_id))))
}

/// Asks the provider `StorageProvider` for a new Storage Vault and adds it
/// to the account (with `ProfileHash`: only if the profile is still that).
/// Account holders are held to `PreventRequestStorageVault`;
/// administrators are not.
pub async fn request(call: Call) -> ApiResult<Reply> {
    let (scope, username, actor, held_to_policy) = match call.user() {
        Ok(user) => (
            user.scope(),
            user.username().to_string(),
            user.actor(),
            true,
        ),
        Err(_) => {
            let admin = call.admin()?;
            let target = call.params.non_empty("TargetUser")?.to_string();
            (admin.scope(), target, admin.actor(), false)
        }
    };
    let (profile, record) = users::load(&call.state, &scope, &username).await?;
    if held_to_policy && profile.policy.prevent_request_storage_vault {
        return Err(ApiError::forbidden(
            "The account's policy does not allow requesting Storage Vaults (PreventRequestStorageVault)",
        ));
    }
    let expected = call.params.opt_str("ProfileHash").filter(|h| !h.is_empty());
    if expected.is_some_and(|hash| hash != record.profile_hash) {
        return Err(ApiError::new(
            409,
            "The profile was changed since it was read (ProfileHash mismatch); read it again and retry",
        ));
    }
    let option = provider(
        &call.state.config.get(),
        &profile,
        call.params.non_empty("StorageProvider")?,
    )?;
    let expected_type = destination_type_of(&option);
    if let (true, Some(kind)) = (held_to_policy, expected_type) {
        check_policy_allows(&profile, kind)?;
    }
    let account = ForAccount {
        organization_id: &profile.organization_id,
        self_address: call.params.opt_str("SelfAddress"),
        actor: &actor,
    };
    let location = allocate(&call.state, &option, Some(&account)).await?;
    if held_to_policy {
        check_policy_allows(&profile, location.destination_type)?;
    }
    let vault = vault_config(&option, &location, now_unix())?;
    let destination_id = uuid::Uuid::new_v4().to_string();
    // With a ProfileHash, only that profile gets the vault; without one,
    // an edit made while the provider answered is kept beside it.
    let profile_hash = match expected {
        Some(hash) => {
            let mut edited = profile;
            edited.destinations.insert(destination_id.clone(), vault);
            users::save(&call.state, &scope, &edited, Some(hash), &actor).await?
        }
        None => {
            let id = destination_id.clone();
            users::edit(&call.state, &scope, &username, &actor, |stored| {
                stored.destinations.insert(id.clone(), vault.clone());
            })
            .await?;
            users::load(&call.state, &scope, &username)
                .await?
                .1
                .profile_hash
        }
    };
    Ok(Reply::json(&RequestStorageVaultResponseMessage {
        status: 200,
        message: "OK".into(),
        destination_id,
        profile_hash,
        ..Default::default()
    }))
}

/// `meta/remote-storage-vault/test`: asks the provider `TemplateOptions`
/// for a location, as a request would, and keeps nothing.
pub async fn test(call: Call) -> ApiResult<Reply> {
    let option: RemoteStorageOption = call.params.json("TemplateOptions")?;
    allocate(&call.state, &option, None).await?;
    Ok(Reply::ok())
}

/// `convert-storage-role`: a Storage Vault in a bucket of this server's
/// Storage Role becomes a vault of the S3-compatible storage the bucket is
/// on, reaching the same objects directly; its name, quota and other
/// settings stay.
pub async fn convert(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let scope = admin.scope();
    let username = call.params.non_empty("TargetUser")?;
    let destination_id = call.params.non_empty("DestinationId")?.to_string();
    let (profile, _) = users::load(&call.state, &scope, username).await?;
    let vault = profile.destinations.get(&destination_id).ok_or_else(|| {
        ApiError::invalid_param(
            "DestinationId",
            format!(
                "the account has no Storage Vault {}",
                quoted(&destination_id)
            ),
        )
    })?;
    if vault.destination_type != DESTINATIONTYPE_COMET {
        return Err(ApiError::invalid_param(
            "DestinationId",
            format!(
                "Storage Vault {} is of type {}, not a Storage Role bucket ({DESTINATIONTYPE_COMET})",
                quoted(&destination_id),
                vault.destination_type
            ),
        ));
    }
    let held_here = buckets::lookup(&call.state, &vault.comet_bucket)
        .await?
        .is_some_and(|bucket| scope.includes(&bucket.properties.organization_id));
    if !held_here {
        return Err(ApiError::invalid_param(
            "DestinationId",
            format!(
                "bucket {} is not one of this server's: convert it on the server that holds it",
                quoted(&vault.comet_bucket)
            ),
        ));
    }
    let location = underlying_location(&call.state, &vault.comet_bucket)?;
    let converted = with_location(vault, &location)?;
    let id = destination_id.clone();
    users::edit(&call.state, &scope, username, &admin.actor(), |stored| {
        stored.destinations.insert(id.clone(), converted.clone());
    })
    .await?;
    let (_, record) = users::load(&call.state, &scope, username).await?;
    Ok(Reply::json(&RequestStorageVaultResponseMessage {
        status: 200,
        message: "OK".into(),
        destination_id,
        profile_hash: record.profile_hash,
        ..Default::default()
    }))
}

/// `vault` moved to `location`: its own settings kept, the old place's
/// fields cleared.
fn with_location(
    vault: &DestinationConfig,
    location: &DestinationLocation,
) -> ApiResult<DestinationConfig> {
    let mut wire = serde_json::to_value(vault).map_err(ApiError::internal)?;
    if let Some(fields) = wire.as_object_mut() {
        for field in ["CometServer", "CometBucket", "CometBucketKey"] {
            fields.remove(field);
        }
        if let serde_json::Value::Object(place) =
            serde_json::to_value(location).map_err(ApiError::internal)?
        {
            fields.extend(place);
        }
    }
    serde_json::from_value(wire).map_err(ApiError::internal)
}
