//! Persistence behind one trait, so the portal's rules never see SQL. SQLite
//! (one file in the data directory, WAL) is the implementation; another engine
//! joins by implementing [`Store`].

mod sqlite;

pub use sqlite::SqliteStore;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct License {
    pub serial: String,
    pub account_id: i64,
    pub created_at: i64,
    pub archived_at: Option<i64>,
    /// The server the serial is bound to; `None` while free.
    pub server_id: Option<String>,
    pub activated_at: Option<i64>,
    pub last_seen_at: Option<i64>,
}

/// How an activation attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Bound now, or already bound to the same server.
    Bound,
    Unknown,
    Archived,
    /// Bound to a different server; `relax` frees it.
    BoundElsewhere,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HostedServer {
    pub id: i64,
    pub account_id: i64,
    pub region: String,
    pub subdomain: String,
    pub server_name: String,
    pub install_status: String,
    pub aws_status: String,
    pub admin_username: String,
    pub admin_password: String,
    pub port: Option<u16>,
    pub pid: Option<u32>,
    pub created_at: i64,
    pub terminate_requested: bool,
    pub deleted_at: Option<i64>,
}

/// What a new hosted instance starts as.
#[derive(Debug, Clone)]
pub struct NewHostedServer {
    pub account_id: i64,
    pub region: String,
    pub subdomain: String,
    pub server_name: String,
    pub install_status: String,
    pub aws_status: String,
    pub admin_username: String,
    pub admin_password: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deduction {
    pub account_id: i64,
    pub service_type: String,
    pub service_id: String,
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub description: String,
    pub amount_cents: i64,
    pub charged_at: i64,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the email is taken.
    async fn account_create(&self, email: &str, password_hash: &str, now: i64) -> StoreResult<i64>;
    async fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>>;
    async fn account_by_token(&self, token_hash: &str) -> StoreResult<Option<Account>>;
    async fn token_create(
        &self,
        account_id: i64,
        token_hash: &str,
        name: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// False when the account holds no such token.
    async fn token_revoke(&self, account_id: i64, token_hash: &str) -> StoreResult<bool>;

    /// Fails with [`StoreError::Conflict`] when the serial exists.
    async fn license_create(&self, account_id: i64, serial: &str, now: i64) -> StoreResult<()>;
    async fn license_get(&self, serial: &str) -> StoreResult<Option<License>>;
    /// All licences, of one account or (with `None`) of every account, oldest first.
    async fn license_list(&self, account_id: Option<i64>) -> StoreResult<Vec<License>>;
    /// Frees the binding of an account's serial. False when the account has no such serial.
    async fn license_relax(&self, account_id: i64, serial: &str) -> StoreResult<bool>;
    /// Archives an account's serial (and frees it). False when the account has no such serial.
    async fn license_archive(&self, account_id: i64, serial: &str, now: i64) -> StoreResult<bool>;
    /// Binds a free serial to `server_id` atomically: of two servers racing
    /// for one serial, exactly one wins.
    async fn license_activate(
        &self,
        serial: &str,
        server_id: &str,
        now: i64,
    ) -> StoreResult<Activation>;

    /// Fails with [`StoreError::Conflict`] when the subdomain is in use.
    async fn hosted_create(&self, new: &NewHostedServer) -> StoreResult<i64>;
    async fn hosted_get(&self, id: i64) -> StoreResult<Option<HostedServer>>;
    /// One account's instances (or every account's, with `None`), by id.
    async fn hosted_list(
        &self,
        account_id: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<HostedServer>>;
    async fn hosted_set_status(
        &self,
        id: i64,
        install_status: &str,
        aws_status: &str,
    ) -> StoreResult<()>;
    async fn hosted_set_runtime(
        &self,
        id: i64,
        port: Option<u16>,
        pid: Option<u32>,
    ) -> StoreResult<()>;
    /// Marks the instance for termination. False when it is already deleted
    /// or being deleted (or unknown).
    async fn hosted_request_terminate(&self, id: i64) -> StoreResult<bool>;
    async fn hosted_mark_deleted(&self, id: i64, now: i64) -> StoreResult<()>;

    /// Inserts the charge unless that service was already charged that day.
    async fn deduction_add(&self, deduction: &Deduction) -> StoreResult<()>;
    /// An account's deductions, oldest first.
    async fn deduction_list(&self, account_id: i64) -> StoreResult<Vec<Deduction>>;
}
