//! Verify: is every snapshot complete and every stored byte authentic?
//!
//! Quick: index files and snapshots decrypt, every indexed pack exists and
//! is long enough, every tree decrypts, every referenced blob is indexed.
//! Deep: also read every pack, check its name is the hash of its bytes,
//! compare its header with the index, and authenticate and hash every blob.
//! Problems are collected, not fatal, and each damaged blob is traced to the
//! snapshot files it affects, so the rest can still be restored.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::browse;
use crate::error::Result;
use crate::id::Id;
use crate::index::{Index, IndexFile, PackedBlob};
use crate::pack;
use crate::progress::{Progress, ProgressFn};
use crate::repo::{pack_key, FileKind, Repository};
use crate::snapshot::Snapshot;
use crate::tree::NodeKind;

/// A snapshot entry that cannot be restored intact.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AffectedEntry {
    /// The snapshot.
    pub snapshot: Id,
    /// Its path in the snapshot.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// The outcome of a verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Problems found in stored files.
    pub problems: Vec<String>,
    /// Entries of snapshots that cannot be restored intact.
    pub affected: BTreeSet<AffectedEntry>,
    /// Snapshots checked.
    pub snapshots: u64,
    /// Packs checked.
    pub packs: u64,
    /// Blobs authenticated (deep only).
    pub blobs_read: u64,
    /// Packs no index lists (left by interrupted backups; `prune` removes
    /// them). Not a problem.
    pub unindexed_packs: u64,
}

impl VerifyReport {
    /// No problem found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.affected.is_empty()
    }
}

/// Verifies the repository; `deep` reads every byte.
pub fn verify(repo: &Repository, deep: bool, progress: ProgressFn<'_>) -> Result<VerifyReport> {
    let started = std::time::Instant::now();
    let mut report = VerifyReport::default();
    let mut index = Index::default();
    for id in repo.list_ids(FileKind::Index)? {
        match repo.load_file::<IndexFile>(FileKind::Index, &id) {
            Ok(f) => index.add_file(f),
            Err(e) => report.problems.push(format!("index {}: {e}", id.short())),
        }
    }
    let stored: HashMap<String, u64> = repo
        .backend()
        .list("data/")?
        .into_iter()
        .map(|l| (l.key, l.size))
        .collect();
    let mut bad_blobs: HashMap<Id, String> = HashMap::new();
    let mut indexed_keys = HashSet::new();
    let total: u64 = stored.values().sum();
    let mut done = 0u64;
    let mut packs: Vec<(&Id, &Vec<PackedBlob>)> = index.packs().iter().collect();
    packs.sort_by_key(|(id, _)| **id);
    for (pack_id, blobs) in packs {
        let key = pack_key(pack_id);
        indexed_keys.insert(key.clone());
        report.packs += 1;
        let mark_all = |bad: &mut HashMap<Id, String>, why: &str| {
            for b in blobs {
                bad.entry(b.id)
                    .or_insert_with(|| format!("pack {}: {why}", pack_id.short()));
            }
        };
        let Some(size) = stored.get(&key) else {
            report
                .problems
                .push(format!("pack {} is missing", pack_id.short()));
            mark_all(&mut bad_blobs, "missing");
            continue;
        };
        let needed = blobs
            .iter()
            .map(|b| b.offset + u64::from(b.length))
            .max()
            .unwrap_or(0);
        if *size < needed {
            report.problems.push(format!(
                "pack {} is truncated ({size} bytes)",
                pack_id.short()
            ));
            mark_all(&mut bad_blobs, "truncated");
            continue;
        }
        if deep {
            check_pack_deep(repo, pack_id, blobs, &mut report, &mut bad_blobs);
            done += size;
            progress(&Progress {
                bytes: done,
                total_bytes: Some(total),
                elapsed: started.elapsed(),
                current: key,
                ..Default::default()
            });
        }
    }
    report.unindexed_packs = stored.keys().filter(|k| !indexed_keys.contains(*k)).count() as u64;

    for id in repo.list_ids(FileKind::Snapshot)? {
        let snap: Snapshot = match repo.load_file(FileKind::Snapshot, &id) {
            Ok(s) => s,
            Err(e) => {
                report
                    .problems
                    .push(format!("snapshot {}: {e}", id.short()));
                continue;
            }
        };
        report.snapshots += 1;
        check_snapshot(repo, &index, &id, &snap, &bad_blobs, &mut report);
    }
    Ok(report)
}

fn check_pack_deep(
    repo: &Repository,
    pack_id: &Id,
    blobs: &[PackedBlob],
    report: &mut VerifyReport,
    bad: &mut HashMap<Id, String>,
) {
    let key = pack_key(pack_id);
    let file = match repo.backend().get(&key) {
        Ok(f) => f,
        Err(e) => {
            report
                .problems
                .push(format!("pack {}: {e}", pack_id.short()));
            for b in blobs {
                bad.entry(b.id)
                    .or_insert_with(|| format!("pack {} unreadable", pack_id.short()));
            }
            return;
        }
    };
    if Id::of_file(&file) != *pack_id {
        report.problems.push(format!(
            "pack {}: content does not match its name (damaged)",
            pack_id.short()
        ));
    }
    match pack::read_header(repo.keys(), &pack_id.short(), &file) {
        Ok(header) if header != blobs => report.problems.push(format!(
            "pack {}: header differs from the index",
            pack_id.short()
        )),
        Ok(_) => {}
        Err(e) => report
            .problems
            .push(format!("pack {}: {e}", pack_id.short())),
    }
    for b in blobs {
        report.blobs_read += 1;
        let start = b.offset as usize;
        let end = start + b.length as usize;
        let result = file
            .get(start..end)
            .ok_or_else(|| crate::VaultError::corrupt("pack", "blob out of range"))
            .and_then(|sealed| pack::open_blob(repo.keys(), &b.id, b.kind, sealed));
        if let Err(e) = result {
            report.problems.push(format!(
                "pack {}: blob {}: {e}",
                pack_id.short(),
                b.id.short()
            ));
            bad.entry(b.id).or_insert_with(|| e.to_string());
        }
    }
}

fn check_snapshot(
    repo: &Repository,
    index: &Index,
    id: &Id,
    snap: &Snapshot,
    bad: &HashMap<Id, String>,
    report: &mut VerifyReport,
) {
    let mut affected = Vec::new();
    let reason = |blob: &Id| -> Option<String> {
        if let Some(why) = bad.get(blob) {
            Some(format!("blob {} damaged: {why}", blob.short()))
        } else if !index.contains(blob) {
            Some(format!("blob {} missing", blob.short()))
        } else {
            None
        }
    };
    if let Some(why) = reason(&snap.tree) {
        affected.push(("/".to_string(), why));
    } else {
        let mut tree_errors = Vec::new();
        let walked = browse::walk(
            repo,
            index,
            &snap.tree,
            &[],
            &mut |v| {
                let node = v.node;
                let why = match node.kind {
                    NodeKind::File => node.content.iter().find_map(&reason),
                    NodeKind::Dir => node.subtree.as_ref().and_then(&reason),
                    _ => None,
                };
                if let Some(why) = why {
                    affected.push((v.display_path(), why));
                }
                Ok(())
            },
            &mut |path, e| {
                tree_errors.push((path, e.to_string()));
                Ok(())
            },
        );
        if let Err(e) = walked {
            report
                .problems
                .push(format!("snapshot {}: {e}", id.short()));
        }
        for (path, why) in tree_errors {
            // A directory already reported through its blob is not repeated.
            if !affected.iter().any(|(p, _)| *p == path) {
                affected.push((path, why));
            }
        }
    }
    for (path, why) in affected {
        report.affected.insert(AffectedEntry {
            snapshot: *id,
            path,
            reason: why,
        });
    }
}
