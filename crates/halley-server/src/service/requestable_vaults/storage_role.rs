//! Storage Role providers (`Type` `comet`): with no `RemoteAddress`, a new
//! bucket of this server's own Storage Role, reached by devices at the
//! `SelfAddress` the request gives; with one, a bucket registered on that
//! server (another Halley) through its `storage/register-bucket`, with the
//! provider's administrator `Username` and `Password`.

use halley_api::constants::{DESTINATIONTYPE_COMET, DESTINATIONTYPE_S3, SEVT_BUCKET_NEW};
use halley_api::types::{AddBucketResponseMessage, DestinationLocation, RemoteStorageOption};

use super::{failed, ForAccount};
use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult};
use crate::service::remote_server::{server_address, RemoteServer};
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

fn quota(option: &RemoteStorageOption) -> u64 {
    if option.storage_limit_enabled {
        option.storage_limit_bytes.max(0) as u64
    } else {
        0
    }
}

/// Where a bucket of this server's Storage Role really is, when that is
/// an S3-compatible bucket behind the server (`StorageRole.Storage`): the
/// same objects, reached directly (`convert-storage-role`).
pub fn underlying_location(state: &AppState, bucket_id: &str) -> ApiResult<DestinationLocation> {
    let storage = &state.config.get().storage_role.storage;
    if storage.destination_type != DESTINATIONTYPE_S3 {
        return Err(ApiError::bad_request(format!(
            "Bucket '{bucket_id}' is not on S3-compatible storage (StorageRole.Storage is of type {}): there is no S3 location to convert to",
            storage.destination_type
        )));
    }
    let subdir = [storage.s3_subdir.trim_matches('/'), bucket_id]
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    Ok(DestinationLocation {
        s3_subdir: subdir,
        ..storage.clone()
    })
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
    let server = RemoteServer::new(&option.remote_address, &option.username, &option.password)
        .map_err(|why| failed(option, format!("has a RemoteAddress that {why}")))?;
    let Some(_) = account else {
        // A test lists the buckets: it proves the address, the credentials
        // and the role without making anything.
        server
            .call("storage/list-buckets", &[])
            .await
            .map_err(|why| failed(option, why))?;
        return Ok(DestinationLocation::default());
    };
    let quota = quota(option).to_string();
    let fields: &[(&str, &str)] = if quota == "0" {
        &[]
    } else {
        &[("SetQuotaBytes", quota.as_str())]
    };
    let answer = server
        .call("storage/register-bucket", fields)
        .await
        .map_err(|why| failed(option, why))?;
    let made: AddBucketResponseMessage =
        serde_json::from_value(answer).map_err(ApiError::internal)?;
    if made.new_bucket_id.is_empty() || made.new_bucket_key.is_empty() {
        return Err(failed(
            option,
            format!(
                "at {} answered register-bucket without a bucket ID and key",
                server.base
            ),
        ));
    }
    Ok(DestinationLocation {
        destination_type: DESTINATIONTYPE_COMET,
        comet_server: server.base,
        comet_bucket: made.new_bucket_id,
        comet_bucket_key: made.new_bucket_key,
        ..Default::default()
    })
}
