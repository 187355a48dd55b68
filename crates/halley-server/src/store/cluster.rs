//! What several `halleyd` nodes on one PostgreSQL database share beyond the
//! store's rows: the configuration, the live event feed, uploaded
//! resources, leases on background work, and failed sign-ins. Only PostgreSQL has a cluster: one
//! SQLite file serves one process, which keeps these in `cometd.cfg` and in
//! memory.
//!
//! Changes are announced with `NOTIFY` on [`CONFIG_CHANNEL`] and
//! [`EVENTS_CHANNEL`]; a node also polls, since notifications sent while its
//! listening connection was down are lost.

use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{PgPool, Postgres, Transaction};

use super::{StoreError, StoreResult};

pub const CONFIG_CHANNEL: &str = "halley_config";
pub const EVENTS_CHANNEL: &str = "halley_events";
/// Frames for a device another node holds, and their answers.
pub const RELAY_CHANNEL: &str = "halley_relay";

/// Taken by every transaction that appends to the event feed, so that
/// feed rows commit in the order of their IDs and a reader that has seen
/// ID n never misses a smaller one committed later.
const FEED_LOCK: i64 = 0x4841_4c4c_4546; // "HALLEF"

/// The database's clock in milliseconds: one clock for every node.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

pub struct Cluster {
    pool: PgPool,
    /// This process's name in leases and claims.
    pub node: String,
}

/// One row of the event feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRow {
    pub id: i64,
    pub event_id: String,
    pub body: String,
}

/// A configuration change in progress: the row is locked until it commits
/// or is dropped, so changes from several nodes apply one after another.
pub struct ConfigEdit {
    tx: Transaction<'static, Postgres>,
    pub doc: String,
}

impl ConfigEdit {
    /// Writes `doc` and tells every node; answers the new version.
    pub async fn commit(mut self, doc: &str) -> StoreResult<i64> {
        let version: i64 = sqlx::query_scalar(
            "UPDATE server_config SET doc = $1, version = version + 1 WHERE id = 1 RETURNING version",
        )
        .bind(doc)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(backend)?;
        notify(&mut self.tx, CONFIG_CHANNEL, &version.to_string()).await?;
        self.tx.commit().await.map_err(backend)?;
        Ok(version)
    }
}

fn backend(err: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(err))
}

async fn notify(
    tx: &mut Transaction<'static, Postgres>,
    channel: &str,
    payload: &str,
) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

impl Cluster {
    pub(super) fn new(pool: PgPool, node: String) -> Cluster {
        Cluster { pool, node }
    }

    // --- The configuration ---

    /// The shared configuration and its version, if one was stored.
    pub async fn config_load(&self) -> StoreResult<Option<(String, i64)>> {
        sqlx::query_as("SELECT doc, version FROM server_config WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    /// Stores `doc` as the first configuration unless another node stored
    /// one first; answers the one stored.
    pub async fn config_init(&self, doc: &str) -> StoreResult<(String, i64)> {
        sqlx::query(
            "INSERT INTO server_config (id, doc, version) VALUES (1, $1, 1) ON CONFLICT (id) DO NOTHING",
        )
        .bind(doc)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        self.config_load()
            .await?
            .ok_or_else(|| StoreError::Backend("the configuration row vanished".into()))
    }

    /// Locks the configuration for a change.
    pub async fn config_edit(&self) -> StoreResult<ConfigEdit> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let doc: String =
            sqlx::query_scalar("SELECT doc FROM server_config WHERE id = 1 FOR UPDATE")
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        Ok(ConfigEdit { tx, doc })
    }

    // --- The event feed ---

    /// Appends events (their IDs and JSON) in order, and tells every node.
    pub async fn feed_append(&self, events: &[(String, String)]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FEED_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let (ids, bodies): (Vec<&str>, Vec<&str>) = events
            .iter()
            .map(|(id, body)| (id.as_str(), body.as_str()))
            .unzip();
        sqlx::query(&format!(
            "INSERT INTO event_feed (event_id, body, added_at)
             SELECT id, body, {NOW_MS} FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS e(id, body, n)
             ORDER BY n"
        ))
        .bind(ids)
        .bind(bodies)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        notify(&mut tx, EVENTS_CHANNEL, "").await?;
        tx.commit().await.map_err(backend)
    }

    /// The newest row's ID (0 for none): where a node starting now begins.
    pub async fn feed_head(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM event_feed")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    /// Rows after `after`, oldest first.
    pub async fn feed_after(&self, after: i64, limit: i64) -> StoreResult<Vec<FeedRow>> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, event_id, body FROM event_feed WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(id, event_id, body)| FeedRow { id, event_id, body })
            .collect())
    }

    /// Forgets rows older than `age`.
    pub async fn feed_prune(&self, age: Duration) -> StoreResult<u64> {
        let deleted = sqlx::query(&format!(
            "DELETE FROM event_feed WHERE added_at < {NOW_MS} - $1"
        ))
        .bind(age.as_millis() as i64)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(deleted)
    }

    /// A connection that receives the cluster's notifications.
    pub async fn listen(&self) -> StoreResult<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .map_err(backend)?;
        listener
            .listen_all([CONFIG_CHANNEL, EVENTS_CHANNEL, RELAY_CHANNEL])
            .await
            .map_err(backend)?;
        Ok(listener)
    }

    // --- Device connections held by some node ---

    /// Says that these connections (ID, device key hash, snapshot) are held
    /// by this node for the next `ttl`.
    pub async fn presence_renew(
        &self,
        connections: &[(String, String, String)],
        ttl: Duration,
    ) -> StoreResult<()> {
        if connections.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::new();
        let mut keys = Vec::new();
        let mut snapshots = Vec::new();
        for (id, key, snapshot) in connections {
            ids.push(id.as_str());
            keys.push(key.as_str());
            snapshots.push(snapshot.as_str());
        }
        sqlx::query(&format!(
            "INSERT INTO device_presence (connection_id, key_hash, node, expires_at, snapshot)
             SELECT c, k, $4, {NOW_MS} + $5, s FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u(c, k, s)
             ON CONFLICT (connection_id) DO UPDATE SET
                 node = excluded.node, expires_at = excluded.expires_at, snapshot = excluded.snapshot"
        ))
        .bind(ids)
        .bind(keys)
        .bind(snapshots)
        .bind(&self.node)
        .bind(ttl.as_millis() as i64)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    /// The connection ended.
    pub async fn presence_end(&self, connection_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM device_presence WHERE connection_id = $1")
            .bind(connection_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// The key hashes of the devices connected to any node now (the
    /// lobby's connections have none).
    pub async fn present(&self) -> StoreResult<std::collections::HashSet<String>> {
        let keys: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT key_hash FROM device_presence WHERE expires_at > {NOW_MS} AND key_hash <> ''"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(keys.into_iter().collect())
    }

    /// The live connections of other nodes: (node, snapshot).
    pub async fn presence_elsewhere(&self) -> StoreResult<Vec<(String, String)>> {
        sqlx::query_as(&format!(
            "SELECT node, snapshot FROM device_presence WHERE expires_at > {NOW_MS} AND node <> $1
             ORDER BY connection_id"
        ))
        .bind(&self.node)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }

    /// One live connection of another node: (node, snapshot).
    pub async fn presence_of(&self, connection_id: &str) -> StoreResult<Option<(String, String)>> {
        sqlx::query_as(&format!(
            "SELECT node, snapshot FROM device_presence
             WHERE connection_id = $1 AND expires_at > {NOW_MS} AND node <> $2"
        ))
        .bind(connection_id)
        .bind(&self.node)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)
    }

    // --- Frames relayed to a device another node holds ---

    /// Queues `outgoing` (JSON) for the connection on `node`; answers its ID.
    pub async fn relay_send(
        &self,
        node: &str,
        connection_id: &str,
        outgoing: &str,
    ) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let id: i64 = sqlx::query_scalar(&format!(
            "INSERT INTO device_relay (node, connection_id, outgoing, created_at)
             VALUES ($1, $2, $3, {NOW_MS}) RETURNING id"
        ))
        .bind(node)
        .bind(connection_id)
        .bind(outgoing)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        notify(&mut tx, RELAY_CHANNEL, node).await?;
        tx.commit().await.map_err(backend)?;
        Ok(id)
    }

    /// Takes what other nodes queued for this node's connections:
    /// (ID, connection ID, outgoing).
    pub async fn relay_take(&self) -> StoreResult<Vec<(i64, String, String)>> {
        let mut rows: Vec<(i64, String, String)> = sqlx::query_as(
            "UPDATE device_relay SET taken = TRUE WHERE node = $1 AND NOT taken
             RETURNING id, connection_id, outgoing",
        )
        .bind(&self.node)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        // In the order they were queued.
        rows.sort_by_key(|row| row.0);
        Ok(rows)
    }

    /// Records the outcome (JSON) of a relayed request and tells its asker.
    pub async fn relay_answer(&self, id: i64, outcome: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("UPDATE device_relay SET outcome = $2 WHERE id = $1")
            .bind(id)
            .bind(outcome)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        notify(&mut tx, RELAY_CHANNEL, "answer").await?;
        tx.commit().await.map_err(backend)
    }

    /// The outcome of a relayed request, once there is one; the row goes
    /// once read.
    pub async fn relay_outcome(&self, id: i64) -> StoreResult<Option<String>> {
        sqlx::query_scalar(
            "DELETE FROM device_relay WHERE id = $1 AND outcome IS NOT NULL RETURNING outcome",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)
    }

    /// Forgets a relayed frame (answered, or not waited for any more).
    pub async fn relay_forget(&self, id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM device_relay WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Forgets relayed frames older than `age` (their askers gave up).
    pub async fn relay_prune(&self, age: Duration) -> StoreResult<u64> {
        let deleted = sqlx::query(&format!(
            "DELETE FROM device_relay WHERE created_at < {NOW_MS} - $1"
        ))
        .bind(age.as_millis() as i64)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(deleted)
    }

    // --- Uploaded resources ---

    pub async fn resource_put(&self, hash: &str, data: &[u8]) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO resource_blobs (hash, data) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(hash)
        .bind(data)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub async fn resource_get(&self, hash: &str) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT data FROM resource_blobs WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    pub async fn resource_hashes(&self) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT hash FROM resource_blobs ORDER BY hash")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    // --- Leases ---

    /// Takes or renews the lease `name` for `ttl`; false while another
    /// node holds it. A holder that dies loses it when `ttl` runs out.
    pub async fn lease(&self, name: &str, ttl: Duration) -> StoreResult<bool> {
        let held: Option<String> = sqlx::query_scalar(&format!(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, {NOW_MS} + $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at < {NOW_MS}
             RETURNING holder"
        ))
        .bind(name)
        .bind(&self.node)
        .bind(ttl.as_millis() as i64)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(held.is_some())
    }

    // --- Failed sign-ins ---

    /// Counts and last failures of `keys` (hashes), failures older than
    /// `cooldown` forgotten.
    pub async fn failures(
        &self,
        keys: &[String],
        cooldown: Duration,
    ) -> StoreResult<Vec<(String, i64, i64)>> {
        sqlx::query_as(&format!(
            "SELECT key, count, {NOW_MS} - last_at FROM login_failures
             WHERE key = ANY($1) AND last_at >= {NOW_MS} - $2"
        ))
        .bind(keys)
        .bind(cooldown.as_millis() as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }

    /// Counts one more failure for each key; a count whose last failure is
    /// older than `cooldown` starts again.
    pub async fn failure_add(&self, keys: &[String], cooldown: Duration) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO login_failures (key, count, last_at) SELECT k, 1, {NOW_MS} FROM UNNEST($1::text[]) AS k
             ON CONFLICT (key) DO UPDATE SET
                 count = CASE WHEN login_failures.last_at < {NOW_MS} - $2 THEN 1 ELSE login_failures.count + 1 END,
                 last_at = excluded.last_at"
        ))
        .bind(keys)
        .bind(cooldown.as_millis() as i64)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub async fn failure_clear(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Forgets failures older than `age`.
    pub async fn failures_prune(&self, age: Duration) -> StoreResult<u64> {
        let deleted = sqlx::query(&format!(
            "DELETE FROM login_failures WHERE last_at < {NOW_MS} - $1"
        ))
        .bind(age.as_millis() as i64)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok(deleted)
    }
}
