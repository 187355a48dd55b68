//! Restore archives the server asked to receive (to hand them to a
//! browser): made on a blocking thread into a channel and sent to the
//! server as one streamed POST while they are made, so neither side holds
//! the whole archive. An archive that fails midway ends the POST with an
//! error, never as a shorter archive.

use std::io::{BufWriter, Write};

use anyhow::{bail, Result};
use halley_api::types::CometAPIResponseMessage;
use halley_protocol::device::{UPLOAD_HEADERS, UPLOAD_PATH};
use halley_vault::RestoreSummary;
use tokio::sync::mpsc;

use crate::session::Session;

type Chunk = std::result::Result<Vec<u8>, std::io::Error>;

/// Where the archive is written.
pub type ArchiveOut = BufWriter<ChannelWriter>;

/// Makes the archive with `make` and sends it under `token`.
pub async fn send_archive<F>(session: &Session, token: &str, make: F) -> Result<RestoreSummary>
where
    F: FnOnce(ArchiveOut) -> halley_vault::Result<ArchiveOut> + Send + 'static,
{
    let state = session.state();
    let (tx, rx) = mpsc::channel::<Chunk>(8);
    let making = tokio::task::spawn_blocking(move || {
        let failed = tx.clone();
        let out = BufWriter::with_capacity(256 << 10, ChannelWriter { tx, sent: 0 });
        let made = make(out).and_then(|out| {
            out.into_inner().map_err(|e| halley_vault::VaultError::Io {
                op: "write",
                path: "archive".into(),
                source: e.into_error(),
            })
        });
        match made {
            Ok(writer) => Ok(writer.sent),
            Err(err) => {
                let _ = failed.blocking_send(Err(std::io::Error::other(err.to_string())));
                Err(err)
            }
        }
    });
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let url = format!("{}{UPLOAD_PATH}", state.server.trim_end_matches('/'));
    let posted = reqwest::Client::new()
        .post(&url)
        .header(UPLOAD_HEADERS[0], &state.device_id)
        .header(UPLOAD_HEADERS[1], &state.device_key)
        .header(UPLOAD_HEADERS[2], token)
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    let (posted, made) = tokio::join!(posted, making);
    let bytes = made??;
    let answer: CometAPIResponseMessage = posted?.json().await?;
    if answer.status != 200 {
        bail!("the server did not take the archive: {}", answer.message);
    }
    Ok(RestoreSummary {
        files: 1,
        bytes,
        ..Default::default()
    })
}

/// Sends what is written as chunks; fails once the server stops taking
/// them.
pub struct ChannelWriter {
    tx: mpsc::Sender<Chunk>,
    sent: u64,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx.blocking_send(Ok(buf.to_vec())).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the server stopped taking the archive",
            )
        })?;
        self.sent += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
