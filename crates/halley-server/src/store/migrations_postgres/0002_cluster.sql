-- What several nodes share beyond the store's rows (store/cluster.rs).

-- The configuration (`ServerConfigOptions` as JSON): one row, its version
-- raised by every change.
CREATE TABLE server_config (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    doc     TEXT NOT NULL,
    version BIGINT NOT NULL
);

-- Every event, in the one order every node's subscribers see; kept a while
-- for nodes that fell behind.
CREATE TABLE event_feed (
    id       BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL,
    body     TEXT NOT NULL,
    added_at BIGINT NOT NULL
);
CREATE INDEX event_feed_by_age ON event_feed (added_at);

-- Background work that runs on one node at a time.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Failed sign-ins by (account, address) and by address, as hashes.
CREATE TABLE login_failures (
    key     TEXT PRIMARY KEY,
    count   BIGINT NOT NULL,
    last_at BIGINT NOT NULL
);
CREATE INDEX login_failures_by_age ON login_failures (last_at);

-- Device connections, each held by one node, until the node's next
-- heartbeat is overdue; `snapshot` is what the other nodes list and call.
CREATE TABLE device_presence (
    connection_id TEXT PRIMARY KEY,
    key_hash      TEXT NOT NULL,
    node          TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    snapshot      TEXT NOT NULL
);
CREATE INDEX device_presence_by_key ON device_presence (key_hash);

-- What a node asks of a device connected to another node, and the answer.
CREATE TABLE device_relay (
    id            BIGSERIAL PRIMARY KEY,
    node          TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    outgoing      TEXT NOT NULL,
    taken         BOOLEAN NOT NULL DEFAULT FALSE,
    outcome       TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX device_relay_by_node ON device_relay (node, taken);

-- Uploaded resources (branding files), by hash: each node keeps a copy in
-- its data directory and fetches what another node received.
CREATE TABLE resource_blobs (
    hash TEXT PRIMARY KEY,
    data BYTEA NOT NULL
);

-- A webhook delivery being attempted by a node, until its claim expires
-- (or the same node starts again).
ALTER TABLE webhook_outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
