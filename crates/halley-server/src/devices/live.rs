//! `GET /api/v1/device/live`: a device's websocket (`docs/device-protocol.md`).
//! The first frame says who it is: `hello` with a device key, or `lobby`.
//! Then one task per connection reads frames, drains the connection's
//! outbox, pings, and closes after [`SILENCE_LIMIT_SECS`] of silence.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use halley_api::constants::*;
use halley_api::types::UserProfileConfig;
use halley_protocol::device::*;

use super::jobs::{self, Owner};
use super::registry::{Connection, Outgoing, Peer};
use crate::auth::Origin;
use crate::http::ApiError;
use crate::service::users;
use crate::state::AppState;
use crate::util::now_unix;
use halley_api::constants::APPLICATION_VERSION;

pub fn upgrade(state: Arc<AppState>, origin: Origin, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| serve(state, origin, socket))
}

async fn serve(state: Arc<AppState>, origin: Origin, mut socket: WebSocket) {
    let first = tokio::time::timeout(
        Duration::from_secs(HELLO_TIMEOUT_SECS),
        next_message(&mut socket),
    )
    .await;
    match first {
        Ok(Some(Message::Hello {
            device_id,
            device_key,
            info,
            running_jobs,
        })) => {
            device(
                state,
                origin,
                socket,
                device_id,
                device_key,
                info,
                running_jobs,
            )
            .await
        }
        Ok(Some(Message::Lobby { device_id, info })) => {
            lobby(state, origin, socket, device_id, info).await
        }
        _ => {
            refuse(
                socket,
                CLOSE_REFUSED,
                "the first frame must be a hello or lobby message",
            )
            .await
        }
    }
}

/// A registered device: checks its key, then serves it.
async fn device(
    state: Arc<AppState>,
    origin: Origin,
    socket: WebSocket,
    device_id: String,
    device_key: String,
    info: DeviceInfo,
    running_jobs: Vec<String>,
) {
    let key_hash = super::key_hash(&device_key);
    let standing = match super::standing(&state, &key_hash, &device_id).await {
        Ok(standing) => standing,
        Err(reason) => return refuse(socket, CLOSE_REFUSED, &reason).await,
    };
    let (record, profile, profile_hash) = standing;
    let now = now_unix();
    let (connection, outbox) = Connection::new(
        uuid::Uuid::new_v4().to_string(),
        Peer::Device {
            organization_id: record.organization_id.clone(),
            username: record.username.clone(),
            device_id: device_id.clone(),
            key_hash: key_hash.clone(),
        },
        info,
        origin.client_ip.clone(),
        now,
    );
    connection.send(Message::Welcome {
        connection_id: connection.id.clone(),
        username: record.username.clone(),
        server_time: now,
        server_version: APPLICATION_VERSION.to_string(),
    });
    connection.send(profile_message(&profile, &profile_hash));
    state.devices.add(connection.clone());
    let _ = state.store.device_seen(&key_hash, now).await;
    note_presence(&state, &connection).await;
    emit_connection(&state, SEVT_DEVICE_LIVE_CONNECT, &connection);
    {
        let (state, connection) = (state.clone(), connection.clone());
        tokio::spawn(async move { super::campaign::offer(&state, &connection).await });
    }
    {
        let owner = owner_of(&connection);
        for job in &running_jobs {
            if let Err(err) = jobs::still_running(&state, &owner, job).await {
                tracing::debug!("device {device_id} reports job {job}: {err:?}");
            }
        }
    }
    run(&state, &connection, outbox, socket).await;
    state.devices.remove(&connection.id);
    let _ = state.store.device_seen(&key_hash, now_unix()).await;
    end_presence(&state, &connection).await;
    emit_connection(&state, SEVT_DEVICE_LIVE_DISCONNECT, &connection);
}

/// In a cluster, tells the other nodes that this one holds `connection`
/// (the watch renews it).
async fn note_presence(state: &AppState, connection: &Connection) {
    if let (Some(cluster), Some(row)) = (&state.cluster, super::relay::Snapshot::row(connection)) {
        let _ = cluster
            .presence_renew(&[row], super::watch::PRESENCE_TTL)
            .await;
    }
}

async fn end_presence(state: &AppState, connection: &Connection) {
    if let Some(cluster) = &state.cluster {
        let _ = cluster.presence_end(&connection.id).await;
    }
}

/// A device without credentials, waiting to be registered to an account.
async fn lobby(
    state: Arc<AppState>,
    origin: Origin,
    socket: WebSocket,
    device_id: String,
    info: DeviceInfo,
) {
    if let Err(reason) = super::check_device_id(&device_id) {
        return refuse(socket, CLOSE_REFUSED, &reason).await;
    }
    let organization_id =
        crate::service::admins::tenant_for_host(&state.config.get(), &origin.host)
            .unwrap_or("")
            .to_string();
    let now = now_unix();
    let (connection, outbox) = Connection::new(
        uuid::Uuid::new_v4().to_string(),
        Peer::Lobby {
            device_id,
            organization_id,
            host: origin.host.clone(),
        },
        info,
        origin.client_ip.clone(),
        now,
    );
    connection.send(Message::Welcome {
        connection_id: connection.id.clone(),
        username: String::new(),
        server_time: now,
        server_version: APPLICATION_VERSION.to_string(),
    });
    state.devices.add(connection.clone());
    note_presence(&state, &connection).await;
    emit_lobby(&state, SEVT_DEVICE_LOBBY_CONNECT, &connection);
    run(&state, &connection, outbox, socket).await;
    state.devices.remove(&connection.id);
    end_presence(&state, &connection).await;
    emit_lobby(&state, SEVT_DEVICE_LOBBY_DISCONNECT, &connection);
}

/// The connection's life: frames in, outbox out, pings, silence.
async fn run(
    state: &AppState,
    connection: &Arc<Connection>,
    mut outbox: tokio::sync::mpsc::UnboundedReceiver<Outgoing>,
    mut socket: WebSocket,
) {
    let silence = Duration::from_secs(SILENCE_LIMIT_SECS);
    let mut heartbeat = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECS));
    heartbeat.tick().await;
    let mut deadline = tokio::time::Instant::now() + silence;
    loop {
        tokio::select! {
            outgoing = outbox.recv() => match outgoing {
                Some(Outgoing::Frame(message)) => {
                    if socket.send(Frame::Text(message.to_text().into())).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close { code, reason, reconnect }) => {
                    let bye = Message::Bye { reason: reason.clone(), reconnect };
                    let _ = socket.send(Frame::Text(bye.to_text().into())).await;
                    let _ = socket.send(close_frame(code, &reason)).await;
                    break;
                }
                None => break,
            },
            frame = socket.recv() => {
                deadline = tokio::time::Instant::now() + silence;
                match frame {
                    Some(Ok(Frame::Text(text))) => match serde_json::from_str::<Message>(&text) {
                        Ok(message) => handle(state, connection, message).await,
                        Err(err) => {
                            tracing::debug!("device connection {}: bad frame: {err}", connection.id);
                            connection.send(Message::Bye {
                                reason: format!("a frame is not a protocol message: {err}"),
                                reconnect: true,
                            });
                        }
                    },
                    Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => {}
                    Some(Ok(Frame::Binary(_))) => {
                        let _ = socket.send(close_frame(CLOSE_DROPPED, "binary frames are not part of the protocol")).await;
                        break;
                    }
                    Some(Ok(Frame::Close(_))) | Some(Err(_)) | None => break,
                }
            },
            _ = heartbeat.tick() => {
                if socket.send(Frame::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            },
            _ = tokio::time::sleep_until(deadline) => {
                let _ = socket.send(close_frame(CLOSE_DROPPED, "nothing heard for too long")).await;
                break;
            }
        }
    }
}

async fn handle(state: &AppState, connection: &Arc<Connection>, message: Message) {
    match message {
        Message::Reply {
            id,
            ok,
            error,
            body,
        } => connection.answer(id, if ok { Ok(body) } else { Err(error) }),
        Message::Request { id, call } => {
            let reply = match &connection.peer {
                Peer::Device { .. } => match answer(state, connection, call).await {
                    Ok(body) => Message::reply_ok(id, body),
                    Err(err) => Message::reply_err(id, message_of(err)),
                },
                Peer::Lobby { .. } => Message::reply_err(id, "a device in the lobby has no calls"),
            };
            connection.send(reply);
        }
        Message::Progress { job_id, progress } if is_device(connection) => {
            let owner = owner_of(connection);
            if let Err(err) = jobs::progress(state, &owner, &job_id, progress).await {
                tracing::debug!("progress of job {job_id}: {err:?}");
            }
        }
        Message::Log { job_id, entries } if is_device(connection) => {
            let owner = owner_of(connection);
            if let Err(err) = jobs::log(state, &owner, &job_id, entries).await {
                tracing::debug!("log of job {job_id}: {err:?}");
            }
        }
        other => tracing::debug!(
            "device connection {}: unexpected {:?}",
            connection.id,
            std::mem::discriminant(&other)
        ),
    }
}

async fn answer(
    state: &AppState,
    connection: &Arc<Connection>,
    call: Call,
) -> Result<serde_json::Value, ApiError> {
    let owner = owner_of(connection);
    let body = match call {
        Call::JobStart { detail } => to_value(jobs::start(state, &owner, detail).await?),
        Call::JobFinish {
            job_id,
            detail,
            destination_size,
        } => {
            jobs::finish(state, &owner, &job_id, detail, destination_size).await?;
            serde_json::Value::Null
        }
        Call::VaultKey {
            destination_id,
            encrypted_encryption_key,
            encryption_key_encryption_method,
            repo_init_timestamp,
        } => to_value(
            super::vault_keys::store(
                state,
                &owner,
                &destination_id,
                VaultKeyStored {
                    encrypted_encryption_key,
                    encryption_key_encryption_method,
                    repo_init_timestamp,
                },
            )
            .await?,
        ),
        Call::JobCancel { .. }
        | Call::RunBackup { .. }
        | Call::RunBackupCustom { .. }
        | Call::VaultSnapshots { .. }
        | Call::Restore { .. }
        | Call::DeleteSnapshots { .. }
        | Call::KillProcess
        | Call::Uninstall { .. }
        | Call::UpdateSoftware
        | Call::Maintain { .. }
        | Call::StoredObjects { .. }
        | Call::FilesystemObjects { .. }
        | Call::BrowseMysql { .. }
        | Call::SnapshotFiles { .. }
        | Call::PingDestination { .. }
        | Call::UpdateLoginUrl { .. } => {
            return Err(ApiError::bad_request(
                "that is a call of the server to its devices",
            ))
        }
    };
    Ok(body)
}

fn to_value(value: impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn message_of(err: ApiError) -> String {
    err.message()
}

fn is_device(connection: &Connection) -> bool {
    matches!(connection.peer, Peer::Device { .. })
}

pub fn owner_of(connection: &Connection) -> Owner<'_> {
    Owner {
        organization_id: connection.organization_id(),
        username: connection.username(),
        device_id: connection.device_id(),
        client_version: &connection.info.client_version,
    }
}

pub fn profile_message(profile: &UserProfileConfig, profile_hash: &str) -> Message {
    Message::Profile {
        profile: users::without_secrets(profile),
        profile_hash: profile_hash.to_string(),
    }
}

fn emit_connection(state: &AppState, event: i64, connection: &Connection) {
    state.events.emit(
        event,
        &owner_of(connection).actor(),
        connection.organization_id(),
        &connection.id,
        serde_json::to_value(connection.as_live_user_connection()).ok(),
    );
}

fn emit_lobby(state: &AppState, event: i64, connection: &Connection) {
    state.events.emit(
        event,
        "system",
        connection.organization_id(),
        &connection.id,
        serde_json::to_value(connection.as_lobby_connection()).ok(),
    );
}

fn close_frame(code: u16, reason: &str) -> Frame {
    Frame::Close(Some(CloseFrame {
        code,
        reason: reason.chars().take(100).collect::<String>().into(),
    }))
}

async fn refuse(mut socket: WebSocket, code: u16, reason: &str) {
    let bye = Message::Bye {
        reason: reason.to_string(),
        reconnect: false,
    };
    let _ = socket.send(Frame::Text(bye.to_text().into())).await;
    let _ = socket.send(close_frame(code, reason)).await;
}

async fn next_message(socket: &mut WebSocket) -> Option<Message> {
    loop {
        match socket.recv().await? {
            Ok(Frame::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(Frame::Ping(_) | Frame::Pong(_)) => continue,
            _ => return None,
        }
    }
}
