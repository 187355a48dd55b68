//! Rebuilding the index from the pack headers, for when index files are
//! damaged or lost: every pack describes its own blobs, so nothing stored in
//! a readable pack is lost with the index.

use crate::error::{Result, VaultError};
use crate::id::Id;
use crate::index::{IndexFile, PackEntry};
use crate::lock;
use crate::pack;
use crate::repo::{FileKind, Repository};

/// What a rebuild found.
#[derive(Debug, Clone, Default)]
pub struct RepairSummary {
    /// Packs whose headers were read into the new index.
    pub packs_indexed: u64,
    /// Blobs in the new index.
    pub blobs: u64,
    /// Packs that could not be read (left in place, not indexed).
    pub problems: Vec<String>,
}

/// Writes one index covering every readable pack, then deletes the old
/// index files (under an exclusive lock).
pub fn rebuild_index(repo: &Repository) -> Result<RepairSummary> {
    let _lock = lock::acquire(repo, true, "repair-index")?;
    let old = repo.list_ids(FileKind::Index)?;
    let mut summary = RepairSummary::default();
    let mut packs = Vec::new();
    for listed in repo.backend().list("data/")? {
        let Some(name) = listed.key.rsplit('/').next() else {
            continue;
        };
        let id: Id = match name.parse() {
            Ok(id) => id,
            Err(_) => continue,
        };
        match read_pack_header(repo, &listed.key, listed.size) {
            Ok(blobs) => {
                summary.packs_indexed += 1;
                summary.blobs += blobs.len() as u64;
                packs.push(PackEntry { id, blobs });
            }
            Err(e) => summary.problems.push(format!("{}: {e}", listed.key)),
        }
    }
    let (new_id, _) = repo.save_file_sized(FileKind::Index, &IndexFile { packs })?;
    for id in old {
        if id != new_id {
            repo.backend()
                .delete(&format!("{}{}", FileKind::Index.dir(), id.to_hex()))?;
        }
    }
    Ok(summary)
}

/// Reads only the tail of a pack: its header length, then its header.
fn read_pack_header(
    repo: &Repository,
    key: &str,
    size: u64,
) -> Result<Vec<crate::index::PackedBlob>> {
    if size < 4 {
        return Err(VaultError::corrupt(key.to_string(), "too short"));
    }
    let len_bytes = repo.backend().get_range(key, size - 4, 4)?;
    let mut len = [0u8; 4];
    len.copy_from_slice(&len_bytes);
    let len = u64::from(u32::from_le_bytes(len));
    if len + 4 > size {
        return Err(VaultError::corrupt(
            key.to_string(),
            "header length out of range",
        ));
    }
    let tail = repo.backend().get_range(key, size - 4 - len, len + 4)?;
    pack::read_header(repo.keys(), key, &tail)
}
