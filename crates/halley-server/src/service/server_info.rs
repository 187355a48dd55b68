//! Facts about this server: version, roles, start time.

use halley_api::constants::APPLICATION_VERSION;
use halley_api::types::ServerMetaVersionInfo;

use crate::state::AppState;
use crate::util::now_unix;

/// `Version` is the Comet API version Halley serves, as `MAJOR.MINOR.PATCH`:
/// integrations compare it with client versions and pick code paths by it.
/// Halley's own version goes in `VersionCodename`.
pub async fn version_info(state: &AppState) -> ServerMetaVersionInfo {
    let self_backup = super::self_backup_runs::statistics(state)
        .await
        .unwrap_or_else(|why| {
            tracing::warn!("reading the self-backup statistics: {why}");
            Vec::new()
        });
    let config = state.config.get();
    ServerMetaVersionInfo {
        version: APPLICATION_VERSION.to_string(),
        version_codename: format!("Halley {}", env!("CARGO_PKG_VERSION")),
        authentication_role: config.authentication_role.role_enabled,
        storage_role: config.storage_role.role_enabled,
        software_build_role: config.software_build_role.role_enabled,
        constellation_role: config.constellation_role.role_enabled,
        overseer_role: config.constellation_role.role_enabled,
        experimental_options: config.experimental_options.clone(),
        server_start_time: state.start_time,
        server_start_hash: state.start_hash.clone(),
        current_time: now_unix(),
        server_license_features_all: true,
        self_backup,
        ..Default::default()
    }
}
