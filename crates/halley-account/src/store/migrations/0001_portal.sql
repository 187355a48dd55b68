-- Portal accounts; emails compare case-insensitively.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- API tokens: only a hash of the token is kept.
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Serial numbers. server_id is the identity of the server the serial is
-- bound to (NULL when free: new or relaxed).
CREATE TABLE licenses (
    serial TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    archived_at INTEGER,
    server_id TEXT,
    activated_at INTEGER,
    last_seen_at INTEGER
);
CREATE INDEX licenses_account ON licenses(account_id);

-- Hosted instances. port/pid describe the last launch.
CREATE TABLE hosted_servers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    region TEXT NOT NULL,
    subdomain TEXT NOT NULL,
    server_name TEXT NOT NULL,
    install_status TEXT NOT NULL,
    aws_status TEXT NOT NULL,
    admin_username TEXT NOT NULL,
    admin_password TEXT NOT NULL,
    port INTEGER,
    pid INTEGER,
    created_at INTEGER NOT NULL,
    terminate_requested INTEGER NOT NULL DEFAULT 0,
    deleted_at INTEGER
);
-- A subdomain is taken while its instance is not deleted.
CREATE UNIQUE INDEX hosted_live_subdomain ON hosted_servers(subdomain) WHERE deleted_at IS NULL;
CREATE INDEX hosted_account ON hosted_servers(account_id);

-- One charge per service per UTC day; the UNIQUE constraint makes billing
-- passes idempotent.
CREATE TABLE deductions (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    service_type TEXT NOT NULL,
    service_id TEXT NOT NULL,
    day TEXT NOT NULL,
    description TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    charged_at INTEGER NOT NULL,
    UNIQUE (service_type, service_id, day)
);
CREATE INDEX deductions_account ON deductions(account_id, day);
