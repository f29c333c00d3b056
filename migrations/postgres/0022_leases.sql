-- Which node works a mailbox (an IMAP mailbox, a Maildir) now, when several `maildesk
-- serve` share one database: one row per mailbox. The holder renews it before
-- `expires_at` (Unix milliseconds, the database's clock); another node takes it only after
-- it expired, and each change of hands raises `generation`, which the holder's writes
-- check in their transaction (fencing): a node that lost its lease writes nothing more
-- on its behalf.
CREATE TABLE leases (
    name         TEXT    PRIMARY KEY,
    holder       TEXT    NOT NULL,
    generation   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
