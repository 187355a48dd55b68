//! The command line's commands, one module each.

pub mod backup;
pub mod login;
pub mod restore;
pub mod run;
pub mod status;

use std::sync::Arc;

use anyhow::Result;

use crate::session::Session;
use crate::state::StateDir;

/// A session for a one-off command: connected in the background for as
/// long as the command runs.
pub fn one_off_session(dir: StateDir) -> Result<Arc<Session>> {
    let session = Session::new(dir, false)?;
    if !session.state().registered() {
        anyhow::bail!("this machine is not registered: run `halley-agent login` first");
    }
    tokio::spawn(session.clone().maintain());
    Ok(session)
}
