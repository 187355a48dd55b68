-- The last TOTP time step accepted per account, so that a code works once,
-- across restarts and across nodes sharing the database.
CREATE TABLE totp_used_steps (
    account TEXT PRIMARY KEY NOT NULL,
    step    INTEGER NOT NULL
);
