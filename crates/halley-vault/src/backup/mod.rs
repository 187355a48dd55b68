//! Backing up files (`engine1/file`) and streams (`engine1/stdout`).
//!
//! This thread walks the source, reads and chunks files and hashes chunks;
//! the [`saver`] workers compress, seal, pack and upload. A snapshot is
//! written only after its packs and their index are stored, so an interrupted
//! backup leaves at worst unreferenced packs, which `prune` removes.

mod chunker;
mod filter;
mod prefetch;
mod saver;
mod stream;
mod walker;

pub use filter::Selection;
pub use stream::{backup_stream, backup_streams, NamedStream};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::compress::Compression;
use crate::error::{Result, VaultError};
use crate::index::IndexFile;
use crate::lock;
use crate::progress::ProgressFn;
use crate::repo::{FileKind, Repository};
use crate::snapshot::{BackupSummary, Snapshot, SnapshotInfo, ENGINE_FILE};

/// How a backup is labelled and stored.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// The source's name (a Protected Item); snapshots of one source form its
    /// history, retention applies per source, and the parent is the latest
    /// snapshot of the same source and host.
    pub source: String,
    /// The machine name recorded; `None` uses this host's.
    pub hostname: Option<String>,
    /// An API compression level (`COMPRESS_LVL_1`..`COMPRESS_LVL_5`).
    pub compression: i64,
    /// Tags recorded in the snapshot.
    pub tags: Vec<String>,
    /// The snapshot time (Unix seconds); `None` is now. For imports and tests.
    pub time: Option<i64>,
    /// Set by another thread to stop the backup (a cancelled job, a quota
    /// reached): it ends with [`VaultError::Stopped`] and writes no snapshot.
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            source: "default".into(),
            hostname: None,
            compression: halley_api::constants::COMPRESS_LVL_4,
            tags: vec![],
            time: None,
            stop: None,
        }
    }
}

/// Backs up the paths a [`Selection`] names and writes a snapshot.
///
/// Unreadable entries do not stop the backup: they are left out and listed in
/// the snapshot's `summary.errors`. Repository failures stop it.
pub fn backup(
    repo: &Repository,
    selection: &Selection,
    opts: &BackupOptions,
    progress: ProgressFn<'_>,
) -> Result<SnapshotInfo> {
    if selection.includes.is_empty() {
        return Err(VaultError::invalid("backup", "no path to back up"));
    }
    let _lock = lock::acquire(repo, false, "backup")?;
    let started = Instant::now();
    let (time, time_nsec) = snapshot_time(opts.time);
    let hostname = opts.hostname.clone().unwrap_or_else(lock::hostname);
    let index = repo.load_index()?;
    let parent = if selection.rescan_unchanged {
        None
    } else {
        repo.snapshots()?.into_iter().rev().find(|s| {
            s.snapshot.source == opts.source
                && s.snapshot.hostname == hostname
                && s.snapshot.engine == ENGINE_FILE
        })
    };
    let comp = Compression::from_api_level(opts.compression);
    let run = run_pipeline(repo, comp, |tx, state| {
        let mut w = walker::Walker::new(repo, &index, selection, tx, state, progress, started);
        w.stop = opts.stop.as_deref();
        let root = w.run(parent.as_ref().map(|p| p.snapshot.tree))?;
        Ok((root, w.finish()))
    })?;
    let (root, mut summary, paths) = (run.value.0, run.value.1 .0, run.value.1 .1);
    summary.stored_bytes += run.stored_bytes;
    let snapshot = Snapshot {
        time,
        time_nsec,
        hostname,
        source: opts.source.clone(),
        engine: ENGINE_FILE.into(),
        paths,
        tree: root,
        parent: parent.map(|p| p.id),
        tags: opts.tags.clone(),
        summary,
        program: format!("halley-vault {}", env!("CARGO_PKG_VERSION")),
    };
    check_stop(opts.stop.as_deref())?;
    let id = repo.save_file(FileKind::Snapshot, &snapshot)?;
    Ok(SnapshotInfo { id, snapshot })
}

/// Whether the caller asked the backup to stop.
pub(crate) fn check_stop(stop: Option<&AtomicBool>) -> Result<()> {
    match stop {
        Some(flag) if flag.load(Ordering::Relaxed) => Err(VaultError::Stopped),
        _ => Ok(()),
    }
}

pub(crate) fn snapshot_time(fixed: Option<i64>) -> (i64, u32) {
    match fixed {
        Some(t) => (t, 0),
        None => {
            let now = chrono::Utc::now();
            (now.timestamp(), now.timestamp_subsec_nanos())
        }
    }
}

pub(crate) struct PipelineRun<T> {
    pub value: T,
    pub stored_bytes: u64,
}

/// Runs `produce` on this thread with saver workers beside it, then stores
/// the index of the packs they wrote.
pub(crate) fn run_pipeline<T>(
    repo: &Repository,
    comp: Compression,
    produce: impl FnOnce(crossbeam_channel::Sender<saver::BlobJob>, &saver::SaverState) -> Result<T>,
) -> Result<PipelineRun<T>> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let state = saver::SaverState::default();
    let produced = std::thread::scope(|s| {
        let (tx, rx) = crossbeam_channel::bounded::<saver::BlobJob>(workers * 2);
        for _ in 0..workers {
            let rx = rx.clone();
            let state = &state;
            s.spawn(move || saver::worker(repo, comp, rx, state));
        }
        drop(rx);
        produce(tx, &state)
        // The sender moved into `produce` is dropped when it returns, so the
        // workers drain the channel, flush their packs and end with the scope.
    });
    if let Some(e) = state.take_error() {
        return Err(e);
    }
    let value = produced?;
    let packs = state
        .packs
        .into_inner()
        .map_err(|_| VaultError::invalid("pack list", "a worker panicked"))?;
    let mut stored_bytes = state.stored_bytes.into_inner();
    if !packs.is_empty() {
        let (_, size) = repo.save_file_sized(FileKind::Index, &IndexFile { packs })?;
        stored_bytes += size;
    }
    Ok(PipelineRun {
        value,
        stored_bytes,
    })
}

pub(crate) use saver::BlobJob;

/// Summary plus the recorded include paths.
pub(crate) type WalkOutcome = (BackupSummary, Vec<String>);
