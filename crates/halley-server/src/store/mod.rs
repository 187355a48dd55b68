//! Persistence behind one trait. SQLite is the embedded default; another engine
//! (PostgreSQL) joins by implementing [`Store`] and passing the same tests.
//!
//! The store deals in whole JSON documents plus the few indexed columns that
//! queries need; the rules about what a document may contain live in `service/`.

mod sqlite;

pub use sqlite::SqliteStore;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    /// The engine failed (I/O, corruption, a bug); the source says how.
    #[error("storage failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One end-user account: its profile document and that document's hash.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub username: String,
    pub organization_id: String,
    pub profile_json: String,
    pub profile_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Admin,
    User,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Admin => "admin",
            SessionKind::User => "user",
        }
    }
}

/// A login session. Only a hash of the key is stored, so a copy of the
/// database does not hand out working keys.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub key_hash: String,
    pub kind: SessionKind,
    pub username: String,
    pub organization_id: String,
    pub created_at: i64,
    pub last_used_at: i64,
}

/// How a conditional replace of a user profile ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceOutcome {
    Replaced,
    NotFound,
    HashMismatch,
}

/// A document the API exchanges whole (a policy, a user group).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRecord {
    pub kind: String,
    pub id: String,
    pub organization_id: String,
    pub doc_json: String,
    pub hash: String,
}

/// The server's figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsSample {
    pub at: i64,
    pub users: i64,
    pub devices: i64,
}

/// One job of the job history; `detail_json` is its `BackupJobDetail`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub guid: String,
    pub username: String,
    pub organization_id: String,
    pub start_time: i64,
    pub detail_json: String,
}

impl JobRecord {
    /// The job as the API shows it.
    pub fn detail(&self) -> Result<halley_api::types::BackupJobDetail, crate::http::ApiError> {
        serde_json::from_str(&self.detail_json).map_err(crate::http::ApiError::internal)
    }
}

/// Whose jobs a query reads.
#[derive(Debug, Clone, Copy)]
pub enum JobScope<'a> {
    All,
    Organization(&'a str),
    User(&'a str),
}

/// One pending webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub hook: String,
    pub payload: String,
    pub attempts: i64,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the username is taken.
    async fn user_create(&self, user: &UserRecord) -> StoreResult<()>;
    async fn user_get(&self, username: &str) -> StoreResult<Option<UserRecord>>;
    /// Usernames, sorted; `organization` limits the list to one tenant.
    async fn user_list(&self, organization: Option<&str>) -> StoreResult<Vec<String>>;
    async fn user_list_full(&self, organization: Option<&str>) -> StoreResult<Vec<UserRecord>>;
    /// Replaces the profile; with `expected_hash`, only if the stored hash still
    /// equals it (atomically, so of two racing writers exactly one wins).
    async fn user_replace(
        &self,
        user: &UserRecord,
        expected_hash: Option<&str>,
    ) -> StoreResult<ReplaceOutcome>;
    /// Deletes the account and its sessions. False when there was none.
    async fn user_delete(&self, username: &str) -> StoreResult<bool>;

    async fn session_create(&self, session: &SessionRecord) -> StoreResult<()>;
    async fn session_get(&self, key_hash: &str) -> StoreResult<Option<SessionRecord>>;
    async fn session_touch(&self, key_hash: &str, now: i64) -> StoreResult<()>;
    async fn session_delete(&self, key_hash: &str) -> StoreResult<bool>;
    async fn sessions_delete_for(&self, kind: SessionKind, username: &str) -> StoreResult<u64>;
    /// Removes sessions idle since before `idle_before`; returns them.
    async fn sessions_expire(&self, idle_before: i64) -> StoreResult<Vec<SessionRecord>>;

    /// Queues `(hook, payload)` deliveries, all or none.
    async fn outbox_insert(&self, rows: &[(String, String)]) -> StoreResult<()>;
    /// Deliveries of `hook` due at `now`, oldest first.
    async fn outbox_due(&self, hook: &str, now: i64, limit: i64) -> StoreResult<Vec<OutboxRow>>;
    /// When the next delivery of `hook` falls due, if any is queued.
    async fn outbox_next_due(&self, hook: &str) -> StoreResult<Option<i64>>;
    async fn outbox_delete(&self, id: i64) -> StoreResult<()>;
    async fn outbox_retry_later(
        &self,
        id: i64,
        attempts: i64,
        next_attempt_at: i64,
    ) -> StoreResult<()>;
    /// Drops the queues of every hook not in `keep`.
    async fn outbox_forget_hooks_except(&self, keep: &[String]) -> StoreResult<u64>;

    /// Accounts whose profile names this policy.
    async fn users_with_policy(&self, policy_id: &str) -> StoreResult<Vec<UserRecord>>;
    /// Accounts whose profile names this user group.
    async fn users_in_group(&self, group_id: &str) -> StoreResult<Vec<UserRecord>>;
    async fn users_in_organization(&self, organization_id: &str) -> StoreResult<Vec<String>>;

    async fn document_get(&self, kind: &str, id: &str) -> StoreResult<Option<DocumentRecord>>;
    /// Documents of a kind, by ID; `organization` limits them to one tenant.
    async fn document_list(
        &self,
        kind: &str,
        organization: Option<&str>,
    ) -> StoreResult<Vec<DocumentRecord>>;
    /// Creates or replaces a document; with `expected_hash`, only an existing
    /// one whose hash still equals it.
    async fn document_put(
        &self,
        document: &DocumentRecord,
        expected_hash: Option<&str>,
    ) -> StoreResult<ReplaceOutcome>;
    async fn document_delete(&self, kind: &str, id: &str) -> StoreResult<bool>;

    /// Records a job, replacing the one with the same GUID.
    async fn job_put(&self, job: &JobRecord) -> StoreResult<()>;
    async fn job_get(&self, guid: &str) -> StoreResult<Option<JobRecord>>;
    /// Jobs in `scope` started at or after `since`, oldest first.
    async fn jobs_started_since(
        &self,
        scope: JobScope<'_>,
        since: i64,
    ) -> StoreResult<Vec<JobRecord>>;

    /// Writes a consistent copy of the database to `path` (a new file), without
    /// sessions or queued webhook deliveries; with `organization`, only that
    /// organization's rows; with `exclude_jobs`, without job history.
    async fn export_to(
        &self,
        path: &std::path::Path,
        organization: Option<&str>,
        exclude_jobs: bool,
    ) -> StoreResult<()>;

    /// Counts accounts and devices now and records them at `at`.
    async fn stats_sample(&self, at: i64) -> StoreResult<StatsSample>;
    /// The samples of the whole server (`None`) or of one organization.
    async fn stats_list(&self, organization: Option<&str>) -> StoreResult<Vec<StatsSample>>;
}
