//! The index: which pack holds each blob, at which offset.
//!
//! Each backup writes its own index files (`index/<id>`), so concurrent
//! writers never rewrite a shared file; readers take the union. Prune writes
//! one complete index and then deletes the ones it replaces.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::id::Id;

/// What a blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobKind {
    /// A chunk of file content.
    Data,
    /// A serialized directory ([`crate::tree::Tree`]).
    Tree,
}

impl BlobKind {
    /// The associated data binding a sealed blob to its kind and id, so a blob
    /// moved or swapped inside a pack fails authentication.
    pub fn aad(self, id: &Id) -> Vec<u8> {
        let mut aad = Vec::with_capacity(48);
        aad.extend_from_slice(match self {
            BlobKind::Data => b"halley-blob data ",
            BlobKind::Tree => b"halley-blob tree ",
        });
        aad.extend_from_slice(&id.0);
        aad
    }
}

/// One blob inside a pack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackedBlob {
    /// The blob's keyed hash.
    pub id: Id,
    /// Data or tree.
    pub kind: BlobKind,
    /// Byte offset of the sealed blob in the pack file.
    pub offset: u64,
    /// Length of the sealed blob.
    pub length: u32,
    /// Length of the plaintext (before compression).
    pub raw_length: u32,
}

/// The blobs of one pack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackEntry {
    /// The pack file's id (BLAKE3 of its bytes).
    pub id: Id,
    /// Its blobs, in file order.
    pub blobs: Vec<PackedBlob>,
}

/// The stored form of `index/<id>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexFile {
    /// The packs this file describes.
    pub packs: Vec<PackEntry>,
}

/// Where a blob is, as the engine looks it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLocation {
    /// The pack file.
    pub pack: Id,
    /// Data or tree.
    pub kind: BlobKind,
    /// Offset of the sealed blob.
    pub offset: u64,
    /// Sealed length.
    pub length: u32,
    /// Plaintext length.
    pub raw_length: u32,
}

/// The union of all index files, in memory.
#[derive(Debug, Default, Clone)]
pub struct Index {
    blobs: HashMap<Id, BlobLocation>,
    packs: HashMap<Id, Vec<PackedBlob>>,
}

impl Index {
    /// Adds the packs of one index file. A blob stored twice (two concurrent
    /// writers) keeps its first location; both copies are valid.
    pub fn add_file(&mut self, file: IndexFile) {
        for pack in file.packs {
            self.add_pack(pack);
        }
    }

    /// Adds one pack.
    pub fn add_pack(&mut self, pack: PackEntry) {
        for b in &pack.blobs {
            self.blobs.entry(b.id).or_insert(BlobLocation {
                pack: pack.id,
                kind: b.kind,
                offset: b.offset,
                length: b.length,
                raw_length: b.raw_length,
            });
        }
        self.packs.insert(pack.id, pack.blobs);
    }

    /// Where a blob is.
    pub fn get(&self, id: &Id) -> Option<&BlobLocation> {
        self.blobs.get(id)
    }

    /// Whether a blob is stored.
    pub fn contains(&self, id: &Id) -> bool {
        self.blobs.contains_key(id)
    }

    /// Every indexed pack with its blobs.
    pub fn packs(&self) -> &HashMap<Id, Vec<PackedBlob>> {
        &self.packs
    }

    /// Number of distinct blobs.
    pub fn blob_count(&self) -> usize {
        self.blobs.len()
    }
}
