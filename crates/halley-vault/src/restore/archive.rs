//! Restoring as an archive: a tar or zip stream to any writer.
//!
//! Entry paths are relative (`home/a/x`). Hard links become tar link entries;
//! zip has none, so each link is stored as a full copy there.

use std::collections::HashMap;
use std::io::Write;

use super::content::ContentReader;
use crate::browse::{self, Selected};
use crate::error::{Result, VaultError};
use crate::repo::Repository;
use crate::snapshot::SnapshotInfo;
use crate::tree::NodeKind;

fn rel_path(path: &[Vec<u8>]) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    path.iter()
        .map(|c| std::ffi::OsStr::from_bytes(c))
        .collect()
}

fn archive_err(e: std::io::Error) -> VaultError {
    VaultError::io("write archive", "(stream)", e)
}

/// Writes the snapshot (or the entries at or below `paths`) as a tar stream.
pub fn restore_tar<W: Write>(
    repo: &Repository,
    snapshot: &SnapshotInfo,
    paths: &[String],
    out: W,
) -> Result<W> {
    let index = repo.load_index()?;
    let selection = browse::selection_of(paths);
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut first_of_link: HashMap<(u64, u64), std::path::PathBuf> = HashMap::new();
    browse::walk(
        repo,
        &index,
        &snapshot.snapshot.tree,
        &selection,
        &mut |v| {
            let node = v.node;
            if v.selected == Selected::Ancestor && node.kind != NodeKind::Dir {
                return Ok(());
            }
            let path = rel_path(v.path);
            let mut h = tar::Header::new_gnu();
            h.set_mode(node.mode);
            h.set_uid(u64::from(node.uid));
            h.set_gid(u64::from(node.gid));
            h.set_mtime(node.mtime.max(0) as u64);
            h.set_size(0);
            match node.kind {
                NodeKind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    tar.append_data(&mut h, &path, std::io::empty())
                        .map_err(archive_err)
                }
                NodeKind::File => {
                    let key = (node.device, node.inode);
                    if node.links > 1 {
                        if let Some(first) = first_of_link.get(&key) {
                            h.set_entry_type(tar::EntryType::Link);
                            return tar.append_link(&mut h, &path, first).map_err(archive_err);
                        }
                        first_of_link.insert(key, path.clone());
                    }
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(node.size);
                    let reader = ContentReader::new(repo, &index, node.content.clone());
                    tar.append_data(&mut h, &path, reader).map_err(archive_err)
                }
                NodeKind::Symlink => {
                    let target = node
                        .target
                        .as_ref()
                        .ok_or_else(|| VaultError::corrupt("tree", "symlink without target"))?;
                    h.set_entry_type(tar::EntryType::Symlink);
                    tar.append_link(&mut h, &path, target.as_os())
                        .map_err(archive_err)
                }
                NodeKind::Fifo => {
                    h.set_entry_type(tar::EntryType::Fifo);
                    tar.append_data(&mut h, &path, std::io::empty())
                        .map_err(archive_err)
                }
                NodeKind::Socket | NodeKind::CharDevice | NodeKind::BlockDevice => Ok(()),
            }
        },
        &mut |_, e| Err(e),
    )?;
    tar.into_inner().map_err(archive_err)
}

/// Writes the snapshot (or the entries at or below `paths`) as a zip stream
/// to any writer (no seeking). Files are stored uncompressed; symlinks are
/// stored as Unix symlink entries; fifos, sockets and devices are left out.
pub fn restore_zip<W: Write>(
    repo: &Repository,
    snapshot: &SnapshotInfo,
    paths: &[String],
    out: W,
) -> Result<W> {
    use super::zipstream::{ZipStream, S_IFDIR, S_IFLNK, S_IFREG};
    let index = repo.load_index()?;
    let selection = browse::selection_of(paths);
    let mut zip = ZipStream::new(out);
    browse::walk(
        repo,
        &index,
        &snapshot.snapshot.tree,
        &selection,
        &mut |v| {
            let node = v.node;
            if v.selected == Selected::Ancestor && node.kind != NodeKind::Dir {
                return Ok(());
            }
            let mut name: Vec<u8> = Vec::new();
            for (i, c) in v.path.iter().enumerate() {
                if i > 0 {
                    name.push(b'/');
                }
                name.extend_from_slice(c);
            }
            match node.kind {
                NodeKind::Dir => {
                    name.push(b'/');
                    zip.add(
                        &name,
                        S_IFDIR | node.mode,
                        node.mtime,
                        0,
                        &mut std::io::empty(),
                    )
                }
                NodeKind::File => {
                    let mut reader = ContentReader::new(repo, &index, node.content.clone());
                    zip.add(
                        &name,
                        S_IFREG | node.mode,
                        node.mtime,
                        node.size,
                        &mut reader,
                    )
                }
                NodeKind::Symlink => {
                    let target = node
                        .target
                        .as_ref()
                        .ok_or_else(|| VaultError::corrupt("tree", "symlink without target"))?;
                    let t = target.0.as_slice();
                    zip.add(
                        &name,
                        S_IFLNK | 0o777,
                        node.mtime,
                        t.len() as u64,
                        &mut &t[..],
                    )
                }
                _ => Ok(()),
            }
            .map_err(archive_err)
        },
        &mut |_, e| Err(e),
    )?;
    zip.finish().map_err(archive_err)
}
