//! Reading small files ahead of the walker.
//!
//! A tree of many small files is bound by the latency of opening and reading
//! each one, not by the CPU. Reader threads fetch the next small files of a
//! directory while the walker chunks the current one; the walker still
//! consumes them in order, so snapshots do not depend on timing. The bytes
//! in flight are capped (see [`BUDGET`]).

use std::io::Read;
use std::path::PathBuf;

use crossbeam_channel::{Receiver, Sender};

/// Most bytes read ahead at once.
pub(crate) const BUDGET: u64 = 32 << 20;

/// Reader threads: enough to overlap file system waits, few enough to stay
/// out of the way of the compressors.
pub(crate) const READERS: usize = 4;

/// A file's content on its way, or why it could not be read.
pub(crate) type Pending = Receiver<std::io::Result<Vec<u8>>>;

pub(crate) struct ReadJob {
    pub path: PathBuf,
    /// Read at most this many bytes plus one, so a file that grew since it
    /// was listed is noticed without reading it all.
    pub limit: u64,
    pub reply: Sender<std::io::Result<Vec<u8>>>,
}

/// Runs one reader until the job channel closes.
pub(crate) fn reader(jobs: Receiver<ReadJob>) {
    for job in jobs.iter() {
        let result = std::fs::File::open(&job.path).and_then(|f| {
            let mut data = Vec::new();
            f.take(job.limit + 1).read_to_end(&mut data)?;
            Ok(data)
        });
        // The walker may have stopped waiting (an error elsewhere): fine.
        let _ = job.reply.send(result);
    }
}
