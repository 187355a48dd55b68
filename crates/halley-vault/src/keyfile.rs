//! Key files: the master keys wrapped by a key derived from the vault
//! password with argon2id. A repository may hold several (one per password).

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use crate::crypto::{self, MasterKeys};
use crate::error::{Result, VaultError};

/// Associated data of the wrapped master keys.
const KEY_AAD: &[u8] = b"halley-vault key v1";

/// argon2id cost parameters, stored in each key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: about a quarter second on a current core.
    fn default() -> Self {
        KdfParams {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests only: they protect nothing.
    pub fn insecure_for_tests() -> Self {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn derive(&self, password: &[u8], salt: &[u8]) -> Result<[u8; 32]> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| VaultError::corrupt("key file", format!("argon2 parameters: {e}")))?;
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password, salt, &mut out)
            .map_err(|e| VaultError::corrupt("key file", format!("argon2: {e}")))?;
        Ok(out)
    }
}

/// The stored form of `keys/<id>` (plain JSON; only `wrapped` is secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyFile {
    /// Always `argon2id`.
    pub kdf: String,
    /// Cost parameters.
    #[serde(flatten)]
    pub params: KdfParams,
    /// 32-byte salt, base64.
    #[serde(with = "crypto::b64")]
    pub salt: [u8; 32],
    /// `nonce || XChaCha20-Poly1305(JSON MasterKeys) || tag`, base64.
    pub wrapped: String,
    /// When the key was made (Unix seconds).
    pub created: i64,
}

impl KeyFile {
    /// Wraps `keys` under `password`.
    pub fn wrap(keys: &MasterKeys, password: &str, params: KdfParams) -> Result<KeyFile> {
        use base64::Engine;
        let salt: [u8; 32] = rand::random();
        let kek = params.derive(password.as_bytes(), &salt)?;
        let plain = serde_json::to_vec(keys).map_err(|e| VaultError::invalid("master keys", e))?;
        let sealed = crypto::seal_with(&kek, KEY_AAD, &plain);
        Ok(KeyFile {
            kdf: "argon2id".into(),
            params,
            salt,
            wrapped: base64::engine::general_purpose::STANDARD.encode(sealed),
            created: chrono::Utc::now().timestamp(),
        })
    }

    /// The master keys, or `None` when `password` is not this key's password.
    pub fn unwrap_keys(&self, password: &str) -> Result<Option<MasterKeys>> {
        use base64::Engine;
        if self.kdf != "argon2id" {
            return Err(VaultError::corrupt(
                "key file",
                format!("unknown kdf {:?}", self.kdf),
            ));
        }
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&self.wrapped)
            .map_err(|e| VaultError::corrupt("key file", e))?;
        let kek = self.params.derive(password.as_bytes(), &self.salt)?;
        match crypto::open_with(&kek, KEY_AAD, &sealed) {
            None => Ok(None),
            Some(plain) => serde_json::from_slice(&plain)
                .map(Some)
                .map_err(|e| VaultError::corrupt("key file", e)),
        }
    }
}
