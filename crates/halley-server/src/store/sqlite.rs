//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so an
//! acknowledged write survives a crash of the process or of the machine.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::*;

/// Schema steps, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_users_sessions.sql"),
    include_str!("migrations/0002_webhook_outbox.sql"),
    include_str!("migrations/0003_documents.sql"),
    include_str!("migrations/0004_stats.sql"),
    include_str!("migrations/0005_stats_by_organization.sql"),
    include_str!("migrations/0006_jobs.sql"),
    include_str!("migrations/0007_totp_used_steps.sql"),
    include_str!("migrations/0008_scope_jobs_resources.sql"),
    include_str!("migrations/0009_outbox_event_ids.sql"),
    include_str!("migrations/0010_devices_keys_job_logs.sql"),
    include_str!("migrations/0011_outbox_claims.sql"),
];

/// The scope condition of every tenant-owned query: `?1` is the scope's
/// tenant (NULL for every tenant), `?2` whether the top level is included.
/// Scoped queries bind those first and number their own parameters from 3.
const IN_SCOPE: &str = "(?1 IS NULL OR organization_id = ?1 OR (?2 AND organization_id = ''))";

const DEVICE_COLUMNS: &str =
    "organization_id, username, device_id, key_hash, registered_at, last_seen_at";

fn device_from(row: &sqlx::sqlite::SqliteRow) -> DeviceRecord {
    DeviceRecord {
        organization_id: row.get(0),
        username: row.get(1),
        device_id: row.get(2),
        key_hash: row.get(3),
        registered_at: row.get(4),
        last_seen_at: row.get(5),
    }
}

const JOB_COLUMNS: &str =
    "guid, username, organization_id, start_time, end_time, status, detail_json";

/// Reads go through a pool of connections; writes through one connection of
/// their own. SQLite admits one writer at a time anyway, and a transaction
/// that reads and then writes on a shared pool fails with `SQLITE_BUSY`
/// (517) when another connection wrote after its read began: the busy
/// timeout cannot help there. With one writer, writes queue instead of failing.
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(backend)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Another process (an operator's tool) may hold the lock briefly.
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let store = SqliteStore { pool, writer };
        store.migrate().await?;
        // One process has the file: whatever was claimed, it claimed before
        // it stopped.
        sqlx::query("UPDATE webhook_outbox SET claimed_until = 0 WHERE claimed_until <> 0")
            .execute(&store.writer)
            .await
            .map_err(backend)?;
        Ok(store)
    }

    /// Closes every connection; the last one folds the write-ahead log into
    /// the database file, so the file alone is the whole database.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// A write transaction that holds the write lock from its first
    /// statement, so what it reads cannot change before it writes.
    async fn write_transaction(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)
    }

    /// Accounts whose profile has `value` in the top-level `field` (a name from
    /// our own code, never from a request).
    async fn users_by_profile_field(
        &self,
        scope: &TenantScope,
        field: &'static str,
        value: &str,
    ) -> StoreResult<Vec<UserRecord>> {
        let sql = format!(
            "SELECT * FROM users WHERE {IN_SCOPE} AND json_extract(profile_json, '$.{field}') = ?3 ORDER BY username"
        );
        let rows = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(value)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    /// Each step runs with its `user_version` bump as one transaction, sent
    /// as one script on the writer connection.
    async fn migrate(&self) -> StoreResult<()> {
        let applied: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&self.writer)
            .await
            .map_err(backend)?;
        for (index, script) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            let step = format!(
                "BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {};\nCOMMIT;",
                index + 1
            );
            sqlx::raw_sql(&step)
                .execute(&self.writer)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }
}

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> UserRecord {
    UserRecord {
        username: row.get("username"),
        organization_id: row.get("organization_id"),
        profile_json: row.get("profile_json"),
        profile_hash: row.get("profile_hash"),
    }
}

fn session_from_row(row: &sqlx::sqlite::SqliteRow) -> SessionRecord {
    let kind: String = row.get("kind");
    SessionRecord {
        key_hash: row.get("key_hash"),
        kind: if kind == "admin" {
            SessionKind::Admin
        } else {
            SessionKind::User
        },
        username: row.get("username"),
        organization_id: row.get("organization_id"),
        created_at: row.get("created_at"),
        last_used_at: row.get("last_used_at"),
    }
}

/// The engine's error, kept as the source of a [`StoreError::Backend`].
fn backend(err: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(err))
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A row of an export as the SQL values it came from.
fn row_arguments(row: &[serde_json::Value]) -> StoreResult<sqlx::sqlite::SqliteArguments<'static>> {
    use sqlx::Arguments;
    let mut arguments = sqlx::sqlite::SqliteArguments::default();
    for value in row {
        let added = match value {
            serde_json::Value::Null => arguments.add(None::<String>),
            serde_json::Value::Bool(b) => arguments.add(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => arguments.add(i),
                None => arguments.add(n.as_f64()),
            },
            serde_json::Value::String(text) => arguments.add(text.clone()),
            other => arguments.add(other.to_string()),
        };
        added.map_err(StoreError::Backend)?;
    }
    Ok(arguments)
}

#[async_trait]
impl Store for SqliteStore {
    async fn user_create(&self, scope: &TenantScope, user: &UserRecord) -> StoreResult<()> {
        check_in_scope(scope, &user.organization_id)?;
        let result = sqlx::query(
            "INSERT INTO users (username, organization_id, profile_json, profile_hash) VALUES (?, ?, ?, ?)",
        )
        .bind(&user.username)
        .bind(&user.organization_id)
        .bind(&user.profile_json)
        .bind(&user.profile_hash)
        .execute(&self.writer)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict),
            Err(err) => Err(backend(err)),
        }
    }

    async fn user_get(
        &self,
        scope: &TenantScope,
        username: &str,
    ) -> StoreResult<Option<UserRecord>> {
        let sql = format!("SELECT * FROM users WHERE {IN_SCOPE} AND username = ?3");
        let row = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(user_from_row))
    }

    // Lists come back from SQLite as one aggregated JSON row: sqlx hands rows
    // over one at a time through its worker thread, which dominates the cost
    // of a 10,000-row listing.
    async fn user_list(&self, scope: &TenantScope) -> StoreResult<Vec<String>> {
        let sql = format!(
            "SELECT json_group_array(username) FROM (SELECT username FROM users WHERE {IN_SCOPE} ORDER BY username)"
        );
        let json: String = sqlx::query_scalar(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        serde_json::from_str(&json).map_err(decode_error)
    }

    async fn user_list_full(&self, scope: &TenantScope) -> StoreResult<Vec<UserRecord>> {
        let sql = format!(
            "SELECT json_group_array(json_array(username, organization_id, profile_json, profile_hash)) \
             FROM (SELECT * FROM users WHERE {IN_SCOPE} ORDER BY username)"
        );
        let json: String = sqlx::query_scalar(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        let rows: Vec<(String, String, String, String)> =
            serde_json::from_str(&json).map_err(decode_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(username, organization_id, profile_json, profile_hash)| UserRecord {
                    username,
                    organization_id,
                    profile_json,
                    profile_hash,
                },
            )
            .collect())
    }

    async fn user_replace(
        &self,
        scope: &TenantScope,
        user: &UserRecord,
        expected_hash: Option<&str>,
    ) -> StoreResult<ReplaceOutcome> {
        check_in_scope(scope, &user.organization_id)?;
        let sql = format!(
            "UPDATE users SET organization_id = ?3, profile_json = ?4, profile_hash = ?5
             WHERE {IN_SCOPE} AND username = ?6 AND (?7 IS NULL OR profile_hash = ?7)"
        );
        let updated = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(&user.organization_id)
            .bind(&user.profile_json)
            .bind(&user.profile_hash)
            .bind(&user.username)
            .bind(expected_hash)
            .execute(&self.writer)
            .await
            .map_err(backend)?
            .rows_affected();
        if updated == 1 {
            return Ok(ReplaceOutcome::Replaced);
        }
        // The write lost: tell a stale hash from an absent account.
        Ok(match self.user_get(scope, &user.username).await? {
            Some(_) => ReplaceOutcome::HashMismatch,
            None => ReplaceOutcome::NotFound,
        })
    }

    async fn user_delete(&self, scope: &TenantScope, username: &str) -> StoreResult<bool> {
        let mut tx = self.write_transaction().await?;
        let sql = format!(
            "DELETE FROM users WHERE {IN_SCOPE} AND username = ?3 RETURNING organization_id"
        );
        let organization: Option<String> = sqlx::query_scalar(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(username)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(organization) = organization else {
            return Ok(false);
        };
        sqlx::query("DELETE FROM sessions WHERE kind = 'user' AND username = ?")
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        // Jobs, devices and keys belong to the account, not to its name: a
        // new account of the same name starts with none of them.
        for table in ["jobs", "job_log", "devices", "account_keys"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE username = ? AND organization_id = ?"
            ))
            .bind(username)
            .bind(&organization)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn users_with_policy(
        &self,
        scope: &TenantScope,
        policy_id: &str,
    ) -> StoreResult<Vec<UserRecord>> {
        self.users_by_profile_field(scope, "PolicyID", policy_id)
            .await
    }

    async fn users_in_group(
        &self,
        scope: &TenantScope,
        group_id: &str,
    ) -> StoreResult<Vec<UserRecord>> {
        self.users_by_profile_field(scope, "GroupID", group_id)
            .await
    }

    async fn session_create(&self, session: &SessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (key_hash, kind, username, organization_id, created_at, last_used_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&session.key_hash)
        .bind(session.kind.as_str())
        .bind(&session.username)
        .bind(&session.organization_id)
        .bind(session.created_at)
        .bind(session.last_used_at)
        .execute(&self.writer)
        .await.map_err(backend)?;
        Ok(())
    }

    async fn session_get(&self, key_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE key_hash = ?")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(session_from_row))
    }

    async fn session_touch(&self, key_hash: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_used_at = ? WHERE key_hash = ?")
            .bind(now)
            .bind(key_hash)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn session_delete(&self, key_hash: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE key_hash = ?")
            .bind(key_hash)
            .execute(&self.writer)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(deleted == 1)
    }

    async fn sessions_delete_for(&self, kind: SessionKind, username: &str) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE kind = ? AND username = ?")
            .bind(kind.as_str())
            .bind(username)
            .execute(&self.writer)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(deleted)
    }

    async fn sessions_expire(&self, idle_before: i64) -> StoreResult<Vec<SessionRecord>> {
        let rows = sqlx::query("DELETE FROM sessions WHERE last_used_at < ? RETURNING *")
            .bind(idle_before)
            .fetch_all(&self.writer)
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(session_from_row).collect())
    }

    async fn outbox_insert(&self, rows: &[NewDelivery]) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        for row in rows {
            sqlx::query("INSERT INTO webhook_outbox (hook, event_id, payload) VALUES (?, ?, ?)")
                .bind(&row.hook)
                .bind(&row.event_id)
                .bind(&row.payload)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn outbox_due(&self, hook: &str, now: i64, limit: i64) -> StoreResult<Vec<OutboxRow>> {
        let now_ms = now_millis();
        let mut rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
            "UPDATE webhook_outbox SET claimed_until = ?4
             WHERE id IN (SELECT id FROM webhook_outbox
                 WHERE hook = ?1 AND next_attempt_at <= ?2 AND claimed_until < ?5
                 ORDER BY id LIMIT ?3)
             RETURNING id, hook, event_id, payload, attempts",
        )
        .bind(hook)
        .bind(now)
        .bind(limit)
        .bind(now_ms + DELIVERY_CLAIM_MS)
        .bind(now_ms)
        .fetch_all(&self.writer)
        .await
        .map_err(backend)?;
        rows.sort_by_key(|row| row.0);
        Ok(rows
            .into_iter()
            .map(|(id, hook, event_id, payload, attempts)| OutboxRow {
                id,
                hook,
                event_id,
                payload,
                attempts,
            })
            .collect())
    }

    async fn outbox_next_due(&self, hook: &str) -> StoreResult<Option<i64>> {
        let next = sqlx::query_scalar(
            "SELECT MIN(CASE WHEN claimed_until > ?2 THEN claimed_until / 1000 + 1
                        ELSE next_attempt_at END)
             FROM webhook_outbox WHERE hook = ?1",
        )
        .bind(hook)
        .bind(now_millis())
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(next)
    }

    async fn outbox_settle(&self, outcomes: &[Settlement]) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        for outcome in outcomes {
            match *outcome {
                Settlement::Done(id) => {
                    sqlx::query("DELETE FROM webhook_outbox WHERE id = ?")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                }
                Settlement::RetryAt { id, attempts, at } => {
                    sqlx::query(
                        "UPDATE webhook_outbox SET attempts = ?, next_attempt_at = ?, claimed_until = 0 WHERE id = ?",
                    )
                    .bind(attempts)
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                }
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn outbox_forget_hooks_except(&self, keep: &[String]) -> StoreResult<u64> {
        let keep = serde_json::to_string(keep).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let deleted = sqlx::query(
            "DELETE FROM webhook_outbox WHERE hook NOT IN (SELECT value FROM json_each(?))",
        )
        .bind(keep)
        .execute(&self.writer)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(deleted)
    }

    async fn outbox_depth(&self) -> StoreResult<Vec<(String, i64)>> {
        sqlx::query_as("SELECT hook, COUNT(*) FROM webhook_outbox GROUP BY hook ORDER BY hook")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    fn pool_use(&self) -> PoolUse {
        PoolUse {
            open: self.pool.size() + self.writer.size(),
            idle: (self.pool.num_idle() + self.writer.num_idle()) as u32,
        }
    }

    async fn document_get(
        &self,
        scope: &TenantScope,
        kind: &str,
        id: &str,
    ) -> StoreResult<Option<DocumentRecord>> {
        let sql = format!("SELECT * FROM documents WHERE {IN_SCOPE} AND kind = ?3 AND id = ?4");
        let row = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(kind)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(document_from_row))
    }

    async fn document_list(
        &self,
        scope: &TenantScope,
        kind: &str,
    ) -> StoreResult<Vec<DocumentRecord>> {
        let sql = format!("SELECT * FROM documents WHERE {IN_SCOPE} AND kind = ?3 ORDER BY id");
        let rows = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(kind)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(document_from_row).collect())
    }

    async fn document_put(
        &self,
        scope: &TenantScope,
        document: &DocumentRecord,
        expected_hash: Option<&str>,
    ) -> StoreResult<ReplaceOutcome> {
        check_in_scope(scope, &document.organization_id)?;
        // Each branch is one statement, so no read can go stale before the
        // write; of two writers holding the same hash, one wins.
        let sql = match expected_hash {
            None => format!(
                "INSERT INTO documents (kind, id, organization_id, doc_json, hash) VALUES (?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (kind, id) DO UPDATE SET organization_id = excluded.organization_id,
                     doc_json = excluded.doc_json, hash = excluded.hash
                 WHERE {}",
                IN_SCOPE.replace("organization_id", "documents.organization_id")
            ),
            Some(_) => format!(
                "UPDATE documents SET organization_id = ?5, doc_json = ?6, hash = ?7
                 WHERE {IN_SCOPE} AND kind = ?3 AND id = ?4 AND hash = ?8"
            ),
        };
        let written = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(&document.kind)
            .bind(&document.id)
            .bind(&document.organization_id)
            .bind(&document.doc_json)
            .bind(&document.hash)
            .bind(expected_hash)
            .execute(&self.writer)
            .await
            .map_err(backend)?
            .rows_affected();
        if written == 1 {
            return Ok(ReplaceOutcome::Replaced);
        }
        if expected_hash.is_none() {
            // Another tenant's document has this kind and ID.
            return Ok(ReplaceOutcome::NotFound);
        }
        Ok(
            match self
                .document_get(scope, &document.kind, &document.id)
                .await?
            {
                Some(_) => ReplaceOutcome::HashMismatch,
                None => ReplaceOutcome::NotFound,
            },
        )
    }

    async fn document_delete(
        &self,
        scope: &TenantScope,
        kind: &str,
        id: &str,
    ) -> StoreResult<bool> {
        let sql = format!("DELETE FROM documents WHERE {IN_SCOPE} AND kind = ?3 AND id = ?4");
        let deleted = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(kind)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(deleted == 1)
    }

    async fn job_put(&self, scope: &TenantScope, job: &JobRecord) -> StoreResult<()> {
        check_in_scope(scope, &job.organization_id)?;
        // A job of the same GUID outside the scope stays as it is.
        let sql = format!(
            "INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (guid) DO UPDATE SET username = excluded.username,
                 organization_id = excluded.organization_id, start_time = excluded.start_time,
                 end_time = excluded.end_time, status = excluded.status,
                 detail_json = excluded.detail_json
             WHERE {}",
            IN_SCOPE.replace("organization_id", "jobs.organization_id")
        );
        let written = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(&job.guid)
            .bind(&job.username)
            .bind(&job.organization_id)
            .bind(job.start_time)
            .bind(job.end_time)
            .bind(job.status)
            .bind(&job.detail_json)
            .execute(&self.writer)
            .await
            .map_err(backend)?
            .rows_affected();
        if written == 1 {
            Ok(())
        } else {
            Err(StoreError::OutOfScope)
        }
    }

    async fn job_get(&self, scope: &TenantScope, guid: &str) -> StoreResult<Option<JobRecord>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {IN_SCOPE} AND guid = ?3");
        let row = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(guid)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(job_from_row))
    }

    async fn jobs_find(
        &self,
        scope: &TenantScope,
        query: &JobQuery,
    ) -> StoreResult<Vec<JobRecord>> {
        // ?3 user, ?4 ?5 the time bounds, ?6 ?7 the running statuses, ?8 ?9 paging.
        let when = match &query.when {
            JobWhen::Any => "1",
            JobWhen::StartedSince(_) => "start_time >= ?4",
            JobWhen::RunningOrStartedSince { .. } => "(start_time >= ?4 OR status BETWEEN ?6 AND ?7)",
            JobWhen::Running(_) => "status BETWEEN ?6 AND ?7",
            JobWhen::StartedOrEndedWithin { .. } => {
                "((start_time <> 0 AND start_time BETWEEN ?4 AND ?5) OR (end_time <> 0 AND end_time BETWEEN ?4 AND ?5))"
            }
        };
        let (from, to, running) = match &query.when {
            JobWhen::Any => (0, 0, 0..=0),
            JobWhen::StartedSince(since) => (*since, 0, 0..=0),
            JobWhen::RunningOrStartedSince { since, running } => (*since, 0, running.clone()),
            JobWhen::Running(running) => (0, 0, running.clone()),
            JobWhen::StartedOrEndedWithin { start, end } => (*start, *end, 0..=0),
        };
        let sql = format!(
            "SELECT json_group_array(json_array({JOB_COLUMNS})) FROM (
                 SELECT {JOB_COLUMNS} FROM jobs
                 WHERE {IN_SCOPE} AND (?3 IS NULL OR username = ?3) AND {when}
                 ORDER BY start_time, guid LIMIT ?9 OFFSET ?8)"
        );
        let json: String = sqlx::query_scalar(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(query.username.as_deref())
            .bind(from)
            .bind(to)
            .bind(*running.start())
            .bind(*running.end())
            .bind(query.offset)
            .bind(query.limit.unwrap_or(-1))
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        type Row = (String, String, String, i64, i64, i64, String);
        let rows: Vec<Row> = serde_json::from_str(&json).map_err(decode_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(guid, username, organization_id, start_time, end_time, status, detail_json)| {
                    JobRecord {
                        guid,
                        username,
                        organization_id,
                        start_time,
                        end_time,
                        status,
                        detail_json,
                    }
                },
            )
            .collect())
    }

    async fn device_put(&self, scope: &TenantScope, device: &DeviceRecord) -> StoreResult<()> {
        check_in_scope(scope, &device.organization_id)?;
        sqlx::query(
            "INSERT INTO devices (organization_id, username, device_id, key_hash, registered_at, last_seen_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (organization_id, username, device_id) DO UPDATE SET
                 key_hash = excluded.key_hash, registered_at = excluded.registered_at",
        )
        .bind(&device.organization_id)
        .bind(&device.username)
        .bind(&device.device_id)
        .bind(&device.key_hash)
        .bind(device.registered_at)
        .bind(device.last_seen_at)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn device_by_key(&self, key_hash: &str) -> StoreResult<Option<DeviceRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE key_hash = ?"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.map(|row| device_from(&row)))
    }

    async fn device_delete(
        &self,
        scope: &TenantScope,
        username: &str,
        device_id: &str,
    ) -> StoreResult<bool> {
        let sql =
            format!("DELETE FROM devices WHERE {IN_SCOPE} AND username = ?3 AND device_id = ?4");
        let deleted = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(username)
            .bind(device_id)
            .execute(&self.writer)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn device_list(&self, scope: &TenantScope) -> StoreResult<Vec<DeviceRecord>> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE {IN_SCOPE} ORDER BY username, device_id"
        );
        let rows = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(device_from).collect())
    }

    async fn device_seen(&self, key_hash: &str, at: i64) -> StoreResult<()> {
        sqlx::query("UPDATE devices SET last_seen_at = ? WHERE key_hash = ?")
            .bind(at)
            .bind(key_hash)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn account_key_get(
        &self,
        scope: &TenantScope,
        username: &str,
    ) -> StoreResult<Option<String>> {
        let sql =
            format!("SELECT wrapped_json FROM account_keys WHERE {IN_SCOPE} AND username = ?3");
        sqlx::query_scalar(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn account_key_put(
        &self,
        scope: &TenantScope,
        organization_id: &str,
        username: &str,
        wrapped_json: &str,
    ) -> StoreResult<()> {
        check_in_scope(scope, organization_id)?;
        sqlx::query(
            "INSERT INTO account_keys (organization_id, username, wrapped_json) VALUES (?, ?, ?)
             ON CONFLICT (organization_id, username) DO UPDATE SET wrapped_json = excluded.wrapped_json",
        )
        .bind(organization_id)
        .bind(username)
        .bind(wrapped_json)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn job_log_append(
        &self,
        scope: &TenantScope,
        job_guid: &str,
        lines: &[JobLogLine],
    ) -> StoreResult<bool> {
        let mut tx = self.write_transaction().await?;
        let sql =
            format!("SELECT username, organization_id FROM jobs WHERE {IN_SCOPE} AND guid = ?3");
        let owner: Option<(String, String)> = sqlx::query_as(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(job_guid)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some((username, organization_id)) = owner else {
            return Ok(false);
        };
        for line in lines {
            sqlx::query(
                "INSERT INTO job_log (job_guid, organization_id, username, time, severity, message)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(job_guid)
            .bind(&organization_id)
            .bind(&username)
            .bind(line.time)
            .bind(&line.severity)
            .bind(&line.message)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn job_log_get(
        &self,
        scope: &TenantScope,
        job_guid: &str,
    ) -> StoreResult<Vec<JobLogLine>> {
        let sql = format!(
            "SELECT time, severity, message FROM job_log WHERE {IN_SCOPE} AND job_guid = ?3 ORDER BY rowid"
        );
        let rows: Vec<(i64, String, String)> = sqlx::query_as(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(job_guid)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(time, severity, message)| JobLogLine {
                time,
                severity,
                message,
            })
            .collect())
    }

    async fn job_logs_prune(&self, before: i64) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM job_log WHERE time < ?")
            .bind(before)
            .execute(&self.writer)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(deleted)
    }

    async fn resource_add(&self, organization_id: &str, hash: &str) -> StoreResult<()> {
        sqlx::query("INSERT OR IGNORE INTO resources (organization_id, hash) VALUES (?, ?)")
            .bind(organization_id)
            .bind(hash)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn resource_visible(&self, scope: &TenantScope, hash: &str) -> StoreResult<bool> {
        let sql = format!("SELECT 1 FROM resources WHERE {IN_SCOPE} AND hash = ?3 LIMIT 1");
        let found = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(found.is_some())
    }

    async fn resource_list(&self, scope: &TenantScope) -> StoreResult<Vec<String>> {
        let sql = format!("SELECT DISTINCT hash FROM resources WHERE {IN_SCOPE} ORDER BY hash");
        sqlx::query_scalar(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    async fn tenant_delete(
        &self,
        scope: &TenantScope,
        organization_id: &str,
    ) -> StoreResult<TenantRemoval> {
        check_in_scope(scope, organization_id)?;
        let mut tx = self.write_transaction().await?;
        let usernames: Vec<String> =
            sqlx::query_scalar("DELETE FROM users WHERE organization_id = ? RETURNING username")
                .bind(organization_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
        let policy_ids: Vec<String> = sqlx::query_scalar(
            "DELETE FROM documents WHERE organization_id = ? AND kind = 'policy' RETURNING id",
        )
        .bind(organization_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        for table in TENANT_TABLES {
            sqlx::query(&format!("DELETE FROM {table} WHERE organization_id = ?"))
                .bind(organization_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        let mut removal = TenantRemoval {
            usernames,
            policy_ids,
        };
        removal.usernames.sort();
        removal.policy_ids.sort();
        Ok(removal)
    }

    async fn export(
        &self,
        scope: &TenantScope,
        options: ExportOptions,
    ) -> StoreResult<Vec<ExportTable>> {
        // One read transaction: every table from the same moment.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut tables = Vec::new();
        for table in exported_tables(scope, options) {
            let (name, per_tenant) = (table.name, table.per_tenant);
            let columns: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT name FROM pragma_table_info('{name}') ORDER BY cid"
            ))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
            // Tables of the whole server are exported only for every tenant,
            // so they need no condition.
            let filter = if per_tenant { IN_SCOPE } else { "1" };
            let sql = format!(
                "SELECT json_group_array(json_array({})) FROM (SELECT * FROM {name} WHERE {filter} ORDER BY {})",
                columns.join(", "),
                table.order.replace("seq", "rowid")
            );
            let mut query = sqlx::query_scalar(&sql);
            if per_tenant {
                query = query.bind(scope.tenant()).bind(scope.with_top_level());
            }
            let json: String = query.fetch_one(&mut *tx).await.map_err(backend)?;
            tables.push(ExportTable {
                name: name.to_string(),
                columns,
                rows: serde_json::from_str(&json).map_err(decode_error)?,
            });
        }
        tx.commit().await.map_err(backend)?;
        Ok(tables)
    }

    async fn import(&self, tables: &[ExportTable]) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        for table in tables {
            check_exported_table(&table.name)?;
            let known: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT name FROM pragma_table_info('{}')",
                table.name
            ))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
            if let Some(unknown) = table.columns.iter().find(|c| !known.contains(c)) {
                return Err(no_such_column(&table.name, unknown));
            }
            let placeholders = vec!["?"; table.columns.len()].join(", ");
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({placeholders})",
                table.name,
                table.columns.join(", ")
            );
            for row in &table.rows {
                sqlx::query_with(&sql, row_arguments(row)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn stats_sample(&self, at: i64) -> StoreResult<StatsSample> {
        let per_organization: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT organization_id, COUNT(*), COALESCE(SUM((SELECT COUNT(*) FROM json_each(u.profile_json, '$.Devices'))), 0) FROM users u GROUP BY organization_id",
        )
        .fetch_all(&self.pool)
        .await.map_err(backend)?;
        let users = per_organization.iter().map(|(_, users, _)| users).sum();
        let devices = per_organization.iter().map(|(_, _, devices)| devices).sum();
        let mut tx = self.write_transaction().await?;
        sqlx::query(
            "INSERT OR REPLACE INTO stats_samples (sampled_at, users, devices) VALUES (?, ?, ?)",
        )
        .bind(at)
        .bind(users)
        .bind(devices)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        for (organization, users, devices) in &per_organization {
            sqlx::query(
                "INSERT OR REPLACE INTO stats_samples_by_organization (sampled_at, organization_id, users, devices) VALUES (?, ?, ?, ?)",
            )
            .bind(at)
            .bind(organization)
            .bind(users)
            .bind(devices)
            .execute(&mut *tx)
            .await.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(StatsSample { at, users, devices })
    }

    async fn stats_list(&self, scope: &TenantScope) -> StoreResult<Vec<StatsSample>> {
        let rows: Vec<(i64, i64, i64)> = match scope.tenant() {
            None => {
                sqlx::query_as(
                    "SELECT sampled_at, users, devices FROM stats_samples ORDER BY sampled_at",
                )
                .fetch_all(&self.pool)
                .await.map_err(backend)?
            }
            // A sample where the organization had no account yet counts zero.
            Some(organization) => sqlx::query_as(
                "SELECT s.sampled_at, COALESCE(o.users, 0), COALESCE(o.devices, 0) FROM stats_samples s \
                 LEFT JOIN stats_samples_by_organization o ON o.sampled_at = s.sampled_at AND o.organization_id = ? \
                 ORDER BY s.sampled_at",
            )
            .bind(organization)
            .fetch_all(&self.pool)
            .await.map_err(backend)?,
        };
        Ok(rows
            .into_iter()
            .map(|(at, users, devices)| StatsSample { at, users, devices })
            .collect())
    }

    // --- Authentication ---

    async fn totp_claim_step(&self, account: &str, step: i64) -> StoreResult<bool> {
        // One statement: of two racing claims of the same step exactly one
        // inserts or raises the row.
        let claimed = sqlx::query(
            "INSERT INTO totp_used_steps (account, step) VALUES (?, ?)
             ON CONFLICT (account) DO UPDATE SET step = excluded.step
             WHERE excluded.step > totp_used_steps.step",
        )
        .bind(account)
        .bind(step)
        .execute(&self.writer)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(claimed == 1)
    }
}

fn job_from_row(row: &sqlx::sqlite::SqliteRow) -> JobRecord {
    JobRecord {
        guid: row.get("guid"),
        username: row.get("username"),
        organization_id: row.get("organization_id"),
        start_time: row.get("start_time"),
        end_time: row.get("end_time"),
        status: row.get("status"),
        detail_json: row.get("detail_json"),
    }
}

fn document_from_row(row: &sqlx::sqlite::SqliteRow) -> DocumentRecord {
    DocumentRecord {
        kind: row.get("kind"),
        id: row.get("id"),
        organization_id: row.get("organization_id"),
        doc_json: row.get("doc_json"),
        hash: row.get("hash"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database made before job columns existed gains them, filled from
    /// the stored details, and its jobs answer queries as before.
    #[tokio::test]
    async fn an_older_database_is_migrated_with_its_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let old = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        for script in &MIGRATIONS[..6] {
            sqlx::raw_sql(script).execute(&old).await.unwrap();
        }
        sqlx::raw_sql(
            "PRAGMA user_version = 6;
             INSERT INTO jobs (guid, username, organization_id, start_time, detail_json)
             VALUES ('j1', 'amy', '', 100, '{\"GUID\":\"j1\",\"Status\":6001,\"EndTime\":0}'),
                    ('j2', 'amy', '', 50, '{\"GUID\":\"j2\",\"Status\":5000,\"EndTime\":90}');",
        )
        .execute(&old)
        .await
        .unwrap();
        old.close().await;

        let store = SqliteStore::open(&path).await.unwrap();
        let running = JobQuery {
            when: JobWhen::Running(6000..=6999),
            ..Default::default()
        };
        let found = store
            .jobs_find(&TenantScope::server_wide(), &running)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].guid.as_str(), found[0].status), ("j1", 6001));
        let ended = store
            .job_get(&TenantScope::server_wide(), "j2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((ended.end_time, ended.status), (90, 5000));
        store.close().await;
    }
}
