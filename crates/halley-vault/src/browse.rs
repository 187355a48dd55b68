//! Walking a snapshot's tree: listing, finding paths, and the shared walk
//! used by restore, archives and verify.

use crate::error::{Result, VaultError};
use crate::id::Id;
use crate::index::Index;
use crate::repo::Repository;
use crate::tree::{Node, NodeKind};

/// A snapshot path (`/home/a/x`) split into components, `.`/empty removed.
pub fn split_path(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// How a node relates to a set of selected paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    /// Inside a selected path (or nothing was selected): take it whole.
    Yes,
    /// An ancestor of a selected path: descend, create only the directory.
    Ancestor,
    /// Outside: skip.
    No,
}

/// Decides whether `path` (components) is selected by `selection`.
pub fn selected(path: &[Vec<u8>], selection: &[Vec<Vec<u8>>]) -> Selected {
    if selection.is_empty() {
        return Selected::Yes;
    }
    let mut ancestor = false;
    for s in selection {
        if path.len() >= s.len() && path[..s.len()] == s[..] {
            return Selected::Yes;
        }
        if path.len() < s.len() && s[..path.len()] == path[..] {
            ancestor = true;
        }
    }
    if ancestor {
        Selected::Ancestor
    } else {
        Selected::No
    }
}

/// Turns snapshot paths into component lists for [`selected`].
pub fn selection_of(paths: &[String]) -> Vec<Vec<Vec<u8>>> {
    paths
        .iter()
        .map(|p| {
            split_path(p)
                .iter()
                .map(|c| c.as_bytes().to_vec())
                .collect()
        })
        .collect()
}

/// One visited entry.
pub struct Visit<'n> {
    /// Components from the snapshot root.
    pub path: &'n [Vec<u8>],
    /// The entry.
    pub node: &'n Node,
    /// Whether it is selected or only an ancestor of a selection.
    pub selected: Selected,
}

impl Visit<'_> {
    /// The path as `/a/b` (lossy for display).
    pub fn display_path(&self) -> String {
        display_path(self.path)
    }
}

/// Joins components as `/a/b`.
pub fn display_path(path: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for c in path {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(c));
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// Depth-first, parents before children, siblings in name order. A tree
/// that cannot be read is passed to `on_error` and skipped, so one damaged
/// directory does not hide the rest of the snapshot.
pub fn walk(
    repo: &Repository,
    index: &Index,
    root: &Id,
    selection: &[Vec<Vec<u8>>],
    visit: &mut dyn FnMut(&Visit<'_>) -> Result<()>,
    on_error: &mut dyn FnMut(String, VaultError) -> Result<()>,
) -> Result<()> {
    let mut path = Vec::new();
    walk_in(repo, index, root, selection, &mut path, visit, on_error)
}

fn walk_in(
    repo: &Repository,
    index: &Index,
    tree_id: &Id,
    selection: &[Vec<Vec<u8>>],
    path: &mut Vec<Vec<u8>>,
    visit: &mut dyn FnMut(&Visit<'_>) -> Result<()>,
    on_error: &mut dyn FnMut(String, VaultError) -> Result<()>,
) -> Result<()> {
    let tree = match repo.load_tree(index, tree_id) {
        Ok(t) => t,
        Err(e) => return on_error(display_path(path), e),
    };
    for node in &tree.nodes {
        path.push(node.name.0.clone());
        let sel = selected(path, selection);
        if sel != Selected::No {
            visit(&Visit {
                path,
                node,
                selected: sel,
            })?;
            if node.kind == NodeKind::Dir {
                match &node.subtree {
                    Some(sub) => walk_in(repo, index, sub, selection, path, visit, on_error)?,
                    None => on_error(
                        display_path(path),
                        VaultError::corrupt("tree", "directory without subtree"),
                    )?,
                }
            }
        }
        path.pop();
    }
    Ok(())
}

/// Every entry of a snapshot at or below `prefix`, as (path, node).
pub fn list(repo: &Repository, root: &Id, prefix: Option<&str>) -> Result<Vec<(String, Node)>> {
    let index = repo.load_index()?;
    let selection = selection_of(&prefix.map(|p| vec![p.to_string()]).unwrap_or_default());
    let mut out = Vec::new();
    walk(
        repo,
        &index,
        root,
        &selection,
        &mut |v| {
            if v.selected == Selected::Yes {
                out.push((v.display_path(), v.node.clone()));
            }
            Ok(())
        },
        &mut |_, e| Err(e),
    )?;
    if out.is_empty() {
        if let Some(p) = prefix {
            if !split_path(p).is_empty() {
                return Err(VaultError::PathNotFound(p.to_string()));
            }
        }
    }
    Ok(out)
}
