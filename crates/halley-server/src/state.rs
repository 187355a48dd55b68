//! The state every request handler shares.

use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::password::VerifiedCache;
use crate::auth::throttle::Throttle;
use crate::auth::totp::TotpGuard;
use crate::config::ConfigStore;
use crate::events::audit::AuditFiles;
use crate::events::webhooks::Deliveries;
use crate::events::EventBus;
use crate::store::Store;

pub struct AppState {
    pub config: ConfigStore,
    pub store: Arc<dyn Store>,
    pub events: EventBus,
    pub lifecycle: crate::lifecycle::LifecycleControl,
    /// The licence portal (`--license-portal`), also the release feed.
    pub license_portal: Option<String>,
    pub deliveries: Deliveries,
    pub audit: AuditFiles,
    pub data_dir: PathBuf,
    pub throttle: Throttle,
    pub verified: VerifiedCache,
    pub totp: TotpGuard,
    /// When this process started, and a value unique to this start, so that
    /// clients can tell a restart happened (`meta/version`).
    pub start_time: i64,
    pub start_hash: String,
    /// Origins that may frame the web interface and message it (empty: any).
    pub web_allowed_origins: crate::web::AllowedOrigins,
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
            events: EventBus::new(event_queue_limit),
            lifecycle: Default::default(),
            license_portal: None,
            deliveries: Deliveries::default(),
            audit: AuditFiles::new(data_dir.join("logs")),
            data_dir,
            throttle: Throttle::default(),
            verified: VerifiedCache::default(),
            totp: TotpGuard::default(),
            start_time: crate::util::now_unix(),
            start_hash: crate::util::random_hex(16),
            web_allowed_origins: Default::default(),
        }
    }
}
