-- The whole schema as SQLite's migrations 0001 to 0010 leave it, with the
-- same tables and columns, so a logical export moves between the engines.
CREATE TABLE users (
    username        TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL DEFAULT '',
    profile_json    TEXT NOT NULL,
    profile_hash    TEXT NOT NULL
);
CREATE INDEX users_by_organization ON users (organization_id, username);
CREATE INDEX users_by_policy ON users (((profile_json::jsonb) ->> 'PolicyID'));
CREATE INDEX users_by_group ON users (((profile_json::jsonb) ->> 'GroupID'));

CREATE TABLE sessions (
    key_hash        TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    username        TEXT NOT NULL,
    organization_id TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (kind, username);
CREATE INDEX sessions_by_last_use ON sessions (last_used_at);

CREATE TABLE webhook_outbox (
    id               BIGSERIAL PRIMARY KEY,
    hook             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL DEFAULT 0,
    event_id         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (hook, next_attempt_at, id);

CREATE TABLE documents (
    kind            TEXT NOT NULL,
    id              TEXT NOT NULL,
    organization_id TEXT NOT NULL DEFAULT '',
    doc_json        TEXT NOT NULL,
    hash            TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX documents_by_organization ON documents (kind, organization_id, id);

CREATE TABLE stats_samples (
    sampled_at BIGINT PRIMARY KEY NOT NULL,
    users      BIGINT NOT NULL,
    devices    BIGINT NOT NULL
);
CREATE TABLE stats_samples_by_organization (
    sampled_at      BIGINT NOT NULL,
    organization_id TEXT NOT NULL,
    users           BIGINT NOT NULL,
    devices         BIGINT NOT NULL,
    PRIMARY KEY (organization_id, sampled_at)
);

CREATE TABLE jobs (
    guid            TEXT PRIMARY KEY NOT NULL,
    username        TEXT NOT NULL,
    organization_id TEXT NOT NULL DEFAULT '',
    start_time      BIGINT NOT NULL,
    detail_json     TEXT NOT NULL,
    end_time        BIGINT NOT NULL DEFAULT 0,
    status          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_start ON jobs (start_time);
CREATE INDEX jobs_by_user ON jobs (username, start_time);
CREATE INDEX jobs_by_organization ON jobs (organization_id, start_time);
CREATE INDEX jobs_by_status ON jobs (status, start_time);
CREATE INDEX jobs_by_end ON jobs (end_time);
CREATE INDEX jobs_by_organization_user ON jobs (organization_id, username, start_time);

CREATE TABLE totp_used_steps (
    account TEXT PRIMARY KEY NOT NULL,
    step    BIGINT NOT NULL
);

CREATE TABLE resources (
    organization_id TEXT NOT NULL,
    hash            TEXT NOT NULL,
    PRIMARY KEY (organization_id, hash)
);
CREATE INDEX resources_by_hash ON resources (hash);

CREATE TABLE devices (
    organization_id TEXT NOT NULL,
    username        TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    registered_at   BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, username, device_id)
);

CREATE TABLE account_keys (
    organization_id TEXT NOT NULL,
    username        TEXT NOT NULL,
    wrapped_json    TEXT NOT NULL,
    PRIMARY KEY (organization_id, username)
);

-- `seq` keeps lines in the order they arrived (SQLite's rowid); it is not
-- exported.
CREATE TABLE job_log (
    seq             BIGSERIAL PRIMARY KEY,
    job_guid        TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    username        TEXT NOT NULL,
    time            BIGINT NOT NULL,
    severity        TEXT NOT NULL,
    message         TEXT NOT NULL
);
CREATE INDEX job_log_by_job ON job_log (job_guid, seq);
CREATE INDEX job_log_by_time ON job_log (time);
