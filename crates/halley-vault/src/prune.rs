//! Prune: delete the data no snapshot references.
//!
//! Under an exclusive lock: collect every blob the snapshots reference; packs
//! with no such blob are deleted, packs with some are repacked (their live
//! blobs copied into new packs), and packs no index lists (left by an
//! interrupted backup) are deleted. The order keeps every step crash-safe:
//! new packs, then one complete new index, then deleting the old index files,
//! then deleting packs. A crash at any point leaves a repository where every
//! snapshot is complete; leftovers go at the next prune.

use std::collections::{HashMap, HashSet};

use crate::browse;
use crate::compress::Compression;
use crate::error::{Result, VaultError};
use crate::id::Id;
use crate::index::{BlobKind, IndexFile, PackEntry};
use crate::lock;
use crate::pack::PackBuilder;
use crate::repo::{pack_key, FileKind, Repository};
use crate::tree::NodeKind;

/// What a prune did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneSummary {
    /// Packs kept as they were.
    pub packs_kept: u64,
    /// Packs deleted because nothing in them is used.
    pub packs_deleted: u64,
    /// Packs whose live blobs were copied into new packs.
    pub packs_repacked: u64,
    /// Packs written.
    pub packs_written: u64,
    /// Packs no index listed (interrupted backups), deleted.
    pub unindexed_packs_deleted: u64,
    /// Blobs dropped.
    pub blobs_removed: u64,
    /// Bytes of pack files deleted minus bytes written.
    pub bytes_freed: i64,
}

/// Every blob the snapshots reference. A snapshot or tree that cannot be read
/// stops prune: deleting data while unsure what is used could destroy it.
pub fn used_blobs(repo: &Repository, index: &crate::index::Index) -> Result<HashSet<Id>> {
    let mut used = HashSet::new();
    for s in repo.snapshots()? {
        used.insert(s.snapshot.tree);
        browse::walk(
            repo,
            index,
            &s.snapshot.tree,
            &[],
            &mut |v| {
                match v.node.kind {
                    NodeKind::File => used.extend(v.node.content.iter().copied()),
                    NodeKind::Dir => used.extend(v.node.subtree),
                    _ => {}
                }
                Ok(())
            },
            &mut |path, e| {
                Err(VaultError::corrupt(
                    format!("snapshot {} at {path}", s.id.short()),
                    e,
                ))
            },
        )?;
    }
    Ok(used)
}

/// Prunes the repository.
pub fn prune(repo: &Repository) -> Result<PruneSummary> {
    let _lock = lock::acquire(repo, true, "prune")?;
    let index_files = repo.list_ids(FileKind::Index)?;
    let index = repo.load_index()?;
    let used = used_blobs(repo, &index)?;
    let stored: HashMap<String, u64> = repo
        .backend()
        .list("data/")?
        .into_iter()
        .map(|l| (l.key, l.size))
        .collect();

    let mut summary = PruneSummary::default();
    let mut keep: Vec<PackEntry> = Vec::new();
    let mut delete: Vec<Id> = Vec::new();
    let mut repack: Vec<(Id, Vec<(Id, BlobKind)>)> = Vec::new();
    for (pack_id, blobs) in index.packs() {
        // A blob stored twice counts only where the index points.
        let live: Vec<(Id, BlobKind)> = blobs
            .iter()
            .filter(|b| used.contains(&b.id) && index.get(&b.id).map(|l| l.pack) == Some(*pack_id))
            .map(|b| (b.id, b.kind))
            .collect();
        summary.blobs_removed += (blobs.len() - live.len()) as u64;
        if live.len() == blobs.len() {
            keep.push(PackEntry {
                id: *pack_id,
                blobs: blobs.clone(),
            });
        } else if live.is_empty() {
            delete.push(*pack_id);
        } else {
            repack.push((*pack_id, live));
        }
    }

    let mut pack = PackBuilder::default();
    let target = repo.config().pack_size as usize;
    let mut written: Vec<PackEntry> = Vec::new();
    let mut write_pack = |pack: PackBuilder, summary: &mut PruneSummary| -> Result<()> {
        let (bytes, entry) = pack.finish(repo.keys());
        repo.backend().put(&pack_key(&entry.id), &bytes)?;
        summary.packs_written += 1;
        summary.bytes_freed -= bytes.len() as i64;
        written.push(entry);
        Ok(())
    };
    for (_, live) in &repack {
        for (id, kind) in live {
            let data = repo.read_blob(&index, id)?;
            let comp = match kind {
                BlobKind::Tree => Compression::metadata(),
                BlobKind::Data => Compression::default_level(),
            };
            pack.add(repo.keys(), comp, *id, *kind, &data);
            if pack.len() >= target {
                write_pack(std::mem::take(&mut pack), &mut summary)?;
            }
        }
    }
    if !pack.is_empty() {
        write_pack(pack, &mut summary)?;
    }
    summary.packs_kept = keep.len() as u64;
    summary.packs_deleted = delete.len() as u64;
    summary.packs_repacked = repack.len() as u64;

    let changed = !delete.is_empty() || !repack.is_empty() || index_files.len() > 1;
    if changed {
        keep.extend(written);
        let (new_index, _) = repo.save_file_sized(FileKind::Index, &IndexFile { packs: keep })?;
        for id in &index_files {
            if *id != new_index {
                repo.backend()
                    .delete(&format!("{}{}", FileKind::Index.dir(), id.to_hex()))?;
            }
        }
    }
    let indexed: HashSet<String> = index.packs().keys().map(pack_key).collect();
    for id in delete.iter().chain(repack.iter().map(|(id, _)| id)) {
        let key = pack_key(id);
        summary.bytes_freed += stored.get(&key).copied().unwrap_or(0) as i64;
        repo.backend().delete(&key)?;
    }
    // `stored` was listed before this prune wrote its packs, so new packs
    // are never taken for leftovers here.
    for (key, size) in &stored {
        if !indexed.contains(key) {
            summary.unindexed_packs_deleted += 1;
            summary.bytes_freed += *size as i64;
            repo.backend().delete(key)?;
        }
    }
    repo.backend().clean_temporary()?;
    Ok(summary)
}
