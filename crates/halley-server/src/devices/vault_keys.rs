//! `vault_key`: a device initialised a Storage Vault and offers its wrapped
//! password. The first offer is kept in the vault's `DestinationConfig`
//! (`EncryptedEncryptionKey`, `EncryptionKeyEncryptionMethod`,
//! `RepoInitTimestamp`); later ones change nothing, and every device is
//! answered with what the profile holds, so all devices use one key.

use halley_protocol::device::VaultKeyStored;

use super::jobs::Owner;
use crate::http::{quoted, ApiError, ApiResult};
use crate::service::users;
use crate::state::AppState;

pub async fn store(
    state: &AppState,
    owner: &Owner<'_>,
    destination_id: &str,
    offered: VaultKeyStored,
) -> ApiResult<VaultKeyStored> {
    if offered.encrypted_encryption_key.is_empty() {
        return Err(ApiError::bad_request("encrypted_encryption_key is empty"));
    }
    let scope = owner.scope();
    users::edit(state, &scope, owner.username, &owner.actor(), |profile| {
        if let Some(vault) = profile.destinations.get_mut(destination_id) {
            if vault.encrypted_encryption_key.is_empty() {
                vault.encrypted_encryption_key = offered.encrypted_encryption_key.clone();
                vault.encryption_key_encryption_method = offered.encryption_key_encryption_method;
                vault.repo_init_timestamp = offered.repo_init_timestamp;
            }
        }
    })
    .await?;
    let (profile, _) = users::load(state, &scope, owner.username).await?;
    let vault = profile.destinations.get(destination_id).ok_or_else(|| {
        ApiError::bad_request(format!(
            "the account has no Storage Vault {}",
            quoted(destination_id)
        ))
    })?;
    Ok(VaultKeyStored {
        encrypted_encryption_key: vault.encrypted_encryption_key.clone(),
        encryption_key_encryption_method: vault.encryption_key_encryption_method,
        repo_init_timestamp: vault.repo_init_timestamp,
    })
}
