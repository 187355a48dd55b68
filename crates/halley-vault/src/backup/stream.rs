//! Backing up a byte stream (`engine1/stdout`): a program's output, stored
//! as one file in a snapshot of its own.

use std::io::Read;
use std::time::Instant;

use fastcdc::v2020::{Normalization, StreamCDC};

use super::{run_pipeline, snapshot_time, BackupOptions, BlobJob};
use crate::compress::Compression;
use crate::error::{Result, VaultError};
use crate::index::BlobKind;
use crate::lock;
use crate::progress::{Progress, ProgressFn};
use crate::repo::{FileKind, Repository};
use crate::snapshot::{BackupSummary, Snapshot, SnapshotInfo, ENGINE_STDOUT};
use crate::tree::{Name, Node, NodeKind, Tree};

/// Stores everything `input` yields as the file `file_name` at the root of a
/// new snapshot. `label` (e.g. the command line) is recorded as its path.
pub fn backup_stream(
    repo: &Repository,
    input: impl Read,
    file_name: &str,
    label: &str,
    opts: &BackupOptions,
    progress: ProgressFn<'_>,
) -> Result<SnapshotInfo> {
    let stream: Box<dyn Read + '_> = Box::new(input);
    let mut one = std::iter::once(Ok((file_name.to_string(), stream)));
    backup_streams(repo, &mut one, label, opts, progress)
}

/// A stream to store: the file name it gets, and its bytes.
pub type NamedStream<'s> = (String, Box<dyn Read + 's>);

/// Stores each stream `inputs` yields as a file at the root of one new
/// snapshot (a database dump per database, say). A stream that fails to
/// start or to read fails the backup: a dump is whole or not at all.
pub fn backup_streams<'s>(
    repo: &Repository,
    inputs: &mut dyn Iterator<Item = Result<NamedStream<'s>>>,
    label: &str,
    opts: &BackupOptions,
    progress: ProgressFn<'_>,
) -> Result<SnapshotInfo> {
    let probe = Node {
        name: Name(vec![]),
        kind: NodeKind::File,
        mode: 0o600,
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
    };
    let _lock = lock::acquire(repo, false, "backup")?;
    let started = Instant::now();
    let (time, time_nsec) = snapshot_time(opts.time);
    let index = repo.load_index()?;
    let comp = Compression::from_api_level(opts.compression);
    let run = run_pipeline(repo, comp, |tx, state| {
        let mut summary = BackupSummary::default();
        let mut queued = std::collections::HashSet::new();
        let mut send = |id, kind, data: Vec<u8>, summary: &mut BackupSummary| -> Result<()> {
            if index.contains(&id) || !queued.insert(id) {
                return Ok(());
            }
            summary.new_blobs += 1;
            summary.new_bytes += data.len() as u64;
            tx.send(BlobJob { id, kind, data }).map_err(|_| {
                state
                    .take_error()
                    .unwrap_or_else(|| VaultError::invalid("backup", "writer threads stopped"))
            })
        };
        let cp = repo.config().chunker;
        let mut nodes: Vec<Node> = Vec::new();
        for named in inputs {
            let (file_name, input) = named?;
            let mut node = probe.clone();
            node.name = Name(file_name.as_bytes().to_vec());
            node.mtime = time;
            node.check_name()?;
            if nodes.iter().any(|n| n.name == node.name) {
                return Err(VaultError::invalid(
                    "stream name",
                    format!("{file_name:?} twice"),
                ));
            }
            summary.files += 1;
            summary.files_read += 1;
            let chunks = StreamCDC::with_level_and_seed(
                input,
                cp.min,
                cp.avg,
                cp.max,
                Normalization::Level1,
                repo.keys().chunker_seed,
            );
            for chunk in chunks {
                super::check_stop(opts.stop.as_deref())?;
                let chunk = chunk
                    .map_err(|e| VaultError::io("read", &file_name, std::io::Error::other(e)))?;
                let id = repo.keys().blob_id(&chunk.data);
                node.size += chunk.data.len() as u64;
                node.content.push(id);
                summary.bytes += chunk.data.len() as u64;
                send(id, BlobKind::Data, chunk.data, &mut summary)?;
                progress(&Progress {
                    files: summary.files - 1,
                    bytes: summary.bytes,
                    new_bytes: summary.new_bytes,
                    elapsed: started.elapsed(),
                    current: file_name.clone(),
                    ..Default::default()
                });
            }
            nodes.push(node);
        }
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let tree = Tree { nodes };
        let json = serde_json::to_vec(&tree).map_err(|e| VaultError::invalid("tree", e))?;
        let root = repo.keys().blob_id(&json);
        send(root, BlobKind::Tree, json, &mut summary)?;
        Ok((root, summary))
    })?;
    let (root, mut summary) = run.value;
    summary.stored_bytes = run.stored_bytes;
    let snapshot = Snapshot {
        time,
        time_nsec,
        hostname: opts.hostname.clone().unwrap_or_else(lock::hostname),
        source: opts.source.clone(),
        engine: ENGINE_STDOUT.into(),
        paths: vec![label.to_string()],
        tree: root,
        parent: None,
        tags: opts.tags.clone(),
        summary,
        program: format!("halley-vault {}", env!("CARGO_PKG_VERSION")),
    };
    super::check_stop(opts.stop.as_deref())?;
    let id = repo.save_file(FileKind::Snapshot, &snapshot)?;
    Ok(SnapshotInfo { id, snapshot })
}
