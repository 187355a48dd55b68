//! Replication: this Storage Role server copies its buckets to each server
//! of `StorageRole.ReplicateTo` (another Halley Storage Role, as
//! one of its administrators). Each pass registers missing buckets there
//! under the same ID and key hash, so a device's key opens the replica too,
//! then copies every object the replica lacks (or holds at another size)
//! through the bucket data protocol, streaming. Objects deleted here are
//! deleted there too, unless the target's `ReplicaDeletionStrategy` is
//! `keep`. A pass runs a second after writes settle, and every minute.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use halley_api::constants::*;
use halley_api::types::{ReplicaServer, ReplicatorStateAPIResponse};
use serde::Deserialize;

use super::buckets::{self, Bucket};
use crate::auth::TenantScope;
use crate::service::remote_server::RemoteServer;
use crate::state::AppState;
use crate::util::now_unix;

/// Keeps deleted objects on the replica.
pub const KEEP_DELETED: &str = "keep";
const EVERY: Duration = Duration::from_secs(60);
const SETTLE: Duration = Duration::from_secs(1);

/// Each target's state, in `ReplicateTo`'s order, and the wake-up of the
/// replicating task.
#[derive(Default)]
pub struct Replication {
    states: Mutex<Vec<ReplicatorStateAPIResponse>>,
    wake: tokio::sync::Notify,
}

impl Replication {
    /// Something changed: replicate soon.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Each configured target's state now.
    pub fn states(&self, targets: &[ReplicaServer]) -> Vec<ReplicatorStateAPIResponse> {
        let known = self.states.lock().unwrap_or_else(|p| p.into_inner());
        targets
            .iter()
            .enumerate()
            .map(|(index, target)| {
                let mut state = known
                    .get(index)
                    .filter(|s| s.remote_server_id == target.remote_address)
                    .cloned()
                    .unwrap_or_else(|| fresh(target));
                state.current_time = now_unix();
                state
            })
            .collect()
    }

    fn update(
        &self,
        index: usize,
        target: &ReplicaServer,
        change: impl FnOnce(&mut ReplicatorStateAPIResponse),
    ) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        while states.len() <= index {
            states.push(ReplicatorStateAPIResponse::default());
        }
        if states[index].remote_server_id != target.remote_address {
            states[index] = fresh(target);
        }
        change(&mut states[index]);
    }
}

fn fresh(target: &ReplicaServer) -> ReplicatorStateAPIResponse {
    ReplicatorStateAPIResponse {
        description: target.description.clone(),
        remote_server_id: target.remote_address.clone(),
        display_class: REPLICATOR_DISPLAYCLASS_STORAGE,
        total_workers: 1,
        state: REPLICATOR_STATE_NONE,
        ..Default::default()
    }
}

/// The replicating task.
pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(async move {
        loop {
            let _ = tokio::time::timeout(EVERY, state.replication.wake.notified()).await;
            tokio::time::sleep(SETTLE).await;
            let config = state.config.get();
            if !config.storage_role.role_enabled {
                continue;
            }
            for (index, target) in config.storage_role.replicate_to.iter().enumerate() {
                if let Err(why) = replicate(&state, index, target).await {
                    tracing::warn!(
                        "replicating to {} ({}): {why}",
                        target.description,
                        target.remote_address
                    );
                    state
                        .replication
                        .update(index, target, |s| s.state = REPLICATOR_STATE_NONE);
                }
            }
        }
    });
}

#[derive(Deserialize)]
struct Listed {
    key: String,
    size: u64,
}

/// One pass over every bucket, to one target.
async fn replicate(state: &AppState, index: usize, target: &ReplicaServer) -> Result<(), String> {
    if !(target.r#type.is_empty() || target.r#type == REMOTESERVER_COMET) {
        return Err(format!(
            "type '{}' cannot be replicated to: only another Storage Role server ({REMOTESERVER_COMET})",
            target.r#type
        ));
    }
    let server = RemoteServer::new(&target.remote_address, &target.username, &target.password)?;
    let place = state
        .buckets
        .place(state, &state.config.get().storage_role)
        .map_err(|e| e.message())?;
    let replication = &state.replication;
    replication.update(index, target, |s| {
        s.state = REPLICATOR_STATE_FILE_LIST_SYNC_RUNNING;
        s.active_workers = 1;
    });
    let ours = buckets::list(state, &TenantScope::server_wide())
        .await
        .map_err(|e| e.message())?;
    let theirs = server.call("storage/list-buckets", &[]).await?;
    let client = reqwest::Client::new();
    for bucket in &ours {
        if theirs.get(&bucket.id).is_none() {
            register(&server, bucket).await?;
        }
        let url = format!("{}bucket/v1/{}/", server.base, bucket.id);
        let signed = |request: reqwest::RequestBuilder| {
            request
                .header("X-Comet-Admin-Username", &server.username)
                .header("X-Comet-Admin-AuthType", "Password")
                .header("X-Comet-Admin-Password", &server.password)
        };
        let present: Vec<Listed> = check(signed(client.get(&url)).send().await, "list")?
            .json()
            .await
            .map_err(|e| format!("bucket {}: not a listing: {e}", bucket.id))?;
        let here = state
            .buckets
            .list(&place, &bucket.id, "")
            .await
            .map_err(|e| format!("bucket {}: {e:?}", bucket.id))?;
        let missing: Vec<_> = here
            .iter()
            .filter(|object| {
                !present
                    .iter()
                    .any(|p| p.key == object.key && p.size == object.size)
            })
            .collect();
        replication.update(index, target, |s| {
            s.state = REPLICATOR_STATE_WORKERS_STARTED;
            s.items_queued += missing.len() as i64;
            s.bytes_queued += missing.iter().map(|m| m.size as i64).sum::<i64>();
            s.last_worker_submit_time = now_unix();
        });
        for object in missing {
            let read = state
                .buckets
                .read(&place, &bucket.id, &object.key, None)
                .await
                .map_err(|e| format!("{} of bucket {}: {e:?}", object.key, bucket.id))?;
            let body = reqwest::Body::wrap_stream(
                read.body.into_data_stream().map_err(std::io::Error::other),
            );
            check(
                signed(client.put(format!("{url}{}", object.key)))
                    .header(reqwest::header::CONTENT_LENGTH, read.length)
                    .body(body)
                    .send()
                    .await,
                "copy",
            )?;
            replication.update(index, target, |s| {
                s.items_queued -= 1;
                s.bytes_queued -= object.size as i64;
                s.items_replicated += 1;
                s.bytes_replicated += object.size as i64;
            });
        }
        if target.replica_deletion_strategy != KEEP_DELETED {
            for gone in present
                .iter()
                .filter(|p| !here.iter().any(|h| h.key == p.key))
            {
                check(
                    signed(client.delete(format!("{url}{}", gone.key)))
                        .send()
                        .await,
                    "delete",
                )?;
            }
        }
    }
    replication.update(index, target, |s| {
        s.state = REPLICATOR_STATE_FILE_LIST_SYNC_FINISHED;
        s.active_workers = 0;
    });
    Ok(())
}

/// Makes the bucket on the replica, with the same ID, tenant-less, and
/// the same key hash and quota.
async fn register(server: &RemoteServer, bucket: &Bucket) -> Result<(), String> {
    let format = bucket.properties.read_write_key_format.to_string();
    let quota = bucket.quota_bytes.to_string();
    server
        .call(
            "storage/register-bucket",
            &[
                ("SetBucketValue", bucket.id.as_str()),
                ("SetKeyHashFormat", format.as_str()),
                ("SetKeyHashValue", bucket.properties.read_write_key.as_str()),
                ("SetQuotaBytes", quota.as_str()),
            ],
        )
        .await
        .map(|_| ())
}

fn check(
    sent: reqwest::Result<reqwest::Response>,
    what: &str,
) -> Result<reqwest::Response, String> {
    let answer = sent.map_err(|e| format!("{what}: {e}"))?;
    if !answer.status().is_success() {
        return Err(format!(
            "{what}: HTTP {} from {}",
            answer.status(),
            answer.url()
        ));
    }
    Ok(answer)
}
