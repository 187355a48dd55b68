//! One backup job, from its start report to its finish report: pre-commands,
//! the vault (initialised on first use), quotas, the engine, retention,
//! post-commands, and the totals the server records (`BackupJobDetail`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use halley_api::constants::*;
use halley_api::types::{
    BackupJobAdvancedOptions, BackupJobDetail, BackupJobProgress, BackupRuleConfig,
    DestinationConfig, JobEntry, SizeMeasurement, SourceConfig, UserProfileConfig,
};
use halley_protocol::device::{Call, JobStarted, Message};
use halley_protocol::vault_key;
use halley_vault::{Progress, Repository};

use crate::engines::{self, EngineContext, EngineError, EngineOutcome, LogLevel};
use crate::session::{JobControl, Session, StopReason};
use crate::state::LastJob;
use crate::util::now_unix;
use crate::{exec, platform, vaults};

/// What to back up where, and why.
#[derive(Debug, Clone, Default)]
pub struct BackupRequest {
    /// Empty for a backup of an item and a vault outside any rule.
    pub rule_id: String,
    pub source_id: String,
    pub destination_id: String,
    /// Outside any rule: the options of `run-backup-custom`, in the place
    /// of a rule's (`StopAfter`, `LimitVaultSpeedBps`,
    /// `AllowZeroFilesSuccess`).
    pub options: Option<BackupJobAdvancedOptions>,
}

impl BackupRequest {
    /// The settings the job runs with: its rule's, or its own options as a
    /// rule outside the profile.
    fn settings(&self, profile: &UserProfileConfig) -> Option<BackupRuleConfig> {
        if let Some(options) = &self.options {
            return Some(BackupRuleConfig {
                stop_after: options.stop_after,
                limit_vault_speed_bps: options.limit_vault_speed_bps,
                allow_zero_files_success: options.allow_zero_files_success,
                skip_already_running: options.skip_already_running,
                ..Default::default()
            });
        }
        profile.backup_rules.get(&self.rule_id).cloned()
    }
}

/// How a job ended.
#[derive(Debug, Clone)]
pub struct JobEnd {
    pub job_id: String,
    pub status: u64,
    /// Why it did not succeed, empty on success.
    pub message: String,
    pub outcome: EngineOutcome,
}

/// A progress observer besides the server (the command line's bar).
pub type Observer = Arc<dyn Fn(&Progress) + Send + Sync>;

/// The request of a rule, checked against the profile.
pub fn rule_request(profile: &UserProfileConfig, rule_id: &str) -> Result<BackupRequest> {
    let rule = profile
        .backup_rules
        .get(rule_id)
        .ok_or_else(|| anyhow!("the account has no backup rule '{rule_id}'"))?;
    Ok(BackupRequest {
        rule_id: rule_id.to_string(),
        source_id: rule.source.clone(),
        destination_id: rule.destination.clone(),
        options: None,
    })
}

/// How a job is run, besides what it backs up.
#[derive(Default)]
pub struct RunOptions {
    /// A progress observer besides the server.
    pub observer: Option<Observer>,
    /// A retry waits this long (as 6003) before it runs.
    pub retry_after: Duration,
    /// Told the job's ID as soon as the server has created it.
    pub on_started: Option<tokio::sync::oneshot::Sender<String>>,
}

/// Starts the job on the server and runs it to its end.
pub async fn run_backup(
    session: &Arc<Session>,
    profile: &UserProfileConfig,
    request: &BackupRequest,
    options: RunOptions,
) -> Result<JobEnd> {
    let RunOptions {
        observer,
        retry_after,
        on_started,
    } = options;
    let source = profile
        .sources
        .get(&request.source_id)
        .ok_or_else(|| anyhow!("the account has no Protected Item '{}'", request.source_id))?;
    let destination = profile
        .destinations
        .get(&request.destination_id)
        .ok_or_else(|| {
            anyhow!(
                "the account has no Storage Vault '{}'",
                request.destination_id
            )
        })?;
    // A retry is a job of its own, waiting (6003) until it runs.
    let waiting = !retry_after.is_zero();
    let status = if waiting {
        JOB_STATUS_RUNNING_TRYAGAIN
    } else {
        JOB_STATUS_RUNNING_ACTIVE
    };
    let detail = start_detail(request, status);
    let start_time = detail.start_time;
    let started = session
        .request::<JobStarted>(Call::JobStart { detail })
        .await?;
    let job_id = started.job_id;
    if let Some(tell) = on_started {
        let _ = tell.send(job_id.clone());
    }
    let control = session.job_started(&job_id);
    let job = Job {
        session: session.clone(),
        job_id: job_id.clone(),
        control: control.clone(),
        counter: Mutex::new(0),
        last_sent: Mutex::new(None),
    };
    let settings = request.settings(profile);
    let rule = settings.as_ref();
    if let Some(limit) = rule.map(|r| r.stop_after).filter(|secs| *secs > 0) {
        let control = control.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(limit as u64)).await;
            control.stop(StopReason::TimedOut);
        });
    }
    let mut end = if waiting && !job.wait_to_retry(retry_after).await {
        let end = JobEnd {
            job_id: String::new(),
            status: JOB_STATUS_FAILED_CANCELLED,
            message: "cancelled while waiting to retry".into(),
            outcome: EngineOutcome::default(),
        };
        job.finish(&end, SizeMeasurement::default(), SizeMeasurement::default())
            .await;
        end
    } else {
        job.work(profile, request, source, destination, observer)
            .await
    };
    end.job_id = job_id.clone();
    session.job_ended(&job_id);
    session.record_job(
        &request.rule_id,
        LastJob {
            job_id: job_id.clone(),
            status: end.status,
            start_time,
            end_time: now_unix(),
            message: end.message.clone(),
        },
    );
    Ok(end)
}

/// Reports a rule's job that ends before it starts (skipped: 7006).
pub async fn report_skipped(session: &Session, request: &BackupRequest, why: &str) -> Result<()> {
    let mut detail = start_detail(request, JOB_STATUS_FAILED_SKIPALREADYRUNNING);
    detail.end_time = detail.start_time;
    let started = session
        .request::<JobStarted>(Call::JobStart { detail })
        .await?;
    session.send(&Message::Log {
        job_id: started.job_id,
        entries: vec![entry(LogLevel::Warning, why.to_string())],
    });
    Ok(())
}

fn start_detail(request: &BackupRequest, status: u64) -> BackupJobDetail {
    BackupJobDetail {
        classification: JOB_CLASSIFICATION_BACKUP,
        status,
        start_time: now_unix(),
        source_guid: request.source_id.clone(),
        destination_guid: request.destination_id.clone(),
        backup_rule_guid: request.rule_id.clone(),
        client_version: platform::client_version().to_string(),
        ..Default::default()
    }
}

fn entry(level: LogLevel, message: String) -> JobEntry {
    JobEntry {
        time: now_unix(),
        severity: level.severity().to_string(),
        message,
        ..Default::default()
    }
}

struct Job {
    session: Arc<Session>,
    job_id: String,
    control: Arc<JobControl>,
    counter: Mutex<i64>,
    last_sent: Mutex<Option<Instant>>,
}

/// Progress goes to the server at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

impl Job {
    fn log(&self, level: LogLevel, message: String) {
        match level {
            LogLevel::Error => tracing::error!("job {}: {message}", self.job_id),
            LogLevel::Warning => tracing::warn!("job {}: {message}", self.job_id),
            LogLevel::Info => tracing::info!("job {}: {message}", self.job_id),
        }
        self.session.send(&Message::Log {
            job_id: self.job_id.clone(),
            entries: vec![entry(level, message)],
        });
    }

    /// Waits `delay` before a retry runs; false when the job was cancelled
    /// meanwhile. The first progress report makes it running (6001).
    async fn wait_to_retry(&self, delay: Duration) -> bool {
        self.log(
            LogLevel::Info,
            format!("the last job failed: retrying in {} s", delay.as_secs()),
        );
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if self.control.reason().is_some() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200).min(until - Instant::now())).await;
        }
        self.progress(&Progress::default(), true);
        self.control.reason().is_none()
    }

    fn progress(&self, progress: &Progress, force: bool) {
        let mut last = self.last_sent.lock().unwrap();
        if !force && last.is_some_and(|at| at.elapsed() < PROGRESS_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let mut counter = self.counter.lock().unwrap();
        *counter += 1;
        self.session.send(&Message::Progress {
            job_id: self.job_id.clone(),
            progress: BackupJobProgress {
                counter: *counter,
                sent_time: now_unix(),
                bytes_done: progress.bytes as i64,
                items_done: (progress.files + progress.dirs) as i64,
                ..Default::default()
            },
        });
    }

    async fn work(
        &self,
        profile: &UserProfileConfig,
        request: &BackupRequest,
        source: &SourceConfig,
        destination: &DestinationConfig,
        observer: Option<Observer>,
    ) -> JobEnd {
        let settings = request.settings(profile);
        let rule = settings.as_ref();
        let fail = |status: u64, message: String| {
            self.log(LogLevel::Error, message.clone());
            JobEnd {
                job_id: String::new(),
                status,
                message,
                outcome: EngineOutcome::default(),
            }
        };
        let no_commands = Vec::new();
        let mut end: JobEnd;
        let mut size_start = SizeMeasurement::default();
        let mut size_end = SizeMeasurement::default();
        'job: {
            let log_info = |line: String| self.log(LogLevel::Info, line);
            let pre = [
                ("Storage Vault pre-backup", &destination.pre_exec),
                ("Protected Item pre-backup", &source.pre_exec),
                (
                    "backup rule pre-backup",
                    rule.map(|r| &r.pre_exec).unwrap_or(&no_commands),
                ),
            ];
            for (what, commands) in pre {
                if let Err(why) = exec::run_all(what, commands, &log_info).await {
                    end = fail(JOB_STATUS_FAILED_ERROR, why);
                    break 'job;
                }
            }
            if let Err(err) = engines::check_supported(&source.engine) {
                end = fail(JOB_STATUS_FAILED_ERROR, err.to_string());
                break 'job;
            }
            let repo = match self.open_vault(request, destination).await {
                Ok(repo) => repo,
                Err(err) => {
                    end = fail(JOB_STATUS_FAILED_ERROR, format!("{err:#}"));
                    break 'job;
                }
            };
            let repo = Arc::new(repo);
            size_start = self.measure(&repo).await;
            let limit = quota_left(profile, request, destination, size_start.size);
            if limit.is_some_and(|left| left <= 0) {
                end = fail(JOB_STATUS_FAILED_QUOTA, quota_message(destination, profile));
                break 'job;
            }
            self.log(
                LogLevel::Info,
                format!(
                    "backing up {} ({}) into {} ({})",
                    request.source_id,
                    source.description,
                    request.destination_id,
                    destination.description
                ),
            );
            let engine_end = self
                .run_engine(
                    repo.clone(),
                    request,
                    source,
                    rule.map(|r| r.limit_vault_speed_bps).unwrap_or(0),
                    limit,
                    observer,
                )
                .await;
            end = match engine_end {
                Ok(outcome) => self.judge(
                    outcome,
                    rule.is_some_and(|r| r.allow_zero_files_success),
                    source,
                ),
                Err(EngineError::Stopped) => {
                    let (status, message) = match self.control.reason() {
                        Some(StopReason::Quota) => {
                            (JOB_STATUS_FAILED_QUOTA, quota_message(destination, profile))
                        }
                        Some(StopReason::TimedOut) => (
                            JOB_STATUS_FAILED_TIMEOUT,
                            "the job ran past its rule's StopAfter limit".into(),
                        ),
                        _ => (JOB_STATUS_FAILED_CANCELLED, "the job was cancelled".into()),
                    };
                    fail(status, message)
                }
                Err(EngineError::StorageFull(why)) => fail(JOB_STATUS_FAILED_QUOTA, why),
                Err(err) => fail(JOB_STATUS_FAILED_ERROR, err.to_string()),
            };
            if end.status == JOB_STATUS_STOP_SUCCESS || end.status == JOB_STATUS_FAILED_WARNING {
                self.retention(&repo, request, source, destination).await;
            }
            size_end = self.measure(&repo).await;
        }
        let post = [
            (
                "backup rule post-backup",
                rule.map(|r| &r.post_exec).unwrap_or(&no_commands),
            ),
            ("Protected Item post-backup", &source.post_exec),
            ("Storage Vault post-backup", &destination.post_exec),
        ];
        for (what, commands) in post {
            if let Err(why) =
                exec::run_all(what, commands, &|line| self.log(LogLevel::Info, line)).await
            {
                self.log(LogLevel::Warning, why.clone());
                if end.status == JOB_STATUS_STOP_SUCCESS {
                    end.status = JOB_STATUS_FAILED_WARNING;
                    end.message = why;
                }
            }
        }
        self.finish(&end, size_start, size_end).await;
        end
    }

    async fn open_vault(
        &self,
        request: &BackupRequest,
        destination: &DestinationConfig,
    ) -> Result<Repository> {
        let account_key = vault_key::decode_account_key(&self.session.state().account_key)
            .map_err(|why| anyhow!("{why}: log in again"))?;
        vaults::open(
            &self.session,
            &account_key,
            &request.destination_id,
            destination,
        )
        .await
    }

    async fn measure(&self, repo: &Arc<Repository>) -> SizeMeasurement {
        let started = now_unix();
        let repo = repo.clone();
        let size = tokio::task::spawn_blocking(move || vaults::measure(repo.backend()))
            .await
            .ok()
            .and_then(Result::ok);
        match size {
            Some(size) => SizeMeasurement {
                size: size as i64,
                measure_started: started,
                measure_completed: now_unix(),
                ..Default::default()
            },
            None => SizeMeasurement::default(),
        }
    }

    async fn run_engine(
        &self,
        repo: Arc<Repository>,
        request: &BackupRequest,
        source: &SourceConfig,
        limit_bps: i64,
        quota_left: Option<i64>,
        observer: Option<Observer>,
    ) -> Result<EngineOutcome, EngineError> {
        let (log_tx, mut log_rx) = tokio::sync::mpsc::unbounded_channel::<(LogLevel, String)>();
        let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let source = source.clone();
        let source_id = request.source_id.clone();
        let control = self.control.clone();
        let engine = tokio::task::spawn_blocking(move || {
            let progress = |p: &Progress| {
                if let Some(observer) = &observer {
                    observer(p);
                }
                if quota_left.is_some_and(|left| p.new_bytes as i64 > left) {
                    control.stop(StopReason::Quota);
                }
                throttle(p, limit_bps);
                let _ = progress_tx.send(p.clone());
            };
            let log = |level: LogLevel, line: String| {
                let _ = log_tx.send((level, line));
            };
            engines::run(&EngineContext {
                repo: &repo,
                source_id: &source_id,
                source: &source,
                compression: COMPRESS_LVL_4,
                progress: &progress,
                stop: control.stop.clone(),
                log: &log,
            })
        });
        let mut last = Progress::default();
        let forward = async {
            loop {
                tokio::select! {
                    Some(p) = progress_rx.recv() => { self.progress(&p, false); last = p; }
                    Some((level, line)) = log_rx.recv() => self.log(level, line),
                    else => break,
                }
            }
        };
        forward.await;
        self.progress(&last, true);
        engine
            .await
            .unwrap_or_else(|err| Err(EngineError::Failed(format!("the engine stopped: {err}"))))
    }

    fn judge(
        &self,
        outcome: EngineOutcome,
        allow_zero_files: bool,
        source: &SourceConfig,
    ) -> JobEnd {
        let mut end = JobEnd {
            job_id: String::new(),
            status: JOB_STATUS_STOP_SUCCESS,
            message: String::new(),
            outcome,
        };
        for warning in end.outcome.warnings.iter().take(100) {
            self.log(LogLevel::Warning, warning.clone());
        }
        if end.outcome.files == 0 && !allow_zero_files && source.engine == ENGINE_BUILTIN_FILE {
            end.status = JOB_STATUS_FAILED_ERROR;
            end.message = "no files were backed up (the rule does not allow zero files)".into();
            self.log(LogLevel::Error, end.message.clone());
        } else if !end.outcome.warnings.is_empty() {
            end.status = JOB_STATUS_FAILED_WARNING;
            end.message = format!("{} entries could not be read", end.outcome.warnings.len());
        } else {
            self.log(
                LogLevel::Info,
                format!(
                    "snapshot {}: {} files, {} directories, {} bytes, {} bytes uploaded",
                    end.outcome.snapshot_id,
                    end.outcome.files,
                    end.outcome.directories,
                    end.outcome.total_bytes,
                    end.outcome.uploaded_bytes
                ),
            );
        }
        end
    }

    /// Applies the item's retention override for this vault, or the vault's
    /// default, to this item's snapshots, then frees what they held.
    async fn retention(
        &self,
        repo: &Arc<Repository>,
        request: &BackupRequest,
        source: &SourceConfig,
        destination: &DestinationConfig,
    ) {
        let policy = source
            .override_destination_retention
            .get(&request.destination_id)
            .unwrap_or(&destination.default_retention)
            .clone();
        if policy.mode != RETENTIONMODE_DELETE_EXCEPT {
            return;
        }
        let repo = repo.clone();
        let source_id = request.source_id.clone();
        let outcome = tokio::task::spawn_blocking(move || -> halley_vault::Result<usize> {
            let outcome = halley_vault::forget::apply_retention(
                &repo,
                &policy,
                Some(&source_id),
                now_unix(),
                false,
            )?;
            if !outcome.forgotten.is_empty() {
                halley_vault::prune::prune(&repo)?;
            }
            Ok(outcome.forgotten.len())
        })
        .await;
        match outcome {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => self.log(LogLevel::Info, format!("retention removed {n} snapshots")),
            Ok(Err(err)) => self.log(LogLevel::Warning, format!("retention failed: {err}")),
            Err(err) => self.log(LogLevel::Warning, format!("retention failed: {err}")),
        }
    }

    async fn finish(&self, end: &JobEnd, size_start: SizeMeasurement, size_end: SizeMeasurement) {
        let outcome = &end.outcome;
        let detail = BackupJobDetail {
            status: end.status,
            end_time: now_unix(),
            total_directories: outcome.directories as i64,
            total_files: outcome.files as i64,
            total_size: outcome.total_bytes as i64,
            total_chunks: outcome.chunks as i64,
            upload_size: outcome.uploaded_bytes as i64,
            snapshot_id: outcome.snapshot_id.clone(),
            destination_size_start: size_start,
            destination_size_end: size_end.clone(),
            client_version: platform::client_version().to_string(),
            ..Default::default()
        };
        let measured = (size_end.measure_completed > 0).then_some(size_end);
        let reported = self
            .session
            .request::<serde_json::Value>(Call::JobFinish {
                job_id: self.job_id.clone(),
                detail,
                destination_size: measured,
            })
            .await;
        if let Err(err) = reported {
            tracing::error!(
                "job {}: the server did not take its end: {err:#}",
                self.job_id
            );
        }
    }
}

/// Bytes this job may still add: the vault's `StorageLimitBytes` and the
/// account's quota over all vaults, whichever is nearer. `None`: no limit.
fn quota_left(
    profile: &UserProfileConfig,
    request: &BackupRequest,
    destination: &DestinationConfig,
    vault_size: i64,
) -> Option<i64> {
    let vault = destination
        .storage_limit_enabled
        .then(|| destination.storage_limit_bytes - vault_size);
    let account = profile.all_protected_items_quota_enabled.then(|| {
        let others: i64 = profile
            .destinations
            .iter()
            .filter(|(id, _)| **id != request.destination_id)
            .map(|(_, d)| d.statistics.client_provided_size.size)
            .sum();
        profile.all_protected_items_quota_bytes - others - vault_size
    });
    match (vault, account) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn quota_message(destination: &DestinationConfig, profile: &UserProfileConfig) -> String {
    if destination.storage_limit_enabled {
        format!(
            "the Storage Vault is over its quota of {} bytes (StorageLimitBytes)",
            destination.storage_limit_bytes
        )
    } else {
        format!(
            "the account is over its quota of {} bytes (AllProtectedItemsQuotaBytes)",
            profile.all_protected_items_quota_bytes
        )
    }
}

/// Holds the engine's thread back so new data is stored no faster than
/// `limit_bps` (a rule's `LimitVaultSpeedBps`; 0 is unlimited).
fn throttle(progress: &Progress, limit_bps: i64) {
    if limit_bps <= 0 {
        return;
    }
    let due = Duration::from_secs_f64(progress.new_bytes as f64 / limit_bps as f64);
    if let Some(wait) = due.checked_sub(progress.elapsed) {
        std::thread::sleep(wait.min(Duration::from_secs(5)));
    }
}
