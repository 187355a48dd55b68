//! `halley-agent run`: the background service. It keeps the live connection
//! (or waits in the lobby until an administrator registers it), follows the
//! profile and runs the schedules, until the server says stop or a signal
//! arrives.

use anyhow::Result;
use tokio::signal::unix::{signal, SignalKind};

use crate::scheduler;
use crate::session::Session;
use crate::state::StateDir;

pub async fn run(dir: StateDir) -> Result<()> {
    let session = Session::new(dir, true)?;
    let schedules = tokio::spawn(scheduler::run(session.clone()));
    let mut terminate = signal(SignalKind::terminate())?;
    let outcome = tokio::select! {
        outcome = session.clone().maintain() => outcome,
        _ = terminate.recv() => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    schedules.abort();
    outcome
}
