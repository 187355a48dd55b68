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
use crate::tree::{Node, NodeKind};

fn rel_path(path: &[Vec<u8>]) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    path.iter()
        .map(|c| std::ffi::OsStr::from_bytes(c))
        .collect()
}

fn archive_err(e: std::io::Error) -> VaultError {
    VaultError::io("write archive", "(stream)", e)
}

/// The entries of the snapshot (or of the selection) in walk order, without
/// the non-directory ancestors of a selection.
fn entries(
    repo: &Repository,
    index: &crate::index::Index,
    snapshot: &SnapshotInfo,
    paths: &[String],
) -> Result<Vec<(Vec<Vec<u8>>, Node)>> {
    let selection = browse::selection_of(paths);
    let mut out = Vec::new();
    browse::walk(
        repo,
        index,
        &snapshot.snapshot.tree,
        &selection,
        &mut |v| {
            if v.selected != Selected::Ancestor || v.node.kind == NodeKind::Dir {
                out.push((v.path.to_vec(), v.node.clone()));
            }
            Ok(())
        },
        &mut |_, e| Err(e),
    )?;
    Ok(out)
}

/// Writes the snapshot (or the entries at or below `paths`) as a tar stream.
pub fn restore_tar<W: Write>(
    repo: &Repository,
    snapshot: &SnapshotInfo,
    paths: &[String],
    out: W,
) -> Result<W> {
    let index = repo.load_index()?;
    let entries = entries(repo, &index, snapshot, paths)?;
    // Which files are hard links to an earlier one, so that the reader is
    // given exactly the chunks the archive will hold.
    let mut first_of_link: HashMap<(u64, u64), std::path::PathBuf> = HashMap::new();
    let mut link_to = Vec::with_capacity(entries.len());
    let mut chunks = Vec::new();
    for (path, node) in &entries {
        let mut link = None;
        if node.kind == NodeKind::File {
            let key = (node.device, node.inode);
            if node.links > 1 {
                link = first_of_link.get(&key).cloned();
                if link.is_none() {
                    first_of_link.insert(key, rel_path(path));
                }
            }
            if link.is_none() {
                chunks.extend_from_slice(&node.content);
            }
        }
        link_to.push(link);
    }
    let mut content = ContentReader::new(repo, &index, chunks);
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    for ((path, node), link) in entries.iter().zip(link_to) {
        let path = rel_path(path);
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
                    .map_err(archive_err)?;
            }
            NodeKind::File => {
                if let Some(first) = link {
                    h.set_entry_type(tar::EntryType::Link);
                    tar.append_link(&mut h, &path, first).map_err(archive_err)?;
                    continue;
                }
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(node.size);
                content.next_file(node.content.len());
                tar.append_data(&mut h, &path, &mut content)
                    .map_err(archive_err)?;
            }
            NodeKind::Symlink => {
                let target = node
                    .target
                    .as_ref()
                    .ok_or_else(|| VaultError::corrupt("tree", "symlink without target"))?;
                h.set_entry_type(tar::EntryType::Symlink);
                tar.append_link(&mut h, &path, target.as_os())
                    .map_err(archive_err)?;
            }
            NodeKind::Fifo => {
                h.set_entry_type(tar::EntryType::Fifo);
                tar.append_data(&mut h, &path, std::io::empty())
                    .map_err(archive_err)?;
            }
            NodeKind::Socket | NodeKind::CharDevice | NodeKind::BlockDevice => {}
        }
    }
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
    let entries = entries(repo, &index, snapshot, paths)?;
    let chunks: Vec<_> = entries
        .iter()
        .filter(|(_, n)| n.kind == NodeKind::File)
        .flat_map(|(_, n)| n.content.iter().copied())
        .collect();
    let mut content = ContentReader::new(repo, &index, chunks);
    let mut zip = ZipStream::new(out);
    for (path, node) in &entries {
        let mut name: Vec<u8> = Vec::new();
        for (i, c) in path.iter().enumerate() {
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
                content.next_file(node.content.len());
                zip.add(
                    &name,
                    S_IFREG | node.mode,
                    node.mtime,
                    node.size,
                    &mut content,
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
        .map_err(archive_err)?;
    }
    zip.finish().map_err(archive_err)
}
