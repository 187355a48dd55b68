//! `/api/v1/admin/constellation/*`: the Constellation Role's status, its
//! bucket usage reports, and pruning unused buckets
//! (`service/constellation.rs`), for the caller's tenant's settings.

use halley_api::types::{CometAPIResponseMessage, ConstellationStatusAPIResponse};

use super::settings::stored_constellation;
use crate::http::{ApiResult, Call, Reply};
use crate::service::constellation;

pub async fn status(call: Call) -> ApiResult<Reply> {
    let options = stored_constellation(&call)?;
    let organization = call.admin()?.organization_id();
    Ok(Reply::json(&ConstellationStatusAPIResponse {
        deletion_enabled: options.delete_unused_data,
        targets: options
            .servers
            .iter()
            .map(|s| s.remote_address.clone())
            .collect(),
        target_names: options
            .servers
            .iter()
            .map(|s| s.description.clone())
            .collect(),
        stats: call.state.constellation.of(organization),
        ..Default::default()
    }))
}

pub async fn last_report(call: Call) -> ApiResult<Reply> {
    let organization = call.admin()?.organization_id();
    Ok(Reply::json(
        &constellation::last_report(&call.state, organization).await?,
    ))
}

pub async fn new_report(call: Call) -> ApiResult<Reply> {
    let options = stored_constellation(&call)?;
    let organization = call.admin()?.organization_id();
    Ok(Reply::json(
        &constellation::check(&call.state, organization, &options).await?,
    ))
}

pub async fn prune_now(call: Call) -> ApiResult<Reply> {
    let options = stored_constellation(&call)?;
    let organization = call.admin()?.organization_id();
    let deleted = constellation::prune(&call.state, organization, &options).await?;
    Ok(Reply::json(&CometAPIResponseMessage {
        status: 200,
        message: format!("OK: {deleted} unused buckets deleted"),
        ..Default::default()
    }))
}
