-- maildesk schema, SQLite dialect. Keep in step with migrations/postgres/0001_init.sql:
-- same tables, same columns, same meaning. Times are Unix seconds.

CREATE TABLE organisations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL DEFAULT '',
    organisation_id BIGINT  REFERENCES organisations(id),
    created_at      BIGINT  NOT NULL
);
CREATE INDEX contacts_organisation ON contacts(organisation_id);

-- A ticket's id is its number, the one in "[Support #42]"; AUTOINCREMENT never reuses one.
CREATE TABLE tickets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subject         TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    priority        TEXT    NOT NULL,
    requester_id    BIGINT  NOT NULL REFERENCES contacts(id),
    organisation_id BIGINT  REFERENCES organisations(id),
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX tickets_requester ON tickets(requester_id);
CREATE INDEX tickets_organisation ON tickets(organisation_id);

CREATE TABLE ticket_participants (
    ticket_id   BIGINT NOT NULL REFERENCES tickets(id),
    contact_id  BIGINT NOT NULL REFERENCES contacts(id),
    role        TEXT   NOT NULL,           -- requester | cc
    PRIMARY KEY (ticket_id, contact_id)
);
CREATE INDEX ticket_participants_contact ON ticket_participants(contact_id);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   BIGINT  NOT NULL REFERENCES tickets(id),
    author_id   BIGINT  REFERENCES contacts(id),
    public      BOOLEAN NOT NULL,
    body_text   TEXT    NOT NULL,          -- the whole plain text, quotes included
    body_reply  TEXT    NOT NULL,          -- the new text only
    body_html   TEXT,                      -- sanitised HTML, when the mail had some
    message_id  TEXT,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX comments_ticket ON comments(ticket_id);

-- Bytes live in the content-addressed blob store under the data directory.
CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    comment_id    BIGINT  NOT NULL REFERENCES comments(id),
    filename      TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    sha256        TEXT    NOT NULL,
    inline        BOOLEAN NOT NULL,
    content_id    TEXT
);
CREATE INDEX attachments_comment ON attachments(comment_id);

-- One row per inbound message ever applied: the exactly-once guard.
CREATE TABLE inbound_messages (
    fingerprint  TEXT    PRIMARY KEY,
    message_id   TEXT,
    source       TEXT    NOT NULL,
    outcome      TEXT    NOT NULL,
    ticket_id    BIGINT  REFERENCES tickets(id),
    received_at  BIGINT  NOT NULL
);

-- Every Message-ID known to belong to a ticket, ours and the customers'.
CREATE TABLE thread_ids (
    message_id  TEXT   PRIMARY KEY,
    ticket_id   BIGINT NOT NULL REFERENCES tickets(id)
);
CREATE INDEX thread_ids_ticket ON thread_ids(ticket_id);

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL,
    ticket_id        BIGINT  REFERENCES tickets(id),
    recipient        TEXT    NOT NULL,
    message_id       TEXT    NOT NULL UNIQUE,
    in_reply_to      TEXT,
    refs             TEXT    NOT NULL,     -- space-separated Message-IDs, without brackets
    payload          TEXT    NOT NULL,     -- JSON for the template
    state            TEXT    NOT NULL,     -- pending | sent | failed
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    last_error       TEXT,
    created_at       BIGINT  NOT NULL,
    sent_at          BIGINT
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);

-- Mail that could not be processed; its raw bytes are in the blob store.
CREATE TABLE quarantine (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint  TEXT    NOT NULL UNIQUE,
    source       TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    raw_sha256   TEXT    NOT NULL,
    size         BIGINT  NOT NULL,
    deliveries   BIGINT  NOT NULL DEFAULT 1,
    created_at   BIGINT  NOT NULL
);
