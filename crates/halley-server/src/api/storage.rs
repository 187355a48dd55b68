//! `/api/v1/admin/storage/*`: the Storage Role's buckets (`storage/`), and
//! `ping-destination`, which checks any Storage Vault location.

use std::collections::BTreeMap;

use halley_api::constants::{SEVT_BUCKET_NEW, SEVT_BUCKET_REMOVED};
use halley_api::types::{
    AddBucketResponseMessage, BucketProperties, DestinationLocation, StorageFreeSpaceInfo,
};

use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::storage::buckets::{self, NewBucket};
use crate::storage::data::Place;

/// `register-bucket`: a random ID and key, or the caller's (`SetBucketValue`,
/// `SetKeyHashFormat` + `SetKeyHashValue`), in the caller's tenant or, for a
/// top-level administrator, `SetOrganizationID`'s. Halley's `SetQuotaBytes`
/// limits what the bucket may hold.
pub async fn register_bucket(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let organization_id = match call.params.opt_str("SetOrganizationID") {
        Some(org) if org != admin.organization_id() => {
            let known = org.is_empty() || call.state.config.get().organizations.contains_key(org);
            if !known || !admin.scope().includes(org) {
                return Err(ApiError::invalid_param(
                    "SetOrganizationID",
                    format!("no tenant has the ID '{org}'"),
                ));
            }
            org.to_string()
        }
        _ => admin.organization_id().to_string(),
    };
    let key = match call.params.opt_str("SetKeyHashValue") {
        Some(value) => {
            let format = call.params.opt_str("SetKeyHashFormat").unwrap_or("0");
            let format = format.parse().map_err(|_| {
                ApiError::invalid_param("SetKeyHashFormat", format!("'{format}' is not a number"))
            })?;
            Some((format, value.to_string()))
        }
        None => None,
    };
    let quota_bytes = match call.params.opt_int("SetQuotaBytes")? {
        Some(bytes) if bytes < 0 => {
            return Err(ApiError::invalid_param(
                "SetQuotaBytes",
                "must not be negative",
            ))
        }
        bytes => bytes.unwrap_or(0) as u64,
    };
    let new = NewBucket {
        id: call
            .params
            .opt_str("SetBucketValue")
            .filter(|id| !id.is_empty())
            .map(str::to_string),
        key,
        organization_id,
        quota_bytes,
    };
    let (bucket, key) = buckets::register(&call.state, &admin.scope(), new).await?;
    call.state.events.emit(
        SEVT_BUCKET_NEW,
        &admin.actor(),
        &bucket.properties.organization_id,
        &bucket.id,
        None,
    );
    Ok(Reply::json(&AddBucketResponseMessage {
        status: 200,
        message: "OK".into(),
        new_bucket_id: bucket.id,
        new_bucket_key: key,
        ..Default::default()
    }))
}

/// `list-buckets`: the buckets of the caller's tenants, by ID.
pub async fn list_buckets(call: Call) -> ApiResult<Reply> {
    let all = buckets::list(&call.state, &call.admin()?.scope()).await?;
    let listing: BTreeMap<String, BucketProperties> = all
        .iter()
        .map(|bucket| (bucket.id.clone(), bucket.public_properties()))
        .collect();
    Ok(Reply::json(&listing))
}

/// `bucket-properties`: with `AfterTimestamp` later than the last
/// measurement, the size is measured again before the answer.
pub async fn bucket_properties(call: Call) -> ApiResult<Reply> {
    let id = call.params.non_empty("BucketID")?;
    let mut bucket = buckets::get(&call.state, &call.admin()?.scope(), id).await?;
    if let Some(after) = call.params.opt_int("AfterTimestamp")? {
        if bucket.properties.size.measure_started < after {
            bucket = buckets::measure(&call.state, bucket).await?;
        }
    }
    Ok(Reply::json(&bucket.public_properties()))
}

/// `delete-bucket`: the record, then every file of the bucket.
pub async fn delete_bucket(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let id = call.params.non_empty("BucketID")?;
    let bucket = buckets::delete(&call.state, &admin.scope(), id).await?;
    let place = call
        .state
        .buckets
        .place(&call.state, &call.state.config.get().storage_role)?;
    if let Err(err) = call.state.buckets.destroy(&place, id).await {
        tracing::warn!("bucket {id} was deleted but its files were not all removed: {err:?}");
    }
    call.state.events.emit(
        SEVT_BUCKET_REMOVED,
        &admin.actor(),
        &bucket.properties.organization_id,
        id,
        None,
    );
    Ok(Reply::ok())
}

/// `free-space`: of the disk the buckets are on; with `BucketID`, of that
/// bucket's quota where it has one. Storage behind the server other than a
/// local disk reports itself unlimited.
pub async fn free_space(call: Call) -> ApiResult<Reply> {
    let state = &call.state;
    let place = state
        .buckets
        .place(state, &state.config.get().storage_role)?;
    let mut info = match &place {
        Place::Local(root) => {
            tokio::fs::create_dir_all(root)
                .await
                .map_err(ApiError::internal)?;
            let stat = nix::sys::statvfs::statvfs(root.as_path()).map_err(ApiError::internal)?;
            let fragment = stat.fragment_size() as u64;
            let total = stat.blocks() as u64 * fragment;
            let available = stat.blocks_available() as u64 * fragment;
            let free = stat.blocks_free() as u64 * fragment;
            StorageFreeSpaceInfo {
                available_bytes: available,
                used_percent: percent(total - free, total),
                ..Default::default()
            }
        }
        Place::Backend(_) => StorageFreeSpaceInfo {
            unlimited: true,
            ..Default::default()
        },
    };
    if let Some(id) = call.params.opt_str("BucketID").filter(|id| !id.is_empty()) {
        let bucket = buckets::get(state, &call.admin()?.scope(), id).await?;
        if bucket.quota_bytes > 0 {
            let used = state.buckets.used(state, id).await?;
            let left = bucket.quota_bytes.saturating_sub(used);
            info.available_bytes = if info.unlimited {
                left
            } else {
                info.available_bytes.min(left)
            };
            info.unlimited = false;
            info.used_percent = percent(used, bucket.quota_bytes);
        }
    }
    Ok(Reply::json(&info))
}

fn percent(part: u64, whole: u64) -> f32 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 100.0 / whole as f64) as f32
    }
}

/// `replication/state`: each `ReplicateTo` target's state.
pub async fn replication_state(call: Call) -> ApiResult<Reply> {
    let config = call.state.config.get();
    Ok(Reply::json(
        &call
            .state
            .replication
            .states(&config.storage_role.replicate_to),
    ))
}

/// `ping-destination`: opens the location `ExtraData` and lists it, so a
/// wrong address, bucket or credential is reported before anyone relies on it.
pub async fn ping_destination(call: Call) -> ApiResult<Reply> {
    let location: DestinationLocation = call.params.json("ExtraData")?;
    let outcome = tokio::task::spawn_blocking(move || halley_protocol::location::probe(&location))
        .await
        .map_err(ApiError::internal)?;
    match outcome {
        Ok(()) => Ok(Reply::ok()),
        Err(why) => Err(ApiError::bad_request(format!(
            "The Storage Vault location cannot be reached: {why}"
        ))),
    }
}
