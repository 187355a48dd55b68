//! Which tenant a call acts in: the caller's own, or for a top-level
//! administrator the `TargetOrganization` it names.

use crate::http::{ApiError, ApiResult, Call};

/// The tenant a new object goes to.
pub fn target_organization(call: &Call) -> ApiResult<String> {
    let admin = call.admin()?;
    match call.params.opt_str("TargetOrganization") {
        Some(org) if !org.is_empty() => {
            if !admin.organization_id.is_empty() && org != admin.organization_id {
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
        _ => Ok(admin.organization_id.clone()),
    }
}

/// The filter of a list call: a tenant administrator sees its own tenant; a
/// top-level one every tenant, or the one `TargetOrganization` names.
pub fn list_scope(call: &Call) -> ApiResult<Option<String>> {
    let admin = call.admin()?;
    if !admin.organization_id.is_empty() {
        return Ok(Some(admin.organization_id.clone()));
    }
    match call.params.opt_str("TargetOrganization") {
        Some(org) if !org.is_empty() => Ok(Some(target_organization(call)?)),
        _ => Ok(None),
    }
}
