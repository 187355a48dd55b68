//! Slices of the configuration an administrator edits, each for the caller's
//! scope: the top level, or the caller's tenant (`Organization`), whose
//! structure mirrors it.

use halley_api::types::{
    BrandingOptions, ConstellationRoleOptions, EmailOptions, Organization, PSAConfig,
    RemoteStorageOption, ServerConfigOptions, ServerConfigOptionsBrandingFragment,
    ServerConfigOptionsSoftwareBuildRoleFragment, SoftwareBuildRoleOptions,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::secrets;

type Top<T> = fn(&mut ServerConfigOptions) -> &mut T;
type Tenant<T> = fn(&mut Organization) -> &mut T;

fn read<T: Clone>(call: &Call, top: Top<T>, tenant: Tenant<T>) -> ApiResult<T> {
    let organization = call.admin()?.organization_id();
    let mut config = (*call.state.config.get()).clone();
    if organization.is_empty() {
        return Ok(top(&mut config).clone());
    }
    let org = config
        .organizations
        .get_mut(organization)
        .ok_or_else(|| ApiError::bad_request("The caller's tenant no longer exists"))?;
    Ok(tenant(org).clone())
}

async fn write<T: Send + 'static>(
    call: &Call,
    value: T,
    top: Top<T>,
    tenant: Tenant<T>,
) -> ApiResult<()> {
    let organization = call.admin()?.organization_id().to_string();
    call.state
        .config
        .update(move |config| -> ApiResult<()> {
            let slot =
                if organization.is_empty() {
                    top(config)
                } else {
                    tenant(config.organizations.get_mut(&organization).ok_or_else(|| {
                        ApiError::bad_request("The caller's tenant no longer exists")
                    })?)
                };
            *slot = value;
            Ok(())
        })
        .await
}

async fn get_slice<T: Clone + Serialize>(
    call: Call,
    top: Top<T>,
    tenant: Tenant<T>,
) -> ApiResult<Reply> {
    Ok(Reply::json(&read(&call, top, tenant)?))
}

async fn set_slice<T: DeserializeOwned + Send + 'static>(
    call: Call,
    param: &str,
    top: Top<T>,
    tenant: Tenant<T>,
) -> ApiResult<Reply> {
    let value: T = call.params.json(param)?;
    write(&call, value, top, tenant).await?;
    Ok(Reply::ok())
}

pub async fn branding_get(call: Call) -> ApiResult<Reply> {
    let branding = read(&call, |c| &mut c.branding, |o| &mut o.branding)?;
    Ok(Reply::json(&ServerConfigOptionsBrandingFragment {
        branding,
        ..Default::default()
    }))
}

pub async fn branding_set(call: Call) -> ApiResult<Reply> {
    set_slice::<BrandingOptions>(
        call,
        "BrandingConfig",
        |c| &mut c.branding,
        |o| &mut o.branding,
    )
    .await
}

pub async fn build_get(call: Call) -> ApiResult<Reply> {
    let software_build_role = read(
        &call,
        |c| &mut c.software_build_role,
        |o| &mut o.software_build_role,
    )?;
    Ok(Reply::json(&ServerConfigOptionsSoftwareBuildRoleFragment {
        software_build_role,
        ..Default::default()
    }))
}

pub async fn build_set(call: Call) -> ApiResult<Reply> {
    set_slice::<SoftwareBuildRoleOptions>(
        call,
        "SoftwareBuildRoleConfig",
        |c| &mut c.software_build_role,
        |o| &mut o.software_build_role,
    )
    .await
}

/// The SMTP password is never shown; sending the obscured value back keeps it.
pub async fn email_get(call: Call) -> ApiResult<Reply> {
    let mut email = read(&call, |c| &mut c.email, |o| &mut o.email)?;
    secrets::obscure_email(&mut email);
    Ok(Reply::json(&email))
}

pub async fn email_set(call: Call) -> ApiResult<Reply> {
    let mut email: EmailOptions = call.params.json("EmailOptions")?;
    secrets::restore_email(&mut email, &stored_email(&call)?);
    write(&call, email, |c| &mut c.email, |o| &mut o.email).await?;
    Ok(Reply::ok())
}

/// The email options stored for the caller's scope, secrets included.
pub fn stored_email(call: &Call) -> ApiResult<EmailOptions> {
    read(call, |c| &mut c.email, |o| &mut o.email)
}

pub async fn remote_storage_get(call: Call) -> ApiResult<Reply> {
    get_slice::<Vec<RemoteStorageOption>>(
        call,
        |c| &mut c.authentication_role.remote_storage,
        |o| &mut o.remote_storage,
    )
    .await
}

pub async fn remote_storage_set(call: Call) -> ApiResult<Reply> {
    set_slice::<Vec<RemoteStorageOption>>(
        call,
        "RemoteStorageOptions",
        |c| &mut c.authentication_role.remote_storage,
        |o| &mut o.remote_storage,
    )
    .await
}

pub async fn psa_get(call: Call) -> ApiResult<Reply> {
    get_slice::<Vec<PSAConfig>>(call, |c| &mut c.psa_configs, |o| &mut o.psa_configs).await
}

pub async fn psa_set(call: Call) -> ApiResult<Reply> {
    set_slice::<Vec<PSAConfig>>(
        call,
        "PSAConfigList",
        |c| &mut c.psa_configs,
        |o| &mut o.psa_configs,
    )
    .await
}

/// The caller's tenant's Constellation settings.
pub fn stored_constellation(call: &Call) -> ApiResult<ConstellationRoleOptions> {
    read(
        call,
        |c| &mut c.constellation_role,
        |o| &mut o.constellation_role,
    )
}

pub async fn constellation_get(call: Call) -> ApiResult<Reply> {
    get_slice::<ConstellationRoleOptions>(
        call,
        |c| &mut c.constellation_role,
        |o| &mut o.constellation_role,
    )
    .await
}

pub async fn constellation_set(call: Call) -> ApiResult<Reply> {
    set_slice::<ConstellationRoleOptions>(
        call,
        "ConstellationRoleOptions",
        |c| &mut c.constellation_role,
        |o| &mut o.constellation_role,
    )
    .await
}
