//! The event bus: every state change is published once as a `StreamableEvent`
//! and fanned out to whoever listens (the websocket stream, webhooks, audit
//! files). With no listener an event costs one allocation.

use std::sync::Arc;

use halley_api::constants::sevt_name;
use halley_api::types::StreamableEvent;
use tokio::sync::broadcast;

use crate::util::now_unix;

/// Events buffered per slow listener before it starts missing some.
pub const BUS_CAPACITY: usize = 4096;

pub struct EventBus {
    sender: broadcast::Sender<Arc<StreamableEvent>>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(BUS_CAPACITY);
        EventBus { sender }
    }
}

impl EventBus {
    pub fn emit(
        &self,
        event_type: i64,
        actor: &str,
        organization_id: &str,
        resource_id: &str,
        data: Option<serde_json::Value>,
    ) {
        if self.sender.receiver_count() == 0 {
            return;
        }
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
        let _ = self.sender.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StreamableEvent>> {
        self.sender.subscribe()
    }
}
