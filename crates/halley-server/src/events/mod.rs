//! The event bus: every state change is published once as a `StreamableEvent`
//! and fanned out to the websocket subscribers (each with its own bounded
//! queue) and to the durable sinks (webhook outbox, audit files), which never
//! drop an event.

pub mod audit;
pub mod feed;
pub mod sinks;
pub mod webhooks;
pub mod websocket;

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use halley_api::constants::sevt_name;
use halley_api::types::StreamableEvent;
use tokio::sync::{mpsc, watch, Notify};

use crate::util::now_unix;

/// Events queued for one websocket subscriber before it is dropped.
pub const DEFAULT_QUEUE_LIMIT: usize = 10_000;

/// How long an answer waits for its events to be written; only a database
/// that refuses writes takes this long, and the caller is answered then.
const DURABLE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

tokio::task_local! {
    /// The newest event emitted by the request this task serves.
    static REQUEST_EMITTED: Cell<u64>;
}

/// An event and its JSON, serialised once for every subscriber.
#[derive(Debug)]
pub struct Event {
    /// Unique and stable: webhook receivers deduplicate by it.
    pub id: String,
    /// The bus's running number; 0 for events made outside the bus.
    pub sequence: u64,
    pub event: StreamableEvent,
    pub json: String,
}

impl Event {
    pub fn new(
        event_type: i64,
        actor: &str,
        organization_id: &str,
        resource_id: &str,
        data: Option<serde_json::Value>,
    ) -> Self {
        let event = StreamableEvent {
            actor: actor.to_string(),
            owner_organization_id: organization_id.to_string(),
            resource_id: resource_id.to_string(),
            r#type: event_type,
            timestamp: now_unix(),
            type_string: sevt_name(event_type).unwrap_or_default().to_string(),
            data: data.unwrap_or(serde_json::Value::Null),
            ..Default::default()
        };
        let json = serde_json::to_string(&event).unwrap_or_default();
        Event {
            id: uuid::Uuid::new_v4().simple().to_string(),
            sequence: 0,
            event,
            json,
        }
    }
}

struct Subscriber {
    id: u64,
    /// The bus's running number when it subscribed: this node's events up
    /// to it happened before, and are not sent to it.
    since: u64,
    /// Only this organisation's events; `None` for every event.
    organization: Option<String>,
    sender: mpsc::Sender<Arc<Event>>,
    dropped: Arc<Notify>,
}

/// A live subscription. When its queue overflows, the bus forgets it and
/// signals `dropped`.
pub struct Subscription {
    pub id: u64,
    pub receiver: mpsc::Receiver<Arc<Event>>,
    pub dropped: Arc<Notify>,
}

pub struct EventBus {
    subscribers: Mutex<Vec<Subscriber>>,
    queue_limit: usize,
    sinks: Mutex<Option<mpsc::UnboundedSender<Arc<Event>>>>,
    next_id: AtomicU64,
    /// The running number of the newest event handed to the sinks.
    sequence: AtomicU64,
    /// The running number up to which the sinks have written every event
    /// (the webhook outbox rows are committed).
    durable: watch::Sender<u64>,
    /// In a cluster, subscribers are fed from the shared feed (every node's
    /// events, in one order), not as events are emitted here.
    shared_feed: AtomicBool,
    /// Told when the sinks appended to the shared feed.
    pub feed_written: Notify,
    /// This node's events on their way through the shared feed, by ID, with
    /// their running numbers.
    in_feed: Mutex<std::collections::HashMap<String, u64>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(DEFAULT_QUEUE_LIMIT)
    }
}

impl EventBus {
    pub fn new(queue_limit: usize) -> Self {
        EventBus {
            subscribers: Mutex::new(Vec::new()),
            queue_limit: queue_limit.max(1),
            sinks: Mutex::new(None),
            next_id: AtomicU64::new(1),
            sequence: AtomicU64::new(0),
            durable: watch::Sender::new(0),
            shared_feed: AtomicBool::new(false),
            feed_written: Notify::new(),
            in_feed: Default::default(),
        }
    }

    pub fn use_shared_feed(&self) {
        self.shared_feed.store(true, Ordering::SeqCst);
    }

    pub fn on_shared_feed(&self) -> bool {
        self.shared_feed.load(Ordering::SeqCst)
    }

    /// Runs a request's work, then waits until every event it emitted is
    /// written by the durable sinks: an event whose change was acknowledged
    /// to the caller survives a `kill -9`. Concurrent requests share one
    /// outbox commit, so this costs a wait, not a write of its own.
    pub async fn durably<F: Future>(&self, work: F) -> F::Output {
        let (output, emitted) = REQUEST_EMITTED
            .scope(Cell::new(0), async {
                let output = work.await;
                (output, REQUEST_EMITTED.with(Cell::get))
            })
            .await;
        if emitted > 0 {
            let mut durable = self.durable.subscribe();
            // An error means the sinks stopped (the server is stopping).
            let written = durable.wait_for(|written| *written >= emitted);
            if tokio::time::timeout(DURABLE_WAIT, written).await.is_err() {
                tracing::warn!(
                    "event {emitted} is not in the webhook outbox after {DURABLE_WAIT:?}; answering anyway"
                );
            }
        }
        output
    }

    /// Called by the sinks once every event up to `sequence` is written.
    pub fn mark_durable(&self, sequence: u64) {
        self.durable.send_if_modified(|written| {
            let newer = sequence > *written;
            if newer {
                *written = sequence;
            }
            newer
        });
    }

    pub fn emit(
        &self,
        event_type: i64,
        actor: &str,
        organization_id: &str,
        resource_id: &str,
        data: Option<serde_json::Value>,
    ) {
        let sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        if sinks.is_none() && subscribers.is_empty() {
            return;
        }
        let mut event = Event::new(event_type, actor, organization_id, resource_id, data);
        if sinks.is_some() {
            // Numbered under the sinks' lock, so numbers reach them in order.
            event.sequence = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = REQUEST_EMITTED.try_with(|emitted| emitted.set(event.sequence));
        }
        let event = Arc::new(event);
        if let Some(sinks) = sinks.as_ref() {
            if self.on_shared_feed() {
                self.in_feed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(event.id.clone(), event.sequence);
                let _ = sinks.send(event);
                return;
            }
            let _ = sinks.send(event.clone());
        }
        // Here every subscriber there is now subscribed before the event.
        self.deliver(&mut subscribers, &event, u64::MAX);
    }

    /// Hands an event of the shared feed to this node's subscribers: those
    /// that subscribed before it happened, when it happened here. Says
    /// whether it happened here.
    pub fn fan_out(&self, event: &Arc<Event>) -> bool {
        let here = self
            .in_feed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&event.id);
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        self.deliver(&mut subscribers, event, here.unwrap_or(u64::MAX));
        here.is_some()
    }

    fn deliver(&self, subscribers: &mut Vec<Subscriber>, event: &Arc<Event>, sequence: u64) {
        subscribers.retain(|subscriber| {
            if subscriber
                .organization
                .as_ref()
                .is_some_and(|org| *org != event.event.owner_organization_id)
                || sequence <= subscriber.since
            {
                return true;
            }
            match subscriber.sender.try_send(event.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        "event stream subscriber {} fell {} events behind and was dropped",
                        subscriber.id,
                        self.queue_limit
                    );
                    subscriber.dropped.notify_one();
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    pub fn subscribe(&self, organization: Option<String>) -> Subscription {
        let (sender, receiver) = mpsc::channel(self.queue_limit);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let dropped = Arc::new(Notify::new());
        self.subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Subscriber {
                id,
                since: self.sequence.load(Ordering::SeqCst),
                organization,
                sender,
                dropped: dropped.clone(),
            });
        Subscription {
            id,
            receiver,
            dropped,
        }
    }

    /// How many event stream subscribers there are now.
    pub fn subscriber_count(&self) -> usize {
        self.subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    pub fn unsubscribe(&self, id: u64) {
        self.subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|s| s.id != id);
    }

    /// Ends every websocket subscription (the server is stopping).
    pub fn disconnect_all(&self) {
        for subscriber in self
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            subscriber.dropped.notify_one();
        }
    }

    /// Connects the durable sinks; every event from now on reaches them.
    pub fn attach_sinks(&self) -> mpsc::UnboundedReceiver<Arc<Event>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        *self.sinks.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender);
        receiver
    }

    /// Disconnects the sinks so their task can drain and finish.
    pub fn detach_sinks(&self) {
        self.sinks.lock().unwrap_or_else(|p| p.into_inner()).take();
        // Nothing waits for events that will not be written any more.
        self.mark_durable(u64::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_drops_only_that_subscriber() {
        let bus = EventBus::new(2);
        let mut slow = bus.subscribe(None);
        let mut other = bus.subscribe(None);
        for n in 0..3 {
            bus.emit(4100, "system", "", &n.to_string(), None);
            other.receiver.recv().await.unwrap();
        }
        slow.dropped.notified().await;
        assert_eq!(slow.receiver.recv().await.unwrap().event.resource_id, "0");
        assert_eq!(slow.receiver.recv().await.unwrap().event.resource_id, "1");
        assert!(
            slow.receiver.recv().await.is_none(),
            "closed after the overflow"
        );
        bus.emit(4100, "system", "", "3", None);
        assert_eq!(other.receiver.recv().await.unwrap().event.resource_id, "3");
    }

    #[tokio::test]
    async fn tenant_subscribers_see_only_their_events() {
        let bus = EventBus::new(8);
        let mut tenant = bus.subscribe(Some("org-a".into()));
        bus.emit(4100, "system", "org-b", "x", None);
        bus.emit(4100, "system", "org-a", "y", None);
        assert_eq!(tenant.receiver.recv().await.unwrap().event.resource_id, "y");
    }
}
