//! The durable sinks' task: takes every event off the bus, in batches, and
//! hands it to the webhook outbox and the audit files.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::webhooks;
use crate::state::AppState;
use crate::store::NewDelivery;

const MAX_BATCH: usize = 512;

/// Starts the task; it ends once the bus's sinks are detached and drained.
pub fn spawn(state: Arc<AppState>) -> JoinHandle<()> {
    let mut receiver = state.events.attach_sinks();
    tokio::spawn(async move {
        let mut batch = Vec::new();
        while let Some(event) = receiver.recv().await {
            batch.push(event);
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
            let config = state.config.get();
            let hooks = webhooks::configured_hooks(&config);
            let rows: Vec<NewDelivery> = batch
                .iter()
                .flat_map(|e| webhooks::rows_for(&hooks, e))
                .collect();
            if !rows.is_empty() {
                // The outbox is the promise of delivery: keep trying to write it.
                while let Err(err) = state.store.outbox_insert(&rows).await {
                    tracing::error!("writing the webhook outbox: {err}; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                state.deliveries.wake(rows.iter().map(|row| &row.hook));
            }
            if let Some(cluster) = &state.cluster {
                let events: Vec<(String, String)> = batch
                    .iter()
                    .map(|e| (e.id.clone(), e.json.clone()))
                    .collect();
                // Subscribers on every node wait for these: keep trying.
                while let Err(err) = cluster.feed_append(&events).await {
                    tracing::error!("writing the event feed: {err}; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                state.events.feed_written.notify_one();
            }
            state.audit.write(&config, &batch);
            if let Some(last) = batch.last() {
                state.events.mark_durable(last.sequence);
            }
            batch.clear();
        }
    })
}
