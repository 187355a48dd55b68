//! The server's watch over devices, every few seconds:
//!
//! - a running job whose device has not been connected for the grace
//!   period (`--job-abandon-seconds`) becomes 7007, abandoned;
//! - a backup rule of a device that is not connected whose schedule comes
//!   due gets a missed job (7004, `StartTime` = `EndTime` = the scheduled
//!   time), as a Comet Server writes them;
//! - job log lines older than `PruneLogsAfterDays` are removed, hourly.
//!
//! In a cluster a device is connected to one node, which says so in the
//! database when it connects and every [`HEARTBEAT_SECS`] after, and takes
//! it back when it leaves; every node counts such a device as connected.
//! The watch runs on the node that holds its lease.

use std::sync::Arc;
use std::time::Duration;

use halley_api::constants::*;
use halley_api::types::BackupJobDetail;
use halley_protocol::schedule;

use super::jobs::{self, scope_of};
use crate::auth::TenantScope;
use crate::state::AppState;
use crate::store::{DeviceRecord, JobQuery, JobWhen};
use crate::util::now_unix;

const EVERY: Duration = Duration::from_secs(2);
/// Missed schedules are looked for less often: each look reads the profile
/// of every account with an offline device, and the window since the last
/// look keeps every occurrence, so waiting loses nothing.
const MISSED_EVERY_SECS: i64 = 30;
const PRUNE_EVERY_SECS: i64 = 3600;
/// How often a node in a cluster tells the others which devices it holds.
const HEARTBEAT_SECS: i64 = 10;
/// How long the watch stays with a node that stopped renewing it.
const WATCH_LEASE: Duration = Duration::from_secs(15);
/// How long a node's word that it holds a device lasts.
pub const PRESENCE_TTL: Duration = Duration::from_secs(3 * HEARTBEAT_SECS as u64);

pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut last_scan = now_unix();
        let mut last_prune = 0;
        let mut last_heartbeat = 0;
        let mut ticks = tokio::time::interval(EVERY);
        loop {
            ticks.tick().await;
            let now = now_unix();
            if state.cluster.is_some() && now - last_heartbeat >= HEARTBEAT_SECS {
                last_heartbeat = now;
                heartbeat(&state).await;
            }
            // The node that takes the watch over looks for missed schedules
            // from its own last tick on, so those that came due in the
            // dying leader's last half-minute go unrecorded.
            if !state.leads("device-watch", WATCH_LEASE).await {
                last_scan = now;
                continue;
            }
            if let Err(err) = abandon(&state, now).await {
                tracing::warn!("checking for abandoned jobs: {err:?}");
            }
            if now - last_scan >= MISSED_EVERY_SECS {
                if let Err(err) = missed(&state, last_scan, now).await {
                    tracing::warn!("checking for missed jobs: {err:?}");
                }
                last_scan = now;
                super::campaign::offer_to_all(&state).await;
            }
            if now - last_prune >= PRUNE_EVERY_SECS {
                last_prune = now;
                let days = state.config.get().authentication_role.prune_logs_after_days;
                if days > 0 {
                    let _ = state.store.job_logs_prune(now - days * 86_400).await;
                }
            }
        }
    });
}

/// Renews this node's word on the devices connected to it (lobby too).
async fn heartbeat(state: &AppState) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    let held: Vec<(String, String, String)> = state
        .devices
        .all()
        .iter()
        .filter_map(|connection| super::relay::Snapshot::row(connection))
        .collect();
    if let Err(why) = cluster.presence_renew(&held, PRESENCE_TTL).await {
        tracing::warn!("telling the cluster which devices are here: {why}");
    }
}

/// Which devices are connected: to this node, or in a cluster to any.
struct Connected {
    elsewhere: std::collections::HashSet<String>,
}

impl Connected {
    async fn now(state: &AppState) -> Result<Self, crate::http::ApiError> {
        let elsewhere = match &state.cluster {
            Some(cluster) => cluster.present().await?,
            None => Default::default(),
        };
        Ok(Connected { elsewhere })
    }

    fn includes(&self, state: &AppState, device: &DeviceRecord) -> bool {
        self.elsewhere.contains(&device.key_hash)
            || !state
                .devices
                .of_device(&device.organization_id, &device.username, &device.device_id)
                .is_empty()
    }
}

async fn abandon(state: &AppState, now: i64) -> Result<(), crate::http::ApiError> {
    let running = state
        .store
        .jobs_find(
            &TenantScope::server_wide(),
            &JobQuery {
                when: JobWhen::Running(
                    JOB_STATUS_RUNNING__MIN as i64..=JOB_STATUS_RUNNING__MAX as i64,
                ),
                ..Default::default()
            },
        )
        .await?;
    if running.is_empty() {
        return Ok(());
    }
    let grace = state.job_abandon_after.as_secs() as i64;
    let devices = state.store.device_list(&TenantScope::server_wide()).await?;
    let connected = Connected::now(state).await?;
    for record in running {
        let Ok(detail) = serde_json::from_str::<BackupJobDetail>(&record.detail_json) else {
            continue;
        };
        if detail.device_id.is_empty() {
            continue;
        }
        let device = devices.iter().find(|d| {
            d.organization_id == record.organization_id
                && d.username == record.username
                && d.device_id == detail.device_id
        });
        if device.is_some_and(|d| connected.includes(state, d))
            || !state
                .devices
                .of_device(&record.organization_id, &record.username, &detail.device_id)
                .is_empty()
        {
            continue;
        }
        let last_seen = device.map_or(0, |d| d.last_seen_at);
        let last_heard = last_seen
            .max(detail.progress.recieved_time)
            .max(detail.start_time);
        if now - last_heard >= grace {
            jobs::write_verdict(
                state,
                &record.organization_id,
                detail,
                JOB_STATUS_FAILED_ABANDONED,
                now,
            )
            .await?;
        }
    }
    Ok(())
}

/// Missed jobs of schedules due in `(after, until]` on devices that were
/// not connected then.
async fn missed(state: &AppState, after: i64, until: i64) -> Result<(), crate::http::ApiError> {
    let devices = state.store.device_list(&TenantScope::server_wide()).await?;
    let connected = Connected::now(state).await?;
    let mut by_account: std::collections::BTreeMap<(String, String), Vec<_>> = Default::default();
    for device in devices {
        if !connected.includes(state, &device) {
            by_account
                .entry((device.organization_id.clone(), device.username.clone()))
                .or_default()
                .push(device);
        }
    }
    for ((organization_id, username), offline) in by_account {
        let scope = scope_of(&organization_id);
        let Ok((profile, _)) = crate::service::users::load(state, &scope, &username).await else {
            continue;
        };
        for device in offline {
            // A device that was connected after `after` ran what came due.
            let since = after.max(device.last_seen_at);
            if since >= until {
                continue;
            }
            let zone = profile
                .devices
                .get(&device.device_id)
                .map(|d| d.device_timezone.as_str())
                .filter(|z| !z.is_empty())
                .unwrap_or(profile.local_timezone.as_str());
            let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
            for (rule_id, rule) in &profile.backup_rules {
                let owned = profile
                    .sources
                    .get(&rule.source)
                    .is_some_and(|s| s.owner_device == device.device_id);
                if !owned {
                    continue;
                }
                for planned in &rule.schedules {
                    let Some(at) = first_occurrence(planned, &tz, since, until) else {
                        continue;
                    };
                    let detail = BackupJobDetail {
                        guid: uuid::Uuid::new_v4().to_string(),
                        username: username.clone(),
                        classification: JOB_CLASSIFICATION_BACKUP,
                        status: JOB_STATUS_FAILED_SCHEDULEMISSED,
                        start_time: at,
                        end_time: at,
                        source_guid: rule.source.clone(),
                        destination_guid: rule.destination.clone(),
                        device_id: device.device_id.clone(),
                        backup_rule_guid: rule_id.clone(),
                        ..Default::default()
                    };
                    jobs::save(state, &organization_id, &detail).await?;
                    for event in [SEVT_JOB_NEW, SEVT_JOB_COMPLETED] {
                        state.events.emit(
                            event,
                            "system",
                            &organization_id,
                            &detail.guid,
                            serde_json::to_value(&detail).ok(),
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// The first time in `(after, until]` the schedule fires: `fires_between`
/// is monotone in its upper bound, so a bisection finds it.
fn first_occurrence(
    planned: &halley_api::types::ScheduleConfig,
    tz: &jiff::tz::TimeZone,
    after: i64,
    until: i64,
) -> Option<i64> {
    if !schedule::fires_between(planned, tz, after, until) {
        return None;
    }
    let (mut low, mut high) = (after, until);
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if schedule::fires_between(planned, tz, after, middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}
