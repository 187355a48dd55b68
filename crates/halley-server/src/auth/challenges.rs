//! Challenges handed out to a client and awaiting its answer: each lives
//! five minutes and answers once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::util::random_hex;

const LIFETIME: Duration = Duration::from_secs(300);

pub struct Challenges<T>(Mutex<HashMap<String, (Instant, T)>>);

impl<T> Default for Challenges<T> {
    fn default() -> Self {
        Challenges(Mutex::new(HashMap::new()))
    }
}

impl<T> Challenges<T> {
    /// Keeps `pending`; its ID.
    pub fn put(&self, pending: T) -> String {
        let id = random_hex(16);
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|_, (made, _)| made.elapsed() < LIFETIME);
        all.insert(id.clone(), (Instant::now(), pending));
        id
    }

    /// The challenge `id`, once, if it has not expired.
    pub fn take(&self, id: &str) -> Option<T> {
        let (made, pending) = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)?;
        (made.elapsed() < LIFETIME).then_some(pending)
    }
}
