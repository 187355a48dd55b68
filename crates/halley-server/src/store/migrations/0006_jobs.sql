-- Job history (`BackupJobDetail` as JSON), written as devices report jobs and
-- read by job queries and email reports.
CREATE TABLE jobs (
    guid            TEXT PRIMARY KEY NOT NULL,
    username        TEXT NOT NULL,
    organization_id TEXT NOT NULL DEFAULT '',
    start_time      INTEGER NOT NULL,
    detail_json     TEXT NOT NULL
);
CREATE INDEX jobs_by_start ON jobs (start_time);
CREATE INDEX jobs_by_user ON jobs (username, start_time);
CREATE INDEX jobs_by_organization ON jobs (organization_id, start_time);
