//! In a cluster, a device (or one waiting in the registration lobby) is
//! connected to one node, but a dispatcher or lobby call may arrive at any. Each node keeps a snapshot of its connections in the
//! database (with its heartbeat); a node asked about a connection it does
//! not hold builds a stand-in [`Connection`] from the snapshot, whose frames
//! go through the database to the holding node, which hands them to the
//! device and writes back the answer. The dispatcher's handlers cannot tell
//! the stand-in from a local connection.

use std::sync::Arc;
use std::time::Duration;

use halley_protocol::device::{Call, DeviceInfo, Message, REQUEST_TIMEOUT_SECS};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::registry::{Connection, Outgoing, Peer, RequestError};
use crate::state::AppState;
use crate::store::cluster::Cluster;

/// How often a waiting asker looks for its answer besides being told.
const ANSWER_POLL: Duration = Duration::from_millis(100);

/// What other nodes know of a connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub organization_id: String,
    pub username: String,
    pub device_id: String,
    pub info: DeviceInfo,
    pub ip_address: String,
    pub connected_at: i64,
    /// For a device waiting in the registration lobby, the host it dialled.
    #[serde(default)]
    pub lobby_host: Option<String>,
}

impl Snapshot {
    /// A connection, with its device's key hash (empty in the lobby).
    pub fn of(connection: &Connection) -> (Snapshot, String) {
        let (username, key_hash, lobby_host) = match &connection.peer {
            Peer::Device {
                username, key_hash, ..
            } => (username.clone(), key_hash.clone(), None),
            Peer::Lobby { host, .. } => (String::new(), String::new(), Some(host.clone())),
        };
        let snapshot = Snapshot {
            id: connection.id.clone(),
            organization_id: connection.organization_id().to_string(),
            username,
            device_id: connection.device_id().to_string(),
            info: connection.info.clone(),
            ip_address: connection.ip_address.clone(),
            connected_at: connection.connected_at,
            lobby_host,
        };
        (snapshot, key_hash)
    }

    pub fn in_lobby(&self) -> bool {
        self.lobby_host.is_some()
    }

    fn peer(&self) -> Peer {
        match &self.lobby_host {
            Some(host) => Peer::Lobby {
                device_id: self.device_id.clone(),
                organization_id: self.organization_id.clone(),
                host: host.clone(),
            },
            None => Peer::Device {
                organization_id: self.organization_id.clone(),
                username: self.username.clone(),
                device_id: self.device_id.clone(),
                key_hash: String::new(),
            },
        }
    }

    pub fn as_live_user_connection(&self) -> halley_api::types::LiveUserConnection {
        halley_api::types::LiveUserConnection {
            username: self.username.clone(),
            device_id: self.device_id.clone(),
            reported_version: self.info.client_version.clone(),
            reported_platform: self.info.platform.clone(),
            reported_platform_version: self.info.platform_version.clone(),
            device_time_zone: self.info.timezone.clone(),
            ip_address: self.ip_address.clone(),
            connection_time: self.connected_at,
            allows_filenames: self.info.allows_filenames,
            ..Default::default()
        }
    }

    pub fn as_lobby_connection(&self) -> halley_api::types::RegistrationLobbyConnection {
        halley_api::types::RegistrationLobbyConnection {
            device_id: self.device_id.clone(),
            organization_id: self.organization_id.clone(),
            friendly_name: self.info.friendly_name.clone(),
            reported_version: self.info.client_version.clone(),
            reported_platform: self.info.platform.clone(),
            reported_platform_version: self.info.platform_version.clone(),
            device_time_zone: self.info.timezone.clone(),
            ip_address: self.ip_address.clone(),
            host: self.lobby_host.clone().unwrap_or_default(),
            connection_time: self.connected_at,
            ..Default::default()
        }
    }

    /// The row a node keeps for it: (connection ID, key hash, snapshot).
    pub fn row(connection: &Connection) -> Option<(String, String, String)> {
        let (snapshot, key_hash) = Snapshot::of(connection);
        let json = serde_json::to_string(&snapshot).ok()?;
        Some((snapshot.id, key_hash, json))
    }
}

/// A frame on its way to another node's connection.
#[derive(Debug, Serialize, Deserialize)]
enum Relayed {
    Request {
        call: Call,
    },
    Frame {
        message: Message,
    },
    Close {
        code: u16,
        reason: String,
        reconnect: bool,
    },
}

/// How a relayed request ended on the node that holds the device.
#[derive(Debug, Serialize, Deserialize)]
enum Outcome {
    Answer(Value),
    Refused(String),
    Gone,
    Timeout,
}

/// The connections other nodes hold, as snapshots.
pub async fn elsewhere(cluster: &Cluster) -> Vec<Snapshot> {
    match cluster.presence_elsewhere().await {
        Ok(rows) => rows
            .iter()
            .filter_map(|(_, json)| serde_json::from_str(json).ok())
            .collect(),
        Err(why) => {
            tracing::warn!("reading the other nodes' devices: {why}");
            Vec::new()
        }
    }
}

/// A stand-in for connection `id` held by another node, if one is.
pub async fn stand_in(state: &Arc<AppState>, id: &str) -> Option<Arc<Connection>> {
    let cluster = state.cluster.clone()?;
    let (node, json) = cluster.presence_of(id).await.ok()??;
    let snapshot: Snapshot = serde_json::from_str(&json).ok()?;
    let (connection, mut outbox) = Connection::new(
        snapshot.id.clone(),
        snapshot.peer(),
        snapshot.info,
        snapshot.ip_address,
        snapshot.connected_at,
    );
    // Weak: the stand-in ends when its handler lets go of it.
    let weak = Arc::downgrade(&connection);
    let (state, connection_id) = (state.clone(), snapshot.id);
    tokio::spawn(async move {
        while let Some(outgoing) = outbox.recv().await {
            let (relayed, request) = match outgoing {
                Outgoing::Frame(Message::Request { id, call }) => {
                    (Relayed::Request { call }, Some(id))
                }
                Outgoing::Frame(message) => (Relayed::Frame { message }, None),
                Outgoing::Close {
                    code,
                    reason,
                    reconnect,
                } => (
                    Relayed::Close {
                        code,
                        reason,
                        reconnect,
                    },
                    None,
                ),
            };
            let Ok(json) = serde_json::to_string(&relayed) else {
                continue;
            };
            let row = match cluster.relay_send(&node, &connection_id, &json).await {
                Ok(row) => row,
                Err(why) => {
                    tracing::warn!("relaying to a device of node {node}: {why}");
                    continue;
                }
            };
            let Some(request) = request else {
                continue;
            };
            let outcome = wait_for(&state, &cluster, row).await;
            let Some(connection) = weak.upgrade() else {
                return;
            };
            match outcome {
                Some(Outcome::Answer(body)) => connection.answer(request, Ok(body)),
                Some(Outcome::Refused(why)) => connection.answer(request, Err(why)),
                Some(Outcome::Gone) => connection.abandon(request),
                // The asker's own timeout answers.
                Some(Outcome::Timeout) | None => {}
            }
        }
    });
    Some(connection)
}

/// The outcome of relayed request `row`, or `None` when none came in time.
async fn wait_for(state: &AppState, cluster: &Cluster, row: i64) -> Option<Outcome> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(REQUEST_TIMEOUT_SECS + 5);
    loop {
        let answered = state.relay_answered.notified();
        if let Ok(Some(json)) = cluster.relay_outcome(row).await {
            return serde_json::from_str(&json).ok();
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = cluster.relay_forget(row).await;
            return None;
        }
        tokio::select! {
            _ = answered => {}
            _ = tokio::time::sleep(ANSWER_POLL) => {}
        }
    }
}

/// Hands what other nodes queued to this node's connections, and writes
/// back the answers. Frames and closes go out in the order they were queued
/// (credentials before the close that makes a lobby device use them);
/// requests wait for their answers side by side.
pub async fn serve(state: &Arc<AppState>, cluster: &Arc<Cluster>) {
    let rows = match cluster.relay_take().await {
        Ok(rows) => rows,
        Err(why) => {
            tracing::warn!("reading frames relayed to this node: {why}");
            return;
        }
    };
    for (row, connection_id, json) in rows {
        let connection = state.devices.get(&connection_id);
        match serde_json::from_str::<Relayed>(&json) {
            Ok(Relayed::Request { call }) => {
                let cluster = cluster.clone();
                tokio::spawn(async move {
                    let outcome = match connection {
                        None => Outcome::Gone,
                        Some(connection) => match connection.request(call).await {
                            Ok(body) => Outcome::Answer(body),
                            Err(RequestError::Refused(why)) => Outcome::Refused(why),
                            Err(RequestError::Gone) => Outcome::Gone,
                            Err(RequestError::Timeout(_)) => Outcome::Timeout,
                        },
                    };
                    if let Ok(json) = serde_json::to_string(&outcome) {
                        if let Err(why) = cluster.relay_answer(row, &json).await {
                            tracing::warn!("answering a relayed request: {why}");
                        }
                    }
                });
            }
            Ok(Relayed::Frame { message }) => {
                if let Some(connection) = connection {
                    connection.send(message);
                }
                let _ = cluster.relay_forget(row).await;
            }
            Ok(Relayed::Close {
                code,
                reason,
                reconnect,
            }) => {
                if let Some(connection) = connection {
                    connection.close(code, reason, reconnect);
                }
                let _ = cluster.relay_forget(row).await;
            }
            Err(_) => {
                let _ = cluster.relay_forget(row).await;
            }
        }
    }
}
