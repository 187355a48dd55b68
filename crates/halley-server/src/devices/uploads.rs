//! Restore archives on their way from a device to the caller that asked
//! for them in its answer (`run-restore-custom` with `DownloadArchive`, the
//! web interface's "download"): the caller's answer streams what the
//! device sends to [`UPLOAD_PATH`](halley_protocol::device::UPLOAD_PATH)
//! under a one-time token, chunk by chunk, with nothing kept whole in
//! memory. An upload that breaks off breaks the answer off too, so a
//! partial archive never looks complete.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use futures::StreamExt;
use halley_api::types::CometAPIResponseMessage;
use halley_protocol::device::{REQUEST_TIMEOUT_SECS, UPLOAD_HEADERS};
use tokio::sync::mpsc;

use super::registry::Connection;
use crate::state::AppState;

type Chunk = Result<Bytes, std::io::Error>;

struct Waiting {
    /// The connection's (tenant, account, device): only it may send.
    device: (String, String, String),
    tx: mpsc::Sender<Chunk>,
}

#[derive(Default)]
pub struct Uploads {
    waiting: Mutex<HashMap<String, Waiting>>,
}

fn device_of(connection: &Connection) -> (String, String, String) {
    (
        connection.organization_id().to_string(),
        connection.username().to_string(),
        connection.device_id().to_string(),
    )
}

impl Uploads {
    /// A token for `connection` to send an archive under, and the stream
    /// that will carry it.
    pub fn expect(&self, connection: &Connection) -> (String, mpsc::Receiver<Chunk>) {
        let token = crate::util::random_hex(32);
        let (tx, rx) = mpsc::channel(8);
        let waiting = Waiting {
            device: device_of(connection),
            tx,
        };
        self.lock().insert(token.clone(), waiting);
        (token, rx)
    }

    /// The device started the job: its upload must begin within the request
    /// timeout, or the answer ends with an error.
    pub fn deadline(state: std::sync::Arc<AppState>, token: String) {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(REQUEST_TIMEOUT_SECS)).await;
            if let Some(late) = state.uploads.take(&token) {
                let why = format!("the device sent no archive within {REQUEST_TIMEOUT_SECS} s");
                let _ = late.tx.send(Err(std::io::Error::other(why))).await;
            }
        });
    }

    pub fn forget(&self, token: &str) {
        self.take(token);
    }

    fn take(&self, token: &str) -> Option<Waiting> {
        self.lock().remove(token)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `POST` [`UPLOAD_PATH`](halley_protocol::device::UPLOAD_PATH): a device
/// sends the archive a token awaits; the answer says whether all of it
/// reached the caller.
pub async fn receive(state: &AppState, headers: &HeaderMap, body: Body) -> CometAPIResponseMessage {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let [id, key, token] = UPLOAD_HEADERS.map(header);
    let record = match super::standing(state, &super::key_hash(&key), &id).await {
        Ok((record, _, _)) => record,
        Err(why) => return CometAPIResponseMessage::new(403, why),
    };
    let device = (record.organization_id, record.username, record.device_id);
    let waiting = {
        let mut all = state.uploads.lock();
        match all.get(&token) {
            Some(w) if w.device == device => all.remove(&token),
            _ => None,
        }
    };
    let Some(waiting) = waiting else {
        return CometAPIResponseMessage::new(400, "no archive is awaited under this token");
    };
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| std::io::Error::other(format!("the archive broke off: {e}")));
        let broken = chunk.is_err();
        if waiting.tx.send(chunk).await.is_err() {
            return CometAPIResponseMessage::new(410, "the caller stopped waiting for the archive");
        }
        if broken {
            return CometAPIResponseMessage::new(400, "the archive broke off");
        }
    }
    CometAPIResponseMessage::ok()
}
