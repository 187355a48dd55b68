//! The server's calls to this device, each answered on its own task so a
//! slow one (opening a vault) holds up neither the connection nor the
//! others: cancel a job, run a backup or a restore now, list and delete a
//! vault's snapshots, browse, retention, verify, reindex and unlock, stop,
//! update, uninstall.

use std::sync::Arc;

use anyhow::{anyhow, Result};
use halley_api::types::VaultSnapshot;
use halley_protocol::device::Call;
use serde_json::{json, Value};

use crate::job::{self, BackupRequest};
use crate::restores::{self, Restore};
use crate::session::{Session, StopReason};
use crate::vaults;
use crate::{browse, maintenance};

/// The exit status after `kill-process`; the systemd unit does not restart
/// the agent after it (`RestartPreventExitStatus`).
pub const EXIT_KILLED: i32 = 3;

pub async fn answer(session: &Arc<Session>, call: Call) -> Result<Value, String> {
    let outcome = match call {
        Call::JobCancel { job_id } => cancel(session, &job_id),
        Call::RunBackup { rule_id } => run_rule(session, &rule_id).await,
        Call::RunBackupCustom {
            source_id,
            destination_id,
            options,
        } => {
            let request = BackupRequest {
                rule_id: String::new(),
                source_id,
                destination_id,
                options: Some(options),
            };
            start_now(session, request).await
        }
        Call::VaultSnapshots { destination_id } => snapshots(session, &destination_id).await,
        Call::Restore {
            source_id,
            destination_id,
            snapshot,
            target,
            paths,
            archive,
            upload,
        } => {
            let restore = Restore {
                item: source_id,
                vault: destination_id,
                snapshot,
                target: target.into(),
                paths,
                archive,
                upload: Some(upload).filter(|token| !token.is_empty()),
            };
            restore_now(session, restore).await
        }
        Call::DeleteSnapshots {
            destination_id,
            snapshot_ids,
        } => delete_snapshots(session, &destination_id, snapshot_ids).await,
        Call::Maintain {
            kind,
            destination_id,
            allow_unsafe,
        } => {
            let (started, job_id) = tokio::sync::oneshot::channel();
            let job =
                maintenance::run(session.clone(), kind, destination_id, allow_unsafe, started);
            answer_when_started(job_id, job).await
        }
        Call::StoredObjects {
            destination_id,
            snapshot_id,
            tree_id,
        } => browse::stored_objects(session, &destination_id, &snapshot_id, &tree_id)
            .await
            .and_then(|list| Ok(serde_json::to_value(list)?)),
        Call::SnapshotFiles {
            destination_id,
            snapshot_ids,
        } => browse::snapshot_files(session, &destination_id, snapshot_ids)
            .await
            .and_then(|files| Ok(serde_json::to_value(files)?)),
        Call::FilesystemObjects { path } => browse::filesystem_objects(&path)
            .await
            .and_then(|list| Ok(serde_json::to_value(list)?)),
        Call::BrowseMysql {
            host,
            port,
            username,
            password,
        } => browse_mysql(host, port, username, password).await,
        Call::PingDestination { location } => ping(location).await,
        Call::UpdateLoginUrl { url } => session.move_to_server(&url).map(|()| Value::Null),
        Call::KillProcess => {
            exit_after_reply("stopped by the server (kill-process)");
            Ok(Value::Null)
        }
        Call::Uninstall { remove_config } => uninstall(session, remove_config),
        Call::UpdateSoftware => update(session).await,
        other => Err(anyhow!(
            "this device does not answer {}",
            serde_json::to_value(&other)
                .ok()
                .and_then(|v| v["name"].as_str().map(str::to_string))
                .unwrap_or_default()
        )),
    };
    outcome.map_err(|err| format!("{err:#}"))
}

/// Runs `then` once the reply is out (it ends or replaces the process).
fn after_reply(then: impl FnOnce() + Send + 'static) {
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        then();
    });
}

/// Ends the process once the reply is out, with the status its systemd
/// unit does not restart.
fn exit_after_reply(why: &'static str) {
    after_reply(move || {
        tracing::warn!("{why}");
        std::process::exit(EXIT_KILLED);
    });
}

/// Removes the agent, then answers and exits.
fn uninstall(session: &Session, remove_config: bool) -> Result<Value> {
    let exe = std::env::current_exe()?;
    let removal = crate::uninstall::plan(&exe, &session.dir.path, remove_config);
    crate::uninstall::carry_out(&removal)?;
    exit_after_reply("uninstalled by the server (uninstall-software)");
    Ok(Value::Null)
}

/// Puts the offered build in place, answers, then restarts into it.
async fn update(session: &Session) -> Result<Value> {
    let (updated, exe) = crate::update::install_offered_build(session).await?;
    tracing::warn!("updated to {}; restarting", updated.version);
    after_reply(move || {
        let err = crate::update::restart(&exe);
        tracing::error!("{err:#}");
    });
    Ok(serde_json::to_value(updated)?)
}

fn cancel(session: &Session, job_id: &str) -> Result<Value> {
    let job = session
        .running_job(job_id)
        .ok_or_else(|| anyhow!("job {job_id} is not running on this device"))?;
    job.stop(StopReason::Cancelled);
    Ok(Value::Null)
}

async fn run_rule(session: &Arc<Session>, rule_id: &str) -> Result<Value> {
    let profile = session.profile().await?;
    let request = job::rule_request(&profile, rule_id)?;
    start_now(session, request).await
}

/// Starts the job and answers with its ID as soon as the server has it;
/// the job runs on.
async fn start_now(session: &Arc<Session>, request: BackupRequest) -> Result<Value> {
    let profile = session.profile().await?;
    let device_id = session.state().device_id;
    let source = profile
        .sources
        .get(&request.source_id)
        .ok_or_else(|| anyhow!("the account has no Protected Item '{}'", request.source_id))?;
    if !source.owner_device.is_empty() && source.owner_device != device_id {
        return Err(anyhow!(
            "Protected Item '{}' belongs to device {}, not this one",
            request.source_id,
            source.owner_device
        ));
    }
    let (started, job_id) = tokio::sync::oneshot::channel();
    let runner = session.clone();
    let job = async move {
        let options = job::RunOptions {
            on_started: Some(started),
            ..Default::default()
        };
        job::run_backup(&runner, &profile, &request, options).await
    };
    answer_when_started(job_id, job).await
}

/// Runs `job` on its own task and answers with the job's ID as soon as the
/// server has created it; the job runs on. An error before that (no such
/// vault, say) is the answer.
async fn answer_when_started<T: Send + 'static>(
    job_id: tokio::sync::oneshot::Receiver<String>,
    job: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<Value> {
    let failed = tokio::spawn(job);
    match job_id.await {
        Ok(job_id) => Ok(json!({ "job_id": job_id })),
        Err(_) => match failed.await {
            Ok(Err(err)) => Err(err),
            _ => Err(anyhow!("the job could not start")),
        },
    }
}

async fn snapshots(session: &Session, destination_id: &str) -> Result<Value> {
    let repo = vaults::open_existing(session, destination_id).await?;
    let list = tokio::task::spawn_blocking(move || repo.snapshots()).await??;
    let snapshots: Vec<VaultSnapshot> = list
        .into_iter()
        .map(|s| VaultSnapshot {
            snapshot: s.id.to_hex(),
            engine_type: s.snapshot.engine,
            source: s.snapshot.source,
            create_time: s.snapshot.time,
            has_original_path_info: true,
            ..Default::default()
        })
        .collect();
    Ok(serde_json::to_value(snapshots)?)
}

/// Starts the restore job and answers with its ID; it runs on.
async fn restore_now(session: &Arc<Session>, restore: Restore) -> Result<Value> {
    let (started, job_id) = tokio::sync::oneshot::channel();
    let runner = session.clone();
    let job = async move { restores::run(&runner, restore, Arc::new(|_| {}), Some(started)).await };
    answer_when_started(job_id, job).await
}

async fn delete_snapshots(
    session: &Session,
    destination_id: &str,
    ids: Vec<String>,
) -> Result<Value> {
    let repo = vaults::open_existing(session, destination_id).await?;
    tokio::task::spawn_blocking(move || -> Result<()> {
        let found = ids
            .iter()
            .map(|id| Ok(repo.find_snapshot(id)?.id))
            .collect::<Result<Vec<_>>>()?;
        halley_vault::forget::forget(&repo, &found)?;
        Ok(())
    })
    .await??;
    Ok(Value::Null)
}

async fn browse_mysql(
    host: String,
    port: String,
    username: String,
    password: String,
) -> Result<Value> {
    let props = [
        ("HOST", host),
        ("PORT", port),
        ("USERNAME", username),
        ("PASSWORD", password),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    let databases =
        tokio::task::spawn_blocking(move || crate::engines::mysql::databases_of(&props))
            .await?
            .map_err(|err| anyhow!("{err}"))?;
    let objects: std::collections::BTreeMap<String, String> =
        databases.into_iter().map(|db| (db.clone(), db)).collect();
    Ok(serde_json::to_value(objects)?)
}

/// Whether the location opens and lists from here.
async fn ping(location: halley_api::types::DestinationLocation) -> Result<Value> {
    tokio::task::spawn_blocking(move || -> Result<()> {
        let backend = halley_protocol::location::open(&location).map_err(|why| anyhow!(why))?;
        backend.list("")?;
        Ok(())
    })
    .await??;
    Ok(Value::Null)
}
