//! Opening a Storage Vault of the profile. The vault's password lives in the
//! profile wrapped by the account key (`docs/vault-keys.md`). A vault that
//! has no key yet is given one: the agent offers a new wrapped password to
//! the server, which keeps the first key offered and answers with it, and
//! the vault is initialised with whatever key the server kept.

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use halley_api::types::{DestinationConfig, DestinationLocation};
use halley_protocol::device::{Call, VaultKeyStored};
use halley_protocol::vault_key::{self, AccountKey, METHOD_ACCOUNT_KEY};
use halley_vault::backend::Backend;
use halley_vault::{InitOptions, Repository, VaultError};
use std::sync::Arc;

use crate::session::Session;
use crate::util::now_unix;

/// The location part of a vault's configuration.
pub fn location_of(destination: &DestinationConfig) -> Result<DestinationLocation> {
    let value = serde_json::to_value(destination)?;
    Ok(serde_json::from_value(value)?)
}

pub fn backend_of(
    destination_id: &str,
    destination: &DestinationConfig,
) -> Result<Arc<dyn Backend>> {
    let location = location_of(destination)?;
    halley_protocol::location::open(&location).map_err(|why| {
        anyhow!(
            "Storage Vault {destination_id} ({}): {why}",
            destination.description
        )
    })
}

/// Opens a vault that has been backed up into, to read it.
pub async fn open_existing(session: &Session, vault_id: &str) -> Result<Repository> {
    let profile = session.profile().await?;
    let destination = profile
        .destinations
        .get(vault_id)
        .ok_or_else(|| anyhow!("the account has no Storage Vault '{vault_id}'"))?;
    if destination.encrypted_encryption_key.is_empty() {
        return Err(anyhow!(
            "Storage Vault '{vault_id}' has never been backed up into"
        ));
    }
    let account_key = vault_key::decode_account_key(&session.state().account_key)
        .map_err(|why| anyhow!("{why}: log in again"))?;
    open(session, &account_key, vault_id, destination).await
}

/// Opens (initialising it on first use) the vault `destination_id`.
pub async fn open(
    session: &Session,
    account_key: &AccountKey,
    destination_id: &str,
    destination: &DestinationConfig,
) -> Result<Repository> {
    let backend = backend_of(destination_id, destination)?;
    let stored = if destination.encrypted_encryption_key.is_empty() {
        let password = vault_key::new_vault_password();
        let offered = vault_key::wrap(account_key, destination_id, &password);
        session
            .request::<VaultKeyStored>(Call::VaultKey {
                destination_id: destination_id.to_string(),
                encrypted_encryption_key: offered,
                encryption_key_encryption_method: METHOD_ACCOUNT_KEY,
                repo_init_timestamp: now_unix(),
            })
            .await
            .context("storing the new vault's key")?
    } else {
        VaultKeyStored {
            encrypted_encryption_key: destination.encrypted_encryption_key.clone(),
            encryption_key_encryption_method: destination.encryption_key_encryption_method,
            repo_init_timestamp: destination.repo_init_timestamp,
        }
    };
    if stored.encryption_key_encryption_method != METHOD_ACCOUNT_KEY {
        return Err(anyhow!(
            "Storage Vault {destination_id}: its key uses encryption method {}, which this agent cannot open",
            stored.encryption_key_encryption_method
        ));
    }
    let password = vault_key::unwrap(
        account_key,
        destination_id,
        &stored.encrypted_encryption_key,
    )
    .map_err(|why| anyhow!("Storage Vault {destination_id}: {why}"))?;
    // Two jobs of this agent must not both initialise the same new vault.
    static OPENING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = OPENING.lock().await;
    let id = destination_id.to_string();
    tokio::task::spawn_blocking(move || open_or_init(backend, &password, &id)).await?
}

fn open_or_init(backend: Arc<dyn Backend>, password: &str, id: &str) -> Result<Repository> {
    // Another device may be initialising the vault with the same key right
    // now; a few short retries cover that.
    for attempt in 0..5 {
        match Repository::open(backend.clone(), password) {
            Ok(repo) => return Ok(repo),
            Err(VaultError::NotARepository(_)) => {
                match Repository::init(backend.clone(), password, InitOptions::default()) {
                    Ok(repo) => return Ok(repo),
                    Err(VaultError::AlreadyExists(_)) if attempt < 4 => {
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    Err(err) => return Err(anyhow!("Storage Vault {id}: initialising: {err}")),
                }
            }
            Err(err) => return Err(anyhow!("Storage Vault {id}: {err}")),
        }
    }
    Err(anyhow!(
        "Storage Vault {id}: cannot be opened or initialised"
    ))
}

/// The bytes a vault holds now.
pub fn measure(backend: &dyn Backend) -> Result<u64> {
    Ok(backend.list("")?.iter().map(|listed| listed.size).sum())
}
