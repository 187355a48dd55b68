//! The live connections of this node: devices of accounts and devices
//! waiting in the registration lobby. Each connection has an outbox its
//! websocket task drains, and its own table of requests awaiting replies.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use halley_api::types::{LiveUserConnection, RegistrationLobbyConnection};
use halley_protocol::device::{
    Call, DeviceInfo, Message, Registration, CLOSE_DROPPED, REQUEST_TIMEOUT_SECS,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::auth::TenantScope;

/// What a connection's task sends next.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Outgoing {
    Frame(Message),
    /// A `bye` frame, then a close with this code.
    Close {
        code: u16,
        reason: String,
        reconnect: bool,
    },
}

/// Why a request to a device failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the device went away before answering")]
    Gone,
    #[error("the device did not answer within {0} seconds")]
    Timeout(u64),
    #[error("the device answered: {0}")]
    Refused(String),
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone)]
pub enum Peer {
    Device {
        organization_id: String,
        username: String,
        device_id: String,
        key_hash: String,
    },
    Lobby {
        device_id: String,
        /// The tenant whose host name the device dialled.
        organization_id: String,
        host: String,
    },
}

pub struct Connection {
    pub id: String,
    pub peer: Peer,
    pub info: DeviceInfo,
    pub ip_address: String,
    pub connected_at: i64,
    outbox: mpsc::UnboundedSender<Outgoing>,
    next_request: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>,
}

impl Connection {
    pub fn new(
        id: String,
        peer: Peer,
        info: DeviceInfo,
        ip_address: String,
        connected_at: i64,
    ) -> (Arc<Connection>, mpsc::UnboundedReceiver<Outgoing>) {
        let (outbox, receiver) = mpsc::unbounded_channel();
        let connection = Connection {
            id,
            peer,
            info,
            ip_address,
            connected_at,
            outbox,
            next_request: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
        };
        (Arc::new(connection), receiver)
    }

    pub fn send(&self, message: Message) {
        let _ = self.outbox.send(Outgoing::Frame(message));
    }

    /// Hands the device credentials (from the lobby, or renewed) and
    /// closes, so that it dials again with them.
    pub fn send_credentials(&self, registration: Registration) {
        self.send(Message::Registered { registration });
        self.close(CLOSE_DROPPED, "new credentials: reconnect with them", true);
    }

    pub fn close(&self, code: u16, reason: impl Into<String>, reconnect: bool) {
        let _ = self.outbox.send(Outgoing::Close {
            code,
            reason: reason.into(),
            reconnect,
        });
    }

    /// Sends a request and waits for its reply.
    pub async fn request(&self, call: Call) -> Result<Value, RequestError> {
        let id = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        self.pending_map().insert(id, sender);
        self.send(Message::Request { id, call });
        let outcome =
            tokio::time::timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS), receiver).await;
        self.pending_map().remove(&id);
        match outcome {
            Err(_) => Err(RequestError::Timeout(REQUEST_TIMEOUT_SECS)),
            Ok(Err(_)) => Err(RequestError::Gone),
            Ok(Ok(Ok(body))) => Ok(body),
            Ok(Ok(Err(error))) => Err(RequestError::Refused(error)),
        }
    }

    /// Ends the wait of a request as if the connection had closed.
    pub fn abandon(&self, id: u64) {
        self.pending_map().remove(&id);
    }

    /// Hands a reply to the request waiting for it; a late one is dropped.
    pub fn answer(&self, id: u64, outcome: Result<Value, String>) {
        if let Some(waiter) = self.pending_map().remove(&id) {
            let _ = waiter.send(outcome);
        }
    }

    fn pending_map(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Result<Value, String>>>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn organization_id(&self) -> &str {
        match &self.peer {
            Peer::Device {
                organization_id, ..
            }
            | Peer::Lobby {
                organization_id, ..
            } => organization_id,
        }
    }

    pub fn device_id(&self) -> &str {
        match &self.peer {
            Peer::Device { device_id, .. } | Peer::Lobby { device_id, .. } => device_id,
        }
    }

    pub fn username(&self) -> &str {
        match &self.peer {
            Peer::Device { username, .. } => username,
            Peer::Lobby { .. } => "",
        }
    }

    pub fn as_live_user_connection(&self) -> LiveUserConnection {
        super::relay::Snapshot::of(self).0.as_live_user_connection()
    }

    pub fn as_lobby_connection(&self) -> RegistrationLobbyConnection {
        super::relay::Snapshot::of(self).0.as_lobby_connection()
    }
}

/// Every live connection of this node, by connection ID.
#[derive(Default)]
pub struct Registry {
    connections: Mutex<HashMap<String, Arc<Connection>>>,
}

impl Registry {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Connection>>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add(&self, connection: Arc<Connection>) {
        self.map().insert(connection.id.clone(), connection);
    }

    pub fn remove(&self, id: &str) {
        self.map().remove(id);
    }

    /// A connection of this node by its ID, device or lobby.
    pub fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.map().get(id).cloned()
    }

    /// The connections of devices (not the lobby) in the scope, optionally
    /// of one account only.
    pub fn devices(&self, scope: &TenantScope, username: Option<&str>) -> Vec<Arc<Connection>> {
        self.select(|c| {
            matches!(c.peer, Peer::Device { .. })
                && scope.includes(c.organization_id())
                && username.is_none_or(|name| c.username() == name)
        })
    }

    /// Every connection of this node, devices and lobby.
    pub fn all(&self) -> Vec<Arc<Connection>> {
        self.select(|_| true)
    }

    /// The lobby connections in the scope.
    pub fn lobby(&self, scope: &TenantScope) -> Vec<Arc<Connection>> {
        self.select(|c| matches!(c.peer, Peer::Lobby { .. }) && scope.includes(c.organization_id()))
    }

    /// One device connection of the scope by its connection ID.
    pub fn device_connection(&self, scope: &TenantScope, id: &str) -> Option<Arc<Connection>> {
        self.map()
            .get(id)
            .filter(|c| {
                matches!(c.peer, Peer::Device { .. }) && scope.includes(c.organization_id())
            })
            .cloned()
    }

    /// The connections of one device of an account.
    pub fn of_device(
        &self,
        organization_id: &str,
        username: &str,
        device_id: &str,
    ) -> Vec<Arc<Connection>> {
        self.select(|c| {
            matches!(c.peer, Peer::Device { .. })
                && c.organization_id() == organization_id
                && c.username() == username
                && c.device_id() == device_id
        })
    }

    /// The connections of every device of an account.
    pub fn of_account(&self, organization_id: &str, username: &str) -> Vec<Arc<Connection>> {
        self.select(|c| {
            matches!(c.peer, Peer::Device { .. })
                && c.organization_id() == organization_id
                && c.username() == username
        })
    }

    /// At shutdown: every connection is told to come back later.
    pub fn close_all(&self) {
        for connection in self.map().values() {
            connection.close(
                halley_protocol::device::CLOSE_DROPPED,
                "the server is stopping",
                true,
            );
        }
    }

    fn select(&self, keep: impl Fn(&Connection) -> bool) -> Vec<Arc<Connection>> {
        let mut chosen: Vec<Arc<Connection>> =
            self.map().values().filter(|c| keep(c)).cloned().collect();
        chosen.sort_by(|a, b| a.id.cmp(&b.id));
        chosen
    }
}
