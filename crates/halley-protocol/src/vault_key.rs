//! A Storage Vault's password, wrapped by the account key so that any device
//! of the account can open the vault while the profile (which the server and
//! its administrators read) holds only ciphertext. `docs/vault-keys.md`
//! describes who holds which key.
//!
//! `EncryptedEncryptionKey` is base64 of a 24-byte nonce followed by the
//! XChaCha20-Poly1305 ciphertext of the password, keyed by the 32-byte
//! account key, with the vault's ID as associated data (a wrapped key cannot
//! be moved to another vault). `EncryptionKeyEncryptionMethod` is
//! [`METHOD_ACCOUNT_KEY`].

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// Comet's own method numbers are private; Halley's starts at 100.
pub const METHOD_ACCOUNT_KEY: u64 = 100;

pub type AccountKey = [u8; 32];

pub fn new_account_key() -> AccountKey {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    key
}

pub fn encode_account_key(key: &AccountKey) -> String {
    BASE64.encode(key)
}

pub fn decode_account_key(text: &str) -> Result<AccountKey, String> {
    BASE64
        .decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| "the account key is not base64 of 32 bytes".to_string())
}

/// A new random vault password (base64 of 32 random bytes).
pub fn new_vault_password() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    BASE64.encode(bytes)
}

pub fn wrap(account_key: &AccountKey, vault_id: &str, password: &str) -> String {
    let mut nonce = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut nonce);
    let cipher = XChaCha20Poly1305::new(account_key.into());
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: password.as_bytes(),
                aad: vault_id.as_bytes(),
            },
        )
        .expect("XChaCha20-Poly1305 encryption of an in-memory buffer");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    BASE64.encode(out)
}

pub fn unwrap(account_key: &AccountKey, vault_id: &str, wrapped: &str) -> Result<String, String> {
    let bytes = BASE64
        .decode(wrapped.trim())
        .map_err(|_| "EncryptedEncryptionKey is not base64".to_string())?;
    if bytes.len() < 24 + 16 {
        return Err("EncryptedEncryptionKey is too short".into());
    }
    let (nonce, sealed) = bytes.split_at(24);
    let cipher = XChaCha20Poly1305::new(account_key.into());
    let plain = cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: vault_id.as_bytes(),
            },
        )
        .map_err(|_| format!("the vault key of {vault_id} does not open with this account key"))?;
    String::from_utf8(plain).map_err(|_| "the vault key is not text".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_password_opens_with_its_key_and_vault_only() {
        let key = new_account_key();
        let password = new_vault_password();
        let wrapped = wrap(&key, "vault-a", &password);
        assert_eq!(unwrap(&key, "vault-a", &wrapped).unwrap(), password);
        assert!(unwrap(&key, "vault-b", &wrapped).is_err());
        assert!(unwrap(&new_account_key(), "vault-a", &wrapped).is_err());
        let text = encode_account_key(&key);
        assert_eq!(decode_account_key(&text).unwrap(), key);
    }
}
