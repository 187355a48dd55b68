CREATE TABLE users (
    username        TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL DEFAULT '',
    profile_json    TEXT NOT NULL,
    profile_hash    TEXT NOT NULL
);
CREATE INDEX users_by_organization ON users (organization_id, username);

CREATE TABLE sessions (
    key_hash        TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    username        TEXT NOT NULL,
    organization_id TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (kind, username);
CREATE INDEX sessions_by_last_use ON sessions (last_used_at);
