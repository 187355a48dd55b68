-- The stable ID of the event a delivery carries, sent with every attempt so
-- that a receiver can recognise an event delivered twice.
ALTER TABLE webhook_outbox ADD COLUMN event_id TEXT NOT NULL DEFAULT '';
