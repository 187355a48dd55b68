//! Requestable Storage Vaults: the providers a tenant's settings offer
//! (`RemoteStorage`, `meta/remote-storage-vault/*`), and a new Storage
//! Vault made by one of them and added to an account's profile. Halley
//! builds the "Custom Remote Bucket" provider (`Type` `custom`): an HTTP
//! POST to the provider's own URL, with its `CustomHeaders` and its
//! `CustomBody` in its `CustomBodyType`, whose 2xx answer is the new
//! vault's `DestinationLocation`. Other provider types answer a clear error
//! naming the type.

use std::collections::BTreeMap;
use std::time::Duration;

use halley_api::constants::*;
use halley_api::types::{
    DestinationConfig, DestinationLocation, RemoteStorageOption, ServerConfigOptions,
    UserProfileConfig,
};

use crate::http::{quoted, ApiError, ApiResult};

/// How long a provider has to answer.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Asks the provider for a new location, checked.
pub async fn allocate(option: &RemoteStorageOption) -> ApiResult<DestinationLocation> {
    match option.r#type.as_str() {
        REMOTESERVER_CUSTOM => custom_bucket(option).await,
        other => Err(ApiError::new(
            501,
            format!(
                "Storage Vault provider {} is of type {}, which Halley does not request vaults from yet (it does: {REMOTESERVER_CUSTOM})",
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

/// The Custom Remote Bucket: what the provider's URL answers.
async fn custom_bucket(option: &RemoteStorageOption) -> ApiResult<DestinationLocation> {
    let settings = &option.custom;
    let failed = |why: String| {
        ApiError::new(
            502,
            format!(
                "the Storage Vault provider {} ({}) {why}",
                quoted(&option.description),
                settings.url
            ),
        )
    };
    let client = reqwest::Client::builder()
        .timeout(PROVIDER_TIMEOUT)
        .build()
        .map_err(ApiError::internal)?;
    let mut request = client.post(&settings.url);
    for (name, value) in &settings.custom_headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request = match settings.custom_body_type.as_str() {
        "" | CUSTOMREMOTEBUCKET_CUSTOMBODY_NONE => request,
        CUSTOMREMOTEBUCKET_CUSTOMBODY_JSON => request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(settings.custom_body.clone()),
        CUSTOMREMOTEBUCKET_CUSTOMBODY_URLENC => request
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(settings.custom_body.clone()),
        CUSTOMREMOTEBUCKET_CUSTOMBODY_FORM => {
            let mut form = reqwest::multipart::Form::new();
            for (name, value) in form_urlencoded::parse(settings.custom_body.as_bytes()) {
                form = form.text(name.into_owned(), value.into_owned());
            }
            request.multipart(form)
        }
        other => {
            return Err(ApiError::bad_configuration(format!(
            "the Storage Vault provider {} has CustomBodyType {}: none, form, json or urlencoded",
            quoted(&option.description),
            quoted(other)
        )))
        }
    };
    let answer = request.send().await.map_err(|err| {
        if err.is_timeout() {
            failed(format!(
                "did not answer within {} s",
                PROVIDER_TIMEOUT.as_secs()
            ))
        } else {
            failed(format!("could not be reached: {err}"))
        }
    })?;
    let status = answer.status();
    let body = answer
        .text()
        .await
        .map_err(|err| failed(format!("broke off its answer: {err}")))?;
    if !status.is_success() {
        return Err(failed(format!(
            "answered HTTP {status}: {}",
            excerpt(&body)
        )));
    }
    let location: DestinationLocation = serde_json::from_str(&body).map_err(|err| {
        failed(format!(
            "answered with something that is not a DestinationLocation ({err}): {}",
            excerpt(&body)
        ))
    })?;
    if !known_type(location.destination_type) {
        return Err(failed(format!(
            "answered a location of unknown DestinationType {}",
            location.destination_type
        )));
    }
    Ok(location)
}

fn known_type(destination_type: u64) -> bool {
    (DESTINATIONTYPE_S3..=DESTINATIONTYPE_SMB).contains(&destination_type)
        && destination_type != DESTINATIONTYPE_SPANNED
}

fn excerpt(body: &str) -> String {
    body.chars().take(200).collect()
}
