-- The last TOTP time step accepted per account, so that a code works once,
-- across restarts and across nodes sharing the database. `account` is the
-- BLAKE3 hash (hex) of the account key (`admin:NAME`, `user:NAME`).
CREATE TABLE totp_used_steps (
    account TEXT PRIMARY KEY NOT NULL,
    step    INTEGER NOT NULL
);
