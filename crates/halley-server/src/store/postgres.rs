//! The store on PostgreSQL, for several `halleyd` nodes sharing one database.
//!
//! The tables and columns are SQLite's, so a logical export moves between the
//! engines. Every conditional write is one statement: under PostgreSQL's row
//! locks, of two nodes writing with the same expected hash exactly one wins.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Row};

use super::*;

/// Schema steps, applied in order; `halley_schema` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations_postgres/0001_schema.sql"),
    include_str!("migrations_postgres/0002_cluster.sql"),
];

/// The database's clock in milliseconds: one clock for every node.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// The key of the advisory lock migrations run under, so that of several
/// nodes starting at once one migrates and the others wait for it.
const MIGRATION_LOCK: i64 = 0x4841_4c4c_4559; // "HALLEY"

/// The scope condition of every tenant-owned query: `$1` is the scope's
/// tenant (NULL for every tenant), `$2` whether the top level is included.
/// Scoped queries bind those first and number their own parameters from 3.
const IN_SCOPE: &str =
    "($1::text IS NULL OR organization_id = $1 OR ($2 AND organization_id = ''))";

const USER_COLUMNS: &str = "username, organization_id, profile_json, profile_hash";
const SESSION_COLUMNS: &str = "key_hash, kind, username, organization_id, created_at, last_used_at";
const DOCUMENT_COLUMNS: &str = "kind, id, organization_id, doc_json, hash";
const DEVICE_COLUMNS: &str =
    "organization_id, username, device_id, key_hash, registered_at, last_seen_at";
const JOB_COLUMNS: &str =
    "guid, username, organization_id, start_time, end_time, status, detail_json";

/// Columns of PostgreSQL's own that an export leaves out.
const NOT_EXPORTED_COLUMNS: &[&str] = &["seq"];

pub struct PostgresStore {
    pool: PgPool,
    /// This node's name in claims and leases.
    node: String,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`)
    /// and brings the schema up to date, as the node `node`: the name this
    /// process's claims and leases go by, the same across its restarts.
    pub async fn open(url: &str, node: &str) -> StoreResult<Self> {
        let options: PgConnectOptions = url.parse().map_err(backend)?;
        // One connection first, so that a wrong address or password fails
        // at once: the pool would retry it until its timeout.
        PgConnection::connect_with(&options)
            .await
            .map_err(backend)?
            .close()
            .await
            .map_err(backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(backend)?;
        let store = PostgresStore {
            pool,
            node: node.to_string(),
        };
        store.migrate().await?;
        // What this node claimed before it stopped, it may take again now.
        sqlx::query("UPDATE webhook_outbox SET claimed_until = 0 WHERE claimed_by = $1")
            .bind(node)
            .execute(&store.pool)
            .await
            .map_err(backend)?;
        Ok(store)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// What this node shares with the others on the same database.
    pub fn cluster(&self) -> super::cluster::Cluster {
        super::cluster::Cluster::new(self.pool.clone(), self.node.clone())
    }

    /// All steps not yet applied, in one transaction under the migration
    /// lock: a node that starts while another migrates waits, then finds
    /// nothing left to do.
    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS halley_schema (version INTEGER NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let applied: Option<i32> = sqlx::query_scalar("SELECT MAX(version) FROM halley_schema")
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let applied = applied.unwrap_or(0) as usize;
        if applied > MIGRATIONS.len() {
            return Err(StoreError::Backend(
                format!(
                    "the database's schema is version {applied}, newer than this halleyd knows ({})",
                    MIGRATIONS.len()
                )
                .into(),
            ));
        }
        for (index, script) in MIGRATIONS.iter().enumerate().skip(applied) {
            sqlx::raw_sql(script)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            sqlx::query("INSERT INTO halley_schema (version) VALUES ($1)")
                .bind(index as i32 + 1)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
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
            "SELECT {USER_COLUMNS} FROM users WHERE {IN_SCOPE}
             AND ((profile_json::jsonb) ->> '{field}') = $3 ORDER BY username"
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

    /// The exported columns of `table`, in table order, with their types.
    async fn columns(
        &self,
        tx: &mut sqlx::PgConnection,
        table: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(tx)
        .await
        .map_err(backend)?;
        Ok(columns
            .into_iter()
            .filter(|(name, _)| !NOT_EXPORTED_COLUMNS.contains(&name.as_str()))
            .collect())
    }
}

fn user_from_row(row: &PgRow) -> UserRecord {
    UserRecord {
        username: row.get(0),
        organization_id: row.get(1),
        profile_json: row.get(2),
        profile_hash: row.get(3),
    }
}

fn session_from_row(row: &PgRow) -> SessionRecord {
    let kind: String = row.get(1);
    SessionRecord {
        key_hash: row.get(0),
        kind: if kind == "admin" {
            SessionKind::Admin
        } else {
            SessionKind::User
        },
        username: row.get(2),
        organization_id: row.get(3),
        created_at: row.get(4),
        last_used_at: row.get(5),
    }
}

fn document_from_row(row: &PgRow) -> DocumentRecord {
    DocumentRecord {
        kind: row.get(0),
        id: row.get(1),
        organization_id: row.get(2),
        doc_json: row.get(3),
        hash: row.get(4),
    }
}

fn device_from_row(row: &PgRow) -> DeviceRecord {
    DeviceRecord {
        organization_id: row.get(0),
        username: row.get(1),
        device_id: row.get(2),
        key_hash: row.get(3),
        registered_at: row.get(4),
        last_seen_at: row.get(5),
    }
}

fn job_from_row(row: &PgRow) -> JobRecord {
    JobRecord {
        guid: row.get(0),
        username: row.get(1),
        organization_id: row.get(2),
        start_time: row.get(3),
        end_time: row.get(4),
        status: row.get(5),
        detail_json: row.get(6),
    }
}

/// The engine's error, kept as the source of a [`StoreError::Backend`].
fn backend(err: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(err))
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A row of an export as values of its columns' SQL types.
fn row_arguments(
    columns: &[(String, String)],
    row: &[serde_json::Value],
) -> StoreResult<sqlx::postgres::PgArguments> {
    use sqlx::Arguments;
    let mut arguments = sqlx::postgres::PgArguments::default();
    for ((name, sql_type), value) in columns.iter().zip(row) {
        let integer = matches!(sql_type.as_str(), "bigint" | "integer");
        let added = match value {
            serde_json::Value::Null if integer => arguments.add(None::<i64>),
            serde_json::Value::Null => arguments.add(None::<String>),
            serde_json::Value::Number(n) if integer => match n.as_i64() {
                Some(i) => arguments.add(i),
                None => return Err(not_an_integer(name)),
            },
            serde_json::Value::Bool(b) if integer => arguments.add(*b as i64),
            serde_json::Value::String(text) if !integer => arguments.add(text.clone()),
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) if !integer => {
                arguments.add(value.to_string())
            }
            _ => return Err(not_an_integer(name)),
        };
        added.map_err(StoreError::Backend)?;
    }
    Ok(arguments)
}

fn not_an_integer(column: &str) -> StoreError {
    StoreError::Backend(format!("the column '{column}' takes integers").into())
}

#[async_trait]
impl Store for PostgresStore {
    async fn user_create(&self, scope: &TenantScope, user: &UserRecord) -> StoreResult<()> {
        check_in_scope(scope, &user.organization_id)?;
        let result = sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4)"
        ))
        .bind(&user.username)
        .bind(&user.organization_id)
        .bind(&user.profile_json)
        .bind(&user.profile_hash)
        .execute(&self.pool)
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
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {IN_SCOPE} AND username = $3");
        let row = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.as_ref().map(user_from_row))
    }

    async fn user_list(&self, scope: &TenantScope) -> StoreResult<Vec<String>> {
        let sql = format!("SELECT username FROM users WHERE {IN_SCOPE} ORDER BY username");
        sqlx::query_scalar(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    async fn user_list_full(&self, scope: &TenantScope) -> StoreResult<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {IN_SCOPE} ORDER BY username");
        let rows = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    async fn user_replace(
        &self,
        scope: &TenantScope,
        user: &UserRecord,
        expected_hash: Option<&str>,
    ) -> StoreResult<ReplaceOutcome> {
        check_in_scope(scope, &user.organization_id)?;
        let sql = format!(
            "UPDATE users SET organization_id = $3, profile_json = $4, profile_hash = $5
             WHERE {IN_SCOPE} AND username = $6 AND ($7::text IS NULL OR profile_hash = $7)"
        );
        let updated = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(&user.organization_id)
            .bind(&user.profile_json)
            .bind(&user.profile_hash)
            .bind(&user.username)
            .bind(expected_hash)
            .execute(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let sql = format!(
            "DELETE FROM users WHERE {IN_SCOPE} AND username = $3 RETURNING organization_id"
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
        sqlx::query("DELETE FROM sessions WHERE kind = 'user' AND username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        // Jobs, devices and keys belong to the account, not to its name: a
        // new account of the same name starts with none of them.
        for table in ["jobs", "job_log", "devices", "account_keys"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE username = $1 AND organization_id = $2"
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
        sqlx::query(&format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&session.key_hash)
        .bind(session.kind.as_str())
        .bind(&session.username)
        .bind(&session.organization_id)
        .bind(session.created_at)
        .bind(session.last_used_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn session_get(&self, key_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE key_hash = $1"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.as_ref().map(session_from_row))
    }

    async fn session_touch(&self, key_hash: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE key_hash = $2")
            .bind(now)
            .bind(key_hash)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn session_delete(&self, key_hash: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE key_hash = $1")
            .bind(key_hash)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(deleted == 1)
    }

    async fn sessions_delete_for(&self, kind: SessionKind, username: &str) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE kind = $1 AND username = $2")
            .bind(kind.as_str())
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(deleted)
    }

    async fn sessions_expire(&self, idle_before: i64) -> StoreResult<Vec<SessionRecord>> {
        let rows = sqlx::query(&format!(
            "DELETE FROM sessions WHERE last_used_at < $1 RETURNING {SESSION_COLUMNS}"
        ))
        .bind(idle_before)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows.iter().map(session_from_row).collect())
    }

    async fn outbox_insert(&self, rows: &[NewDelivery]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for row in rows {
            sqlx::query("INSERT INTO webhook_outbox (hook, event_id, payload) VALUES ($1, $2, $3)")
                .bind(&row.hook)
                .bind(&row.event_id)
                .bind(&row.payload)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    // Due deliveries are claimed, so that of several nodes' workers for a
    // hook exactly one attempts each; a dead node's claims run out.
    async fn outbox_due(&self, hook: &str, now: i64, limit: i64) -> StoreResult<Vec<OutboxRow>> {
        let mut rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(&format!(
            "UPDATE webhook_outbox SET claimed_until = {NOW_MS} + $4, claimed_by = $5
             WHERE id IN (SELECT id FROM webhook_outbox
                 WHERE hook = $1 AND next_attempt_at <= $2 AND claimed_until < {NOW_MS}
                 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id, hook, event_id, payload, attempts"
        ))
        .bind(hook)
        .bind(now)
        .bind(limit)
        .bind(DELIVERY_CLAIM_MS)
        .bind(&self.node)
        .fetch_all(&self.pool)
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

    /// A claimed row falls due again when its claim runs out.
    async fn outbox_next_due(&self, hook: &str) -> StoreResult<Option<i64>> {
        sqlx::query_scalar(&format!(
            "SELECT MIN(CASE WHEN claimed_until > {NOW_MS} THEN claimed_until / 1000 + 1
                        ELSE next_attempt_at END)
             FROM webhook_outbox WHERE hook = $1"
        ))
        .bind(hook)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)
    }

    async fn outbox_settle(&self, outcomes: &[Settlement]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for outcome in outcomes {
            let query = match *outcome {
                Settlement::Done(id) => {
                    sqlx::query("DELETE FROM webhook_outbox WHERE id = $1").bind(id)
                }
                Settlement::RetryAt { id, attempts, at } => sqlx::query(
                    "UPDATE webhook_outbox SET attempts = $2, next_attempt_at = $3, claimed_until = 0
                     WHERE id = $1",
                )
                .bind(id)
                .bind(attempts)
                .bind(at),
            };
            query.execute(&mut *tx).await.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn outbox_forget_hooks_except(&self, keep: &[String]) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM webhook_outbox WHERE NOT (hook = ANY($1))")
            .bind(keep)
            .execute(&self.pool)
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
            open: self.pool.size(),
            idle: self.pool.num_idle() as u32,
        }
    }

    async fn document_get(
        &self,
        scope: &TenantScope,
        kind: &str,
        id: &str,
    ) -> StoreResult<Option<DocumentRecord>> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE {IN_SCOPE} AND kind = $3 AND id = $4"
        );
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
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE {IN_SCOPE} AND kind = $3 ORDER BY id"
        );
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
                "INSERT INTO documents ({DOCUMENT_COLUMNS}) VALUES ($3, $4, $5, $6, $7)
                 ON CONFLICT (kind, id) DO UPDATE SET organization_id = excluded.organization_id,
                     doc_json = excluded.doc_json, hash = excluded.hash
                 WHERE {}",
                IN_SCOPE.replace("organization_id", "documents.organization_id")
            ),
            Some(_) => format!(
                "UPDATE documents SET organization_id = $5, doc_json = $6, hash = $7
                 WHERE {IN_SCOPE} AND kind = $3 AND id = $4 AND hash = $8"
            ),
        };
        let mut query = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(&document.kind)
            .bind(&document.id)
            .bind(&document.organization_id)
            .bind(&document.doc_json)
            .bind(&document.hash);
        if let Some(expected) = expected_hash {
            query = query.bind(expected);
        }
        let written = query
            .execute(&self.pool)
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
        let sql = format!("DELETE FROM documents WHERE {IN_SCOPE} AND kind = $3 AND id = $4");
        let deleted = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(kind)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(deleted == 1)
    }

    async fn job_put(&self, scope: &TenantScope, job: &JobRecord) -> StoreResult<()> {
        check_in_scope(scope, &job.organization_id)?;
        // A job of the same GUID outside the scope stays as it is.
        let sql = format!(
            "INSERT INTO jobs ({JOB_COLUMNS}) VALUES ($3, $4, $5, $6, $7, $8, $9)
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
            .execute(&self.pool)
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
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {IN_SCOPE} AND guid = $3");
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
        // $3 user, $4 $5 the time bounds, $6 $7 the running statuses, $8 $9 paging.
        let when = match &query.when {
            JobWhen::Any => "TRUE",
            JobWhen::StartedSince(_) => "start_time >= $4",
            JobWhen::RunningOrStartedSince { .. } => {
                "(start_time >= $4 OR status BETWEEN $6 AND $7)"
            }
            JobWhen::Running(_) => "status BETWEEN $6 AND $7",
            JobWhen::StartedOrEndedWithin { .. } => {
                "((start_time <> 0 AND start_time BETWEEN $4 AND $5) OR (end_time <> 0 AND end_time BETWEEN $4 AND $5))"
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
            "SELECT {JOB_COLUMNS} FROM jobs
             WHERE {IN_SCOPE} AND ($3::text IS NULL OR username = $3) AND {when}
             ORDER BY start_time, guid LIMIT $9 OFFSET $8"
        );
        let rows = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(query.username.as_deref())
            .bind(from)
            .bind(to)
            .bind(*running.start())
            .bind(*running.end())
            .bind(query.offset)
            .bind(query.limit)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.iter().map(job_from_row).collect())
    }

    async fn device_put(&self, scope: &TenantScope, device: &DeviceRecord) -> StoreResult<()> {
        check_in_scope(scope, &device.organization_id)?;
        sqlx::query(&format!(
            "INSERT INTO devices ({DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (organization_id, username, device_id) DO UPDATE SET
                 key_hash = excluded.key_hash, registered_at = excluded.registered_at"
        ))
        .bind(&device.organization_id)
        .bind(&device.username)
        .bind(&device.device_id)
        .bind(&device.key_hash)
        .bind(device.registered_at)
        .bind(device.last_seen_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn device_by_key(&self, key_hash: &str) -> StoreResult<Option<DeviceRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE key_hash = $1"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.as_ref().map(device_from_row))
    }

    async fn device_delete(
        &self,
        scope: &TenantScope,
        username: &str,
        device_id: &str,
    ) -> StoreResult<bool> {
        let sql =
            format!("DELETE FROM devices WHERE {IN_SCOPE} AND username = $3 AND device_id = $4");
        let deleted = sqlx::query(&sql)
            .bind(scope.tenant())
            .bind(scope.with_top_level())
            .bind(username)
            .bind(device_id)
            .execute(&self.pool)
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
        Ok(rows.iter().map(device_from_row).collect())
    }

    async fn device_seen(&self, key_hash: &str, at: i64) -> StoreResult<()> {
        sqlx::query("UPDATE devices SET last_seen_at = $1 WHERE key_hash = $2")
            .bind(at)
            .bind(key_hash)
            .execute(&self.pool)
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
            format!("SELECT wrapped_json FROM account_keys WHERE {IN_SCOPE} AND username = $3");
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
            "INSERT INTO account_keys (organization_id, username, wrapped_json) VALUES ($1, $2, $3)
             ON CONFLICT (organization_id, username) DO UPDATE SET wrapped_json = excluded.wrapped_json",
        )
        .bind(organization_id)
        .bind(username)
        .bind(wrapped_json)
        .execute(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let sql =
            format!("SELECT username, organization_id FROM jobs WHERE {IN_SCOPE} AND guid = $3");
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
                 VALUES ($1, $2, $3, $4, $5, $6)",
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
            "SELECT time, severity, message FROM job_log WHERE {IN_SCOPE} AND job_guid = $3 ORDER BY seq"
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
        let deleted = sqlx::query("DELETE FROM job_log WHERE time < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(deleted)
    }

    async fn resource_add(&self, organization_id: &str, hash: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO resources (organization_id, hash) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(organization_id)
        .bind(hash)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn resource_visible(&self, scope: &TenantScope, hash: &str) -> StoreResult<bool> {
        let sql = format!("SELECT 1 FROM resources WHERE {IN_SCOPE} AND hash = $3 LIMIT 1");
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut usernames: Vec<String> =
            sqlx::query_scalar("DELETE FROM users WHERE organization_id = $1 RETURNING username")
                .bind(organization_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
        let mut policy_ids: Vec<String> = sqlx::query_scalar(
            "DELETE FROM documents WHERE organization_id = $1 AND kind = 'policy' RETURNING id",
        )
        .bind(organization_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        for table in TENANT_TABLES {
            sqlx::query(&format!("DELETE FROM {table} WHERE organization_id = $1"))
                .bind(organization_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        usernames.sort();
        policy_ids.sort();
        Ok(TenantRemoval {
            usernames,
            policy_ids,
        })
    }

    async fn export(
        &self,
        scope: &TenantScope,
        options: ExportOptions,
    ) -> StoreResult<Vec<ExportTable>> {
        // One snapshot: every table from the same moment.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let mut tables = Vec::new();
        for table in exported_tables(scope, options) {
            let columns: Vec<String> = self
                .columns(&mut tx, table.name)
                .await?
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            // Tables of the whole server are exported only for every tenant,
            // so they need no condition.
            let filter = if table.per_tenant { IN_SCOPE } else { "TRUE" };
            let sql = format!(
                "SELECT COALESCE(json_agg(json_build_array({columns}) ORDER BY {order}), '[]')::text
                 FROM {name} WHERE {filter}",
                columns = columns.join(", "),
                order = table.order,
                name = table.name,
            );
            let mut query = sqlx::query_scalar(&sql);
            if table.per_tenant {
                query = query.bind(scope.tenant()).bind(scope.with_top_level());
            }
            let json: String = query.fetch_one(&mut *tx).await.map_err(backend)?;
            tables.push(ExportTable {
                name: table.name.to_string(),
                columns,
                rows: serde_json::from_str(&json).map_err(decode_error)?,
            });
        }
        tx.commit().await.map_err(backend)?;
        Ok(tables)
    }

    async fn import(&self, tables: &[ExportTable]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for table in tables {
            check_exported_table(&table.name)?;
            let known = self.columns(&mut tx, &table.name).await?;
            let mut columns = Vec::new();
            for name in &table.columns {
                match known.iter().find(|(known, _)| known == name) {
                    Some(column) => columns.push(column.clone()),
                    None => return Err(no_such_column(&table.name, name)),
                }
            }
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({})",
                table.name,
                table.columns.join(", "),
                placeholders.join(", ")
            );
            for row in &table.rows {
                sqlx::query_with(&sql, row_arguments(&columns, row)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
        }
        tx.commit().await.map_err(backend)
    }

    async fn stats_sample(&self, at: i64) -> StoreResult<StatsSample> {
        let per_organization: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT organization_id, COUNT(*),
                 COALESCE(SUM(CASE WHEN jsonb_typeof((profile_json::jsonb) -> 'Devices') = 'object'
                     THEN (SELECT COUNT(*) FROM jsonb_object_keys((profile_json::jsonb) -> 'Devices'))
                     ELSE 0 END), 0)::bigint
             FROM users GROUP BY organization_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let users = per_organization.iter().map(|(_, users, _)| users).sum();
        let devices = per_organization.iter().map(|(_, _, devices)| devices).sum();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO stats_samples (sampled_at, users, devices) VALUES ($1, $2, $3)
             ON CONFLICT (sampled_at) DO UPDATE SET users = excluded.users, devices = excluded.devices",
        )
        .bind(at)
        .bind(users)
        .bind(devices)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        for (organization, users, devices) in &per_organization {
            sqlx::query(
                "INSERT INTO stats_samples_by_organization (sampled_at, organization_id, users, devices)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (organization_id, sampled_at)
                 DO UPDATE SET users = excluded.users, devices = excluded.devices",
            )
            .bind(at)
            .bind(organization)
            .bind(users)
            .bind(devices)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(StatsSample { at, users, devices })
    }

    async fn stats_list(&self, scope: &TenantScope) -> StoreResult<Vec<StatsSample>> {
        let rows: Vec<(i64, i64, i64)> = match scope.tenant() {
            None => sqlx::query_as(
                "SELECT sampled_at, users, devices FROM stats_samples ORDER BY sampled_at",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?,
            // A sample where the organization had no account yet counts zero.
            Some(organization) => sqlx::query_as(
                "SELECT s.sampled_at, COALESCE(o.users, 0), COALESCE(o.devices, 0) FROM stats_samples s
                 LEFT JOIN stats_samples_by_organization o
                     ON o.sampled_at = s.sampled_at AND o.organization_id = $1
                 ORDER BY s.sampled_at",
            )
            .bind(organization)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?,
        };
        Ok(rows
            .into_iter()
            .map(|(at, users, devices)| StatsSample { at, users, devices })
            .collect())
    }

    // --- Authentication ---

    async fn totp_claim_step(&self, account: &str, step: i64) -> StoreResult<bool> {
        // One statement: of two racing claims of the same step, on any
        // nodes, exactly one inserts or raises the row.
        let claimed = sqlx::query(
            "INSERT INTO totp_used_steps (account, step) VALUES ($1, $2)
             ON CONFLICT (account) DO UPDATE SET step = excluded.step
             WHERE excluded.step > totp_used_steps.step",
        )
        .bind(account)
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(claimed == 1)
    }
}
