//! Snapshot trees: one blob per directory, listing its entries.
//!
//! A directory's blob id is the keyed hash of its JSON, so an unchanged
//! directory is stored once across all snapshots.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Result, VaultError};
use crate::id::Id;

/// A file name or symlink target: arbitrary bytes on Unix. Stored as a JSON
/// string when it is UTF-8, otherwise as `{"hex": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Name(pub Vec<u8>);

impl Name {
    /// From an OS string.
    pub fn from_os(s: &OsStr) -> Name {
        Name(s.as_bytes().to_vec())
    }

    /// As an OS string.
    pub fn as_os(&self) -> &OsStr {
        OsStr::from_bytes(&self.0)
    }

    /// For display (lossy).
    pub fn lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum NameRepr {
    Text(String),
    Raw { hex: String },
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(t) => NameRepr::Text(t.to_string()),
            Err(_) => NameRepr::Raw {
                hex: hex::encode(&self.0),
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(match NameRepr::deserialize(d)? {
            NameRepr::Text(t) => Name(t.into_bytes()),
            NameRepr::Raw { hex } => Name(hex::decode(hex).map_err(serde::de::Error::custom)?),
        })
    }
}

/// The kind of a tree entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A regular file; `content` lists its chunks.
    File,
    /// A directory; `subtree` is its tree blob.
    Dir,
    /// A symbolic link; `target` is where it points.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A socket (recorded, not restored).
    Socket,
    /// A character device (recorded, not restored).
    CharDevice,
    /// A block device (recorded, not restored).
    BlockDevice,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The entry's name (never empty, `.`, `..` or containing `/`).
    pub name: Name,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: NodeKind,
    /// Permission and special bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, Unix seconds.
    pub mtime: i64,
    /// Nanoseconds part of the modification time.
    pub mtime_nsec: u32,
    /// Size in bytes (files).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size: u64,
    /// Inode number at backup time (change detection, hard links).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inode: u64,
    /// Device number at backup time (hard links).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub device: u64,
    /// Link count; above 1, entries sharing `device` and `inode` are restored
    /// as hard links of each other.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub links: u64,
    /// Device number of a device node.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rdev: u64,
    /// The file's chunks, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<Id>,
    /// A directory's tree blob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree: Option<Id>,
    /// A symlink's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Name>,
}

impl Node {
    /// Checks the name can be joined to a restore target without escaping it.
    pub fn check_name(&self) -> Result<()> {
        let n = &self.name.0;
        if n.is_empty() || n == b"." || n == b".." || n.contains(&b'/') || n.contains(&0) {
            return Err(VaultError::corrupt(
                "tree",
                format!("unsafe entry name {:?}", self.name.lossy()),
            ));
        }
        Ok(())
    }
}

/// The stored form of a directory: its entries sorted by name bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    /// Entries, sorted, names unique.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Checks names are safe, sorted and unique (a damaged or hostile tree
    /// must not make restore write outside its target).
    pub fn check(&self) -> Result<()> {
        for n in &self.nodes {
            n.check_name()?;
        }
        if self.nodes.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err(VaultError::corrupt(
                "tree",
                "entries not sorted or not unique",
            ));
        }
        Ok(())
    }

    /// The entry with that name.
    pub fn find(&self, name: &[u8]) -> Option<&Node> {
        self.nodes
            .binary_search_by(|n| n.name.0.as_slice().cmp(name))
            .ok()
            .and_then(|i| self.nodes.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &[u8]) -> Node {
        Node {
            name: Name(name.to_vec()),
            kind: NodeKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            mtime_nsec: 0,
            size: 0,
            inode: 0,
            device: 0,
            links: 0,
            rdev: 0,
            content: vec![],
            subtree: None,
            target: None,
        }
    }

    #[test]
    fn hostile_names_are_rejected() {
        for bad in [&b""[..], b".", b"..", b"a/b", b"/etc", b"x\0y"] {
            let t = Tree {
                nodes: vec![node(bad)],
            };
            assert!(t.check().is_err(), "{bad:?} accepted");
        }
        let dup = Tree {
            nodes: vec![node(b"a"), node(b"a")],
        };
        assert!(dup.check().is_err());
        let unsorted = Tree {
            nodes: vec![node(b"b"), node(b"a")],
        };
        assert!(unsorted.check().is_err());
        let ok = Tree {
            nodes: vec![node(b"..."), node(b"a"), node(b"\xff")],
        };
        ok.check().unwrap();
        // Non-UTF-8 names survive JSON.
        let json = serde_json::to_string(&ok).unwrap();
        assert!(json.contains(r#"{"hex":"ff"}"#), "{json}");
        assert_eq!(serde_json::from_str::<Tree>(&json).unwrap(), ok);
    }
}
