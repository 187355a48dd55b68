//! Self-backup: the server's own data written as a snapshot into a Halley
//! vault (`SelfBackupExportOptions.Location`), encrypted with `EncryptionKey`
//! as the vault password. A snapshot holds:
//!
//! - `halley.db`: a new database loaded from the store's logical export (one
//!   consistent read), without sessions or undelivered webhook events;
//!   without job history when `ExcludeJobsDB`;
//! - `cometd.cfg`: the configuration;
//! - `resources/` (uploaded files) and, with `IncludeServerLogs`, `logs/`,
//!
//! all in the directory `DATA_DIR/self-backup/halley-data` (the snapshot
//! records that absolute path).
//!
//! With `RestrictToSingleOrgID` (a tenant export) the snapshot holds only
//! that tenant: its accounts, policies, groups and jobs, and a `cometd.cfg`
//! with only its `Organizations` entry. The snapshot's source name is
//! `halley-self-backup` (or `halley-tenant-<ID>`), so retention applies to
//! each on its own. Restoring is `halley-vault restore` into a data
//! directory.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use crate::auth::TenantScope;
use crate::store::{ExportOptions, SqliteStore, Store};

use halley_api::types::{
    RetentionPolicy, SelfBackupExportOptions, SelfBackupStatistics, SelfBackupTarget,
    ServerConfigOptions,
};
use halley_vault::{BackupOptions, InitOptions, Repository, Selection, VaultError};

use super::{reports, resources, self_backup_runs};
use crate::state::AppState;
use crate::util::now_unix;
use halley_protocol::{location as vault_location, schedule};

/// What one run wrote.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub snapshot: String,
    pub bytes: u64,
}

/// A configured target as the options of one run.
pub fn options_of(target: &SelfBackupTarget, index: usize) -> SelfBackupExportOptions {
    SelfBackupExportOptions {
        location: target.location.clone(),
        encryption_key: target.encryption_key.clone(),
        encryption_key_format: target.encryption_key_format,
        compression: target.compression,
        exclude_jobs_db: target.exclude_jobs_db,
        include_server_logs: target.include_server_logs,
        restrict_to_single_org_id: target.restrict_to_single_org_id.clone(),
        index: index as i64,
        ..Default::default()
    }
}

/// Runs a configured target with its retention; the outcome is logged and
/// kept for `meta/version`.
pub async fn run_target(state: &AppState, target: &SelfBackupTarget, index: usize) {
    let _ = run(
        state,
        &options_of(target, index),
        Some(&target.retention_policy),
    )
    .await;
}

/// Runs the targets whose schedule fired since the last look, every minute.
pub fn spawn_scheduler(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut last = now_unix();
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            let now = now_unix();
            // One node runs the schedule; the one that takes over after it
            // died goes on from its last look.
            if !state
                .leads("self-backup", std::time::Duration::from_secs(180))
                .await
            {
                last = now;
                continue;
            }
            let since = self_backup_runs::last_look(&state, now, last).await;
            self_backup_runs::set_last_look(&state, now).await;
            let targets = state.config.get().self_backup.targets.clone();
            for (index, target) in targets.iter().enumerate() {
                let tz = reports::time_zone(&target.schedule_timezone).unwrap_or_else(|why| {
                    tracing::warn!("self-backup {index}: {why}; using UTC");
                    jiff::tz::TimeZone::UTC
                });
                if target
                    .schedule
                    .iter()
                    .any(|s| schedule::fires_between(s, &tz, since, now))
                {
                    run_target(&state, target, index).await;
                }
            }
            last = now;
        }
    });
}

/// Writes one self-backup; with `retention`, then applies it to the earlier
/// snapshots of the same source. The run's figures are kept under
/// `options.index` for `meta/version`.
pub async fn run(
    state: &AppState,
    options: &SelfBackupExportOptions,
    retention: Option<&RetentionPolicy>,
) -> Result<Outcome, String> {
    let _turn = state.self_backup_turn.lock().await;
    let started = now_unix();
    let recorded =
        self_backup_runs::record(state, options.index, |s| s.current_run_start = started).await;
    let outcome = write(state, options, retention).await;
    let finished = SelfBackupStatistics {
        current_run_start: 0,
        last_run_start: started,
        last_run_end: now_unix(),
        last_run_success: outcome.is_ok(),
        last_run_size: outcome.as_ref().map_or(0, |o| o.bytes as i64),
        ..Default::default()
    };
    let recorded =
        recorded.and(self_backup_runs::record(state, options.index, |s| *s = finished).await);
    if let Err(why) = recorded {
        tracing::warn!("recording self-backup {}'s run: {why}", options.index);
    }
    match &outcome {
        Ok(o) => tracing::info!(
            "self-backup {}: snapshot {} ({} bytes)",
            options.index,
            o.snapshot,
            o.bytes
        ),
        Err(why) => tracing::error!("self-backup {}: {why}", options.index),
    }
    outcome
}

/// Exports the store (one tenant's rows, with `organization`) into a new
/// SQLite database at `path`, the form a data directory holds.
async fn copy_database(
    state: &AppState,
    organization: Option<&str>,
    exclude_jobs: bool,
    path: &Path,
) -> Result<(), crate::store::StoreError> {
    let everything = TenantScope::server_wide();
    let scope = match organization {
        None => everything,
        Some(id) => everything
            .narrowed_to(id)
            .ok_or(crate::store::StoreError::OutOfScope)?,
    };
    let tables = state
        .store
        .export(&scope, ExportOptions { exclude_jobs })
        .await?;
    let copy = SqliteStore::open(path).await?;
    copy.import(&tables).await?;
    copy.close().await;
    Ok(())
}

async fn write(
    state: &AppState,
    options: &SelfBackupExportOptions,
    retention: Option<&RetentionPolicy>,
) -> Result<Outcome, String> {
    if options.encryption_key.is_empty() {
        return Err("EncryptionKey is empty: a self-backup is encrypted with it".into());
    }
    let organization = Some(options.restrict_to_single_org_id.as_str()).filter(|o| !o.is_empty());
    let config = state.config.get();
    let tenant_config = match organization {
        None => (*config).clone(),
        Some(id) => {
            let org = config
                .organizations
                .get(id)
                .ok_or_else(|| format!("RestrictToSingleOrgID '{id}' names no organization"))?;
            ServerConfigOptions {
                organizations: [(id.to_string(), org.clone())].into(),
                ..Default::default()
            }
        }
    };
    let backend =
        vault_location::open(&options.location).map_err(|why| format!("Location: {why}"))?;

    let staging = Staging::new(&state.data_dir)?;
    let dir = staging.0.clone();
    copy_database(
        state,
        organization,
        options.exclude_jobs_db,
        &dir.join(crate::server::DATABASE_FILE),
    )
    .await
    .map_err(|e| format!("copying the database: {e}"))?;
    let cfg = serde_json::to_vec_pretty(&tenant_config).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("cometd.cfg"), cfg).map_err(|e| format!("writing cometd.cfg: {e}"))?;
    if organization.is_none() {
        resources::gather(state)
            .await
            .map_err(|e| format!("gathering the uploaded resources: {e}"))?;
        copy_dir(&state.data_dir.join("resources"), &dir.join("resources"))?;
    }
    if options.include_server_logs {
        copy_dir(&state.data_dir.join("logs"), &dir.join("logs"))?;
    }

    let password = options.encryption_key.clone();
    let compression = options.compression;
    let source = match organization {
        None => "halley-self-backup".to_string(),
        Some(id) => format!("halley-tenant-{id}"),
    };
    let retention = retention.cloned();
    let outcome = tokio::task::spawn_blocking(move || -> Result<Outcome, VaultError> {
        let repo = match Repository::open(backend.clone(), &password) {
            Err(VaultError::NotARepository(_)) => {
                Repository::init(backend, &password, InitOptions::default())?
            }
            other => other?,
        };
        let selection = Selection::new(vec![dir.clone()], &[], &[])?;
        let backup_options = BackupOptions {
            source: source.clone(),
            hostname: Some("halleyd".into()),
            compression: if compression == 0 {
                BackupOptions::default().compression
            } else {
                compression
            },
            ..Default::default()
        };
        let snapshot = halley_vault::backup(
            &repo,
            &selection,
            &backup_options,
            &halley_vault::no_progress,
        )?;
        if let Some(policy) = retention.filter(|p| p.mode != 0) {
            let applied = halley_vault::forget::apply_retention(
                &repo,
                &policy,
                Some(&source),
                now_unix(),
                false,
            )?;
            if !applied.forgotten.is_empty() {
                halley_vault::prune::prune(&repo)?;
            }
        }
        Ok(Outcome {
            snapshot: snapshot.id.to_string(),
            bytes: snapshot.snapshot.summary.bytes,
        })
    })
    .await
    .map_err(|e| format!("the self-backup task failed: {e}"))?
    .map_err(|e| e.to_string());
    drop(staging);
    outcome
}

/// The directory a snapshot is taken of, `DATA_DIR/self-backup/halley-data`:
/// one path for every run, so snapshots line up; removed when dropped. Runs
/// take turns (`AppState::self_backup_turn`).
struct Staging(PathBuf);

impl Staging {
    fn new(data_dir: &Path) -> Result<Staging, String> {
        let dir = data_dir.join("self-backup").join("halley-data");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| format!("clearing {}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(Staging(dir))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    if !from.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(to).map_err(|e| format!("creating {}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("reading {}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(|e| format!("copying {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}
