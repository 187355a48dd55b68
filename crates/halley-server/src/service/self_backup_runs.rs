//! What the self-backup schedule keeps between runs, in the store so that
//! every node of a cluster reports the same figures and the node that takes
//! the schedule over goes on from where the last one stopped: each target's
//! run statistics (`meta/version`'s `SelfBackup`) and the moment the
//! schedule last looked.

use halley_api::types::SelfBackupStatistics;
use serde::{Deserialize, Serialize};

use crate::auth::TenantScope;
use crate::state::AppState;
use crate::store::{DocumentRecord, StoreResult};
use crate::util::document_hash;

/// One document per target index.
const RUN_KIND: &str = "self-backup-run";
const SCHEDULE_KIND: &str = "self-backup-schedule";
const SCHEDULE_ID: &str = "last-look";

/// A look older than this is not caught up on: the server was down, not
/// handing the schedule over.
const HANDOVER_WINDOW: i64 = 600;

#[derive(Serialize, Deserialize)]
struct LastLook {
    at: i64,
}

async fn put<T: Serialize>(state: &AppState, kind: &str, id: &str, value: &T) -> StoreResult<()> {
    let doc_json = serde_json::to_string(value).expect("a plain struct serializes");
    let record = DocumentRecord {
        kind: kind.into(),
        id: id.into(),
        organization_id: String::new(),
        hash: document_hash(&doc_json),
        doc_json,
    };
    state
        .store
        .document_put(&TenantScope::server_wide(), &record, None)
        .await
        .map(|_| ())
}

/// Changes the statistics of target `index`.
pub async fn record(
    state: &AppState,
    index: i64,
    change: impl FnOnce(&mut SelfBackupStatistics),
) -> StoreResult<()> {
    let id = index.to_string();
    let mut statistics: SelfBackupStatistics = state
        .store
        .document_get(&TenantScope::server_wide(), RUN_KIND, &id)
        .await?
        .and_then(|doc| serde_json::from_str(&doc.doc_json).ok())
        .unwrap_or_default();
    change(&mut statistics);
    put(state, RUN_KIND, &id, &statistics).await
}

/// One entry per target index, up to the highest that ran.
pub async fn statistics(state: &AppState) -> StoreResult<Vec<SelfBackupStatistics>> {
    let mut runs = std::collections::BTreeMap::new();
    for doc in state
        .store
        .document_list(&TenantScope::server_wide(), RUN_KIND)
        .await?
    {
        if let (Ok(index), Ok(statistics)) = (
            doc.id.parse::<i64>(),
            serde_json::from_str::<SelfBackupStatistics>(&doc.doc_json),
        ) {
            runs.insert(index, statistics);
        }
    }
    let count = runs.keys().next_back().map_or(0, |last| last + 1);
    Ok((0..count)
        .map(|index| runs.remove(&index).unwrap_or_default())
        .collect())
}

/// Where the schedule's next look starts: the last look of whichever node
/// made it, when recent, else `fallback`.
pub async fn last_look(state: &AppState, now: i64, fallback: i64) -> i64 {
    let stored = state
        .store
        .document_get(&TenantScope::server_wide(), SCHEDULE_KIND, SCHEDULE_ID)
        .await;
    match stored {
        Ok(Some(doc)) => match serde_json::from_str::<LastLook>(&doc.doc_json) {
            Ok(look) if look.at <= now && now - look.at <= HANDOVER_WINDOW => look.at,
            _ => fallback,
        },
        Ok(None) => fallback,
        Err(why) => {
            tracing::warn!("reading the self-backup schedule: {why}");
            fallback
        }
    }
}

pub async fn set_last_look(state: &AppState, at: i64) {
    if let Err(why) = put(state, SCHEDULE_KIND, SCHEDULE_ID, &LastLook { at }).await {
        tracing::warn!("recording the self-backup schedule: {why}");
    }
}
