-- A delivery handed to a worker is not handed out again until it is
-- settled or this moment (milliseconds) passes.
ALTER TABLE webhook_outbox ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
