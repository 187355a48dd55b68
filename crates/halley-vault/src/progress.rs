//! Progress reports, delivered through a callback so the agent can forward
//! them to the server and the command line can draw a bar.

use std::time::Duration;

/// Where an operation is.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Files finished.
    pub files: u64,
    /// Directories finished.
    pub dirs: u64,
    /// Content bytes processed (read on backup, written on restore).
    pub bytes: u64,
    /// Bytes expected in total, when known (restore, verify).
    pub total_bytes: Option<u64>,
    /// New bytes stored (backup).
    pub new_bytes: u64,
    /// Time since the start.
    pub elapsed: Duration,
    /// The entry being worked on.
    pub current: String,
}

impl Progress {
    /// Processing rate in bytes per second.
    pub fn bytes_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.bytes as f64 / secs
        } else {
            0.0
        }
    }
}

/// A progress callback. It is called often (at least once per file and per
/// few megabytes) from the engine's thread; it must return quickly.
pub type ProgressFn<'a> = &'a (dyn Fn(&Progress) + Sync);

/// A callback that ignores everything.
pub fn no_progress(_: &Progress) {}
