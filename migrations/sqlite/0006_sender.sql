-- The From address of a notification: the address of the ticket's department (NULL: the
-- desk's address).
ALTER TABLE outbox ADD COLUMN sender TEXT;
