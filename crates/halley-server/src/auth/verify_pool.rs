//! Where argon2 runs: on tokio's blocking pool, never on the threads that
//! serve requests, and only a few at a time. Signed-in callers (a session
//! key, or a password already verified) never wait here, so a flood of
//! wrong passwords costs its own time, queued, instead of the server's.
//! The queue is bounded: past it, a sign-in is answered "busy" at once
//! rather than piling up memory and latency.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use crate::http::{ApiError, ApiResult};

/// Sign-ins waiting for a verification slot beyond which new ones are
/// refused with `Status` 503.
pub const QUEUE_LIMIT: usize = 256;

pub struct VerifyPool {
    slots: Semaphore,
    waiting: AtomicUsize,
}

impl Default for VerifyPool {
    fn default() -> Self {
        // Leave a core to the request threads.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        VerifyPool {
            slots: Semaphore::new(cores.saturating_sub(1).max(1)),
            waiting: AtomicUsize::new(0),
        }
    }
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl VerifyPool {
    /// Runs `work` (an argon2 hash or verification) on the blocking pool once
    /// a slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= QUEUE_LIMIT {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy());
        }
        let waiting = Waiting(&self.waiting);
        let _slot = self.slots.acquire().await.map_err(|_| busy())?;
        drop(waiting);
        tokio::task::spawn_blocking(work)
            .await
            .map_err(ApiError::internal)
    }
}

fn busy() -> ApiError {
    ApiError::new(
        503,
        "The server is busy checking sign-ins; try again in a moment",
    )
}
