//! `GET /api/v1/events/stream`: the live event websocket. The client sends
//! five text frames (Username, AuthType, Password, SessionKey, TOTP; empty to
//! skip); the server answers `403 Unauth` and closes, or `200 OK`, then
//! `SEVT_META_HELLO` and one JSON frame per event, in order. A frame that is
//! not text is answered `403 Unauth` at once, and so is a client that has
//! not sent all five within [`HANDSHAKE_TIMEOUT`]. A client that falls more
//! than the queue limit behind is disconnected (and only it). Whenever
//! sessions, accounts or the configuration change, the stream checks its
//! caller again and closes if the caller would be refused now (a revoked
//! session, a changed password, a suspended tenant).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use halley_api::constants::SEVT_META_HELLO;

use super::Event;
use crate::auth::{self, Origin};
use crate::http::Params;
use crate::service::server_info::version_info;
use crate::state::AppState;

pub const PATH: &str = "/api/v1/events/stream";
const CREDENTIAL_FRAMES: [&str; 5] = ["Username", "AuthType", "Password", "SessionKey", "TOTP"];
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub fn upgrade(state: Arc<AppState>, origin: Origin, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| serve(state, origin, socket))
}

async fn serve(state: Arc<AppState>, origin: Origin, mut socket: WebSocket) {
    let params = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_credentials(&mut socket)).await
    {
        Ok(Handshake::Complete(params)) => params,
        Ok(Handshake::Gone) => return,
        Ok(Handshake::BadFrame) | Err(_) => return refuse(socket).await,
    };
    // Anything that could end the caller's right to this stream, watched
    // from before the check so that no change falls in between.
    let mut sessions_changed = state.session_cache.watch();
    let mut config_changed = state.config.watch();
    let admin = match auth::admin(&state, &params, &origin).await {
        Ok(admin) => admin,
        Err(_) => return refuse(socket).await,
    };
    let scope = (!admin.organization_id().is_empty()).then(|| admin.organization_id().to_string());
    // Subscribe before answering so that no event falls between the two.
    let mut subscription = state.events.subscribe(scope);
    let hello = Event::new(
        SEVT_META_HELLO,
        "system",
        admin.organization_id(),
        "",
        serde_json::to_value(version_info(&state).await).ok(),
    );
    let greeted = async {
        socket.send(Message::Text("200 OK".into())).await?;
        socket.send(Message::Text(hello.json.into())).await
    }
    .await;
    if greeted.is_ok() {
        loop {
            tokio::select! {
                event = subscription.receiver.recv() => {
                    let Some(event) = event else { break };
                    tokio::select! {
                        sent = socket.send(Message::Text(event.json.clone().into())) => {
                            if sent.is_err() { break; }
                        }
                        _ = subscription.dropped.notified() => break,
                    }
                }
                incoming = socket.recv() => {
                    match incoming {
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    }
                }
                _ = subscription.dropped.notified() => break,
                _ = sessions_changed.changed() => {
                    if !auth::admin_still_signed_in(&state, &params, &admin).await { break; }
                }
                _ = config_changed.changed() => {
                    if !auth::admin_still_signed_in(&state, &params, &admin).await { break; }
                }
            }
        }
    }
    state.events.unsubscribe(subscription.id);
    let _ = socket.send(Message::Close(None)).await;
}

async fn refuse(mut socket: WebSocket) {
    let _ = socket.send(Message::Text("403 Unauth".into())).await;
    let _ = socket.send(Message::Close(None)).await;
}

enum Handshake {
    Complete(Params),
    /// A frame that is not text (binary, or a close before the end).
    BadFrame,
    /// The connection ended; there is no one to answer.
    Gone,
}

async fn read_credentials(socket: &mut WebSocket) -> Handshake {
    let mut pairs = Vec::new();
    for name in CREDENTIAL_FRAMES {
        let text = loop {
            match socket.recv().await {
                Some(Ok(Message::Text(text))) => break text.to_string(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(_)) => return Handshake::BadFrame,
                None | Some(Err(_)) => return Handshake::Gone,
            }
        };
        if !text.is_empty() {
            pairs.push((name, text));
        }
    }
    Handshake::Complete(Params::from_pairs(pairs))
}
