//! What a profile's policy (its `Policy` copy) fixes. Two kinds of lock:
//!
//! - values the policy enforces, applied on every save whoever edits
//!   (`EnforceStorageVaultRetention`);
//! - changes the policy forbids the end user to make on their own account
//!   (`Prevent*`, restricted Storage Vault providers and Protected Item
//!   engines). Administrators are not held to these, as in Comet.

use std::collections::BTreeMap;

use halley_api::types::{UserPolicy, UserProfileConfig};
use serde::Serialize;

use crate::http::{ApiError, ApiResult};

/// Writes the values the policy enforces into the profile.
pub fn apply(profile: &mut UserProfileConfig) {
    if profile.policy.enforce_storage_vault_retention {
        let retention = profile.policy.default_storage_vault_retention.clone();
        for destination in profile.destinations.values_mut() {
            destination.default_retention = retention.clone();
        }
    }
}

/// Refuses an end user's edit (`stored` → `edited`) that touches what their
/// policy locks, naming the locked field and the policy setting.
pub fn check_self_edit(stored: &UserProfileConfig, edited: &UserProfileConfig) -> ApiResult<()> {
    let policy = &stored.policy;
    if policy.prevent_change_account_name && edited.account_name != stored.account_name {
        return Err(locked("AccountName", "PreventChangeAccountName"));
    }
    if policy.prevent_change_email_settings
        && (edited.emails != stored.emails
            || edited.send_email_reports != stored.send_email_reports
            || differs(
                &edited.override_email_settings,
                &stored.override_email_settings,
            ))
    {
        return Err(locked(
            "Emails, SendEmailReports and OverrideEmailSettings",
            "PreventChangeEmailSettings",
        ));
    }
    check_vaults(policy, stored, edited)?;
    check_protected_items(policy, stored, edited)
}

/// Refuses an end user's own password change when the policy forbids it.
pub fn check_password_change(profile: &UserProfileConfig) -> ApiResult<()> {
    if profile.policy.prevent_change_account_password {
        return Err(locked(
            "the account password",
            "PreventChangeAccountPassword",
        ));
    }
    Ok(())
}

fn check_vaults(
    policy: &UserPolicy,
    stored: &UserProfileConfig,
    edited: &UserProfileConfig,
) -> ApiResult<()> {
    let changes = changes(&stored.destinations, &edited.destinations);
    if policy.prevent_add_custom_storage_vault && !changes.added.is_empty() {
        return Err(locked_item(
            "adding Storage Vault",
            &changes.added,
            "PreventAddCustomStorageVault",
        ));
    }
    if policy.prevent_edit_storage_vault && !changes.changed.is_empty() {
        return Err(locked_item(
            "editing Storage Vault",
            &changes.changed,
            "PreventEditStorageVault",
        ));
    }
    if policy.prevent_delete_storage_vault && !changes.removed.is_empty() {
        return Err(locked_item(
            "deleting Storage Vault",
            &changes.removed,
            "PreventDeleteStorageVault",
        ));
    }
    let providers = &policy.storage_vault_providers;
    for id in changes.added.iter().chain(&changes.changed) {
        let vault = &edited.destinations[id];
        if providers.should_restrict_provider_list
            && !providers
                .allowed_providers_when_restricted
                .contains(&vault.destination_type)
        {
            return Err(ApiError::forbidden(format!(
                "Storage Vault '{id}' is of type {}, which your policy does not allow (StorageVaultProviders)",
                vault.destination_type
            )));
        }
        let stored_retention = stored.destinations.get(id).map(|v| &v.default_retention);
        if policy.enforce_storage_vault_retention
            && stored_retention.is_some_and(|r| differs(r, &vault.default_retention))
        {
            return Err(locked_item(
                "changing the retention of Storage Vault",
                std::slice::from_ref(id),
                "EnforceStorageVaultRetention",
            ));
        }
    }
    Ok(())
}

fn check_protected_items(
    policy: &UserPolicy,
    stored: &UserProfileConfig,
    edited: &UserProfileConfig,
) -> ApiResult<()> {
    let changes = changes(&stored.sources, &edited.sources);
    if policy.prevent_new_protected_item && !changes.added.is_empty() {
        return Err(locked_item(
            "adding Protected Item",
            &changes.added,
            "PreventNewProtectedItem",
        ));
    }
    if policy.prevent_edit_protected_item && !changes.changed.is_empty() {
        return Err(locked_item(
            "editing Protected Item",
            &changes.changed,
            "PreventEditProtectedItem",
        ));
    }
    if policy.prevent_delete_protected_item && !changes.removed.is_empty() {
        return Err(locked_item(
            "deleting Protected Item",
            &changes.removed,
            "PreventDeleteProtectedItem",
        ));
    }
    let engines = &policy.protected_item_engine_types;
    for id in changes.added.iter().chain(&changes.changed) {
        let item = &edited.sources[id];
        if engines.should_restrict_engine_type_list
            && !engines
                .allowed_engine_type_when_restricted
                .contains(&item.engine)
        {
            return Err(ApiError::forbidden(format!(
                "Protected Item '{id}' uses the engine '{}', which your policy does not allow (ProtectedItemEngineTypes)",
                item.engine
            )));
        }
        let stored_retention = stored
            .sources
            .get(id)
            .map(|s| &s.override_destination_retention);
        let retention_changed = match stored_retention {
            Some(stored) => differs(stored, &item.override_destination_retention),
            None => !item.override_destination_retention.is_empty(),
        };
        if policy.prevent_protected_item_retention && retention_changed {
            return Err(locked_item(
                "setting the retention of Protected Item",
                std::slice::from_ref(id),
                "PreventProtectedItemRetention",
            ));
        }
    }
    Ok(())
}

/// Which keys of a map an edit added, changed and removed.
struct Changes {
    added: Vec<String>,
    changed: Vec<String>,
    removed: Vec<String>,
}

fn changes<T: Serialize>(before: &BTreeMap<String, T>, after: &BTreeMap<String, T>) -> Changes {
    Changes {
        added: after
            .keys()
            .filter(|id| !before.contains_key(*id))
            .cloned()
            .collect(),
        changed: after
            .iter()
            .filter(|(id, value)| before.get(*id).is_some_and(|old| differs(old, *value)))
            .map(|(id, _)| id.clone())
            .collect(),
        removed: before
            .keys()
            .filter(|id| !after.contains_key(*id))
            .cloned()
            .collect(),
    }
}

/// Compares by wire form, so values a client echoes back unchanged (including
/// fields Halley does not know) count as unchanged.
fn differs<T: Serialize>(a: &T, b: &T) -> bool {
    serde_json::to_value(a).ok() != serde_json::to_value(b).ok()
}

fn locked(what: &str, setting: &str) -> ApiError {
    ApiError::forbidden(format!(
        "Your policy does not allow changing {what} ({setting})"
    ))
}

fn locked_item(action: &str, ids: &[String], setting: &str) -> ApiError {
    ApiError::forbidden(format!(
        "Your policy does not allow {action} '{}' ({setting})",
        ids.join("', '")
    ))
}
