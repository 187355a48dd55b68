//! Restoring a snapshot to a directory, or as a tar or zip stream.
//!
//! Restore never writes outside its target: entry names are checked when a
//! tree is read (no `/`, `.`, `..`), every directory on the way is created by
//! restore itself, and an existing symlink where an entry goes is replaced,
//! never followed. A file that cannot be restored (a damaged blob) is
//! reported and the rest is restored.

mod archive;
mod content;
mod files;
mod grouped;
mod zipstream;

pub use archive::{restore_tar, restore_zip};
pub use content::ContentReader;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::browse::{self, Selected};
use crate::error::{Result, VaultError};
use crate::progress::ProgressFn;
use crate::repo::Repository;
use crate::snapshot::SnapshotInfo;
use crate::tree::{Node, NodeKind};

/// What a restore did.
#[derive(Debug, Clone, Default)]
pub struct RestoreSummary {
    /// Files written.
    pub files: u64,
    /// Directories created.
    pub dirs: u64,
    /// Content bytes written.
    pub bytes: u64,
    /// Entries that could not be restored, with the reason.
    pub errors: Vec<String>,
}

/// Restores the whole snapshot, or the entries at or below `paths`
/// (snapshot paths such as `/home/a/docs`), below `target`.
pub fn restore(
    repo: &Repository,
    snapshot: &SnapshotInfo,
    target: &Path,
    paths: &[String],
    progress: ProgressFn<'_>,
) -> Result<RestoreSummary> {
    let started = Instant::now();
    let (index, index_problems) = repo.load_index_lenient()?;
    let selection = browse::selection_of(paths);
    fs::create_dir_all(target).map_err(|e| VaultError::io("create", target, e))?;
    let mut summary = RestoreSummary {
        errors: index_problems,
        ..Default::default()
    };
    let mut file_jobs: Vec<(PathBuf, Node)> = Vec::new();
    let mut links: Vec<(PathBuf, (u64, u64))> = Vec::new();
    let mut first_of_link: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut dir_meta: Vec<(PathBuf, Node)> = Vec::new();
    let mut found_any = false;
    {
        let summary = &mut summary;
        let mut errors = Vec::new();
        let mut tree_errors = Vec::new();
        browse::walk(
            repo,
            &index,
            &snapshot.snapshot.tree,
            &selection,
            &mut |v| {
                found_any = true;
                let dest = join(target, v.path);
                let node = v.node;
                let res = match node.kind {
                    NodeKind::Dir => files::make_dir(&dest).map(|()| {
                        summary.dirs += 1;
                        dir_meta.push((dest.clone(), node.clone()));
                    }),
                    _ if v.selected == Selected::Ancestor => Ok(()),
                    NodeKind::File => {
                        let key = (node.device, node.inode);
                        if node.links > 1 && first_of_link.contains_key(&key) {
                            links.push((dest, key));
                        } else {
                            if node.links > 1 {
                                first_of_link.insert(key, dest.clone());
                            }
                            file_jobs.push((dest, node.clone()));
                        }
                        Ok(())
                    }
                    NodeKind::Symlink => files::make_symlink(&dest, node),
                    NodeKind::Fifo => files::make_fifo(&dest, node),
                    // Sockets and devices are recorded for the record only.
                    NodeKind::Socket | NodeKind::CharDevice | NodeKind::BlockDevice => Ok(()),
                };
                if let Err(e) = res {
                    errors.push(format!("{}: {e}", v.display_path()));
                }
                Ok(())
            },
            &mut |path, e| {
                tree_errors.push(format!("{path}: {e}"));
                Ok(())
            },
        )?;
        summary.errors.extend(errors);
        summary.errors.extend(tree_errors);
    }
    if !found_any && !selection.is_empty() {
        return Err(VaultError::PathNotFound(paths.join(", ")));
    }
    let total: u64 = file_jobs.iter().map(|(_, n)| n.size).sum();
    let written = files::write_all(repo, &index, file_jobs, total, started, progress);
    summary.files += written.files;
    summary.bytes += written.bytes;
    summary.errors.extend(written.errors);
    for (dest, key) in links {
        let res = match first_of_link.get(&key) {
            Some(first) => files::make_hard_link(first, &dest),
            None => Err(VaultError::Missing("hard link origin".into())),
        };
        match res {
            Ok(()) => summary.files += 1,
            Err(e) => summary.errors.push(format!("{}: {e}", dest.display())),
        }
    }
    // Deepest first, so setting a parent's mtime comes after its children
    // stop changing it.
    for (dest, node) in dir_meta.iter().rev() {
        if let Err(e) = files::apply_meta(dest, node) {
            summary.errors.push(format!("{}: {e}", dest.display()));
        }
    }
    Ok(summary)
}

fn join(target: &Path, path: &[Vec<u8>]) -> PathBuf {
    let mut p = target.to_path_buf();
    for c in path {
        p.push(OsStr::from_bytes(c));
    }
    p
}
