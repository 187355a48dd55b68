//! The read half of the backup pipeline: walks the include paths, decides
//! what is unchanged, chunks and hashes what is not, and builds the trees.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::chunker;
use super::prefetch::{self, Pending, ReadJob};
use super::saver::{BlobJob, SaverState};
use super::{Selection, WalkOutcome};
use crate::error::{Result, VaultError};
use crate::id::Id;
use crate::index::{BlobKind, Index};
use crate::progress::{Progress, ProgressFn};
use crate::repo::Repository;
use crate::snapshot::BackupSummary;
use crate::tree::{Name, Node, NodeKind, Tree};

/// The include paths as a tree of path components, so their ancestors can
/// be recorded as directories of the snapshot.
#[derive(Default)]
struct Trie {
    include: bool,
    children: BTreeMap<Vec<u8>, Trie>,
}

pub(crate) struct Walker<'a> {
    repo: &'a Repository,
    index: &'a Index,
    selection: &'a Selection,
    tx: Option<Sender<BlobJob>>,
    state: &'a SaverState,
    progress: ProgressFn<'a>,
    started: Instant,
    last_report: Instant,
    queued: HashSet<Id>,
    hard_links: HashMap<(u64, u64), (u64, Vec<Id>)>,
    summary: BackupSummary,
    paths: Vec<String>,
    /// Bytes read or reused so far, for progress reports only.
    progress_bytes: u64,
    /// Jobs for the reader threads, while they run.
    readers: Option<Sender<ReadJob>>,
    /// Checked before each blob is stored.
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
}

/// Absolute, without `.` or `..`, without following a final symlink.
fn normalize(p: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(p).map_err(|e| VaultError::io("resolve", p, e))?;
    if abs.components().any(|c| c == Component::ParentDir) {
        let (parent, name) = match (abs.parent(), abs.file_name()) {
            (Some(parent), Some(name)) => (parent, name),
            _ => return fs::canonicalize(&abs).map_err(|e| VaultError::io("resolve", p, e)),
        };
        let parent = fs::canonicalize(parent).map_err(|e| VaultError::io("resolve", p, e))?;
        return Ok(parent.join(name));
    }
    Ok(abs.components().collect())
}

fn node_from(name: Name, kind: NodeKind, meta: &Metadata) -> Node {
    Node {
        name,
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: meta.mtime(),
        mtime_nsec: meta.mtime_nsec().clamp(0, 999_999_999) as u32,
        size: 0,
        inode: meta.ino(),
        device: meta.dev(),
        links: meta.nlink(),
        rdev: 0,
        content: vec![],
        subtree: None,
        target: None,
    }
}

impl<'a> Walker<'a> {
    pub fn new(
        repo: &'a Repository,
        index: &'a Index,
        selection: &'a Selection,
        tx: Sender<BlobJob>,
        state: &'a SaverState,
        progress: ProgressFn<'a>,
        started: Instant,
    ) -> Self {
        Walker {
            repo,
            index,
            selection,
            tx: Some(tx),
            state,
            progress,
            started,
            last_report: started,
            queued: HashSet::new(),
            hard_links: HashMap::new(),
            summary: BackupSummary::default(),
            paths: vec![],
            progress_bytes: 0,
            readers: None,
            stop: None,
        }
    }

    /// Backs everything up; returns the root tree id.
    pub fn run(&mut self, parent_root: Option<Id>) -> Result<Id> {
        let (jobs, job_rx) = crossbeam_channel::unbounded::<ReadJob>();
        std::thread::scope(|s| {
            for _ in 0..prefetch::READERS {
                let rx = job_rx.clone();
                s.spawn(move || prefetch::reader(rx));
            }
            drop(job_rx);
            self.readers = Some(jobs);
            let result = self.run_walk(parent_root);
            // Closing the job channel ends the readers.
            self.readers = None;
            result
        })
    }

    fn run_walk(&mut self, parent_root: Option<Id>) -> Result<Id> {
        let mut trie = Trie::default();
        for inc in &self.selection.includes {
            let abs = normalize(inc)?;
            self.paths.push(abs.display().to_string());
            let mut t = &mut trie;
            for c in abs.components() {
                if let Component::Normal(n) = c {
                    t = t.children.entry(n.as_bytes().to_vec()).or_default();
                }
            }
            t.include = true;
        }
        let parent = self.parent_tree(parent_root);
        let tree = if trie.include {
            // `/` itself is included: the root is a real directory walk.
            self.walk_dir(Path::new("/"), parent.as_ref())?
        } else {
            self.virtual_dir(Path::new("/"), &trie, parent.as_ref())?
        };
        let id = self.store_tree(&tree)?;
        self.report("", true);
        Ok(id)
    }

    /// The summary and include paths, closing the channel to the workers.
    pub fn finish(mut self) -> WalkOutcome {
        self.tx = None;
        (
            std::mem::take(&mut self.summary),
            std::mem::take(&mut self.paths),
        )
    }

    fn parent_tree(&self, id: Option<Id>) -> Option<Tree> {
        // A parent that cannot be read only costs a full read of the files.
        id.and_then(|id| self.repo.load_tree(self.index, &id).ok())
    }

    fn parent_subtree(&self, parent: Option<&Node>) -> Option<Tree> {
        parent
            .filter(|n| n.kind == NodeKind::Dir)
            .and_then(|n| self.parent_tree(n.subtree))
    }

    fn skip(&mut self, path: &Path, e: impl std::fmt::Display) {
        self.summary.errors.push(format!("{}: {e}", path.display()));
    }

    /// An ancestor of include paths: only the included children are recorded.
    fn virtual_dir(&mut self, dir: &Path, trie: &Trie, parent: Option<&Tree>) -> Result<Tree> {
        let mut tree = Tree::default();
        for (name, child) in &trie.children {
            let path = dir.join(std::ffi::OsStr::from_bytes(name));
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.skip(&path, e);
                    continue;
                }
            };
            let pnode = parent.and_then(|t| t.find(name));
            let node = if child.include {
                self.save_entry(&path, Name(name.clone()), &meta, pnode, None)?
            } else if meta.is_dir() {
                let ptree = self.parent_subtree(pnode);
                let sub = self.virtual_dir(&path, child, ptree.as_ref())?;
                let mut node = node_from(Name(name.clone()), NodeKind::Dir, &meta);
                node.subtree = Some(self.store_tree(&sub)?);
                Some(node)
            } else {
                self.skip(&path, "an ancestor of an include path is not a directory");
                None
            };
            tree.nodes.extend(node);
        }
        Ok(tree)
    }

    fn walk_dir(&mut self, dir: &Path, parent: Option<&Tree>) -> Result<Tree> {
        let mut entries: Vec<(Vec<u8>, PathBuf)> = match fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| (e.file_name().as_bytes().to_vec(), e.path()))
                .collect(),
            Err(e) => {
                self.skip(dir, e);
                return Ok(Tree::default());
            }
        };
        entries.sort();
        let mut items = Vec::with_capacity(entries.len());
        for (name, path) in entries {
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.skip(&path, e);
                    continue;
                }
            };
            if !self.selection.excluded(&path, meta.is_dir()) {
                items.push((name, path, meta));
            }
        }
        let mut tree = Tree::default();
        let mut pending: HashMap<usize, (Pending, u64)> = HashMap::new();
        let (mut next, mut in_flight) = (0, 0u64);
        for i in 0..items.len() {
            while next < items.len() && in_flight < prefetch::BUDGET {
                let (name, path, meta) = &items[next];
                let pnode = parent.and_then(|t| t.find(name));
                if let Some(rx) = self.prefetch(path, meta, pnode) {
                    pending.insert(next, (rx, meta.len()));
                    in_flight += meta.len();
                }
                next += 1;
            }
            let pre = pending.remove(&i).map(|(rx, size)| {
                in_flight -= size;
                rx
            });
            let (name, path, meta) = &items[i];
            let pnode = parent.and_then(|t| t.find(name));
            if let Some(node) = self.save_entry(path, Name(name.clone()), meta, pnode, pre)? {
                tree.nodes.push(node);
            }
        }
        Ok(tree)
    }

    /// Starts reading a small file that will have to be read.
    fn prefetch(&self, path: &Path, meta: &Metadata, parent: Option<&Node>) -> Option<Pending> {
        let max = u64::from(self.repo.config().chunker.max);
        if !meta.is_file()
            || meta.len() == 0
            || meta.len() > max
            || (meta.nlink() > 1 && self.hard_links.contains_key(&(meta.dev(), meta.ino())))
            || self.unchanged(meta, parent).is_some()
        {
            return None;
        }
        let (reply, rx) = crossbeam_channel::bounded(1);
        let job = ReadJob {
            path: path.to_path_buf(),
            limit: max,
            reply,
        };
        self.readers.as_ref()?.send(job).ok()?;
        Some(rx)
    }

    /// The parent's node for this file when the file has not changed since.
    fn unchanged<'p>(&self, meta: &Metadata, parent: Option<&'p Node>) -> Option<&'p Node> {
        if self.selection.rescan_unchanged {
            return None;
        }
        parent.filter(|p| {
            p.kind == NodeKind::File
                && p.size == meta.len()
                && p.mtime == meta.mtime()
                && i64::from(p.mtime_nsec) == meta.mtime_nsec()
                && p.inode == meta.ino()
                && p.content.iter().all(|c| self.index.contains(c))
        })
    }

    fn save_entry(
        &mut self,
        path: &Path,
        name: Name,
        meta: &Metadata,
        parent: Option<&Node>,
        pre: Option<Pending>,
    ) -> Result<Option<Node>> {
        let ft = meta.file_type();
        let node = if ft.is_dir() {
            let ptree = self.parent_subtree(parent);
            let tree = self.walk_dir(path, ptree.as_ref())?;
            let mut node = node_from(name, NodeKind::Dir, meta);
            node.subtree = Some(self.store_tree(&tree)?);
            self.summary.dirs += 1;
            node
        } else if ft.is_file() {
            match self.save_file(path, name, meta, parent, pre)? {
                Some(n) => n,
                None => return Ok(None),
            }
        } else if ft.is_symlink() {
            let target = match fs::read_link(path) {
                Ok(t) => t,
                Err(e) => {
                    self.skip(path, e);
                    return Ok(None);
                }
            };
            let mut node = node_from(name, NodeKind::Symlink, meta);
            node.target = Some(Name::from_os(target.as_os_str()));
            node
        } else {
            let kind = if ft.is_fifo() {
                NodeKind::Fifo
            } else if ft.is_socket() {
                NodeKind::Socket
            } else if ft.is_char_device() {
                NodeKind::CharDevice
            } else {
                NodeKind::BlockDevice
            };
            let mut node = node_from(name, kind, meta);
            node.rdev = meta.rdev();
            node
        };
        Ok(Some(node))
    }

    fn save_file(
        &mut self,
        path: &Path,
        name: Name,
        meta: &Metadata,
        parent: Option<&Node>,
        pre: Option<Pending>,
    ) -> Result<Option<Node>> {
        let mut node = node_from(name, NodeKind::File, meta);
        self.summary.files += 1;
        let link_key = (meta.dev(), meta.ino());
        if meta.nlink() > 1 {
            if let Some((size, content)) = self.hard_links.get(&link_key) {
                node.size = *size;
                node.content = content.clone();
                self.summary.bytes += node.size;
                self.progress_bytes += node.size;
                return Ok(Some(node));
            }
        }
        if let Some(p) = self.unchanged(meta, parent) {
            node.size = p.size;
            node.content = p.content.clone();
            self.progress_bytes += node.size;
        } else {
            let cp = self.repo.config().chunker;
            let seed = self.repo.keys().chunker_seed;
            let prefetched = pre.map(|rx| {
                rx.recv()
                    .unwrap_or_else(|_| Err(std::io::Error::other("reader thread stopped")))
            });
            let chunks = match prefetched {
                Some(Ok(data)) if data.len() <= cp.max as usize => {
                    Ok(chunker::in_memory(data, cp, seed))
                }
                Some(Err(e)) => Err(e),
                // Not prefetched, or grown past one chunk since it was listed.
                _ => fs::File::open(path).and_then(|f| chunker::chunks(f, meta.len(), cp, seed)),
            };
            let chunks = match chunks {
                Ok(c) => c,
                Err(e) => {
                    self.summary.files -= 1;
                    self.skip(path, e);
                    return Ok(None);
                }
            };
            for chunk in chunks {
                let data = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        // A file that fails mid-read is left out rather than
                        // recorded with wrong content.
                        self.summary.files -= 1;
                        self.skip(path, e);
                        return Ok(None);
                    }
                };
                let id = self.repo.keys().blob_id(&data);
                node.size += data.len() as u64;
                node.content.push(id);
                self.progress_bytes += data.len() as u64;
                self.store(id, BlobKind::Data, data)?;
                self.report_path(path);
            }
            self.summary.files_read += 1;
        }
        self.summary.bytes += node.size;
        if meta.nlink() > 1 {
            self.hard_links
                .insert(link_key, (node.size, node.content.clone()));
        }
        self.report_path(path);
        Ok(Some(node))
    }

    fn store_tree(&mut self, tree: &Tree) -> Result<Id> {
        let json = serde_json::to_vec(tree).map_err(|e| VaultError::invalid("tree", e))?;
        let id = self.repo.keys().blob_id(&json);
        self.store(id, BlobKind::Tree, json)?;
        Ok(id)
    }

    fn store(&mut self, id: Id, kind: BlobKind, data: Vec<u8>) -> Result<()> {
        super::check_stop(self.stop)?;
        if self.index.contains(&id) || !self.queued.insert(id) {
            return Ok(());
        }
        self.summary.new_blobs += 1;
        self.summary.new_bytes += data.len() as u64;
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| VaultError::invalid("backup", "pipeline already closed"))?;
        if tx.send(BlobJob { id, kind, data }).is_err() || self.state.failed() {
            return Err(self
                .state
                .take_error()
                .unwrap_or_else(|| VaultError::invalid("backup", "all writer threads stopped")));
        }
        Ok(())
    }

    fn report_path(&mut self, path: &Path) {
        if self.last_report.elapsed() >= Duration::from_millis(100) {
            self.report(&path.display().to_string(), false);
        }
    }

    fn report(&mut self, current: &str, force: bool) {
        let now = Instant::now();
        if !force && now.duration_since(self.last_report) < Duration::from_millis(100) {
            return;
        }
        self.last_report = now;
        (self.progress)(&Progress {
            files: self.summary.files,
            dirs: self.summary.dirs,
            bytes: self.progress_bytes,
            total_bytes: None,
            new_bytes: self.summary.new_bytes,
            elapsed: now.duration_since(self.started),
            current: current.to_string(),
        });
    }
}
