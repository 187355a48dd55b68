//! Removing snapshots: by id, or by a retention policy. Only snapshot files
//! are deleted here; `prune` then removes the data nothing references.

use std::collections::BTreeMap;

use halley_api::types::RetentionPolicy;

use crate::error::Result;
use crate::id::Id;
use crate::lock;
use crate::repo::{FileKind, Repository};
use crate::retention::{self, Job};
use crate::snapshot::SnapshotInfo;

/// Deletes the given snapshots (under an exclusive lock).
pub fn forget(repo: &Repository, ids: &[Id]) -> Result<()> {
    let _lock = lock::acquire(repo, true, "forget")?;
    for id in ids {
        repo.backend()
            .delete(&format!("{}{}", FileKind::Snapshot.dir(), id.to_hex()))?;
    }
    Ok(())
}

/// What a retention pass decided.
#[derive(Debug, Clone, Default)]
pub struct RetentionOutcome {
    /// Snapshots kept.
    pub kept: Vec<SnapshotInfo>,
    /// Snapshots deleted (or that would be, on a dry run).
    pub forgotten: Vec<SnapshotInfo>,
}

/// Applies `policy` to the history of each source (snapshots grouped by host
/// and source name; `only_source` limits the pass to one source), deleting
/// what it does not keep unless `dry_run`.
pub fn apply_retention(
    repo: &Repository,
    policy: &RetentionPolicy,
    only_source: Option<&str>,
    now: i64,
    dry_run: bool,
) -> Result<RetentionOutcome> {
    let _lock = lock::acquire(repo, true, "retention")?;
    let mut groups: BTreeMap<(String, String), Vec<SnapshotInfo>> = BTreeMap::new();
    for s in repo.snapshots()? {
        if only_source.is_some_and(|src| src != s.snapshot.source) {
            continue;
        }
        groups
            .entry((s.snapshot.hostname.clone(), s.snapshot.source.clone()))
            .or_default()
            .push(s);
    }
    let mut out = RetentionOutcome::default();
    for (_, snaps) in groups {
        let jobs: Vec<Job<Id>> = snaps
            .iter()
            .map(|s| Job {
                key: s.id,
                time: s.snapshot.time,
            })
            .collect();
        let keep = retention::kept(policy, &jobs, now);
        for s in snaps {
            if keep.contains(&s.id) {
                out.kept.push(s);
            } else {
                out.forgotten.push(s);
            }
        }
    }
    if !dry_run {
        for s in &out.forgotten {
            repo.backend()
                .delete(&format!("{}{}", FileKind::Snapshot.dir(), s.id.to_hex()))?;
        }
    }
    Ok(out)
}
