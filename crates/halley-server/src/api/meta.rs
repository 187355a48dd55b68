//! Facts about the server itself: `meta/version` and `/gen/branding.props`.

use halley_api::constants::APPLICATION_VERSION;
use halley_api::types::{ServerMetaBrandingProperties, ServerMetaVersionInfo};

use crate::config::DEFAULT_SESSION_SECONDS;
use crate::http::{ApiResult, Call, Reply};
use crate::util::now_unix;

/// `Version` is the Comet API version Halley serves, as `MAJOR.MINOR.PATCH`:
/// integrations compare it with client versions and pick code paths by it.
/// Halley's own version goes in `VersionCodename`.
pub async fn version(call: Call) -> ApiResult<Reply> {
    let config = call.state.config.get();
    Ok(Reply::json(&ServerMetaVersionInfo {
        version: APPLICATION_VERSION.to_string(),
        version_codename: format!("Halley {}", env!("CARGO_PKG_VERSION")),
        authentication_role: config.authentication_role.role_enabled,
        storage_role: config.storage_role.role_enabled,
        software_build_role: config.software_build_role.role_enabled,
        constellation_role: config.constellation_role.role_enabled,
        overseer_role: config.constellation_role.role_enabled,
        experimental_options: config.experimental_options.clone(),
        server_start_time: call.state.start_time,
        server_start_hash: call.state.start_hash.clone(),
        current_time: now_unix(),
        server_license_features_all: true,
        ..Default::default()
    }))
}

pub async fn branding_props(call: Call) -> ApiResult<Reply> {
    let config = call.state.config.get();
    let branding = &config.branding;
    let session_seconds = match config.session_settings.expired_in_seconds {
        0 => DEFAULT_SESSION_SECONDS,
        seconds => seconds,
    };
    Ok(Reply::json(&ServerMetaBrandingProperties {
        brand_name: branding.brand_name.clone(),
        product_name: branding.product_name.clone(),
        top_color: branding.top_color.clone(),
        accent_color: branding.accent_color.clone(),
        hide_news_area: branding.hide_news_area,
        allow_unauthenticated_downloads: config.software_build_role.allow_unauthenticated_downloads,
        allow_authenticated_downloads: config.software_build_role.role_enabled,
        prune_logs_after_days: config.authentication_role.prune_logs_after_days,
        expired_in_seconds: session_seconds as i64,
        server_is_empty: config.admin_users.is_empty(),
        cloud_storage_name: branding.cloud_storage_name.clone(),
        ..Default::default()
    }))
}
