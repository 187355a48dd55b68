//! Client software downloads (`branding/available-platforms`,
//! `branding/generate-client/*`): Linux packages of the agent, built from
//! the caller's branding (a tenant's administrator gets the tenant's, an
//! open download the branding of the host name asked for). `SelfAddress`
//! is the server URL built into the package, else the branding's
//! `DefaultLoginServerURL`. `InstallToken` (Halley's own parameter, from
//! `AdminCreateInstallToken`) makes the package register the machine on its
//! first start. Platforms Halley does not build are refused in `unsupported.rs`.

use std::collections::BTreeMap;

use halley_api::types::{AvailableDownload, BrandingOptions};
use halley_protocol::package::PackageDefaults;

use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::admins;
use crate::service::client_packages::{self, Contents, Kind, Platform};

pub async fn available_platforms(call: Call) -> ApiResult<Reply> {
    let built = call.state.agent_binary.is_file();
    let platforms: BTreeMap<String, AvailableDownload> = client_packages::PLATFORMS
        .iter()
        .filter(|p| p.kind.is_some() && built)
        .map(|p| {
            let download = AvailableDownload {
                category: p.category.to_string(),
                description: p.description.to_string(),
                recommended: p.kind == Some(Kind::Deb),
                ..Default::default()
            };
            (p.id.to_string(), download)
        })
        .collect();
    Ok(Reply::json(&platforms))
}

/// `generate-client/test`: whether `Platform` can be downloaded.
pub async fn test(call: Call) -> ApiResult<Reply> {
    let platform = chosen(&call)?;
    buildable(&call, platform)?;
    Ok(Reply::ok())
}

pub async fn by_platform(call: Call) -> ApiResult<Reply> {
    let platform = chosen(&call)?;
    build(call, platform).await
}

pub async fn linux_generic(call: Call) -> ApiResult<Reply> {
    build(call, of_kind(Kind::Tarball)).await
}

pub async fn linux_deb(call: Call) -> ApiResult<Reply> {
    build(call, of_kind(Kind::Deb)).await
}

fn of_kind(kind: Kind) -> &'static Platform {
    client_packages::PLATFORMS
        .iter()
        .find(|p| p.kind == Some(kind))
        .expect("every kind has a platform")
}

fn chosen(call: &Call) -> ApiResult<&'static Platform> {
    let id = call
        .params
        .opt_int("Platform")?
        .ok_or_else(|| ApiError::invalid_param("Platform", "is missing"))?;
    client_packages::platform(id).ok_or_else(|| {
        let known: Vec<String> = client_packages::PLATFORMS
            .iter()
            .map(|p| format!("{} {}", p.id, p.description))
            .collect();
        ApiError::invalid_param(
            "Platform",
            format!("{id} is no platform ({})", known.join("; ")),
        )
    })
}

fn buildable(call: &Call, platform: &Platform) -> ApiResult<Kind> {
    let Some(kind) = platform.kind else {
        return Err(ApiError::new(
            501,
            format!(
                "Halley does not build a client for {}: only Linux packages (platforms 5 and 6)",
                platform.description
            ),
        ));
    };
    if !call.state.agent_binary.is_file() {
        return Err(ApiError::new(
            503,
            format!(
                "the agent binary is not installed at {}: place halley-agent beside halleyd or start halleyd with --agent-binary",
                call.state.agent_binary.display()
            ),
        ));
    }
    Ok(kind)
}

async fn build(call: Call, platform: &'static Platform) -> ApiResult<Reply> {
    let kind = buildable(&call, platform)?;
    let branding = branding(&call);
    let server = match call.params.opt_str("SelfAddress").unwrap_or("") {
        "" => branding.default_login_server_url.clone(),
        given => given.to_string(),
    };
    let server = server.trim_end_matches('/').to_string();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(ApiError::invalid_param(
            "SelfAddress",
            format!(
                "{server:?} is not an http:// or https:// URL (pass SelfAddress, or set the branding's DefaultLoginServerURL)"
            ),
        ));
    }
    let contents = Contents {
        defaults: PackageDefaults {
            server,
            product_name: match branding.product_name.as_str() {
                "" => "Halley Backup".to_string(),
                name => name.to_string(),
            },
            install_token: call
                .params
                .opt_str("InstallToken")
                .unwrap_or("")
                .to_string(),
        },
        package_name: deb_name(&branding.package_identifier),
        company_name: branding.company_name.clone(),
        version: halley_api::constants::APPLICATION_VERSION.to_string(),
    };
    let binary = tokio::fs::read(&call.state.agent_binary)
        .await
        .map_err(|e| {
            ApiError::internal(format!(
                "reading {}: {e}",
                call.state.agent_binary.display()
            ))
        })?;
    let body = tokio::task::spawn_blocking(move || match kind {
        Kind::Tarball => client_packages::tarball(&binary, &contents),
        Kind::Deb => client_packages::deb(&binary, &contents),
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(Reply::Bytes {
        content_type: match kind {
            Kind::Tarball => "application/gzip",
            Kind::Deb => "application/vnd.debian.binary-package",
        },
        body,
    })
}

fn branding(call: &Call) -> BrandingOptions {
    let config = call.state.config.get();
    let tenant = match call.admin() {
        Ok(admin) => Some(admin.organization_id()).filter(|id| !id.is_empty()),
        Err(_) => admins::tenant_for_host(&config, &call.origin.host),
    };
    match tenant.and_then(|id| config.organizations.get(id)) {
        Some(organization) => organization.branding.clone(),
        None => config.branding.clone(),
    }
}

/// A Debian package name from `PackageIdentifier` (`com.example.backup`
/// becomes `com.example.backup`; what Debian does not allow is dropped).
fn deb_name(identifier: &str) -> String {
    let name: String = identifier
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
        .collect();
    if name.len() >= 2 && name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name
    } else {
        "halley-agent".to_string()
    }
}
