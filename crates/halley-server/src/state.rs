//! The state every request handler shares.

use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::password::VerifiedCache;
use crate::auth::session_cache::SessionCache;
use crate::auth::throttle::Throttle;
use crate::auth::verify_pool::VerifyPool;
use crate::config::ConfigStore;
use crate::events::audit::AuditFiles;
use crate::events::webhooks::Deliveries;
use crate::events::EventBus;
use crate::store::cluster::Cluster;
use crate::store::Store;

pub struct AppState {
    pub config: ConfigStore,
    pub store: Arc<dyn Store>,
    /// On PostgreSQL, what this node shares with the others on the database.
    pub cluster: Option<Arc<Cluster>>,
    /// `IPRateLimit`'s bandwidth domains.
    pub rate_limits: crate::http::rate_limit::RateLimits,
    /// Told when another node answered a request relayed to its device.
    pub relay_answered: tokio::sync::Notify,
    pub events: EventBus,
    pub lifecycle: crate::lifecycle::LifecycleControl,
    /// The licence portal (`--license-portal`), also the release feed.
    pub license_portal: Option<String>,
    pub deliveries: Deliveries,
    pub audit: AuditFiles,
    pub data_dir: PathBuf,
    pub throttle: Throttle,
    pub verified: VerifiedCache,
    /// Where argon2 runs, a few at a time.
    pub verify_pool: VerifyPool,
    pub session_cache: SessionCache,
    /// When this process started, and a value unique to this start, so that
    /// clients can tell a restart happened (`meta/version`).
    pub start_time: i64,
    pub start_hash: String,
    /// Origins that may frame the web interface and message it (empty: any).
    pub web_allowed_origins: crate::web::AllowedOrigins,
    /// Self-backups run one at a time.
    pub self_backup_turn: tokio::sync::Mutex<()>,
    /// The live device connections of this node.
    pub devices: crate::devices::Registry,
    /// How long a running job's device may stay away before the job is
    /// abandoned (7007).
    pub job_abandon_after: std::time::Duration,
    /// The agent binary client packages are built from, and devices update
    /// to.
    pub agent_binary: PathBuf,
    /// What that binary says its version is, asked once.
    pub offered_agent_version: tokio::sync::OnceCell<Option<String>>,
    /// Restore archives awaited from devices, by token.
    pub uploads: crate::devices::uploads::Uploads,
    /// The Storage Role's bucket files.
    pub buckets: crate::storage::data::BucketStorage,
    /// Copying the buckets to replicas.
    pub replication: crate::storage::replication::Replication,
    /// Security-key challenges awaiting their answer.
    pub webauthn: crate::auth::webauthn::Challenges,
    pub u2f: crate::auth::u2f::Challenges,
    /// API requests and their latency, for `/metrics`.
    pub requests: crate::metrics::Requests,
    /// Who may read `/metrics` (nobody unless configured).
    pub metrics_access: crate::metrics::Access,
    /// The Constellation checks' figures.
    pub constellation: crate::service::constellation::ConstellationFigures,
    /// The update campaign, read from the store at first use.
    pub update_campaign:
        tokio::sync::OnceCell<tokio::sync::Mutex<Option<halley_api::types::UpdateCampaignStatus>>>,
}

impl AppState {
    pub fn new(
        config: ConfigStore,
        store: Arc<dyn Store>,
        data_dir: PathBuf,
        event_queue_limit: usize,
    ) -> Self {
        AppState {
            config,
            store,
            cluster: None,
            relay_answered: Default::default(),
            rate_limits: Default::default(),
            events: EventBus::new(event_queue_limit),
            lifecycle: Default::default(),
            license_portal: None,
            deliveries: Deliveries::default(),
            audit: AuditFiles::new(data_dir.join("logs")),
            data_dir,
            throttle: Throttle::default(),
            verified: VerifiedCache::default(),
            verify_pool: VerifyPool::default(),
            session_cache: SessionCache::default(),
            start_time: crate::util::now_unix(),
            start_hash: crate::util::random_hex(16),
            web_allowed_origins: Default::default(),
            self_backup_turn: Default::default(),
            devices: Default::default(),
            job_abandon_after: std::time::Duration::from_secs(120),
            agent_binary: std::env::current_exe()
                .map(|exe| exe.with_file_name("halley-agent"))
                .unwrap_or_default(),
            offered_agent_version: Default::default(),
            uploads: Default::default(),
            buckets: Default::default(),
            constellation: Default::default(),
            requests: Default::default(),
            metrics_access: Default::default(),
            webauthn: Default::default(),
            u2f: Default::default(),
            replication: Default::default(),
            update_campaign: Default::default(),
        }
    }

    /// Whether this node is the one to do the background work `work` now:
    /// alone, always; in a cluster, while it holds the lease, which it
    /// renews for `ttl` each time it asks (so ask more often than `ttl`).
    pub async fn leads(&self, work: &str, ttl: std::time::Duration) -> bool {
        let Some(cluster) = &self.cluster else {
            return true;
        };
        match cluster.lease(work, ttl).await {
            Ok(held) => held,
            Err(why) => {
                tracing::warn!("taking the lease on {work}: {why}");
                false
            }
        }
    }
}
