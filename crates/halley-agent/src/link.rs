//! The agent's side of the live connection (`docs/device-protocol.md`): one
//! websocket to the server, a reader task and a writer task, requests with
//! IDs and timeouts, and what the server pushes (profiles, calls,
//! credentials from the lobby, goodbyes) as [`Event`]s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures::{SinkExt, StreamExt};
use halley_api::types::UserProfileConfig;
use halley_protocol::device::*;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as Frame;

/// Something the server said that the agent must act on.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// A call awaiting [`Link::reply`].
    Call { id: u64, call: Call },
    /// Lobby: an administrator registered this device to an account.
    Registered(Registration),
}

/// Why the connection ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub code: Option<u16>,
    pub reason: String,
    /// Whether the server wants the device to dial again.
    pub reconnect: bool,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

pub struct Link {
    pub username: String,
    pub connection_id: String,
    outbox: mpsc::UnboundedSender<Frame>,
    pending: Pending,
    next_id: AtomicU64,
    /// The account's profile and its hash, as last pushed.
    pub profile: watch::Receiver<Option<(UserProfileConfig, String)>>,
    /// Set once, when the connection ends.
    pub closed: watch::Receiver<Option<Closed>>,
}

/// The live URL of a server base URL (`http` becomes `ws`).
pub fn live_url(server: &str) -> String {
    let base = server.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_string()
    };
    format!("{base}{LIVE_PATH}")
}

impl Link {
    /// Dials the server, sends `first` (`Hello` or `Lobby`) and waits for
    /// `Welcome`.
    pub async fn connect(
        server: &str,
        first: Message,
    ) -> Result<(Arc<Link>, mpsc::UnboundedReceiver<Event>)> {
        let url = live_url(server);
        let (mut socket, _) = tokio::time::timeout(
            Duration::from_secs(REQUEST_TIMEOUT_SECS),
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await
        .map_err(|_| anyhow!("{url}: no answer in {REQUEST_TIMEOUT_SECS} s"))?
        .with_context(|| format!("connecting to {url}"))?;
        socket.send(Frame::Text(first.to_text().into())).await?;
        let welcome = loop {
            let frame =
                tokio::time::timeout(Duration::from_secs(HELLO_TIMEOUT_SECS), socket.next())
                    .await
                    .map_err(|_| anyhow!("{url}: no welcome in {HELLO_TIMEOUT_SECS} s"))?;
            match frame {
                Some(Ok(Frame::Text(text))) => match serde_json::from_str::<Message>(&text)? {
                    welcome @ Message::Welcome { .. } => break welcome,
                    Message::Bye { reason, .. } => bail!("the server refused: {reason}"),
                    _ => continue,
                },
                Some(Ok(Frame::Close(frame))) => bail!(
                    "the server refused: {}",
                    frame.map(|f| f.reason.to_string()).unwrap_or_default()
                ),
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(err.into()),
                None => bail!("the server closed the connection"),
            }
        };
        let Message::Welcome {
            connection_id,
            username,
            ..
        } = welcome
        else {
            unreachable!()
        };
        let (sink, stream) = socket.split();
        let (outbox, outgoing) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (profile_tx, profile) = watch::channel(None);
        let (closed_tx, closed) = watch::channel(None);
        let pending: Pending = Arc::default();
        tokio::spawn(write_frames(sink, outgoing));
        tokio::spawn(read_frames(
            stream,
            pending.clone(),
            events_tx,
            profile_tx,
            closed_tx,
        ));
        let link = Arc::new(Link {
            username,
            connection_id,
            outbox,
            pending,
            next_id: AtomicU64::new(1),
            profile,
            closed,
        });
        Ok((link, events))
    }

    pub fn send(&self, message: &Message) {
        let _ = self.outbox.send(Frame::Text(message.to_text().into()));
    }

    pub fn reply(&self, id: u64, outcome: Result<Value, String>) {
        self.send(&match outcome {
            Ok(body) => Message::reply_ok(id, body),
            Err(error) => Message::reply_err(id, error),
        });
    }

    /// Sends a call and waits for its reply.
    pub async fn request<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.send(&Message::Request { id, call });
        let answer = tokio::time::timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS), rx).await;
        self.pending.lock().unwrap().remove(&id);
        match answer {
            Ok(Ok(Ok(body))) => Ok(serde_json::from_value(body)?),
            Ok(Ok(Err(error))) => Err(anyhow!("the server refused: {error}")),
            Ok(Err(_)) => Err(anyhow!("the connection closed before the server answered")),
            Err(_) => Err(anyhow!(
                "the server did not answer in {REQUEST_TIMEOUT_SECS} s"
            )),
        }
    }

    /// Waits until the connection ends.
    pub async fn wait_closed(&self) -> Closed {
        let mut closed = self.closed.clone();
        let seen = closed.wait_for(Option::is_some).await;
        match seen {
            Ok(value) => value.clone().expect("waited for some"),
            Err(_) => Closed {
                code: None,
                reason: "the connection ended".into(),
                reconnect: true,
            },
        }
    }

    /// Closes the connection from this side.
    pub fn close(&self) {
        let _ = self.outbox.send(Frame::Close(None));
    }
}

async fn write_frames(
    mut sink: impl futures::Sink<Frame, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
    mut outgoing: mpsc::UnboundedReceiver<Frame>,
) {
    let mut heartbeat = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECS));
    heartbeat.tick().await;
    loop {
        let frame = tokio::select! {
            frame = outgoing.recv() => match frame {
                Some(frame) => frame,
                None => break,
            },
            _ = heartbeat.tick() => Frame::Ping(Vec::new().into()),
        };
        let closing = matches!(frame, Frame::Close(_));
        if sink.send(frame).await.is_err() || closing {
            break;
        }
    }
    let _ = sink.close().await;
}

async fn read_frames(
    mut stream: impl futures::Stream<Item = Result<Frame, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
    pending: Pending,
    events: mpsc::UnboundedSender<Event>,
    profile: watch::Sender<Option<(UserProfileConfig, String)>>,
    closed: watch::Sender<Option<Closed>>,
) {
    let silence = Duration::from_secs(SILENCE_LIMIT_SECS);
    let mut bye: Option<(String, bool)> = None;
    let ended = loop {
        let frame = match tokio::time::timeout(silence, stream.next()).await {
            Err(_) => {
                break Closed {
                    code: None,
                    reason: format!("nothing heard from the server for {SILENCE_LIMIT_SECS} s"),
                    reconnect: true,
                }
            }
            Ok(frame) => frame,
        };
        let text = match frame {
            Some(Ok(Frame::Text(text))) => text,
            Some(Ok(Frame::Close(frame))) => {
                let code = frame.as_ref().map(|f| u16::from(f.code));
                let (reason, reconnect) = bye.take().unwrap_or_else(|| {
                    let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    (reason, !matches!(code, Some(CLOSE_REFUSED | CLOSE_STOP)))
                });
                break Closed {
                    code,
                    reason,
                    reconnect,
                };
            }
            Some(Ok(_)) => continue,
            Some(Err(err)) => {
                break Closed {
                    code: None,
                    reason: err.to_string(),
                    reconnect: true,
                }
            }
            None => {
                break Closed {
                    code: Some(u16::from(CloseCode::Abnormal)),
                    reason: "the server closed the connection".into(),
                    reconnect: true,
                }
            }
        };
        let message = match serde_json::from_str::<Message>(&text) {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!("a frame from the server is not a protocol message: {err}");
                continue;
            }
        };
        match message {
            Message::Reply {
                id,
                ok,
                error,
                body,
            } => {
                if let Some(waiter) = pending.lock().unwrap().remove(&id) {
                    let _ = waiter.send(if ok { Ok(body) } else { Err(error) });
                }
            }
            Message::Request { id, call } => {
                let _ = events.send(Event::Call { id, call });
            }
            Message::Profile {
                profile: pushed,
                profile_hash,
            } => {
                let _ = profile.send(Some((pushed, profile_hash)));
            }
            Message::Registered { registration } => {
                let _ = events.send(Event::Registered(registration));
            }
            Message::Bye { reason, reconnect } => bye = Some((reason, reconnect)),
            _ => {}
        }
    };
    pending.lock().unwrap().clear();
    let _ = closed.send(Some(ended));
}
