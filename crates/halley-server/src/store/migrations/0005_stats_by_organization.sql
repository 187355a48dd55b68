-- The same figures per organization, so tenant administrators see their own.
CREATE TABLE stats_samples_by_organization (
    sampled_at      INTEGER NOT NULL,
    organization_id TEXT NOT NULL,
    users           INTEGER NOT NULL,
    devices         INTEGER NOT NULL,
    PRIMARY KEY (organization_id, sampled_at)
);
