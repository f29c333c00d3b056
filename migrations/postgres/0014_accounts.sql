-- Portal accounts (MISSION ACC1-ACC7). A contact has at most one account: its password
-- (an argon2id PHC string), whether it must be changed at the next log-in (a generated
-- one), when the address was verified (NULL for a direct sign-up not yet verified), and
-- whether it may log in. Sessions and one-time tokens are stored only as SHA-256 hashes.
CREATE TABLE accounts (
    contact_id           BIGINT  PRIMARY KEY REFERENCES contacts(id),
    password_hash        TEXT    NOT NULL,
    must_change          BOOLEAN NOT NULL DEFAULT FALSE,
    verified_at          BIGINT,
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           BIGINT  NOT NULL,
    password_changed_at  BIGINT  NOT NULL
);

-- Whether a contact is sent every update of their tickets or only replies (the profile's
-- notification preference).
ALTER TABLE contacts ADD COLUMN notify TEXT NOT NULL DEFAULT 'all';

CREATE TABLE sessions (
    id_hash     TEXT    PRIMARY KEY,
    contact_id  BIGINT  NOT NULL REFERENCES contacts(id),
    created_at  BIGINT  NOT NULL,
    seen_at     BIGINT  NOT NULL
);
CREATE INDEX sessions_contact ON sessions(contact_id);

-- Single-use, expiring links other than invitations: `verify` (a direct sign-up's
-- address) and `reset` (a forgotten password).
CREATE TABLE account_tokens (
    token_hash  TEXT    PRIMARY KEY,
    purpose     TEXT    NOT NULL,
    contact_id  BIGINT  NOT NULL REFERENCES contacts(id),
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT
);
CREATE INDEX account_tokens_contact ON account_tokens(contact_id, purpose);

-- Attempts counted per key (such as `login:ip:192.0.2.1`) and fixed window, shared by
-- every node.
CREATE TABLE rate_limits (
    bucket        TEXT    NOT NULL,
    window_start  BIGINT  NOT NULL,
    hits          BIGINT  NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
