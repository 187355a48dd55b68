//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so an
//! acknowledged change (a new serial, a binding) survives a crash.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use super::*;

/// Schema steps, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_portal.sql")];

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let applied: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *tx)
            .await?;
        for (index, script) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            sqlx::raw_sql(script).execute(&mut *tx).await?;
            sqlx::raw_sql(&format!("PRAGMA user_version = {}", index + 1))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn conflict_or(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::Database(err),
    }
}

fn account_from_row(row: &SqliteRow) -> Account {
    Account {
        id: row.get("id"),
        email: row.get("email"),
        password_hash: row.get("password_hash"),
    }
}

fn license_from_row(row: &SqliteRow) -> License {
    License {
        serial: row.get("serial"),
        account_id: row.get("account_id"),
        created_at: row.get("created_at"),
        archived_at: row.get("archived_at"),
        server_id: row.get("server_id"),
        activated_at: row.get("activated_at"),
        last_seen_at: row.get("last_seen_at"),
    }
}

fn hosted_from_row(row: &SqliteRow) -> HostedServer {
    let port: Option<i64> = row.get("port");
    let pid: Option<i64> = row.get("pid");
    let terminate: i64 = row.get("terminate_requested");
    HostedServer {
        id: row.get("id"),
        account_id: row.get("account_id"),
        region: row.get("region"),
        subdomain: row.get("subdomain"),
        server_name: row.get("server_name"),
        install_status: row.get("install_status"),
        aws_status: row.get("aws_status"),
        admin_username: row.get("admin_username"),
        admin_password: row.get("admin_password"),
        port: port.and_then(|p| u16::try_from(p).ok()),
        pid: pid.and_then(|p| u32::try_from(p).ok()),
        created_at: row.get("created_at"),
        terminate_requested: terminate != 0,
        deleted_at: row.get("deleted_at"),
    }
}

fn deduction_from_row(row: &SqliteRow) -> Deduction {
    Deduction {
        account_id: row.get("account_id"),
        service_type: row.get("service_type"),
        service_id: row.get("service_id"),
        day: row.get("day"),
        description: row.get("description"),
        amount_cents: row.get("amount_cents"),
        charged_at: row.get("charged_at"),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn account_create(&self, email: &str, password_hash: &str, now: i64) -> StoreResult<i64> {
        let result =
            sqlx::query("INSERT INTO accounts (email, password_hash, created_at) VALUES (?, ?, ?)")
                .bind(email)
                .bind(password_hash)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(conflict_or)?;
        Ok(result.last_insert_rowid())
    }

    async fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT id, email, password_hash FROM accounts WHERE email = ?")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(account_from_row))
    }

    async fn account_by_token(&self, token_hash: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query(
            "SELECT a.id, a.email, a.password_hash FROM api_tokens t \
             JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(account_from_row))
    }

    async fn token_create(
        &self,
        account_id: i64,
        token_hash: &str,
        name: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, account_id, name, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(account_id)
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(conflict_or)?;
        Ok(())
    }

    async fn token_revoke(&self, account_id: i64, token_hash: &str) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM api_tokens WHERE account_id = ? AND token_hash = ?")
            .bind(account_id)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn license_create(&self, account_id: i64, serial: &str, now: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO licenses (serial, account_id, created_at) VALUES (?, ?, ?)")
            .bind(serial)
            .bind(account_id)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(conflict_or)?;
        Ok(())
    }

    async fn license_get(&self, serial: &str) -> StoreResult<Option<License>> {
        let row = sqlx::query("SELECT * FROM licenses WHERE serial = ?")
            .bind(serial)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(license_from_row))
    }

    async fn license_list(&self, account_id: Option<i64>) -> StoreResult<Vec<License>> {
        let rows = sqlx::query(
            "SELECT * FROM licenses WHERE (?1 IS NULL OR account_id = ?1) \
             ORDER BY created_at, rowid",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(license_from_row).collect())
    }

    async fn license_relax(&self, account_id: i64, serial: &str) -> StoreResult<bool> {
        let result =
            sqlx::query("UPDATE licenses SET server_id = NULL WHERE serial = ? AND account_id = ?")
                .bind(serial)
                .bind(account_id)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn license_archive(&self, account_id: i64, serial: &str, now: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE licenses SET archived_at = COALESCE(archived_at, ?), server_id = NULL \
             WHERE serial = ? AND account_id = ?",
        )
        .bind(now)
        .bind(serial)
        .bind(account_id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn license_activate(
        &self,
        serial: &str,
        server_id: &str,
        now: i64,
    ) -> StoreResult<Activation> {
        // One conditional UPDATE decides the race; the SELECT after it only
        // explains a refusal.
        let result = sqlx::query(
            "UPDATE licenses SET server_id = ?1, \
                 activated_at = CASE WHEN server_id IS ?1 THEN activated_at ELSE ?2 END, \
                 last_seen_at = ?2 \
             WHERE serial = ?3 AND archived_at IS NULL AND (server_id IS NULL OR server_id = ?1)",
        )
        .bind(server_id)
        .bind(now)
        .bind(serial)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() > 0 {
            return Ok(Activation::Bound);
        }
        Ok(match self.license_get(serial).await? {
            None => Activation::Unknown,
            Some(license) if license.archived_at.is_some() => Activation::Archived,
            Some(_) => Activation::BoundElsewhere,
        })
    }

    async fn hosted_create(&self, new: &NewHostedServer) -> StoreResult<i64> {
        let result = sqlx::query(
            "INSERT INTO hosted_servers (account_id, region, subdomain, server_name, \
                 install_status, aws_status, admin_username, admin_password, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.account_id)
        .bind(&new.region)
        .bind(&new.subdomain)
        .bind(&new.server_name)
        .bind(&new.install_status)
        .bind(&new.aws_status)
        .bind(&new.admin_username)
        .bind(&new.admin_password)
        .bind(new.created_at)
        .execute(&self.pool)
        .await
        .map_err(conflict_or)?;
        Ok(result.last_insert_rowid())
    }

    async fn hosted_get(&self, id: i64) -> StoreResult<Option<HostedServer>> {
        let row = sqlx::query("SELECT * FROM hosted_servers WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(hosted_from_row))
    }

    async fn hosted_list(
        &self,
        account_id: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<HostedServer>> {
        let rows = sqlx::query(
            "SELECT * FROM hosted_servers WHERE (?1 IS NULL OR account_id = ?1) \
             ORDER BY id LIMIT ?2 OFFSET ?3",
        )
        .bind(account_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(hosted_from_row).collect())
    }

    async fn hosted_set_status(
        &self,
        id: i64,
        install_status: &str,
        aws_status: &str,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE hosted_servers SET install_status = ?, aws_status = ? WHERE id = ?")
            .bind(install_status)
            .bind(aws_status)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn hosted_set_runtime(
        &self,
        id: i64,
        port: Option<u16>,
        pid: Option<u32>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE hosted_servers SET port = COALESCE(?, port), pid = ? WHERE id = ?")
            .bind(port.map(i64::from))
            .bind(pid.map(i64::from))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn hosted_request_terminate(&self, id: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE hosted_servers SET terminate_requested = 1 \
             WHERE id = ? AND terminate_requested = 0 AND deleted_at IS NULL",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn hosted_mark_deleted(&self, id: i64, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE hosted_servers SET deleted_at = COALESCE(deleted_at, ?), pid = NULL \
             WHERE id = ?",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn deduction_add(&self, deduction: &Deduction) -> StoreResult<()> {
        sqlx::query(
            "INSERT OR IGNORE INTO deductions (account_id, service_type, service_id, day, \
                 description, amount_cents, charged_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(deduction.account_id)
        .bind(&deduction.service_type)
        .bind(&deduction.service_id)
        .bind(&deduction.day)
        .bind(&deduction.description)
        .bind(deduction.amount_cents)
        .bind(deduction.charged_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn deduction_list(&self, account_id: i64) -> StoreResult<Vec<Deduction>> {
        let rows = sqlx::query("SELECT * FROM deductions WHERE account_id = ? ORDER BY day, id")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(deduction_from_row).collect())
    }
}
