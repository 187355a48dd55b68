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
    SearchResultFileInfo, SearchSnapshotsResponse, StoredObject, UserPolicy, VaultSnapshot,
};
use halley_protocol::device::{
    archive_extension, Call as DeviceCall, JobStarted, Maintenance, CLOSE_DROPPED,
};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::auth::TenantScope;
use crate::devices::live::profile_message;
use crate::devices::registry::{Connection, RequestError};
use crate::devices::{self, NewDevice, Proof};
use crate::http::{quoted, ApiError, ApiResult, Call, Reply};
use crate::service::{search, users};

/// The scope of the caller, administrator or end user.
fn caller_scope(call: &Call) -> ApiResult<TenantScope> {
    Ok(match call.user() {
        Ok(user) => user.scope(),
        Err(_) => call.admin()?.scope(),
    })
}

/// The live connection `TargetID` in the caller's reach. Anything else
/// (unknown, offline, another tenant's or another account's) answers
/// `Status` 403, as a Comet Server does for an unknown `TargetID`.
fn target(call: &Call) -> ApiResult<Arc<Connection>> {
    let id = call.params.non_empty("TargetID")?;
    let own = call.user().ok().map(|user| user.username().to_string());
    call.state
        .devices
        .device_connection(&caller_scope(call)?, id)
        .filter(|c| own.as_deref().is_none_or(|name| c.username() == name))
        .ok_or_else(|| {
            ApiError::new(
                403,
                format!(
                    "Unauthorised: no device is connected as TargetID {} (see dispatcher/list-active)",
                    quoted(id)
                ),
            )
        })
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

/// `run-backup`: runs a backup rule now.
pub async fn run_backup(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let rule_id = call.params.non_empty("BackupRule")?.to_string();
    let answer = ask(&connection, DeviceCall::RunBackup { rule_id }).await?;
    started(&call, answer)
}

/// `run-backup-custom`: backs up a Protected Item into a Storage Vault now,
/// outside any rule; `Options` (`StopAfter`, `LimitVaultSpeedBps`,
/// `AllowZeroFilesSuccess`) apply as a rule's would.
pub async fn run_backup_custom(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let source_id = call.params.non_empty("Source")?.to_string();
    let destination_id = call.params.non_empty("Destination")?.to_string();
    let options = match call.params.opt_str("Options").filter(|o| !o.is_empty()) {
        Some(options) => serde_json::from_str(options).map_err(|e| {
            ApiError::invalid_param("Options", format!("not a BackupJobAdvancedOptions: {e}"))
        })?,
        None => Default::default(),
    };
    let request = DeviceCall::RunBackupCustom {
        source_id,
        destination_id,
        options,
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
    let scope = caller_scope(&call)?;
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
        upload: String::new(),
    };
    let answer = ask(&connection, request).await?;
    started(&call, answer)
}

/// `run-restore-custom`: as `run-restore`, where `Options` says: files into
/// `DestPath` or their original location (`RESTORETYPE_FILE`), or one
/// archive file into `DestPath` (`RESTORETYPE_FILE_ARCHIVE`, tar, tar.gz,
/// zip or tar.zst). The overwrite settings and the `Known*Count` hints are
/// not used: a restore writes every selected entry. Halley's own
/// `DownloadArchive=1` (with an archive) has the answer be the archive
/// itself, streamed from the device as it is made, instead of a file on
/// the device.
pub async fn run_restore_custom(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let options: RestoreJobAdvancedOptions = call.params.json("Options")?;
    let download = call.params.opt_bool("DownloadArchive")?.unwrap_or(false);
    let absolute = |path: &str| -> ApiResult<String> {
        if download || path.starts_with('/') {
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
        RESTORETYPE_FILE if download => {
            return Err(ApiError::invalid_param(
                "DownloadArchive",
                format!("only an archive (Options.Type {RESTORETYPE_FILE_ARCHIVE}) can be downloaded"),
            ))
        }
        RESTORETYPE_FILE if options.dest_is_original_location => ("/".to_string(), None),
        RESTORETYPE_FILE => (absolute(&options.dest_path)?, None),
        RESTORETYPE_FILE_ARCHIVE => {
            let format = options.archive_format;
            if archive_extension(format).is_none() {
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
    let source_id = call.params.non_empty("Source")?.to_string();
    let snapshot = call.params.opt_str("Snapshot").unwrap_or("").to_string();
    let (upload, archive_stream) = match download {
        true => {
            let (token, stream) = call.state.uploads.expect(&connection);
            (token, Some(stream))
        }
        false => (String::new(), None),
    };
    let request = DeviceCall::Restore {
        source_id: source_id.clone(),
        destination_id: call.params.non_empty("Destination")?.to_string(),
        snapshot: snapshot.clone(),
        target: target_path,
        paths: call
            .params
            .opt_json::<Vec<String>>("Paths")?
            .unwrap_or_default(),
        archive,
        upload: upload.clone(),
    };
    let answer = ask(&connection, request).await;
    let Some(stream) = archive_stream else {
        return started(&call, answer?);
    };
    if let Err(err) = answer {
        call.state.uploads.forget(&upload);
        return Err(err);
    }
    crate::devices::uploads::Uploads::deadline(call.state.clone(), upload);
    let extension = archive.and_then(archive_extension).unwrap_or("tar");
    let snapshot = if snapshot.is_empty() {
        "latest"
    } else {
        &snapshot
    };
    let chunks = futures::stream::unfold(stream, |mut stream| async move {
        stream.recv().await.map(|chunk| (chunk, stream))
    });
    Ok(Reply::Stream {
        content_type: "application/octet-stream",
        file_name: format!("{source_id}-{snapshot}.{extension}"),
        body: axum::body::Body::from_stream(chunks),
    })
}

/// `delete-snapshot` and `delete-snapshots`: the device forgets them.
pub async fn delete_snapshots(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    if call.user().is_ok()
        && account_policy(&call, &connection)
            .await?
            .prevent_delete_single_snapshots
    {
        return Err(ApiError::forbidden(
            "The account's policy does not allow deleting snapshots (PreventDeleteSingleSnapshots)",
        ));
    }
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

/// `apply-retention-rules`, `deepverify-storage-vault`,
/// `reindex-storage-vault` and `unlock` (`AllowUnsafe`: live holders' locks
/// too): a job on the whole vault, on the device.
pub async fn maintain(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let path = call.endpoint.path;
    let kind = if path.ends_with("/apply-retention-rules") {
        Maintenance::Retention
    } else if path.ends_with("/reindex-storage-vault") {
        Maintenance::Reindex
    } else if path.ends_with("/unlock") {
        Maintenance::Unlock
    } else {
        Maintenance::DeepVerify
    };
    let request = DeviceCall::Maintain {
        kind,
        destination_id: call.params.non_empty("Destination")?.to_string(),
        allow_unsafe: call.params.opt_bool("AllowUnsafe")?.unwrap_or(false),
    };
    ask(&connection, request).await?;
    Ok(Reply::ok())
}

/// `force-login`: the device's credentials stop working and its
/// connections end; it waits until it is logged in again
/// (`halley-agent login`, which keeps its device ID and Protected Items).
pub async fn force_login(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let device = (
        connection.organization_id(),
        connection.username(),
        connection.device_id(),
    );
    let why = "signed out by the server (force-login): log in again";
    devices::retire_key(&call.state, &caller_scope(&call)?, device, why).await?;
    Ok(Reply::ok())
}

/// `update-login-password`: the device signs in again with the account's
/// password `NewPassword` (checked, and counted toward login protection,
/// like any sign-in) and gets a new device key over its connection; the
/// old key stops working and the device reconnects with the new one.
pub async fn update_login_password(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let password = call.params.non_empty("NewPassword")?;
    let scope = caller_scope(&call)?;
    let (profile, _) = users::load(&call.state, &scope, connection.username()).await?;
    if !crate::auth::confirm_user_password(&call.state, &profile, password, &call.origin).await? {
        return Err(ApiError::invalid_param(
            "NewPassword",
            format!(
                "it is not the password of the account {}",
                quoted(&profile.username)
            ),
        ));
    }
    let device_id = connection.device_id().to_string();
    let device = NewDevice {
        config: profile.devices.get(&device_id).cloned().unwrap_or_default(),
        device_id: Some(device_id),
        renewing: Some(connection.id.clone()),
    };
    let registration = devices::register(
        &call.state,
        &scope,
        &profile,
        Proof::Password(password),
        device,
    )
    .await?;
    connection.send_credentials(registration);
    Ok(Reply::ok())
}

/// `update-software`: the device installs the agent build this server
/// offers and restarts into it. Refused while one of its jobs runs (the
/// restart would end it). `SelfAddress` is not used: the device fetches the
/// build from the server it is connected to.
pub async fn update_software(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    crate::devices::software::offered_version(&call.state).await?;
    let busy = crate::devices::software::runs_a_job(
        &call.state,
        connection.organization_id(),
        connection.username(),
        connection.device_id(),
    )
    .await?;
    if busy {
        return Err(ApiError::bad_request(format!(
            "A job is running on the device {}: update it when the job ends",
            quoted(connection.device_id())
        )));
    }
    ask(&connection, DeviceCall::UpdateSoftware).await?;
    Ok(Reply::ok())
}

/// `uninstall-software`: the device removes the agent (and, with
/// `RemoveConfigFile`, its configuration and state) and stops for good.
pub async fn uninstall(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    let remove_config = call.params.opt_bool("RemoveConfigFile")?.unwrap_or(false);
    ask(&connection, DeviceCall::Uninstall { remove_config }).await?;
    Ok(Reply::ok())
}

/// `request-stored-objects`: one directory of a snapshot (`TreeID` from a
/// directory's `subtree`; the root when empty).
pub async fn stored_objects(call: Call) -> ApiResult<Reply> {
    let connection = target(&call)?;
    check_file_names_visible(&call, &connection).await?;
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
    check_file_names_visible(&call, &connection).await?;
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
    check_file_names_visible(&call, &connection).await?;
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
