-- Addresses mail to which failed for good (a 5xx from our SMTP server, or a bounce
-- report naming them): automatic mail is never sent to them again.
CREATE TABLE bouncing_addresses (
    address     TEXT    PRIMARY KEY,
    reason      TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX outbox_recipient ON outbox(recipient, created_at);
