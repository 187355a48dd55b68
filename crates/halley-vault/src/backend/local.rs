//! A repository in a local directory (`DESTINATIONTYPE_LOCALCOPY`).
//!
//! Files are written under `tmp/`, flushed to disk and renamed into place, so
//! a crash leaves either the whole file or nothing under its final name.

use std::fs;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Backend, Listed};
use crate::error::{Result, VaultError};

/// How many files ranged reads keep open. Restores read many small blobs
/// from few packs; opening the pack for each one costs more than reading it.
const OPEN_FILES: usize = 32;

/// A backend rooted at a local directory.
#[derive(Debug)]
pub struct LocalBackend {
    root: PathBuf,
    /// Recently read files, most recent last. Only ranged reads use it, and
    /// they only read packs, which never change once written.
    open: Mutex<Vec<(String, Arc<fs::File>)>>,
}

impl LocalBackend {
    /// A backend at `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend {
            root: root.into(),
            open: Mutex::new(Vec::new()),
        }
    }

    fn open_cached(&self, key: &str) -> Result<Arc<fs::File>> {
        if let Ok(mut open) = self.open.lock() {
            if let Some(i) = open.iter().position(|(k, _)| k == key) {
                let entry = open.remove(i);
                let file = Arc::clone(&entry.1);
                open.push(entry);
                return Ok(file);
            }
        }
        let p = self.path(key)?;
        let file = Arc::new(fs::File::open(&p).map_err(|e| {
            if not_found(&e) {
                VaultError::Missing(format!("{key} in {}", self.root.display()))
            } else {
                VaultError::io("open", p.clone(), e)
            }
        })?);
        if let Ok(mut open) = self.open.lock() {
            if open.len() >= OPEN_FILES {
                open.remove(0);
            }
            open.push((key.to_string(), Arc::clone(&file)));
        }
        Ok(file)
    }

    fn forget_open(&self, key: &str) {
        if let Ok(mut open) = self.open.lock() {
            open.retain(|(k, _)| k != key);
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        // Keys come from the engine, but a damaged listing could hold anything:
        // never let one escape the root.
        if key.is_empty()
            || key.starts_with('/')
            || key
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(VaultError::invalid("backend key", key));
        }
        Ok(self.root.join(key))
    }
}

fn not_found(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

impl Backend for LocalBackend {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn get(&self, key: &str) -> Result<Vec<u8>> {
        let p = self.path(key)?;
        fs::read(&p).map_err(|e| {
            if not_found(&e) {
                VaultError::Missing(format!("{key} in {}", self.root.display()))
            } else {
                VaultError::io("read", p, e)
            }
        })
    }

    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let file = self.open_cached(key)?;
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                VaultError::corrupt(key.to_string(), "file shorter than the index says")
            } else {
                VaultError::io("read", self.root.join(key), e)
            }
        })?;
        Ok(buf)
    }

    fn put(&self, key: &str, data: &[u8]) -> Result<()> {
        let dest = self.path(key)?;
        let tmp_dir = self.root.join("tmp");
        fs::create_dir_all(&tmp_dir).map_err(|e| VaultError::io("create", tmp_dir.clone(), e))?;
        let tmp = tmp_dir.join(format!("{}.tmp", crate::id::Id::random().short()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::rename(&tmp, &dest)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            VaultError::io("write", dest.clone(), e)
        })
    }

    fn delete(&self, key: &str) -> Result<()> {
        let p = self.path(key)?;
        self.forget_open(key);
        match fs::remove_file(&p) {
            Err(e) if !not_found(&e) => Err(VaultError::io("delete", p, e)),
            _ => Ok(()),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        let dir = self.root.join(prefix.trim_end_matches('/'));
        let mut out = Vec::new();
        walk(&dir, prefix.trim_end_matches('/'), &mut out)?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn clean_temporary(&self) -> Result<()> {
        let dir = self.root.join("tmp");
        match fs::remove_dir_all(&dir) {
            Err(e) if !not_found(&e) => Err(VaultError::io("clean", dir, e)),
            _ => Ok(()),
        }
    }
}

fn walk(dir: &Path, key_prefix: &str, out: &mut Vec<Listed>) -> Result<()> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if not_found(&e) => return Ok(()),
        Err(e) => return Err(VaultError::io("list", dir, e)),
    };
    for entry in rd {
        let entry = entry.map_err(|e| VaultError::io("list", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let key = format!("{key_prefix}/{name}");
        let ft = entry
            .file_type()
            .map_err(|e| VaultError::io("stat", entry.path(), e))?;
        if ft.is_dir() {
            walk(&entry.path(), &key, out)?;
        } else if ft.is_file() {
            let size = entry
                .metadata()
                .map_err(|e| VaultError::io("stat", entry.path(), e))?
                .len();
            out.push(Listed { key, size });
        }
    }
    Ok(())
}
