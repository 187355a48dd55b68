//! Browsing for the dispatcher, one directory at a time as `StoredObject`s:
//! a snapshot's tree (`request-stored-objects`: a directory's `subtree` is
//! the tree to ask for next) and the device's own file system
//! (`request-filesystem-objects`, for choosing what to back up); and every
//! entry of snapshots for `search-snapshots`.

use std::os::unix::fs::MetadataExt;

use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;

use halley_api::types::{SearchResultFileInfo, StoredObject};
use halley_vault::tree::NodeKind;
use halley_vault::Id;

use crate::session::Session;
use crate::vaults;

pub async fn stored_objects(
    session: &Session,
    destination_id: &str,
    snapshot_id: &str,
    tree_id: &str,
) -> Result<Vec<StoredObject>> {
    let repo = vaults::open_existing(session, destination_id).await?;
    let (snapshot_id, tree_id) = (snapshot_id.to_string(), tree_id.to_string());
    tokio::task::spawn_blocking(move || {
        let snapshot = repo.find_snapshot(&snapshot_id)?;
        let tree = match tree_id.as_str() {
            "" => snapshot.snapshot.tree,
            id => id
                .parse::<Id>()
                .map_err(|_| anyhow!("TreeID {id:?} is not a tree of this vault"))?,
        };
        let index = repo.load_index()?;
        let tree = repo.load_tree(&index, &tree)?;
        Ok(tree
            .nodes
            .iter()
            .map(|node| StoredObject {
                name: node.name.lossy(),
                mtime: node.mtime,
                r#type: kind_name(&node.kind).to_string(),
                subtree: node.subtree.map(|id| id.to_hex()).unwrap_or_default(),
                size: node.size,
                ..Default::default()
            })
            .collect())
    })
    .await?
}

/// Every entry of each snapshot (`search-snapshots`; the server filters),
/// by snapshot ID as asked.
pub async fn snapshot_files(
    session: &Session,
    destination_id: &str,
    snapshot_ids: Vec<String>,
) -> Result<BTreeMap<String, Vec<SearchResultFileInfo>>> {
    let repo = vaults::open_existing(session, destination_id).await?;
    tokio::task::spawn_blocking(move || {
        let mut found = BTreeMap::new();
        for id in snapshot_ids {
            let snapshot = repo.find_snapshot(&id)?;
            let entries = halley_vault::browse::list(&repo, &snapshot.snapshot.tree, None)?;
            let files = entries
                .into_iter()
                .map(|(path, node)| SearchResultFileInfo {
                    path,
                    name: node.name.lossy(),
                    r#type: kind_name(&node.kind).to_string(),
                    mode: format!("{:o}", node.mode),
                    mtime: jiff::Timestamp::from_second(node.mtime)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    size: node.size,
                    ..Default::default()
                })
                .collect();
            found.insert(id, files);
        }
        Ok(found)
    })
    .await?
}

pub async fn filesystem_objects(path: &str) -> Result<Vec<StoredObject>> {
    let dir = if path.is_empty() { "/" } else { path }.to_string();
    tokio::task::spawn_blocking(move || {
        let mut objects = Vec::new();
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
            let entry = entry?;
            // An entry that vanished or cannot be read is left out.
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            let kind = if meta.is_dir() {
                "dir"
            } else if meta.file_type().is_symlink() {
                "symlink"
            } else {
                "file"
            };
            objects.push(StoredObject {
                name: entry.file_name().to_string_lossy().into_owned(),
                mtime: meta.mtime(),
                r#type: kind.to_string(),
                subtree: if meta.is_dir() {
                    entry.path().to_string_lossy().into_owned()
                } else {
                    String::new()
                },
                size: if meta.is_dir() { 0 } else { meta.len() },
                ..Default::default()
            });
        }
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(objects)
    })
    .await?
}

fn kind_name(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Dir => "dir",
        NodeKind::Symlink => "symlink",
        _ => "file",
    }
}
