//! Licence activation for `halleyd` (a module to paste into halley-server as
//! `src/licensing.rs`; halley-account keeps it here, compiled and tested
//! against a real portal by `tests/activation_client.rs`).
//!
//! At start-up, a server given `--serial` binds that serial to its own
//! identity at the licence portal, and refuses to run when the portal says the
//! serial is unknown, archived or bound to another server. The identity is 128
//! random bits kept in `DATA_DIR/server-id`, so it survives restarts and
//! upgrades but not a move to a fresh data directory (which is a new server:
//! relax the serial in the portal first).

use std::path::Path;
use std::time::Duration;

use rand::RngCore;

/// File in the data directory holding this server's identity.
pub const SERVER_ID_FILE: &str = "server-id";
/// Path of the activation endpoint, below the portal's base URL.
pub const ACTIVATE_PATH: &str = "/api/v1/license/activate";
/// How long one activation call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("the licence portal does not know serial {0}")]
    UnknownSerial(String),
    #[error("serial {0} is archived")]
    Archived(String),
    #[error(
        "serial {0} is in use by another server; relax it in the licence portal to move it here"
    )]
    BoundElsewhere(String),
    #[error("the licence portal refused the activation (HTTP {status}): {body}")]
    Rejected { status: u16, body: String },
    #[error("the licence portal could not be reached: {0}")]
    Unreachable(#[from] reqwest::Error),
    #[error("reading or writing the server identity: {0}")]
    Identity(#[from] std::io::Error),
}

/// This server's identity, created on first use.
pub fn server_id(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(SERVER_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written aside then renamed, so a crash never leaves a half identity.
    let temp = data_dir.join(format!("{SERVER_ID_FILE}.tmp"));
    std::fs::write(&temp, format!("{id}\n"))?;
    std::fs::rename(&temp, &path)?;
    Ok(id)
}

/// Binds `serial` to `server_id` at the portal whose base URL is `portal_url`
/// (e.g. `https://portal.example.com`). Activating again from the same server
/// is fine (every start does it).
pub async fn activate(
    portal_url: &str,
    serial: &str,
    server_id: &str,
) -> Result<(), ActivationError> {
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let response = client
        .post(format!(
            "{}{ACTIVATE_PATH}",
            portal_url.trim_end_matches('/')
        ))
        .form(&[("serial", serial), ("server_id", server_id)])
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    match status {
        200 => Ok(()),
        403 => Err(ActivationError::UnknownSerial(serial.to_string())),
        409 => Err(ActivationError::BoundElsewhere(serial.to_string())),
        410 => Err(ActivationError::Archived(serial.to_string())),
        _ => Err(ActivationError::Rejected {
            status,
            body: body.trim().to_string(),
        }),
    }
}

/// The start-up step: the identity of the server in `data_dir`, activated.
/// An error here should end the process before it listens.
pub async fn activate_at_startup(
    data_dir: &Path,
    portal_url: &str,
    serial: &str,
) -> Result<String, ActivationError> {
    let id = server_id(data_dir)?;
    activate(portal_url, serial.trim(), &id).await?;
    Ok(id)
}
