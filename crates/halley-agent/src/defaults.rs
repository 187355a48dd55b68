//! The defaults a client package installed beside this binary (see
//! `halley_protocol::package`): the server, and an install token when the
//! package carries one.

use halley_protocol::package::{defaults_beside, PackageDefaults};

/// The package's defaults, or none when the agent was not installed from a
/// package (or the file cannot be read: it is then as if there were none).
pub fn load() -> PackageDefaults {
    let Some(path) = std::env::current_exe()
        .ok()
        .and_then(|exe| defaults_beside(&exe))
    else {
        return PackageDefaults::default();
    };
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
            tracing::warn!("ignoring {}: {err}", path.display());
            PackageDefaults::default()
        }),
        Err(_) => PackageDefaults::default(),
    }
}
