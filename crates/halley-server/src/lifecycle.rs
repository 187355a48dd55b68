//! Asked-for ends of a run: `meta/restart-service`,
//! `meta/server-config/set` and `meta/shutdown-service` answer first, then
//! the server stops gracefully (and, for a restart, runs again from its files
//! and database on the same sockets: `main.rs`, `handover.rs`).

use std::time::Duration;

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Running,
    Restart,
    Shutdown,
}

/// Lets an API reply reach its caller before the listeners close.
const GRACE: Duration = Duration::from_millis(300);

pub struct LifecycleControl {
    sender: watch::Sender<Lifecycle>,
}

impl Default for LifecycleControl {
    fn default() -> Self {
        LifecycleControl {
            sender: watch::channel(Lifecycle::Running).0,
        }
    }
}

impl LifecycleControl {
    /// Requests `next` shortly, in the background.
    pub fn request(&self, next: Lifecycle) {
        let sender = self.sender.clone();
        tokio::spawn(async move {
            tokio::time::sleep(GRACE).await;
            let _ = sender.send(next);
        });
    }

    pub fn current(&self) -> Lifecycle {
        *self.sender.borrow()
    }

    /// Resolves once something other than running is asked for.
    pub async fn ended(&self) {
        let mut receiver = self.sender.subscribe();
        let _ = receiver
            .wait_for(|state| *state != Lifecycle::Running)
            .await;
    }
}
