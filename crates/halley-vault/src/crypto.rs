//! Authenticated encryption of every stored object and the keyed chunk hash.
//!
//! XChaCha20-Poly1305 is used because its 192-bit random nonces stay safe for
//! any number of objects under one key (AES-GCM's 96-bit random nonces would
//! cap a long-lived repository at about 2^32 objects).

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use crate::error::{Result, VaultError};
use crate::id::Id;

/// Bytes added to every sealed object: 24-byte nonce before, 16-byte tag after.
pub const SEAL_OVERHEAD: usize = 24 + 16;

/// The repository secrets, stored only wrapped in key files.
#[derive(Clone, Serialize, Deserialize)]
pub struct MasterKeys {
    /// Key of the AEAD sealing every object.
    #[serde(with = "b64")]
    pub encrypt: [u8; 32],
    /// Key of the BLAKE3 keyed hash naming chunks, so names reveal nothing.
    #[serde(with = "b64")]
    pub chunk_id: [u8; 32],
    /// Seed of the FastCDC gear table, so cut points are repository-specific.
    pub chunker_seed: u64,
}

impl MasterKeys {
    /// Fresh random secrets for a new repository.
    pub fn generate() -> MasterKeys {
        MasterKeys {
            encrypt: rand::random(),
            chunk_id: rand::random(),
            chunker_seed: rand::random(),
        }
    }

    /// The identifier of a chunk or tree blob: BLAKE3 keyed with the repository secret.
    pub fn blob_id(&self, data: &[u8]) -> Id {
        Id(*blake3::keyed_hash(&self.chunk_id, data).as_bytes())
    }

    /// Seals `plain` so that it opens only with the same `aad`.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        seal_with(&self.encrypt, aad, plain)
    }

    /// Opens a sealed object; any change to it or to `aad` is an error.
    pub fn open(&self, what: &str, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        open_with(&self.encrypt, aad, sealed)
            .ok_or_else(|| VaultError::corrupt(what, "authentication failed"))
    }
}

/// Seals with an explicit key (also used to wrap the master keys).
pub fn seal_with(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let nonce: [u8; 24] = rand::random();
    let mut out = Vec::with_capacity(plain.len() + SEAL_OVERHEAD);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plain);
    // Encryption in place cannot fail for buffers below the 256 GiB AEAD limit,
    // and objects are far smaller; a failure would be a bug, so it panics loudly.
    let tag = cipher
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), aad, &mut out[24..])
        .expect("XChaCha20-Poly1305 encryption of an in-memory buffer");
    out.extend_from_slice(&tag);
    out
}

/// Opens with an explicit key; `None` when the data or `aad` was altered.
pub fn open_with(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < SEAL_OVERHEAD {
        return None;
    }
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let (nonce, rest) = sealed.split_at(24);
    let (body, tag) = rest.split_at(rest.len() - 16);
    let mut buf = body.to_vec();
    cipher
        .decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            aad,
            &mut buf,
            Tag::from_slice(tag),
        )
        .ok()?;
    Some(buf)
}

/// Serde helper: 32-byte arrays as standard base64.
pub(crate) mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let v = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let k = MasterKeys::generate();
        let sealed = k.seal(b"aad", b"hello");
        assert_eq!(k.open("x", b"aad", &sealed).unwrap(), b"hello");
        assert!(k.open("x", b"other", &sealed).is_err());
        let mut bad = sealed.clone();
        bad[30] ^= 1;
        assert!(k.open("x", b"aad", &bad).is_err());
        assert!(k.open("x", b"aad", &sealed[..10]).is_err());
    }
}
