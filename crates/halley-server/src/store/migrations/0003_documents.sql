-- Documents the API exchanges whole (policies, user groups), by kind and ID.
CREATE TABLE documents (
    kind            TEXT NOT NULL,
    id              TEXT NOT NULL,
    organization_id TEXT NOT NULL DEFAULT '',
    doc_json        TEXT NOT NULL,
    hash            TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX documents_by_organization ON documents (kind, organization_id, id);
