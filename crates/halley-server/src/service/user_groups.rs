//! User groups as objects other objects name: a profile's `GroupID` must be a
//! group of the profile's own tenant. (The group endpoints themselves are in
//! `api/user_groups.rs`.)

use halley_api::types::UserProfileConfig;

use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

/// The document kind of user groups.
pub const KIND: &str = "user-group";

/// Refuses a profile whose `GroupID` names no group of its tenant; another
/// tenant's group answers exactly as a missing one.
pub async fn check_named_group(
    state: &AppState,
    scope: &TenantScope,
    profile: &UserProfileConfig,
) -> ApiResult<()> {
    if profile.group_id.is_empty() {
        return Ok(());
    }
    let found = match scope.narrowed_to(&profile.organization_id) {
        Some(tenant) => state
            .store
            .document_get(&tenant, KIND, &profile.group_id)
            .await?
            .is_some(),
        None => false,
    };
    if found {
        Ok(())
    } else {
        Err(ApiError::invalid_param(
            "ProfileData",
            format!(
                "GroupID '{}' names no user group of this account's organization",
                profile.group_id
            ),
        ))
    }
}
