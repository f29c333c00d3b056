-- Where each IMAP mailbox is: the folder's UIDVALIDITY and the last UID done.
CREATE TABLE imap_state (
    mailbox       TEXT    PRIMARY KEY,
    uid_validity  BIGINT  NOT NULL,
    last_uid      BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

-- The department a ticket belongs to (from the mailbox its first mail came in).
ALTER TABLE tickets ADD COLUMN department TEXT;
