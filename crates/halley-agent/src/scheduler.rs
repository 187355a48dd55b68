//! The backup rules' schedules, run by `halley-agent run`: each second the
//! rules of the Protected Items this device owns are checked for a
//! schedule time passed since the last check, in the device's time zone,
//! after the schedule's random delay. Rules with `OnPCBoot` run when the
//! service starts; `SkipAlreadyRunning` reports a 7006 job instead of a
//! second run; `OnLastJobFailDoRetry` retries a failed job.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use halley_api::constants::*;
use halley_api::types::{BackupRuleConfig, UserProfileConfig};
use halley_protocol::schedule::fires_between;
use rand::Rng;

use crate::job::{self, BackupRequest};
use crate::session::Session;
use crate::util::now_unix;

/// At most this long a schedule's `RandomDelaySecs` holds a job back.
const MAX_RANDOM_DELAY_SECS: u64 = 18_000;

pub async fn run(session: Arc<Session>) {
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let profiles = session.profile_updates();
    let tz = jiff::tz::TimeZone::system();
    let mut booted = false;
    let mut last = now_unix();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = now_unix();
        let Some(profile) = profiles.borrow().clone() else {
            continue;
        };
        let device_id = session.state().device_id;
        for (rule_id, rule) in owned_rules(&profile, &device_id) {
            let boot = !booted
                && (rule.event_triggers.on_pc_boot
                    || missed_while_off(&session, &rule_id, &rule, &tz, now));
            let due = boot
                || rule
                    .schedules
                    .iter()
                    .any(|schedule| fires_between(schedule, &tz, last, now));
            if !due {
                continue;
            }
            let delay = if boot {
                0
            } else {
                rule.schedules
                    .iter()
                    .filter(|schedule| fires_between(schedule, &tz, last, now))
                    .map(|schedule| schedule.random_delay_secs.min(MAX_RANDOM_DELAY_SECS))
                    .max()
                    .unwrap_or(0)
            };
            tokio::spawn(start(session.clone(), running.clone(), rule_id, delay));
        }
        booted = true;
        last = now;
    }
}

/// `OnPCBootIfLastJobMissed`: whether a schedule came due since the rule's
/// last job started here (within the last 31 days when it never ran).
fn missed_while_off(
    session: &Session,
    rule_id: &str,
    rule: &BackupRuleConfig,
    tz: &jiff::tz::TimeZone,
    now: i64,
) -> bool {
    if !rule.event_triggers.on_pc_boot_if_last_job_missed {
        return false;
    }
    let since = session.last_job_start(rule_id).unwrap_or(now - 31 * 86_400);
    rule.schedules
        .iter()
        .any(|schedule| fires_between(schedule, tz, since, now))
}

/// The rules whose Protected Item belongs to this device.
fn owned_rules(profile: &UserProfileConfig, device_id: &str) -> Vec<(String, BackupRuleConfig)> {
    profile
        .backup_rules
        .iter()
        .filter(|(_, rule)| {
            profile.sources.get(&rule.source).is_some_and(|source| {
                source.owner_device.is_empty() || source.owner_device == device_id
            })
        })
        .map(|(id, rule)| (id.clone(), rule.clone()))
        .collect()
}

async fn start(
    session: Arc<Session>,
    running: Arc<Mutex<HashSet<String>>>,
    rule_id: String,
    delay: u64,
) {
    if delay > 0 {
        let wait = rand::thread_rng().gen_range(0..=delay);
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    let Ok(profile) = session.profile().await else {
        return;
    };
    let Some(rule) = profile.backup_rules.get(&rule_id).cloned() else {
        return;
    };
    let Ok(request) = job::rule_request(&profile, &rule_id) else {
        return;
    };
    let first_run = running.lock().unwrap().insert(rule_id.clone());
    // Without SkipAlreadyRunning a second job runs beside the first.
    if !first_run && rule.skip_already_running {
        let why = "skipped: the previous job of this rule is still running";
        if let Err(err) = job::report_skipped(&session, &request, why).await {
            tracing::warn!("rule {rule_id}: {err:#}");
        }
        return;
    }
    run_with_retries(&session, &profile, &rule, &request).await;
    if first_run {
        running.lock().unwrap().remove(&rule_id);
    }
}

async fn run_with_retries(
    session: &Arc<Session>,
    profile: &UserProfileConfig,
    rule: &BackupRuleConfig,
    request: &BackupRequest,
) {
    let triggers = &rule.event_triggers;
    let retries = if triggers.on_last_job_fail_do_retry {
        triggers.last_job_fail_do_retry_count
    } else {
        0
    };
    let mut profile = profile.clone();
    let mut wait = Duration::ZERO;
    for attempt in 0..=retries {
        let options = job::RunOptions {
            retry_after: wait,
            ..Default::default()
        };
        match job::run_backup(session, &profile, request, options).await {
            Ok(end) if !retryable(end.status) => return,
            Ok(end) => tracing::warn!(
                "rule {}: job {} ended {}",
                request.rule_id,
                end.job_id,
                end.status
            ),
            Err(err) => tracing::warn!("rule {}: {err:#}", request.rule_id),
        }
        if attempt < retries {
            wait = Duration::from_secs(triggers.last_job_fail_do_retry_time.max(1));
            if let Ok(current) = session.profile().await {
                profile = current;
            }
        }
    }
}

/// Failures worth another try: not a cancel, a skip or a quota.
fn retryable(status: u64) -> bool {
    (JOB_STATUS_FAILED__MIN..=JOB_STATUS_FAILED__MAX).contains(&status)
        && ![
            JOB_STATUS_FAILED_CANCELLED,
            JOB_STATUS_FAILED_SKIPALREADYRUNNING,
            JOB_STATUS_FAILED_QUOTA,
            JOB_STATUS_FAILED_WARNING,
        ]
        .contains(&status)
}
