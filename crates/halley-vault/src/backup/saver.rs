//! The write half of the backup pipeline: worker threads that compress, seal
//! and pack blobs and upload full packs.
//!
//! The walker hands over blobs through a bounded channel, so memory stays
//! bounded by (channel capacity + workers) blobs plus one pack per worker,
//! whatever the size of the files. Each worker fills its own pack, so the
//! workers share nothing but the list of finished packs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crossbeam_channel::Receiver;

use crate::compress::Compression;
use crate::error::{Result, VaultError};
use crate::id::Id;
use crate::index::{BlobKind, PackEntry};
use crate::pack::PackBuilder;
use crate::repo::{pack_key, Repository};

/// One blob to store.
pub(crate) struct BlobJob {
    pub id: Id,
    pub kind: BlobKind,
    pub data: Vec<u8>,
}

/// What the workers report back.
#[derive(Default)]
pub(crate) struct SaverState {
    pub packs: Mutex<Vec<PackEntry>>,
    pub stored_bytes: AtomicU64,
    pub error: Mutex<Option<VaultError>>,
}

impl SaverState {
    pub fn failed(&self) -> bool {
        self.error.lock().map(|e| e.is_some()).unwrap_or(true)
    }

    fn fail(&self, e: VaultError) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(e);
        }
    }

    pub fn take_error(&self) -> Option<VaultError> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }
}

/// Runs one worker until the channel closes or an upload fails.
pub(crate) fn worker(
    repo: &Repository,
    comp: Compression,
    rx: Receiver<BlobJob>,
    state: &SaverState,
) {
    let mut pack = PackBuilder::default();
    let target = repo.config().pack_size as usize;
    for job in rx.iter() {
        // Trees compress well whatever the data level says.
        let c = match job.kind {
            BlobKind::Tree => Compression::metadata(),
            BlobKind::Data => comp,
        };
        pack.add(repo.keys(), c, job.id, job.kind, &job.data);
        if pack.len() >= target {
            if let Err(e) = upload(repo, std::mem::take(&mut pack), state) {
                state.fail(e);
                return;
            }
        }
    }
    if !pack.is_empty() {
        if let Err(e) = upload(repo, pack, state) {
            state.fail(e);
        }
    }
}

fn upload(repo: &Repository, pack: PackBuilder, state: &SaverState) -> Result<()> {
    let (bytes, entry) = pack.finish(repo.keys());
    repo.backend().put(&pack_key(&entry.id), &bytes)?;
    state
        .stored_bytes
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    state
        .packs
        .lock()
        .map_err(|_| VaultError::invalid("pack list", "a worker panicked"))?
        .push(entry);
    Ok(())
}
