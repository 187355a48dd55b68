//! `dispatcher/*` (administrators) and `user/web/dispatcher/*` (the account
//! holder, on their own devices): calls that reach a live device. The
//! caller names a connection (`TargetID`, from `dispatcher/list-active`);
//! the server forwards the call over the device protocol and waits for the
//! answer (`docs/device-protocol.md`, "Calls from the dispatcher"). A
//! connection of another tenant or another account answers exactly as an
//! unknown one.

use std::sync::Arc;

use halley_api::constants::*;
use halley_api::types::{CometAPIResponseMessage, DispatchWithJobIDResponse, UserPolicy};
use halley_protocol::device::{Call as DeviceCall, JobStarted};
use serde_json::Value;

use crate::auth::TenantScope;
use crate::devices::registry::{Connection, RequestError};
use crate::http::{quoted, ApiError, ApiResult, Call, Reply};
use crate::service::users;

mod browse;
mod connection;
mod jobs;

pub use browse::*;
pub use connection::*;
pub use jobs::*;

/// The scope of the caller, administrator or end user.
fn caller_scope(call: &Call) -> ApiResult<TenantScope> {
    Ok(match call.user() {
        Ok(user) => user.scope(),
        Err(_) => call.admin()?.scope(),
    })
}

/// The live connection `TargetID` in the caller's reach, on this node or
/// (in a cluster) another. Anything else (unknown, offline, another
/// tenant's or another account's) answers `Status` 403, as a Comet Server
/// does for an unknown `TargetID`.
async fn target(call: &Call) -> ApiResult<Arc<Connection>> {
    let id = call.params.non_empty("TargetID")?;
    let own = call.user().ok().map(|user| user.username().to_string());
    let scope = caller_scope(call)?;
    let connection = match call.state.devices.device_connection(&scope, id) {
        Some(connection) => Some(connection),
        None => crate::devices::relay::stand_in(&call.state, id)
            .await
            .filter(|c| scope.includes(c.organization_id())),
    };
    connection
        .filter(|c| own.as_deref().is_none_or(|name| c.username() == name))
        // Word for word what a Comet Server answers: integrations and the
        // official SDKs' tests compare it.
        .ok_or_else(ApiError::unauthorised)
}

/// The policy of the account whose device `connection` is.
async fn account_policy(call: &Call, connection: &Connection) -> ApiResult<UserPolicy> {
    let (profile, _) =
        users::load(&call.state, &caller_scope(call)?, connection.username()).await?;
    Ok(profile.policy)
}

/// Administrators see a device's file names (browsing, searching) only
/// where the device allows it and the account's policy does not forbid it
/// (`ModeAdminViewFilenames` enforced off); the account holder always does.
async fn check_file_names_visible(call: &Call, connection: &Connection) -> ApiResult<()> {
    if call.user().is_ok() {
        return Ok(());
    }
    let device = quoted(connection.device_id());
    if !connection.info.allows_filenames {
        return Err(ApiError::forbidden(format!(
            "The device {device} does not let administrators see its file names"
        )));
    }
    if account_policy(call, connection)
        .await?
        .mode_admin_view_filenames
        == SETTING_ENFORCED_OFF
    {
        return Err(ApiError::forbidden(format!(
            "The policy of the account {} does not let administrators see file names (ModeAdminViewFilenames)",
            quoted(connection.username())
        )));
    }
    Ok(())
}

/// Forwards `request` and waits for the device's answer; every way it can
/// fail names the device and why.
async fn ask(connection: &Connection, request: DeviceCall) -> ApiResult<Value> {
    let device = format!(
        "The device {} of {}",
        quoted(connection.device_id()),
        quoted(connection.username())
    );
    connection.request(request).await.map_err(|err| match err {
        RequestError::Refused(why) => {
            ApiError::new(500, format!("{device} could not do it: {why}"))
        }
        RequestError::Timeout(_) => ApiError::new(504, format!("{device} {err}")),
        RequestError::Gone => ApiError::new(502, format!("{device}: {err}")),
    })
}

/// The job a device started; administrators get its ID.
fn started(call: &Call, answer: Value) -> ApiResult<Reply> {
    let job: JobStarted = serde_json::from_value(answer).map_err(ApiError::internal)?;
    if call.user().is_ok() {
        return Ok(Reply::json(&CometAPIResponseMessage::ok()));
    }
    Ok(Reply::json(&DispatchWithJobIDResponse {
        status: 200,
        message: "OK".into(),
        job_id: job.job_id,
        ..Default::default()
    }))
}
