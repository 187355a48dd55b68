//! `dispatcher/*` (administrators) and `user/web/dispatcher/*` (the account
//! holder, on their own devices): calls that reach a live device. The
//! caller names a connection (`TargetID`, from `dispatcher/list-active`);
//! the server forwards the call over the device protocol and waits for the
//! answer (`docs/device-protocol.md`, "Calls from the dispatcher"). A
//! connection of another tenant or another account answers exactly as an
//! unknown one.

use std::sync::Arc;

use halley_api::constants::*;
use halley_api::types::{
    BrowseSQLServerResponse, CometAPIResponseMessage, DestinationLocation,
    DispatchWithJobIDResponse, DispatcherStoredObjectsResponse, DispatcherVaultSnapshotsResponse,
    MySQLConnection, OrganizationLoginURLResponse, RestoreJobAdvancedOptions, SearchClause,
    SearchResultFileInfo, SearchSnapshotsResponse, StoredObject, VaultSnapshot,
};
use halley_protocol::device::{Call as DeviceCall, JobStarted, Maintenance, CLOSE_DROPPED};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::devices::live::profile_message;
use crate::devices::registry::{Connection, RequestError};
use crate::http::{quoted, ApiError, ApiResult, Call, Reply};
use crate::service::{search, users};

/// The live connection `TargetID` in the caller's reach.
fn target(call: &Call) -> ApiResult<Arc<Connection>> {
    let id = call.params.non_empty("TargetID")?;
    let (scope, own) = match call.user() {
        Ok(user) => (user.scope(), Some(user.username())),
        Err(_) => (call.admin()?.scope(), None),
    };
    call.state
        .devices
        .device_connection(&scope, id)
        .filter(|c| own.is_none_or(|name| c.username() == name))
        .ok_or_else(|| {
            ApiError::invalid_param(
                "TargetID",
                format!(
                    "no device is connected as {} (see dispatcher/list-active)",
                    quoted(id)
                ),
            )
        })
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

/// `run-backup`: runs a backup rule now.
pub async fn run_backup(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let rule_id = call.params.non_empty("BackupRule")?.to_string();
    let answer = ask(&connection, DeviceCall::RunBackup { rule_id }).await?;
    started(&call, answer)
}

/// `run-backup-custom`: backs up a Protected Item into a Storage Vault now.
/// `Options` is read so a malformed value is refused; its settings are not
/// applied yet (the README says so).
pub async fn run_backup_custom(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let source_id = call.params.non_empty("Source")?.to_string();
    let destination_id = call.params.non_empty("Destination")?.to_string();
    if let Some(options) = call.params.opt_str("Options").filter(|o| !o.is_empty()) {
        serde_json::from_str::<halley_api::types::BackupJobAdvancedOptions>(options).map_err(
            |e| ApiError::invalid_param("Options", format!("not a BackupJobAdvancedOptions: {e}")),
        )?;
    }
    let request = DeviceCall::RunBackupCustom {
        source_id,
        destination_id,
    };
    let answer = ask(&connection, request).await?;
    started(&call, answer)
}

/// `request-vault-snapshots`: the snapshots a vault holds, as the device
/// reads them.
pub async fn vault_snapshots(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let destination_id = call.params.non_empty("Destination")?.to_string();
    let answer = ask(&connection, DeviceCall::VaultSnapshots { destination_id }).await?;
    let snapshots: Vec<VaultSnapshot> =
        serde_json::from_value(answer).map_err(ApiError::internal)?;
    Ok(Reply::json(&DispatcherVaultSnapshotsResponse {
        status: 200,
        message: "OK".into(),
        snapshots,
        ..Default::default()
    }))
}

/// `refetch-profile`: sends the device its account's profile again.
pub async fn refetch_profile(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let scope = match call.user() {
        Ok(user) => user.scope(),
        Err(_) => call.admin()?.scope(),
    };
    let (profile, record) = users::load(&call.state, &scope, connection.username()).await?;
    connection.send(profile_message(&profile, &record.profile_hash));
    Ok(Reply::ok())
}

/// `drop-connection`: closes the connection; the device dials again.
pub async fn drop_connection(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    connection.close(CLOSE_DROPPED, "dropped by request; reconnect", true);
    Ok(Reply::ok())
}

/// `run-restore`: restores a snapshot of `Source` from `Destination` (the
/// newest when `Snapshot` is empty), or its `Paths`, into the directory
/// `Path` on the device.
pub async fn run_restore(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let target_path = call.params.non_empty("Path")?.to_string();
    if !target_path.starts_with('/') {
        return Err(ApiError::invalid_param(
            "Path",
            format!(
                "{} is not an absolute path on the device",
                quoted(&target_path)
            ),
        ));
    }
    let request = DeviceCall::Restore {
        source_id: call.params.non_empty("Source")?.to_string(),
        destination_id: call.params.non_empty("Destination")?.to_string(),
        snapshot: call.params.opt_str("Snapshot").unwrap_or("").to_string(),
        target: target_path,
        paths: call
            .params
            .opt_json::<Vec<String>>("Paths")?
            .unwrap_or_default(),
        archive: None,
    };
    let answer = ask(&connection, request).await?;
    started(&call, answer)
}

/// `run-restore-custom`: as `run-restore`, where `Options` says: files into
/// `DestPath` or their original location (`RESTORETYPE_FILE`), or one
/// archive file into `DestPath` (`RESTORETYPE_FILE_ARCHIVE`, tar, tar.gz,
/// zip or tar.zst). The overwrite settings and the `Known*Count` hints are
/// not used: a restore writes every selected entry.
pub async fn run_restore_custom(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let options: RestoreJobAdvancedOptions = call.params.json("Options")?;
    let absolute = |path: &str| -> ApiResult<String> {
        if path.starts_with('/') {
            Ok(path.to_string())
        } else {
            Err(ApiError::invalid_param(
                "Options",
                format!(
                    "DestPath {} is not an absolute path on the device",
                    quoted(path)
                ),
            ))
        }
    };
    let (target_path, archive) = match options.r#type {
        RESTORETYPE_FILE if options.dest_is_original_location => ("/".to_string(), None),
        RESTORETYPE_FILE => (absolute(&options.dest_path)?, None),
        RESTORETYPE_FILE_ARCHIVE => {
            let format = options.archive_format;
            let known = [
                RESTOREARCHIVEFORMAT_TAR,
                RESTOREARCHIVEFORMAT_TARGZ,
                RESTOREARCHIVEFORMAT_ZIP,
                RESTOREARCHIVEFORMAT_TARZSTD,
            ];
            if !known.contains(&format) {
                return Err(ApiError::invalid_param(
                    "Options",
                    format!("ArchiveFormat {format} is not one of tar (0), tar.gz (1), zip (2), tar.zst (4)"),
                ));
            }
            (absolute(&options.dest_path)?, Some(format))
        }
        other => {
            return Err(ApiError::invalid_param(
                "Options",
                format!("restore Type {other} is not supported by the Linux agent (files {RESTORETYPE_FILE}, an archive {RESTORETYPE_FILE_ARCHIVE})"),
            ))
        }
    };
    let request = DeviceCall::Restore {
        source_id: call.params.non_empty("Source")?.to_string(),
        destination_id: call.params.non_empty("Destination")?.to_string(),
        snapshot: call.params.opt_str("Snapshot").unwrap_or("").to_string(),
        target: target_path,
        paths: call
            .params
            .opt_json::<Vec<String>>("Paths")?
            .unwrap_or_default(),
        archive,
    };
    let answer = ask(&connection, request).await?;
    started(&call, answer)
}

/// `delete-snapshot` and `delete-snapshots`: the device forgets them.
pub async fn delete_snapshots(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let destination_id = call.params.non_empty("DestinationID")?.to_string();
    let snapshot_ids = match call.params.opt_str("SnapshotID") {
        Some(one) => vec![one.to_string()],
        None => call
            .params
            .opt_json::<Vec<String>>("SnapshotIDs")?
            .unwrap_or_default(),
    };
    if snapshot_ids.is_empty() || snapshot_ids.iter().any(|id| id.is_empty()) {
        return Err(ApiError::invalid_param(
            "SnapshotIDs",
            "name at least one snapshot, none empty",
        ));
    }
    let request = DeviceCall::DeleteSnapshots {
        destination_id,
        snapshot_ids,
    };
    ask(&connection, request).await?;
    Ok(Reply::ok())
}

/// `kill-process`: the agent stops, and stays stopped until started again.
pub async fn kill_process(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    ask(&connection, DeviceCall::KillProcess).await?;
    Ok(Reply::ok())
}

/// `apply-retention-rules` and `deepverify-storage-vault`: a job on the
/// whole vault, on the device.
pub async fn maintain(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let kind = if call.endpoint.path.ends_with("/apply-retention-rules") {
        Maintenance::Retention
    } else {
        Maintenance::DeepVerify
    };
    let destination_id = call.params.non_empty("Destination")?.to_string();
    ask(
        &connection,
        DeviceCall::Maintain {
            kind,
            destination_id,
        },
    )
    .await?;
    Ok(Reply::ok())
}

/// `request-stored-objects`: one directory of a snapshot (`TreeID` from a
/// directory's `subtree`; the root when empty).
pub async fn stored_objects(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let request = DeviceCall::StoredObjects {
        destination_id: call.params.non_empty("Destination")?.to_string(),
        snapshot_id: call.params.non_empty("SnapshotID")?.to_string(),
        tree_id: call.params.opt_str("TreeID").unwrap_or("").to_string(),
    };
    objects(ask(&connection, request).await?)
}

/// `request-filesystem-objects`: one directory of the device (`/` when
/// `Path` is empty).
pub async fn filesystem_objects(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let path = call.params.opt_str("Path").unwrap_or("").to_string();
    objects(ask(&connection, DeviceCall::FilesystemObjects { path }).await?)
}

fn objects(answer: Value) -> ApiResult<Reply> {
    let stored_objects: Vec<StoredObject> =
        serde_json::from_value(answer).map_err(ApiError::internal)?;
    Ok(Reply::json(&DispatcherStoredObjectsResponse {
        status: 200,
        message: "OK".into(),
        stored_objects,
        ..Default::default()
    }))
}

/// `request-browse-mysql`: the databases the device sees on a MariaDB or
/// MySQL server, with the `Credentials` given (their TLS settings are not
/// used: the agent's client connects as its options file says).
pub async fn browse_mysql(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let credentials: MySQLConnection = call.params.json("Credentials")?;
    let request = DeviceCall::BrowseMysql {
        host: credentials.host,
        port: credentials.port,
        username: credentials.username,
        password: credentials.password,
    };
    let objects =
        serde_json::from_value(ask(&connection, request).await?).map_err(ApiError::internal)?;
    Ok(Reply::json(&BrowseSQLServerResponse {
        status: 200,
        message: "OK".into(),
        objects,
        ..Default::default()
    }))
}

/// `ping-destination`: whether the device reaches the location `ExtraData`.
pub async fn ping_destination(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let location: DestinationLocation = call.params.json("ExtraData")?;
    ask(&connection, DeviceCall::PingDestination { location }).await?;
    Ok(Reply::ok())
}

/// `update-login-url`: the device uses `NewURL` from now on and reconnects
/// there. `Force` is accepted; the device always takes the URL.
pub async fn update_login_url(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let url = call
        .params
        .non_empty("NewURL")?
        .trim_end_matches('/')
        .to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::invalid_param(
            "NewURL",
            format!("{} is not an http:// or https:// URL", quoted(&url)),
        ));
    }
    ask(&connection, DeviceCall::UpdateLoginUrl { url }).await?;
    Ok(Reply::ok())
}

/// `get-default-login-url`: the server URL a tenant's clients log in to
/// (its branding's `DefaultLoginServerURL`; the top level's for "").
pub async fn default_login_url(call: Call) -> ApiResult<Reply> {
    let scope = call.admin()?.scope();
    let organization_id = call.params.str("OrganizationID")?;
    let config = call.state.config.get();
    let branding = match organization_id {
        "" if scope.includes("") => &config.branding,
        id => match config.organizations.get(id).filter(|_| scope.includes(id)) {
            Some(organization) => &organization.branding,
            None => {
                return Err(ApiError::invalid_param(
                    "OrganizationID",
                    format!("no tenant {}", quoted(id)),
                ))
            }
        },
    };
    Ok(Reply::json(&OrganizationLoginURLResponse {
        login_url: branding.default_login_server_url.clone(),
        ..Default::default()
    }))
}

/// `search-snapshots`: the entries of `SnapshotIDs` that match `Filter`, a
/// `SearchClause` over `SearchResultFileInfo` fields
/// (`SearchResultFileInfo.name`, `.path`, `.size`, ...), by snapshot.
pub async fn search_snapshots(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let destination_id = call.params.non_empty("DestinationID")?.to_string();
    let snapshot_ids: Vec<String> = call.params.opt_json("SnapshotIDs")?.unwrap_or_default();
    let filter: SearchClause = call.params.opt_json("Filter")?.unwrap_or_default();
    // A malformed filter is refused before the device does any work.
    search::matches(&filter, "SearchResultFileInfo", &Value::Null)
        .map_err(|why| ApiError::invalid_param("Filter", why))?;
    let request = DeviceCall::SnapshotFiles {
        destination_id,
        snapshot_ids,
    };
    let all: BTreeMap<String, Vec<SearchResultFileInfo>> =
        serde_json::from_value(ask(&connection, request).await?).map_err(ApiError::internal)?;
    let mut snapshot_files = BTreeMap::new();
    for (snapshot, files) in all {
        let mut kept = Vec::new();
        for file in files {
            let wire = serde_json::to_value(&file).map_err(ApiError::internal)?;
            if search::matches(&filter, "SearchResultFileInfo", &wire)
                .map_err(|why| ApiError::invalid_param("Filter", why))?
            {
                kept.push(file);
            }
        }
        snapshot_files.insert(snapshot, kept);
    }
    Ok(Reply::json(&SearchSnapshotsResponse {
        status: 200,
        message: "OK".into(),
        snapshot_files,
        ..Default::default()
    }))
}
