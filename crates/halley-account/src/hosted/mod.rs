//! Hosted server instances ("CometGo!"): each one a real `halleyd` process that
//! the portal launches and keeps running. Where it runs is a [`Placement`]:
//! [`LocalPlacement`] runs processes on this machine; a cloud deployment would
//! implement the same trait over its provider's API.

mod local;
mod supervisor;

pub use local::LocalPlacement;
pub use supervisor::Supervisor;

use std::net::SocketAddr;

use async_trait::async_trait;
use rand::Rng;

use crate::store::HostedServer;

/// `install_status` / `aws_status` pairs an instance moves through. The
/// `aws_status` values follow EC2's instance states, as the API guide's sample does.
pub mod states {
    pub const QUEUED: (&str, &str) = ("Queued", "pending");
    pub const CREATING: (&str, &str) = ("Creating server...", "pending");
    pub const STARTING: (&str, &str) = ("Starting server...", "pending");
    pub const RUNNING: (&str, &str) = ("Running", "running");
    pub const RESTARTING: (&str, &str) = ("Restarting server...", "pending");
    pub const START_FAILED: (&str, &str) = ("Start failed, retrying...", "pending");
    /// The portal itself shut down; the instance starts again with it.
    pub const STOPPED: (&str, &str) = ("Stopped", "stopped");
    pub const DELETING: (&str, &str) = ("Deleting server...", "shutting-down");
    pub const DELETED: (&str, &str) = ("Deleted", "terminated");
}

/// The administrator every new instance gets.
pub const ADMIN_USERNAME: &str = "admin";

/// A process of an instance, as started by a placement.
#[async_trait]
pub trait Running: Send {
    fn address(&self) -> SocketAddr;
    fn pid(&self) -> Option<u32>;
    /// Resolves when the process ends by itself, with a description of how.
    async fn wait(&mut self) -> String;
    /// Asks the process to stop, and forces it after a grace period.
    async fn stop(&mut self);
}

#[async_trait]
pub trait Placement: Send + Sync {
    /// Regions this placement can run instances in.
    fn regions(&self) -> Vec<String>;
    fn has_region(&self, region: &str) -> bool {
        self.regions().iter().any(|r| r == region)
    }
    /// Launches the instance (creating its storage on the first start) and
    /// resolves once it serves HTTP.
    async fn start(&self, instance: &HostedServer) -> anyhow::Result<Box<dyn Running>>;
    /// Ends a process of this instance left by an earlier portal run, if one
    /// is still alive, so the instance can be started under supervision again.
    async fn reap_stale(&self, instance: &HostedServer);
    /// Removes what the stopped instance kept.
    async fn destroy(&self, instance: &HostedServer) -> anyhow::Result<()>;
    /// Where the instance's API answers, once it has run.
    fn url(&self, instance: &HostedServer) -> Option<String>;
}

/// A subdomain must be usable as one DNS label (RFC 1123): 1 to 63 of
/// `a-z`, `0-9` and `-`, not starting or ending with `-`. Upper case is folded.
pub fn normalize_subdomain(text: &str) -> Option<String> {
    let label = text.trim().to_ascii_lowercase();
    let valid = (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-');
    valid.then_some(label)
}

/// A new administrator password: 24 characters from an unambiguous alphabet.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..24)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_are_dns_labels() {
        assert_eq!(
            normalize_subdomain("Neat-Backup-3").as_deref(),
            Some("neat-backup-3")
        );
        assert_eq!(normalize_subdomain("-x"), None);
        assert_eq!(normalize_subdomain("x-"), None);
        assert_eq!(normalize_subdomain(""), None);
        assert_eq!(normalize_subdomain("a.b"), None);
        assert_eq!(normalize_subdomain("a_b"), None);
        assert_eq!(normalize_subdomain(&"a".repeat(64)), None);
        assert!(normalize_subdomain(&"a".repeat(63)).is_some());
    }

    #[test]
    fn passwords_are_long_and_random() {
        let (a, b) = (generate_password(), generate_password());
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
    }
}
