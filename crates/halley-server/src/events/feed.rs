//! In a cluster, this node's reader of the shared event feed: every node's
//! events, in the feed's one order, handed to this node's websocket
//! subscribers; and the listener that loads the configuration when another
//! node changed it, and hands this node's devices what other nodes relay to
//! them (`devices/relay.rs`).
//!
//! A reader wakes on `NOTIFY`, when this node's sinks wrote, and every
//! second regardless (a notification sent while the listening connection was
//! down is lost, so polling is what guarantees delivery).

use std::sync::Arc;
use std::time::Duration;

use halley_api::types::StreamableEvent;

use super::Event;
use crate::state::AppState;
use crate::store::cluster::{Cluster, CONFIG_CHANNEL, RELAY_CHANNEL};

const POLL: Duration = Duration::from_secs(1);
/// Rows read at once.
const PAGE: i64 = 500;
/// How long the feed keeps an event: far longer than any node lags.
const KEEP: Duration = Duration::from_secs(600);
/// How often the configuration is compared with the stored one without a
/// notification.
const CONFIG_POLL_TICKS: u32 = 5;

pub fn spawn(state: Arc<AppState>, cluster: Arc<Cluster>) {
    tokio::spawn(async move {
        // Subscribers get what happens from now on.
        let mut after = loop {
            match cluster.feed_head().await {
                Ok(head) => break head,
                Err(why) => {
                    tracing::warn!("reading the event feed: {why}");
                    tokio::time::sleep(POLL).await;
                }
            }
        };
        let mut listener = None;
        let mut ticks = 0u32;
        loop {
            if listener.is_none() {
                listener = cluster
                    .listen()
                    .await
                    .map_err(|why| {
                        tracing::warn!("listening for the cluster's notifications: {why}")
                    })
                    .ok();
            }
            let mut config_changed = false;
            let mut relayed = false;
            tokio::select! {
                notification = next_notification(&mut listener) => match notification {
                    Some((channel, payload)) if channel == RELAY_CHANNEL => {
                        if payload == cluster.node {
                            relayed = true;
                        } else {
                            state.relay_answered.notify_waiters();
                        }
                    }
                    Some((channel, _)) => config_changed = channel == CONFIG_CHANNEL,
                    None => listener = None,
                },
                _ = state.events.feed_written.notified() => {}
                _ = tokio::time::sleep(POLL) => {
                    ticks += 1;
                    relayed = true;
                    config_changed = ticks.is_multiple_of(CONFIG_POLL_TICKS);
                    if ticks.is_multiple_of(60) && state.leads("event-feed-prune", KEEP).await {
                        let _ = cluster.feed_prune(KEEP).await;
                        let _ = cluster.failures_prune(Duration::from_secs(86_400)).await;
                        let _ = cluster.relay_prune(Duration::from_secs(300)).await;
                    }
                }
                _ = state.lifecycle.ended() => return,
            }
            if relayed {
                crate::devices::relay::serve(&state, &cluster).await;
            }
            if config_changed {
                match state.config.refresh().await {
                    // Webhooks added or removed on another node.
                    Ok(true) => {
                        if let Err(why) = super::webhooks::reconcile(&state, &[]).await {
                            tracing::warn!(
                                "starting the webhooks of the new configuration: {why:#}"
                            );
                        }
                    }
                    Ok(false) => {}
                    Err(why) => {
                        tracing::warn!("loading the configuration another node changed: {why:#}")
                    }
                }
            }
            after = read_after(&state, &cluster, after).await;
        }
    });
}

/// The channel and payload of the next notification; `None` when the
/// connection failed.
async fn next_notification(
    listener: &mut Option<sqlx::postgres::PgListener>,
) -> Option<(String, String)> {
    match listener {
        Some(listener) => match listener.recv().await {
            Ok(notification) => Some((
                notification.channel().to_string(),
                notification.payload().to_string(),
            )),
            Err(why) => {
                tracing::warn!("the cluster's notifications: {why}");
                None
            }
        },
        None => std::future::pending().await,
    }
}

/// Hands every row after `after` to the subscribers; answers the last read.
async fn read_after(state: &AppState, cluster: &Cluster, mut after: i64) -> i64 {
    loop {
        let rows = match cluster.feed_after(after, PAGE).await {
            Ok(rows) => rows,
            Err(why) => {
                tracing::warn!("reading the event feed: {why}");
                return after;
            }
        };
        let mut from_elsewhere = false;
        for row in &rows {
            after = row.id;
            let Ok(event) = serde_json::from_str::<StreamableEvent>(&row.body) else {
                tracing::warn!("event feed row {} is not an event", row.id);
                continue;
            };
            from_elsewhere |= !state.events.fan_out(&Arc::new(Event {
                id: row.event_id.clone(),
                sequence: 0,
                event,
                json: row.body.clone(),
            }));
        }
        if from_elsewhere {
            // Another node queued these events' deliveries, and its workers
            // may be gone; this node's own sinks woke the workers already.
            state.deliveries.wake_all();
        }
        if (rows.len() as i64) < PAGE {
            return after;
        }
    }
}
