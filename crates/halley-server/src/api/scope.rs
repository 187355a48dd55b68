//! Which tenant a call acts in: the caller's own, or for a top-level
//! administrator the `TargetOrganization` it names.

use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult, Call};

/// The tenant a new object goes to.
pub fn target_organization(call: &Call) -> ApiResult<String> {
    let admin = call.admin()?;
    match call.params.opt_str("TargetOrganization") {
        Some(org) if !org.is_empty() => {
            if !admin.organization_id().is_empty() && org != admin.organization_id() {
                return Err(ApiError::forbidden(
                    "TargetOrganization may only be used by top-level administrators",
                ));
            }
            if !call.state.config.get().organizations.contains_key(org) {
                return Err(ApiError::invalid_param(
                    "TargetOrganization",
                    format!("no tenant has the ID '{org}'"),
                ));
            }
            Ok(org.to_string())
        }
        _ => Ok(admin.organization_id().to_string()),
    }
}

/// The scope of a call: the caller's own, narrowed to `TargetOrganization`
/// when a top-level administrator names one.
pub fn list_scope(call: &Call) -> ApiResult<TenantScope> {
    let admin = call.admin()?;
    match call.params.opt_str("TargetOrganization") {
        Some(org) if !org.is_empty() => tenant_scope(call, &target_organization(call)?),
        _ => Ok(admin.scope()),
    }
}

/// An `OrganizationID` a document names must be the tenant it is (or is
/// created) in: objects do not move between tenants by an edit. Empty means
/// "unchanged".
pub fn check_named_organization(param: &str, named: &str, actual: &str) -> ApiResult<()> {
    if named.is_empty() || named == actual {
        return Ok(());
    }
    Err(ApiError::invalid_param(
        param,
        format!(
            "its OrganizationID '{named}' is not the organization it belongs to ('{actual}'); objects cannot move between organizations"
        ),
    ))
}

/// The caller's scope narrowed to one tenant, for objects of that tenant.
pub fn tenant_scope(call: &Call, organization: &str) -> ApiResult<TenantScope> {
    call.admin()?
        .scope()
        .narrowed_to(organization)
        .ok_or_else(|| ApiError::forbidden("This administrator may not act in another tenant"))
}
