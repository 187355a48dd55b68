//! Creating entries on disk: directories, links, fifos, and the parallel
//! writing of file contents with holes where the content is zeros.

use std::fs;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use filetime::FileTime;

use super::grouped::Windowed;
use crate::error::{Result, VaultError};
use crate::index::Index;
use crate::progress::{Progress, ProgressFn};
use crate::repo::Repository;
use crate::tree::Node;

/// Removes whatever non-directory is at `dest`, so creating the entry never
/// follows an existing symlink.
fn clear(dest: &Path) -> Result<()> {
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => Err(VaultError::io(
            "restore over",
            dest,
            std::io::Error::other("a directory is in the way"),
        )),
        Ok(_) => fs::remove_file(dest).map_err(|e| VaultError::io("replace", dest, e)),
        Err(_) => Ok(()),
    }
}

pub(super) fn make_dir(dest: &Path) -> Result<()> {
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => {
            fs::remove_file(dest).map_err(|e| VaultError::io("replace", dest, e))?;
            fs::create_dir(dest).map_err(|e| VaultError::io("create", dest, e))
        }
        Err(_) => fs::create_dir(dest).map_err(|e| VaultError::io("create", dest, e)),
    }
}

pub(super) fn make_symlink(dest: &Path, node: &Node) -> Result<()> {
    clear(dest)?;
    let target = node
        .target
        .as_ref()
        .ok_or_else(|| VaultError::corrupt("tree", "symlink without target"))?;
    std::os::unix::fs::symlink(target.as_os(), dest)
        .map_err(|e| VaultError::io("create symlink", dest, e))?;
    let _ = std::os::unix::fs::lchown(dest, Some(node.uid), Some(node.gid));
    let t = FileTime::from_unix_time(node.mtime, node.mtime_nsec);
    filetime::set_symlink_file_times(dest, t, t)
        .map_err(|e| VaultError::io("set times of", dest, e))
}

pub(super) fn make_fifo(dest: &Path, node: &Node) -> Result<()> {
    clear(dest)?;
    nix::unistd::mkfifo(dest, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| VaultError::io("create fifo", dest, std::io::Error::from(e)))?;
    apply_meta(dest, node)
}

pub(super) fn make_hard_link(first: &Path, dest: &Path) -> Result<()> {
    clear(dest)?;
    fs::hard_link(first, dest).map_err(|e| VaultError::io("link", dest, e))
}

/// Owner (when permitted), mode, then times: chown clears set-id bits, and
/// both would change the ctime but not the mtime set last.
pub(super) fn apply_meta(dest: &Path, node: &Node) -> Result<()> {
    // Only root may give files away; as anyone else the files stay ours.
    let _ = std::os::unix::fs::lchown(dest, Some(node.uid), Some(node.gid));
    fs::set_permissions(dest, fs::Permissions::from_mode(node.mode))
        .map_err(|e| VaultError::io("set mode of", dest, e))?;
    let t = FileTime::from_unix_time(node.mtime, node.mtime_nsec);
    filetime::set_symlink_file_times(dest, t, t)
        .map_err(|e| VaultError::io("set times of", dest, e))
}

pub(super) struct Written {
    pub files: u64,
    pub bytes: u64,
    pub errors: Vec<String>,
}

/// Files handed to one writer at a time: consecutive small files go together
/// (up to [`BATCH_BYTES`] and [`BATCH_FILES`], or one file of any size), so
/// that their chunks, which usually sit side by side in a pack, come in few
/// grouped reads, while there are still batches enough to keep every writer
/// busy.
const BATCH_FILES: usize = 256;
const BATCH_BYTES: u64 = 1 << 20;

fn batches(jobs: Vec<(PathBuf, Node)>) -> Vec<Vec<(PathBuf, Node)>> {
    let mut out: Vec<Vec<(PathBuf, Node)>> = Vec::new();
    let mut current = Vec::new();
    let mut size = 0u64;
    for job in jobs {
        if !current.is_empty() && (size + job.1.size > BATCH_BYTES || current.len() >= BATCH_FILES)
        {
            out.push(std::mem::take(&mut current));
            size = 0;
        }
        size += job.1.size;
        current.push(job);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Writes the files with several threads per core: creating and closing
/// files waits on the file system far more than it computes, so more writers
/// than cores keep the cores busy. Each writer reads the chunks of its batch
/// of files a window at a time with grouped reads (see [`super::grouped`]),
/// so memory stays within a window and a read buffer per writer.
pub(super) fn write_all(
    repo: &Repository,
    index: &Index,
    jobs: Vec<(PathBuf, Node)>,
    total: u64,
    started: Instant,
    progress: ProgressFn<'_>,
) -> Written {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() * 4)
        .unwrap_or(8)
        .clamp(4, 32);
    let files = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let errors = Mutex::new(Vec::new());
    let last_report = Mutex::new(started);
    let report = |current: &Path| {
        if let Ok(mut last) = last_report.try_lock() {
            if last.elapsed() >= Duration::from_millis(100) {
                *last = Instant::now();
                progress(&Progress {
                    files: files.load(Ordering::Relaxed),
                    bytes: bytes.load(Ordering::Relaxed),
                    total_bytes: Some(total),
                    elapsed: started.elapsed(),
                    current: current.display().to_string(),
                    ..Default::default()
                });
            }
        }
    };
    let (tx, rx) = crossbeam_channel::unbounded();
    for batch in batches(jobs) {
        let _ = tx.send(batch);
    }
    drop(tx);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let rx = rx.clone();
            let (files, bytes, errors, report) = (&files, &bytes, &errors, &report);
            s.spawn(move || {
                for batch in rx.iter() {
                    let ids: Vec<_> = batch
                        .iter()
                        .flat_map(|(_, node)| node.content.iter().copied())
                        .collect();
                    let mut blobs = Windowed::new(repo, index, ids);
                    for (dest, node) in &batch {
                        match write_file(&mut blobs, dest, node, bytes) {
                            Ok(()) => {
                                files.fetch_add(1, Ordering::Relaxed);
                            }
                            Err((e, unread)) => {
                                blobs.skip(unread);
                                if let Ok(mut errs) = errors.lock() {
                                    errs.push(format!("{}: {e}", dest.display()));
                                }
                            }
                        }
                        report(dest);
                    }
                }
            });
        }
    });
    Written {
        files: files.into_inner(),
        bytes: bytes.into_inner(),
        errors: errors.into_inner().unwrap_or_default(),
    }
}

/// Writes one file from the next `node.content.len()` blobs of `blobs`. On
/// failure, also says how many of its blobs were not taken, so the caller
/// can skip them.
fn write_file(
    blobs: &mut Windowed<'_>,
    dest: &Path,
    node: &Node,
    bytes: &AtomicU64,
) -> std::result::Result<(), (VaultError, usize)> {
    let count = node.content.len();
    let fail_all = |e: VaultError| (e, count);
    clear(dest).map_err(fail_all)?;
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(|e| fail_all(VaultError::io("create", dest, e)))?;
    let mut pos = 0u64;
    for taken in 1..=count {
        let fail = |e: VaultError| (e, count - taken);
        let data = match blobs.next_blob() {
            Some(Ok(data)) => data,
            Some(Err(e)) => return Err(fail(e)),
            None => {
                return Err(fail(VaultError::Missing(format!(
                    "content of {}",
                    dest.display()
                ))))
            }
        };
        write_sparse(&file, data, pos).map_err(|e| fail(VaultError::io("write", dest, e)))?;
        pos += data.len() as u64;
        bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
    }
    let done = |e: VaultError| (e, 0);
    if pos != node.size {
        return Err(done(VaultError::corrupt(
            format!("file {}", dest.display()),
            format!("content is {pos} bytes, the tree says {}", node.size),
        )));
    }
    file.set_len(pos)
        .map_err(|e| done(VaultError::io("resize", dest, e)))?;
    drop(file);
    apply_meta(dest, node).map_err(done)
}

/// Writes `data` at `pos`, skipping 4 KiB blocks of zeros so they stay holes
/// (sparse files come back sparse; `set_len` at the end covers a final hole).
fn write_sparse(file: &fs::File, data: &[u8], pos: u64) -> std::io::Result<()> {
    const BLOCK: usize = 4096;
    let mut start = None;
    let mut off = 0;
    while off < data.len() {
        let end = (off + BLOCK).min(data.len());
        let zero = data[off..end].iter().all(|&b| b == 0);
        match (zero, start) {
            (false, None) => start = Some(off),
            (true, Some(s)) => {
                file.write_all_at(&data[s..off], pos + s as u64)?;
                start = None;
            }
            _ => {}
        }
        off = end;
    }
    if let Some(s) = start {
        file.write_all_at(&data[s..], pos + s as u64)?;
    }
    Ok(())
}
