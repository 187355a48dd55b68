//! Pack files: many sealed blobs in one stored object, so object stores see
//! few, large files.
//!
//! Layout: `blob* header header_length`, where each blob is sealed on its own
//! (so one can be read with a ranged GET), `header` is the sealed JSON list of
//! [`PackedBlob`]s (so the index can be rebuilt from the packs alone), and
//! `header_length` is its length as u32 little-endian.

use crate::compress::{self, Compression};
use crate::crypto::MasterKeys;
use crate::error::{Result, VaultError};
use crate::id::Id;
use crate::index::{BlobKind, PackEntry, PackedBlob};

/// Associated data of a pack header.
const HEADER_AAD: &[u8] = b"halley-pack header";

/// A pack being filled by one writer thread.
#[derive(Default)]
pub struct PackBuilder {
    buf: Vec<u8>,
    blobs: Vec<PackedBlob>,
}

impl PackBuilder {
    /// Compresses, seals and appends one blob.
    pub fn add(
        &mut self,
        keys: &MasterKeys,
        comp: Compression,
        id: Id,
        kind: BlobKind,
        raw: &[u8],
    ) {
        let sealed = keys.seal(&kind.aad(&id), &comp.encode(raw));
        self.blobs.push(PackedBlob {
            id,
            kind,
            offset: self.buf.len() as u64,
            length: sealed.len() as u32,
            raw_length: raw.len() as u32,
        });
        self.buf.extend_from_slice(&sealed);
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no blob was added.
    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    /// Appends the header and returns the file bytes with their index entry.
    pub fn finish(mut self, keys: &MasterKeys) -> (Vec<u8>, PackEntry) {
        // Serializing plain structs to JSON cannot fail.
        let header = serde_json::to_vec(&self.blobs).unwrap_or_default();
        let sealed = keys.seal(HEADER_AAD, &Compression::metadata().encode(&header));
        self.buf.extend_from_slice(&sealed);
        self.buf
            .extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        let id = Id::of_file(&self.buf);
        (
            self.buf,
            PackEntry {
                id,
                blobs: self.blobs,
            },
        )
    }
}

/// Reads the blob list of a whole pack file.
pub fn read_header(keys: &MasterKeys, name: &str, file: &[u8]) -> Result<Vec<PackedBlob>> {
    let what = format!("pack {name}");
    if file.len() < 4 {
        return Err(VaultError::corrupt(what, "too short"));
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(&file[file.len() - 4..]);
    let len = u32::from_le_bytes(len) as usize;
    let end = file.len() - 4;
    if len > end {
        return Err(VaultError::corrupt(what, "header length out of range"));
    }
    let plain = keys.open(&what, HEADER_AAD, &file[end - len..end])?;
    let json = compress::decode(&what, plain)?;
    serde_json::from_slice(&json).map_err(|e| VaultError::corrupt(what, e))
}

/// Opens one sealed blob and checks that its content hashes to its id.
pub fn open_blob(keys: &MasterKeys, id: &Id, kind: BlobKind, sealed: &[u8]) -> Result<Vec<u8>> {
    let what = format!("{} blob {}", kind_name(kind), id.short());
    let plain = keys.open(&what, &kind.aad(id), sealed)?;
    let data = compress::decode(&what, plain)?;
    if keys.blob_id(&data) != *id {
        return Err(VaultError::corrupt(what, "content does not match its id"));
    }
    Ok(data)
}

fn kind_name(kind: BlobKind) -> &'static str {
    match kind {
        BlobKind::Data => "data",
        BlobKind::Tree => "tree",
    }
}
