-- Invitations to the portal. The token sent by mail is stored only as its SHA-256; it is
-- made when the invitation is sent, works once, and expires.
CREATE TABLE invites (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id  BIGINT  NOT NULL UNIQUE REFERENCES contacts(id),
    token_hash  TEXT    UNIQUE,
    expires_at  BIGINT,
    used_at     BIGINT,
    created_at  BIGINT  NOT NULL
);
