//! What every request handler shares.

use std::sync::Arc;

use crate::auth::VerifiedCache;
use crate::billing::Prices;
use crate::catalogue::Catalogue;
use crate::hosted::Supervisor;
use crate::store::Store;
use crate::throttle::LoginThrottle;

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub verified: Arc<VerifiedCache>,
    pub throttle: LoginThrottle,
    pub catalogue: Catalogue,
    pub prices: Prices,
    pub hosted: Arc<Supervisor>,
    /// `user_dns` of an instance is `<subdomain>.<dns_suffix>`.
    pub dns_suffix: String,
}
