//! Facts about the server itself: `meta/version` and `/gen/branding.props`.

use halley_api::types::ServerMetaBrandingProperties;

use crate::config::DEFAULT_SESSION_SECONDS;
use crate::http::{ApiResult, Call, Reply};
use crate::service::{admins, server_info};

pub async fn version(call: Call) -> ApiResult<Reply> {
    Ok(Reply::json(&server_info::version_info(&call.state).await))
}

pub async fn branding_props(call: Call) -> ApiResult<Reply> {
    let config = call.state.config.get();
    // A tenant's host name shows that tenant's branding.
    let branding = match admins::tenant_for_host(&config, &call.origin.host) {
        Some(tenant) => &config.organizations[tenant].branding,
        None => &config.branding,
    };
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
