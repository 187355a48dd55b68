-- Registered devices: the hash of each device's own key and its live state,
-- kept apart from the profile so a connection never rewrites the profile.
CREATE TABLE devices (
    organization_id TEXT NOT NULL,
    username TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    registered_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, username, device_id)
);

-- Each account's account key, wrapped by its password, its recovery code
-- and its unused install tokens (a JSON document, see service/account_keys.rs).
CREATE TABLE account_keys (
    organization_id TEXT NOT NULL,
    username TEXT NOT NULL,
    wrapped_json TEXT NOT NULL,
    PRIMARY KEY (organization_id, username)
);

-- The log lines devices report for their jobs.
CREATE TABLE job_log (
    job_guid TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    username TEXT NOT NULL,
    time INTEGER NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_log_by_job ON job_log (job_guid);
CREATE INDEX job_log_by_time ON job_log (time);
