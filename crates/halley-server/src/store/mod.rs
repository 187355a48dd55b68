//! Persistence behind one trait. SQLite is the embedded default; another engine
//! (PostgreSQL) joins by implementing [`Store`] and passing the same tests.
//!
//! The store deals in whole JSON documents plus the few indexed columns that
//! queries need; the rules about what a document may contain live in `service/`.
//!
//! Every method over a tenant's objects takes a [`TenantScope`] and sees
//! nothing outside it: an object of another tenant is absent, and a write
//! that would put one outside the scope fails with [`StoreError::OutOfScope`].
//! The contract every engine must meet is `tests/store_contract.rs`.

pub mod cluster;
mod postgres;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

pub use crate::auth::TenantScope;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    /// A write would place an object in a tenant outside the caller's
    /// scope: a bug of the caller, which checks its target first.
    #[error("the object's tenant is outside the scope of this call")]
    OutOfScope,
    /// The engine failed (I/O, corruption, a bug); the source says how.
    #[error("storage failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Where the store lives: `--database` names a PostgreSQL server by URL, or
/// an SQLite file by path.
#[derive(Debug, Clone, PartialEq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Database {
    pub fn parse(text: &str) -> Database {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Database::Postgres(text.to_string())
        } else {
            Database::Sqlite(PathBuf::from(
                text.strip_prefix("sqlite://").unwrap_or(text),
            ))
        }
    }

    /// How logs and errors name it: a URL without its password.
    pub fn display(&self) -> String {
        match self {
            Database::Sqlite(path) => path.display().to_string(),
            Database::Postgres(url) => match reqwest::Url::parse(url) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    url.to_string()
                }
                Err(_) => "a PostgreSQL URL that does not parse".into(),
            },
        }
    }

    /// The store alone, for a tool (not a node of a cluster).
    pub async fn open(&self) -> StoreResult<Arc<dyn Store>> {
        let tool = format!("tool-{}", uuid::Uuid::new_v4().simple());
        Ok(self.open_with_cluster(&tool).await?.0)
    }

    /// The store, and on PostgreSQL what the nodes sharing it share besides;
    /// `node` is this process's name among them.
    pub async fn open_with_cluster(
        &self,
        node: &str,
    ) -> StoreResult<(Arc<dyn Store>, Option<Arc<cluster::Cluster>>)> {
        Ok(match self {
            Database::Sqlite(path) => (Arc::new(SqliteStore::open(path).await?), None),
            Database::Postgres(url) => {
                let store = PostgresStore::open(url, node).await?;
                let cluster = Arc::new(store.cluster());
                (Arc::new(store), Some(cluster))
            }
        })
    }
}

/// A table a logical export carries: whether its rows belong to a tenant,
/// and the order of its rows, the same on every engine (`seq` is the order
/// rows arrived in: SQLite's rowid).
struct ExportedTable {
    name: &'static str,
    per_tenant: bool,
    order: &'static str,
}

const EXPORTED_TABLES: &[ExportedTable] = &[
    ExportedTable {
        name: "users",
        per_tenant: true,
        order: "username",
    },
    ExportedTable {
        name: "documents",
        per_tenant: true,
        order: "kind, id",
    },
    ExportedTable {
        name: "jobs",
        per_tenant: true,
        order: "start_time, guid",
    },
    ExportedTable {
        name: "job_log",
        per_tenant: true,
        order: "seq",
    },
    ExportedTable {
        name: "devices",
        per_tenant: true,
        order: "organization_id, username, device_id",
    },
    ExportedTable {
        name: "account_keys",
        per_tenant: true,
        order: "organization_id, username",
    },
    ExportedTable {
        name: "resources",
        per_tenant: true,
        order: "organization_id, hash",
    },
    ExportedTable {
        name: "stats_samples",
        per_tenant: false,
        order: "sampled_at",
    },
    ExportedTable {
        name: "stats_samples_by_organization",
        per_tenant: true,
        order: "organization_id, sampled_at",
    },
];

/// The tables an export of `scope` carries. Server-wide figures would tell
/// a tenant about the others, so a tenant's export leaves them out.
fn exported_tables(
    scope: &TenantScope,
    options: ExportOptions,
) -> impl Iterator<Item = &'static ExportedTable> + '_ {
    EXPORTED_TABLES.iter().filter(move |table| {
        let is_jobs = table.name == "jobs" || table.name == "job_log";
        !(is_jobs && options.exclude_jobs) && (table.per_tenant || scope.tenant().is_none())
    })
}

/// Refuses an import of a table no export carries.
fn check_exported_table(name: &str) -> StoreResult<()> {
    if EXPORTED_TABLES.iter().any(|table| table.name == name) {
        Ok(())
    } else {
        Err(StoreError::Backend(
            format!("an export may not hold the table '{name}'").into(),
        ))
    }
}

fn no_such_column(table: &str, column: &str) -> StoreError {
    StoreError::Backend(format!("the table '{table}' has no column '{column}'").into())
}

/// The tables whose rows a tenant's deletion removes besides its accounts.
const TENANT_TABLES: &[&str] = &[
    "documents",
    "jobs",
    "job_log",
    "devices",
    "account_keys",
    "resources",
    "sessions",
];

/// How long a claim on a webhook delivery lasts: longer than a batch of
/// attempts takes (one round, at most the 10 s delivery timeout), so that
/// only a worker that died leaves claims to expire.
const DELIVERY_CLAIM_MS: i64 = 15_000;

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Refuses a write that would put an object outside the scope.
fn check_in_scope(scope: &TenantScope, organization_id: &str) -> StoreResult<()> {
    if scope.includes(organization_id) {
        Ok(())
    } else {
        Err(StoreError::OutOfScope)
    }
}

fn decode_error(err: serde_json::Error) -> StoreError {
    StoreError::Backend(Box::new(err))
}

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

/// A device registered to an account. The key itself is never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRecord {
    pub organization_id: String,
    pub username: String,
    pub device_id: String,
    pub key_hash: String,
    pub registered_at: i64,
    /// When its last live connection opened or closed (0: never connected).
    pub last_seen_at: i64,
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq)]
pub struct JobLogLine {
    pub time: i64,
    /// `D`, `I`, `W` or `E`.
    pub severity: String,
    pub message: String,
}

/// One job of the job history; `detail_json` is its `BackupJobDetail`, and
/// the other fields are the columns queries filter on (copied from it).
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub guid: String,
    pub username: String,
    pub organization_id: String,
    pub start_time: i64,
    pub end_time: i64,
    pub status: i64,
    pub detail_json: String,
}

/// Which jobs of a scope a query returns, oldest first (by start, then GUID).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobQuery {
    /// Only this account's jobs.
    pub username: Option<String>,
    pub when: JobWhen,
    /// Paging: skip this many, then return at most `limit` (all when `None`).
    pub offset: i64,
    pub limit: Option<i64>,
}

/// The time condition of a [`JobQuery`]. "Running" is a status within
/// `running` (`JOB_STATUS_RUNNING__MIN..=__MAX`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum JobWhen {
    #[default]
    Any,
    StartedSince(i64),
    RunningOrStartedSince {
        since: i64,
        running: std::ops::RangeInclusive<i64>,
    },
    Running(std::ops::RangeInclusive<i64>),
    /// Started or ended within `[start, end]` (a zero end time is no end).
    StartedOrEndedWithin {
        start: i64,
        end: i64,
    },
}

/// What deleting a tenant removed, for the events that announce it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantRemoval {
    pub usernames: Vec<String>,
    pub policy_ids: Vec<String>,
}

/// One table of a logical export: its name, its columns, and its rows as
/// JSON values (strings and integers), in key order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExportTable {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// What an export leaves out. Sessions and queued webhook deliveries are
/// never exported: they are of this process and would hand out access.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExportOptions {
    pub exclude_jobs: bool,
}

/// A store's database connections: open, and idle among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub open: u32,
    pub idle: u32,
}

/// A webhook delivery to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub hook: String,
    pub event_id: String,
    pub payload: String,
}

/// One pending webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub hook: String,
    pub event_id: String,
    pub payload: String,
    pub attempts: i64,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Settlement {
    /// Delivered, or given up: the row goes.
    Done(i64),
    /// Failed: try again at `at`.
    RetryAt { id: i64, attempts: i64, at: i64 },
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the username is taken in any
    /// tenant (usernames are one namespace, as in Comet).
    async fn user_create(&self, scope: &TenantScope, user: &UserRecord) -> StoreResult<()>;
    async fn user_get(
        &self,
        scope: &TenantScope,
        username: &str,
    ) -> StoreResult<Option<UserRecord>>;
    /// Usernames in the scope, sorted.
    async fn user_list(&self, scope: &TenantScope) -> StoreResult<Vec<String>>;
    async fn user_list_full(&self, scope: &TenantScope) -> StoreResult<Vec<UserRecord>>;
    /// Replaces the profile; with `expected_hash`, only if the stored hash still
    /// equals it (atomically, so of two racing writers exactly one wins).
    async fn user_replace(
        &self,
        scope: &TenantScope,
        user: &UserRecord,
        expected_hash: Option<&str>,
    ) -> StoreResult<ReplaceOutcome>;
    /// Deletes the account with its sessions and its job history, at once.
    /// False when there was none.
    async fn user_delete(&self, scope: &TenantScope, username: &str) -> StoreResult<bool>;
    /// Accounts whose profile names this policy.
    async fn users_with_policy(
        &self,
        scope: &TenantScope,
        policy_id: &str,
    ) -> StoreResult<Vec<UserRecord>>;
    /// Accounts whose profile names this user group.
    async fn users_in_group(
        &self,
        scope: &TenantScope,
        group_id: &str,
    ) -> StoreResult<Vec<UserRecord>>;

    async fn session_create(&self, session: &SessionRecord) -> StoreResult<()>;
    async fn session_get(&self, key_hash: &str) -> StoreResult<Option<SessionRecord>>;
    async fn session_touch(&self, key_hash: &str, now: i64) -> StoreResult<()>;
    async fn session_delete(&self, key_hash: &str) -> StoreResult<bool>;
    async fn sessions_delete_for(&self, kind: SessionKind, username: &str) -> StoreResult<u64>;
    /// Removes sessions idle since before `idle_before`; returns them.
    async fn sessions_expire(&self, idle_before: i64) -> StoreResult<Vec<SessionRecord>>;

    /// Queues deliveries, all or none.
    async fn outbox_insert(&self, rows: &[NewDelivery]) -> StoreResult<()>;
    /// Claims deliveries of `hook` due at `now`, oldest first: a claimed
    /// delivery is handed out again only once settled, or once its claim
    /// ([`DELIVERY_CLAIM_MS`]) ran out (its worker died), so of several
    /// nodes' workers one attempts each.
    async fn outbox_due(&self, hook: &str, now: i64, limit: i64) -> StoreResult<Vec<OutboxRow>>;
    /// When the next delivery of `hook` falls due (a claimed one when its
    /// claim runs out), if any is queued.
    async fn outbox_next_due(&self, hook: &str) -> StoreResult<Option<i64>>;
    /// Records the outcomes of a batch of attempts, all or none.
    async fn outbox_settle(&self, outcomes: &[Settlement]) -> StoreResult<()>;
    /// Drops the queues of every hook not in `keep`.
    async fn outbox_forget_hooks_except(&self, keep: &[String]) -> StoreResult<u64>;
    /// How many deliveries each hook has queued, by hook.
    async fn outbox_depth(&self) -> StoreResult<Vec<(String, i64)>>;

    /// The engine's connections now.
    fn pool_use(&self) -> PoolUse;

    async fn document_get(
        &self,
        scope: &TenantScope,
        kind: &str,
        id: &str,
    ) -> StoreResult<Option<DocumentRecord>>;
    /// Documents of a kind in the scope, by ID.
    async fn document_list(
        &self,
        scope: &TenantScope,
        kind: &str,
    ) -> StoreResult<Vec<DocumentRecord>>;
    /// Creates or replaces a document; with `expected_hash`, only an existing
    /// one whose hash still equals it. A document of the same kind and ID
    /// outside the scope is left alone: `NotFound`.
    async fn document_put(
        &self,
        scope: &TenantScope,
        document: &DocumentRecord,
        expected_hash: Option<&str>,
    ) -> StoreResult<ReplaceOutcome>;
    async fn document_delete(&self, scope: &TenantScope, kind: &str, id: &str)
        -> StoreResult<bool>;

    /// Records a job, replacing the one with the same GUID (in the scope).
    async fn job_put(&self, scope: &TenantScope, job: &JobRecord) -> StoreResult<()>;
    async fn job_get(&self, scope: &TenantScope, guid: &str) -> StoreResult<Option<JobRecord>>;
    /// The jobs of the scope that `query` selects, oldest first.
    async fn jobs_find(&self, scope: &TenantScope, query: &JobQuery)
        -> StoreResult<Vec<JobRecord>>;

    /// Records that the scope's tenant uploaded the resource `hash`.
    /// Registers a device, or gives a device of the same ID a new key.
    async fn device_put(&self, scope: &TenantScope, device: &DeviceRecord) -> StoreResult<()>;
    /// The device holding this key, whoever's it is: a credential lookup.
    async fn device_by_key(&self, key_hash: &str) -> StoreResult<Option<DeviceRecord>>;
    async fn device_delete(
        &self,
        scope: &TenantScope,
        username: &str,
        device_id: &str,
    ) -> StoreResult<bool>;
    async fn device_list(&self, scope: &TenantScope) -> StoreResult<Vec<DeviceRecord>>;
    async fn device_seen(&self, key_hash: &str, at: i64) -> StoreResult<()>;

    /// An account's wrapped account key document.
    async fn account_key_get(
        &self,
        scope: &TenantScope,
        username: &str,
    ) -> StoreResult<Option<String>>;
    async fn account_key_put(
        &self,
        scope: &TenantScope,
        organization_id: &str,
        username: &str,
        wrapped_json: &str,
    ) -> StoreResult<()>;

    /// Appends lines to the log of a job of the scope (an unknown job or
    /// one outside the scope takes none and answers `false`).
    async fn job_log_append(
        &self,
        scope: &TenantScope,
        job_guid: &str,
        lines: &[JobLogLine],
    ) -> StoreResult<bool>;
    async fn job_log_get(
        &self,
        scope: &TenantScope,
        job_guid: &str,
    ) -> StoreResult<Vec<JobLogLine>>;
    /// Removes log lines older than `before` (`PruneLogsAfterDays`).
    async fn job_logs_prune(&self, before: i64) -> StoreResult<u64>;

    async fn resource_add(&self, organization_id: &str, hash: &str) -> StoreResult<()>;
    /// Whether the resource `hash` was uploaded inside the scope.
    async fn resource_visible(&self, scope: &TenantScope, hash: &str) -> StoreResult<bool>;
    /// The hashes of the resources uploaded inside the scope.
    async fn resource_list(&self, scope: &TenantScope) -> StoreResult<Vec<String>>;

    /// Deletes a tenant's accounts, sessions, documents, jobs and resources,
    /// all or nothing.
    async fn tenant_delete(
        &self,
        scope: &TenantScope,
        organization_id: &str,
    ) -> StoreResult<TenantRemoval>;

    /// A consistent copy of the scope's rows, table by table; see
    /// [`ExportOptions`] for what is left out.
    async fn export(
        &self,
        scope: &TenantScope,
        options: ExportOptions,
    ) -> StoreResult<Vec<ExportTable>>;
    /// Loads an export into an empty store.
    async fn import(&self, tables: &[ExportTable]) -> StoreResult<()>;

    /// Counts accounts and devices now and records them at `at`.
    async fn stats_sample(&self, at: i64) -> StoreResult<StatsSample>;
    /// The samples of the scope: the whole server's for every tenant, else
    /// the scope's tenant's share.
    async fn stats_list(&self, scope: &TenantScope) -> StoreResult<Vec<StatsSample>>;

    // --- Authentication ---

    /// Records that `account` used the TOTP code of time step `step`; false
    /// (and nothing changes) when that step or a later one was used already.
    async fn totp_claim_step(&self, account: &str, step: i64) -> StoreResult<bool>;
}
