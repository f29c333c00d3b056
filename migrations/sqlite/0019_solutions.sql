-- The knowledge base (MISSION KB1-KB2). A solution is known by its slug; the store is the
-- source of truth, and each node's tantivy index is derived from it (src/kb/index.rs).
-- `source` is the directory it was imported from (`maildesk kb import DIR` removes only
-- what came from DIR); `digest` covers its file and the files beside it, so that an import
-- can tell what did not change; `revision` is that of its last change in `kb_changes`.
CREATE TABLE solutions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slug        TEXT    NOT NULL UNIQUE,
    title       TEXT    NOT NULL,
    category    TEXT,
    tags        TEXT    NOT NULL,
    language    TEXT    NOT NULL,
    visibility  TEXT    NOT NULL,
    markdown    TEXT    NOT NULL,
    html        TEXT    NOT NULL,
    body_text   TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    digest      TEXT    NOT NULL,
    revision    BIGINT  NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX solutions_category ON solutions(category, visibility);
CREATE INDEX solutions_updated ON solutions(updated_at);
CREATE INDEX solutions_source ON solutions(source);

-- The images and attachments beside a solution, by their path under the imported
-- directory; the bytes live in the blob store.
CREATE TABLE solution_files (
    solution_id   BIGINT  NOT NULL REFERENCES solutions(id) ON DELETE CASCADE,
    path          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    sha256        TEXT    NOT NULL,
    PRIMARY KEY (solution_id, path)
);
CREATE INDEX solution_files_path ON solution_files(path);

-- The revision sequence: a row for every change of a solution (added, updated, removed),
-- in order. An index records the last revision it applied and follows from there, on this
-- node or another.
CREATE TABLE kb_changes (
    revision  INTEGER PRIMARY KEY AUTOINCREMENT,
    slug      TEXT    NOT NULL,
    at        BIGINT  NOT NULL
);
