-- Figures sampled over time for meta/stats.
CREATE TABLE stats_samples (
    sampled_at INTEGER PRIMARY KEY NOT NULL,
    users      INTEGER NOT NULL,
    devices    INTEGER NOT NULL
);
