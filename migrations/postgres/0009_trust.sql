-- Senders whose mail is recorded but neither ticketed nor answered (`maildesk sender
-- block`): a lower-cased address, or a whole domain written "@domain".
CREATE TABLE blocked_senders (
    pattern     TEXT    PRIMARY KEY,
    created_at  BIGINT  NOT NULL
);

-- The hourly cap on all automatic mail counts the outbox by kind and time.
CREATE INDEX outbox_kind_created ON outbox(kind, created_at);
