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
];

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
        Ok(store)
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
        field: &'static str,
        value: &str,
    ) -> StoreResult<Vec<UserRecord>> {
        let sql = format!(
            "SELECT * FROM users WHERE json_extract(profile_json, '$.{field}') = ? ORDER BY username"
        );
        let rows = sqlx::query(&sql)
            .bind(value)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        let applied: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        for (index, script) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            sqlx::raw_sql(script)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            sqlx::raw_sql(&format!("PRAGMA user_version = {}", index + 1))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
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

#[async_trait]
impl Store for SqliteStore {
    async fn user_create(&self, user: &UserRecord) -> StoreResult<()> {
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

    async fn user_get(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(user_from_row))
    }

    // Lists come back from SQLite as one aggregated JSON row: sqlx hands rows
    // over one at a time through its worker thread, which dominates the cost
    // of a 10,000-row listing.
    async fn user_list(&self, organization: Option<&str>) -> StoreResult<Vec<String>> {
        let sql = match organization {
            None => "SELECT json_group_array(username) FROM (SELECT username FROM users ORDER BY username)",
            Some(_) => "SELECT json_group_array(username) FROM (SELECT username FROM users WHERE organization_id = ? ORDER BY username)",
        };
        let mut query = sqlx::query_scalar(sql);
        if let Some(organization) = organization {
            query = query.bind(organization);
        }
        let json: String = query.fetch_one(&self.pool).await.map_err(backend)?;
        Ok(serde_json::from_str(&json).map_err(|e| StoreError::Backend(Box::new(e)))?)
    }

    async fn user_list_full(&self, organization: Option<&str>) -> StoreResult<Vec<UserRecord>> {
        let sql = match organization {
            None => "SELECT json_group_array(json_array(username, organization_id, profile_json, profile_hash)) \
                     FROM (SELECT * FROM users ORDER BY username)",
            Some(_) => "SELECT json_group_array(json_array(username, organization_id, profile_json, profile_hash)) \
                        FROM (SELECT * FROM users WHERE organization_id = ? ORDER BY username)",
        };
        let mut query = sqlx::query_scalar(sql);
        if let Some(organization) = organization {
            query = query.bind(organization);
        }
        let json: String = query.fetch_one(&self.pool).await.map_err(backend)?;
        let rows: Vec<(String, String, String, String)> =
            serde_json::from_str(&json).map_err(|e| StoreError::Backend(Box::new(e)))?;
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
        user: &UserRecord,
        expected_hash: Option<&str>,
    ) -> StoreResult<ReplaceOutcome> {
        let mut tx = self.write_transaction().await?;
        let updated = sqlx::query(
            "UPDATE users SET organization_id = ?, profile_json = ?, profile_hash = ?
             WHERE username = ? AND (?5 IS NULL OR profile_hash = ?5)",
        )
        .bind(&user.organization_id)
        .bind(&user.profile_json)
        .bind(&user.profile_hash)
        .bind(&user.username)
        .bind(expected_hash)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if updated == 1 {
            tx.commit().await.map_err(backend)?;
            return Ok(ReplaceOutcome::Replaced);
        }
        let exists = sqlx::query("SELECT 1 FROM users WHERE username = ?")
            .bind(&user.username)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?
            .is_some();
        Ok(if exists {
            ReplaceOutcome::HashMismatch
        } else {
            ReplaceOutcome::NotFound
        })
    }

    async fn user_delete(&self, username: &str) -> StoreResult<bool> {
        let mut tx = self.write_transaction().await?;
        let deleted = sqlx::query("DELETE FROM users WHERE username = ?")
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        sqlx::query("DELETE FROM sessions WHERE kind = 'user' AND username = ?")
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(deleted == 1)
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

    async fn outbox_insert(&self, rows: &[(String, String)]) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        for (hook, payload) in rows {
            sqlx::query("INSERT INTO webhook_outbox (hook, payload) VALUES (?, ?)")
                .bind(hook)
                .bind(payload)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn outbox_due(&self, hook: &str, now: i64, limit: i64) -> StoreResult<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT id, hook, payload, attempts FROM webhook_outbox
             WHERE hook = ? AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        )
        .bind(hook)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|row| OutboxRow {
                id: row.get("id"),
                hook: row.get("hook"),
                payload: row.get("payload"),
                attempts: row.get("attempts"),
            })
            .collect())
    }

    async fn outbox_next_due(&self, hook: &str) -> StoreResult<Option<i64>> {
        let next =
            sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM webhook_outbox WHERE hook = ?")
                .bind(hook)
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
        Ok(next)
    }

    async fn outbox_delete(&self, id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM webhook_outbox WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn outbox_retry_later(
        &self,
        id: i64,
        attempts: i64,
        next_attempt_at: i64,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE webhook_outbox SET attempts = ?, next_attempt_at = ? WHERE id = ?")
            .bind(attempts)
            .bind(next_attempt_at)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
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

    async fn users_with_policy(&self, policy_id: &str) -> StoreResult<Vec<UserRecord>> {
        self.users_by_profile_field("PolicyID", policy_id).await
    }

    async fn users_in_group(&self, group_id: &str) -> StoreResult<Vec<UserRecord>> {
        self.users_by_profile_field("GroupID", group_id).await
    }

    async fn users_in_organization(&self, organization_id: &str) -> StoreResult<Vec<String>> {
        self.user_list(Some(organization_id)).await
    }

    async fn document_get(&self, kind: &str, id: &str) -> StoreResult<Option<DocumentRecord>> {
        let row = sqlx::query("SELECT * FROM documents WHERE kind = ? AND id = ?")
            .bind(kind)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(document_from_row))
    }

    async fn document_list(
        &self,
        kind: &str,
        organization: Option<&str>,
    ) -> StoreResult<Vec<DocumentRecord>> {
        let rows = match organization {
            None => sqlx::query("SELECT * FROM documents WHERE kind = ? ORDER BY id").bind(kind),
            Some(organization) => sqlx::query(
                "SELECT * FROM documents WHERE kind = ? AND organization_id = ? ORDER BY id",
            )
            .bind(kind)
            .bind(organization),
        }
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows.iter().map(document_from_row).collect())
    }

    async fn document_put(
        &self,
        document: &DocumentRecord,
        expected_hash: Option<&str>,
    ) -> StoreResult<ReplaceOutcome> {
        let Some(expected) = expected_hash else {
            sqlx::query(
                "INSERT INTO documents (kind, id, organization_id, doc_json, hash) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (kind, id) DO UPDATE SET organization_id = excluded.organization_id,
                     doc_json = excluded.doc_json, hash = excluded.hash",
            )
            .bind(&document.kind)
            .bind(&document.id)
            .bind(&document.organization_id)
            .bind(&document.doc_json)
            .bind(&document.hash)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
            return Ok(ReplaceOutcome::Replaced);
        };
        // One statement: of two writers holding the same hash, one wins.
        let updated = sqlx::query(
            "UPDATE documents SET organization_id = ?, doc_json = ?, hash = ?
             WHERE kind = ? AND id = ? AND hash = ?",
        )
        .bind(&document.organization_id)
        .bind(&document.doc_json)
        .bind(&document.hash)
        .bind(&document.kind)
        .bind(&document.id)
        .bind(expected)
        .execute(&self.writer)
        .await
        .map_err(backend)?
        .rows_affected();
        if updated == 1 {
            return Ok(ReplaceOutcome::Replaced);
        }
        let exists = sqlx::query("SELECT 1 FROM documents WHERE kind = ? AND id = ?")
            .bind(&document.kind)
            .bind(&document.id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .is_some();
        Ok(if exists {
            ReplaceOutcome::HashMismatch
        } else {
            ReplaceOutcome::NotFound
        })
    }

    async fn document_delete(&self, kind: &str, id: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM documents WHERE kind = ? AND id = ?")
            .bind(kind)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(deleted == 1)
    }

    async fn job_put(&self, job: &JobRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT OR REPLACE INTO jobs (guid, username, organization_id, start_time, detail_json) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&job.guid)
        .bind(&job.username)
        .bind(&job.organization_id)
        .bind(job.start_time)
        .bind(&job.detail_json)
        .execute(&self.writer)
        .await.map_err(backend)?;
        Ok(())
    }

    async fn job_get(&self, guid: &str) -> StoreResult<Option<JobRecord>> {
        let row = sqlx::query(
            "SELECT guid, username, organization_id, start_time, detail_json FROM jobs WHERE guid = ?",
        )
        .bind(guid)
        .fetch_optional(&self.pool)
        .await.map_err(backend)?;
        Ok(row.as_ref().map(job_from_row))
    }

    async fn jobs_started_since(
        &self,
        scope: JobScope<'_>,
        since: i64,
    ) -> StoreResult<Vec<JobRecord>> {
        let (filter, value) = match scope {
            JobScope::All => ("", None),
            JobScope::Organization(organization) => ("organization_id = ? AND", Some(organization)),
            JobScope::User(username) => ("username = ? AND", Some(username)),
        };
        let sql = format!(
            "SELECT guid, username, organization_id, start_time, detail_json FROM jobs \
             WHERE {filter} start_time >= ? ORDER BY start_time, guid"
        );
        let mut query = sqlx::query(&sql);
        if let Some(value) = value {
            query = query.bind(value);
        }
        let rows = query
            .bind(since)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(job_from_row).collect())
    }

    async fn export_to(
        &self,
        path: &Path,
        organization: Option<&str>,
        exclude_jobs: bool,
    ) -> StoreResult<()> {
        sqlx::query("VACUUM INTO ?")
            .bind(path.to_string_lossy().into_owned())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        let copy = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(SqliteConnectOptions::new().filename(path))
            .await
            .map_err(backend)?;
        let mut statements = vec![
            "DELETE FROM sessions".to_string(),
            "DELETE FROM webhook_outbox".to_string(),
        ];
        if exclude_jobs {
            statements.push("DELETE FROM jobs".into());
        }
        if organization.is_some() {
            for table in [
                "users",
                "documents",
                "jobs",
                "stats_samples_by_organization",
            ] {
                statements.push(format!("DELETE FROM {table} WHERE organization_id <> ?1"));
            }
            // Server-wide figures would tell a tenant about the others.
            statements.push("DELETE FROM stats_samples".into());
        }
        for statement in &statements {
            let mut query = sqlx::query(statement);
            if statement.contains("?1") {
                query = query.bind(organization.unwrap_or_default());
            }
            query.execute(&copy).await.map_err(backend)?;
        }
        // Leaves no deleted rows behind in free pages.
        sqlx::query("VACUUM")
            .execute(&copy)
            .await
            .map_err(backend)?;
        copy.close().await;
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

    async fn stats_list(&self, organization: Option<&str>) -> StoreResult<Vec<StatsSample>> {
        let rows: Vec<(i64, i64, i64)> = match organization {
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
}

fn job_from_row(row: &sqlx::sqlite::SqliteRow) -> JobRecord {
    JobRecord {
        guid: row.get("guid"),
        username: row.get("username"),
        organization_id: row.get("organization_id"),
        start_time: row.get("start_time"),
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
