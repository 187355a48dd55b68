//! Jobs started on a device from the dispatcher: backups, restores
//! (written on the device, or streamed back in the answer), snapshot
//! deletion and the jobs on a whole vault.

use halley_api::constants::*;
use halley_api::types::RestoreJobAdvancedOptions;
use halley_protocol::device::{archive_extension, Call as DeviceCall, Maintenance};

use super::{account_policy, ask, started, target};
use crate::http::{quoted, ApiError, ApiResult, Call, Reply};

/// `run-backup`: runs a backup rule now.
pub async fn run_backup(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    let rule_id = call.params.non_empty("BackupRule")?.to_string();
    let answer = ask(&connection, DeviceCall::RunBackup { rule_id }).await?;
    started(&call, answer)
}

/// `run-backup-custom`: backs up a Protected Item into a Storage Vault now,
/// outside any rule; `Options` (`StopAfter`, `LimitVaultSpeedBps`,
/// `AllowZeroFilesSuccess`) apply as a rule's would.
pub async fn run_backup_custom(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
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

/// `run-restore`: restores a snapshot of `Source` from `Destination` (the
/// newest when `Snapshot` is empty), or its `Paths`, into the directory
/// `Path` on the device.
pub async fn run_restore(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
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
    let connection = target(&call).await?;
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
    let connection = target(&call).await?;
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

/// `apply-retention-rules`, `deepverify-storage-vault`,
/// `reindex-storage-vault` and `unlock` (`AllowUnsafe`: live holders' locks
/// too): a job on the whole vault, on the device.
pub async fn maintain(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
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
