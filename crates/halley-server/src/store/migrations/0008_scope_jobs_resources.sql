-- Job queries filter on status and end time in SQL.
ALTER TABLE jobs ADD COLUMN end_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN status INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET
    end_time = COALESCE(json_extract(detail_json, '$.EndTime'), 0),
    status = COALESCE(json_extract(detail_json, '$.Status'), 0);
CREATE INDEX jobs_by_status ON jobs (status, start_time);
CREATE INDEX jobs_by_end ON jobs (end_time);
CREATE INDEX jobs_by_organization_user ON jobs (organization_id, username, start_time);
-- Who uploaded which resource (the files are named by hash and shared): a
-- tenant reads only its own uploads.
CREATE TABLE resources (
    organization_id TEXT NOT NULL,
    hash            TEXT NOT NULL,
    PRIMARY KEY (organization_id, hash)
);
CREATE INDEX resources_by_hash ON resources (hash);
-- Profile fields that name other objects, for the queries that follow them.
CREATE INDEX users_by_policy ON users (json_extract(profile_json, '$.PolicyID'));
CREATE INDEX users_by_group ON users (json_extract(profile_json, '$.GroupID'));
