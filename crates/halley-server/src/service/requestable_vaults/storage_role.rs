//! Storage Role providers (`Type` `comet`): with no `RemoteAddress`, a new
//! bucket of this server's own Storage Role, reached by devices at the
//! `SelfAddress` the request gives; with one, a bucket registered on that
//! server (Halley or Comet) through its `storage/register-bucket`, with the
//! provider's administrator `Username` and `Password`.

use halley_api::constants::{DESTINATIONTYPE_COMET, SEVT_BUCKET_NEW};
use halley_api::types::{AddBucketResponseMessage, DestinationLocation, RemoteStorageOption};

use super::{failed, ForAccount, PROVIDER_TIMEOUT};
use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::buckets::{self, NewBucket};

pub async fn request(
    state: &AppState,
    option: &RemoteStorageOption,
    account: Option<&ForAccount<'_>>,
) -> ApiResult<DestinationLocation> {
    if option.remote_address.trim().is_empty() {
        local(state, option, account).await
    } else {
        remote(option, account).await
    }
}

/// `http(s)://host[:port]/`, as a vault's `CometServer` holds it.
fn server_address(address: &str) -> Option<String> {
    let address = address.trim();
    (address.starts_with("http://") || address.starts_with("https://"))
        .then(|| format!("{}/", address.trim_end_matches('/')))
}

fn quota(option: &RemoteStorageOption) -> u64 {
    if option.storage_limit_enabled {
        option.storage_limit_bytes.max(0) as u64
    } else {
        0
    }
}

async fn local(
    state: &AppState,
    option: &RemoteStorageOption,
    account: Option<&ForAccount<'_>>,
) -> ApiResult<DestinationLocation> {
    if !state.config.get().storage_role.role_enabled {
        return Err(failed(
            option,
            "is this server's Storage Role, which is not enabled (StorageRole.RoleEnabled)",
        ));
    }
    let Some(account) = account else {
        return Ok(DestinationLocation::default());
    };
    let server = account
        .self_address
        .and_then(server_address)
        .ok_or_else(|| {
            ApiError::invalid_param(
                "SelfAddress",
                "this server's address as devices reach it (http(s)://host:port/) is needed for a bucket of its own Storage Role",
            )
        })?;
    let new = NewBucket {
        organization_id: account.organization_id.to_string(),
        quota_bytes: quota(option),
        ..Default::default()
    };
    let scope = TenantScope::server_wide();
    let (bucket, key) = buckets::register(state, &scope, new).await?;
    state.events.emit(
        SEVT_BUCKET_NEW,
        account.actor,
        &bucket.properties.organization_id,
        &bucket.id,
        None,
    );
    Ok(DestinationLocation {
        destination_type: DESTINATIONTYPE_COMET,
        comet_server: server,
        comet_bucket: bucket.id,
        comet_bucket_key: key,
        ..Default::default()
    })
}

async fn remote(
    option: &RemoteStorageOption,
    account: Option<&ForAccount<'_>>,
) -> ApiResult<DestinationLocation> {
    let server = server_address(&option.remote_address).ok_or_else(|| {
        failed(
            option,
            "has a RemoteAddress that is not an http:// or https:// address",
        )
    })?;
    let client = reqwest::Client::builder()
        .timeout(PROVIDER_TIMEOUT)
        .build()
        .map_err(ApiError::internal)?;
    // A test lists the buckets: it proves the address, the credentials and
    // the role without making anything.
    let call = if account.is_some() {
        "register-bucket"
    } else {
        "list-buckets"
    };
    let quota = quota(option).to_string();
    let mut form = vec![
        ("Username", option.username.as_str()),
        ("AuthType", "Password"),
        ("Password", option.password.as_str()),
    ];
    if account.is_some() && quota != "0" {
        form.push(("SetQuotaBytes", quota.as_str()));
    }
    let answer = client
        .post(format!("{server}api/v1/admin/storage/{call}"))
        .form(&form)
        .send()
        .await
        .map_err(|err| failed(option, format!("at {server} could not be reached: {err}")))?;
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.map_err(|err| {
        failed(
            option,
            format!("at {server} answered HTTP {status} with no API answer: {err}"),
        )
    })?;
    // An error answer carries a Status of 400 or more (a bucket listing has
    // no Status at all).
    let refused = body["Status"].as_i64().is_some_and(|s| s >= 400);
    if !status.is_success() || refused {
        return Err(failed(
            option,
            format!(
                "at {server} refused {call}: {}",
                body["Message"].as_str().unwrap_or("no reason given")
            ),
        ));
    }
    if account.is_none() {
        return Ok(DestinationLocation::default());
    }
    let made: AddBucketResponseMessage =
        serde_json::from_value(body).map_err(ApiError::internal)?;
    if made.new_bucket_id.is_empty() || made.new_bucket_key.is_empty() {
        return Err(failed(
            option,
            format!("at {server} answered register-bucket without a bucket ID and key"),
        ));
    }
    Ok(DestinationLocation {
        destination_type: DESTINATIONTYPE_COMET,
        comet_server: server,
        comet_bucket: made.new_bucket_id,
        comet_bucket_key: made.new_bucket_key,
        ..Default::default()
    })
}
